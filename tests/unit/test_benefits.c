/*
 * test_benefits.c - benefits granted by tiers and claims on them: the pure
 * calendar periods of benefit_period() (day, ISO week from Monday, month,
 * year in UTC, leap years, year ends, before 1970), limits counting down and
 * used up, the boundary seconds of each period, unlimited benefits,
 * entitlement following the member's tier, refusals (not granted, undefined,
 * frozen or closed member) that change nothing, idempotent claims by
 * reference, and verify catching tampered benefit-usage rows.
 */
#include "internal.h" /* first: cmocka.h defines a macro named fail */
#include "support.h"

#define SECOND_US INT64_C(1000000)
#define DAY_US INT64_C(86400000000)

/* Seconds since the epoch of the UTC instants used below (computed independently). */
#define S_2023_02_01 INT64_C(1675209600)
#define S_2023_02_15 INT64_C(1676419200)
#define S_2023_03_01 INT64_C(1677628800)
#define S_2024_01_01 INT64_C(1704067200)
#define S_2024_02_01 INT64_C(1706745600)
#define S_2024_02_29 INT64_C(1709164800)
#define S_2024_03_01 INT64_C(1709251200)
#define S_2025_01_01 INT64_C(1735689600)
#define S_2025_12_01 INT64_C(1764547200)
#define S_2025_12_29 INT64_C(1766966400) /* a Monday */
#define S_2025_12_31 INT64_C(1767139200) /* a Wednesday */
#define S_2026_01_01 INT64_C(1767225600) /* a Thursday */
#define S_2026_01_05 INT64_C(1767571200) /* a Monday */
#define S_2026_01_10 INT64_C(1768003200) /* a Saturday */
#define S_2026_01_12 INT64_C(1768176000) /* a Monday */
#define S_2026_01_26 INT64_C(1769385600) /* a Monday */
#define S_2026_01_29 INT64_C(1769644800) /* a Thursday */
#define S_2026_01_31 INT64_C(1769817600) /* a Saturday */
#define S_2026_02_01 INT64_C(1769904000) /* a Sunday */
#define S_2026_02_02 INT64_C(1769990400) /* a Monday */
#define S_2026_02_03 INT64_C(1770076800)
#define S_2026_02_09 INT64_C(1770595200) /* a Monday */
#define S_2026_03_01 INT64_C(1772323200)
#define S_2026_12_28 INT64_C(1798416000) /* a Monday */
#define S_2027_01_01 INT64_C(1798761600) /* a Friday */
#define S_2027_01_04 INT64_C(1799020800) /* a Monday */
#define S_2027_01_15 INT64_C(1799971200)

#define US(seconds) ((seconds) * SECOND_US)

/*
 * base grants wifi (unlimited); silver adds lounge (2 a month), coffee (1 a
 * day) and checkin (3 a week); gold adds suite (1 a year).
 */
static const char program[] =
    "{\"tiers\":["
    "{\"code\":\"base\",\"name\":\"Base\",\"threshold\":0,\"multiplier_permille\":1000,"
    "\"benefits\":[\"wifi\"]},"
    "{\"code\":\"silver\",\"name\":\"Silver\",\"threshold\":100,\"multiplier_permille\":1500,"
    "\"benefits\":[\"wifi\",\"lounge\",\"coffee\",\"checkin\"]},"
    "{\"code\":\"gold\",\"name\":\"Gold\",\"threshold\":500,\"multiplier_permille\":2000,"
    "\"benefits\":[\"wifi\",\"lounge\",\"coffee\",\"checkin\",\"suite\"]}],"
    "\"benefits\":[{\"code\":\"wifi\",\"name\":\"Wi-Fi\"},"
    "{\"code\":\"lounge\",\"name\":\"Lounge\",\"limit\":2,\"period\":\"month\"},"
    "{\"code\":\"coffee\",\"name\":\"Coffee\",\"limit\":1,\"period\":\"day\"},"
    "{\"code\":\"checkin\",\"name\":\"Checkin\",\"limit\":3,\"period\":\"week\"},"
    "{\"code\":\"suite\",\"name\":\"Suite\",\"limit\":1,\"period\":\"year\"}]}";

static int setup_benefits(void **state)
{
    fixture *fx = fixture_new();
    *state = fx;
    return create_ledger(fx, program) == LOYALTY_OK ? 0 : -1;
}

/* --- helpers ---------------------------------------------------------------- */

/* Replaces the fixture's handle with one whose clock reads at_us (absolute, UTC). */
static void clock_abs(fixture *fx, int64_t at_us)
{
    assert_true(at_us >= T0_US);
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    loyalty_open_options options = {.db_path = fx->db_path, .actor = ACTOR, .now_us = at_us};
    assert_int_equal(loyalty_open(&fx->ledger, &options), LOYALTY_OK);
}

static void expect_rc(fixture *fx, int rc, int expected, const char *what)
{
    if (rc != expected)
        fail_msg("%s: expected %s, got %s (%s)", what, loyalty_result_name(expected),
                 loyalty_result_name(rc), loyalty_errmsg(fx->ledger));
}

