/*
 * driver.c - crash at any point: runs the crash writer, kill -9s it at a
 * random moment, and checks the ledger it left, again and again.
 *
 *   crash_driver --writer PATH [--kills N] [--seed N] [--generation K]
 *                [--dir DIR] [--report FILE] [--keep]
 *
 * After every kill:
 *   1. PRAGMA integrity_check is ok and no foreign key is dangling;
 *   2. loyalty_verify passes and the statistics add up (loyalty_stats_get
 *      checks outstanding = issued - redeemed - expired - clawed back -
 *      forfeited + adjusted + reversed; it must also be the sum of balances);
 *   3. every acknowledged operation of every run so far is present exactly
 *      once, with the acknowledged points (journal by kind and reference;
 *      holds and releases in the holds table), and no refused one is;
 *   4. every balance equals the sum of its journal entries, and the sum of
 *      its lots' remainders less its debt;
 *   5. the operation in flight at the kill (the last intent without an
 *      outcome: one call, or every operation of one batch) is retried with
 *      the same reference and parameters: it applies at most once (if it
 *      was already applied the retry answers replayed, else it applies now),
 *      and a second retry answers replayed with the same figures;
 *   6. a probe write succeeds (the signing key survived, even a rotation
 *      cut short), and then no journal row exists that nobody acknowledged.
 * A fresh ledger is started every K kills (--generation, default 100) so
 * that verification, which replays the whole chain, stays fast.
 *
 * Acknowledged operations are kept in a side database (acks.db) attached
 * to the check connection, so that each check is a few joins.
 */
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "crash_common.h"

#define INTENTS_MAX 64 /* one call, or one batch (at most 6 operations) */

typedef struct intent {
    int64_t batch;
    char kind[16];
    char ref[LOYALTY_ID_MAX + 1];
    char member[LOYALTY_ID_MAX + 1];
    int64_t amount;
    int64_t points;
    char aux[LOYALTY_ID_MAX + 1];
    int done; /* an A or F line answered it */
} intent;

static struct driver {
    const char *writer;
    char dir[512];
    char gen_dir[600];
    char db[700];
    char acks[700];
    int64_t kills;
    int64_t generation_size;
    uint64_t seed;
    crash_rng rng;
    int keep;
    FILE *report;

    /* Figures. */
    int64_t generations;
    int64_t acked;
    int64_t refused;
    int64_t in_flight;
    int64_t in_flight_applied;
    int64_t in_flight_batches;
    int64_t kills_before_first_call;
    int64_t retries_applied;
    int64_t retries_replayed;
    int64_t rotations;
    int64_t rotations_in_flight;
    int64_t rotations_in_flight_applied;
    int64_t probes;
    int64_t max_entries;
    int64_t verify_us;
    int64_t checks;
} d;

/* ------------------------------------------------------------------------ */
/* SQL helpers on the check connection                                        */
/* ------------------------------------------------------------------------ */

static sqlite3 *check_db;

