/*
 * faults.c - fault injection inside SQLite and the allocators, in the
 * manner of SQLite's own out-of-memory and I/O-error loops.
 *
 * Allocation failures: SQLite's allocator is replaced (SQLITE_CONFIG_MALLOC,
 * before sqlite3_initialize) by one that fails at allocation N; jansson's
 * through json_set_alloc_funcs; the library's own malloc, calloc, realloc
 * and strdup through the linker's --wrap (see tests/crash/crash.mk). Two
 * scopes: "alloc-sqlite" fails only SQLite's allocations, "alloc-all" fails
 * every allocation the ledger makes except libsodium's guarded memory.
 *
 * I/O failures: a VFS shim around the default "unix" VFS, registered as
 * the default, fails xWrite (SQLITE_IOERR_WRITE, or SQLITE_FULL for a full
 * disk), xSync (SQLITE_IOERR_FSYNC), xTruncate (SQLITE_IOERR_TRUNCATE) or
 * xRead (SQLITE_IOERR_READ) at call N.
 *
 * For every operation (create, award, redeem, adjust, hold, capture,
 * refund, a batch, key rotation, verify) and every fault kind, N runs 1, 2,
 * ... until the operation completes without reaching the fault, twice: the
 * fault fires once, then persistently (call N and every later call fail).
 * Each attempt starts from the same saved ledger and checks:
 *   - the call returns OK or a clean code (NOMEM, STORAGE) with a message,
 *     never crashes, and verify never reports a false "verification failed";
 *   - after an fsync failure the same handle refuses writes (STORAGE,
 *     "reopen") until it is reopened;
 *   - once closed, SQLite holds no memory (sqlite3_memory_used), and LSan
 *     finds no leak at exit (under SANITIZE=1);
 *   - reopened, the database passes PRAGMA integrity_check and is exactly
 *     the state before the call or exactly the state after a clean call
 *     (a digest of every row of every table), never anything in between;
 *   - the call synced the WAL no more often than a clean run does: more
 *     commits mean statements ran outside the operation's transaction;
 *   - a clean retry on a fresh handle then completes (applying once, or
 *     answering replayed) and the ledger verifies.
 * A last suite fails fsync at commit in a child process that then dies
 * without closing (a crash right after the failed fsync): whatever the
 * recovery finds must be a whole state, and the ledger must stay writable.
 *
 * Usage: faults [--quick] [--report FILE]. --quick (the short form, in
 * `make test`) takes N = 1..8 and then about 24 values spread evenly up to
 * the call count; without it every N is tried (`make torture`). --report
 * appends one JSON line of figures per operation, fault and mode.
 * Environment: LOYALTY_FAULTS_ONLY (a cmocka test name pattern),
 * LOYALTY_FAULTS_OP (one operation), LOYALTY_FAULTS_VERBOSE (every attempt
 * and every loop's figures), LOYALTY_FAULTS_COUNTS (print each operation's
 * call counts and exit), LOYALTY_FAULTS_KEEP_TMPDIR (do not move to
 * /dev/shm).
 */
#include "../unit/support.h"

#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>

/* ------------------------------------------------------------------------ */
/* The fault plan                                                            */
/* ------------------------------------------------------------------------ */

enum fault_kind {
    FAULT_ALLOC_SQLITE,
    FAULT_ALLOC_ALL,
    FAULT_WRITE,
    FAULT_FULL,
    FAULT_SYNC,
    FAULT_TRUNCATE,
    FAULT_READ,
    FAULT_KIND_COUNT /* armed with this kind: count calls, fail none */
};

static const char *const fault_names[FAULT_KIND_COUNT] = {
    "alloc-sqlite", "alloc-all", "write", "disk-full", "fsync", "truncate", "read"};

/* Longest handle message kept for a report. */
#define LIMIT_MESSAGE 512

/* Upper bound on N: no operation here comes near it; reaching it is a failure. */
#define FAULT_N_MAX 200000

static struct fault_plan {
    enum fault_kind kind;
    int armed;
    int persistent;
    int64_t target;   /* the first call that fails (1-based) */
    int64_t calls;    /* calls of the armed kind since arming */
    int64_t injected; /* failures handed out since arming */
} plan;

/* Counts a call of kind and says whether it must fail. Threads may allocate (verify's
 * signature workers, the batch signer), hence the atomics. */
static int fault_hit(enum fault_kind kind)
{
    if (!__atomic_load_n(&plan.armed, __ATOMIC_SEQ_CST) || plan.kind != kind)
        return 0;
    int64_t call = __atomic_add_fetch(&plan.calls, 1, __ATOMIC_SEQ_CST);
    if (call == plan.target || (plan.persistent && call > plan.target)) {
        __atomic_add_fetch(&plan.injected, 1, __ATOMIC_SEQ_CST);
        return 1;
    }
    return 0;
}

/* Allocations while armed, whatever the kind: [0] SQLite's, [1] the others. */
static int64_t alloc_calls[2];

static int alloc_hit(int from_sqlite)
{
    if (__atomic_load_n(&plan.armed, __ATOMIC_SEQ_CST))
        __atomic_add_fetch(&alloc_calls[from_sqlite ? 0 : 1], 1, __ATOMIC_SEQ_CST);
    if (from_sqlite && plan.kind == FAULT_ALLOC_SQLITE)
        return fault_hit(FAULT_ALLOC_SQLITE);
    return fault_hit(FAULT_ALLOC_ALL);
}

