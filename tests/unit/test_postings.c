/*
 * test_postings.c - award, redeem, adjust and reverse: results, bounds,
 * idempotency (replay and conflict), insufficient points, reason and note
 * rules, reversal states, debt from a clawback, and the invariant that every
 * member's journal deltas sum to the balance. Every refusal asserts its code
 * and that nothing changed.
 */
#include "support.h"

/* 256 bytes of text, the longest note or reason allowed. */
#define TEXT_256                                                                                   \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"                             \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"                             \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"                             \
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int award(fixture *fx, const char *member, const char *ref, int64_t amount, int64_t points,
                 const char *reason, loyalty_posting *out)
{
    loyalty_award_request r = {member, ref, amount, points, reason};
    return loyalty_award(fx->ledger, &r, out);
}

static int redeem(fixture *fx, const char *member, const char *ref, int64_t points,
                  loyalty_posting *out)
{
    loyalty_redeem_request r = {member, ref, points};
    return loyalty_redeem(fx->ledger, &r, out);
}

static int adjust(fixture *fx, const char *member, const char *ref, int64_t points,
                  const char *reason, const char *note, loyalty_posting *out)
{
    loyalty_adjust_request r = {member, ref, points, reason, note};
    return loyalty_adjust(fx->ledger, &r, out);
}

static int reverse(fixture *fx, int64_t tx, const char *ref, const char *reason,
                   loyalty_posting *out)
{
    loyalty_reverse_request r = {tx, ref, reason};
    return loyalty_reverse(fx->ledger, &r, out);
}

/* Fails the test with the code's name when rc is not expected. */
static void expect(int rc, int expected, const char *what)
{
    if (rc != expected)
        fail_msg("%s: expected %s, got %s", what, loyalty_result_name(expected),
                 loyalty_result_name(rc));
}

