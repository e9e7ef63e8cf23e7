/*
 * test_holds.c - checkout holds: a hold takes points out of `available`
 * without moving the balance; capture debits part or all and frees the
 * rest; release frees everything; an open hold lapses by the clock after
 * hold_ttl_seconds and the expiry sweep records the lapse once. Replays,
 * conflicts, wrong states, bounds, unknown references and frozen members
 * are refused with their codes and change nothing.
 */
#include "support.h"
#include "lifecycle_support.h"

#define TTL_US (600 * SECOND_US)

/* cmocka setup: a ledger whose holds live 600 seconds, member m1 with 100 points, m2 with 0. */
static int setup_holds(void **state)
{
    if (setup_ledger(state) != 0)
        return -1;
    fixture *fx = *state;
    load_program(fx, "{\"hold_ttl_seconds\":600}");
    add_member(fx, "m1");
    add_member(fx, "m2");
    award_points(fx, "m1", "a1", 100);
    return 0;
}

static void assert_hold(const loyalty_hold_info *h, const char *ref, const char *status,
                        int64_t points, int64_t captured, int64_t balance, int64_t available,
                        int64_t held)
{
    assert_string_equal(h->ref, ref);
    assert_string_equal(h->status, status);
    assert_int_equal(h->points, points);
    assert_int_equal(h->captured, captured);
    assert_int_equal(h->balance, balance);
    assert_int_equal(h->available, available);
    assert_int_equal(h->held, held);
}

static void test_hold_reserves_points(void **state)
{
    fixture *fx = *state;
    loyalty_hold_info h, again;
    int64_t rows = audit_rows(fx);
    expect_rc(fx, hold(fx, "m1", "h1", 30, &h), LOYALTY_OK, "hold 30");
    assert_hold(&h, "h1", "open", 30, 0, 100, 70, 30);
    assert_string_equal(h.member, "m1");
    assert_int_equal(h.replayed, 0);
    assert_int_equal(h.tx, 0);
    assert_int_equal(h.expires_us, T0_US + TTL_US);
    assert_int_equal(h.audit_seq, sql_integer(fx, "SELECT MAX(seq) FROM audit"));
    assert_int_equal(audit_rows(fx), rows + 1);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'hold'"), 1);
    /* A hold moves no points: no journal row, the balance stays. */
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal"), 1);
    assert_member(fx, "m1", 100, 70, 0, 30, 0, 0);

    /* More than is available: refused, nothing changes. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, hold(fx, "m1", "h2", 71, &again), LOYALTY_ERR_INSUFFICIENT, "hold 71 of 70");
    assert_errmsg_mentions(fx->ledger, "m1");
    expect_rc(fx, hold(fx, "m2", "h2", 1, &again), LOYALTY_ERR_INSUFFICIENT, "hold 1 of 0");
    expect_rc(fx, redeem(fx, "m1", "r1", 71, NULL), LOYALTY_ERR_INSUFFICIENT, "redeem held");
    expect_rc(fx, hold(fx, "m1", "h2", 0, &again), LOYALTY_ERR_INVALID, "hold 0");
    expect_rc(fx, hold(fx, "m1", "h2", -1, &again), LOYALTY_ERR_INVALID, "hold -1");
    expect_rc(fx, hold(fx, "m1", "", 1, &again), LOYALTY_ERR_INVALID, "empty ref");
    expect_rc(fx, hold(fx, "nobody", "h2", 1, &again), LOYALTY_ERR_NOT_FOUND, "unknown member");
    expect_rc(fx, loyalty_hold(fx->ledger, NULL, &again), LOYALTY_ERR_MISUSE, "NULL request");
    assert_unchanged(fx, "m1", &before);

    /* The same call again is a replay: the original hold, nothing written. */
    expect_rc(fx, hold(fx, "m1", "h1", 30, &again), LOYALTY_OK, "replay");
    assert_int_equal(again.replayed, 1);
    assert_hold(&again, "h1", "open", 30, 0, 100, 70, 30);
    assert_int_equal(again.expires_us, h.expires_us);
    assert_int_equal(again.audit_seq, h.audit_seq);
    assert_unchanged(fx, "m1", &before);
    /* The same reference with other points or for another member: a conflict. */
    expect_rc(fx, hold(fx, "m1", "h1", 31, &again), LOYALTY_ERR_CONFLICT, "other points");
    assert_errmsg_mentions(fx->ledger, "h1");
    expect_rc(fx, hold(fx, "m2", "h1", 30, &again), LOYALTY_ERR_CONFLICT, "other member");
    assert_unchanged(fx, "m1", &before);

    /* Holds add up; the rest can still be held. */
    expect_rc(fx, hold(fx, "m1", "h2", 70, &h), LOYALTY_OK, "hold the rest");
    assert_hold(&h, "h2", "open", 70, 0, 100, 0, 100);
    assert_member(fx, "m1", 100, 0, 0, 100, 0, 0);
    check_ledger(fx);
}

