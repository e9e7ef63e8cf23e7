/*
 * test_boundaries.c - values at and just past every bound (issue 8, item
 * 6), through the single calls and through loyalty_apply_batch:
 *   - points and amounts at 0, 1, the limit (10^12 points, 10^15 minor
 *     units), the limit + 1, INT64_MAX - 1, INT64_MAX, -1 and INT64_MIN, for
 *     every operation that takes one; the limits themselves handled exactly
 *     (earn rule included);
 *   - a balance at INT64_MAX (reached by editing the file: nine million
 *     maximum awards would take hours): the last point fits exactly, one
 *     more is refused as an overflow, and nothing changes;
 *   - identifiers of 64 and 65 characters, empty, non-ASCII; free text of
 *     256 and 257 bytes, multi-byte characters on the boundary, every kind
 *     of malformed UTF-8 and control characters;
 *   - times on a leap day (2028-02-29): pending and expiry periods are
 *     exact microsecond spans across it, benefit periods are calendar
 *     periods around it;
 *   - after all of that, no value of any column of any table is a REAL:
 *     every table is STRICT and every INTEGER column holds integers.
 * Every refusal is LOYALTY_ERR_INVALID (or the documented code) with a
 * message, and changes nothing. (Exact expiry instants and the pure benefit
 * period rule are covered in test_lots, test_expiry_status and
 * test_benefits.)
 */
#include "support.h"

#define LIMIT_POINTS INT64_C(1000000000000)
#define LIMIT_AMOUNT INT64_C(1000000000000000)
#define DAY_US INT64_C(86400000000)
/* 2028-02-28T12:00:00Z, the day before a leap day. */
#define LEAP_EVE_NOON_US INT64_C(1835352000000000)
/* 2028-02-29T00:00:00Z and 2028-03-01T00:00:00Z. */
#define LEAP_DAY_US INT64_C(1835395200000000)
#define MARCH_1_2028_US INT64_C(1835481600000000)

#define TEXT_64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TEXT_256 TEXT_64 TEXT_64 TEXT_64 TEXT_64

static void expect_rc(fixture *fx, int rc, int expected, const char *what)
{
    if (rc != expected)
        fail_msg("%s: expected %s, got %s (%s)", what, loyalty_result_name(expected),
                 loyalty_result_name(rc), loyalty_errmsg(fx->ledger));
    if (rc != LOYALTY_OK && loyalty_errmsg(fx->ledger)[0] == '\0')
        fail_msg("%s: refused without a message", what);
}

static void reopen_at(fixture *fx, int64_t now_us)
{
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    loyalty_open_options options = {.db_path = fx->db_path, .actor = ACTOR, .now_us = now_us};
    assert_int_equal(loyalty_open(&fx->ledger, &options), LOYALTY_OK);
}

static void load_program(fixture *fx, const char *json)
{
    int64_t version = 0;
    expect_rc(fx, loyalty_program_load(fx->ledger, json, &version), LOYALTY_OK, json);
}

/* --- points and amounts ---------------------------------------------------- */

/* Values no operation taking a positive count accepts. */
static const int64_t bad_counts[] = {0, -1, LIMIT_POINTS + 1, INT64_MAX - 1, INT64_MAX, INT64_MIN,
                                     INT64_MIN + 1};
/* Values no signed adjustment accepts. */
static const int64_t bad_signed[] = {0, LIMIT_POINTS + 1, -LIMIT_POINTS - 1, INT64_MAX - 1, INT64_MAX,
                                     INT64_MIN, INT64_MIN + 1};
/* Amounts no purchase or refund accepts (0 is "no amount" for an award, refused with no points). */
static const int64_t bad_amounts[] = {0, -1, LIMIT_AMOUNT + 1, INT64_MAX - 1, INT64_MAX, INT64_MIN};

#define COUNT(array) (sizeof array / sizeof array[0])

static void setup_members(fixture *fx)
{
    add_member(fx, "m1");
    add_member(fx, "m2");
    award_points(fx, "m1", "seed", 100);
    loyalty_award_request purchase = {.member = "m1", .ref = "order", .amount_minor = 10000};
    loyalty_posting p;
    expect_rc(fx, loyalty_award(fx->ledger, &purchase, &p), LOYALTY_OK, "purchase");
    loyalty_hold_request hold = {"m1", "held", 10};
    loyalty_hold_info h;
    expect_rc(fx, loyalty_hold(fx->ledger, &hold, &h), LOYALTY_OK, "hold");
}

static int count_entry(void *context, const loyalty_history_entry *entry)
{
    (void)entry;
    (*(int64_t *)context)++;
    return 0;
}