static void set_tier(fixture *fx, const char *member, const char *tier)
{
    expect_rc(fx, loyalty_tier_set(fx->ledger, member, tier, "test", NULL), LOYALTY_OK, tier);
}

static int claim(fixture *fx, const char *member, const char *benefit, const char *ref,
                 loyalty_claim_result *result)
{
    loyalty_claim_request request = {.member = member, .benefit = benefit, .ref = ref};
    memset(result, 0x5a, sizeof *result);
    return loyalty_benefit_claim(fx->ledger, &request, result);
}

/* A new claim that must succeed with these figures. */
static loyalty_claim_result expect_claim(fixture *fx, const char *member, const char *benefit,
                                         const char *ref, int64_t used, int64_t remaining,
                                         int64_t period_start_us)
{
    loyalty_claim_result r;
    expect_rc(fx, claim(fx, member, benefit, ref, &r), LOYALTY_OK, ref);
    assert_string_equal(r.member, member);
    assert_string_equal(r.benefit, benefit);
    assert_string_equal(r.ref, ref);
    assert_int_equal(r.replayed, 0);
    if (r.used != used || r.remaining != remaining || r.period_start_us != period_start_us)
        fail_msg("claim %s of %s: used %lld remaining %lld period %lld; expected %lld %lld %lld",
                 ref, benefit, (long long)r.used, (long long)r.remaining,
                 (long long)r.period_start_us, (long long)used, (long long)remaining,
                 (long long)period_start_us);
    assert_int_equal(r.audit_seq, sql_integer(fx, "SELECT MAX(seq) FROM audit"));
    return r;
}

/* A claim that must be refused with `expected`, mention `needle` and change nothing. */
static void expect_refused(fixture *fx, const char *member, const char *benefit, const char *ref,
                           int expected, const char *needle)
{
    snapshot before;
    snapshot_take(fx, NULL, &before);
    int64_t claims = sql_integer(fx, "SELECT COUNT(*) FROM benefit_claims");
    loyalty_claim_result r;
    expect_rc(fx, claim(fx, member, benefit, ref, &r), expected, ref ? ref : "(null ref)");
    if (needle)
        assert_errmsg_mentions(fx->ledger, needle);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM benefit_claims"), claims);
    assert_unchanged(fx, NULL, &before);
}

static void check_verify(fixture *fx)
{
    loyalty_verify_report report;
    memset(&report, 0, sizeof report);
    int rc = loyalty_verify(fx->ledger, NULL, NULL, &report);
    if (rc != LOYALTY_OK || !report.ok)
        fail_msg("verify: %s, seq %lld, table '%s', row '%s': %s (%s)", loyalty_result_name(rc),
                 (long long)report.first_bad_seq, report.table, report.row_key, report.reason,
                 loyalty_errmsg(fx->ledger));
}

static void expect_verify_fails(fixture *fx, const char *table)
{
    loyalty_verify_report report;
    memset(&report, 0, sizeof report);
    int rc = loyalty_verify(fx->ledger, NULL, NULL, &report);
    if (rc != LOYALTY_ERR_VERIFY)
        fail_msg("verify after tampering with %s: %s (%s)", table, loyalty_result_name(rc),
                 report.reason);
    assert_int_equal(report.ok, 0);
    assert_string_equal(report.table, table);
    assert_non_null(strstr(report.reason, table));
    assert_errmsg_mentions(fx->ledger, table);
}

/* The benefits listing, copied out. */
#define MAX_BENEFITS 8
typedef struct benefit_list {
    int count;
    int stop_after;
    struct {
        char code[LOYALTY_CODE_MAX + 1];
        char name[LOYALTY_CODE_MAX + 1];
        char period[16]; /* "(null)" when NULL */
        int64_t limit, used, remaining, start_us, end_us;
    } list[MAX_BENEFITS];
} benefit_list;

static int collect_benefit(void *context, const loyalty_benefit_status *b)
{
    benefit_list *l = context;
    assert_true(l->count < MAX_BENEFITS);
    snprintf(l->list[l->count].code, sizeof l->list[0].code, "%s", b->code);
    snprintf(l->list[l->count].name, sizeof l->list[0].name, "%s", b->name);
    snprintf(l->list[l->count].period, sizeof l->list[0].period, "%s",
             b->period ? b->period : "(null)");
    l->list[l->count].limit = b->limit;
    l->list[l->count].used = b->used;
    l->list[l->count].remaining = b->remaining;
    l->list[l->count].start_us = b->period_start_us;
    l->list[l->count].end_us = b->period_end_us;
    l->count++;
    return l->stop_after && l->count >= l->stop_after;
}

static benefit_list benefits(fixture *fx, const char *member)
{
    benefit_list l;
    memset(&l, 0, sizeof l);
    expect_rc(fx, loyalty_benefits(fx->ledger, member, collect_benefit, &l), LOYALTY_OK, "benefits");
    return l;
}

