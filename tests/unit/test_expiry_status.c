/*
 * test_expiry_status.c - the expiry sweep (one `expire` entry per member
 * with expired points, lapsed holds recorded, batches and progress,
 * idempotent: a second run writes nothing) and member status: freeze (still
 * earns, cannot spend), unfreeze, close (forfeits what is left, releases
 * holds, refuses every later write, keeps a debt). Refusals change nothing;
 * verify passes and the invariants hold after every test.
 */
#include "support.h"
#include "lifecycle_support.h"

/* --- the expiry sweep ---------------------------------------------------- */

typedef struct progress_log {
    int calls;
    int64_t last_done, last_total;
    int monotonic;
} progress_log;

static void record_progress(void *context, int64_t done, int64_t total)
{
    progress_log *log = context;
    if (log->calls > 0 && (done < log->last_done || total != log->last_total))
        log->monotonic = 0;
    log->calls++;
    log->last_done = done;
    log->last_total = total;
}

/*
 * expiry_days=30: m1 earns on day 0, 10 and 20 and redeems 40 on day 25
 * (from the day-0 lot); m2 earns on day 0; m3 on day 20. On day 31 the sweep
 * writes one `expire` entry for m1 (-60) and one for m2 (-70); a second run
 * finds nothing and writes nothing.
 */
static void test_expiry_sweep(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"expiry_days\":30}");
    add_member(fx, "m1");
    add_member(fx, "m2");
    add_member(fx, "m3");
    int64_t lot0 = award_points(fx, "m1", "m1-d0", 100);
    int64_t m2lot = award_points(fx, "m2", "m2-d0", 70);
    clock_at(fx, 10 * DAY_US);
    int64_t lot10 = award_points(fx, "m1", "m1-d10", 50);
    clock_at(fx, 20 * DAY_US);
    int64_t lot20 = award_points(fx, "m1", "m1-d20", 30);
    award_points(fx, "m3", "m3-d20", 5);
    clock_at(fx, 25 * DAY_US);
    redeem_points(fx, "m1", "r25", 40);
    assert_int_equal(lot_remaining(fx, lot0), 60);

    /* A sweep before anything expired does nothing. */
    clock_at(fx, 30 * DAY_US - 1);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_expire_result result;
    assert_int_equal(loyalty_expire(fx->ledger, &result, NULL, NULL), LOYALTY_OK);
    assert_int_equal(result.expired_points, 0);
    assert_int_equal(result.members, 0);
    assert_int_equal(result.holds_lapsed, 0);
    assert_unchanged(fx, "m1", &before);

    /* Day 30: expired but not swept. */
    clock_at(fx, 30 * DAY_US);
    assert_member(fx, "m1", 140, 80, 0, 0, 60, 0);
    assert_member(fx, "m2", 70, 0, 0, 0, 70, 0);
    assert_member(fx, "m3", 5, 5, 0, 0, 0, 0);

    /* Day 31: the sweep. */
    clock_at(fx, 31 * DAY_US);
    int64_t rows = audit_rows(fx);
    progress_log log = {.monotonic = 1};
    assert_int_equal(loyalty_expire(fx->ledger, &result, record_progress, &log), LOYALTY_OK);
    assert_int_equal(result.expired_points, 130);
    assert_int_equal(result.members, 2);
    assert_int_equal(result.holds_lapsed, 0);
    assert_true(log.calls >= 1);
    assert_int_equal(log.last_done, 2);
    assert_int_equal(log.last_total, 2);
    assert_int_equal(audit_rows(fx), rows + 2);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'expire'"), 2);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal WHERE kind = 'expire'"), 2);
    assert_int_equal(sql_integer(fx, "SELECT j.points FROM journal j JOIN members m"
                                     " ON m.id = j.member_id WHERE j.kind = 'expire'"
                                     " AND m.external_id = 'm1'"),
                     -60);
    assert_int_equal(sql_integer(fx, "SELECT j.points FROM journal j JOIN members m"
                                     " ON m.id = j.member_id WHERE j.kind = 'expire'"
                                     " AND m.external_id = 'm2'"),
                     -70);
    assert_int_equal(sql_integer(fx, "SELECT j.balance_after FROM journal j JOIN members m"
                                     " ON m.id = j.member_id WHERE j.kind = 'expire'"
                                     " AND m.external_id = 'm1'"),
                     80);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal j JOIN members m"
                                     " ON m.id = j.member_id WHERE j.kind = 'expire'"
                                     " AND m.external_id = 'm3'"),
                     0);
    assert_int_equal(lot_remaining(fx, lot0), 0);
    assert_int_equal(lot_remaining(fx, m2lot), 0);
    assert_int_equal(lot_remaining(fx, lot10), 50);
    assert_int_equal(lot_remaining(fx, lot20), 30);
    assert_member(fx, "m1", 80, 80, 0, 0, 0, 0);
    assert_member(fx, "m2", 0, 0, 0, 0, 0, 0);
    assert_member(fx, "m3", 5, 5, 0, 0, 0, 0);
    loyalty_member_info info = member_get(fx, "m1");
    assert_int_equal(info.next_expiry_us, T0_US + 40 * DAY_US);
    assert_int_equal(info.next_expiry_points, 50);
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.expired, 130);
    assert_int_equal(stats.issued, 255);
    assert_int_equal(stats.redeemed, 40);
    assert_int_equal(stats.outstanding, 85);
    check_ledger(fx);

    /* Again: nothing to do, nothing written. */
    snapshot_take(fx, "m1", &before);
    assert_int_equal(loyalty_expire(fx->ledger, &result, NULL, NULL), LOYALTY_OK);
    assert_int_equal(result.expired_points, 0);
    assert_int_equal(result.members, 0);
    assert_int_equal(result.holds_lapsed, 0);
    assert_unchanged(fx, "m1", &before);
    check_ledger(fx);
}