static void test_capture_part_frees_the_rest(void **state)
{
    fixture *fx = *state;
    loyalty_hold_info h, again;
    expect_rc(fx, hold(fx, "m1", "h1", 30, &h), LOYALTY_OK, "hold 30");
    expect_rc(fx, hold(fx, "m1", "h9", 10, &h), LOYALTY_OK, "hold 10");
    assert_member(fx, "m1", 100, 60, 0, 40, 0, 0);

    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 20, &h), LOYALTY_OK, "capture 20 of 30");
    assert_hold(&h, "h1", "captured", 30, 20, 80, 70, 10);
    assert_int_equal(h.replayed, 0);
    assert_true(h.tx > 0);
    assert_int_equal(sqlf(fx, "SELECT points FROM journal WHERE tx = %lld", (long long)h.tx), -20);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal WHERE kind = 'capture'"
                                     " AND ref = 'h1'"),
                     1);
    assert_int_equal(sql_integer(fx, "SELECT captured FROM holds WHERE ref = 'h1'"), 20);
    assert_member(fx, "m1", 80, 70, 0, 10, 0, 0);
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.redeemed, 20);

    /* A captured hold is closed: the same capture again is a retry and replays; any
     * other capture or a release is refused. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 20, &again), LOYALTY_OK, "capture retried");
    assert_int_equal(again.replayed, 1);
    assert_int_equal(again.tx, h.tx);
    assert_int_equal(again.captured, 20);
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 0, &again), LOYALTY_ERR_STATE, "capture all");
    assert_errmsg_mentions(fx->ledger, "captured");
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 5, &again), LOYALTY_ERR_STATE, "capture 5");
    expect_rc(fx, loyalty_release(fx->ledger, "h1", &again), LOYALTY_ERR_STATE, "release");
    /* The hold call itself still replays, and reports the capture. */
    expect_rc(fx, hold(fx, "m1", "h1", 30, &again), LOYALTY_OK, "hold replay");
    assert_int_equal(again.replayed, 1);
    assert_hold(&again, "h1", "captured", 30, 20, 80, 70, 10);
    assert_int_equal(again.tx, h.tx);
    assert_unchanged(fx, "m1", &before);

    /* 0 captures the whole hold. */
    expect_rc(fx, loyalty_capture(fx->ledger, "h9", 0, &h), LOYALTY_OK, "capture all of h9");
    assert_hold(&h, "h9", "captured", 10, 10, 70, 70, 0);
    check_ledger(fx);
}

static void test_release_frees_everything(void **state)
{
    fixture *fx = *state;
    loyalty_hold_info h, again;
    expect_rc(fx, hold(fx, "m1", "h1", 50, &h), LOYALTY_OK, "hold 50");
    int64_t rows = audit_rows(fx);
    expect_rc(fx, loyalty_release(fx->ledger, "h1", &h), LOYALTY_OK, "release");
    assert_hold(&h, "h1", "released", 50, 0, 100, 100, 0);
    assert_int_equal(h.tx, 0);
    assert_int_equal(audit_rows(fx), rows + 1);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'release'"), 1);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal"), 1);
    assert_member(fx, "m1", 100, 100, 0, 0, 0, 0);

    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, loyalty_release(fx->ledger, "h1", &again), LOYALTY_OK, "release retried");
    assert_int_equal(again.replayed, 1);
    assert_hold(&again, "h1", "released", 50, 0, 100, 100, 0);
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 0, &again), LOYALTY_ERR_STATE, "capture");
    assert_errmsg_mentions(fx->ledger, "released");
    expect_rc(fx, hold(fx, "m1", "h1", 51, &again), LOYALTY_ERR_CONFLICT, "reuse the ref");
    assert_unchanged(fx, "m1", &before);
    check_ledger(fx);
}

