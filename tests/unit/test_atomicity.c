/*
 * test_atomicity.c - an operation that fails part-way leaves nothing: not
 * the change, not its audit entry. Failures are injected with SQLite
 * triggers that abort one of the statements an operation runs (the lot, the
 * balance update, the audit append), after earlier statements succeeded.
 */
#include "support.h"

static void inject_failure_on(fixture *fx, const char *event)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "CREATE TRIGGER injected_failure BEFORE %s BEGIN SELECT RAISE(ABORT, 'injected'); END",
             event);
    sql_exec(fx, sql);
}

static void assert_verifies(fixture *fx)
{
    loyalty_verify_report report;
    assert_int_equal(loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_OK);
    assert_int_equal(report.ok, 1);
}

/* Each event is hit after the journal row was written. */
static void award_fails_cleanly_at(void **state, const char *event)
{
    fixture *fx = *state;
    add_member(fx, "M1");
    award_points(fx, "M1", "first", 10);
    inject_failure_on(fx, event);
    snapshot before;
    snapshot_take(fx, "M1", &before);
    loyalty_award_request request = {.member = "M1", .ref = "second", .amount_minor = 5000};
    loyalty_posting posting;
    assert_int_equal(loyalty_award(fx->ledger, &request, &posting), LOYALTY_ERR_STORAGE);
    assert_unchanged(fx, "M1", &before);
    sql_exec(fx, "DROP TRIGGER injected_failure");
    assert_int_equal(loyalty_award(fx->ledger, &request, &posting), LOYALTY_OK);
    assert_int_equal(posting.replayed, 0);
    assert_int_equal(posting.balance, 60);
    assert_verifies(fx);
}

static void test_failure_creating_lot(void **state)
{
    award_fails_cleanly_at(state, "INSERT ON lots");
}

static void test_failure_updating_balance(void **state)
{
    award_fails_cleanly_at(state, "UPDATE ON members");
}

static void test_failure_appending_audit_entry(void **state)
{
    award_fails_cleanly_at(state, "INSERT ON audit");
}

static void test_failed_redeem_consumes_no_lot(void **state)
{
    fixture *fx = *state;
    add_member(fx, "M1");
    award_points(fx, "M1", "a1", 30);
    award_points(fx, "M1", "a2", 30);
    inject_failure_on(fx, "INSERT ON audit");
    snapshot before;
    snapshot_take(fx, "M1", &before);
    loyalty_redeem_request request = {.member = "M1", .ref = "r1", .points = 45};
    loyalty_posting posting;
    assert_int_equal(loyalty_redeem(fx->ledger, &request, &posting), LOYALTY_ERR_STORAGE);
    assert_unchanged(fx, "M1", &before);
    assert_int_equal(sql_integer(fx, "SELECT SUM(remaining) FROM lots"), 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failure_creating_lot, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_failure_updating_balance, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_failure_appending_audit_entry, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_failed_redeem_consumes_no_lot, setup_ledger, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
