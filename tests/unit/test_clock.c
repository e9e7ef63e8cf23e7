/*
 * test_clock.c - a clock that moves backwards between operations (issue 8,
 * item 8), as LOYALTY_NOW or a wrong system clock can make it: handles
 * opened one after another with decreasing now_us.
 *
 * The rule these tests pin down: every entry carries the wall time it was
 * made at, as given, even when that is earlier than the entry before it;
 * the order of entries comes from seq alone (gap-free, each linked to the
 * previous), so a clock going back never reorders the audit chain and
 * verify still passes. Time only decides what has expired or lapsed, and a
 * sweep that already removed points cannot remove them again: expiring at
 * T, then at T - 1 day, then at T again expires the points once.
 */
#include "support.h"

#define DAY_US INT64_C(86400000000)
#define EXPIRY_PROGRAM "{\"expiry_days\":30,\"hold_ttl_seconds\":600}"

static int setup_expiring(void **state)
{
    fixture *fx = fixture_new();
    *state = fx;
    return create_ledger(fx, EXPIRY_PROGRAM) == LOYALTY_OK ? 0 : -1;
}

/* Replaces the fixture's handle with one whose clock is now_us. */
static void reopen_at(fixture *fx, int64_t now_us)
{
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    loyalty_open_options options = {.db_path = fx->db_path, .actor = ACTOR, .now_us = now_us};
    assert_int_equal(loyalty_open(&fx->ledger, &options), LOYALTY_OK);
}

static loyalty_expire_result expire_now(fixture *fx)
{
    loyalty_expire_result result;
    assert_int_equal(loyalty_expire(fx->ledger, &result, NULL, NULL), LOYALTY_OK);
    return result;
}

static void assert_verifies(fixture *fx)
{
    loyalty_verify_report report;
    int rc = loyalty_verify(fx->ledger, NULL, NULL, &report);
    if (rc != LOYALTY_OK)
        fail_msg("verify: %s", report.reason);
    assert_int_equal(report.ok, 1);
    assert_int_equal(report.entries, sql_integer(fx, "SELECT COUNT(*) FROM audit"));
}

/* seq runs 1..N without gaps, and each entry links to the previous entry's hash. */
static void assert_chain_in_seq_order(fixture *fx)
{
    int64_t count = sql_integer(fx, "SELECT COUNT(*) FROM audit");
    assert_int_equal(sql_integer(fx, "SELECT MIN(seq) FROM audit"), 1);
    assert_int_equal(sql_integer(fx, "SELECT MAX(seq) FROM audit"), count);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit a JOIN audit b ON b.seq = a.seq + 1"
                                     " WHERE b.prev_hash != a.hash"),
                     0);
    /* Journal transactions follow the chain too: tx order is audit_seq order. */
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal a JOIN journal b ON b.tx > a.tx"
                                     " WHERE b.audit_seq <= a.audit_seq"),
                     0);
}

/* The ts_us of the audit entry at seq. */
static int64_t entry_ts(fixture *fx, int64_t seq)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT ts_us FROM audit WHERE seq = %lld", (long long)seq);
    return sql_integer(fx, sql);
}

static int64_t head_seq(fixture *fx)
{
    return sql_integer(fx, "SELECT MAX(seq) FROM audit");
}

/* Entries made while the clock goes back carry the times given, in seq order. */
static void test_entries_carry_wall_time_in_seq_order(void **state)
{
    fixture *fx = *state;
    /* Each step: a clock (days from T0) and one write. The clock jumps back twice. */
    static const int64_t days[] = {10, 3, 3, 7, 1, 12};
    int64_t seqs[6];
    reopen_at(fx, T0_US + days[0] * DAY_US);
    add_member(fx, "m1");
    seqs[0] = head_seq(fx);
    for (int i = 1; i < 6; i++) {
        reopen_at(fx, T0_US + days[i] * DAY_US + i); /* + i: distinct microseconds */
        char ref[16];
        snprintf(ref, sizeof ref, "a%d", i);
        award_points(fx, "m1", ref, 10 * i);
        seqs[i] = head_seq(fx);
    }
    for (int i = 0; i < 6; i++) {
        assert_int_equal(seqs[i], seqs[0] + i);
        assert_int_equal(entry_ts(fx, seqs[i]), T0_US + days[i] * DAY_US + i);
    }
    assert_chain_in_seq_order(fx);
    assert_int_equal(member_get(fx, "m1").balance, 10 + 20 + 30 + 40 + 50);
    assert_verifies(fx);
}

typedef struct history_seen {
    int64_t count;
    int64_t previous_tx;
    int64_t ts[8];
} history_seen;