static void fault_arm(enum fault_kind kind, int persistent, int64_t target)
{
    plan.kind = kind;
    plan.persistent = persistent;
    plan.target = target;
    plan.calls = 0;
    plan.injected = 0;
    __atomic_store_n(&plan.armed, 1, __ATOMIC_SEQ_CST);
}

static void fault_disarm(void)
{
    __atomic_store_n(&plan.armed, 0, __ATOMIC_SEQ_CST);
}

/* ------------------------------------------------------------------------ */
/* Failing allocators                                                        */
/* ------------------------------------------------------------------------ */

/* The library's own allocations, redirected here by -Wl,--wrap. */
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *memory, size_t size);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *memory, size_t size);
char *__wrap_strdup(const char *s);

void *__wrap_malloc(size_t size)
{
    return alloc_hit(0) ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    return alloc_hit(0) ? NULL : __real_calloc(count, size);
}

void *__wrap_realloc(void *memory, size_t size)
{
    return alloc_hit(0) ? NULL : __real_realloc(memory, size);
}

char *__wrap_strdup(const char *s)
{
    return alloc_hit(0) ? NULL : __real_strdup(s);
}

/* jansson's allocations (payloads, parsing, serialising). */
static void *json_malloc(size_t size)
{
    return alloc_hit(0) ? NULL : __real_malloc(size);
}

static void json_release(void *memory)
{
    free(memory);
}

/* SQLite's allocations. */
static sqlite3_mem_methods sqlite_default_memory;

static void *sqlite_malloc(int size)
{
    return alloc_hit(1) ? NULL : sqlite_default_memory.xMalloc(size);
}

static void *sqlite_realloc(void *memory, int size)
{
    return alloc_hit(1) ? NULL : sqlite_default_memory.xRealloc(memory, size);
}

static void install_allocators(void)
{
    static sqlite3_mem_methods failing;
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default_memory) != SQLITE_OK)
        abort();
    failing = sqlite_default_memory;
    failing.xMalloc = sqlite_malloc;
    failing.xRealloc = sqlite_realloc;
    /* Must precede sqlite3_initialize(): nothing in this process has used SQLite yet. */
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &failing) != SQLITE_OK)
        abort();
    json_set_alloc_funcs(json_malloc, json_release);
}

/* ------------------------------------------------------------------------ */
/* The failing VFS: a shim around "unix"                                     */
/* ------------------------------------------------------------------------ */

typedef struct shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* the unix VFS's file, right after this struct */
} shim_file;

static sqlite3_vfs *real_vfs;
static int64_t io_calls[FAULT_KIND_COUNT]; /* every call of each kind, armed or not, per attempt */

static int shim_close(sqlite3_file *f)
{
    shim_file *s = (shim_file *)f;
    int rc = s->real->pMethods->xClose(s->real);
    s->real->pMethods = NULL;
    return rc;
}

static int shim_read(sqlite3_file *f, void *buffer, int amount, sqlite3_int64 offset)
{
    io_calls[FAULT_READ]++;
    if (fault_hit(FAULT_READ))
        return SQLITE_IOERR_READ;
    shim_file *s = (shim_file *)f;
    return s->real->pMethods->xRead(s->real, buffer, amount, offset);
}

static int shim_write(sqlite3_file *f, const void *buffer, int amount, sqlite3_int64 offset)
{
    io_calls[FAULT_WRITE]++;
    if (fault_hit(FAULT_WRITE))
        return SQLITE_IOERR_WRITE;
    if (fault_hit(FAULT_FULL))
        return SQLITE_FULL;
    shim_file *s = (shim_file *)f;
    return s->real->pMethods->xWrite(s->real, buffer, amount, offset);
}

static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    io_calls[FAULT_TRUNCATE]++;
    if (fault_hit(FAULT_TRUNCATE))
        return SQLITE_IOERR_TRUNCATE;
    shim_file *s = (shim_file *)f;
    return s->real->pMethods->xTruncate(s->real, size);
}

static int shim_sync(sqlite3_file *f, int flags)
{
    io_calls[FAULT_SYNC]++;
    if (fault_hit(FAULT_SYNC))
        return SQLITE_IOERR_FSYNC;
    shim_file *s = (shim_file *)f;
    return s->real->pMethods->xSync(s->real, flags);
}

#define REAL(f) (((shim_file *)(f))->real)

static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int shim_lock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xLock(REAL(f), lock);
}
static int shim_unlock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}
static int shim_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int shim_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int shim_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int shim_device_characteristics(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int shim_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, out);
}
static int shim_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void shim_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int shim_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}
static int shim_fetch(sqlite3_file *f, sqlite3_int64 offset, int amount, void **out)
{
    return REAL(f)->pMethods->xFetch(REAL(f), offset, amount, out);
}
static int shim_unfetch(sqlite3_file *f, sqlite3_int64 offset, void *memory)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), offset, memory);
}

static const sqlite3_io_methods shim_methods = {
    3,
    shim_close,
    shim_read,
    shim_write,
    shim_truncate,
    shim_sync,
    shim_file_size,
    shim_lock,
    shim_unlock,
    shim_check_reserved,
    shim_file_control,
    shim_sector_size,
    shim_device_characteristics,
    shim_shm_map,
    shim_shm_lock,
    shim_shm_barrier,
    shim_shm_unmap,
    shim_fetch,
    shim_unfetch,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    shim_file *s = (shim_file *)f;
    s->real = (sqlite3_file *)(s + 1);
    int rc = real_vfs->xOpen(real_vfs, name, s->real, flags, out_flags);
    s->base.pMethods = rc == SQLITE_OK && s->real->pMethods ? &shim_methods : NULL;
    return rc;
}