static void test_bad_numbers_single_calls(void **state)
{
    fixture *fx = *state;
    setup_members(fx);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_posting p;
    loyalty_hold_info h;
    char what[96];
    for (size_t i = 0; i < COUNT(bad_counts); i++) {
        int64_t v = bad_counts[i];
        snprintf(what, sizeof what, "points %lld", (long long)v);
        loyalty_award_request bonus = {.member = "m1", .ref = "b", .points = v};
        expect_rc(fx, loyalty_award(fx->ledger, &bonus, &p), LOYALTY_ERR_INVALID, what);
        loyalty_redeem_request redeem = {"m1", "r", v};
        expect_rc(fx, loyalty_redeem(fx->ledger, &redeem, &p), LOYALTY_ERR_INVALID, what);
        loyalty_hold_request hold = {"m1", "h", v};
        expect_rc(fx, loyalty_hold(fx->ledger, &hold, &h), LOYALTY_ERR_INVALID, what);
        if (v != 0) /* 0 means "all of it" for a capture */
            expect_rc(fx, loyalty_capture(fx->ledger, "held", v, &h), LOYALTY_ERR_INVALID, what);
    }
    for (size_t i = 0; i < COUNT(bad_signed); i++) {
        snprintf(what, sizeof what, "adjust %lld", (long long)bad_signed[i]);
        loyalty_adjust_request adjust = {"m1", "j", bad_signed[i], "fix", NULL};
        expect_rc(fx, loyalty_adjust(fx->ledger, &adjust, &p), LOYALTY_ERR_INVALID, what);
    }
    for (size_t i = 0; i < COUNT(bad_amounts); i++) {
        snprintf(what, sizeof what, "amount %lld", (long long)bad_amounts[i]);
        loyalty_award_request purchase = {.member = "m1", .ref = "o", .amount_minor = bad_amounts[i]};
        expect_rc(fx, loyalty_award(fx->ledger, &purchase, &p), LOYALTY_ERR_INVALID, what);
        loyalty_refund_request refund = {"m1", "f", "order", bad_amounts[i]};
        expect_rc(fx, loyalty_refund(fx->ledger, &refund, &p), LOYALTY_ERR_INVALID, what);
    }
    /* Transaction ids and history pages outside their ranges. */
    static const int64_t bad_tx[] = {0, -1, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < COUNT(bad_tx); i++) {
        loyalty_reverse_request reverse = {bad_tx[i], "v", "undo"};
        int rc = loyalty_reverse(fx->ledger, &reverse, &p);
        snprintf(what, sizeof what, "reverse tx %lld", (long long)bad_tx[i]);
        expect_rc(fx, rc, rc == LOYALTY_ERR_NOT_FOUND ? LOYALTY_ERR_NOT_FOUND : LOYALTY_ERR_INVALID,
                  what);
    }
    static const int64_t bad_limits[] = {0, -1, 1001, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < COUNT(bad_limits); i++) {
        int64_t next = 0, seen = 0;
        snprintf(what, sizeof what, "history limit %lld", (long long)bad_limits[i]);
        expect_rc(fx, loyalty_history(fx->ledger, "m1", bad_limits[i], 0, count_entry, &seen, &next),
                  LOYALTY_ERR_INVALID, what);
        assert_int_equal(seen, 0);
    }
    int64_t next = 0, seen = 0;
    expect_rc(fx, loyalty_history(fx->ledger, "m1", 1000, 0, count_entry, &seen, &next), LOYALTY_OK,
              "history limit 1000");
    assert_int_equal(seen, 2);
    seen = 0;
    expect_rc(fx, loyalty_history(fx->ledger, "m1", 1, 0, count_entry, &seen, &next), LOYALTY_OK,
              "history limit 1");
    assert_int_equal(seen, 1);
    assert_unchanged(fx, "m1", &before);
}