static void sql_open(void)
{
    if (sqlite3_open_v2(d.db, &check_db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        die("open %s: %s", d.db, sqlite3_errmsg(check_db));
    sqlite3_busy_timeout(check_db, 5000);
    char sql[800];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS t", d.acks);
    if (sqlite3_exec(check_db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die("attach: %s", sqlite3_errmsg(check_db));
}

static void sql_close(void)
{
    sqlite3_close(check_db);
    check_db = NULL;
}

static void sql_exec(const char *sql)
{
    char *error = NULL;
    if (sqlite3_exec(check_db, sql, NULL, NULL, &error) != SQLITE_OK)
        die("%s: %s", sql, error);
}

/* The first column of the first row; text arguments bound in order. */
static int64_t sql_int(const char *sql, const char *a, const char *b)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(check_db, sql, -1, &st, NULL) != SQLITE_OK)
        die("%s: %s", sql, sqlite3_errmsg(check_db));
    if (a)
        sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        die("%s: no row (%s)", sql, sqlite3_errmsg(check_db));
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void sql_text(const char *sql, char *out, size_t size)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(check_db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        die("%s: %s", sql, sqlite3_errmsg(check_db));
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* A check that counts offending rows: any row is a finding. */
static void expect_none(const char *what, const char *sql)
{
    int64_t n = sql_int(sql, NULL, NULL);
    if (n != 0)
        die("kill check failed: %s (%lld rows) [%s]", what, (long long)n, d.db);
}

/* How many times (0 or 1) the operation kind/ref shows in the ledger. */
static int64_t applied_count(const char *kind, const char *ref)
{
    if (strcmp(kind, "hold") == 0)
        return sql_int("SELECT COUNT(*) FROM main.holds WHERE ref = ?1", ref, NULL);
    if (strcmp(kind, "release") == 0)
        return sql_int("SELECT COUNT(*) FROM main.holds WHERE ref = ?1 AND status = 'released'",
                       ref, NULL);
    return sql_int("SELECT COUNT(*) FROM main.journal WHERE kind = ?1 AND ref = ?2", kind, ref);
}

static void record_ack(const char *kind, const char *ref, int64_t points)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(check_db, "INSERT INTO t.acked (kind, ref, points) VALUES (?, ?, ?)", -1,
                           &st, NULL) != SQLITE_OK)
        die("record: %s", sqlite3_errmsg(check_db));
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, points);
    if (sqlite3_step(st) != SQLITE_DONE)
        die("acknowledged twice: %s %s (%s)", kind, ref, sqlite3_errmsg(check_db));
    sqlite3_finalize(st);
}

static void record_refusal(const char *kind, const char *ref)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(check_db, "INSERT INTO t.refused (kind, ref) VALUES (?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        die("record: %s", sqlite3_errmsg(check_db));
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        die("refused twice: %s %s", kind, ref);
    sqlite3_finalize(st);
}

/* ------------------------------------------------------------------------ */
/* The writer's log                                                           */
/* ------------------------------------------------------------------------ */

/*
 * Reads one run's log: acknowledgements and refusals go into acks.db;
 * intents without an outcome are returned (they must be the run's last
 * call). Returns how many.
 */
static int read_log(const char *path, intent *pending, int *rotations_pending)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0; /* killed before it opened its log */
    static intent intents[INTENTS_MAX];
    int count = 0, rotate_intents = 0, rotate_acks = 0, saw_any = 0;
    char line[CRASH_LINE_MAX + 2];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n')
            break; /* cut short by the kill: never acknowledged */
        saw_any = 1;
        if (line[0] == 'I') {
            intent in;
            memset(&in, 0, sizeof in);
            long long batch, amount, points;
            if (sscanf(line, "I %lld %15s %64s %64s %lld %lld %64s", &batch, in.kind, in.ref,
                       in.member, &amount, &points, in.aux) != 7)
                die("bad log line: %s", line);
            in.batch = batch;
            in.amount = amount;
            in.points = points;
            if (strcmp(in.kind, "rotate") == 0) {
                rotate_intents++;
                continue;
            }
            /* Every earlier call must have its outcome before the next begins. */
            int kept = 0;
            for (int i = 0; i < count; i++)
                if (!intents[i].done)
                    intents[kept++] = intents[i];
            count = kept;
            if (count > 0 && (intents[0].batch == 0 || intents[0].batch != in.batch))
                die("the writer started %s %s before %s %s had an outcome", in.kind, in.ref,
                    intents[0].kind, intents[0].ref);
            if (count == INTENTS_MAX)
                die("too many operations in flight");
            intents[count++] = in;
        } else if (line[0] == 'A' || line[0] == 'F') {
            char kind[16], ref[LOYALTY_ID_MAX + 1];
            long long points = 0;
            if (sscanf(line + 2, "%15s %64s %lld", kind, ref, &points) < 2)
                die("bad log line: %s", line);
            if (strcmp(kind, "rotate") == 0) {
                char rotation[32];
                snprintf(rotation, sizeof rotation, "acked-%lld", (long long)d.rotations++);
                record_ack("rotate", rotation, 0);
                rotate_acks++;
                continue;
            }
            int found = 0;
            for (int i = 0; i < count && !found; i++)
                if (!intents[i].done && strcmp(intents[i].kind, kind) == 0 &&
                    strcmp(intents[i].ref, ref) == 0)
                    intents[i].done = found = 1;
            if (!found)
                die("an outcome without an intent: %s", line);
            if (line[0] == 'A') {
                record_ack(kind, ref, points);
                d.acked++;
            } else {
                record_refusal(kind, ref);
                d.refused++;
            }
        } else {
            die("bad log line: %s", line);
        }
    }
    fclose(f);
    if (!saw_any)
        d.kills_before_first_call++;
    *rotations_pending = rotate_intents - rotate_acks;
    if (*rotations_pending < 0 || *rotations_pending > 1)
        die("%d rotations without an outcome", *rotations_pending);
    int pending_count = 0;
    for (int i = 0; i < count; i++)
        if (!intents[i].done)
            pending[pending_count++] = intents[i];
    return pending_count;
}