static void assert_benefit(const benefit_list *l, int i, const char *code, const char *name,
                           const char *period, int64_t limit, int64_t used, int64_t remaining,
                           int64_t start_us, int64_t end_us)
{
    assert_true(i < l->count);
    assert_string_equal(l->list[i].code, code);
    assert_string_equal(l->list[i].name, name);
    assert_string_equal(l->list[i].period, period);
    assert_int_equal(l->list[i].limit, limit);
    assert_int_equal(l->list[i].used, used);
    assert_int_equal(l->list[i].remaining, remaining);
    assert_int_equal(l->list[i].start_us, start_us);
    assert_int_equal(l->list[i].end_us, end_us);
}

/* --- benefit_period() ------------------------------------------------------- */

static void assert_period(const char *period, int64_t now_us, int64_t start_s, int64_t end_s)
{
    int64_t start = -7, end = -7;
    assert_int_equal(benefit_period(period, now_us, &start, &end), 0);
    if (start != US(start_s) || end != US(end_s))
        fail_msg("%s at %lld: [%lld, %lld), expected [%lld, %lld)", period, (long long)now_us,
                 (long long)start, (long long)end, (long long)US(start_s), (long long)US(end_s));
}

static void test_benefit_period_pure(void **state)
{
    (void)state;
    const int64_t last_jan_second = US(S_2026_02_01 - 1);      /* 2026-01-31T23:59:59Z */
    const int64_t last_jan_micro = US(S_2026_02_01) - 1;       /* 2026-01-31T23:59:59.999999Z */
    /* Month: the last second and microsecond of January, then the first of February. */
    assert_period("month", last_jan_second, S_2026_01_01, S_2026_02_01);
    assert_period("month", last_jan_micro, S_2026_01_01, S_2026_02_01);
    assert_period("month", US(S_2026_02_01), S_2026_02_01, S_2026_03_01);
    assert_period("month", US(S_2026_02_01) + 1, S_2026_02_01, S_2026_03_01);
    /* Day. */
    assert_period("day", last_jan_second, S_2026_01_31, S_2026_02_01);
    assert_period("day", US(S_2026_02_01), S_2026_02_01, S_2026_02_02);
    assert_period("day", US(S_2026_01_10) + 12 * 3600 * SECOND_US, S_2026_01_10,
                  S_2026_01_10 + 86400);
    /* Week: from Monday 00:00 UTC; Sunday's last second is still the old week. */
    assert_period("week", last_jan_second, S_2026_01_26, S_2026_02_02); /* a Saturday */
    assert_period("week", US(S_2026_02_02 - 1), S_2026_01_26, S_2026_02_02); /* Sunday 23:59:59 */
    assert_period("week", US(S_2026_02_02) - 1, S_2026_01_26, S_2026_02_02);
    assert_period("week", US(S_2026_02_02), S_2026_02_02, S_2026_02_09); /* Monday 00:00:00 */
    assert_period("week", US(S_2026_01_26), S_2026_01_26, S_2026_02_02);
    assert_period("week", US(S_2026_01_10), S_2026_01_05, S_2026_01_12);
    /* A week spanning a year end. */
    assert_period("week", US(S_2025_12_31), S_2025_12_29, S_2026_01_05);
    assert_period("week", US(S_2027_01_01), S_2026_12_28, S_2027_01_04);
    /* Leap year February: 29 days; 2023's has 28. */
    assert_period("month", US(S_2024_02_29) + 12 * 3600 * SECOND_US, S_2024_02_01, S_2024_03_01);
    assert_period("day", US(S_2024_02_29) + 12 * 3600 * SECOND_US, S_2024_02_29, S_2024_03_01);
    assert_period("month", US(S_2024_03_01) - 1, S_2024_02_01, S_2024_03_01);
    assert_period("month", US(S_2024_03_01), S_2024_03_01, S_2024_03_01 + 31 * 86400);
    assert_period("month", US(S_2023_02_15), S_2023_02_01, S_2023_03_01);
    assert_int_equal(S_2024_03_01 - S_2024_02_01, 29 * 86400);
    assert_int_equal(S_2023_03_01 - S_2023_02_01, 28 * 86400);
    /* Year: a leap year has 366 days; the last microsecond of a year, then the next. */
    assert_period("year", US(S_2024_02_29), S_2024_01_01, S_2025_01_01);
    assert_int_equal(S_2025_01_01 - S_2024_01_01, 366 * 86400);
    const int64_t last_2025_micro = US(S_2026_01_01) - 1;
    assert_period("year", last_2025_micro, S_2025_01_01, S_2026_01_01);
    assert_period("month", last_2025_micro, S_2025_12_01, S_2026_01_01);
    assert_period("day", last_2025_micro, S_2025_12_31, S_2026_01_01);
    assert_period("week", last_2025_micro, S_2025_12_29, S_2026_01_05);
    assert_period("year", US(S_2026_01_01), S_2026_01_01, S_2027_01_01);
    assert_period("month", US(S_2026_01_01), S_2026_01_01, S_2026_02_01);
    /* Before 1970: times round down, not towards zero. 1969-12-29 was a Monday. */
    assert_period("day", -500000, -86400, 0);
    assert_period("day", 0, 0, 86400);
    assert_period("week", -1, -3 * 86400, 4 * 86400);
    assert_period("month", -1, -31 * 86400, 0);
    assert_period("year", -1, -365 * 86400, 0);
    /* Unknown periods. */
    int64_t start = 1, end = 2;
    assert_int_equal(benefit_period("fortnight", US(S_2026_01_01), &start, &end), -1);
    assert_int_equal(benefit_period("Month", US(S_2026_01_01), &start, &end), -1);
    assert_int_equal(benefit_period("", US(S_2026_01_01), &start, &end), -1);
    assert_int_equal(benefit_period(NULL, US(S_2026_01_01), &start, &end), -1);
    assert_int_equal(start, 1);
    assert_int_equal(end, 2);
}