/* A sweep at exactly the expiry instant removes the lot; the rest expire later. */
static void test_expiry_sweep_at_exact_boundary(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"expiry_days\":30}");
    add_member(fx, "m1");
    award_points(fx, "m1", "a0", 10);
    clock_at(fx, 1);
    award_points(fx, "m1", "a1", 20);
    clock_at(fx, 30 * DAY_US);
    assert_member(fx, "m1", 30, 20, 0, 0, 10, 0);
    loyalty_expire_result result;
    assert_int_equal(loyalty_expire(fx->ledger, &result, NULL, NULL), LOYALTY_OK);
    assert_int_equal(result.expired_points, 10);
    assert_int_equal(result.members, 1);
    assert_member(fx, "m1", 20, 20, 0, 0, 0, 0);
    clock_at(fx, 30 * DAY_US + 1);
    assert_member(fx, "m1", 20, 0, 0, 0, 20, 0);
    assert_int_equal(loyalty_expire(fx->ledger, &result, NULL, NULL), LOYALTY_OK);
    assert_int_equal(result.expired_points, 20);
    assert_int_equal(result.members, 1);
    assert_member(fx, "m1", 0, 0, 0, 0, 0, 0);
    check_ledger(fx);
}

/* More members than one batch holds, plus a lapsed hold: all swept, progress reaches the total. */
static void test_expiry_sweep_in_batches(void **state)
{
    fixture *fx = *state;
    enum { MEMBERS = 260 };
    load_program(fx, "{\"expiry_days\":1,\"hold_ttl_seconds\":60}");
    char id[32];
    for (int i = 0; i < MEMBERS; i++) {
        snprintf(id, sizeof id, "b%03d", i);
        add_member(fx, id);
        award_points(fx, id, id, i + 1);
    }
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "b000", "h1", 1, &h), LOYALTY_OK, "hold");
    clock_at(fx, DAY_US);
    progress_log log = {.monotonic = 1};
    loyalty_expire_result result;
    assert_int_equal(loyalty_expire(fx->ledger, &result, record_progress, &log), LOYALTY_OK);
    assert_int_equal(result.members, MEMBERS);
    assert_int_equal(result.expired_points, MEMBERS * (MEMBERS + 1) / 2);
    assert_int_equal(result.holds_lapsed, 1);
    assert_true(log.calls >= 2);
    assert_true(log.monotonic);
    assert_int_equal(log.last_done, MEMBERS + 1);
    assert_int_equal(log.last_total, MEMBERS + 1);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal WHERE kind = 'expire'"),
                     MEMBERS);
    assert_int_equal(sql_integer(fx, "SELECT COALESCE(SUM(balance), 0) FROM members"), 0);
    snapshot before;
    snapshot_take(fx, "b000", &before);
    assert_int_equal(loyalty_expire(fx->ledger, &result, NULL, NULL), LOYALTY_OK);
    assert_int_equal(result.members + result.expired_points + result.holds_lapsed, 0);
    assert_unchanged(fx, "b000", &before);
    check_ledger(fx);
}

