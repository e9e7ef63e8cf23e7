/*
 * test_lot_figures.c - the lots figures each member row keeps for balance
 * look-ups (schema 0007): a look-up reads them only while they hold, so the
 * figures a member shows are the same whether they come from the row or from
 * the lots, at every clock (pending lots becoming spendable, lots expiring,
 * holds lapsing, a clock earlier than the last change); ledgers from before
 * 0007 get exactly the figures the writes would have left (verify replays
 * and compares them); and an edited figure is caught by verify.
 */
#include "support.h"
#include "lifecycle_support.h"

#define PROGRAM                                                                                    \
    "{\"currency\":\"EUR\",\"minor_per_unit\":100,\"points_per_unit\":1,\"pending_days\":2,"   \
    "\"expiry_days\":30}"

/* The member's figures through the API, then the kept ones in the row. */
static void expect_figures(fixture *fx, const char *member, int64_t available, int64_t pending,
                           int64_t held, int64_t expired, int64_t next_points, int64_t next_us)
{
    loyalty_member_info info = member_get(fx, member);
    assert_int_equal(info.available, available);
    assert_int_equal(info.pending, pending);
    assert_int_equal(info.held, held);
    assert_int_equal(info.expired, expired);
    assert_int_equal(info.next_expiry_points, next_points);
    assert_int_equal(info.next_expiry_us, next_us);
}

static int64_t kept(fixture *fx, const char *column, const char *member)
{
    return sqlf(fx, "SELECT %s FROM members WHERE external_id = '%s'", column, member);
}

/* m1 at T0: a purchase of 100 points (pending two days) and a bonus of 50
 * (spendable at once), both expiring after 30 days. */
static void two_lots(fixture *fx)
{
    load_program(fx, PROGRAM);
    add_member(fx, "m1");
    purchase(fx, "m1", "order-1", 10000, 100);
    loyalty_posting p;
    expect_rc(fx, award(fx, "m1", "bonus-1", 0, 50, &p), LOYALTY_OK, "bonus");
}

static void test_figures_follow_the_clock(void **state)
{
    fixture *fx = *state;
    two_lots(fx);
    const int64_t expiry = T0_US + 30 * DAY_US;
    /* Kept at T0 (the bonus added to the purchase's figures without reading the
     * lots), holding until the purchase becomes spendable. */
    assert_int_equal(kept(fx, "lots_at_us", "m1"), T0_US);
    assert_int_equal(kept(fx, "lots_until_us", "m1"), T0_US + 2 * DAY_US);
    assert_int_equal(kept(fx, "lots_available", "m1"), 50);
    assert_int_equal(kept(fx, "lots_pending", "m1"), 100);
    expect_figures(fx, "m1", 50, 100, 0, 0, 150, expiry);

    clock_at(fx, DAY_US); /* still inside the range: the kept figures */
    expect_figures(fx, "m1", 50, 100, 0, 0, 150, expiry);
    clock_at(fx, 2 * DAY_US); /* the purchase is spendable: past the range, the lots are read */
    expect_figures(fx, "m1", 150, 0, 0, 0, 150, expiry);
    clock_at(fx, -DAY_US); /* a clock before the last change: the lots are read */
    expect_figures(fx, "m1", 0, 150, 0, 0, 150, expiry);

    /* A change at day 3 keeps new figures until the expiry. */
    clock_at(fx, 3 * DAY_US);
    loyalty_posting p;
    expect_rc(fx, award(fx, "m1", "bonus-2", 0, 1, &p), LOYALTY_OK, "bonus at day 3");
    assert_int_equal(kept(fx, "lots_at_us", "m1"), T0_US + 3 * DAY_US);
    assert_int_equal(kept(fx, "lots_until_us", "m1"), expiry);
    expect_figures(fx, "m1", 151, 0, 0, 0, 150, expiry);

    /* A hold is not kept on the row: it counts while open and lapses on time. */
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "m1", "cart-1", 20, &h), LOYALTY_OK, "hold");
    expect_figures(fx, "m1", 131, 0, 20, 0, 150, expiry);
    clock_at(fx, 3 * DAY_US + 899 * SECOND_US); /* 900 s to live: still open */
    expect_figures(fx, "m1", 131, 0, 20, 0, 150, expiry);
    clock_at(fx, 3 * DAY_US + 900 * SECOND_US); /* at its expiry it counts no more */
    expect_figures(fx, "m1", 151, 0, 0, 0, 150, expiry);
    clock_at(fx, 3 * DAY_US + 901 * SECOND_US);
    expect_figures(fx, "m1", 151, 0, 0, 0, 150, expiry);

    /* A redemption reads the lots and keeps their new figures. */
    expect_rc(fx, redeem(fx, "m1", "pay-1", 30, &p), LOYALTY_OK, "redeem");
    assert_int_equal(kept(fx, "lots_available", "m1"), 121);
    expect_figures(fx, "m1", 121, 0, 0, 0, 120, expiry);
    clock_at(fx, 10 * DAY_US);
    expect_figures(fx, "m1", 121, 0, 0, 0, 120, expiry);

    /* At the expiry: the range ends, the expired points show. */
    clock_at(fx, 30 * DAY_US);
    expect_figures(fx, "m1", 1, 0, 0, 120, 1, T0_US + 33 * DAY_US);
    check_ledger(fx);
}