/* ------------------------------------------------------------------------ */
/* Checks                                                                    */
/* ------------------------------------------------------------------------ */

static void check_storage(void)
{
    char result[256];
    sql_text("PRAGMA main.integrity_check", result, sizeof result);
    if (strcmp(result, "ok") != 0)
        die("integrity_check: %s [%s]", result, d.db);
    expect_none("dangling foreign keys", "SELECT COUNT(*) FROM pragma_foreign_key_check");
}

static void check_ledger_api(loyalty_ledger *l)
{
    loyalty_verify_report report;
    int64_t start = monotonic_us();
    int rc = loyalty_verify(l, NULL, NULL, &report);
    d.verify_us += monotonic_us() - start;
    if (rc != LOYALTY_OK || !report.ok)
        die("verify after a kill: %s: %s [%s]", loyalty_result_name(rc), report.reason, d.db);
    if (report.entries > d.max_entries)
        d.max_entries = report.entries;
    loyalty_stats stats;
    rc = loyalty_stats_get(l, &stats);
    if (rc != LOYALTY_OK)
        die("stats after a kill: %s (%s)", loyalty_result_name(rc), loyalty_errmsg(l));
    int64_t sum = sql_int("SELECT COALESCE(SUM(balance), 0) FROM main.members", NULL, NULL);
    if (stats.outstanding != sum)
        die("outstanding %lld is not the sum of balances %lld", (long long)stats.outstanding,
            (long long)sum);
}

static void check_acknowledged(void)
{
    expect_none("an acknowledged posting is missing or has other points",
                "SELECT COUNT(*) FROM t.acked a LEFT JOIN main.journal j"
                " ON j.kind = a.kind AND j.ref = a.ref"
                " WHERE a.kind NOT IN ('hold', 'release', 'rotate')"
                " AND (j.tx IS NULL OR j.points != a.points)");
    expect_none("an acknowledged hold is missing or holds other points",
                "SELECT COUNT(*) FROM t.acked a LEFT JOIN main.holds h ON h.ref = a.ref"
                " WHERE a.kind = 'hold' AND (h.id IS NULL OR h.points != a.points)");
    expect_none("an acknowledged release did not release its hold",
                "SELECT COUNT(*) FROM t.acked a LEFT JOIN main.holds h ON h.ref = a.ref"
                " WHERE a.kind = 'release' AND (h.id IS NULL OR h.status != 'released')");
    expect_none("an acknowledged capture did not close its hold",
                "SELECT COUNT(*) FROM t.acked a LEFT JOIN main.holds h ON h.ref = a.ref"
                " WHERE a.kind = 'capture' AND (h.id IS NULL OR h.status != 'captured')");
    expect_none("a refused operation was applied",
                "SELECT COUNT(*) FROM t.refused r WHERE"
                " (r.kind = 'hold' AND EXISTS (SELECT 1 FROM main.holds h WHERE h.ref = r.ref))"
                " OR (r.kind = 'release' AND EXISTS (SELECT 1 FROM main.holds h"
                "     WHERE h.ref = r.ref AND h.status = 'released'))"
                " OR EXISTS (SELECT 1 FROM main.journal j WHERE j.kind = r.kind AND j.ref = r.ref)");
    expect_none("a journal row without its audit entry",
                "SELECT COUNT(*) FROM main.journal j LEFT JOIN main.audit a ON a.seq = j.audit_seq"
                " WHERE a.seq IS NULL");
    expect_none("two journal rows claim one audit entry",
                "SELECT COUNT(*) FROM (SELECT audit_seq FROM main.journal GROUP BY audit_seq"
                " HAVING COUNT(*) > 1)");
}