/* Invariant 1 and 2, read straight from the database and through the API. */
static void assert_invariants(fixture *fx)
{
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM members m WHERE m.balance !="
                                     " (SELECT COALESCE(SUM(j.points), 0) FROM journal j"
                                     "  WHERE j.member_id = m.id)"),
                     0);
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.outstanding,
                     sql_integer(fx, "SELECT COALESCE(SUM(points), 0) FROM journal"));
    sqlite3 *db = db_direct(fx, 0);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT external_id FROM members", -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        loyalty_member_info info = member_get(fx, (const char *)sqlite3_column_text(st, 0));
        assert_true(info.available >= 0);
        assert_true(info.available <= (info.balance > 0 ? info.balance : 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_award_by_amount(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    loyalty_posting p;
    assert_int_equal(award(fx, "m1", "order-1", 12999, 0, NULL, &p), LOYALTY_OK);
    assert_true(p.tx > 0);
    assert_string_equal(p.member, "m1");
    assert_int_equal(p.points, 129);
    assert_int_equal(p.replayed, 0);
    assert_int_equal(p.balance, 129);
    assert_int_equal(p.available, 129);
    assert_int_equal(p.multiplier_permille, 1000);
    assert_int_equal(p.reversed_tx, 0);
    assert_int_equal(p.audit_seq, sql_integer(fx, "SELECT MAX(seq) FROM audit"));
    assert_int_equal(member_get(fx, "m1").balance, 129);
    /* A purchase too small to earn a point is still recorded. */
    assert_int_equal(award(fx, "m1", "order-2", 99, 0, NULL, &p), LOYALTY_OK);
    assert_int_equal(p.points, 0);
    assert_int_equal(p.balance, 129);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal"), 2);
    assert_invariants(fx);
}

static void test_award_by_points(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    loyalty_posting p;
    assert_int_equal(award(fx, "m1", "welcome", 0, 500, "welcome bonus \xe2\x82\xac", &p),
                     LOYALTY_OK);
    assert_int_equal(p.points, 500);
    assert_int_equal(p.balance, 500);
    assert_int_equal(p.available, 500);
    assert_int_equal(award(fx, "m1", "max", 0, INT64_C(1000000000000), TEXT_256, &p), LOYALTY_OK);
    assert_int_equal(p.balance, INT64_C(1000000000500));
    assert_invariants(fx);
}

typedef struct bad_award {
    const char *member, *ref;
    int64_t amount, points;
    const char *reason;
    int expected;
} bad_award;

static const bad_award bad_awards[] = {
    {"m1", "a", 0, 0, NULL, LOYALTY_ERR_INVALID},   /* neither */
    {"m1", "a", 100, 5, NULL, LOYALTY_ERR_INVALID}, /* both */
    {"m1", "a", -100, 0, NULL, LOYALTY_ERR_INVALID},
    {"m1", "a", INT64_C(1000000000000001), 0, NULL, LOYALTY_ERR_INVALID},
    {"m1", "a", INT64_MAX, 0, NULL, LOYALTY_ERR_INVALID},
    {"m1", "a", INT64_MIN, 0, NULL, LOYALTY_ERR_INVALID},
    {"m1", "a", 0, -1, NULL, LOYALTY_ERR_INVALID},
    {"m1", "a", 0, INT64_C(1000000000001), NULL, LOYALTY_ERR_INVALID},
    {"m1", "a", 0, INT64_MIN, NULL, LOYALTY_ERR_INVALID},
    {"m1", "a", -1, 1, NULL, LOYALTY_ERR_INVALID},
    {"m1", "", 0, 1, NULL, LOYALTY_ERR_INVALID},
    {"m1", NULL, 0, 1, NULL, LOYALTY_ERR_INVALID},
    {"m1", "has space", 0, 1, NULL, LOYALTY_ERR_INVALID},
    {"m1", "0123456789012345678901234567890123456789012345678901234567890123x", 0, 1, NULL,
     LOYALTY_ERR_INVALID},
    {"", "a", 0, 1, NULL, LOYALTY_ERR_INVALID},
    {NULL, "a", 0, 1, NULL, LOYALTY_ERR_INVALID},
    {"m1", "a", 0, 1, "", LOYALTY_ERR_INVALID},
    {"m1", "a", 0, 1, "line\nbreak", LOYALTY_ERR_INVALID},
    {"m1", "a", 0, 1, "bad \xc3\x28 utf8", LOYALTY_ERR_INVALID},
    {"m1", "a", 0, 1, TEXT_256 "x", LOYALTY_ERR_INVALID},
    {"nobody", "a", 0, 1, NULL, LOYALTY_ERR_NOT_FOUND},
};

static void test_award_refusals_change_nothing(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "first", 10);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    for (size_t i = 0; i < sizeof bad_awards / sizeof bad_awards[0]; i++) {
        const bad_award *b = &bad_awards[i];
        loyalty_posting p;
        char what[32];
        snprintf(what, sizeof what, "bad award #%zu", i);
        expect(award(fx, b->member, b->ref, b->amount, b->points, b->reason, &p), b->expected,
               what);
        assert_true(loyalty_errmsg(fx->ledger)[0] != '\0');
    }
    assert_unchanged(fx, "m1", &before);
}

static void test_award_replay_and_conflict(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    add_member(fx, "m2");
    loyalty_posting first, again;
    assert_int_equal(award(fx, "m1", "order-7", 5000, 0, "web", &first), LOYALTY_OK);
    snapshot before;
    snapshot_take(fx, "m1", &before);

    reopen(fx);
    assert_int_equal(award(fx, "m1", "order-7", 5000, 0, "web", &again), LOYALTY_OK);
    assert_int_equal(again.replayed, 1);
    assert_int_equal(again.tx, first.tx);
    assert_int_equal(again.points, first.points);
    assert_int_equal(again.audit_seq, first.audit_seq);
    assert_int_equal(again.balance, 50);
    assert_unchanged(fx, "m1", &before);

    expect(award(fx, "m1", "order-7", 5001, 0, "web", &again), LOYALTY_ERR_CONFLICT, "amount");
    assert_errmsg_mentions(fx->ledger, "order-7");
    expect(award(fx, "m2", "order-7", 5000, 0, "web", &again), LOYALTY_ERR_CONFLICT, "member");
    expect(award(fx, "m1", "order-7", 0, 50, "web", &again), LOYALTY_ERR_CONFLICT, "points");
    expect(award(fx, "m1", "order-7", 5000, 0, "app", &again), LOYALTY_ERR_CONFLICT, "reason");
    expect(award(fx, "m1", "order-7", 5000, 0, NULL, &again), LOYALTY_ERR_CONFLICT, "no reason");
    assert_unchanged(fx, "m1", &before);

    /* References are per kind: a redemption may reuse it. */
    assert_int_equal(redeem(fx, "m1", "order-7", 10, &again), LOYALTY_OK);
    assert_int_equal(again.replayed, 0);
    assert_int_equal(again.balance, 40);
}

static void test_redeem(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 100);
    loyalty_posting p, again;
    assert_int_equal(redeem(fx, "m1", "r1", 30, &p), LOYALTY_OK);
    assert_int_equal(p.points, -30);
    assert_int_equal(p.balance, 70);
    assert_int_equal(p.available, 70);
    assert_int_equal(p.replayed, 0);
    assert_int_equal(redeem(fx, "m1", "r2", 70, &p), LOYALTY_OK);
    assert_int_equal(p.balance, 0);
    assert_int_equal(p.available, 0);

    /* A replay answers even though nothing is left to spend now. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    assert_int_equal(redeem(fx, "m1", "r2", 70, &again), LOYALTY_OK);
    assert_int_equal(again.replayed, 1);
    assert_int_equal(again.tx, p.tx);
    assert_int_equal(again.points, -70);
    expect(redeem(fx, "m1", "r2", 69, &again), LOYALTY_ERR_CONFLICT, "other points");
    assert_unchanged(fx, "m1", &before);
    assert_invariants(fx);
}

static void test_redeem_refusals_change_nothing(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    add_member(fx, "empty");
    award_points(fx, "m1", "a1", 70);
    snapshot before, before_empty;
    snapshot_take(fx, "m1", &before);
    snapshot_take(fx, "empty", &before_empty);
    loyalty_posting p;
    expect(redeem(fx, "m1", "r1", 71, &p), LOYALTY_ERR_INSUFFICIENT, "71 of 70");
    assert_errmsg_mentions(fx->ledger, "m1");
    expect(redeem(fx, "empty", "r1", 1, &p), LOYALTY_ERR_INSUFFICIENT, "1 of 0");
    expect(redeem(fx, "m1", "r1", 0, &p), LOYALTY_ERR_INVALID, "zero");
    expect(redeem(fx, "m1", "r1", -5, &p), LOYALTY_ERR_INVALID, "negative");
    expect(redeem(fx, "m1", "r1", INT64_C(1000000000001), &p), LOYALTY_ERR_INVALID, "limit+1");
    expect(redeem(fx, "m1", "", 5, &p), LOYALTY_ERR_INVALID, "empty ref");
    expect(redeem(fx, "nobody", "r1", 5, &p), LOYALTY_ERR_NOT_FOUND, "unknown member");
    assert_unchanged(fx, "m1", &before);
    assert_unchanged(fx, "empty", &before_empty);
    /* The refused reference stays free. */
    assert_int_equal(redeem(fx, "m1", "r1", 70, &p), LOYALTY_OK);
    assert_int_equal(p.replayed, 0);
}