static void test_capture_bounds_and_unknown_refs(void **state)
{
    fixture *fx = *state;
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "m1", "h1", 10, &h), LOYALTY_OK, "hold 10");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 11, &h), LOYALTY_ERR_INVALID, "capture 11");
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 100, &h), LOYALTY_ERR_INVALID, "capture 100");
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", -1, &h), LOYALTY_ERR_INVALID, "capture -1");
    expect_rc(fx, loyalty_capture(fx->ledger, "nope", 1, &h), LOYALTY_ERR_NOT_FOUND, "capture ?");
    assert_errmsg_mentions(fx->ledger, "nope");
    expect_rc(fx, loyalty_release(fx->ledger, "nope", &h), LOYALTY_ERR_NOT_FOUND, "release ?");
    expect_rc(fx, loyalty_capture(fx->ledger, "", 1, &h), LOYALTY_ERR_INVALID, "capture ''");
    expect_rc(fx, loyalty_release(fx->ledger, "bad ref", &h), LOYALTY_ERR_INVALID, "release ''");
    expect_rc(fx, loyalty_capture(fx->ledger, NULL, 1, &h), LOYALTY_ERR_INVALID, "capture NULL");
    /* A redemption's reference is not a hold. */
    redeem_points(fx, "m1", "r1", 1);
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, loyalty_capture(fx->ledger, "r1", 1, &h), LOYALTY_ERR_NOT_FOUND, "redeem ref");
    assert_unchanged(fx, "m1", &before);
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 10, &h), LOYALTY_OK, "capture exactly 10");
    assert_hold(&h, "h1", "captured", 10, 10, 89, 89, 0);
    check_ledger(fx);
}

/*
 * An open hold past hold_ttl_seconds lapses by the clock alone: its points
 * are available again at once and it can be neither captured nor released;
 * the sweep records the lapse once.
 */
static void test_hold_lapses_by_time(void **state)
{
    fixture *fx = *state;
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "m1", "h1", 25, &h), LOYALTY_OK, "hold 25");
    assert_int_equal(h.expires_us, T0_US + TTL_US);

    clock_at(fx, TTL_US - 1);
    assert_member(fx, "m1", 100, 75, 0, 25, 0, 0);
    expect_rc(fx, hold(fx, "m1", "h1", 25, &h), LOYALTY_OK, "replay before the lapse");
    assert_string_equal(h.status, "open");

    clock_at(fx, TTL_US);
    assert_member(fx, "m1", 100, 100, 0, 0, 0, 0);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, hold(fx, "m1", "h1", 25, &h), LOYALTY_OK, "replay after the lapse");
    assert_int_equal(h.replayed, 1);
    assert_hold(&h, "h1", "lapsed", 25, 0, 100, 100, 0);
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 0, &h), LOYALTY_ERR_STATE, "capture lapsed");
    assert_errmsg_mentions(fx->ledger, "lapsed");
    expect_rc(fx, loyalty_release(fx->ledger, "h1", &h), LOYALTY_ERR_STATE, "release lapsed");
    assert_unchanged(fx, "m1", &before);

    /* The freed points can be held again at once. */
    expect_rc(fx, hold(fx, "m1", "h2", 100, &h), LOYALTY_OK, "hold everything");
    assert_hold(&h, "h2", "open", 100, 0, 100, 0, 100);

    /* The sweep records the lapse (h2 is still open) exactly once. */
    int64_t rows = audit_rows(fx);
    loyalty_expire_result result;
    assert_int_equal(loyalty_expire(fx->ledger, &result, NULL, NULL), LOYALTY_OK);
    assert_int_equal(result.holds_lapsed, 1);
    assert_int_equal(result.expired_points, 0);
    assert_int_equal(result.members, 0);
    assert_int_equal(audit_rows(fx), rows + 1);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'hold_lapse'"), 1);
    assert_int_equal(sql_integer(fx, "SELECT status = 'lapsed' FROM holds WHERE ref = 'h1'"), 1);
    assert_int_equal(sql_integer(fx, "SELECT status = 'open' FROM holds WHERE ref = 'h2'"), 1);
    assert_member(fx, "m1", 100, 0, 0, 100, 0, 0);

    snapshot_take(fx, "m1", &before);
    assert_int_equal(loyalty_expire(fx->ledger, &result, NULL, NULL), LOYALTY_OK);
    assert_int_equal(result.holds_lapsed, 0);
    assert_int_equal(result.expired_points, 0);
    assert_int_equal(result.members, 0);
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 0, &h), LOYALTY_ERR_STATE, "capture swept");
    assert_unchanged(fx, "m1", &before);
    check_ledger(fx);

    /* h2 lapses later too; capturing it just before that still works. */
    clock_at(fx, 2 * TTL_US - 1);
    expect_rc(fx, loyalty_capture(fx->ledger, "h2", 40, &h), LOYALTY_OK, "capture before lapse");
    assert_hold(&h, "h2", "captured", 100, 40, 60, 60, 0);
    clock_at(fx, 2 * TTL_US);
    assert_int_equal(loyalty_expire(fx->ledger, &result, NULL, NULL), LOYALTY_OK);
    assert_int_equal(result.holds_lapsed, 0);
    check_ledger(fx);
}

