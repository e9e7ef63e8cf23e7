/*
 * test_refunds.c - refunds claw back what a purchase award earned, in
 * proportion to the refunded amount with cumulative rounding, capped at the
 * order's amount; from the order's own lot first (pending or not), then
 * other lots first-expiring-first; spent points become a debt that later
 * credits repay. Unknown orders, other members' orders, bonus awards,
 * reversed orders and replays are covered; refusals change nothing.
 */
#include "support.h"
#include "lifecycle_support.h"

/* Three refunds of one order of 10000 (100 points): 3333, 3333, 3334 take back 33, 33, 34. */
static void test_refunds_in_parts_sum_to_award(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    int64_t order = purchase(fx, "m1", "o1", 10000, 100);
    award_points(fx, "m1", "b1", 10);
    loyalty_posting p;
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 3333, &p), LOYALTY_OK, "refund 1");
    assert_int_equal(p.points, -33);
    assert_int_equal(p.balance, 77);
    assert_int_equal(p.available, 77);
    assert_int_equal(p.replayed, 0);
    assert_string_equal(p.member, "m1");
    assert_int_equal(sqlf(fx, "SELECT order_tx FROM journal WHERE tx = %lld", (long long)p.tx),
                     order);
    assert_int_equal(
        sqlf(fx, "SELECT amount_minor FROM journal WHERE tx = %lld", (long long)p.tx), 3333);
    assert_int_equal(lot_remaining(fx, order), 67);
    expect_rc(fx, refund(fx, "m1", "rf2", "o1", 3333, &p), LOYALTY_OK, "refund 2");
    assert_int_equal(p.points, -33);
    assert_int_equal(p.balance, 44);
    expect_rc(fx, refund(fx, "m1", "rf3", "o1", 3334, &p), LOYALTY_OK, "refund 3");
    assert_int_equal(p.points, -34);
    assert_int_equal(p.balance, 10);
    assert_int_equal(p.available, 10);
    assert_int_equal(lot_remaining(fx, order), 0);
    assert_member(fx, "m1", 10, 10, 0, 0, 0, 0);
    assert_int_equal(sql_integer(fx, "SELECT -SUM(points) FROM journal WHERE kind = 'refund'"),
                     100);

    /* Nothing is left of the order. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, refund(fx, "m1", "rf4", "o1", 1, &p), LOYALTY_ERR_STATE, "refund beyond");
    assert_errmsg_mentions(fx->ledger, "exceeds");
    assert_unchanged(fx, "m1", &before);
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.clawed_back, 100);
    assert_int_equal(stats.issued, 110);
    assert_int_equal(stats.outstanding, 10);
    check_ledger(fx);
}

/* Rounding is cumulative: each part takes floor(P * refunded so far / A) less what was taken. */
static void test_refund_rounding_is_cumulative(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    purchase(fx, "m1", "o1", 1000, 10); /* 10 points for 10.00 */
    loyalty_posting p;
    /* Refunded so far 50, 150, 300, 450: floor 0, 1, 3, 4. */
    const int64_t amounts[] = {50, 100, 150, 150};
    const int64_t expected[] = {0, -1, -2, -1};
    char ref[16];
    for (int k = 0; k < 4; k++) {
        snprintf(ref, sizeof ref, "rf%d", k);
        expect_rc(fx, refund(fx, "m1", ref, "o1", amounts[k], &p), LOYALTY_OK, ref);
        assert_int_equal(p.points, expected[k]);
        assert_int_equal(p.replayed, 0);
    }
    assert_int_equal(p.balance, 6);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal WHERE kind = 'refund'"), 4);
    /* More than the 550 left: refused. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, refund(fx, "m1", "big", "o1", 551, &p), LOYALTY_ERR_STATE, "551 of 550");
    assert_unchanged(fx, "m1", &before);
    expect_rc(fx, refund(fx, "m1", "big", "o1", 550, &p), LOYALTY_OK, "the rest");
    assert_int_equal(p.points, -6);
    assert_int_equal(p.balance, 0);
    check_ledger(fx);
}

static void test_refund_not_found_and_invalid(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    add_member(fx, "m2");
    purchase(fx, "m1", "o1", 10000, 100);
    award_points(fx, "m1", "bonus", 50);
    purchase(fx, "m2", "o2", 5000, 50);
    redeem_points(fx, "m1", "spent", 10);
    snapshot before, before2;
    snapshot_take(fx, "m1", &before);
    snapshot_take(fx, "m2", &before2);
    loyalty_posting p;
    expect_rc(fx, refund(fx, "m1", "rf", "nothing", 100, &p), LOYALTY_ERR_NOT_FOUND, "no order");
    assert_errmsg_mentions(fx->ledger, "nothing");
    expect_rc(fx, refund(fx, "m1", "rf", "bonus", 100, &p), LOYALTY_ERR_NOT_FOUND, "bonus award");
    expect_rc(fx, refund(fx, "m1", "rf", "spent", 100, &p), LOYALTY_ERR_NOT_FOUND, "redemption");
    expect_rc(fx, refund(fx, "m1", "rf", "o2", 100, &p), LOYALTY_ERR_NOT_FOUND, "m2's order");
    expect_rc(fx, refund(fx, "m2", "rf", "o1", 100, &p), LOYALTY_ERR_NOT_FOUND, "m1's order");
    expect_rc(fx, refund(fx, "nobody", "rf", "o1", 100, &p), LOYALTY_ERR_NOT_FOUND, "member");
    expect_rc(fx, refund(fx, "m1", "rf", "o1", 0, &p), LOYALTY_ERR_INVALID, "amount 0");
    expect_rc(fx, refund(fx, "m1", "rf", "o1", -1, &p), LOYALTY_ERR_INVALID, "amount -1");
    expect_rc(fx, refund(fx, "m1", "rf", "o1", 10001, &p), LOYALTY_ERR_STATE, "over the order");
    expect_rc(fx, refund(fx, "m1", "", "o1", 100, &p), LOYALTY_ERR_INVALID, "empty ref");
    expect_rc(fx, refund(fx, "m1", "rf", "", 100, &p), LOYALTY_ERR_INVALID, "empty order");
    expect_rc(fx, refund(fx, "m1", "rf", NULL, 100, &p), LOYALTY_ERR_INVALID, "NULL order");
    expect_rc(fx, loyalty_refund(fx->ledger, NULL, &p), LOYALTY_ERR_MISUSE, "NULL request");
    loyalty_refund_request request = {"m1", "rf", "o1", 100};
    expect_rc(fx, loyalty_refund(NULL, &request, &p), LOYALTY_ERR_MISUSE, "NULL ledger");
    request.member = NULL;
    expect_rc(fx, loyalty_refund(fx->ledger, &request, &p), LOYALTY_ERR_INVALID, "NULL member");
    request.member = "m1";
    request.ref = NULL;
    expect_rc(fx, loyalty_refund(fx->ledger, &request, &p), LOYALTY_ERR_INVALID, "NULL ref");
    assert_unchanged(fx, "m1", &before);
    assert_unchanged(fx, "m2", &before2);
    /* The refused reference stays free. */
    expect_rc(fx, refund(fx, "m1", "rf", "o1", 100, &p), LOYALTY_OK, "valid refund");
    assert_int_equal(p.replayed, 0);
    assert_int_equal(p.points, -1);
    check_ledger(fx);
}

