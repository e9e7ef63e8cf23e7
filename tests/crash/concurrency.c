/*
 * concurrency.c - many processes on one ledger: 8 writer and 8 reader
 * processes (fork) for a fixed time, 20 % of the writers' references
 * shared with the other writers, so that several processes race to apply
 * the same operation.
 *
 *   concurrency --seconds N [--writers W] [--readers R] [--seed S]
 *               [--dir DIR] [--report FILE] [--keep]
 *
 * Writers post awards, redemptions, adjustments and hold/capture or
 * hold/release pairs, each through its own handle and operator, and log
 * every outcome. A shared reference ("dup-K") names the same operation in
 * every writer: the parameters are derived from K alone.
 *
 * Readers, meanwhile, check what they see:
 *   - a member's history is a running sum (each entry's balance_after is the
 *     previous one plus its points, from zero), and when no entry arrived
 *     between two looks the member's balance equals that sum;
 *   - loyalty_stats_get succeeds (it checks outstanding = issued - redeemed
 *     - expired - clawed_back - forfeited + adjusted + reversed) and the
 *     figures add up here too;
 *   - in one SQLite read transaction, every balance is the sum of its
 *     journal rows;
 *   - reader 1 also runs loyalty_verify on the live ledger, over and over.
 *
 * Pass: no call anywhere returns LOYALTY_ERR_BUSY or a "locked" message;
 * every reference is applied exactly once (a shared one by exactly one
 * writer, the others answering replayed with the same transaction); no
 * reader saw a disagreement; at the end the statistics add up, every
 * balance is its journal's sum, and the ledger verifies.
 */
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "crash_common.h"

#define MEMBERS 32
#define PROCESSES_MAX 64

static struct soak {
    char dir[512];
    char db[600];
    int writers;
    int readers;
    int64_t seconds;
    int64_t deadline_us;
    uint64_t seed;
    int keep;
    FILE *report;
} s;

/* What each child reports back, through a small binary file. */
typedef struct child_figures {
    int64_t calls;
    int64_t applied;
    int64_t replayed;
    int64_t refused;  /* insufficient points: a normal answer under contention */
    int64_t busy;     /* BUSY or a "locked" message: must stay 0 */
    int64_t errors;   /* any other unexpected answer: must stay 0 */
    int64_t checks;   /* reader checks made */
    int64_t violations;
    int64_t verifies;
    char first_problem[256];
} child_figures;

static child_figures me;

static void problem(int64_t *counter, const char *format, ...)
{
    (*counter)++;
    if (me.first_problem[0] == '\0') {
        va_list args;
        va_start(args, format);
        vsnprintf(me.first_problem, sizeof me.first_problem, format, args);
        va_end(args);
    }
}

static void open_as(loyalty_ledger **out, const char *actor)
{
    loyalty_open_options options = {.db_path = s.db, .actor = actor};
    if (loyalty_open(out, &options) != LOYALTY_OK)
        die("open as %s: %s", actor, loyalty_errmsg(*out));
}

static void member_of(char out[16], int64_t index)
{
    snprintf(out, 16, "c%lld", (long long)(index % MEMBERS));
}