/* --- member status ------------------------------------------------------- */

static void test_freeze_and_unfreeze(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 100);
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "m1", "h0", 10, &h), LOYALTY_OK, "hold before freezing");

    loyalty_member_info info;
    int replayed = -1;
    int64_t rows = audit_rows(fx);
    expect_rc(fx, loyalty_member_freeze(fx->ledger, "m1", "fraud-check", &info, &replayed),
              LOYALTY_OK, "freeze");
    assert_int_equal(replayed, 0);
    assert_string_equal(info.status, "frozen");
    assert_int_equal(info.balance, 100);
    assert_int_equal(info.available, 90);
    assert_int_equal(audit_rows(fx), rows + 1);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'member_freeze'"),
                     1);

    snapshot before;
    snapshot_take(fx, "m1", &before);
    replayed = -1;
    expect_rc(fx, loyalty_member_freeze(fx->ledger, "m1", "again", &info, &replayed), LOYALTY_OK,
              "freeze again");
    assert_int_equal(replayed, 1);
    assert_string_equal(info.status, "frozen");
    loyalty_posting p;
    expect_rc(fx, redeem(fx, "m1", "r1", 1, &p), LOYALTY_ERR_NOT_PERMITTED, "redeem while frozen");
    assert_errmsg_mentions(fx->ledger, "frozen");
    expect_rc(fx, hold(fx, "m1", "h1", 1, &h), LOYALTY_ERR_NOT_PERMITTED, "hold while frozen");
    expect_rc(fx, loyalty_capture(fx->ledger, "h0", 0, &h), LOYALTY_ERR_NOT_PERMITTED,
              "capture while frozen");
    assert_unchanged(fx, "m1", &before);

    /* A frozen member still earns. */
    expect_rc(fx, award(fx, "m1", "a2", 0, 5, &p), LOYALTY_OK, "bonus while frozen");
    assert_int_equal(p.balance, 105);
    expect_rc(fx, award(fx, "m1", "o1", 1000, 0, &p), LOYALTY_OK, "purchase while frozen");
    assert_int_equal(p.points, 10);
    assert_int_equal(p.balance, 115);
    expect_rc(fx, adjust(fx, "m1", "t1", 5, &p), LOYALTY_OK, "adjust while frozen");
    assert_int_equal(p.balance, 120);

    expect_rc(fx, loyalty_member_unfreeze(fx->ledger, "m1", "cleared", &info, &replayed),
              LOYALTY_OK, "unfreeze");
    assert_int_equal(replayed, 0);
    assert_string_equal(info.status, "active");
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, loyalty_member_unfreeze(fx->ledger, "m1", "cleared", &info, &replayed),
              LOYALTY_OK, "unfreeze again");
    assert_int_equal(replayed, 1);
    assert_unchanged(fx, "m1", &before);
    expect_rc(fx, redeem(fx, "m1", "r1", 10, &p), LOYALTY_OK, "redeem after unfreeze");
    assert_int_equal(p.balance, 110);
    expect_rc(fx, loyalty_capture(fx->ledger, "h0", 0, &h), LOYALTY_OK, "capture after unfreeze");
    assert_int_equal(h.balance, 100);
    assert_int_equal(h.available, 100);
    check_ledger(fx);
}

