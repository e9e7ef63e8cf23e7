/*
 * test_lots.c - the lots model walking the clock: purchase points pending
 * until exactly pending_days later (bonus points and adjustments spendable
 * at once), debits first-expiring-first across lots of different ages and
 * expiry dates, expiry at the exact boundary without a sweep, and the next
 * expiry reported with the balance. Every refusal changes nothing; every
 * test ends with verify passing and the invariants holding.
 */
#include "support.h"
#include "lifecycle_support.h"

/* --- pending points ------------------------------------------------------ */

/*
 * A purchase with pending_days=14 counts in the balance and in `pending` but
 * not in `available` until exactly 14 days later; bonus points and positive
 * adjustments are spendable at once; redemptions cannot reach pending points.
 */
static void test_pending_purchase_matures_at_boundary(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"pending_days\":14}");
    add_member(fx, "m1");
    loyalty_posting p;
    expect_rc(fx, award(fx, "m1", "o1", 10000, 0, &p), LOYALTY_OK, "purchase");
    assert_int_equal(p.points, 100);
    assert_int_equal(p.balance, 100);
    assert_int_equal(p.available, 0);
    int64_t order_tx = p.tx;
    assert_int_equal(sqlf(fx, "SELECT available_us FROM lots WHERE tx = %lld", (long long)order_tx),
                     T0_US + 14 * DAY_US);
    assert_int_equal(sqlf(fx, "SELECT earned_us FROM lots WHERE tx = %lld", (long long)order_tx),
                     T0_US);
    assert_member(fx, "m1", 100, 0, 100, 0, 0, 0);

    /* Bonus points and a positive adjustment are available at once. */
    expect_rc(fx, award(fx, "m1", "b1", 0, 20, &p), LOYALTY_OK, "bonus");
    assert_int_equal(p.balance, 120);
    assert_int_equal(p.available, 20);
    expect_rc(fx, adjust(fx, "m1", "t1", 5, &p), LOYALTY_OK, "adjust +5");
    assert_int_equal(p.balance, 125);
    assert_int_equal(p.available, 25);
    assert_member(fx, "m1", 125, 25, 100, 0, 0, 0);

    /* Pending points cannot be redeemed, held or adjusted away. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, redeem(fx, "m1", "r1", 26, &p), LOYALTY_ERR_INSUFFICIENT, "redeem 26 of 25");
    expect_rc(fx, redeem(fx, "m1", "r1", 125, &p), LOYALTY_ERR_INSUFFICIENT, "redeem balance");
    expect_rc(fx, adjust(fx, "m1", "t2", -26, &p), LOYALTY_ERR_INSUFFICIENT, "adjust -26");
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "m1", "h1", 26, &h), LOYALTY_ERR_INSUFFICIENT, "hold 26");
    assert_unchanged(fx, "m1", &before);

    /* A redemption takes the spendable lots and leaves the pending one alone. */
    expect_rc(fx, redeem(fx, "m1", "r2", 5, &p), LOYALTY_OK, "redeem 5");
    assert_int_equal(p.balance, 120);
    assert_int_equal(p.available, 20);
    assert_int_equal(lot_remaining(fx, order_tx), 100);

    /* One microsecond before the boundary: still pending. */
    clock_at(fx, 14 * DAY_US - 1);
    assert_member(fx, "m1", 120, 20, 100, 0, 0, 0);
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, redeem(fx, "m1", "r3", 21, &p), LOYALTY_ERR_INSUFFICIENT, "just before");
    assert_unchanged(fx, "m1", &before);

    /* At the boundary: spendable, with no job run. */
    clock_at(fx, 14 * DAY_US);
    assert_member(fx, "m1", 120, 120, 0, 0, 0, 0);
    expect_rc(fx, redeem(fx, "m1", "r3", 120, &p), LOYALTY_OK, "at the boundary");
    assert_int_equal(p.balance, 0);
    assert_int_equal(p.available, 0);
    assert_int_equal(lot_remaining(fx, order_tx), 0);
    check_ledger(fx);
}

