/*
 * lifecycle_support.h - helpers shared by the lifecycle unit tests (lots,
 * holds, refunds, expiry and status): walking the clock, loading programs,
 * result-code checks naming the step, direct SQL, the ledger-wide invariant
 * check every writing test ends with, and one-line wrappers of the calls.
 * Include after support.h.
 */
#ifndef LOYALTY_TEST_LIFECYCLE_SUPPORT_H
#define LOYALTY_TEST_LIFECYCLE_SUPPORT_H

#define DAY_US INT64_C(86400000000)
#define SECOND_US INT64_C(1000000)

/* Replaces the fixture's handle with one whose clock reads T0_US + offset_us. */
SUPPORT void clock_at(fixture *fx, int64_t offset_us)
{
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    loyalty_open_options options = {
        .db_path = fx->db_path, .actor = ACTOR, .now_us = T0_US + offset_us};
    assert_int_equal(loyalty_open(&fx->ledger, &options), LOYALTY_OK);
}

SUPPORT void load_program(fixture *fx, const char *json)
{
    int64_t version = 0;
    int rc = loyalty_program_load(fx->ledger, json, &version);
    if (rc != LOYALTY_OK)
        fail_msg("program %s: %s (%s)", json, loyalty_result_name(rc), loyalty_errmsg(fx->ledger));
    assert_true(version > 1);
}

/* Fails the test with the code's name (and the handle's message) when rc is not expected. */
SUPPORT void expect_rc(fixture *fx, int rc, int expected, const char *what)
{
    if (rc != expected)
        fail_msg("%s: expected %s, got %s (%s)", what, loyalty_result_name(expected),
                 loyalty_result_name(rc), loyalty_errmsg(fx->ledger));
}