static void test_refund_replay_and_conflict(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    add_member(fx, "m2");
    purchase(fx, "m1", "o1", 10000, 100);
    purchase(fx, "m1", "o3", 10000, 100);
    purchase(fx, "m2", "o2", 10000, 100);
    loyalty_posting first, again;
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 5000, &first), LOYALTY_OK, "refund");
    assert_int_equal(first.points, -50);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    reopen(fx);
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 5000, &again), LOYALTY_OK, "replay");
    assert_int_equal(again.replayed, 1);
    assert_int_equal(again.tx, first.tx);
    assert_int_equal(again.points, -50);
    assert_int_equal(again.audit_seq, first.audit_seq);
    assert_int_equal(again.balance, 150);
    assert_unchanged(fx, "m1", &before);
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 5001, &again), LOYALTY_ERR_CONFLICT, "amount");
    expect_rc(fx, refund(fx, "m1", "rf1", "o3", 5000, &again), LOYALTY_ERR_CONFLICT, "order");
    expect_rc(fx, refund(fx, "m2", "rf1", "o2", 5000, &again), LOYALTY_ERR_CONFLICT, "member");
    assert_unchanged(fx, "m1", &before);
    /* The replay does not count twice: half is still left. */
    expect_rc(fx, refund(fx, "m1", "rf2", "o1", 5000, &again), LOYALTY_OK, "second half");
    assert_int_equal(again.points, -50);
    assert_int_equal(again.balance, 100);
    check_ledger(fx);
}