/* Classifies a call's answer; returns 1 when it applied or replayed. */
static int answer(loyalty_ledger *l, int rc, int replayed, int may_refuse, const char *what)
{
    me.calls++;
    const char *message = loyalty_errmsg(l);
    if (rc == LOYALTY_ERR_BUSY || strstr(message, "locked") || strstr(message, "busy")) {
        problem(&me.busy, "%s: %s (%s)", what, loyalty_result_name(rc), message);
        return 0;
    }
    if (rc == LOYALTY_OK) {
        if (replayed)
            me.replayed++;
        else
            me.applied++;
        return 1;
    }
    if (rc == LOYALTY_ERR_INSUFFICIENT && may_refuse) {
        me.refused++;
        return 0;
    }
    problem(&me.errors, "%s: %s (%s)", what, loyalty_result_name(rc), message);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Writers                                                                   */
/* ------------------------------------------------------------------------ */

/* One line per outcome: kind ref rc replayed tx points. */
static void log_outcome(FILE *out, const char *kind, const char *ref, int rc, int replayed,
                        int64_t tx, int64_t points)
{
    fprintf(out, "%s %s %d %d %lld %lld\n", kind, ref, rc, replayed, (long long)tx,
            (long long)points);
}

/* The shared operation number k: the same parameters in every writer. */
static void shared_operation(loyalty_ledger *l, FILE *out, int64_t k)
{
    char ref[LOYALTY_ID_MAX + 1], member[16];
    snprintf(ref, sizeof ref, "dup-%lld", (long long)k);
    member_of(member, k);
    loyalty_posting p;
    memset(&p, 0, sizeof p);
    int rc;
    const char *kind;
    if (k % 3 == 0) {
        kind = "adjust";
        loyalty_adjust_request q = {member, ref, 1 + k % 50, "goodwill", NULL};
        rc = loyalty_adjust(l, &q, &p);
    } else {
        kind = "award";
        loyalty_award_request q = {member, ref, 0, 1 + k % 97, NULL};
        rc = loyalty_award(l, &q, &p);
    }
    answer(l, rc, p.replayed, 0, ref);
    log_outcome(out, kind, ref, rc, p.replayed, p.tx, p.points);
}

static void own_operation(loyalty_ledger *l, FILE *out, crash_rng *rng, int writer, int64_t n)
{
    char ref[LOYALTY_ID_MAX + 1], member[16];
    snprintf(ref, sizeof ref, "w%d-%lld", writer, (long long)n);
    member_of(member, rng_range(rng, 0, MEMBERS - 1));
    loyalty_posting p;
    loyalty_hold_info h;
    memset(&p, 0, sizeof p);
    memset(&h, 0, sizeof h);
    int dice = (int)rng_range(rng, 0, 99), rc;
    if (dice < 45) {
        loyalty_award_request q = {member, ref, rng_chance(rng, 50) ? rng_range(rng, 100, 30000) : 0,
                                   0, NULL};
        if (q.amount_minor == 0)
            q.points = rng_range(rng, 1, 300);
        rc = loyalty_award(l, &q, &p);
        answer(l, rc, p.replayed, 0, ref);
        log_outcome(out, "award", ref, rc, p.replayed, p.tx, p.points);
    } else if (dice < 70) {
        loyalty_redeem_request q = {member, ref, rng_range(rng, 1, 150)};
        rc = loyalty_redeem(l, &q, &p);
        answer(l, rc, p.replayed, 1, ref);
        log_outcome(out, "redeem", ref, rc, p.replayed, p.tx, p.points);
    } else if (dice < 85) {
        int64_t points = rng_chance(rng, 50) ? rng_range(rng, 1, 100) : -rng_range(rng, 1, 100);
        loyalty_adjust_request q = {member, ref, points, "goodwill", NULL};
        rc = loyalty_adjust(l, &q, &p);
        answer(l, rc, p.replayed, points < 0, ref);
        log_outcome(out, "adjust", ref, rc, p.replayed, p.tx, p.points);
    } else {
        loyalty_hold_request q = {member, ref, rng_range(rng, 1, 100)};
        rc = loyalty_hold(l, &q, &h);
        int held = answer(l, rc, h.replayed, 1, ref);
        log_outcome(out, "hold", ref, rc, h.replayed, 0, h.points);
        if (!held)
            return;
        if (rng_chance(rng, 60)) {
            rc = loyalty_capture(l, ref, 0, &h);
            answer(l, rc, h.replayed, 0, ref);
            log_outcome(out, "capture", ref, rc, h.replayed, h.tx, -h.captured);
        } else {
            rc = loyalty_release(l, ref, &h);
            answer(l, rc, h.replayed, 0, ref);
            log_outcome(out, "release", ref, rc, h.replayed, 0, 0);
        }
    }
}

static void writer_main(int writer, const char *results)
{
    char actor[32];
    snprintf(actor, sizeof actor, "writer-%d", writer);
    FILE *out = fopen(results, "w");
    if (out == NULL)
        die("cannot write %s", results);
    loyalty_ledger *l = NULL;
    open_as(&l, actor);
    crash_rng rng;
    rng_seed(&rng, s.seed * 31 + (uint64_t)writer);
    int64_t own = 0, shared = 0;
    while (monotonic_us() < s.deadline_us) {
        /* One call in five names a shared operation: every writer walks the same list. */
        if (rng_chance(&rng, 20))
            shared_operation(l, out, shared++);
        else
            own_operation(l, out, &rng, writer, ++own);
    }
    loyalty_close(l);
    fclose(out);
}

/* ------------------------------------------------------------------------ */
/* Readers                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct history_walk {
    int64_t newest_tx;
    int64_t newest_balance;
    int64_t previous_balance_after; /* of the newer entry just seen */
    int64_t previous_points;
    int64_t sum;
    int64_t entries;
    int broken;
} history_walk;