/* The same values through one batch: each operation refused alone, nothing applied. */
static void test_bad_numbers_in_a_batch(void **state)
{
    fixture *fx = *state;
    setup_members(fx);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_operation ops[64];
    size_t n = 0;
    for (size_t i = 0; i < COUNT(bad_counts); i++) {
        ops[n++] = (loyalty_operation){.kind = LOYALTY_OP_AWARD, .member = "m1", .ref = "b",
                                       .points = bad_counts[i]};
        ops[n++] = (loyalty_operation){.kind = LOYALTY_OP_REDEEM, .member = "m1", .ref = "r",
                                       .points = bad_counts[i]};
        ops[n++] = (loyalty_operation){.kind = LOYALTY_OP_HOLD, .member = "m1", .ref = "h",
                                       .points = bad_counts[i]};
    }
    for (size_t i = 0; i < COUNT(bad_signed); i++)
        ops[n++] = (loyalty_operation){.kind = LOYALTY_OP_ADJUST, .member = "m1", .ref = "j",
                                       .points = bad_signed[i], .reason = "fix"};
    for (size_t i = 0; i < COUNT(bad_amounts); i++) {
        ops[n++] = (loyalty_operation){.kind = LOYALTY_OP_AWARD, .member = "m1", .ref = "o",
                                       .amount_minor = bad_amounts[i]};
        ops[n++] = (loyalty_operation){.kind = LOYALTY_OP_REFUND, .member = "m1", .ref = "f",
                                       .order = "order", .amount_minor = bad_amounts[i]};
    }
    assert_true(n <= COUNT(ops));
    loyalty_operation_result results[64];
    expect_rc(fx, loyalty_apply_batch(fx->ledger, ops, n, results), LOYALTY_OK, "batch");
    for (size_t i = 0; i < n; i++) {
        if (results[i].rc != LOYALTY_ERR_INVALID)
            fail_msg("batch operation %zu (kind %d, points %lld, amount %lld): %s", i,
                     (int)ops[i].kind, (long long)ops[i].points, (long long)ops[i].amount_minor,
                     loyalty_result_name(results[i].rc));
        assert_true(results[i].message[0] != '\0');
        assert_int_equal(results[i].tx, 0);
    }
    assert_unchanged(fx, "m1", &before);
    /* Batch sizes: 0 and 10001 are refused as a whole. */
    expect_rc(fx, loyalty_apply_batch(fx->ledger, ops, 0, results), LOYALTY_ERR_INVALID, "empty batch");
    expect_rc(fx, loyalty_apply_batch(fx->ledger, ops, 10001, results), LOYALTY_ERR_INVALID,
              "batch of 10001");
    assert_unchanged(fx, "m1", &before);
}

/* 1 and the limits themselves are handled exactly. */
static void test_limits_handled_exactly(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    loyalty_posting p;
    loyalty_award_request one = {.member = "m1", .ref = "one", .points = 1};
    expect_rc(fx, loyalty_award(fx->ledger, &one, &p), LOYALTY_OK, "award 1");
    loyalty_award_request max = {.member = "m1", .ref = "max", .points = LIMIT_POINTS};
    expect_rc(fx, loyalty_award(fx->ledger, &max, &p), LOYALTY_OK, "award 10^12");
    assert_int_equal(p.balance, LIMIT_POINTS + 1);
    loyalty_adjust_request down = {"m1", "down", -LIMIT_POINTS, "fix", NULL};
    expect_rc(fx, loyalty_adjust(fx->ledger, &down, &p), LOYALTY_OK, "adjust -10^12");
    assert_int_equal(p.balance, 1);
    loyalty_adjust_request up = {"m1", "up", LIMIT_POINTS, "fix", NULL};
    expect_rc(fx, loyalty_adjust(fx->ledger, &up, &p), LOYALTY_OK, "adjust +10^12");
    loyalty_hold_request hold = {"m1", "h", LIMIT_POINTS};
    loyalty_hold_info h;
    expect_rc(fx, loyalty_hold(fx->ledger, &hold, &h), LOYALTY_OK, "hold 10^12");
    expect_rc(fx, loyalty_capture(fx->ledger, "h", LIMIT_POINTS, &h), LOYALTY_OK, "capture 10^12");
    assert_int_equal(h.balance, 1);
    loyalty_redeem_request redeem = {"m1", "r", 1};
    expect_rc(fx, loyalty_redeem(fx->ledger, &redeem, &p), LOYALTY_OK, "redeem 1");
    assert_int_equal(p.balance, 0);

    /* The earn rule at its bounds: the largest amount at a rate giving exactly 10^12 points. */
    load_program(fx, "{\"minor_per_unit\":1000,\"points_per_unit\":1}");
    loyalty_award_request purchase = {.member = "m1", .ref = "big", .amount_minor = LIMIT_AMOUNT};
    expect_rc(fx, loyalty_award(fx->ledger, &purchase, &p), LOYALTY_OK, "purchase 10^15");
    assert_int_equal(p.points, LIMIT_POINTS);
    /* One minor unit earns floor(1/1000) = 0 points, and is still recorded. */
    loyalty_award_request tiny = {.member = "m1", .ref = "tiny", .amount_minor = 1};
    expect_rc(fx, loyalty_award(fx->ledger, &tiny, &p), LOYALTY_OK, "purchase 1");
    assert_int_equal(p.points, 0);
    assert_true(p.tx > 0);
    /* The richest rate: 10^6 points per minor unit; 10^6 minor units is the most it may earn on. */
    load_program(fx, "{\"minor_per_unit\":1,\"points_per_unit\":1000000}");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_award_request over = {.member = "m1", .ref = "over", .amount_minor = 1000001};
    expect_rc(fx, loyalty_award(fx->ledger, &over, &p), LOYALTY_ERR_INVALID, "earn over 10^12");
    loyalty_award_request huge = {.member = "m1", .ref = "huge", .amount_minor = LIMIT_AMOUNT};
    expect_rc(fx, loyalty_award(fx->ledger, &huge, &p), LOYALTY_ERR_INVALID, "earn 10^21");
    assert_unchanged(fx, "m1", &before);
    loyalty_award_request edge = {.member = "m1", .ref = "edge", .amount_minor = 1000000};
    expect_rc(fx, loyalty_award(fx->ledger, &edge, &p), LOYALTY_OK, "earn exactly 10^12");
    assert_int_equal(p.points, LIMIT_POINTS);
    /* Refunds at 1 minor unit and at what is left of the order. */
    loyalty_refund_request refund = {"m1", "f1", "edge", 1};
    expect_rc(fx, loyalty_refund(fx->ledger, &refund, &p), LOYALTY_OK, "refund 1");
    assert_int_equal(p.points, -1000000);
    loyalty_refund_request rest = {"m1", "f2", "edge", 999999};
    expect_rc(fx, loyalty_refund(fx->ledger, &rest, &p), LOYALTY_OK, "refund the rest");
    loyalty_refund_request more = {"m1", "f3", "edge", 1};
    expect_rc(fx, loyalty_refund(fx->ledger, &more, &p), LOYALTY_ERR_STATE, "refund past the order");
    /* Program fields at their bounds. */
    load_program(fx, "{\"approval_threshold\":1000000000000,\"expiry_days\":36500,"
                     "\"pending_days\":3650,\"hold_ttl_seconds\":2592000,\"tier_window_days\":3650}");
    int64_t version = 0;
    expect_rc(fx, loyalty_program_load(fx->ledger, "{\"approval_threshold\":1000000000001}", &version),
              LOYALTY_ERR_INVALID, "threshold 10^12 + 1");
    expect_rc(fx, loyalty_program_load(fx->ledger, "{\"expiry_days\":-1}", &version),
              LOYALTY_ERR_INVALID, "expiry -1");
    expect_rc(fx, loyalty_program_load(fx->ledger, "{\"expiry_days\":9223372036854775807}", &version),
              LOYALTY_ERR_INVALID, "expiry INT64_MAX");
    expect_rc(fx, loyalty_program_load(fx->ledger, "{\"pending_days\":1e3}", &version),
              LOYALTY_ERR_INVALID, "pending as a real");
    loyalty_verify_report report;
    expect_rc(fx, loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_OK, "verify");
}