static void test_status_refusals(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    int replayed = -1;
    int64_t forfeited = -1;
    expect_rc(fx, loyalty_member_freeze(fx->ledger, "nobody", "r", NULL, &replayed),
              LOYALTY_ERR_NOT_FOUND, "freeze unknown");
    expect_rc(fx, loyalty_member_unfreeze(fx->ledger, "nobody", "r", NULL, &replayed),
              LOYALTY_ERR_NOT_FOUND, "unfreeze unknown");
    expect_rc(fx, loyalty_member_close(fx->ledger, "nobody", "r", &forfeited, &replayed),
              LOYALTY_ERR_NOT_FOUND, "close unknown");
    expect_rc(fx, loyalty_member_freeze(fx->ledger, "m1", "two words", NULL, &replayed),
              LOYALTY_ERR_INVALID, "bad reason");
    expect_rc(fx, loyalty_member_freeze(fx->ledger, "m1", NULL, NULL, &replayed),
              LOYALTY_ERR_INVALID, "no reason");
    expect_rc(fx, loyalty_member_close(fx->ledger, "m1", "", &forfeited, &replayed),
              LOYALTY_ERR_INVALID, "empty reason");
    expect_rc(fx, loyalty_member_close(fx->ledger, "bad id", "r", &forfeited, &replayed),
              LOYALTY_ERR_INVALID, "bad id");
    assert_unchanged(fx, "m1", &before);
}

/*
 * Closing forfeits every remaining point (spendable and pending) in one
 * `forfeit` entry and releases open holds; afterwards every write is refused
 * and changes nothing; closing again is a replay.
 */
static void test_close_forfeits_and_locks(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"pending_days\":14}");
    add_member(fx, "m1");
    add_member(fx, "m2");
    int64_t bonus = award_points(fx, "m1", "b1", 50);
    int64_t order = purchase(fx, "m1", "o1", 10000, 100);
    award_points(fx, "m2", "b2", 5);
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "m1", "h1", 20, &h), LOYALTY_OK, "hold");
    assert_member(fx, "m1", 150, 30, 100, 20, 0, 0);

    int64_t forfeited = -1;
    int replayed = -1;
    int64_t rows = audit_rows(fx);
    expect_rc(fx, loyalty_member_close(fx->ledger, "m1", "request", &forfeited, &replayed),
              LOYALTY_OK, "close");
    assert_int_equal(forfeited, 150);
    assert_int_equal(replayed, 0);
    assert_int_equal(audit_rows(fx), rows + 1);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'member_close'"),
                     1);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal WHERE kind = 'forfeit'"), 1);
    assert_int_equal(sql_integer(fx, "SELECT points FROM journal WHERE kind = 'forfeit'"), -150);
    assert_int_equal(sql_integer(fx, "SELECT balance_after FROM journal WHERE kind = 'forfeit'"),
                     0);
    assert_int_equal(sql_integer(fx, "SELECT reason = 'request' FROM journal"
                                     " WHERE kind = 'forfeit'"),
                     1);
    assert_int_equal(sql_integer(fx, "SELECT status = 'released' FROM holds WHERE ref = 'h1'"), 1);
    assert_int_equal(lot_remaining(fx, bonus), 0);
    assert_int_equal(lot_remaining(fx, order), 0);
    loyalty_member_info info = member_get(fx, "m1");
    assert_string_equal(info.status, "closed");
    assert_member(fx, "m1", 0, 0, 0, 0, 0, 0);
    assert_member(fx, "m2", 5, 5, 0, 0, 0, 0);
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.forfeited, 150);
    assert_int_equal(stats.outstanding, 5);
    check_ledger(fx);

    /* Every write on the closed member is refused and changes nothing. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_posting p;
    expect_rc(fx, award(fx, "m1", "b9", 0, 5, &p), LOYALTY_ERR_NOT_PERMITTED, "bonus");
    assert_errmsg_mentions(fx->ledger, "closed");
    expect_rc(fx, award(fx, "m1", "o9", 1000, 0, &p), LOYALTY_ERR_NOT_PERMITTED, "purchase");
    expect_rc(fx, redeem(fx, "m1", "r9", 1, &p), LOYALTY_ERR_NOT_PERMITTED, "redeem");
    expect_rc(fx, adjust(fx, "m1", "t9", 5, &p), LOYALTY_ERR_NOT_PERMITTED, "adjust +");
    expect_rc(fx, adjust(fx, "m1", "t9", -5, &p), LOYALTY_ERR_NOT_PERMITTED, "adjust -");
    expect_rc(fx, hold(fx, "m1", "h9", 1, &h), LOYALTY_ERR_NOT_PERMITTED, "hold");
    expect_rc(fx, refund(fx, "m1", "rf9", "o1", 100, &p), LOYALTY_ERR_NOT_PERMITTED, "refund");
    expect_rc(fx, reverse(fx, bonus, "rv9", &p), LOYALTY_ERR_NOT_PERMITTED, "reverse");
    expect_rc(fx, loyalty_member_freeze(fx->ledger, "m1", "x", NULL, &replayed),
              LOYALTY_ERR_NOT_PERMITTED, "freeze");
    expect_rc(fx, loyalty_member_unfreeze(fx->ledger, "m1", "x", NULL, &replayed),
              LOYALTY_ERR_NOT_PERMITTED, "unfreeze");
    /* The hold was released by the closing. */
    expect_rc(fx, loyalty_capture(fx->ledger, "h1", 0, &h), LOYALTY_ERR_STATE, "capture");
    expect_rc(fx, loyalty_release(fx->ledger, "h1", &h), LOYALTY_ERR_STATE, "release");
    assert_unchanged(fx, "m1", &before);

    /* Closing again is a replay. */
    forfeited = -1;
    replayed = -1;
    expect_rc(fx, loyalty_member_close(fx->ledger, "m1", "request", &forfeited, &replayed),
              LOYALTY_OK, "close again");
    assert_int_equal(replayed, 1);
    assert_int_equal(forfeited, 0);
    assert_unchanged(fx, "m1", &before);

    /* Nothing is left to mature or expire later. */
    clock_at(fx, 15 * DAY_US);
    assert_member(fx, "m1", 0, 0, 0, 0, 0, 0);
    check_ledger(fx);
}