/* Spent points become a debt; the next credit repays it before it makes spendable points. */
static void test_refund_after_spending_leaves_debt(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    int64_t order = purchase(fx, "m1", "o1", 10000, 100);
    redeem_points(fx, "m1", "r1", 90);
    loyalty_posting p;
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 10000, &p), LOYALTY_OK, "full refund");
    assert_int_equal(p.points, -100);
    assert_int_equal(p.balance, -90);
    assert_int_equal(p.available, 0);
    assert_int_equal(lot_remaining(fx, order), 0);
    assert_member(fx, "m1", -90, 0, 0, 0, 0, 90);
    check_ledger(fx);

    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, redeem(fx, "m1", "r2", 1, &p), LOYALTY_ERR_INSUFFICIENT, "redeem in debt");
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "m1", "h1", 1, &h), LOYALTY_ERR_INSUFFICIENT, "hold in debt");
    assert_unchanged(fx, "m1", &before);

    /* A bonus of 60 repays 60 of the debt and creates no spendable points. */
    expect_rc(fx, award(fx, "m1", "b1", 0, 60, &p), LOYALTY_OK, "bonus 60");
    assert_int_equal(p.balance, -30);
    assert_int_equal(p.available, 0);
    assert_int_equal(sqlf(fx, "SELECT points FROM lots WHERE tx = %lld", (long long)p.tx), 60);
    assert_int_equal(lot_remaining(fx, p.tx), 0);
    assert_member(fx, "m1", -30, 0, 0, 0, 0, 30);
    /* A bonus of 50 repays the last 30; 20 are left to spend. */
    expect_rc(fx, award(fx, "m1", "b2", 0, 50, &p), LOYALTY_OK, "bonus 50");
    assert_int_equal(p.balance, 20);
    assert_int_equal(p.available, 20);
    assert_int_equal(lot_remaining(fx, p.tx), 20);
    assert_member(fx, "m1", 20, 20, 0, 0, 0, 0);
    redeem_points(fx, "m1", "r3", 20);
    assert_member(fx, "m1", 0, 0, 0, 0, 0, 0);
    check_ledger(fx);
}

/* Refunded points come first from the order's own lot, even while it is pending. */
static void test_refund_takes_pending_own_lot_first(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"pending_days\":14}");
    add_member(fx, "m1");
    int64_t bonus = award_points(fx, "m1", "b1", 50);
    int64_t order = purchase(fx, "m1", "o1", 10000, 100);
    assert_member(fx, "m1", 150, 50, 100, 0, 0, 0);
    loyalty_posting p;
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 3000, &p), LOYALTY_OK, "refund 30%");
    assert_int_equal(p.points, -30);
    assert_int_equal(p.balance, 120);
    assert_int_equal(p.available, 50);
    assert_int_equal(lot_remaining(fx, order), 70);
    assert_int_equal(lot_remaining(fx, bonus), 50);
    assert_member(fx, "m1", 120, 50, 70, 0, 0, 0);
    expect_rc(fx, refund(fx, "m1", "rf2", "o1", 7000, &p), LOYALTY_OK, "refund the rest");
    assert_int_equal(p.points, -70);
    assert_int_equal(lot_remaining(fx, order), 0);
    assert_int_equal(lot_remaining(fx, bonus), 50);
    assert_member(fx, "m1", 50, 50, 0, 0, 0, 0);
    check_ledger(fx);
}

/*
 * When the order's lot was partly spent, the rest of the refund comes from
 * the other lots first-expiring-first (a younger lot expiring sooner first).
 */
static void test_refund_then_other_lots_first_expiring(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"expiry_days\":30}");
    add_member(fx, "m1");
    int64_t order = purchase(fx, "m1", "o1", 10000, 100); /* expires day 30 */
    clock_at(fx, 1 * DAY_US);
    redeem_points(fx, "m1", "r1", 60);
    assert_int_equal(lot_remaining(fx, order), 40);
    clock_at(fx, 2 * DAY_US);
    load_program(fx, "{\"expiry_days\":60}");
    int64_t late = award_points(fx, "m1", "late", 30); /* expires day 62 */
    load_program(fx, "{\"expiry_days\":10}");
    int64_t soon = award_points(fx, "m1", "soon", 30); /* expires day 12 */
    clock_at(fx, 3 * DAY_US);
    loyalty_posting p;
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 8000, &p), LOYALTY_OK, "refund 80%");
    assert_int_equal(p.points, -80);
    assert_int_equal(p.balance, 20);
    assert_int_equal(p.available, 20);
    assert_int_equal(lot_remaining(fx, order), 0);
    assert_int_equal(lot_remaining(fx, soon), 0);
    assert_int_equal(lot_remaining(fx, late), 20);
    assert_member(fx, "m1", 20, 20, 0, 0, 0, 0);
    check_ledger(fx);
}