/*
 * A balance at the edge of int64: set by editing the file (the lot and the
 * member row together, so that the library's own invariants hold), since
 * reaching it through 9.2 million maximum awards would take hours. The
 * checked additions must refuse cleanly, change nothing, and land exactly
 * on INT64_MAX when the sum fits.
 */
static void test_balance_overflow_refused(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    int64_t tx = award_points(fx, "m1", "seed", 5);
    char sql[320];
    snprintf(sql, sizeof sql,
             "UPDATE lots SET points = 9223372036854775797, remaining = 9223372036854775797"
             " WHERE tx = %lld; UPDATE members SET balance = 9223372036854775797,"
             " lots_remaining = 9223372036854775797, lots_available = 9223372036854775797"
             " WHERE external_id = 'm1'",
             (long long)tx);
    sql_exec(fx, sql);
    reopen(fx);
    assert_int_equal(member_get(fx, "m1").balance, INT64_MAX - 10);
    /* The edit breaks the statistics' cross-check on purpose; compare raw table digests instead. */
    unsigned char before[32], after[32];
    db_digest(fx, before);
    loyalty_posting p;
    loyalty_award_request over = {.member = "m1", .ref = "over", .points = 11};
    expect_rc(fx, loyalty_award(fx->ledger, &over, &p), LOYALTY_ERR_INVALID, "award past INT64_MAX");
    assert_errmsg_mentions(fx->ledger, "overflow");
    loyalty_adjust_request adjust = {"m1", "adj", LIMIT_POINTS, "fix", NULL};
    expect_rc(fx, loyalty_adjust(fx->ledger, &adjust, &p), LOYALTY_ERR_INVALID, "adjust past INT64_MAX");
    assert_errmsg_mentions(fx->ledger, "overflow");
    loyalty_operation ops[] = {
        {.kind = LOYALTY_OP_AWARD, .member = "m1", .ref = "b1", .points = 11},
        {.kind = LOYALTY_OP_ADJUST, .member = "m1", .ref = "b2", .points = 20, .reason = "x"},
    };
    loyalty_operation_result results[2];
    expect_rc(fx, loyalty_apply_batch(fx->ledger, ops, 2, results), LOYALTY_OK, "batch");
    assert_int_equal(results[0].rc, LOYALTY_ERR_INVALID);
    assert_int_equal(results[1].rc, LOYALTY_ERR_INVALID);
    db_digest(fx, after);
    assert_memory_equal(before, after, sizeof before);
    /* Exactly to INT64_MAX fits; then nothing more does; spending works from there. */
    loyalty_award_request fits = {.member = "m1", .ref = "fits", .points = 10};
    expect_rc(fx, loyalty_award(fx->ledger, &fits, &p), LOYALTY_OK, "award to INT64_MAX");
    assert_int_equal(p.balance, INT64_MAX);
    loyalty_member_info info = member_get(fx, "m1");
    assert_int_equal(info.balance, INT64_MAX);
    assert_int_equal(info.available, INT64_MAX);
    db_digest(fx, before);
    loyalty_award_request one = {.member = "m1", .ref = "one", .points = 1};
    expect_rc(fx, loyalty_award(fx->ledger, &one, &p), LOYALTY_ERR_INVALID, "award 1 at INT64_MAX");
    db_digest(fx, after);
    assert_memory_equal(before, after, sizeof before);
    loyalty_redeem_request redeem = {"m1", "r", LIMIT_POINTS};
    expect_rc(fx, loyalty_redeem(fx->ledger, &redeem, &p), LOYALTY_OK, "redeem at INT64_MAX");
    assert_int_equal(p.balance, INT64_MAX - LIMIT_POINTS);
    /* Verify notices the edit, of course: the signed history says 5. */
    loyalty_verify_report report;
    expect_rc(fx, loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_ERR_VERIFY, "verify");
}