static void check_balances(void)
{
    expect_none("a balance is not the sum of its journal entries",
                "SELECT COUNT(*) FROM main.members m WHERE m.balance !="
                " (SELECT COALESCE(SUM(points), 0) FROM main.journal j WHERE j.member_id = m.id)");
    expect_none("a balance is not its lots less its debt",
                "SELECT COUNT(*) FROM main.members m WHERE m.balance !="
                " (SELECT COALESCE(SUM(remaining), 0) FROM main.lots o WHERE o.member_id = m.id)"
                " - m.debt");
    expect_none("a journal row's balance_after breaks the running sum",
                "SELECT COUNT(*) FROM (SELECT balance_after, SUM(points) OVER"
                " (PARTITION BY member_id ORDER BY tx) AS running FROM main.journal)"
                " WHERE balance_after != running");
}

/* After the retries and the probe, every journal row was acknowledged by someone. */
static void check_nothing_unacknowledged(void)
{
    expect_none("a journal row nobody acknowledged",
                "SELECT COUNT(*) FROM main.journal j WHERE NOT EXISTS"
                " (SELECT 1 FROM t.acked a WHERE a.kind = j.kind AND a.ref = j.ref)");
    expect_none("a hold nobody acknowledged",
                "SELECT COUNT(*) FROM main.holds h WHERE NOT EXISTS"
                " (SELECT 1 FROM t.acked a WHERE a.kind = 'hold' AND a.ref = h.ref)");
}

/* ------------------------------------------------------------------------ */
/* Retrying what was in flight                                               */
/* ------------------------------------------------------------------------ */

typedef struct retry_result {
    int rc;
    int replayed;
    int64_t points;
} retry_result;

static retry_result retry_single(loyalty_ledger *l, const intent *in)
{
    retry_result r = {0, 0, 0};
    loyalty_posting p;
    loyalty_hold_info h;
    memset(&p, 0, sizeof p);
    memset(&h, 0, sizeof h);
    if (strcmp(in->kind, "award") == 0) {
        loyalty_award_request q = {in->member, in->ref, in->amount, in->points, NULL};
        r.rc = loyalty_award(l, &q, &p);
    } else if (strcmp(in->kind, "redeem") == 0) {
        loyalty_redeem_request q = {in->member, in->ref, in->points};
        r.rc = loyalty_redeem(l, &q, &p);
    } else if (strcmp(in->kind, "adjust") == 0) {
        loyalty_adjust_request q = {in->member, in->ref, in->points, CRASH_ADJUST_REASON,
                                    CRASH_NOTE};
        r.rc = loyalty_adjust(l, &q, &p);
    } else if (strcmp(in->kind, "refund") == 0) {
        loyalty_refund_request q = {in->member, in->ref, in->aux, in->amount};
        r.rc = loyalty_refund(l, &q, &p);
    } else if (strcmp(in->kind, "reverse") == 0) {
        loyalty_reverse_request q = {strtoll(in->aux, NULL, 10), in->ref, CRASH_REVERSE_REASON};
        r.rc = loyalty_reverse(l, &q, &p);
    } else if (strcmp(in->kind, "hold") == 0) {
        loyalty_hold_request q = {in->member, in->ref, in->points};
        r.rc = loyalty_hold(l, &q, &h);
        r.replayed = h.replayed;
        r.points = h.points;
        return r;
    } else if (strcmp(in->kind, "capture") == 0) {
        r.rc = loyalty_capture(l, in->ref, in->points, &h);
        r.replayed = h.replayed;
        r.points = -h.captured;
        return r;
    } else if (strcmp(in->kind, "release") == 0) {
        r.rc = loyalty_release(l, in->ref, &h);
        r.replayed = h.replayed;
        return r;
    } else {
        die("cannot retry %s", in->kind);
    }
    r.replayed = p.replayed;
    r.points = p.points;
    return r;
}

/* The batch again, as the writer sent it. */
static void retry_batch(loyalty_ledger *l, const intent *ins, int count, retry_result *out)
{
    loyalty_operation ops[INTENTS_MAX];
    loyalty_operation_result results[INTENTS_MAX];
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < count; i++) {
        ops[i].member = ins[i].member;
        ops[i].ref = ins[i].ref;
        if (strcmp(ins[i].kind, "award") == 0) {
            ops[i].kind = LOYALTY_OP_AWARD;
            ops[i].amount_minor = ins[i].amount;
        } else {
            ops[i].kind = LOYALTY_OP_ADJUST;
            ops[i].points = ins[i].points;
            ops[i].reason = CRASH_ADJUST_REASON;
            ops[i].note = CRASH_NOTE;
        }
    }
    int rc = loyalty_apply_batch(l, ops, (size_t)count, results);
    if (rc != LOYALTY_OK)
        die("batch retry: %s (%s)", loyalty_result_name(rc), loyalty_errmsg(l));
    for (int i = 0; i < count; i++) {
        out[i].rc = results[i].rc;
        out[i].replayed = results[i].replayed;
        out[i].points = results[i].points;
    }
}