SUPPORT int64_t sqlf(const fixture *fx, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* sql_integer with printf-style formatting. */
SUPPORT int64_t sqlf(const fixture *fx, const char *format, ...)
{
    char sql[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(sql, sizeof sql, format, args);
    va_end(args);
    assert_true(n > 0 && n < (int)sizeof sql);
    return sql_integer(fx, sql);
}

/* What is left of the lot that transaction tx created. */
SUPPORT int64_t lot_remaining(const fixture *fx, int64_t tx)
{
    assert_int_equal(sqlf(fx, "SELECT COUNT(*) FROM lots WHERE tx = %lld", (long long)tx), 1);
    return sqlf(fx, "SELECT remaining FROM lots WHERE tx = %lld", (long long)tx);
}

SUPPORT int64_t audit_rows(const fixture *fx)
{
    return sql_integer(fx, "SELECT COUNT(*) FROM audit");
}

/*
 * The whole ledger holds together: loyalty_verify passes; every member's
 * journal deltas sum to the balance and the lots' remainders less the debt
 * make it too; the statistics add up and match the journal; available is
 * never negative nor more than a positive balance.
 */
SUPPORT void check_ledger(fixture *fx)
{
    loyalty_verify_report report;
    memset(&report, 0, sizeof report);
    int rc = loyalty_verify(fx->ledger, NULL, NULL, &report);
    if (rc != LOYALTY_OK || !report.ok)
        fail_msg("verify: %s, seq %lld, table '%s', row '%s': %s (%s)", loyalty_result_name(rc),
                 (long long)report.first_bad_seq, report.table, report.row_key, report.reason,
                 loyalty_errmsg(fx->ledger));
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM members m WHERE m.balance !="
                                     " (SELECT COALESCE(SUM(j.points), 0) FROM journal j"
                                     "  WHERE j.member_id = m.id)"),
                     0);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM members m WHERE m.balance !="
                                     " (SELECT COALESCE(SUM(o.remaining), 0) FROM lots o"
                                     "  WHERE o.member_id = m.id) - m.debt"),
                     0);
    loyalty_stats s;
    assert_int_equal(loyalty_stats_get(fx->ledger, &s), LOYALTY_OK);
    assert_int_equal(s.outstanding, s.issued - s.redeemed - s.expired - s.clawed_back -
                                        s.forfeited + s.adjusted + s.reversed);
    assert_int_equal(s.outstanding,
                     sql_integer(fx, "SELECT COALESCE(SUM(points), 0) FROM journal"));
    assert_int_equal(s.outstanding,
                     sql_integer(fx, "SELECT COALESCE(SUM(balance), 0) FROM members"));
    assert_int_equal(s.members, sql_integer(fx, "SELECT COUNT(*) FROM members"));
    assert_int_equal(s.transactions, sql_integer(fx, "SELECT COUNT(*) FROM journal"));
    assert_int_equal(s.issued, sql_integer(fx, "SELECT COALESCE(SUM(points), 0) FROM journal"
                                               " WHERE kind = 'award'"));
    assert_int_equal(s.redeemed, sql_integer(fx, "SELECT -COALESCE(SUM(points), 0) FROM journal"
                                                 " WHERE kind IN ('redeem', 'capture')"));
    assert_int_equal(s.expired, sql_integer(fx, "SELECT -COALESCE(SUM(points), 0) FROM journal"
                                                " WHERE kind = 'expire'"));
    assert_int_equal(s.clawed_back, sql_integer(fx, "SELECT -COALESCE(SUM(points), 0) FROM journal"
                                                    " WHERE kind = 'refund'"));
    assert_int_equal(s.forfeited, sql_integer(fx, "SELECT -COALESCE(SUM(points), 0) FROM journal"
                                                  " WHERE kind = 'forfeit'"));
    sqlite3 *db = db_direct(fx, 0);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT external_id FROM members", -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        loyalty_member_info info = member_get(fx, (const char *)sqlite3_column_text(st, 0));
        assert_true(info.available >= 0);
        assert_true(info.available <= (info.balance > 0 ? info.balance : 0));
        assert_true(info.pending >= 0 && info.held >= 0 && info.expired >= 0 && info.debt >= 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

SUPPORT int award(fixture *fx, const char *member, const char *ref, int64_t amount, int64_t points,
                 loyalty_posting *out)
{
    loyalty_award_request r = {.member = member, .ref = ref, .amount_minor = amount,
                               .points = points};
    return loyalty_award(fx->ledger, &r, out);
}

SUPPORT int redeem(fixture *fx, const char *member, const char *ref, int64_t points,
                  loyalty_posting *out)
{
    loyalty_redeem_request r = {.member = member, .ref = ref, .points = points};
    return loyalty_redeem(fx->ledger, &r, out);
}

SUPPORT int adjust(fixture *fx, const char *member, const char *ref, int64_t points,
                  loyalty_posting *out)
{
    loyalty_adjust_request r = {.member = member, .ref = ref, .points = points,
                                .reason = "support"};
    return loyalty_adjust(fx->ledger, &r, out);
}

SUPPORT int reverse(fixture *fx, int64_t tx, const char *ref, loyalty_posting *out)
{
    loyalty_reverse_request r = {.tx = tx, .ref = ref, .reason = "undo"};
    return loyalty_reverse(fx->ledger, &r, out);
}

SUPPORT int refund(fixture *fx, const char *member, const char *ref, const char *order,
                  int64_t amount, loyalty_posting *out)
{
    loyalty_refund_request r = {.member = member, .ref = ref, .order_ref = order,
                                .amount_minor = amount};
    return loyalty_refund(fx->ledger, &r, out);
}

SUPPORT int hold(fixture *fx, const char *member, const char *ref, int64_t points,
                loyalty_hold_info *out)
{
    loyalty_hold_request r = {.member = member, .ref = ref, .points = points};
    return loyalty_hold(fx->ledger, &r, out);
}

/* A purchase award that must succeed; returns its transaction. */
SUPPORT int64_t purchase(fixture *fx, const char *member, const char *ref, int64_t amount,
                        int64_t expected_points)
{
    loyalty_posting p;
    expect_rc(fx, award(fx, member, ref, amount, 0, &p), LOYALTY_OK, ref);
    assert_int_equal(p.replayed, 0);
    assert_int_equal(p.points, expected_points);
    return p.tx;
}

/* Asserts a member's figures through the API. */
SUPPORT void assert_member(fixture *fx, const char *member, int64_t balance, int64_t available,
                          int64_t pending, int64_t held, int64_t expired, int64_t debt)
{
    loyalty_member_info info = member_get(fx, member);
    assert_int_equal(info.balance, balance);
    assert_int_equal(info.available, available);
    assert_int_equal(info.pending, pending);
    assert_int_equal(info.held, held);
    assert_int_equal(info.expired, expired);
    assert_int_equal(info.debt, debt);
}

#endif