/* --- identifiers and text --------------------------------------------------- */

#define ID_64 TEXT_64
#define ID_65 TEXT_64 "x"

static void test_identifier_lengths(void **state)
{
    fixture *fx = *state;
    /* 64 characters: accepted and stored exactly. */
    add_member(fx, ID_64);
    loyalty_member_info info = member_get(fx, ID_64);
    assert_string_equal(info.member, ID_64);
    award_points(fx, ID_64, ID_64, 7);
    loyalty_posting p;
    loyalty_adjust_request adjust = {ID_64, "adj64", 1, ID_64, NULL};
    expect_rc(fx, loyalty_adjust(fx->ledger, &adjust, &p), LOYALTY_OK, "reason code of 64");
    int replayed = 0;
    expect_rc(fx, loyalty_operator_add(fx->ledger, ID_64, LOYALTY_ROLE_CHECKOUT, &replayed),
              LOYALTY_OK, "operator of 64");
    loyalty_ledger *l = NULL;
    assert_int_equal(open_handle(fx, ID_64, NULL, &l), LOYALTY_OK);
    loyalty_close(l);

    snapshot before;
    snapshot_take(fx, ID_64, &before);
    static const char *const bad_ids[] = {ID_65, "", "m\xc3\xa9mber", "m 1", "m/1", "m\t1",
                                          "\xff", "m@1"};
    char what[96];
    for (size_t i = 0; i < COUNT(bad_ids); i++) {
        const char *bad = bad_ids[i];
        snprintf(what, sizeof what, "id #%zu", i);
        expect_rc(fx, loyalty_member_add(fx->ledger, bad, NULL, NULL), LOYALTY_ERR_INVALID, what);
        expect_rc(fx, loyalty_member_get(fx->ledger, bad, &info), LOYALTY_ERR_INVALID, what);
        loyalty_award_request as_member = {.member = bad, .ref = "a", .points = 1};
        expect_rc(fx, loyalty_award(fx->ledger, &as_member, &p), LOYALTY_ERR_INVALID, what);
        loyalty_award_request as_ref = {.member = ID_64, .ref = bad, .points = 1};
        expect_rc(fx, loyalty_award(fx->ledger, &as_ref, &p), LOYALTY_ERR_INVALID, what);
        loyalty_adjust_request as_reason = {ID_64, "r", 1, bad, NULL};
        expect_rc(fx, loyalty_adjust(fx->ledger, &as_reason, &p), LOYALTY_ERR_INVALID, what);
        loyalty_claim_request as_benefit = {ID_64, bad, "c"};
        loyalty_claim_result claim;
        int rc = loyalty_benefit_claim(fx->ledger, &as_benefit, &claim);
        assert_true(rc == LOYALTY_ERR_INVALID || rc == LOYALTY_ERR_NOT_FOUND);
        expect_rc(fx, loyalty_member_freeze(fx->ledger, ID_64, bad, NULL, NULL), LOYALTY_ERR_INVALID,
                  what);
        if (strcmp(bad, "m@1") != 0) { /* '@' is allowed in actor and operator names */
            expect_rc(fx, loyalty_operator_add(fx->ledger, bad, LOYALTY_ROLE_CHECKOUT, NULL),
                      LOYALTY_ERR_INVALID, what);
            l = NULL;
            assert_int_equal(open_handle(fx, bad, NULL, &l), LOYALTY_ERR_INVALID);
            loyalty_close(l);
        }
    }
    assert_unchanged(fx, ID_64, &before);
}