static void check_retry(const intent *in, int64_t before, const retry_result *first,
                        const retry_result *second)
{
    int64_t after = applied_count(in->kind, in->ref);
    if (before > 1 || after != 1)
        die("%s %s applied %lld times before the retry, %lld after", in->kind, in->ref,
            (long long)before, (long long)after);
    if (first->rc != LOYALTY_OK || second->rc != LOYALTY_OK)
        die("retrying %s %s: %s then %s (applied before: %lld)", in->kind, in->ref,
            loyalty_result_name(first->rc), loyalty_result_name(second->rc), (long long)before);
    if (first->replayed != (before == 1) || second->replayed != 1)
        die("retrying %s %s: replayed %d then %d, applied before: %lld", in->kind, in->ref,
            first->replayed, second->replayed, (long long)before);
    if (first->points != second->points)
        die("retrying %s %s: %lld points, then %lld", in->kind, in->ref, (long long)first->points,
            (long long)second->points);
    if (before)
        d.retries_replayed++;
    else
        d.retries_applied++;
    record_ack(in->kind, in->ref, first->points);
}

static void retry_in_flight(loyalty_ledger *admin, loyalty_ledger *clerk, const intent *ins,
                            int count)
{
    if (count == 0)
        return;
    d.in_flight += count;
    int64_t before[INTENTS_MAX];
    for (int i = 0; i < count; i++) {
        before[i] = applied_count(ins[i].kind, ins[i].ref);
        d.in_flight_applied += before[i];
    }
    retry_result first[INTENTS_MAX], second[INTENTS_MAX];
    if (ins[0].batch != 0) {
        d.in_flight_batches++;
        /* One transaction: all of it or none of it was applied. */
        for (int i = 1; i < count; i++)
            if (before[i] != before[0])
                die("batch %lld was half applied", (long long)ins[0].batch);
        retry_batch(admin, ins, count, first);
        retry_batch(admin, ins, count, second);
    } else {
        if (count != 1)
            die("%d single calls in flight", count);
        loyalty_ledger *l = strcmp(ins[0].kind, "adjust") == 0 || strcmp(ins[0].kind, "reverse") == 0
                                ? admin
                                : clerk;
        first[0] = retry_single(l, &ins[0]);
        second[0] = retry_single(l, &ins[0]);
    }
    for (int i = 0; i < count; i++)
        check_retry(&ins[i], before[i], &first[i], &second[i]);
}

/* A write through each handle: the signing key is usable. */
static void probe(loyalty_ledger *clerk, int64_t number)
{
    char ref[LOYALTY_ID_MAX + 1];
    snprintf(ref, sizeof ref, "probe-%lld", (long long)number);
    loyalty_award_request q = {.member = "m0", .ref = ref, .points = 1};
    loyalty_posting p;
    int rc = loyalty_award(clerk, &q, &p);
    if (rc != LOYALTY_OK)
        die("a write after kill %lld: %s (%s)", (long long)number, loyalty_result_name(rc),
            loyalty_errmsg(clerk));
    record_ack("award", ref, p.points);
    d.probes++;
}

/* ------------------------------------------------------------------------ */
/* Runs                                                                      */
/* ------------------------------------------------------------------------ */

static void open_as(loyalty_ledger **out, const char *actor)
{
    loyalty_open_options options = {.db_path = d.db, .actor = actor};
    if (loyalty_open(out, &options) != LOYALTY_OK)
        die("open %s: %s", d.db, loyalty_errmsg(*out));
}

static void run_command(const char *const argv[], const char *stderr_path)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("%s %s failed (see %s)", argv[0], argv[1], stderr_path);
}