static int shim_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}
static int shim_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int shim_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, size, out);
}
static void *shim_dl_open(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return real_vfs->xDlOpen(real_vfs, name);
}
static void shim_dl_error(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    real_vfs->xDlError(real_vfs, size, out);
}
static void (*shim_dl_sym(sqlite3_vfs *vfs, void *handle, const char *name))(void)
{
    (void)vfs;
    return real_vfs->xDlSym(real_vfs, handle, name);
}
static void shim_dl_close(sqlite3_vfs *vfs, void *handle)
{
    (void)vfs;
    real_vfs->xDlClose(real_vfs, handle);
}
static int shim_randomness(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, size, out);
}
static int shim_sleep(sqlite3_vfs *vfs, int microseconds)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, microseconds);
}
static int shim_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}
static int shim_last_error(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    return real_vfs->xGetLastError(real_vfs, size, out);
}
static int shim_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static sqlite3_vfs shim_vfs = {
    .iVersion = 2,
    .zName = "faulty",
    .xOpen = shim_open,
    .xDelete = shim_delete,
    .xAccess = shim_access,
    .xFullPathname = shim_full_pathname,
    .xDlOpen = shim_dl_open,
    .xDlError = shim_dl_error,
    .xDlSym = shim_dl_sym,
    .xDlClose = shim_dl_close,
    .xRandomness = shim_randomness,
    .xSleep = shim_sleep,
    .xCurrentTime = shim_current_time,
    .xGetLastError = shim_last_error,
    .xCurrentTimeInt64 = shim_current_time64,
};

static void install_vfs(void)
{
    real_vfs = sqlite3_vfs_find("unix");
    if (real_vfs == NULL)
        abort();
    shim_vfs.szOsFile = (int)sizeof(shim_file) + real_vfs->szOsFile;
    shim_vfs.mxPathname = real_vfs->mxPathname;
    if (sqlite3_vfs_register(&shim_vfs, 1) != SQLITE_OK)
        abort();
}

/* ------------------------------------------------------------------------ */
/* Known library bugs                                                        */
/* ------------------------------------------------------------------------ */

typedef struct figures {
    int64_t attempts;
    int64_t injected;     /* faults handed out */
    int64_t clean_errors; /* calls that returned a clean error code */
    int64_t absorbed;     /* calls that returned OK although a fault fired */
    int64_t before;       /* states found unchanged after a failed call */
    int64_t after;        /* states found complete after a call */
    int64_t partial;      /* batches that committed without an operation a fault failed */
    int64_t applied_with_error; /* complete although the call reported an error */
    int64_t refused;      /* writes refused on a handle after a failed fsync */
    int64_t calls;        /* calls of the fault's kind in a clean run */
} figures;

/* ------------------------------------------------------------------------ */
/* The scenario: one small ledger, saved, restored before every attempt     */
/* ------------------------------------------------------------------------ */

typedef struct saved_file {
    char name[64];
    unsigned char *data;
    size_t length;
    unsigned mode;
} saved_file;

static struct scenario {
    fixture *fx;
    saved_file files[2]; /* the database (checkpointed, no WAL) and its key file */
    unsigned char digest[32];
    int64_t audit_rows;
    int quick;
    int verbose;
    int64_t loops;
    figures total; /* the sums over every loop */
    FILE *report;
} sc;

static void save_file(saved_file *f, const char *name)
{
    char path[PATH_BYTES];
    path_in(sc.fx, path, name);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->data = file_read(path, &f->length);
    f->mode = file_mode(path);
}

/* Empties the scenario's directory; with_ledger puts the saved ledger back. */
static void restore(int with_ledger)
{
    remove_tree(sc.fx->dir);
    assert_int_equal(mkdir(sc.fx->dir, 0700), 0);
    for (int i = 0; with_ledger && i < 2; i++) {
        char path[PATH_BYTES];
        path_in(sc.fx, path, sc.files[i].name);
        file_write(path, sc.files[i].data, sc.files[i].length, sc.files[i].mode);
    }
}

static void open_ledger(loyalty_ledger **out)
{
    int rc = open_handle(sc.fx, ACTOR, NULL, out);
    if (rc != LOYALTY_OK)
        fail_msg("open: %s", loyalty_errmsg(*out));
}

static void must(loyalty_ledger *l, int rc, const char *what)
{
    if (rc != LOYALTY_OK)
        fail_msg("%s: %s (%s)", what, loyalty_result_name(rc), loyalty_errmsg(l));
}

/* The saved ledger: members M1 (100 points from a purchase, a 10-point hold) and M2. */
static void scenario_build(void)
{
    sc.fx = fixture_new();
    assert_int_equal(create_ledger(sc.fx, NULL), LOYALTY_OK);
    loyalty_ledger *l = sc.fx->ledger;
    must(l, loyalty_member_add(l, "M1", NULL, NULL), "member M1");
    must(l, loyalty_member_add(l, "M2", NULL, NULL), "member M2");
    loyalty_award_request award = {.member = "M1", .ref = "seed-1", .amount_minor = 10000};
    loyalty_posting posting;
    must(l, loyalty_award(l, &award, &posting), "seed award");
    loyalty_hold_request hold = {.member = "M1", .ref = "seed-hold", .points = 10};
    loyalty_hold_info info;
    must(l, loyalty_hold(l, &hold, &info), "seed hold");
    loyalty_close(l);
    sc.fx->ledger = NULL;
    save_file(&sc.files[0], "ledger.db");
    save_file(&sc.files[1], "ledger.db.key");
    restore(1);
    db_digest(sc.fx, sc.digest);
    sc.audit_rows = sql_integer(sc.fx, "SELECT COUNT(*) FROM audit");
}