/* --- claims ----------------------------------------------------------------- */

static void test_claims_count_down_then_used_up(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    set_tier(fx, "m1", "silver");
    const int64_t now = US(S_2026_01_10) + 12 * 3600 * SECOND_US;
    clock_abs(fx, now);

    expect_claim(fx, "m1", "lounge", "r1", 1, 1, US(S_2026_01_01));
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE seq = (SELECT MAX(seq)"
                                     " FROM audit) AND action = 'benefit_claim' AND payload ="
                                     " '{\"member\":\"m1\",\"ref\":\"r1\",\"benefit\":\"lounge\","
                                     "\"tier\":\"silver\"}'"),
                     1);
    benefit_list l = benefits(fx, "m1");
    assert_int_equal(l.count, 4);
    assert_benefit(&l, 0, "checkin", "Checkin", "week", 3, 0, 3, US(S_2026_01_05), US(S_2026_01_12));
    assert_benefit(&l, 1, "coffee", "Coffee", "day", 1, 0, 1, US(S_2026_01_10),
                   US(S_2026_01_10 + 86400));
    assert_benefit(&l, 2, "lounge", "Lounge", "month", 2, 1, 1, US(S_2026_01_01), US(S_2026_02_01));
    assert_benefit(&l, 3, "wifi", "Wi-Fi", "(null)", 0, 0, -1, 0, 0);

    expect_claim(fx, "m1", "lounge", "r2", 2, 0, US(S_2026_01_01));
    expect_refused(fx, "m1", "lounge", "r3", LOYALTY_ERR_INSUFFICIENT, "lounge");
    l = benefits(fx, "m1");
    assert_benefit(&l, 2, "lounge", "Lounge", "month", 2, 2, 0, US(S_2026_01_01), US(S_2026_02_01));
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM benefit_claims"), 2);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM benefit_claims WHERE tier = 'silver'"
                                     " AND period_start_us = 1767225600000000"),
                     2);

    /* A claim without a result pointer still counts. */
    loyalty_claim_request request = {.member = "m1", .benefit = "coffee", .ref = "c1"};
    expect_rc(fx, loyalty_benefit_claim(fx->ledger, &request, NULL), LOYALTY_OK, "no result");
    l = benefits(fx, "m1");
    assert_benefit(&l, 1, "coffee", "Coffee", "day", 1, 1, 0, US(S_2026_01_10),
                   US(S_2026_01_10 + 86400));

    /* Early stop. */
    memset(&l, 0, sizeof l);
    l.stop_after = 1;
    assert_int_equal(loyalty_benefits(fx->ledger, "m1", collect_benefit, &l), LOYALTY_OK);
    assert_int_equal(l.count, 1);
    check_verify(fx);
}

static void test_month_boundary(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    set_tier(fx, "m1", "silver");

    clock_abs(fx, US(S_2026_02_01 - 1)); /* 2026-01-31T23:59:59Z */
    expect_claim(fx, "m1", "lounge", "a1", 1, 1, US(S_2026_01_01));
    clock_abs(fx, US(S_2026_02_01) - 1); /* 2026-01-31T23:59:59.999999Z */
    expect_claim(fx, "m1", "lounge", "a2", 2, 0, US(S_2026_01_01));
    expect_refused(fx, "m1", "lounge", "a3", LOYALTY_ERR_INSUFFICIENT, "lounge");

    clock_abs(fx, US(S_2026_02_01)); /* 2026-02-01T00:00:00Z: a new period */
    benefit_list l = benefits(fx, "m1");
    assert_benefit(&l, 2, "lounge", "Lounge", "month", 2, 0, 2, US(S_2026_02_01), US(S_2026_03_01));
    expect_claim(fx, "m1", "lounge", "a3", 1, 1, US(S_2026_02_01));
    expect_claim(fx, "m1", "lounge", "a4", 2, 0, US(S_2026_02_01));
    expect_refused(fx, "m1", "lounge", "a5", LOYALTY_ERR_INSUFFICIENT, "lounge");
    l = benefits(fx, "m1");
    assert_benefit(&l, 2, "lounge", "Lounge", "month", 2, 2, 0, US(S_2026_02_01), US(S_2026_03_01));

    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM benefit_claims"
                                     " WHERE period_start_us = 1767225600000000"),
                     2);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM benefit_claims"
                                     " WHERE period_start_us = 1769904000000000"),
                     2);
    clock_abs(fx, US(S_2026_03_01));
    expect_claim(fx, "m1", "lounge", "a5", 1, 1, US(S_2026_03_01));
    check_verify(fx);
}