static void test_adjust(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    loyalty_posting p;
    assert_int_equal(adjust(fx, "m1", "t-1", 50, "goodwill", "late delivery", &p), LOYALTY_OK);
    assert_int_equal(p.points, 50);
    assert_int_equal(p.balance, 50);
    assert_int_equal(adjust(fx, "m1", "t-2", -20, "correction", NULL, &p), LOYALTY_OK);
    assert_int_equal(p.points, -20);
    assert_int_equal(p.balance, 30);
    assert_int_equal(p.available, 30);
    assert_int_equal(adjust(fx, "m1", "t-3", 1, "x", TEXT_256, &p), LOYALTY_OK);
    assert_int_equal(adjust(fx, "m1", "t-4", 1, "x", "caf\xc3\xa9 \xf0\x9f\x8e\x81", &p),
                     LOYALTY_OK);

    snapshot before;
    snapshot_take(fx, "m1", &before);
    assert_int_equal(adjust(fx, "m1", "t-1", 50, "goodwill", "late delivery", &p), LOYALTY_OK);
    assert_int_equal(p.replayed, 1);
    expect(adjust(fx, "m1", "t-1", 50, "goodwill", "other note", &p), LOYALTY_ERR_CONFLICT, "note");
    expect(adjust(fx, "m1", "t-1", 50, "goodwill", NULL, &p), LOYALTY_ERR_CONFLICT, "no note");
    expect(adjust(fx, "m1", "t-1", 50, "other", "late delivery", &p), LOYALTY_ERR_CONFLICT,
           "reason");
    expect(adjust(fx, "m1", "t-1", -50, "goodwill", "late delivery", &p), LOYALTY_ERR_CONFLICT,
           "sign");
    expect(adjust(fx, "m1", "t-9", -33, "correction", NULL, &p), LOYALTY_ERR_INSUFFICIENT,
           "-33 of 32");
    assert_unchanged(fx, "m1", &before);
    assert_invariants(fx);
}