/* Reversing a partly refunded award takes back only the rest; afterwards no refund fits. */
static void test_reverse_and_refund_interplay(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    int64_t order = purchase(fx, "m1", "o1", 10000, 100);
    award_points(fx, "m1", "b1", 10);
    loyalty_posting p, rf;
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 2500, &rf), LOYALTY_OK, "refund 25%");
    assert_int_equal(rf.points, -25);
    expect_rc(fx, reverse(fx, order, "rv1", &p), LOYALTY_OK, "reverse the award");
    assert_int_equal(p.points, -75);
    assert_int_equal(p.reversed_tx, order);
    assert_int_equal(p.balance, 10);
    assert_int_equal(p.available, 10);
    assert_int_equal(lot_remaining(fx, order), 0);
    assert_member(fx, "m1", 10, 10, 0, 0, 0, 0);

    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, refund(fx, "m1", "rf2", "o1", 100, &p), LOYALTY_ERR_STATE, "after reversal");
    assert_errmsg_mentions(fx->ledger, "reversed");
    expect_rc(fx, reverse(fx, rf.tx, "rv2", &p), LOYALTY_ERR_STATE, "reverse a refund");
    expect_rc(fx, reverse(fx, order, "rv3", &p), LOYALTY_ERR_STATE, "reverse twice");
    assert_unchanged(fx, "m1", &before);
    /* The replayed refund still answers. */
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 2500, &p), LOYALTY_OK, "replay");
    assert_int_equal(p.replayed, 1);
    assert_int_equal(p.tx, rf.tx);
    assert_unchanged(fx, "m1", &before);
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.clawed_back, 25);
    assert_int_equal(stats.reversed, -75);
    assert_int_equal(stats.outstanding, 10);
    check_ledger(fx);
}

/* A refund takes the order's own expired remainder first: points that expired are not taken twice. */
static void test_refund_of_expired_order_takes_its_own_lot(void **state)
{
    fixture *fx = *state;
    const int64_t day = INT64_C(86400000000);
    load_program(fx, "{\"expiry_days\":30}");
    add_member(fx, "m1");
    int64_t order = purchase(fx, "m1", "o1", 10000, 100);
    clock_at(fx, 20 * day);
    award_points(fx, "m1", "b1", 100);
    clock_at(fx, 31 * day);
    assert_member(fx, "m1", 200, 100, 0, 0, 100, 0);
    loyalty_posting p;
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 10000, &p), LOYALTY_OK, "refund in full");
    assert_int_equal(p.points, -100);
    assert_int_equal(lot_remaining(fx, order), 0);
    assert_member(fx, "m1", 100, 100, 0, 0, 0, 0);
    loyalty_expire_result swept;
    assert_int_equal(loyalty_expire(fx->ledger, &swept, NULL, NULL), LOYALTY_OK);
    assert_int_equal(swept.expired_points, 0);
    assert_member(fx, "m1", 100, 100, 0, 0, 0, 0);
    check_ledger(fx);
}

/* A fully refunded award has nothing left to reverse. */
static void test_reverse_fully_refunded_award(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    int64_t order = purchase(fx, "m1", "o1", 10000, 100);
    loyalty_posting p;
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 10000, &p), LOYALTY_OK, "refund in full");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, reverse(fx, order, "rv1", &p), LOYALTY_ERR_STATE, "reverse after full refund");
    assert_errmsg_mentions(fx->ledger, "refunded");
    assert_unchanged(fx, "m1", &before);
    check_ledger(fx);
}

/* A frozen member's order can still be refunded (a clawback is not spending). */
static void test_refund_frozen_member(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    purchase(fx, "m1", "o1", 10000, 100);
    assert_int_equal(loyalty_member_freeze(fx->ledger, "m1", "review", NULL, NULL), LOYALTY_OK);
    loyalty_posting p;
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 10000, &p), LOYALTY_OK, "refund while frozen");
    assert_int_equal(p.points, -100);
    assert_int_equal(p.balance, 0);
    check_ledger(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refunds_in_parts_sum_to_award, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refund_rounding_is_cumulative, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refund_not_found_and_invalid, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_refund_replay_and_conflict, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_refund_of_expired_order_takes_its_own_lot,
                                        setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_reverse_fully_refunded_award, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_refund_after_spending_leaves_debt, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refund_takes_pending_own_lot_first, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refund_then_other_lots_first_expiring, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reverse_and_refund_interplay, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_refund_frozen_member, setup_ledger, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