static void test_week_day_and_year_boundaries(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    set_tier(fx, "m1", "gold");

    /* Week (3 per week): Monday 00:00, Thursday, Sunday 23:59:59 are one week. */
    clock_abs(fx, US(S_2026_01_26));
    expect_claim(fx, "m1", "checkin", "w1", 1, 2, US(S_2026_01_26));
    clock_abs(fx, US(S_2026_01_29));
    expect_claim(fx, "m1", "checkin", "w2", 2, 1, US(S_2026_01_26));
    clock_abs(fx, US(S_2026_02_02 - 1));
    expect_claim(fx, "m1", "checkin", "w3", 3, 0, US(S_2026_01_26));
    expect_refused(fx, "m1", "checkin", "w4", LOYALTY_ERR_INSUFFICIENT, "checkin");
    benefit_list l = benefits(fx, "m1");
    assert_benefit(&l, 0, "checkin", "Checkin", "week", 3, 3, 0, US(S_2026_01_26), US(S_2026_02_02));
    clock_abs(fx, US(S_2026_02_02));
    expect_claim(fx, "m1", "checkin", "w4", 1, 2, US(S_2026_02_02));
    l = benefits(fx, "m1");
    assert_benefit(&l, 0, "checkin", "Checkin", "week", 3, 1, 2, US(S_2026_02_02), US(S_2026_02_09));

    /* Day (1 per day). */
    clock_abs(fx, US(S_2026_02_03 - 1));
    expect_claim(fx, "m1", "coffee", "d1", 1, 0, US(S_2026_02_02));
    expect_refused(fx, "m1", "coffee", "d2", LOYALTY_ERR_INSUFFICIENT, "coffee");
    clock_abs(fx, US(S_2026_02_03));
    expect_claim(fx, "m1", "coffee", "d2", 1, 0, US(S_2026_02_03));

    /* Year (1 per year): 2026-12-31T23:59:59Z, then 2027-01-01T00:00:00Z. */
    clock_abs(fx, US(S_2027_01_01 - 1));
    expect_claim(fx, "m1", "suite", "y1", 1, 0, US(S_2026_01_01));
    expect_refused(fx, "m1", "suite", "y2", LOYALTY_ERR_INSUFFICIENT, "suite");
    l = benefits(fx, "m1");
    assert_int_equal(l.count, 5);
    assert_benefit(&l, 3, "suite", "Suite", "year", 1, 1, 0, US(S_2026_01_01), US(S_2027_01_01));
    clock_abs(fx, US(S_2027_01_01));
    expect_claim(fx, "m1", "suite", "y2", 1, 0, US(S_2027_01_01));
    check_verify(fx);
}

static void test_unlimited_benefit(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    clock_abs(fx, US(S_2026_01_31));
    static const char *const refs[] = {"u1", "u2", "u3", "u4", "u5"};
    for (int i = 0; i < 5; i++)
        expect_claim(fx, "m1", "wifi", refs[i], i + 1, -1, 0);
    /* No periods: usage keeps counting across months. */
    clock_abs(fx, US(S_2026_03_01));
    expect_claim(fx, "m1", "wifi", "u6", 6, -1, 0);
    benefit_list l = benefits(fx, "m1");
    assert_int_equal(l.count, 1);
    assert_benefit(&l, 0, "wifi", "Wi-Fi", "(null)", 0, 6, -1, 0, 0);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM benefit_claims WHERE period_start_us = 0"
                                     " AND tier = 'base'"),
                     6);
    check_verify(fx);
}