typedef struct text_case {
    const char *text;
    int accepted;
} text_case;

#define A_254 TEXT_64 TEXT_64 TEXT_64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"

static const text_case texts[] = {
    {TEXT_256, 1},
    {TEXT_256 "x", 0},
    {A_254 "\xc3\xa9", 1},                   /* 256 bytes ending in a 2-byte character */
    {A_254 "x\xc3\xa9", 0},                  /* 257 bytes */
    {"\xf0\x9f\x8e\x81 gift", 1},            /* a 4-byte character */
    {"\xef\xbb\xbf" "bom", 1},               /* U+FEFF is text */
    {"\xf4\x8f\xbf\xbf", 1},                 /* U+10FFFF, the last code point */
    {"", 0},                                 /* empty */
    {"\xff", 0},                             /* never valid */
    {"\x80 lone continuation", 0},
    {"\xc0\x80", 0},                         /* overlong NUL */
    {"\xc1\xbf", 0},                         /* overlong */
    {"\xe0\x80\x80", 0},                     /* overlong */
    {"\xf0\x80\x80\x80", 0},                 /* overlong */
    {"\xed\xa0\x80", 0},                     /* UTF-16 surrogate */
    {"\xf4\x90\x80\x80", 0},                 /* above U+10FFFF */
    {"\xf5\x80\x80\x80", 0},
    {"truncated \xe2\x82", 0},
    {"truncated at the end \xf0\x9f\x8e", 0},
    {"tab\there", 0},
    {"line\nbreak", 0},
    {"carriage\rreturn", 0},
    {"delete\x7f", 0},
    {"escape\x1b[0m", 0},
};

typedef struct found_text {
    const char *ref;
    char reason[LOYALTY_NOTE_MAX + 8];
    char note[LOYALTY_NOTE_MAX + 8];
    int found;
} found_text;

static int find_entry(void *context, const loyalty_history_entry *entry)
{
    found_text *f = context;
    if (strcmp(entry->ref, f->ref) != 0)
        return 0;
    snprintf(f->reason, sizeof f->reason, "%s", entry->reason ? entry->reason : "(null)");
    snprintf(f->note, sizeof f->note, "%s", entry->note ? entry->note : "(null)");
    f->found = 1;
    return 1;
}

static void test_free_text(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "seed", 1000);
    for (size_t i = 0; i < COUNT(texts); i++) {
        const text_case *c = &texts[i];
        char ref_award[16], ref_adjust[16], what[48];
        snprintf(ref_award, sizeof ref_award, "ta%zu", i);
        snprintf(ref_adjust, sizeof ref_adjust, "tj%zu", i);
        snprintf(what, sizeof what, "text #%zu", i);
        snapshot before;
        snapshot_take(fx, "m1", &before);
        loyalty_posting p;
        loyalty_award_request award = {.member = "m1", .ref = ref_award, .points = 1, .reason = c->text};
        loyalty_adjust_request adjust = {"m1", ref_adjust, 1, "fix", c->text};
        int expected = c->accepted ? LOYALTY_OK : LOYALTY_ERR_INVALID;
        expect_rc(fx, loyalty_award(fx->ledger, &award, &p), expected, what);
        expect_rc(fx, loyalty_adjust(fx->ledger, &adjust, &p), expected, what);
        if (!c->accepted) {
            assert_unchanged(fx, "m1", &before);
            continue;
        }
        /* Stored byte for byte. */
        found_text f = {.ref = ref_award};
        int64_t next = 0;
        assert_int_equal(loyalty_history(fx->ledger, "m1", 1000, 0, find_entry, &f, &next), LOYALTY_OK);
        assert_true(f.found);
        assert_string_equal(f.reason, c->text);
        found_text g = {.ref = ref_adjust};
        assert_int_equal(loyalty_history(fx->ledger, "m1", 1000, 0, find_entry, &g, &next), LOYALTY_OK);
        assert_true(g.found);
        assert_string_equal(g.note, c->text);
    }
    loyalty_verify_report report;
    expect_rc(fx, loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_OK, "verify");
}

/* --- leap day ---------------------------------------------------------------- */