static int on_entry(void *context, const loyalty_history_entry *e)
{
    history_walk *w = context;
    if (w->entries == 0) {
        w->newest_tx = e->tx;
        w->newest_balance = e->balance_after;
    } else if (e->balance_after != w->previous_balance_after - w->previous_points) {
        w->broken = 1;
    }
    w->previous_balance_after = e->balance_after;
    w->previous_points = e->points;
    w->sum += e->points;
    w->entries++;
    return 0;
}

/* The whole history, newest first; pages stay consistent: older entries never change. */
static int walk_history(loyalty_ledger *l, const char *member, history_walk *w)
{
    memset(w, 0, sizeof *w);
    int64_t before = 0;
    for (int pages = 0; pages < 10000; pages++) {
        int64_t next = 0;
        int rc = loyalty_history(l, member, 1000, before, on_entry, w, &next);
        if (rc != LOYALTY_OK)
            return rc;
        if (next == 0)
            break;
        before = next;
    }
    return LOYALTY_OK;
}

static void check_member(loyalty_ledger *l, crash_rng *rng)
{
    char member[16];
    member_of(member, rng_range(rng, 0, MEMBERS - 1));
    history_walk first, second;
    loyalty_member_info info;
    int rc = walk_history(l, member, &first);
    if (!answer(l, rc, 0, 0, "history"))
        return;
    rc = loyalty_member_get(l, member, &info);
    if (!answer(l, rc, 0, 0, "member_get"))
        return;
    rc = walk_history(l, member, &second);
    if (!answer(l, rc, 0, 0, "history"))
        return;
    me.checks++;
    if (first.broken || (first.entries && first.previous_balance_after != first.previous_points))
        problem(&me.violations, "%s: the history is not a running sum", member);
    if (first.entries && first.sum != first.newest_balance)
        problem(&me.violations, "%s: history sums to %lld, newest balance_after %lld", member,
                (long long)first.sum, (long long)first.newest_balance);
    /* No entry arrived between the two walks: the balance read in between is their sum. */
    if (first.newest_tx == second.newest_tx && info.balance != first.sum)
        problem(&me.violations, "%s: balance %lld but its history sums to %lld", member,
                (long long)info.balance, (long long)first.sum);
    if (info.available < 0 || info.held < 0 || info.available > info.balance + info.debt)
        problem(&me.violations, "%s: available %lld, held %lld, balance %lld", member,
                (long long)info.available, (long long)info.held, (long long)info.balance);
}

static void check_stats(loyalty_ledger *l)
{
    loyalty_stats st;
    int rc = loyalty_stats_get(l, &st);
    if (!answer(l, rc, 0, 0, "stats"))
        return;
    me.checks++;
    if (st.outstanding != st.issued - st.redeemed - st.expired - st.clawed_back - st.forfeited +
                              st.adjusted + st.reversed)
        problem(&me.violations, "the statistics do not add up");
}

