/*
 * db.c - the handle and its SQLite connection: opening and creating a
 * ledger, connection settings (WAL, synchronous=FULL, foreign keys, busy
 * timeout), the prepared-statement cache, the clock, and the read and write
 * transaction protocol described in internal.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

static char *default_key_path(const char *db_path)
{
    size_t n = strlen(db_path);
    char *path = malloc(n + sizeof ".key");
    if (path) {
        memcpy(path, db_path, n);
        memcpy(path + n, ".key", sizeof ".key");
    }
    return path;
}

/* Allocates a handle and copies the options; no database is opened yet. */
int db_open_handle(loyalty_ledger **out, const loyalty_open_options *options)
{
    if (out == NULL)
        return LOYALTY_ERR_MISUSE;
    *out = NULL;
    if (sodium_init() < 0)
        return LOYALTY_ERR_INTERNAL;
    loyalty_ledger *l = calloc(1, sizeof *l);
    if (l == NULL)
        return LOYALTY_ERR_NOMEM;
    *out = l;
    if (options == NULL || options->db_path == NULL || options->db_path[0] == '\0')
        return fail(l, LOYALTY_ERR_MISUSE, "a database path is required");
    l->db_path = copy_string(options->db_path);
    l->key_path = options->key_path ? copy_string(options->key_path)
                                    : default_key_path(options->db_path);
    if (l->db_path == NULL || l->key_path == NULL)
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory");
    if (options->actor != NULL) {
        if (!valid_actor(options->actor))
            return fail(l, LOYALTY_ERR_INVALID,
                        "actor must be 1 to %d characters of A-Z a-z 0-9 . _ : @ -",
                        LOYALTY_ID_MAX);
        strcpy(l->actor, options->actor);
    }
    if (options->now_us < 0 || options->now_us > LIMIT_NOW_US_MAX)
        return fail(l, LOYALTY_ERR_INVALID, "the fixed clock must be between 1970 and 9999");
    l->fixed_now_us = options->now_us;
    return LOYALTY_OK;
}

int db_exec(loyalty_ledger *l, const char *sql)
{
    if (sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail_db(l, "database");
    return LOYALTY_OK;
}

/*
 * Waiting for the write lock. SQLite's own busy timeout sleeps longer and
 * longer between tries, so under contention a writer that arrived early can
 * lose to later ones until it times out. This handler polls every one to two
 * milliseconds (jittered, so waiting writers do not move in step) until
 * LIMIT_BUSY_TIMEOUT_MS have passed.
 */
static int busy_wait(void *context, int attempts)
{
    loyalty_ledger *l = context;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (attempts == 0)
        l->busy_since_ms = now_ms;
    if (now_ms - l->busy_since_ms >= LIMIT_BUSY_TIMEOUT_MS)
        return 0;
    struct timespec pause = {0, 1000000 + (long)randombytes_uniform(1000000)};
    nanosleep(&pause, NULL);
    return 1;
}

/* Per-connection settings. WAL itself is persistent and set at creation. */
int db_configure(loyalty_ledger *l)
{
    sqlite3_busy_handler(l->db, busy_wait, l);
    sqlite3_extended_result_codes(l->db, 1);
    /* Up to 128 MiB of page cache (filled only as pages are read): at 2M entries a
     * balance look-up touches four random index and table pages, and reading them
     * from the operating system's cache instead costs a system call and a WAL look-up
     * each. Measured on the 2M bench ledger (300 000 random look-ups in one process):
     * 32 MiB 53 000/s, 128 MiB 103 000/s, 256 MiB 103 000/s. verify, which reads
     * every page once, keeps to LIMIT_VERIFY_CACHE_KIB. The
     * WAL is checkpointed by checkpointer.c, every LIMIT_CHECKPOINT_PAGES pages rather
     * than SQLite's 1000: a batch dirties many of the member and index pages the
     * batches before it did, and each is then copied into the database once per
     * checkpoint rather than once per batch. */
    checkpointer_attach(l);
    char sql[192];
    snprintf(sql, sizeof sql,
             "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA cache_size = -%d;"
             " PRAGMA journal_size_limit = %d;",
             LIMIT_CACHE_KIB, LIMIT_WAL_KEEP_BYTES);
    return db_exec(l, sql);
}

static int64_t pragma_integer(loyalty_ledger *l, const char *sql, int *rc)
{
    sqlite3_stmt *st = NULL;
    int64_t value = 0;
    *rc = LOYALTY_OK;
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK) {
        *rc = fail_db(l, "reading database header");
        return 0;
    }
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        value = sqlite3_column_int64(st, 0);
    else
        *rc = fail_db(l, "reading database header");
    sqlite3_finalize(st);
    return value;
}