/* Credits other than purchases never wait: a reversed redemption gives its points back at once. */
static void test_pending_only_for_purchases(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"pending_days\":30}");
    add_member(fx, "m1");
    loyalty_posting p;
    expect_rc(fx, award(fx, "m1", "b1", 0, 50, &p), LOYALTY_OK, "bonus");
    int64_t spent = redeem_points(fx, "m1", "r1", 50);
    expect_rc(fx, reverse(fx, spent, "rv1", &p), LOYALTY_OK, "reverse redemption");
    assert_int_equal(p.points, 50);
    assert_int_equal(p.balance, 50);
    assert_int_equal(p.available, 50);
    expect_rc(fx, adjust(fx, "m1", "t1", 7, &p), LOYALTY_OK, "adjust");
    assert_int_equal(p.available, 57);
    purchase(fx, "m1", "o1", 1999, 19);
    assert_member(fx, "m1", 76, 57, 19, 0, 0, 0);
    /* A purchase worth 0 points creates no lot and nothing pending. */
    int64_t zero = purchase(fx, "m1", "o2", 99, 0);
    assert_int_equal(sqlf(fx, "SELECT COUNT(*) FROM lots WHERE tx = %lld", (long long)zero), 0);
    assert_member(fx, "m1", 76, 57, 19, 0, 0, 0);
    check_ledger(fx);
}

/* --- first-expiring-first ------------------------------------------------ */

/*
 * Lots earned on day 0, 10 and 20 (expiry 30 days): a redemption on day 25
 * takes the day-0 lot first; on day 30 exactly that lot stops being
 * spendable (expired, no sweep needed) and the next expiry moves on.
 */
static void test_fifo_and_expiry_boundary(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"expiry_days\":30}");
    add_member(fx, "m1");
    int64_t lot0 = award_points(fx, "m1", "d0", 100);
    assert_int_equal(sqlf(fx, "SELECT expires_us FROM lots WHERE tx = %lld", (long long)lot0),
                     T0_US + 30 * DAY_US);
    clock_at(fx, 10 * DAY_US);
    int64_t lot10 = award_points(fx, "m1", "d10", 50);
    clock_at(fx, 20 * DAY_US);
    int64_t lot20 = award_points(fx, "m1", "d20", 30);

    clock_at(fx, 25 * DAY_US);
    loyalty_member_info info = member_get(fx, "m1");
    assert_int_equal(info.next_expiry_us, T0_US + 30 * DAY_US);
    assert_int_equal(info.next_expiry_points, 100);
    loyalty_posting p;
    expect_rc(fx, redeem(fx, "m1", "r25", 40, &p), LOYALTY_OK, "redeem on day 25");
    assert_int_equal(p.balance, 140);
    assert_int_equal(p.available, 140);
    assert_int_equal(lot_remaining(fx, lot0), 60);
    assert_int_equal(lot_remaining(fx, lot10), 50);
    assert_int_equal(lot_remaining(fx, lot20), 30);
    info = member_get(fx, "m1");
    assert_int_equal(info.next_expiry_us, T0_US + 30 * DAY_US);
    assert_int_equal(info.next_expiry_points, 60);

    /* One microsecond before expiry everything is still spendable. */
    clock_at(fx, 30 * DAY_US - 1);
    assert_member(fx, "m1", 140, 140, 0, 0, 0, 0);
    info = member_get(fx, "m1");
    assert_int_equal(info.next_expiry_us, T0_US + 30 * DAY_US);
    assert_int_equal(info.next_expiry_points, 60);

    /* At expiry the day-0 remainder is out of reach, though not swept. */
    clock_at(fx, 30 * DAY_US);
    assert_member(fx, "m1", 140, 80, 0, 0, 60, 0);
    info = member_get(fx, "m1");
    assert_int_equal(info.next_expiry_us, T0_US + 40 * DAY_US);
    assert_int_equal(info.next_expiry_points, 50);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, redeem(fx, "m1", "r30", 81, &p), LOYALTY_ERR_INSUFFICIENT, "redeem 81 of 80");
    expect_rc(fx, adjust(fx, "m1", "t30", -81, &p), LOYALTY_ERR_INSUFFICIENT, "adjust -81");
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "m1", "h30", 81, &h), LOYALTY_ERR_INSUFFICIENT, "hold 81");
    assert_unchanged(fx, "m1", &before);

    /* A redemption now skips the expired lot. */
    expect_rc(fx, redeem(fx, "m1", "r30", 60, &p), LOYALTY_OK, "redeem on day 30");
    assert_int_equal(p.balance, 80);
    assert_int_equal(p.available, 20);
    assert_int_equal(lot_remaining(fx, lot0), 60);
    assert_int_equal(lot_remaining(fx, lot10), 0);
    assert_int_equal(lot_remaining(fx, lot20), 20);
    assert_member(fx, "m1", 80, 20, 0, 0, 60, 0);
    check_ledger(fx);
}