/* One SQLite read transaction: the state itself agrees with the journal. */
static void check_snapshot(sqlite3 *db)
{
    static const char *const sql[] = {
        "SELECT COUNT(*) FROM members m WHERE m.balance !="
        " (SELECT COALESCE(SUM(points), 0) FROM journal j WHERE j.member_id = m.id)",
        "SELECT (SELECT COALESCE(SUM(balance), 0) FROM members) -"
        " (SELECT COALESCE(SUM(points), 0) FROM journal)",
    };
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        problem(&me.errors, "BEGIN: %s", sqlite3_errmsg(db));
        return;
    }
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st = NULL;
        int step = SQLITE_ERROR;
        if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) == SQLITE_OK)
            step = sqlite3_step(st);
        if (step != SQLITE_ROW)
            problem(step == SQLITE_BUSY ? &me.busy : &me.errors, "snapshot: %s", sqlite3_errmsg(db));
        else if (sqlite3_column_int64(st, 0) != 0)
            problem(&me.violations, "a snapshot where balances disagree with the journal (%s)",
                    sql[i]);
        sqlite3_finalize(st);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    me.checks++;
}

static void check_verify(loyalty_ledger *l)
{
    loyalty_verify_report report;
    int rc = loyalty_verify(l, NULL, NULL, &report);
    if (!answer(l, rc, 0, 0, "verify"))
        return;
    me.verifies++;
    if (!report.ok)
        problem(&me.violations, "verify on the live ledger: %s", report.reason);
}

static void reader_main(int reader)
{
    char actor[32];
    snprintf(actor, sizeof actor, "reader-%d", reader);
    loyalty_ledger *l = NULL;
    open_as(&l, actor);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(s.db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        die("open %s: %s", s.db, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 30000);
    crash_rng rng;
    rng_seed(&rng, s.seed * 17 + (uint64_t)reader);
    int64_t next_verify = 0;
    while (monotonic_us() < s.deadline_us) {
        if (reader == 1 && monotonic_us() >= next_verify) {
            check_verify(l);
            next_verify = monotonic_us() + 1000000;
        }
        /* A short pause between looks: eight readers on a small machine must not starve
         * the writers they are meant to watch. */
        struct timespec pause = {0, 300000};
        nanosleep(&pause, NULL);
        int dice = (int)rng_range(&rng, 0, 2);
        if (dice == 0)
            check_member(l, &rng);
        else if (dice == 1)
            check_stats(l);
        else
            check_snapshot(db);
    }
    sqlite3_close(db);
    loyalty_close(l);
}

/* ------------------------------------------------------------------------ */
/* The parent                                                                */
/* ------------------------------------------------------------------------ */

static void setup(void)
{
    snprintf(s.db, sizeof s.db, "%s/ledger.db", s.dir);
    loyalty_open_options options = {.db_path = s.db, .actor = "soak-admin"};
    loyalty_ledger *l = NULL;
    if (loyalty_create(&l, &options, NULL) != LOYALTY_OK)
        die("create: %s", loyalty_errmsg(l));
    for (int i = 1; i <= s.writers; i++) {
        char name[32];
        snprintf(name, sizeof name, "writer-%d", i);
        if (loyalty_operator_add(l, name, LOYALTY_ROLE_ADMIN, NULL) != LOYALTY_OK)
            die("operator: %s", loyalty_errmsg(l));
    }
    for (int i = 1; i <= s.readers; i++) {
        char name[32];
        snprintf(name, sizeof name, "reader-%d", i);
        if (loyalty_operator_add(l, name, LOYALTY_ROLE_AUDITOR, NULL) != LOYALTY_OK)
            die("operator: %s", loyalty_errmsg(l));
    }
    for (int i = 0; i < MEMBERS; i++) {
        char member[16], ref[32];
        member_of(member, i);
        snprintf(ref, sizeof ref, "seed-%d", i);
        loyalty_award_request q = {member, ref, 0, 500, NULL};
        loyalty_posting p;
        if (loyalty_member_add(l, member, NULL, NULL) != LOYALTY_OK ||
            loyalty_award(l, &q, &p) != LOYALTY_OK)
            die("seed: %s", loyalty_errmsg(l));
    }
    loyalty_close(l);
}

static pid_t spawn(int writer, int index)
{
    char results[700], figures[700];
    snprintf(results, sizeof results, "%s/%s-%d.results", s.dir, writer ? "writer" : "reader", index);
    snprintf(figures, sizeof figures, "%s/%s-%d.figures", s.dir, writer ? "writer" : "reader", index);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid > 0)
        return pid;
    memset(&me, 0, sizeof me);
    if (writer)
        writer_main(index, results);
    else
        reader_main(index);
    FILE *f = fopen(figures, "wb");
    if (f == NULL || fwrite(&me, sizeof me, 1, f) != 1 || fclose(f) != 0)
        _exit(3);
    _exit(0);
}