static void new_generation(void)
{
    d.generations++;
    snprintf(d.gen_dir, sizeof d.gen_dir, "%s/gen-%lld", d.dir, (long long)d.generations);
    if (mkdir(d.gen_dir, 0700) != 0)
        die("mkdir %s: %s", d.gen_dir, strerror(errno));
    snprintf(d.db, sizeof d.db, "%s/ledger.db", d.gen_dir);
    snprintf(d.acks, sizeof d.acks, "%s/acks.db", d.gen_dir);
    char err[700];
    snprintf(err, sizeof err, "%s/init.err", d.gen_dir);
    const char *argv[] = {d.writer, "--db", d.db, "--init", NULL};
    run_command(argv, err);
    sqlite3 *acks = NULL;
    if (sqlite3_open(d.acks, &acks) != SQLITE_OK ||
        sqlite3_exec(acks,
                     "PRAGMA journal_mode = WAL;"
                     "CREATE TABLE acked (kind TEXT, ref TEXT, points INTEGER, PRIMARY KEY (kind, ref));"
                     "CREATE TABLE refused (kind TEXT, ref TEXT, PRIMARY KEY (kind, ref));",
                     NULL, NULL, NULL) != SQLITE_OK)
        die("acks.db: %s", sqlite3_errmsg(acks));
    sqlite3_close(acks);
}

/* Starts the writer and kills it after a random delay. Returns the log's path in log. */
static void run_and_kill(int64_t number, char *log, size_t log_size)
{
    char seed[24], run[24], err[700];
    snprintf(log, log_size, "%s/run-%lld.log", d.gen_dir, (long long)number);
    snprintf(err, sizeof err, "%s/run-%lld.err", d.gen_dir, (long long)number);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)(d.seed * 1000003 + (uint64_t)number));
    snprintf(run, sizeof run, "%lld", (long long)number);
    /* One kill in six lands while the writer starts (open, key, WAL recovery). */
    int64_t delay_us = rng_chance(&d.rng, 16) ? rng_range(&d.rng, 0, 8000)
                                              : rng_range(&d.rng, 8000, 160000);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        execl(d.writer, d.writer, "--db", d.db, "--log", log, "--seed", seed, "--run", run,
              (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
        char text[600] = "";
        FILE *f = fopen(err, "r");
        if (f) {
            size_t n = fread(text, 1, sizeof text - 1, f);
            text[n] = '\0';
            fclose(f);
        }
        die("the writer stopped by itself before kill %lld: %s", (long long)number, text);
    }
    unlink(err);
}

static void after_kill(int64_t number, const char *log)
{
    sql_open();
    sql_exec("BEGIN");
    intent pending[INTENTS_MAX];
    int rotations_pending = 0;
    int count = read_log(log, pending, &rotations_pending);
    sql_exec("COMMIT");
    check_storage();
    loyalty_ledger *admin = NULL, *clerk = NULL;
    open_as(&admin, CRASH_ADMIN);
    open_as(&clerk, CRASH_CLERK);
    check_ledger_api(admin);
    check_acknowledged();
    check_balances();
    if (rotations_pending) {
        d.rotations_in_flight++;
        int64_t rotations = sql_int("SELECT COUNT(*) FROM main.audit WHERE action = 'key_rotate'",
                                    NULL, NULL);
        int64_t acked = sql_int("SELECT COUNT(*) FROM t.acked WHERE kind = 'rotate'", NULL, NULL);
        if (rotations == acked + 1) {
            char rotation[32];
            snprintf(rotation, sizeof rotation, "in-flight-%lld", (long long)number);
            d.rotations_in_flight_applied++;
            record_ack("rotate", rotation, 0); /* keeps the count of rotations in step */
        } else if (rotations != acked) {
            die("%lld rotations in the chain, %lld acknowledged", (long long)rotations,
                (long long)acked);
        }
    }
    retry_in_flight(admin, clerk, pending, count);
    probe(clerk, number);
    check_nothing_unacknowledged();
    check_balances();
    loyalty_close(admin);
    loyalty_close(clerk);
    sql_close();
    d.checks++;
    if (!d.keep)
        unlink(log);
}

static void final_verify(void)
{
    loyalty_ledger *l = NULL;
    sql_open();
    open_as(&l, CRASH_ADMIN);
    check_ledger_api(l);
    check_acknowledged();
    check_balances();
    check_nothing_unacknowledged();
    loyalty_close(l);
    sql_close();
}