typedef struct bad_adjust {
    int64_t points;
    const char *reason, *note, *mentions;
} bad_adjust;

static const bad_adjust bad_adjusts[] = {
    {0, "r", NULL, "points"},
    {INT64_C(1000000000001), "r", NULL, "points"},
    {INT64_C(-1000000000001), "r", NULL, "points"},
    {INT64_MIN, "r", NULL, "points"},
    {1, NULL, NULL, "reason"},
    {1, "", NULL, "reason"},
    {1, "two words", NULL, "reason"},
    {1, "0123456789012345678901234567890123456789012345678901234567890123x", NULL, "reason"},
    {1, "r", "line\nbreak", "note"},
    {1, "r", "carriage\rreturn", "note"},
    {1, "r", "bell\a", "note"},
    {1, "r", "tab\there", "note"},
    {1, "r", "del\x7f", "note"},
    {1, "r", "bad \xc3\x28", "note"},
    {1, "r", "truncated \xe2\x82", "note"},
    {1, "r", "lone \x80", "note"},
    {1, "r", "overlong \xc0\xaf", "note"},
    {1, "r", "overlong \xe0\x80\xaf", "note"},
    {1, "r", "surrogate \xed\xa0\x80", "note"},
    {1, "r", "beyond \xf4\x90\x80\x80", "note"},
    {1, "r", TEXT_256 "x", "note"},
};

static void test_adjust_refusals_change_nothing(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 10);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    for (size_t i = 0; i < sizeof bad_adjusts / sizeof bad_adjusts[0]; i++) {
        const bad_adjust *b = &bad_adjusts[i];
        loyalty_posting p;
        char what[32];
        snprintf(what, sizeof what, "bad adjustment #%zu", i);
        expect(adjust(fx, "m1", "adj", b->points, b->reason, b->note, &p), LOYALTY_ERR_INVALID,
               what);
        assert_errmsg_mentions(fx->ledger, b->mentions);
    }
    assert_unchanged(fx, "m1", &before);
}