static void collect(int writer, int index, child_figures *total, int *failed)
{
    char figures[700];
    snprintf(figures, sizeof figures, "%s/%s-%d.figures", s.dir, writer ? "writer" : "reader", index);
    child_figures c;
    FILE *f = fopen(figures, "rb");
    if (f == NULL || fread(&c, sizeof c, 1, f) != 1)
        die("no figures from %s %d", writer ? "writer" : "reader", index);
    fclose(f);
    if (c.busy || c.errors || c.violations) {
        fprintf(stderr, "concurrency: %s %d: %lld busy, %lld errors, %lld violations; first: %s\n",
                writer ? "writer" : "reader", index, (long long)c.busy, (long long)c.errors,
                (long long)c.violations, c.first_problem);
        *failed = 1;
    }
    total->calls += c.calls;
    total->applied += c.applied;
    total->replayed += c.replayed;
    total->refused += c.refused;
    total->busy += c.busy;
    total->errors += c.errors;
    total->checks += c.checks;
    total->violations += c.violations;
    total->verifies += c.verifies;
}

static sqlite3 *results_db;

static int64_t query(const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(results_db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        die("%s: %s", sql, sqlite3_errmsg(results_db));
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void load_results(void)
{
    if (sqlite3_open_v2(s.db, &results_db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        die("open: %s", sqlite3_errmsg(results_db));
    if (sqlite3_exec(results_db,
                     "ATTACH ':memory:' AS r;"
                     "CREATE TABLE r.outcome (writer INTEGER, kind TEXT, ref TEXT, rc INTEGER,"
                     " replayed INTEGER, tx INTEGER, points INTEGER);",
                     NULL, NULL, NULL) != SQLITE_OK)
        die("results: %s", sqlite3_errmsg(results_db));
    sqlite3_stmt *st = NULL;
    sqlite3_exec(results_db, "BEGIN", NULL, NULL, NULL);
    if (sqlite3_prepare_v2(results_db, "INSERT INTO r.outcome VALUES (?, ?, ?, ?, ?, ?, ?)", -1,
                           &st, NULL) != SQLITE_OK)
        die("results: %s", sqlite3_errmsg(results_db));
    for (int w = 1; w <= s.writers; w++) {
        char path[700], line[256];
        snprintf(path, sizeof path, "%s/writer-%d.results", s.dir, w);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            die("no results from writer %d", w);
        while (fgets(line, sizeof line, f)) {
            char kind[16], ref[LOYALTY_ID_MAX + 1];
            int rc, replayed;
            long long tx, points;
            if (sscanf(line, "%15s %64s %d %d %lld %lld", kind, ref, &rc, &replayed, &tx, &points) != 6)
                die("bad result line: %s", line);
            sqlite3_bind_int(st, 1, w);
            sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 3, ref, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(st, 4, rc);
            sqlite3_bind_int(st, 5, replayed);
            sqlite3_bind_int64(st, 6, tx);
            sqlite3_bind_int64(st, 7, points);
            if (sqlite3_step(st) != SQLITE_DONE)
                die("results: %s", sqlite3_errmsg(results_db));
            sqlite3_reset(st);
        }
        fclose(f);
    }
    sqlite3_finalize(st);
    sqlite3_exec(results_db, "COMMIT", NULL, NULL, NULL);
}

static void expect_zero(const char *what, const char *sql, int *failed)
{
    int64_t n = query(sql);
    if (n != 0) {
        fprintf(stderr, "concurrency: %s (%lld)\n", what, (long long)n);
        *failed = 1;
    }
}

static void final_checks(int *failed, int64_t *contested)
{
    load_results();
    /* Every posting that answered OK is in the journal exactly once, with its points. */
    expect_zero("a posting answered OK but is not in the journal with those points",
                "SELECT COUNT(*) FROM r.outcome o WHERE o.rc = 0 AND o.kind NOT IN ('hold', 'release')"
                " AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.kind = o.kind AND j.ref = o.ref"
                " AND j.points = o.points AND j.tx = o.tx)", failed);
    expect_zero("a hold answered OK but is not in the holds table",
                "SELECT COUNT(*) FROM r.outcome o WHERE o.rc = 0 AND o.kind = 'hold'"
                " AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.ref = o.ref AND h.points = o.points)",
                failed);
    expect_zero("a refused operation is in the journal",
                "SELECT COUNT(*) FROM r.outcome o WHERE o.rc != 0 AND EXISTS"
                " (SELECT 1 FROM journal j WHERE j.kind = o.kind AND j.ref = o.ref)", failed);
    /* Each reference applied by exactly one call; every other OK answer was a replay. */
    expect_zero("a reference applied by more or fewer than one call",
                "SELECT COUNT(*) FROM (SELECT kind, ref FROM r.outcome WHERE rc = 0"
                " GROUP BY kind, ref HAVING SUM(replayed = 0) != 1)", failed);
    expect_zero("a shared reference answered with different transactions",
                "SELECT COUNT(*) FROM (SELECT kind, ref FROM r.outcome WHERE rc = 0 AND tx != 0"
                " GROUP BY kind, ref HAVING COUNT(DISTINCT tx) != 1)", failed);
    expect_zero("a journal row nobody was told about",
                "SELECT COUNT(*) FROM journal j WHERE j.ref NOT LIKE 'seed-%' AND NOT EXISTS"
                " (SELECT 1 FROM r.outcome o WHERE o.kind = j.kind AND o.ref = j.ref AND o.rc = 0)",
                failed);
    expect_zero("a balance that is not its journal's sum",
                "SELECT COUNT(*) FROM members m WHERE m.balance !="
                " (SELECT COALESCE(SUM(points), 0) FROM journal j WHERE j.member_id = m.id)", failed);
    *contested = query("SELECT COUNT(*) FROM (SELECT ref FROM r.outcome WHERE ref LIKE 'dup-%'"
                       " GROUP BY ref HAVING COUNT(*) > 1)");
    sqlite3_close(results_db);

    loyalty_ledger *l = NULL;
    open_as(&l, "soak-admin");
    loyalty_stats st;
    int rc = loyalty_stats_get(l, &st);
    if (rc != LOYALTY_OK || st.outstanding != st.issued - st.redeemed - st.expired - st.clawed_back -
                                                  st.forfeited + st.adjusted + st.reversed) {
        fprintf(stderr, "concurrency: the final statistics do not add up (%s)\n", loyalty_errmsg(l));
        *failed = 1;
    }
    loyalty_verify_report report;
    rc = loyalty_verify(l, NULL, NULL, &report);
    if (rc != LOYALTY_OK || !report.ok) {
        fprintf(stderr, "concurrency: verify at the end: %s\n", report.reason);
        *failed = 1;
    }
    printf("concurrency: outstanding %lld = issued %lld - redeemed %lld - expired %lld"
           " - clawed back %lld - forfeited %lld + adjusted %lld + reversed %lld;"
           " %lld audit entries verified\n",
           (long long)st.outstanding, (long long)st.issued, (long long)st.redeemed,
           (long long)st.expired, (long long)st.clawed_back, (long long)st.forfeited,
           (long long)st.adjusted, (long long)st.reversed, (long long)report.entries);
    loyalty_close(l);
}

int main(int argc, char **argv)
{
    s.writers = 8;
    s.readers = 8;
    s.seconds = 10;
    s.seed = (uint64_t)time(NULL);
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            s.seconds = strtoll(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--writers") == 0 && i + 1 < argc)
            s.writers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--readers") == 0 && i + 1 < argc)
            s.readers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            s.seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
            s.report = fopen(argv[++i], "a");
        else if (strcmp(argv[i], "--keep") == 0)
            s.keep = 1;
        else
            die("usage: concurrency --seconds N [--writers W] [--readers R] [--seed S] [--dir DIR]"
                " [--report FILE] [--keep]");
    }
    if (s.seconds < 1 || s.writers < 1 || s.readers < 1 || s.writers + s.readers > PROCESSES_MAX)
        die("--seconds, --writers and --readers must be positive (at most %d processes)",
            PROCESSES_MAX);
    const char *tmp = getenv("TMPDIR");
    snprintf(s.dir, sizeof s.dir, "%s/loyalty-soak-XXXXXX", dir ? dir : tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(s.dir) == NULL)
        die("mkdtemp: %s", strerror(errno));
    setup();
    int64_t start = monotonic_us();
    s.deadline_us = start + s.seconds * 1000000;
    pid_t pids[PROCESSES_MAX];
    int count = 0;
    for (int i = 1; i <= s.writers; i++)
        pids[count++] = spawn(1, i);
    for (int i = 1; i <= s.readers; i++)
        pids[count++] = spawn(0, i);
    int failed = 0;
    for (int i = 0; i < count; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "concurrency: process %d ended with status %d\n", i, status);
            failed = 1;
        }
    }
    int64_t elapsed = monotonic_us() - start;
    child_figures writes, reads;
    memset(&writes, 0, sizeof writes);
    memset(&reads, 0, sizeof reads);
    for (int i = 1; i <= s.writers; i++)
        collect(1, i, &writes, &failed);
    for (int i = 1; i <= s.readers; i++)
        collect(0, i, &reads, &failed);
    int64_t contested = 0;
    final_checks(&failed, &contested);
    printf("concurrency: %d writers and %d readers for %.1f s; %lld writes (%lld applied, %lld"
           " replayed, %lld refused for want of points), %lld shared references contested;"
           " %lld reader checks, %lld live verifies; busy %lld, errors %lld, violations %lld%s\n",
           s.writers, s.readers, elapsed / 1e6, (long long)writes.calls, (long long)writes.applied,
           (long long)writes.replayed, (long long)writes.refused, (long long)contested,
           (long long)reads.checks, (long long)reads.verifies, (long long)(writes.busy + reads.busy),
           (long long)(writes.errors + reads.errors), (long long)reads.violations,
           failed ? " -- FAILED" : "");
    if (s.report)
        fprintf(s.report,
                "{\"suite\":\"concurrency\",\"writers\":%d,\"readers\":%d,\"seconds\":%.1f,"
                "\"writes\":%lld,\"applied\":%lld,\"replayed\":%lld,\"refused\":%lld,"
                "\"contested\":%lld,\"reader_checks\":%lld,\"live_verifies\":%lld,\"busy\":%lld,"
                "\"errors\":%lld,\"violations\":%lld,\"passed\":%s}\n",
                s.writers, s.readers, elapsed / 1e6, (long long)writes.calls,
                (long long)writes.applied, (long long)writes.replayed, (long long)writes.refused,
                (long long)contested, (long long)reads.checks, (long long)reads.verifies,
                (long long)(writes.busy + reads.busy), (long long)(writes.errors + reads.errors),
                (long long)reads.violations, failed ? "false" : "true");
    if (!s.keep && !failed) {
        char command[700];
        snprintf(command, sizeof command, "rm -rf '%s'", s.dir);
        if (system(command) != 0)
            fprintf(stderr, "concurrency: could not remove %s\n", s.dir);
    } else if (failed) {
        fprintf(stderr, "concurrency: the ledger is kept in %s\n", s.dir);
    }
    return failed ? 1 : 0;
}