/* ------------------------------------------------------------------------ */
/* The operations under test                                                 */
/* ------------------------------------------------------------------------ */

typedef struct operation {
    const char *name;
    int (*run)(loyalty_ledger **l); /* *l is open, except for create, which makes it */
    int creates;                    /* starts from an empty directory */
    int writes;                     /* changes the ledger */
    int deterministic;              /* the state after is always the same bytes */
    int replays;                    /* a second clean run answers replayed */
} operation;

static int run_create(loyalty_ledger **l)
{
    loyalty_open_options options = {
        .db_path = sc.fx->db_path, .actor = ACTOR, .now_us = T0_US};
    return loyalty_create(l, &options, NULL);
}

static int replayed_flag; /* the last run's replayed answer */
static int batch_partial; /* the last batch committed without an operation a fault failed */

static int run_award(loyalty_ledger **l)
{
    loyalty_award_request r = {.member = "M1", .ref = "fi-award", .amount_minor = 12345,
                               .reason = "fault injection"};
    loyalty_posting p;
    int rc = loyalty_award(*l, &r, &p);
    replayed_flag = rc == LOYALTY_OK ? p.replayed : -1;
    return rc;
}

static int run_redeem(loyalty_ledger **l)
{
    loyalty_redeem_request r = {.member = "M1", .ref = "fi-redeem", .points = 40};
    loyalty_posting p;
    int rc = loyalty_redeem(*l, &r, &p);
    replayed_flag = rc == LOYALTY_OK ? p.replayed : -1;
    return rc;
}

static int run_adjust(loyalty_ledger **l)
{
    loyalty_adjust_request r = {.member = "M1", .ref = "fi-adjust", .points = -25,
                                .reason = "goodwill", .note = "fault injection"};
    loyalty_posting p;
    int rc = loyalty_adjust(*l, &r, &p);
    replayed_flag = rc == LOYALTY_OK ? p.replayed : -1;
    return rc;
}

static int run_hold(loyalty_ledger **l)
{
    loyalty_hold_request r = {.member = "M1", .ref = "fi-hold", .points = 30};
    loyalty_hold_info h;
    int rc = loyalty_hold(*l, &r, &h);
    replayed_flag = rc == LOYALTY_OK ? h.replayed : -1;
    return rc;
}

static int run_capture(loyalty_ledger **l)
{
    loyalty_hold_info h;
    replayed_flag = -1;
    return loyalty_capture(*l, "seed-hold", 6, &h);
}

static int run_refund(loyalty_ledger **l)
{
    loyalty_refund_request r = {.member = "M1", .ref = "fi-refund", .order_ref = "seed-1",
                                .amount_minor = 2500};
    loyalty_posting p;
    int rc = loyalty_refund(*l, &r, &p);
    replayed_flag = rc == LOYALTY_OK ? p.replayed : -1;
    return rc;
}

static int run_batch(loyalty_ledger **l)
{
    loyalty_operation ops[] = {
        {.kind = LOYALTY_OP_MEMBER_ADD, .member = "M3"},
        {.kind = LOYALTY_OP_AWARD, .member = "M3", .ref = "fi-batch-1", .points = 70},
        {.kind = LOYALTY_OP_REDEEM, .member = "M2", .ref = "fi-batch-2", .points = 5}, /* fails */
        {.kind = LOYALTY_OP_ADJUST, .member = "M1", .ref = "fi-batch-3", .points = 3,
         .reason = "goodwill"},
    };
    loyalty_operation_result results[4];
    int rc = loyalty_apply_batch(*l, ops, 4, results);
    replayed_flag = -1;
    batch_partial = 0;
    for (int i = 0; rc == LOYALTY_OK && i < 4; i++) {
        int expected = i == 2 ? LOYALTY_ERR_INSUFFICIENT : LOYALTY_OK;
        int got = results[i].rc;
        if (got == expected)
            continue;
        /* A fault inside one operation fails it alone: its savepoint rolls back, the
         * others apply, the batch commits. That is the batch's contract. */
        if (plan.injected > 0 && (got == LOYALTY_ERR_NOMEM || got == LOYALTY_ERR_STORAGE)) {
            batch_partial = 1;
            continue;
        }
        /* The award to M3 follows from adding M3: without it, M3 is not found. */
        if (i == 1 && got == LOYALTY_ERR_NOT_FOUND && results[0].rc != LOYALTY_OK)
            continue;
        fail_msg("batch operation %d: %s (%s)", i, loyalty_result_name(got), results[i].message);
    }
    if (rc == LOYALTY_OK)
        replayed_flag = results[1].replayed;
    return rc;
}

static int run_rotate(loyalty_ledger **l)
{
    replayed_flag = -1;
    return loyalty_key_rotate(*l, NULL, NULL);
}


static int run_verify(loyalty_ledger **l)
{
    loyalty_verify_report report;
    int rc = loyalty_verify(*l, NULL, NULL, &report);
    if (rc == LOYALTY_ERR_VERIFY)
        fail_msg("verify reported a false failure under a fault: %s", report.reason);
    if (rc == LOYALTY_OK && report.ok != 1)
        fail_msg("verify returned OK without ok = 1");
    replayed_flag = -1;
    return rc;
}

