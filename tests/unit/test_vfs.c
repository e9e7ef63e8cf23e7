/*
 * test_vfs.c - the ledger's VFS, which gathers WAL writes into large ones:
 * a transaction too big for the page cache reads back the frames it has
 * only buffered, a rolled-back transaction leaves nothing and the next one
 * writes over its frames, what one connection commits another connection
 * on the plain unix VFS reads whole, and a batch reaches the disk in far
 * fewer, larger writes than SQLite's two per frame.
 */
#include "internal.h" /* first: cmocka.h defines a macro named fail */
#include "support.h"

#define ROWS 3000
#define ROW_BYTES 300

/* A raw connection on the ledger's VFS in WAL mode, with a page cache of a
 * few pages so that a large transaction spills frames into the WAL before
 * it commits (and reads them back). */
static sqlite3 *open_coalescing(const fixture *fx)
{
    char path[PATH_BYTES];
    path_in(fx, path, "raw.db");
    assert_non_null(vfs_name());
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs_name()),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL;"
                                  " PRAGMA synchronous = FULL; PRAGMA cache_size = 8;"
                                  " CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

/* A second connection on SQLite's own unix VFS, read-only. */
static sqlite3 *open_plain(const fixture *fx)
{
    char path[PATH_BYTES];
    path_in(fx, path, "raw.db");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, "unix"), SQLITE_OK);
    return db;
}

static int64_t query_integer(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t value = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return value;
}

static void assert_integrity(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

static void exec(sqlite3 *db, const char *sql)
{
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* ROWS rows of ROW_BYTES digits each, then every row rewritten with factor:
 * many more pages than the cache holds, most of them written twice. */
static void fill(sqlite3 *db, int factor)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
             " INSERT INTO t (id, v) SELECT i, printf('%%0%dd', i) FROM n",
             ROWS, ROW_BYTES);
    exec(db, sql);
    snprintf(sql, sizeof sql, "UPDATE t SET v = printf('%%0%dd', id * %d)", ROW_BYTES, factor);
    exec(db, sql);
}

/* What the table must hold after fill(factor): the sum of each row's number. */
static int64_t expected_sum(int factor)
{
    return (int64_t)factor * ROWS * (ROWS + 1) / 2;
}

static const char sum_sql[] = "SELECT sum(CAST(v AS INTEGER)) FROM t";

static void test_spilled_transaction_reads_its_buffered_frames(void **state)
{
    fixture *fx = *state;
    sqlite3 *db = open_coalescing(fx);
    exec(db, "BEGIN");
    fill(db, 7);
    /* Read inside the transaction: most of these pages were spilled to the
     * WAL, some still sit in the VFS's buffer. */
    assert_int_equal(query_integer(db, sum_sql), expected_sum(7));
    assert_int_equal(query_integer(db, "SELECT count(*) FROM t"), ROWS);
    exec(db, "COMMIT");

    sqlite3 *reader = open_plain(fx);
    assert_int_equal(query_integer(reader, sum_sql), expected_sum(7));
    assert_integrity(reader);
    sqlite3_close(reader);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_rollback_leaves_nothing_and_the_next_commit_is_whole(void **state)
{
    fixture *fx = *state;
    sqlite3 *db = open_coalescing(fx);
    exec(db, "BEGIN");
    fill(db, 3);
    exec(db, "ROLLBACK");
    sqlite3 *reader = open_plain(fx);
    assert_int_equal(query_integer(reader, "SELECT count(*) FROM t"), 0);

    /* The next transaction writes its frames where the rolled-back ones were. */
    exec(db, "BEGIN");
    fill(db, 5);
    exec(db, "COMMIT");
    assert_int_equal(query_integer(reader, sum_sql), expected_sum(5));
    assert_integrity(reader);

    /* After a checkpoint that resets the WAL, writing starts over at its head. */
    assert_int_equal(sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL),
                     SQLITE_OK);
    exec(db, "UPDATE t SET v = printf('%0300d', id * 11)");
    assert_int_equal(query_integer(reader, sum_sql), expected_sum(11));
    assert_integrity(reader);
    sqlite3_close(reader);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* A batch of awards through the library: its WAL writes arrive at the
 * wrapped VFS in calls of many frames each, and the ledger verifies. */
static void test_a_batch_reaches_the_wal_in_few_large_writes(void **state)
{
    fixture *fx = *state;
    enum { AWARDS = 400 };
    static loyalty_operation ops[AWARDS];
    static loyalty_operation_result results[AWARDS];
    static char members[AWARDS][24], refs[AWARDS][24];
    for (int i = 0; i < AWARDS; i++) {
        snprintf(members[i], sizeof members[i], "m%03d", i);
        ops[i] = (loyalty_operation){.kind = LOYALTY_OP_MEMBER_ADD, .member = members[i]};
    }
    assert_int_equal(loyalty_apply_batch(fx->ledger, ops, AWARDS, results), LOYALTY_OK);
    for (int i = 0; i < AWARDS; i++) {
        snprintf(refs[i], sizeof refs[i], "o-%d", i);
        ops[i] = (loyalty_operation){
            .kind = LOYALTY_OP_AWARD, .member = members[i], .ref = refs[i], .points = 5};
    }
    int64_t calls_before, bytes_before, calls_after, bytes_after;
    vfs_wal_writes(&calls_before, &bytes_before);
    assert_int_equal(loyalty_apply_batch(fx->ledger, ops, AWARDS, results), LOYALTY_OK);
    vfs_wal_writes(&calls_after, &bytes_after);
    for (int i = 0; i < AWARDS; i++)
        assert_int_equal(results[i].rc, LOYALTY_OK);

    int64_t calls = calls_after - calls_before, bytes = bytes_after - bytes_before;
    int64_t page = sql_integer(fx, "PRAGMA page_size");
    int64_t frames = bytes / (page + 24);
    assert_true(frames >= 100); /* the batch wrote hundreds of pages... */
    assert_true(calls > 0);
    assert_true(calls * 16 <= frames); /* ...at least 16 frames per write, not two writes per frame */

    reopen(fx);
    loyalty_verify_report report;
    assert_int_equal(loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_OK);
    assert_int_equal(member_get(fx, "m007").balance, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spilled_transaction_reads_its_buffered_frames, setup_empty,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing_and_the_next_commit_is_whole,
                                        setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_a_batch_reaches_the_wal_in_few_large_writes, setup_ledger,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