static int collect_history(void *context, const loyalty_history_entry *entry)
{
    history_seen *seen = context;
    assert_true(entry->tx < seen->previous_tx);
    seen->previous_tx = entry->tx;
    if (seen->count < 8)
        seen->ts[seen->count] = entry->ts_us;
    seen->count++;
    return 0;
}

/* The member's history lists by tx (newest first) and shows each entry's own time. */
static void test_history_order_is_tx_not_time(void **state)
{
    fixture *fx = *state;
    reopen_at(fx, T0_US + 5 * DAY_US);
    add_member(fx, "m1");
    award_points(fx, "m1", "late", 5);       /* tx 1 at day 5 */
    reopen_at(fx, T0_US + 1 * DAY_US);
    award_points(fx, "m1", "early", 7);      /* tx 2 at day 1 */
    reopen_at(fx, T0_US + 3 * DAY_US);
    redeem_points(fx, "m1", "spend", 2);     /* tx 3 at day 3 */
    history_seen seen = {.count = 0, .previous_tx = INT64_MAX};
    int64_t next_before = -1;
    assert_int_equal(loyalty_history(fx->ledger, "m1", 10, 0, collect_history, &seen, &next_before),
                     LOYALTY_OK);
    assert_int_equal(seen.count, 3);
    assert_int_equal(next_before, 0);
    assert_int_equal(seen.ts[0], T0_US + 3 * DAY_US);
    assert_int_equal(seen.ts[1], T0_US + 1 * DAY_US);
    assert_int_equal(seen.ts[2], T0_US + 5 * DAY_US);
    assert_verifies(fx);
}

/* Expire at T, then at T - 1 day, then at T again: the points expire once. */
static void test_expiry_runs_once_when_clock_goes_back(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    add_member(fx, "m2");
    award_points(fx, "m1", "a1", 100); /* expires at T0 + 30 days */
    award_points(fx, "m2", "a2", 40);
    const int64_t t = T0_US + 31 * DAY_US;

    reopen_at(fx, t);
    loyalty_expire_result first = expire_now(fx);
    assert_int_equal(first.expired_points, 140);
    assert_int_equal(first.members, 2);
    assert_int_equal(member_get(fx, "m1").balance, 0);
    int64_t entries_after_first = sql_integer(fx, "SELECT COUNT(*) FROM audit");
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal WHERE kind = 'expire'"), 2);

    snapshot before;
    snapshot_take(fx, "m1", &before);
    /* A day earlier: the lots were current then, but they were swept; nothing comes back. */
    reopen_at(fx, t - DAY_US);
    loyalty_member_info m1 = member_get(fx, "m1");
    assert_int_equal(m1.balance, 0);
    assert_int_equal(m1.available, 0);
    assert_int_equal(m1.expired, 0);
    loyalty_expire_result second = expire_now(fx);
    assert_int_equal(second.expired_points + second.members + second.holds_lapsed, 0);
    loyalty_redeem_request redeem = {"m1", "r1", 1};
    loyalty_posting posting;
    assert_int_equal(loyalty_redeem(fx->ledger, &redeem, &posting), LOYALTY_ERR_INSUFFICIENT);
    /* And at T again. */
    reopen_at(fx, t);
    loyalty_expire_result third = expire_now(fx);
    assert_int_equal(third.expired_points + third.members + third.holds_lapsed, 0);
    reopen_at(fx, T0_US);
    assert_unchanged(fx, "m1", &before);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit"), entries_after_first);

    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.expired, 140);
    assert_int_equal(stats.outstanding, 0);
    assert_chain_in_seq_order(fx);
    assert_verifies(fx);
}

/* Points earned "in the past" after a sweep expire on their own schedule, once. */
static void test_award_in_the_past_after_a_sweep(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 100);
    reopen_at(fx, T0_US + 31 * DAY_US);
    assert_int_equal(expire_now(fx).expired_points, 100);
    /* Back to day 5: an award there expires at day 35 and is spendable at day 5. */
    reopen_at(fx, T0_US + 5 * DAY_US);
    award_points(fx, "m1", "a2", 60);
    loyalty_member_info m1 = member_get(fx, "m1");
    assert_int_equal(m1.balance, 60);
    assert_int_equal(m1.available, 60);
    assert_int_equal(m1.next_expiry_us, T0_US + 35 * DAY_US);
    /* At day 31 it has not expired yet: the earlier sweep's time does not matter. */
    reopen_at(fx, T0_US + 31 * DAY_US);
    assert_int_equal(expire_now(fx).expired_points, 0);
    assert_int_equal(member_get(fx, "m1").available, 60);
    /* Exactly at its expiry instant it is gone, and sweeping again at or before it changes nothing. */
    reopen_at(fx, T0_US + 35 * DAY_US);
    assert_int_equal(member_get(fx, "m1").available, 0);
    assert_int_equal(expire_now(fx).expired_points, 60);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    static const int64_t again[] = {35, 34, 35, 36};
    for (size_t i = 0; i < sizeof again / sizeof again[0]; i++) {
        reopen_at(fx, T0_US + again[i] * DAY_US);
        loyalty_expire_result r = expire_now(fx);
        assert_int_equal(r.expired_points + r.members + r.holds_lapsed, 0);
    }
    reopen_at(fx, T0_US + 31 * DAY_US);
    assert_unchanged(fx, "m1", &before);
    assert_int_equal(member_get(fx, "m1").balance, 0);
    assert_chain_in_seq_order(fx);
    assert_verifies(fx);
}