/*
 * Debits go by expiry date, not by age: a younger lot that expires sooner
 * goes first, a lot that never expires goes last.
 */
static void test_first_expiring_not_first_earned(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"expiry_days\":0}");
    add_member(fx, "m1");
    int64_t never = award_points(fx, "m1", "never", 10);
    load_program(fx, "{\"expiry_days\":30}");
    int64_t in30 = award_points(fx, "m1", "in30", 100);
    clock_at(fx, 1 * DAY_US);
    load_program(fx, "{\"expiry_days\":5}");
    int64_t in6 = award_points(fx, "m1", "in6", 40);
    clock_at(fx, 2 * DAY_US);
    loyalty_member_info info = member_get(fx, "m1");
    assert_int_equal(info.next_expiry_us, T0_US + 6 * DAY_US);
    assert_int_equal(info.next_expiry_points, 40);

    loyalty_posting p;
    expect_rc(fx, redeem(fx, "m1", "r1", 45, &p), LOYALTY_OK, "redeem 45");
    assert_int_equal(lot_remaining(fx, in6), 0);
    assert_int_equal(lot_remaining(fx, in30), 95);
    assert_int_equal(lot_remaining(fx, never), 10);
    expect_rc(fx, redeem(fx, "m1", "r2", 100, &p), LOYALTY_OK, "redeem 100");
    assert_int_equal(lot_remaining(fx, in30), 0);
    assert_int_equal(lot_remaining(fx, never), 5);
    assert_int_equal(p.balance, 5);
    info = member_get(fx, "m1");
    assert_int_equal(info.next_expiry_us, 0);
    assert_int_equal(info.next_expiry_points, 0);
    check_ledger(fx);
}

/* Several lots expiring at the same instant are reported together. */
static void test_next_expiry_sums_same_instant(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"expiry_days\":30,\"pending_days\":3}");
    add_member(fx, "m1");
    award_points(fx, "m1", "a", 10);
    purchase(fx, "m1", "o", 2500, 25);
    clock_at(fx, 1 * DAY_US);
    award_points(fx, "m1", "b", 7);
    loyalty_member_info info = member_get(fx, "m1");
    /* Pending points expire too: the next expiry counts them. */
    assert_int_equal(info.next_expiry_us, T0_US + 30 * DAY_US);
    assert_int_equal(info.next_expiry_points, 35);
    assert_int_equal(info.pending, 25);
    assert_int_equal(info.available, 17);
    check_ledger(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pending_purchase_matures_at_boundary, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pending_only_for_purchases, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_and_expiry_boundary, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_first_expiring_not_first_earned, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_next_expiry_sums_same_instant, setup_ledger,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