/* A frozen member cannot hold or capture; closed members cannot either. */
static void test_hold_frozen_member(void **state)
{
    fixture *fx = *state;
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "m1", "h1", 10, &h), LOYALTY_OK, "hold before freezing");
    int replayed = -1;
    assert_int_equal(loyalty_member_freeze(fx->ledger, "m1", "review", NULL, &replayed),
                     LOYALTY_OK);
    assert_int_equal(replayed, 0);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, hold(fx, "m1", "h2", 10, &h), LOYALTY_ERR_NOT_PERMITTED, "hold while frozen");
    assert_errmsg_mentions(fx->ledger, "frozen");
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 5, &h), LOYALTY_ERR_NOT_PERMITTED,
              "capture while frozen");
    assert_unchanged(fx, "m1", &before);
    assert_int_equal(loyalty_member_unfreeze(fx->ledger, "m1", "cleared", NULL, &replayed),
                     LOYALTY_OK);
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 5, &h), LOYALTY_OK, "capture after unfreeze");
    assert_hold(&h, "h1", "captured", 10, 5, 95, 95, 0);
    check_ledger(fx);
}

/* Pending points cannot be held; expired points cannot be captured. */
static void test_hold_pending_and_expired_points(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"pending_days\":14,\"expiry_days\":30,\"hold_ttl_seconds\":2592000}");
    add_member(fx, "p1");
    purchase(fx, "p1", "o1", 5000, 50);
    snapshot before;
    snapshot_take(fx, "p1", &before);
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "p1", "hp", 1, &h), LOYALTY_ERR_INSUFFICIENT, "hold pending points");
    assert_unchanged(fx, "p1", &before);

    /* m1's 100 points (earned at T0 under the old program) never expire; p1's do on day 30. */
    clock_at(fx, 20 * DAY_US);
    expect_rc(fx, hold(fx, "p1", "hp", 50, &h), LOYALTY_OK, "hold matured points");
    assert_hold(&h, "hp", "open", 50, 0, 50, 0, 50);
    assert_int_equal(h.expires_us, T0_US + 50 * DAY_US);
    clock_at(fx, 30 * DAY_US);
    snapshot_take(fx, "p1", &before);
    assert_int_equal(before.member.expired, 50);
    expect_rc(fx, loyalty_capture(fx->ledger, "hp", 0, &h), LOYALTY_ERR_INSUFFICIENT,
              "capture expired points");
    assert_unchanged(fx, "p1", &before);
    expect_rc(fx, loyalty_release(fx->ledger, "hp", &h), LOYALTY_OK, "release");
    assert_hold(&h, "hp", "released", 50, 0, 50, 0, 0);
    check_ledger(fx);
}

static void test_hold_misuse(void **state)
{
    fixture *fx = *state;
    expect_rc(fx, hold(fx, "m1", "h1", 10, NULL), LOYALTY_OK, "hold without a result");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_hold_request request = {.member = "m1", .ref = "h2", .points = 1};
    loyalty_hold_info h;
    expect_rc(fx, loyalty_hold(NULL, &request, &h), LOYALTY_ERR_MISUSE, "hold NULL ledger");
    expect_rc(fx, loyalty_capture(NULL, "h1", 0, &h), LOYALTY_ERR_MISUSE, "capture NULL ledger");
    expect_rc(fx, loyalty_release(NULL, "h1", &h), LOYALTY_ERR_MISUSE, "release NULL ledger");
    request.member = NULL;
    expect_rc(fx, loyalty_hold(fx->ledger, &request, &h), LOYALTY_ERR_INVALID, "NULL member");
    request.member = "m1";
    request.ref = NULL;
    expect_rc(fx, loyalty_hold(fx->ledger, &request, &h), LOYALTY_ERR_INVALID, "NULL ref");
    assert_unchanged(fx, "m1", &before);
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 0, NULL), LOYALTY_OK,
              "capture without a result");
    assert_member(fx, "m1", 90, 90, 0, 0, 0, 0);
    check_ledger(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hold_reserves_points, setup_holds, teardown),
        cmocka_unit_test_setup_teardown(test_capture_part_frees_the_rest, setup_holds, teardown),
        cmocka_unit_test_setup_teardown(test_release_frees_everything, setup_holds, teardown),
        cmocka_unit_test_setup_teardown(test_capture_bounds_and_unknown_refs, setup_holds,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hold_lapses_by_time, setup_holds, teardown),
        cmocka_unit_test_setup_teardown(test_hold_frozen_member, setup_holds, teardown),
        cmocka_unit_test_setup_teardown(test_hold_pending_and_expired_points, setup_holds,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hold_misuse, setup_holds, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