static void test_claim_refusals_change_nothing(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1"); /* base */
    add_member(fx, "m2");
    add_member(fx, "m3");
    set_tier(fx, "m2", "silver");
    set_tier(fx, "m3", "gold");
    clock_abs(fx, US(S_2026_01_10));

    /* Not granted by the member's tier; not defined at all. */
    expect_refused(fx, "m1", "lounge", "x1", LOYALTY_ERR_NOT_PERMITTED, "lounge");
    expect_refused(fx, "m1", "lounge", "x1", LOYALTY_ERR_NOT_PERMITTED, "base");
    expect_refused(fx, "m2", "suite", "x1", LOYALTY_ERR_NOT_PERMITTED, "suite");
    expect_refused(fx, "m1", "spa", "x1", LOYALTY_ERR_NOT_FOUND, "spa");
    expect_refused(fx, "m3", "spa", "x1", LOYALTY_ERR_NOT_FOUND, "spa");
    /* Unknown member, malformed input. */
    expect_refused(fx, "ghost", "wifi", "x1", LOYALTY_ERR_NOT_FOUND, "ghost");
    expect_refused(fx, "bad id!", "wifi", "x1", LOYALTY_ERR_INVALID, NULL);
    expect_refused(fx, "m1", "bad code", "x1", LOYALTY_ERR_INVALID, NULL);
    expect_refused(fx, "m1", "wifi", "", LOYALTY_ERR_INVALID, NULL);
    expect_refused(fx, "m1", "wifi", NULL, LOYALTY_ERR_INVALID, NULL);
    expect_refused(fx, NULL, "wifi", "x1", LOYALTY_ERR_INVALID, NULL);
    snapshot before;
    snapshot_take(fx, NULL, &before);
    loyalty_claim_result r;
    assert_int_equal(loyalty_benefit_claim(fx->ledger, NULL, &r), LOYALTY_ERR_MISUSE);
    loyalty_claim_request request = {.member = "m1", .benefit = "wifi", .ref = "x1"};
    assert_int_equal(loyalty_benefit_claim(NULL, &request, &r), LOYALTY_ERR_MISUSE);
    assert_unchanged(fx, NULL, &before);

    /* A frozen member cannot claim, until unfrozen. */
    assert_int_equal(loyalty_member_freeze(fx->ledger, "m2", "review", NULL, NULL), LOYALTY_OK);
    expect_refused(fx, "m2", "lounge", "f1", LOYALTY_ERR_NOT_PERMITTED, "frozen");
    expect_refused(fx, "m2", "wifi", "f1", LOYALTY_ERR_NOT_PERMITTED, "frozen");
    assert_int_equal(loyalty_member_unfreeze(fx->ledger, "m2", "ok", NULL, NULL), LOYALTY_OK);
    expect_claim(fx, "m2", "lounge", "f1", 1, 1, US(S_2026_01_01));

    /* A closed member cannot claim anything. */
    expect_claim(fx, "m3", "suite", "s1", 1, 0, US(S_2026_01_01));
    assert_int_equal(loyalty_member_close(fx->ledger, "m3", "left", NULL, NULL), LOYALTY_OK);
    expect_refused(fx, "m3", "wifi", "c1", LOYALTY_ERR_NOT_PERMITTED, "closed");
    expect_refused(fx, "m3", "lounge", "c1", LOYALTY_ERR_NOT_PERMITTED, "closed");

    /* The listing's own errors. */
    benefit_list l;
    memset(&l, 0, sizeof l);
    expect_rc(fx, loyalty_benefits(fx->ledger, "ghost", collect_benefit, &l), LOYALTY_ERR_NOT_FOUND,
              "benefits of unknown member");
    expect_rc(fx, loyalty_benefits(fx->ledger, "bad id!", collect_benefit, &l), LOYALTY_ERR_INVALID,
              "benefits of bad id");
    expect_rc(fx, loyalty_benefits(fx->ledger, "m1", NULL, NULL), LOYALTY_ERR_MISUSE,
              "benefits without callback");
    assert_int_equal(l.count, 0);
    check_verify(fx);
}

static void test_claim_replay_and_conflict(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    add_member(fx, "m2");
    set_tier(fx, "m1", "silver");
    set_tier(fx, "m2", "silver");
    clock_abs(fx, US(S_2026_01_10));
    loyalty_claim_result first = expect_claim(fx, "m1", "lounge", "r1", 1, 1, US(S_2026_01_01));

    /* The same reference and parameters: the original result, nothing new. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_claim_result r;
    expect_rc(fx, claim(fx, "m1", "lounge", "r1", &r), LOYALTY_OK, "replay");
    assert_int_equal(r.replayed, 1);
    assert_string_equal(r.member, "m1");
    assert_string_equal(r.benefit, "lounge");
    assert_string_equal(r.ref, "r1");
    assert_int_equal(r.used, 1);
    assert_int_equal(r.remaining, 1);
    assert_int_equal(r.period_start_us, US(S_2026_01_01));
    assert_int_equal(r.audit_seq, first.audit_seq);
    assert_unchanged(fx, "m1", &before);

    /* Used up: a replay still answers with the original result. */
    loyalty_claim_result second = expect_claim(fx, "m1", "lounge", "r2", 2, 0, US(S_2026_01_01));
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, claim(fx, "m1", "lounge", "r2", &r), LOYALTY_OK, "replay when used up");
    assert_int_equal(r.replayed, 1);
    assert_int_equal(r.used, 2);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.audit_seq, second.audit_seq);
    expect_rc(fx, claim(fx, "m1", "lounge", "r1", &r), LOYALTY_OK, "replay of the first");
    assert_int_equal(r.replayed, 1);
    assert_int_equal(r.used, 1);
    assert_int_equal(r.remaining, 1);
    assert_unchanged(fx, "m1", &before);

    /* The same reference with another benefit or member: a conflict. */
    expect_refused(fx, "m1", "coffee", "r1", LOYALTY_ERR_CONFLICT, "r1");
    expect_refused(fx, "m2", "lounge", "r1", LOYALTY_ERR_CONFLICT, "r1");
    expect_refused(fx, "m1", "wifi", "r2", LOYALTY_ERR_CONFLICT, "r2");

    /* Next month, the replay still reports January's claim. */
    clock_abs(fx, US(S_2026_02_01));
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, claim(fx, "m1", "lounge", "r1", &r), LOYALTY_OK, "replay next month");
    assert_int_equal(r.replayed, 1);
    assert_int_equal(r.used, 1);
    assert_int_equal(r.period_start_us, US(S_2026_01_01));
    assert_unchanged(fx, "m1", &before);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM benefit_claims"), 2);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'benefit_claim'"), 2);
    check_verify(fx);
}