/* Closing a member in debt forfeits nothing and leaves the debt on record. */
static void test_close_with_debt(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    purchase(fx, "m1", "o1", 10000, 100);
    redeem_points(fx, "m1", "r1", 100);
    loyalty_posting p;
    expect_rc(fx, refund(fx, "m1", "rf1", "o1", 6000, &p), LOYALTY_OK, "refund");
    assert_int_equal(p.balance, -60);
    assert_member(fx, "m1", -60, 0, 0, 0, 0, 60);
    int64_t journal_rows = sql_integer(fx, "SELECT COUNT(*) FROM journal");
    int64_t forfeited = -1;
    int replayed = -1;
    expect_rc(fx, loyalty_member_close(fx->ledger, "m1", "request", &forfeited, &replayed),
              LOYALTY_OK, "close");
    assert_int_equal(forfeited, 0);
    assert_int_equal(replayed, 0);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal"), journal_rows);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'member_close'"),
                     1);
    loyalty_member_info info = member_get(fx, "m1");
    assert_string_equal(info.status, "closed");
    assert_member(fx, "m1", -60, 0, 0, 0, 0, 60);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, award(fx, "m1", "b1", 0, 60, &p), LOYALTY_ERR_NOT_PERMITTED, "repay by award");
    expect_rc(fx, refund(fx, "m1", "rf2", "o1", 4000, &p), LOYALTY_ERR_NOT_PERMITTED, "refund");
    assert_unchanged(fx, "m1", &before);
    check_ledger(fx);
}

/* Closing with no points writes the audit entry but no journal row. */
static void test_close_empty_member(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    int64_t forfeited = -1;
    int replayed = -1;
    expect_rc(fx, loyalty_member_close(fx->ledger, "m1", "request", &forfeited, &replayed),
              LOYALTY_OK, "close");
    assert_int_equal(forfeited, 0);
    assert_int_equal(replayed, 0);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal"), 0);
    assert_string_equal(member_get(fx, "m1").status, "closed");
    check_ledger(fx);
}