static void test_leap_day_periods(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"pending_days\":1,\"expiry_days\":365,"
                     "\"tiers\":[{\"code\":\"base\",\"name\":\"Base\",\"threshold\":0,"
                     "\"multiplier_permille\":1000,\"benefits\":[\"lounge\"]}],"
                     "\"benefits\":[{\"code\":\"lounge\",\"name\":\"Lounge\",\"limit\":1,"
                     "\"period\":\"month\"}]}");
    add_member(fx, "m1");
    /* A purchase at noon on 28 February 2028 matures at noon on the leap day. */
    reopen_at(fx, LEAP_EVE_NOON_US);
    loyalty_award_request purchase = {.member = "m1", .ref = "o1", .amount_minor = 5000};
    loyalty_posting p;
    expect_rc(fx, loyalty_award(fx->ledger, &purchase, &p), LOYALTY_OK, "purchase on the eve");
    assert_int_equal(p.points, 50);
    reopen_at(fx, LEAP_EVE_NOON_US + DAY_US - 1);
    assert_int_equal(member_get(fx, "m1").pending, 50);
    reopen_at(fx, LEAP_EVE_NOON_US + DAY_US); /* 2028-02-29T12:00:00Z */
    assert_int_equal(member_get(fx, "m1").available, 50);
    /* A bonus at the first microsecond of the leap day expires exactly 365 days later:
     * 2029-02-28T00:00:00Z (the leap day counts as one of the 365). */
    reopen_at(fx, LEAP_DAY_US);
    int64_t bonus = award_points(fx, "m1", "leap", 7);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT expires_us FROM lots WHERE tx = %lld", (long long)bonus);
    assert_int_equal(sql_integer(fx, sql), LEAP_DAY_US + 365 * DAY_US);
    assert_int_equal(LEAP_DAY_US + 365 * DAY_US, INT64_C(1866931200000000)); /* 2029-02-28 */
    reopen_at(fx, LEAP_DAY_US + 365 * DAY_US - 1);
    loyalty_member_info info = member_get(fx, "m1");
    assert_int_equal(info.expired, 50); /* the eve's purchase expired a day earlier */
    assert_int_equal(info.available, 7);
    reopen_at(fx, LEAP_DAY_US + 365 * DAY_US);
    assert_int_equal(member_get(fx, "m1").expired, 57);

    /* Benefit months: the leap day's last microsecond is February; the next is March. */
    loyalty_claim_result claim;
    reopen_at(fx, MARCH_1_2028_US - 1);
    loyalty_claim_request feb = {"m1", "lounge", "feb"};
    expect_rc(fx, loyalty_benefit_claim(fx->ledger, &feb, &claim), LOYALTY_OK, "claim on 29 Feb");
    assert_int_equal(claim.period_start_us, INT64_C(1832976000000000)); /* 2028-02-01 */
    loyalty_claim_request feb2 = {"m1", "lounge", "feb2"};
    expect_rc(fx, loyalty_benefit_claim(fx->ledger, &feb2, &claim), LOYALTY_ERR_INSUFFICIENT,
              "second claim in February");
    reopen_at(fx, MARCH_1_2028_US);
    expect_rc(fx, loyalty_benefit_claim(fx->ledger, &feb2, &claim), LOYALTY_OK, "claim on 1 March");
    assert_int_equal(claim.period_start_us, MARCH_1_2028_US);
    /* Back to the leap day's noon: February is used up. */
    reopen_at(fx, LEAP_DAY_US + DAY_US / 2);
    loyalty_claim_request feb3 = {"m1", "lounge", "feb3"};
    expect_rc(fx, loyalty_benefit_claim(fx->ledger, &feb3, &claim), LOYALTY_ERR_INSUFFICIENT,
              "third claim in February");
    loyalty_verify_report report;
    expect_rc(fx, loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_OK, "verify");
}

/* --- storage classes ----------------------------------------------------------- */