static const operation operations[] = {
    {"create", run_create, 1, 1, 0, 0},   {"award", run_award, 0, 1, 1, 1},
    {"redeem", run_redeem, 0, 1, 1, 1},   {"adjust", run_adjust, 0, 1, 1, 1},
    {"hold", run_hold, 0, 1, 1, 1},       {"capture", run_capture, 0, 1, 1, 0},
    {"refund", run_refund, 0, 1, 1, 1},   {"batch", run_batch, 0, 1, 1, 1},
    {"key-rotate", run_rotate, 0, 1, 0, 0}, {"verify", run_verify, 0, 0, 1, 0},
};
#define OPERATION_COUNT (sizeof operations / sizeof operations[0])

/* ------------------------------------------------------------------------ */
/* Checks after each attempt                                                 */
/* ------------------------------------------------------------------------ */


static int clean_code(enum fault_kind kind, int rc)
{
    if (rc == LOYALTY_OK || rc == LOYALTY_ERR_STORAGE)
        return 1;
    /* Memory that ran out must say so; an I/O fault must not claim it did. */
    return rc == LOYALTY_ERR_NOMEM && (kind == FAULT_ALLOC_SQLITE || kind == FAULT_ALLOC_ALL);
}

static int sql_text_is(const char *sql, const char *expected)
{
    sqlite3 *db = db_direct(sc.fx, 0);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int same = strcmp((const char *)sqlite3_column_text(st, 0), expected) == 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return same;
}

static void verify_ok(loyalty_ledger *l, const char *when)
{
    loyalty_verify_report report;
    int rc = loyalty_verify(l, NULL, NULL, &report);
    if (rc != LOYALTY_OK || !report.ok)
        fail_msg("%s: verify: %s (%s; %s)", when, loyalty_result_name(rc), report.reason,
                 loyalty_errmsg(l));
}

/* The digest of a clean run of op from the saved ledger, and its call counts. */
static void clean_run(const operation *op, unsigned char after[32], int64_t calls[FAULT_KIND_COUNT])
{
    restore(!op->creates);
    loyalty_ledger *l = NULL;
    if (!op->creates)
        open_ledger(&l);
    memset(io_calls, 0, sizeof io_calls);
    memset(alloc_calls, 0, sizeof alloc_calls);
    fault_arm(FAULT_KIND_COUNT, 0, INT64_MAX); /* count only */
    must(l, op->run(&l), op->name);
    fault_disarm();
    memcpy(calls, io_calls, sizeof io_calls);
    calls[FAULT_FULL] = calls[FAULT_WRITE];
    calls[FAULT_ALLOC_SQLITE] = alloc_calls[0];
    calls[FAULT_ALLOC_ALL] = alloc_calls[0] + alloc_calls[1];
    loyalty_close(l);
    db_digest(sc.fx, after);
    open_ledger(&l);
    verify_ok(l, "after a clean run");
    loyalty_close(l);
}