/*
 * A replay returns the original result: the figures of the claim as it was
 * made, not recomputed under a program loaded since.
 */
static void test_claim_replay_after_program_change(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    set_tier(fx, "m1", "silver");
    clock_abs(fx, US(S_2026_01_10));
    loyalty_claim_result first = expect_claim(fx, "m1", "lounge", "r1", 1, 1, US(S_2026_01_01));

    /* The same catalogue with a higher lounge limit. */
    static const char from[] = "\"limit\":2,\"period\":\"month\"";
    char raised[sizeof program + 8];
    const char *at = strstr(program, from);
    assert_non_null(at);
    snprintf(raised, sizeof raised, "%.*s\"limit\":5,\"period\":\"month\"%s", (int)(at - program),
             program, at + strlen(from));
    expect_rc(fx, loyalty_program_load(fx->ledger, raised, NULL), LOYALTY_OK, "raise the limit");
    loyalty_claim_result r;
    expect_rc(fx, claim(fx, "m1", "lounge", "r1", &r), LOYALTY_OK, "replay");
    assert_int_equal(r.replayed, 1);
    assert_int_equal(r.audit_seq, first.audit_seq);
    assert_int_equal(r.used, 1);
    assert_int_equal(r.period_start_us, US(S_2026_01_01));
    if (r.remaining != 1)
        fail_msg("replay after raising the limit to 5: remaining %lld, the claim answered 1",
                 (long long)r.remaining);

    /* A program without the benefit: the replay still is the limited claim it was. */
    expect_rc(fx, loyalty_program_load(fx->ledger, "{}", NULL), LOYALTY_OK, "drop the ladder");
    expect_rc(fx, claim(fx, "m1", "lounge", "r1", &r), LOYALTY_OK, "replay without the benefit");
    assert_int_equal(r.replayed, 1);
    assert_int_equal(r.period_start_us, US(S_2026_01_01));
    if (r.remaining != 1)
        fail_msg("replay after the benefit was dropped: remaining %lld (unlimited?) with period %lld",
                 (long long)r.remaining, (long long)r.period_start_us);
    check_verify(fx);
}

static void test_entitlement_follows_tier(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    clock_abs(fx, US(S_2026_01_10));
    benefit_list l = benefits(fx, "m1");
    assert_int_equal(l.count, 1);
    assert_string_equal(l.list[0].code, "wifi");
    expect_refused(fx, "m1", "lounge", "l1", LOYALTY_ERR_NOT_PERMITTED, "lounge");

    /* A purchase makes the member silver: lounge at once. */
    loyalty_award_request award = {.member = "m1", .ref = "o1", .amount_minor = 12000};
    loyalty_posting p;
    expect_rc(fx, loyalty_award(fx->ledger, &award, &p), LOYALTY_OK, "purchase");
    assert_string_equal(member_get(fx, "m1").tier, "silver");
    assert_int_equal(benefits(fx, "m1").count, 4);
    expect_claim(fx, "m1", "lounge", "l1", 1, 1, US(S_2026_01_01));
    expect_claim(fx, "m1", "lounge", "l2", 2, 0, US(S_2026_01_01));
    expect_refused(fx, "m1", "suite", "s1", LOYALTY_ERR_NOT_PERMITTED, "suite");

    /* Gold: suite granted; the month's lounge usage stays with the member. */
    set_tier(fx, "m1", "gold");
    expect_refused(fx, "m1", "lounge", "l3", LOYALTY_ERR_INSUFFICIENT, "lounge");
    expect_claim(fx, "m1", "suite", "s1", 1, 0, US(S_2026_01_01));
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM benefit_claims WHERE tier = 'silver'"), 2);
    assert_int_equal(sql_integer(fx, "SELECT tier = 'gold' FROM benefit_claims WHERE ref = 's1'"), 1);

    /* A year on, the evaluation moves the member down: only base's benefits are left. */
    clock_abs(fx, US(S_2027_01_15));
    loyalty_evaluate_result r;
    expect_rc(fx, loyalty_tier_evaluate(fx->ledger, &r, NULL, NULL), LOYALTY_OK, "evaluate");
    assert_int_equal(r.downgraded, 1);
    assert_string_equal(member_get(fx, "m1").tier, "base");
    l = benefits(fx, "m1");
    assert_int_equal(l.count, 1);
    assert_benefit(&l, 0, "wifi", "Wi-Fi", "(null)", 0, 0, -1, 0, 0);
    expect_refused(fx, "m1", "lounge", "l3", LOYALTY_ERR_NOT_PERMITTED, "lounge");
    expect_refused(fx, "m1", "suite", "s2", LOYALTY_ERR_NOT_PERMITTED, "suite");
    expect_claim(fx, "m1", "wifi", "w1", 1, -1, 0);
    check_verify(fx);
}