static void test_reverse_once(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    int64_t awarded = award_points(fx, "m1", "a1", 100);
    int64_t redeemed = redeem_points(fx, "m1", "r1", 40);
    loyalty_posting p, again;
    assert_int_equal(reverse(fx, redeemed, "rv-1", "refund", &p), LOYALTY_OK);
    assert_int_equal(p.points, 40);
    assert_int_equal(p.reversed_tx, redeemed);
    assert_string_equal(p.member, "m1");
    assert_int_equal(p.balance, 100);
    assert_int_equal(p.available, 100);

    snapshot before;
    snapshot_take(fx, "m1", &before);
    assert_int_equal(reverse(fx, redeemed, "rv-1", "refund", &again), LOYALTY_OK);
    assert_int_equal(again.replayed, 1);
    assert_int_equal(again.tx, p.tx);
    assert_int_equal(again.reversed_tx, redeemed);
    expect(reverse(fx, redeemed, "rv-2", "refund", &again), LOYALTY_ERR_STATE, "twice");
    assert_errmsg_mentions(fx->ledger, "revers");
    expect(reverse(fx, p.tx, "rv-3", "undo", &again), LOYALTY_ERR_STATE, "a reversal");
    expect(reverse(fx, awarded, "rv-1", "refund", &again), LOYALTY_ERR_CONFLICT, "ref reused");
    expect(reverse(fx, redeemed, "rv-1", "other", &again), LOYALTY_ERR_CONFLICT, "other reason");
    expect(reverse(fx, 9999, "rv-4", "refund", &again), LOYALTY_ERR_NOT_FOUND, "unknown tx");
    expect(reverse(fx, 0, "rv-4", "refund", &again), LOYALTY_ERR_INVALID, "tx 0");
    expect(reverse(fx, -1, "rv-4", "refund", &again), LOYALTY_ERR_INVALID, "tx -1");
    expect(reverse(fx, awarded, "rv-4", NULL, &again), LOYALTY_ERR_INVALID, "no reason");
    expect(reverse(fx, awarded, "rv-4", "two words", &again), LOYALTY_ERR_INVALID, "bad reason");
    expect(reverse(fx, awarded, "", "refund", &again), LOYALTY_ERR_INVALID, "empty ref");
    assert_unchanged(fx, "m1", &before);
    assert_invariants(fx);
}

static void test_reverse_adjustments(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    loyalty_posting plus, minus, p;
    assert_int_equal(adjust(fx, "m1", "t1", 80, "goodwill", NULL, &plus), LOYALTY_OK);
    assert_int_equal(adjust(fx, "m1", "t2", -30, "correction", NULL, &minus), LOYALTY_OK);
    assert_int_equal(reverse(fx, minus.tx, "rv1", "mistake", &p), LOYALTY_OK);
    assert_int_equal(p.points, 30);
    assert_int_equal(p.balance, 80);
    assert_int_equal(reverse(fx, plus.tx, "rv2", "mistake", &p), LOYALTY_OK);
    assert_int_equal(p.points, -80);
    assert_int_equal(p.balance, 0);
    assert_int_equal(p.available, 0);
    assert_invariants(fx);
}

/* Taking back spent points records a debt that the next credits repay. */
static void test_reverse_spent_award_leaves_debt(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    int64_t awarded = award_points(fx, "m1", "a1", 100);
    redeem_points(fx, "m1", "r1", 80);
    loyalty_posting p;
    assert_int_equal(reverse(fx, awarded, "rv1", "chargeback", &p), LOYALTY_OK);
    assert_int_equal(p.points, -100);
    assert_int_equal(p.balance, -80);
    assert_int_equal(p.available, 0);
    assert_int_equal(member_get(fx, "m1").balance, -80);
    assert_invariants(fx);

    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect(redeem(fx, "m1", "r2", 1, &p), LOYALTY_ERR_INSUFFICIENT, "spend in debt");
    expect(adjust(fx, "m1", "t1", -1, "fix", NULL, &p), LOYALTY_ERR_INSUFFICIENT, "debit in debt");
    assert_unchanged(fx, "m1", &before);

    award_points(fx, "m1", "a2", 50);
    loyalty_member_info info = member_get(fx, "m1");
    assert_int_equal(info.balance, -30);
    assert_int_equal(info.available, 0);
    assert_int_equal(adjust(fx, "m1", "t2", 45, "goodwill", NULL, &p), LOYALTY_OK);
    assert_int_equal(p.balance, 15);
    assert_int_equal(p.available, 15);
    assert_int_equal(redeem(fx, "m1", "r3", 15, &p), LOYALTY_OK);
    assert_int_equal(p.balance, 0);
    assert_int_equal(p.available, 0);
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.outstanding, 0);
    assert_int_equal(stats.issued, 150);
    assert_int_equal(stats.redeemed, 95);
    assert_int_equal(stats.adjusted, 45);
    assert_int_equal(stats.reversed, -100);
    assert_invariants(fx);
}