/* A hold swept as lapsed stays lapsed when the clock goes back inside its lifetime. */
static void test_lapsed_hold_stays_lapsed(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 100);
    loyalty_hold_request hold = {"m1", "h1", 30};
    loyalty_hold_info info;
    assert_int_equal(loyalty_hold(fx->ledger, &hold, &info), LOYALTY_OK);
    assert_int_equal(info.expires_us, T0_US + 600 * INT64_C(1000000));
    reopen_at(fx, T0_US + 601 * INT64_C(1000000));
    loyalty_expire_result r = expire_now(fx);
    assert_int_equal(r.holds_lapsed, 1);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    /* Back to a moment when the hold was still open: it cannot be captured or released now. */
    reopen_at(fx, T0_US + 60 * INT64_C(1000000));
    assert_int_equal(loyalty_capture(fx->ledger, "h1", 0, &info), LOYALTY_ERR_STATE);
    assert_int_equal(loyalty_release(fx->ledger, "h1", &info), LOYALTY_ERR_STATE);
    r = expire_now(fx);
    assert_int_equal(r.holds_lapsed + r.expired_points, 0);
    /* Holding again with the same reference replays the original (lapsed) hold. */
    assert_int_equal(loyalty_hold(fx->ledger, &hold, &info), LOYALTY_OK);
    assert_int_equal(info.replayed, 1);
    assert_string_equal(info.status, "lapsed");
    loyalty_member_info m1 = member_get(fx, "m1");
    assert_int_equal(m1.held, 0);
    assert_int_equal(m1.available, 100);
    reopen_at(fx, T0_US + 601 * INT64_C(1000000));
    assert_unchanged(fx, "m1", &before);
    assert_verifies(fx);
}

/* A clock far back (1970 plus a microsecond) and far ahead still gives an ordered, verifiable chain. */
static void test_extreme_jumps(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    static const int64_t clocks[] = {
        1, INT64_C(253402300799000000) /* 9999-12-31T23:59:59Z */, 2, T0_US, 1};
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        reopen_at(fx, clocks[i]);
        char ref[16];
        snprintf(ref, sizeof ref, "x%zu", i);
        award_points(fx, "m1", ref, 1);
        assert_int_equal(entry_ts(fx, head_seq(fx)), clocks[i]);
    }
    assert_int_equal(member_get(fx, "m1").balance, (int64_t)(sizeof clocks / sizeof clocks[0]));
    assert_chain_in_seq_order(fx);
    assert_verifies(fx);
}

/* A clock beyond the year 9999 is refused at open, so no period added to it can overflow. */
static void test_clock_beyond_9999_refused(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    const int64_t clocks[] = {INT64_MAX, INT64_MAX - 1, INT64_C(253402300800000000)};
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        loyalty_ledger *late = NULL;
        loyalty_open_options options = {.db_path = fx->db_path, .actor = ACTOR, .now_us = clocks[i]};
        assert_int_equal(loyalty_open(&late, &options), LOYALTY_ERR_INVALID);
        assert_errmsg_mentions(late, "clock");
        loyalty_close(late);
    }
    loyalty_ledger *last = NULL;
    loyalty_open_options options = {.db_path = fx->db_path, .actor = ACTOR,
                                    .now_us = INT64_C(253402300799999999)};
    assert_int_equal(loyalty_open(&last, &options), LOYALTY_OK);
    loyalty_award_request award = {.member = "m1", .ref = "late", .points = 5};
    loyalty_posting p;
    assert_int_equal(loyalty_award(last, &award, &p), LOYALTY_OK);
    loyalty_close(last);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_entries_carry_wall_time_in_seq_order, setup_expiring,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history_order_is_tx_not_time, setup_expiring, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_runs_once_when_clock_goes_back, setup_expiring,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_award_in_the_past_after_a_sweep, setup_expiring,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lapsed_hold_stays_lapsed, setup_expiring, teardown),
        cmocka_unit_test_setup_teardown(test_extreme_jumps, setup_expiring, teardown),
        cmocka_unit_test_setup_teardown(test_clock_beyond_9999_refused, setup_expiring, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