static void print_figures(int64_t elapsed_us)
{
    printf("crash: %lld kills in %lld generations, %.1f s (verify %.1f s); seed %llu\n",
           (long long)d.kills, (long long)d.generations, elapsed_us / 1e6, d.verify_us / 1e6,
           (unsigned long long)d.seed);
    printf("crash: %lld operations acknowledged, %lld refused, %lld in flight at a kill"
           " (%lld already applied; %lld batches in flight), %lld kills before the first call\n",
           (long long)d.acked, (long long)d.refused, (long long)d.in_flight,
           (long long)d.in_flight_applied, (long long)d.in_flight_batches,
           (long long)d.kills_before_first_call);
    printf("crash: retries applied %lld, replayed %lld;"
           " rotations %lld acknowledged, %lld in flight (%lld applied); %lld probes;"
           " largest chain %lld entries; every check passed\n",
           (long long)d.retries_applied, (long long)d.retries_replayed, (long long)d.rotations, (long long)d.rotations_in_flight,
           (long long)d.rotations_in_flight_applied, (long long)d.probes,
           (long long)d.max_entries);
    if (d.report)
        fprintf(d.report,
                "{\"suite\":\"crash\",\"kills\":%lld,\"generations\":%lld,\"seconds\":%.1f,"
                "\"seed\":%llu,\"acknowledged\":%lld,\"refused\":%lld,\"in_flight\":%lld,"
                "\"in_flight_applied\":%lld,\"in_flight_batches\":%lld,"
                "\"kills_before_first_call\":%lld,\"retries_applied\":%lld,"
                "\"retries_replayed\":%lld,\"rotations\":%lld,"
                "\"rotations_in_flight\":%lld,\"rotations_in_flight_applied\":%lld,"
                "\"largest_chain\":%lld,\"findings\":0}\n",
                (long long)d.kills, (long long)d.generations, elapsed_us / 1e6,
                (unsigned long long)d.seed, (long long)d.acked, (long long)d.refused,
                (long long)d.in_flight, (long long)d.in_flight_applied,
                (long long)d.in_flight_batches, (long long)d.kills_before_first_call,
                (long long)d.retries_applied, (long long)d.retries_replayed,
                (long long)d.rotations, (long long)d.rotations_in_flight,
                (long long)d.rotations_in_flight_applied, (long long)d.max_entries);
}

static void remove_dir(const char *path)
{
    char command[700];
    snprintf(command, sizeof command, "rm -rf '%s'", path);
    if (strchr(path, '\'') == NULL && system(command) != 0)
        fprintf(stderr, "crash: could not remove %s\n", path);
}

int main(int argc, char **argv)
{
    d.kills = 50;
    d.generation_size = 100;
    d.seed = (uint64_t)time(NULL);
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--writer") == 0 && i + 1 < argc)
            d.writer = argv[++i];
        else if (strcmp(argv[i], "--kills") == 0 && i + 1 < argc)
            d.kills = strtoll(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            d.seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--generation") == 0 && i + 1 < argc)
            d.generation_size = strtoll(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
            d.report = fopen(argv[++i], "a");
        else if (strcmp(argv[i], "--keep") == 0)
            d.keep = 1;
        else
            die("usage: crash_driver --writer PATH [--kills N] [--seed N] [--generation K]"
                " [--dir DIR] [--report FILE] [--keep]");
    }
    if (d.writer == NULL || d.kills < 1 || d.generation_size < 1)
        die("--writer is required; --kills and --generation must be positive");
    if (d.writer[0] != '/') {
        static char absolute[4096];
        if (getcwd(absolute, sizeof absolute - 256) == NULL)
            die("getcwd: %s", strerror(errno));
        strncat(absolute, "/", 2);
        strncat(absolute, d.writer, sizeof absolute - strlen(absolute) - 1);
        d.writer = absolute;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(d.dir, sizeof d.dir, "%s/loyalty-crash-XXXXXX", dir ? dir : tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(d.dir) == NULL)
        die("mkdtemp %s: %s", d.dir, strerror(errno));
    rng_seed(&d.rng, d.seed);
    int64_t start = monotonic_us();
    for (int64_t number = 1; number <= d.kills; number++) {
        if ((number - 1) % d.generation_size == 0) {
            if (number > 1)
                final_verify();
            new_generation();
        }
        char log[800];
        run_and_kill(number, log, sizeof log);
        after_kill(number, log);
    }
    final_verify();
    print_figures(monotonic_us() - start);
    if (d.report)
        fclose(d.report);
    if (!d.keep)
        remove_dir(d.dir);
    return 0;
}