static void test_journal_sums_to_balance(void **state)
{
    fixture *fx = *state;
    const char *members[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        add_member(fx, members[i]);
    int64_t txs[30];
    loyalty_posting p;
    char ref[32];
    for (int i = 0; i < 30; i++) {
        const char *m = members[i % 3];
        snprintf(ref, sizeof ref, "op-%d", i);
        txs[i] = award_points(fx, m, ref, 10 + i);
        if (i % 4 == 1) {
            snprintf(ref, sizeof ref, "rd-%d", i);
            assert_int_equal(redeem(fx, m, ref, 7, &p), LOYALTY_OK);
        }
        if (i % 5 == 2) {
            snprintf(ref, sizeof ref, "adj-%d", i);
            assert_int_equal(adjust(fx, m, ref, i % 2 ? -3 : 4, "fix", NULL, &p), LOYALTY_OK);
        }
        if (i % 6 == 5) {
            snprintf(ref, sizeof ref, "rv-%d", i);
            assert_int_equal(reverse(fx, txs[i - 3], ref, "undo", &p), LOYALTY_OK);
        }
    }
    assert_invariants(fx);
}

static void test_writes_without_actor(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    int64_t awarded = award_points(fx, "m1", "a1", 100);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_ledger *main_handle = fx->ledger;
    assert_int_equal(open_handle(fx, NULL, NULL, &fx->ledger), LOYALTY_OK);
    loyalty_posting p;
    expect(award(fx, "m1", "a2", 0, 5, NULL, &p), LOYALTY_ERR_INVALID, "award");
    assert_errmsg_mentions(fx->ledger, "actor");
    expect(redeem(fx, "m1", "r1", 5, &p), LOYALTY_ERR_INVALID, "redeem");
    expect(adjust(fx, "m1", "t1", 5, "fix", NULL, &p), LOYALTY_ERR_INVALID, "adjust");
    expect(reverse(fx, awarded, "rv1", "undo", &p), LOYALTY_ERR_INVALID, "reverse");
    expect(loyalty_program_load(fx->ledger, "{}", NULL), LOYALTY_ERR_INVALID, "program");
    loyalty_close(fx->ledger);
    fx->ledger = main_handle;
    assert_unchanged(fx, "m1", &before);
}

static void test_misuse(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_posting p;
    loyalty_award_request a = {"m1", "x", 0, 1, NULL};
    expect(loyalty_award(NULL, &a, &p), LOYALTY_ERR_MISUSE, "NULL ledger");
    expect(loyalty_award(fx->ledger, NULL, &p), LOYALTY_ERR_MISUSE, "NULL award");
    expect(loyalty_redeem(fx->ledger, NULL, &p), LOYALTY_ERR_MISUSE, "NULL redeem");
    expect(loyalty_adjust(fx->ledger, NULL, &p), LOYALTY_ERR_MISUSE, "NULL adjust");
    expect(loyalty_reverse(fx->ledger, NULL, &p), LOYALTY_ERR_MISUSE, "NULL reverse");
    assert_unchanged(fx, "m1", &before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_award_by_amount, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_award_by_points, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_award_refusals_change_nothing, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_award_replay_and_conflict, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_redeem, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_redeem_refusals_change_nothing, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_adjust, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_adjust_refusals_change_nothing, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reverse_once, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_reverse_adjustments, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_reverse_spent_award_leaves_debt, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_journal_sums_to_balance, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_writes_without_actor, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_misuse, setup_ledger, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