static void test_no_ladder_no_benefits(void **state)
{
    fixture *fx = *state; /* the default program */
    add_member(fx, "m1");
    benefit_list l = benefits(fx, "m1");
    assert_int_equal(l.count, 0);
    expect_refused(fx, "m1", "wifi", "x1", LOYALTY_ERR_NOT_FOUND, "wifi");
}

/* --- tampering ------------------------------------------------------------ */

static void test_verify_catches_tampered_claims(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    set_tier(fx, "m1", "silver");
    clock_abs(fx, US(S_2026_01_10));
    expect_claim(fx, "m1", "lounge", "r1", 1, 1, US(S_2026_01_01));
    expect_claim(fx, "m1", "lounge", "r2", 2, 0, US(S_2026_01_01));
    check_verify(fx);

    /* Moving a claim to another period would free a use. */
    sql_exec(fx, "UPDATE benefit_claims SET period_start_us = 0 WHERE ref = 'r2'");
    assert_int_equal(benefits(fx, "m1").list[2].remaining, 1);
    expect_verify_fails(fx, "benefit_claims");
    sql_exec(fx, "UPDATE benefit_claims SET period_start_us = 1767225600000000 WHERE ref = 'r2'");
    check_verify(fx);

    sql_exec(fx, "UPDATE benefit_claims SET benefit = 'coffee' WHERE ref = 'r1'");
    expect_verify_fails(fx, "benefit_claims");
    sql_exec(fx, "UPDATE benefit_claims SET benefit = 'lounge' WHERE ref = 'r1'");
    check_verify(fx);

    /* Raising the limit in the stored catalogue. */
    sql_exec(fx, "UPDATE program_benefits SET claim_limit = 100 WHERE code = 'lounge'");
    assert_int_equal(benefits(fx, "m1").list[2].remaining, 98);
    expect_verify_fails(fx, "program_benefits");
    sql_exec(fx, "UPDATE program_benefits SET claim_limit = 2 WHERE code = 'lounge'");
    check_verify(fx);

    /* Granting a benefit to a tier behind the log's back. */
    sql_exec(fx, "INSERT INTO program_tier_benefits (version, tier_code, benefit_code)"
                 " VALUES (2, 'base', 'lounge')");
    expect_verify_fails(fx, "program_tier_benefits");
    sql_exec(fx, "DELETE FROM program_tier_benefits WHERE tier_code = 'base'"
                 " AND benefit_code = 'lounge'");
    check_verify(fx);

    /* A forged claim row, then a deleted one. */
    sql_exec(fx, "INSERT INTO benefit_claims (member_id, benefit, ref, request_hash, tier,"
                 " period_start_us, ts_us, actor, audit_seq)"
                 " SELECT member_id, 'coffee', 'forged', request_hash, tier, period_start_us, ts_us,"
                 " actor, audit_seq FROM benefit_claims WHERE ref = 'r1'");
    expect_verify_fails(fx, "benefit_claims");
    sql_exec(fx, "DELETE FROM benefit_claims WHERE ref = 'forged'");
    check_verify(fx);

    sql_exec(fx, "DELETE FROM benefit_claims WHERE ref = 'r2'");
    assert_int_equal(benefits(fx, "m1").list[2].used, 1);
    expect_verify_fails(fx, "benefit_claims");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_benefit_period_pure),
        cmocka_unit_test_setup_teardown(test_claims_count_down_then_used_up, setup_benefits,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_month_boundary, setup_benefits, teardown),
        cmocka_unit_test_setup_teardown(test_week_day_and_year_boundaries, setup_benefits, teardown),
        cmocka_unit_test_setup_teardown(test_unlimited_benefit, setup_benefits, teardown),
        cmocka_unit_test_setup_teardown(test_claim_refusals_change_nothing, setup_benefits,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_claim_replay_and_conflict, setup_benefits, teardown),
        cmocka_unit_test_setup_teardown(test_claim_replay_after_program_change, setup_benefits,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_entitlement_follows_tier, setup_benefits, teardown),
        cmocka_unit_test_setup_teardown(test_no_ladder_no_benefits, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_verify_catches_tampered_claims, setup_benefits,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