/* Every table is STRICT, no value anywhere is a REAL, INTEGER columns hold integers (or NULL). */
static void assert_no_reals(fixture *fx)
{
    sqlite3 *db = db_direct(fx, 0);
    sqlite3_stmt *tables = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT name, strict FROM pragma_table_list"
                                        " WHERE schema = 'main' AND type = 'table'"
                                        " AND name NOT LIKE 'sqlite_%' ORDER BY name",
                                        -1, &tables, NULL),
                     SQLITE_OK);
    int table_count = 0, integer_columns = 0;
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(tables, 0);
        if (sqlite3_column_int(tables, 1) != 1)
            fail_msg("table %s is not STRICT", table);
        table_count++;
        sqlite3_stmt *columns = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT name, type FROM pragma_table_info(?)", -1,
                                            &columns, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(columns, 1, table, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(columns) == SQLITE_ROW) {
            const char *column = (const char *)sqlite3_column_text(columns, 0);
            const char *type = (const char *)sqlite3_column_text(columns, 1);
            int integer = strcmp(type, "INTEGER") == 0;
            integer_columns += integer;
            char *sql = sqlite3_mprintf(
                integer ? "SELECT COUNT(*) FROM \"%w\" WHERE typeof(\"%w\") NOT IN ('integer', 'null')"
                        : "SELECT COUNT(*) FROM \"%w\" WHERE typeof(\"%w\") = 'real'",
                table, column);
            sqlite3_stmt *count = NULL;
            assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &count, NULL), SQLITE_OK);
            assert_int_equal(sqlite3_step(count), SQLITE_ROW);
            if (sqlite3_column_int64(count, 0) != 0)
                fail_msg("%s.%s holds %lld values of the wrong storage class", table, column,
                         (long long)sqlite3_column_int64(count, 0));
            sqlite3_finalize(count);
            sqlite3_free(sql);
        }
        sqlite3_finalize(columns);
    }
    sqlite3_finalize(tables);
    sqlite3_close(db);
    assert_true(table_count >= 10);
    assert_true(integer_columns >= 40);
}

/* A boundary-heavy history, then the storage-class check; a REAL slipped in directly is refused. */
static void test_every_integer_stays_integer(void **state)
{
    fixture *fx = *state;
    load_program(fx, "{\"minor_per_unit\":1000,\"points_per_unit\":1,\"pending_days\":3650,"
                     "\"expiry_days\":36500,\"approval_threshold\":1000000000000,"
                     "\"tiers\":[{\"code\":\"base\",\"name\":\"Base\",\"threshold\":0,"
                     "\"multiplier_permille\":1000,\"benefits\":[\"x\"]},{\"code\":\"top\","
                     "\"name\":\"Top\",\"threshold\":1000000000000,\"multiplier_permille\":100000,"
                     "\"benefits\":[\"x\"]}],\"benefits\":[{\"code\":\"x\",\"name\":\"X\","
                     "\"limit\":1000000,\"period\":\"year\"}]}");
    add_member(fx, ID_64);
    loyalty_posting p;
    loyalty_award_request purchase = {.member = ID_64, .ref = "o", .amount_minor = LIMIT_AMOUNT};
    expect_rc(fx, loyalty_award(fx->ledger, &purchase, &p), LOYALTY_OK, "purchase");
    award_points(fx, ID_64, "b", LIMIT_POINTS);
    loyalty_adjust_request adjust = {ID_64, "j", -LIMIT_POINTS, "fix", TEXT_256};
    expect_rc(fx, loyalty_adjust(fx->ledger, &adjust, &p), LOYALTY_OK, "adjust");
    loyalty_refund_request refund = {ID_64, "f", "o", LIMIT_AMOUNT - 1};
    expect_rc(fx, loyalty_refund(fx->ledger, &refund, &p), LOYALTY_OK, "refund");
    loyalty_claim_request claim = {ID_64, "x", "c"};
    loyalty_claim_result c;
    expect_rc(fx, loyalty_benefit_claim(fx->ledger, &claim, &c), LOYALTY_OK, "claim");
    award_points(fx, ID_64, "b2", LIMIT_POINTS);
    loyalty_hold_request hold = {ID_64, "h", LIMIT_POINTS};
    loyalty_hold_info h;
    expect_rc(fx, loyalty_hold(fx->ledger, &hold, &h), LOYALTY_OK, "hold");
    loyalty_adjust_request big = {ID_64, "j2", LIMIT_POINTS, "fix", NULL};
    expect_rc(fx, loyalty_adjust(fx->ledger, &big, &p), LOYALTY_OK, "adjust at the threshold");
    reopen_at(fx, INT64_C(253402300799999999)); /* 9999-12-31T23:59:59.999999Z */
    loyalty_expire_result expired;
    expect_rc(fx, loyalty_expire(fx->ledger, &expired, NULL, NULL), LOYALTY_OK, "expire");
    loyalty_evaluate_result evaluated;
    expect_rc(fx, loyalty_tier_evaluate(fx->ledger, &evaluated, NULL, NULL), LOYALTY_OK, "evaluate");
    loyalty_verify_report report;
    expect_rc(fx, loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_OK, "verify");
    assert_no_reals(fx);
    /* STRICT refuses a REAL written straight into an INTEGER column. */
    sqlite3 *db = db_direct(fx, 1);
    assert_int_equal(sqlite3_exec(db, "UPDATE members SET balance = 1.5", NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_numbers_single_calls, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_bad_numbers_in_a_batch, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_limits_handled_exactly, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_balance_overflow_refused, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_identifier_lengths, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_free_text, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_leap_day_periods, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_every_integer_stays_integer, setup_ledger, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