/* A ledger at schema 6 gets, for every member, the figures its writes would
 * have left: verify's replay rebuilds them and finds them equal. */
static void test_schema_6_ledger_gets_the_same_figures(void **state)
{
    fixture *fx = *state;
    two_lots(fx);
    add_member(fx, "m2"); /* never moved points: zeros kept since its creation */
    add_member(fx, "m3");
    loyalty_posting p;
    clock_at(fx, 3 * DAY_US);
    purchase(fx, "m3", "order-3", 2500, 25);
    expect_rc(fx, redeem(fx, "m1", "pay-1", 120, &p), LOYALTY_OK, "redeem");
    clock_at(fx, 31 * DAY_US);
    loyalty_expire_result swept;
    expect_rc(fx, loyalty_expire(fx->ledger, &swept, NULL, NULL), LOYALTY_OK, "sweep");
    assert_int_equal(swept.expired_points, 30);
    static const char *const columns[] = {"lots_at_us",     "lots_until_us",       "lots_available",
                                          "lots_pending",   "lots_expired",        "lots_next_expiry_us",
                                          "lots_next_expiry_points"};
    static const char *const members[] = {"m1", "m2", "m3"};
    int64_t before[3][7];
    for (int m = 0; m < 3; m++)
        for (int c = 0; c < 7; c++)
            before[m][c] = kept(fx, columns[c], members[m]);
    assert_int_equal(before[1][0], T0_US);     /* m2: zeros from its creation, */
    assert_int_equal(before[1][1], INT64_MAX); /* holding for ever */
    assert_int_equal(before[2][1], T0_US + 5 * DAY_US); /* m3: until its purchase is spendable */

    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    char sql[1024] = "";
    for (int c = 0; c < 7; c++) {
        size_t n = strlen(sql);
        snprintf(sql + n, sizeof sql - n, "ALTER TABLE members DROP COLUMN %s; ", columns[c]);
    }
    strncat(sql, "PRAGMA user_version = 6;", sizeof sql - strlen(sql) - 1);
    sql_exec(fx, sql);
    clock_at(fx, 31 * DAY_US); /* opens, and so migrates */
    for (int m = 0; m < 3; m++)
        for (int c = 0; c < 7; c++)
            assert_int_equal(kept(fx, columns[c], members[m]), before[m][c]);
    check_ledger(fx);
}

/* A ledger at schema 7 kept no figures for members whose lots never
 * changed; 0008 gives them what adding them gives now, and the replay agrees.
 * Their first credit then starts from the kept zeros. */
static void test_schema_7_ledger_gets_figures_for_untouched_members(void **state)
{
    fixture *fx = *state;
    load_program(fx, PROGRAM);
    add_member(fx, "m1");
    clock_at(fx, DAY_US);
    add_member(fx, "m2");
    purchase(fx, "m2", "order-2", 1000, 10);
    assert_int_equal(kept(fx, "lots_at_us", "m1"), T0_US);
    assert_int_equal(kept(fx, "lots_until_us", "m1"), INT64_MAX);
    int64_t m2_until = kept(fx, "lots_until_us", "m2");

    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    sql_exec(fx, "UPDATE members SET lots_at_us = 0, lots_until_us = 0 WHERE external_id = 'm1';"
                 " PRAGMA user_version = 7;");
    clock_at(fx, 2 * DAY_US); /* opens, and so migrates */
    assert_int_equal(kept(fx, "lots_at_us", "m1"), T0_US);
    assert_int_equal(kept(fx, "lots_until_us", "m1"), INT64_MAX);
    assert_int_equal(kept(fx, "lots_until_us", "m2"), m2_until); /* figures kept: untouched */
    check_ledger(fx);

    purchase(fx, "m1", "order-1", 2000, 20);
    assert_int_equal(kept(fx, "lots_at_us", "m1"), T0_US + 2 * DAY_US);
    assert_int_equal(kept(fx, "lots_pending", "m1"), 20);
    expect_figures(fx, "m1", 0, 20, 0, 0, 20, T0_US + 32 * DAY_US);
    check_ledger(fx);
}

static void test_edited_figures_are_caught(void **state)
{
    fixture *fx = *state;
    two_lots(fx);
    sql_exec(fx, "UPDATE members SET lots_available = lots_available + 5 WHERE external_id = 'm1'");
    loyalty_verify_report report;
    expect_rc(fx, loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_ERR_VERIFY, "verify");
    assert_non_null(strstr(report.reason, "lots_available"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_figures_follow_the_clock, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_schema_6_ledger_gets_the_same_figures, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_schema_7_ledger_gets_figures_for_untouched_members,
                                        setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_edited_figures_are_caught, setup_ledger, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