/* Checks that the open file is a ledger this library can use. */
static int check_is_ledger(loyalty_ledger *l)
{
    int rc;
    int64_t app = pragma_integer(l, "PRAGMA application_id", &rc);
    if (rc != LOYALTY_OK)
        return rc == LOYALTY_ERR_NO_LEDGER
                   ? fail(l, rc, "%s is not a loyalty ledger (not a database)", l->db_path)
                   : rc;
    if (app != LEDGER_APPLICATION_ID)
        return fail(l, LOYALTY_ERR_NO_LEDGER, "%s is not a loyalty ledger", l->db_path);
    return migrate_check_version(l);
}

LOYALTY_API int loyalty_open(loyalty_ledger **out, const loyalty_open_options *options)
{
    int rc = db_open_handle(out, options);
    if (rc != LOYALTY_OK)
        return rc;
    loyalty_ledger *l = *out;
    struct stat st;
    if (stat(l->db_path, &st) != 0)
        return fail(l, errno == ENOENT ? LOYALTY_ERR_NO_LEDGER : LOYALTY_ERR_STORAGE,
                    "cannot open ledger %s: %s%s", l->db_path, strerror(errno),
                    errno == ENOENT ? " (create it with 'loyalty init')" : "");
    if (!S_ISREG(st.st_mode))
        return fail(l, LOYALTY_ERR_NO_LEDGER, "%s is not a loyalty ledger (not a regular file)",
                    l->db_path);
    if (sqlite3_open_v2(l->db_path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs_name()) != SQLITE_OK) {
        /* A read-only file still serves auditors and look-ups. */
        sqlite3_close(l->db);
        l->db = NULL;
        if (sqlite3_open_v2(l->db_path, &l->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, vfs_name()) != SQLITE_OK)
            return fail_db(l, "cannot open ledger");
    }
    rc = db_configure(l);
    if (rc == LOYALTY_OK)
        rc = check_is_ledger(l);
    return rc;
}

LOYALTY_API void loyalty_close(loyalty_ledger *l)
{
    if (l == NULL)
        return;
    checkpointer_stop(l); /* first: the last connection to close checkpoints and removes the WAL */
    for (int i = 0; i < l->statement_count; i++)
        sqlite3_finalize(l->statements[i].statement);
    if (l->db)
        sqlite3_close_v2(l->db);
    keys_wipe(l);
    free(l->db_path);
    free(l->key_path);
    sodium_memzero(l, sizeof *l);
    free(l);
}

LOYALTY_API void loyalty_free(void *memory)
{
    free(memory);
}

/*
 * Returns the cached prepared statement for sql (identified by the address
 * of the literal), reset and with no bindings; NULL with the error recorded.
 */
