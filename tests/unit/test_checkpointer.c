/*
 * test_checkpointer.c - WAL checkpoints off the writer's path: past the
 * threshold a background thread copies the WAL into the database while
 * batches go on; without the thread the writer checkpoints inline; either
 * way every acknowledged operation is there, the ledger verifies, and
 * closing the last handle leaves no WAL behind.
 */
#include "internal.h" /* first: cmocka.h defines a macro named fail */
#include "support.h"

#include <time.h>

#define MEMBERS 40
#define BATCHES 6
#define PER_BATCH 150

/* Adds MEMBERS members, then BATCHES batches of PER_BATCH awards of 1 point each. */
static void write_batches(fixture *fx)
{
    static loyalty_operation ops[PER_BATCH];
    static loyalty_operation_result results[PER_BATCH];
    static char members[PER_BATCH][24], refs[PER_BATCH][24];
    for (int i = 0; i < MEMBERS; i++) {
        snprintf(members[i], sizeof members[i], "m%02d", i);
        ops[i] = (loyalty_operation){.kind = LOYALTY_OP_MEMBER_ADD, .member = members[i]};
    }
    assert_int_equal(loyalty_apply_batch(fx->ledger, ops, MEMBERS, results), LOYALTY_OK);
    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < PER_BATCH; i++) {
            snprintf(members[i], sizeof members[i], "m%02d", i % MEMBERS);
            snprintf(refs[i], sizeof refs[i], "o-%d-%d", b, i);
            ops[i] = (loyalty_operation){.kind = LOYALTY_OP_AWARD,
                                         .member = members[i],
                                         .ref = refs[i],
                                         .points = 1};
        }
        assert_int_equal(loyalty_apply_batch(fx->ledger, ops, PER_BATCH, results), LOYALTY_OK);
        for (int i = 0; i < PER_BATCH; i++)
            assert_int_equal(results[i].rc, LOYALTY_OK);
    }
}

static void assert_all_there(fixture *fx)
{
    int64_t total = 0;
    for (int i = 0; i < MEMBERS; i++) {
        char member[24];
        snprintf(member, sizeof member, "m%02d", i);
        total += member_get(fx, member).balance;
    }
    assert_int_equal(total, BATCHES * PER_BATCH);
    loyalty_verify_report report;
    assert_int_equal(loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_OK);
    assert_int_equal(report.ok, 1);
}

/* The database file's size: it grows only when a checkpoint copies pages into it. */
static int64_t db_file_size(const fixture *fx)
{
    struct stat st;
    assert_int_equal(stat(fx->db_path, &st), 0);
    return (int64_t)st.st_size;
}

static void test_background_thread_checkpoints(void **state)
{
    fixture *fx = *state;
    int64_t created = db_file_size(fx);
    fx->ledger->checkpoint_pages = 20;
    write_batches(fx);
    assert_non_null(fx->ledger->checkpointer);
    /* The thread runs on its own time: give it up to 10 s for its first checkpoint. */
    for (int i = 0; i < 1000 && checkpointer_runs(fx->ledger) == 0; i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    assert_true(checkpointer_runs(fx->ledger) > 0);
    assert_true(db_file_size(fx) > created);
    assert_all_there(fx);
    loyalty_close(fx->ledger); /* stops the thread, then the last connection removes the WAL */
    fx->ledger = NULL;
    char wal[PATH_BYTES + 8];
    snprintf(wal, sizeof wal, "%s-wal", fx->db_path);
    assert_false(path_exists(wal));
    reopen(fx);
    assert_all_there(fx);
}

static void test_writer_checkpoints_without_the_thread(void **state)
{
    fixture *fx = *state;
    fx->ledger->checkpoint_pages = 20;
    fx->ledger->checkpointer_failed = 1; /* as when the thread cannot be started */
    int64_t created = db_file_size(fx);
    write_batches(fx);
    assert_null(fx->ledger->checkpointer);
    assert_true(db_file_size(fx) > created); /* the writer's own checkpoints */
    assert_all_there(fx);
}

static void test_below_the_threshold_nothing_starts(void **state)
{
    fixture *fx = *state;
    int64_t created = db_file_size(fx);
    write_batches(fx); /* far fewer than LIMIT_CHECKPOINT_PAGES pages */
    assert_null(fx->ledger->checkpointer);
    assert_int_equal(db_file_size(fx), created); /* everything is still in the WAL */
    assert_all_there(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_background_thread_checkpoints, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_writer_checkpoints_without_the_thread, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_below_the_threshold_nothing_starts, setup_ledger,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