/* Prints the newest audit entries, to show what a bad state holds. */
static void dump_tail(void)
{
    sqlite3 *db = db_direct(sc.fx, 0);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT seq, action, payload FROM audit ORDER BY seq DESC LIMIT 2",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            fprintf(stderr, "  audit %lld %s %s\n", (long long)sqlite3_column_int64(st, 0),
                    (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    loyalty_ledger *l = NULL;
    if (open_handle(sc.fx, ACTOR, NULL, &l) == LOYALTY_OK) {
        loyalty_verify_report report;
        int rc = loyalty_verify(l, NULL, NULL, &report);
        fprintf(stderr, "  verify: %s %s\n", loyalty_result_name(rc), report.reason);
    }
    loyalty_close(l);
}

/* Which whole state the reopened ledger is in: 0 before, 1 after, 3 a batch without the
 * operations a fault failed; fails on anything else. */
static int state_of(const operation *op, const unsigned char after[32], int rc)
{
    if (op->creates) {
        char wal[PATH_BYTES + 8];
        snprintf(wal, sizeof wal, "%s-wal", sc.fx->db_path);
        if (!path_exists(sc.fx->db_path)) {
            if (path_exists(wal))
                fail_msg("a failed create left %s behind", wal);
            return 0;
        }
        struct stat st;
        assert_int_equal(stat(sc.fx->db_path, &st), 0);
        if (st.st_size == 0 && rc != LOYALTY_OK)
            return 0;
    }
    if (!sql_text_is("PRAGMA integrity_check", "ok"))
        fail_msg("integrity_check is not ok");
    unsigned char now[32];
    db_digest(sc.fx, now);
    if (op->run == run_batch && rc == LOYALTY_OK && batch_partial) {
        /* Some operations of the batch were rolled back alone: a whole state too. */
        loyalty_ledger *l = NULL;
        open_ledger(&l);
        verify_ok(l, "a batch that lost an operation to a fault");
        loyalty_close(l);
        return 3;
    }
    if (op->deterministic && memcmp(now, sc.digest, 32) == 0)
        return 0;
    if (op->deterministic && memcmp(now, after, 32) == 0)
        return 1;
    if (op->deterministic) {
        dump_tail();
        fail_msg("%s: the ledger is neither as before nor as after the call (rc %s)", op->name,
                 loyalty_result_name(rc));
    }
    if (!op->creates && memcmp(now, sc.digest, 32) == 0)
        return 0;
    /* Not byte-deterministic (a new key): the call's entry is there and everything verifies. */
    int64_t rows = sql_integer(sc.fx, "SELECT COUNT(*) FROM audit");
    int64_t expected = op->creates ? 3 : sc.audit_rows + 1;
    if (rows != expected)
        fail_msg("%s: %lld audit entries, expected %lld", op->name, (long long)rows,
                 (long long)expected);
    loyalty_ledger *l = NULL;
    open_ledger(&l);
    loyalty_verify_report report;
    int verified = loyalty_verify(l, NULL, NULL, &report);
    loyalty_close(l);
    if (verified != LOYALTY_OK)
        fail_msg("%s: the ledger does not verify (%s: %s)", op->name,
                 loyalty_result_name(verified), report.reason);
    return 1;
}

/* On a fresh handle: the call completes cleanly (or replays), then a new award works. */
static void clean_retry(const operation *op, int state, const unsigned char after[32],
                        const char *when)
{
    loyalty_ledger *l = NULL;
    if (op->creates && state == 0) {
        int rc = op->run(&l);
        if (rc != LOYALTY_OK)
            fail_msg("%s: init after a failed init: %s (%s)", when, loyalty_result_name(rc),
                     loyalty_errmsg(l));
    } else {
        open_ledger(&l);
        if (op->writes && !op->creates && (state != 1 || op->replays)) {
            int rc = op->run(&l);
            if (rc != LOYALTY_OK)
                fail_msg("%s: clean retry of %s: %s (%s)", when, op->name, loyalty_result_name(rc),
                         loyalty_errmsg(l));
            if (op->replays && state != 3 && replayed_flag != state)
                fail_msg("%s: retry of %s answered replayed=%d in state %d", when, op->name,
                         replayed_flag, state);
        }
    }
    if (op->writes && op->deterministic && state != 3) {
        loyalty_close(l);
        unsigned char now[32];
        db_digest(sc.fx, now);
        if (memcmp(now, after, 32) != 0)
            fail_msg("%s: after a clean retry the ledger is not the clean result", when);
        open_ledger(&l);
    }
    if (state == 3) {
        /* The retried batch filled in what the fault took out, in another order. */
        if (sql_integer(sc.fx, "SELECT COUNT(*) FROM journal WHERE ref IN ('fi-batch-1', 'fi-batch-3')") != 2 ||
            sql_integer(sc.fx, "SELECT COUNT(*) FROM members WHERE external_id = 'M3'") != 1)
            fail_msg("%s: the retried batch did not complete the partial one", when);
    }
    int64_t other = 0;
    if (op->creates)
        must(l, loyalty_member_add(l, "M1", NULL, NULL), "member after create");
    loyalty_award_request r = {.member = "M1", .ref = "fi-follow-up", .points = 1};
    loyalty_posting p;
    int rc = loyalty_award(l, &r, &p);
    if (rc != LOYALTY_OK)
        fail_msg("%s: a new write after the fault: %s (%s)", when, loyalty_result_name(rc),
                 loyalty_errmsg(l));
    other += p.points;
    verify_ok(l, when);
    loyalty_close(l);
    (void)other;
}

/* One attempt at fault N; returns 1 when the call completed without meeting the fault. */
static int attempt(const operation *op, enum fault_kind kind, int persistent, int64_t n,
                   const unsigned char after[32], int64_t clean_syncs, figures *fig)
{
    char when[160];
    snprintf(when, sizeof when, "%s, %s fault %s at call %lld", op->name, fault_names[kind],
             persistent ? "persistent" : "once", (long long)n);
    if (sc.verbose)
        fprintf(stderr, "%s\n", when);
    restore(!op->creates);
    int64_t memory_before = sqlite3_memory_used();
    loyalty_ledger *l = NULL;
    if (!op->creates)
        open_ledger(&l);
    memset(io_calls, 0, sizeof io_calls);
    fault_arm(kind, persistent, n);
    int rc = op->run(&l);
    int64_t injected = plan.injected;
    fault_disarm();
    int64_t syncs = io_calls[FAULT_SYNC];
    char last_message[LIMIT_MESSAGE];
    snprintf(last_message, sizeof last_message, "%s", loyalty_errmsg(l));
    fig->attempts++;
    /* Every commit syncs the WAL (synchronous=FULL): more syncs than a clean run means
     * statements committed on their own, outside the operation's transaction. */
    if (syncs > clean_syncs)
        fail_msg("%s: %lld syncs where a clean run makes %lld: statements ran outside the"
                 " operation's transaction (%s: %s)", when, (long long)syncs,
                 (long long)clean_syncs, loyalty_result_name(rc), last_message);
    fig->injected += injected;
    if (!clean_code(kind, rc))
        fail_msg("%s: returned %s (%s)", when, loyalty_result_name(rc), loyalty_errmsg(l));
    if (rc != LOYALTY_OK && loyalty_errmsg(l)[0] == '\0' && l != NULL)
        fail_msg("%s: returned %s with no message", when, loyalty_result_name(rc));
    if (rc != LOYALTY_OK && injected == 0)
        fail_msg("%s: failed (%s: %s) without meeting a fault", when, loyalty_result_name(rc),
                 loyalty_errmsg(l));
    if (rc == LOYALTY_OK && injected > 0)
        fig->absorbed++;
    if (rc != LOYALTY_OK)
        fig->clean_errors++;
    /* After a failed fsync the handle must refuse to build on what it wrote. */
    if (kind == FAULT_SYNC && rc != LOYALTY_OK && op->writes && l != NULL && !op->creates) {
        loyalty_award_request r = {.member = "M2", .ref = "fi-after-fsync", .points = 1};
        loyalty_posting p;
        int again = loyalty_award(l, &r, &p);
        if (again != LOYALTY_ERR_STORAGE || strstr(loyalty_errmsg(l), "reopen") == NULL)
            fail_msg("%s: a write on the same handle after a failed fsync returned %s (%s)",
                     when, loyalty_result_name(again), loyalty_errmsg(l));
        fig->refused++;
    }
    loyalty_close(l);
    if (sqlite3_memory_used() > memory_before)
        fail_msg("%s: SQLite still holds %lld bytes after the handle was closed", when,
                 (long long)(sqlite3_memory_used() - memory_before));
    int state = state_of(op, after, rc);
    if (op->writes) {
        if (state == 0)
            fig->before++;
        else if (state == 3)
            fig->partial++;
        else
            fig->after++;
        if (state == 1 && rc != LOYALTY_OK) {
            fig->applied_with_error++;
            if (sc.verbose)
                fprintf(stderr, "note: %s: returned %s (%s) but the call applied\n", when,
                        loyalty_result_name(rc), last_message);
        }
        if (state == 0 && rc == LOYALTY_OK)
            fail_msg("%s: returned OK but nothing was written", when);
    }
    /* A deterministic call's state was matched byte for byte with a verified one; the
     * retry on a fresh handle is then sampled (and done whenever a failed call applied). */
    if (!op->deterministic || state == 3 || (state == 1 && rc != LOYALTY_OK) ||
        fig->attempts % 16 == 1)
        clean_retry(op, state, after, when);
    return rc == LOYALTY_OK && injected == 0;
}

static void report_figures(const operation *op, enum fault_kind kind, int persistent,
                           const figures *f)
{
    const char *mode = persistent == 2 ? "crash" : persistent ? "persistent" : "once";
    sc.total.attempts += f->attempts;
    sc.total.injected += f->injected;
    sc.total.clean_errors += f->clean_errors;
    sc.total.absorbed += f->absorbed;
    sc.total.applied_with_error += f->applied_with_error;
    sc.total.partial += f->partial;
    sc.loops++;
    if (sc.quick && !sc.verbose)
        goto json;
    printf("  %-10s %-12s %-10s calls %5lld  attempts %5lld  faults %6lld  errors %5lld"
           "  absorbed %4lld  before %5lld  after %4lld  partial %3lld  applied-with-error %lld\n",
           op->name, fault_names[kind], mode, (long long)f->calls, (long long)f->attempts,
           (long long)f->injected, (long long)f->clean_errors, (long long)f->absorbed,
           (long long)f->before, (long long)f->after, (long long)f->partial,
           (long long)f->applied_with_error);
json:
    if (sc.report)
        fprintf(sc.report,
                "{\"suite\":\"faults\",\"operation\":\"%s\",\"fault\":\"%s\",\"mode\":\"%s\","
                "\"calls\":%lld,\"attempts\":%lld,\"faults\":%lld,\"errors\":%lld,"
                "\"absorbed\":%lld,\"before\":%lld,\"after\":%lld,\"partial\":%lld,"
                "\"applied_with_error\":%lld,\"refused_after_fsync\":%lld}\n",
                op->name, fault_names[kind], mode, (long long)f->calls, (long long)f->attempts,
                (long long)f->injected, (long long)f->clean_errors, (long long)f->absorbed,
                (long long)f->before, (long long)f->after, (long long)f->partial,
                (long long)f->applied_with_error, (long long)f->refused);
}

/* N = 1, 2, ... (or a stride in quick mode) until the call completes. */
static void fault_loop(const operation *op, enum fault_kind kind)
{
    unsigned char after[32];
    int64_t calls[FAULT_KIND_COUNT];
    clean_run(op, after, calls);
    for (int persistent = 0; persistent < 2; persistent++) {
        figures f;
        memset(&f, 0, sizeof f);
        f.calls = calls[kind];
        /* Quick: N = 1..8 (opening paths), then about 24 points spread over the rest. */
        int64_t stride = sc.quick && calls[kind] > 32 ? calls[kind] / 24 + 1 : 1;
        int64_t n = 1;
        while (!attempt(op, kind, persistent, n, after, calls[FAULT_SYNC], &f)) {
            n += n < 8 ? 1 : stride;
            if (n > FAULT_N_MAX)
                fail_msg("%s under %s faults never completed", op->name, fault_names[kind]);
        }
        report_figures(op, kind, persistent, &f);
    }
}

/* ------------------------------------------------------------------------ */
/* A crash right after a failed fsync                                        */
/* ------------------------------------------------------------------------ */

/*
 * The child opens the ledger, fails fsync at call N, and dies without closing
 * (as if the process were killed right after the failed commit): the WAL
 * frames it wrote stay in the file, and the next opener's recovery may find
 * them. Whatever it finds must be a whole state, and the ledger stays usable.
 */
static void crash_after_fsync(const operation *op)
{
    unsigned char after[32];
    int64_t calls[FAULT_KIND_COUNT];
    clean_run(op, after, calls);
    figures f;
    memset(&f, 0, sizeof f);
    f.calls = calls[FAULT_SYNC];
    for (int64_t n = 1;; n++) {
        restore(!op->creates);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            loyalty_ledger *l = NULL;
            if (!op->creates && open_handle(sc.fx, ACTOR, NULL, &l) != LOYALTY_OK)
                _exit(90);
            fault_arm(FAULT_SYNC, 1, n);
            int rc = op->run(&l);
            _exit(rc == LOYALTY_OK ? (plan.injected ? 1 : 0) : 10 + rc);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        int code = WEXITSTATUS(status);
        assert_true(code < 90);
        f.attempts++;
        if (code == 0)
            break;
        f.injected++;
        int rc = code >= 10 ? code - 10 : LOYALTY_OK;
        if (rc == LOYALTY_OK)
            f.absorbed++;
        else
            f.clean_errors++;
        if (!clean_code(FAULT_SYNC, rc))
            fail_msg("%s: crash after fsync failure %lld: returned %s", op->name, (long long)n,
                     loyalty_result_name(rc));
        int state = state_of(op, after, rc);
        if (state == 0)
            f.before++;
        else
            f.after++;
        if (state == 1 && rc != LOYALTY_OK)
            f.applied_with_error++;
        char when[160];
        snprintf(when, sizeof when, "%s, crash after fsync failure %lld", op->name, (long long)n);
        clean_retry(op, state, after, when);
    }
    report_figures(op, FAULT_SYNC, 2, &f);
}

/* ------------------------------------------------------------------------ */
/* The suites                                                                */
/* ------------------------------------------------------------------------ */

static void run_kind(enum fault_kind kind)
{
    const char *only = getenv("LOYALTY_FAULTS_OP");
    for (size_t i = 0; i < OPERATION_COUNT; i++) {
        const operation *op = &operations[i];
        if (only && strcmp(only, op->name) != 0)
            continue;
        /* A read-only call makes no writes, syncs or truncations to fail. */
        if (!op->writes && kind != FAULT_READ && kind != FAULT_ALLOC_SQLITE && kind != FAULT_ALLOC_ALL)
            continue;
        fault_loop(op, kind);
    }
}

static void test_alloc_sqlite(void **state)
{
    (void)state;
    run_kind(FAULT_ALLOC_SQLITE);
}
static void test_alloc_all(void **state)
{
    (void)state;
    run_kind(FAULT_ALLOC_ALL);
}
static void test_write(void **state)
{
    (void)state;
    run_kind(FAULT_WRITE);
}
static void test_disk_full(void **state)
{
    (void)state;
    run_kind(FAULT_FULL);
}
static void test_fsync(void **state)
{
    (void)state;
    run_kind(FAULT_SYNC);
}
static void test_truncate(void **state)
{
    (void)state;
    run_kind(FAULT_TRUNCATE);
}
static void test_read(void **state)
{
    (void)state;
    run_kind(FAULT_READ);
}
static void test_crash_after_fsync(void **state)
{
    (void)state;
    for (size_t i = 0; i < OPERATION_COUNT; i++)
        if (operations[i].writes)
            crash_after_fsync(&operations[i]);
}

int main(int argc, char **argv)
{
    install_allocators();
    if (sqlite3_initialize() != SQLITE_OK)
        return 2;
    install_vfs();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            sc.quick = 1;
        else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
            sc.report = fopen(argv[++i], "a");
        else {
            fprintf(stderr, "usage: faults [--quick] [--report FILE]\n");
            return 2;
        }
    }
    /* The harness makes the disk fail itself, so real fsyncs only cost time: work in a
     * memory file system when there is one (verify's scratch copy follows TMPDIR too). */
    if (getenv("LOYALTY_FAULTS_KEEP_TMPDIR") == NULL && access("/dev/shm", W_OK | X_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    sc.verbose = getenv("LOYALTY_FAULTS_VERBOSE") != NULL;
    scenario_build();
    if (getenv("LOYALTY_FAULTS_COUNTS")) {
        for (size_t i = 0; i < OPERATION_COUNT; i++) {
            unsigned char after[32];
            int64_t calls[FAULT_KIND_COUNT];
            clean_run(&operations[i], after, calls);
            printf("%-10s", operations[i].name);
            for (int k = 0; k < FAULT_KIND_COUNT; k++)
                printf(" %s=%lld", fault_names[k], (long long)calls[k]);
            printf("\n");
        }
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_sqlite), cmocka_unit_test(test_alloc_all),
        cmocka_unit_test(test_write),        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_fsync),        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_read),         cmocka_unit_test(test_crash_after_fsync),
    };
    if (getenv("LOYALTY_FAULTS_ONLY"))
        cmocka_set_test_filter(getenv("LOYALTY_FAULTS_ONLY"));
    int failed = cmocka_run_group_tests_name("faults", tests, NULL, NULL);
    printf("faults: %lld loops (operation x fault x mode), %lld attempts, %lld faults injected:"
           " %lld clean errors, %lld absorbed, %lld batches partly applied, %lld applied despite"
           " an error; no crash, no SQLite memory kept, no half-written state%s\n",
           (long long)sc.loops, (long long)sc.total.attempts, (long long)sc.total.injected,
           (long long)sc.total.clean_errors, (long long)sc.total.absorbed,
           (long long)sc.total.partial, (long long)sc.total.applied_with_error,
           failed ? " -- FAILED" : "");
    remove_tree(sc.fx->dir);
    free(sc.fx);
    for (int i = 0; i < 2; i++)
        free(sc.files[i].data);
    if (sc.report)
        fclose(sc.report);
    return failed ? 1 : 0;
}