sqlite3_stmt *stmt(loyalty_ledger *l, const char *sql)
{
    /* Some errors (out of memory, I/O) make SQLite roll the transaction back on
     * its own; a write must then stop, not go on statement by statement in
     * autocommit mode. */
    if ((l->in_write || l->replay) && sqlite3_get_autocommit(l->db)) {
        fail(l, LOYALTY_ERR_STORAGE, "the transaction was rolled back by an earlier error");
        return NULL;
    }
    enum { SLOTS = 2 * LIMIT_STATEMENT_CACHE };
    size_t slot = (size_t)(((uintptr_t)sql >> 3) * UINT64_C(0x9E3779B97F4A7C15) >> 40) % SLOTS;
    while (l->statement_slots[slot] != 0) {
        int i = l->statement_slots[slot] - 1;
        if (l->statements[i].sql == sql) {
            sqlite3_stmt *st = l->statements[i].statement;
            if (!l->statement_used[i]) {
                l->statement_used[i] = 1;
                l->statements_used[l->statements_used_count++] = (short)i;
            } else {
                sqlite3_reset(st);
            }
            sqlite3_clear_bindings(st);
            return st;
        }
        slot = (slot + 1) % SLOTS;
    }
    if (l->statement_count == LIMIT_STATEMENT_CACHE) {
        fail(l, LOYALTY_ERR_INTERNAL, "statement cache full");
        return NULL;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        fail_db(l, "preparing statement");
        sqlite3_finalize(st);
        return NULL;
    }
    int i = l->statement_count++;
    l->statements[i].sql = sql;
    l->statements[i].statement = st;
    l->statement_slots[slot] = (short)(i + 1);
    l->statement_used[i] = 1;
    l->statements_used[l->statements_used_count++] = (short)i;
    return st;
}

/* Resets every cached statement so that none keeps a read transaction open. */
static void reset_statements(loyalty_ledger *l)
{
    for (int k = 0; k < l->statements_used_count; k++) {
        int i = l->statements_used[k];
        sqlite3_reset(l->statements[i].statement);
        l->statement_used[i] = 0;
    }
    l->statements_used_count = 0;
}

/* Runs a cached statement that returns no rows (transaction control). */
int db_run(loyalty_ledger *l, const char *sql)
{
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    int step = sqlite3_step(st);
    int rc = step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "database");
    sqlite3_reset(st);
    return rc;
}

int64_t clock_now_us(const loyalty_ledger *l)
{
    if (l->fixed_now_us > 0)
        return l->fixed_now_us;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Reads seq and hash of the chain head into the write state. */
int load_chain_head(loyalty_ledger *l)
{
    static const char sql[] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 1) != HASH_BYTES)
            return fail(l, LOYALTY_ERR_INTERNAL, "audit head hash has the wrong size");
        l->next_seq = sqlite3_column_int64(st, 0) + 1;
        memcpy(l->prev_hash, sqlite3_column_blob(st, 1), HASH_BYTES);
    } else if (step == SQLITE_DONE) {
        l->next_seq = 1;
        memset(l->prev_hash, 0, HASH_BYTES);
    } else {
        return fail_db(l, "reading the audit head");
    }
    sqlite3_reset(st);
    return LOYALTY_OK;
}

/*
 * Starts a state change: BEGIN IMMEDIATE (so the write lock is taken before
 * anything is read and two writers cannot both decide on stale data), the
 * operation's clock and actor, the chain head and the signing key.
 */
int write_begin(loyalty_ledger *l)
{
    if (l == NULL)
        return LOYALTY_ERR_MISUSE;
    clear_error(l);
    if (l->db == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "the ledger is not open");
    l->entries_written = 0;
    json_checks_reset();
    if (l->replay) {
        /* verify's replay runs every entry in one transaction on a ledger nothing else
         * writes: the chain head, the program and the operator read for one entry still
         * hold for the next (entries that change the program or the operators clear
         * those caches themselves), and a failed entry ends the replay. */
        l->op_now_us = l->replay->ts_us;
        l->op_actor = l->replay->actor;
        if (l->replay_head_loaded)
            return LOYALTY_OK;
        int rc = load_chain_head(l);
        l->replay_head_loaded = rc == LOYALTY_OK;
        return rc;
    }
    l->rules_cached = 0;
    l->operator_cached = 0;
    if (l->poisoned)
        return fail(l, LOYALTY_ERR_STORAGE,
                    "an earlier commit failed to reach the disk; reopen the ledger to write again");
    if (l->actor[0] == '\0')
        return fail(l, LOYALTY_ERR_INVALID,
                    "an actor is required for changes (--actor or LOYALTY_ACTOR)");
    if (sqlite3_db_readonly(l->db, "main") == 1)
        return fail(l, LOYALTY_ERR_STORAGE, "%s is read-only", l->db_path);
    int rc = db_run(l, "BEGIN IMMEDIATE");
    if (rc != LOYALTY_OK)
        return rc;
    l->in_write = 1;
    l->op_now_us = clock_now_us(l);
    l->op_actor = l->actor;
    rc = load_chain_head(l);
    if (rc == LOYALTY_OK && l->next_seq > 1)
        rc = keys_ensure_signing(l);
    if (rc != LOYALTY_OK)
        return write_end(l, rc);
    return LOYALTY_OK;
}