/* The sweep also reaches frozen members; a closed member has nothing left to expire. */
static void test_expiry_of_frozen_and_closed(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"expiry_days\":10}");
    add_member(fx, "frozen");
    add_member(fx, "closed");
    award_points(fx, "frozen", "a1", 40);
    award_points(fx, "closed", "a2", 30);
    assert_int_equal(loyalty_member_freeze(fx->ledger, "frozen", "review", NULL, NULL), LOYALTY_OK);
    int64_t forfeited = 0;
    assert_int_equal(loyalty_member_close(fx->ledger, "closed", "request", &forfeited, NULL),
                     LOYALTY_OK);
    assert_int_equal(forfeited, 30);
    clock_at(fx, 10 * DAY_US);
    loyalty_expire_result result;
    assert_int_equal(loyalty_expire(fx->ledger, &result, NULL, NULL), LOYALTY_OK);
    assert_int_equal(result.expired_points, 40);
    assert_int_equal(result.members, 1);
    assert_member(fx, "frozen", 0, 0, 0, 0, 0, 0);
    assert_member(fx, "closed", 0, 0, 0, 0, 0, 0);
    check_ledger(fx);
}

/* --- misuse and known bugs ------------------------------------------------ */

static void test_lifecycle_misuse(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 10);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    int replayed = -1;
    int64_t forfeited = -1;
    expect_rc(fx, loyalty_expire(fx->ledger, NULL, NULL, NULL), LOYALTY_ERR_MISUSE,
              "expire without result");
    expect_rc(fx, loyalty_expire(NULL, NULL, NULL, NULL), LOYALTY_ERR_MISUSE, "expire NULL, NULL");
    expect_rc(fx, loyalty_member_freeze(NULL, "m1", "r", NULL, &replayed), LOYALTY_ERR_MISUSE,
              "freeze NULL ledger");
    expect_rc(fx, loyalty_member_unfreeze(NULL, "m1", "r", NULL, &replayed), LOYALTY_ERR_MISUSE,
              "unfreeze NULL ledger");
    expect_rc(fx, loyalty_member_close(NULL, "m1", "r", &forfeited, &replayed), LOYALTY_ERR_MISUSE,
              "close NULL ledger");
    assert_unchanged(fx, "m1", &before);
}

/* Regressions: bugs these tests found, fixed in the library. */

/* loyalty_expire(NULL, &result, ...) must return MISUSE; it reads the NULL handle's clock. */
static void test_expire_null_ledger(void **state)
{
    (void)state;
    loyalty_expire_result result;
    assert_int_equal(loyalty_expire(NULL, &result, NULL, NULL), LOYALTY_ERR_MISUSE);
}

/*
 * A hold that has lapsed is closed ("lapsed" is final: capture and release
 * say so); closing the member must release only holds still open, not turn
 * the lapsed one into "released" nor count it in holds_released.
 */
static void test_close_leaves_lapsed_hold_to_sweep(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"hold_ttl_seconds\":60}");
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 10);
    loyalty_hold_info h;
    expect_rc(fx, hold(fx, "m1", "h1", 5, &h), LOYALTY_OK, "hold");
    clock_at(fx, 60 * SECOND_US);
    expect_rc(fx, hold(fx, "m1", "h1", 5, &h), LOYALTY_OK, "replay");
    assert_string_equal(h.status, "lapsed");
    int64_t forfeited = -1;
    expect_rc(fx, loyalty_member_close(fx->ledger, "m1", "request", &forfeited, NULL), LOYALTY_OK,
              "close");
    assert_int_equal(forfeited, 10);
    expect_rc(fx, hold(fx, "m1", "h1", 5, &h), LOYALTY_OK, "replay after close");
    assert_string_equal(h.status, "lapsed");
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'member_close'"
                                     " AND payload LIKE '%\"holds_released\":0%'"),
                     1);
    check_ledger(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_expiry_sweep, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_sweep_at_exact_boundary, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expiry_sweep_in_batches, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_freeze_and_unfreeze, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_status_refusals, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_close_forfeits_and_locks, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_debt, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_close_empty_member, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_of_frozen_and_closed, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_misuse, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_expire_null_ledger, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_close_leaves_lapsed_hold_to_sweep,
                                        setup_ledger, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