/* Commits when rc is LOYALTY_OK, otherwise rolls back; returns the final code. */
int write_end(loyalty_ledger *l, int rc)
{
    if (l->replay)
        return rc;
    if (!l->in_write)
        return rc;
    reset_statements(l);
    if (rc == LOYALTY_OK && sqlite3_get_autocommit(l->db))
        rc = fail(l, LOYALTY_ERR_STORAGE, "the transaction was rolled back by an earlier error");
    if (rc == LOYALTY_OK) {
        if (l->entries_written > 1)
            rc = fail(l, LOYALTY_ERR_INTERNAL, "an operation wrote %d audit entries",
                      l->entries_written);
        else {
            sqlite3_stmt *commit = stmt(l, "COMMIT");
            if (commit == NULL) {
                rc = l->error_code;
            } else if (sqlite3_step(commit) != SQLITE_DONE) {
                int code = sqlite3_extended_errcode(l->db) & 0xff;
                rc = fail_db(l, "commit");
                /* After a failed write or fsync the file's state is uncertain: refuse
                 * further writes on this handle rather than build on it. */
                if (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CORRUPT)
                    l->poisoned = 1;
            }
            if (commit != NULL)
                sqlite3_reset(commit);
        }
    }
    if (rc != LOYALTY_OK && !sqlite3_get_autocommit(l->db))
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    reset_statements(l);
    l->in_write = 0;
    l->operator_cached = 0; /* the write may have changed operators or the program */
    l->rules_cached = 0;
    return rc;
}

/* A read snapshot: several SELECTs that must agree with each other. */
int read_begin(loyalty_ledger *l)
{
    if (l == NULL)
        return LOYALTY_ERR_MISUSE;
    clear_error(l);
    if (l->db == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "the ledger is not open");
    if (l->replay || !sqlite3_get_autocommit(l->db))
        return LOYALTY_OK;
    int rc = db_run(l, "BEGIN");
    if (rc != LOYALTY_OK)
        return rc;
    l->in_read = 1;
    /* Starts the snapshot and tells whether another connection committed since the
     * last read: if not, the cached operator and program still hold. */
    sqlite3_stmt *st = stmt(l, "PRAGMA data_version");
    if (st == NULL)
        return l->error_code;
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        rc = fail_db(l, "reading the data version");
        sqlite3_reset(st);
        return rc;
    }
    int64_t version = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (!l->data_version_known || version != l->data_version) {
        l->operator_cached = 0;
        l->rules_cached = 0;
        l->data_version = version;
        l->data_version_known = 1;
    }
    return LOYALTY_OK;
}

void read_end(loyalty_ledger *l)
{
    if (l == NULL || l->db == NULL)
        return;
    reset_statements(l);
    if (l->replay || l->in_write)
        return;
    l->in_read = 0;
    if (!sqlite3_get_autocommit(l->db)) {
        sqlite3_stmt *st = stmt(l, "COMMIT");
        if (st == NULL || sqlite3_step(st) != SQLITE_DONE)
            sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        reset_statements(l);
    }
}
