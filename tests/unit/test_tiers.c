/*
 * test_tiers.c - membership tiers: qualification on purchase points in the
 * rolling window (bonuses and adjustments do not qualify, refunds and
 * reversals reduce it), the upgrade at once on the crossing award (which
 * earns at the old multiplier), skipping tiers, downgrades only at an
 * evaluation run (idempotent, closed members skipped), manual tier changes,
 * the tier history and the ladder listing, members placed by evaluation
 * after a new program, and verify catching tampered tier rows.
 */
#include "support.h"

#define DAY_US INT64_C(86400000000)
#define SECOND_US INT64_C(1000000)

/* base(0, 1000‰) / silver(100, 1500‰) / gold(500, 2000‰), a 30-day window. */
static const char ladder[] =
    "{\"tier_window_days\":30,\"tiers\":["
    "{\"code\":\"base\",\"name\":\"Base\",\"threshold\":0,\"multiplier_permille\":1000},"
    "{\"code\":\"silver\",\"name\":\"Silver\",\"threshold\":100,\"multiplier_permille\":1500,"
    "\"benefits\":[\"lounge\"]},"
    "{\"code\":\"gold\",\"name\":\"Gold\",\"threshold\":500,\"multiplier_permille\":2000,"
    "\"benefits\":[\"suite\",\"lounge\"]}],"
    "\"benefits\":[{\"code\":\"lounge\",\"name\":\"Lounge\",\"limit\":2,\"period\":\"month\"},"
    "{\"code\":\"suite\",\"name\":\"Suite\"}]}";

/* A later program: base and silver are gone, gold moved down, platinum on top. */
static const char ladder_v3[] =
    "{\"tier_window_days\":30,\"tiers\":["
    "{\"code\":\"bronze\",\"name\":\"Bronze\",\"threshold\":0,\"multiplier_permille\":1000},"
    "{\"code\":\"gold\",\"name\":\"Gold\",\"threshold\":300,\"multiplier_permille\":3000},"
    "{\"code\":\"platinum\",\"name\":\"Platinum\",\"threshold\":1000,\"multiplier_permille\":4000}]}";

static int setup_tiers(void **state)
{
    fixture *fx = fixture_new();
    *state = fx;
    return create_ledger(fx, ladder) == LOYALTY_OK ? 0 : -1;
}

/* --- helpers ---------------------------------------------------------------- */

/* Replaces the fixture's handle with one acting as actor whose clock reads T0_US + offset_us. */
static void clock_as(fixture *fx, int64_t offset_us, const char *actor)
{
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    loyalty_open_options options = {
        .db_path = fx->db_path, .actor = actor, .now_us = T0_US + offset_us};
    assert_int_equal(loyalty_open(&fx->ledger, &options), LOYALTY_OK);
}

static void clock_at(fixture *fx, int64_t offset_us)
{
    clock_as(fx, offset_us, ACTOR);
}

static void expect_rc(fixture *fx, int rc, int expected, const char *what)
{
    if (rc != expected)
        fail_msg("%s: expected %s, got %s (%s)", what, loyalty_result_name(expected),
                 loyalty_result_name(rc), loyalty_errmsg(fx->ledger));
}

static void load_program(fixture *fx, const char *json)
{
    int rc = loyalty_program_load(fx->ledger, json, NULL);
    expect_rc(fx, rc, LOYALTY_OK, "program load");
}

/* A purchase award; the posting is returned. */
static loyalty_posting purchase(fixture *fx, const char *member, const char *ref, int64_t amount)
{
    loyalty_award_request request = {.member = member, .ref = ref, .amount_minor = amount};
    loyalty_posting posting;
    memset(&posting, 0, sizeof posting);
    expect_rc(fx, loyalty_award(fx->ledger, &request, &posting), LOYALTY_OK, ref);
    assert_int_equal(posting.replayed, 0);
    return posting;
}

/* Asserts the member's tier and qualifying points at the handle's clock. */
static void assert_tier(fixture *fx, const char *member, const char *tier, int64_t qualifying)
{
    loyalty_member_info info = member_get(fx, member);
    if (strcmp(info.tier, tier) != 0 || info.qualifying != qualifying)
        fail_msg("%s: tier %s with %lld qualifying points, expected %s with %lld", member,
                 info.tier, (long long)info.qualifying, tier, (long long)qualifying);
}

static loyalty_evaluate_result evaluate(fixture *fx)
{
    loyalty_evaluate_result result;
    memset(&result, 0xff, sizeof result);
    expect_rc(fx, loyalty_tier_evaluate(fx->ledger, &result, NULL, NULL), LOYALTY_OK, "evaluate");
    return result;
}

static void assert_evaluated(const loyalty_evaluate_result *r, int64_t members, int64_t upgraded,
                             int64_t downgraded, int64_t placed)
{
    if (r->members != members || r->upgraded != upgraded || r->downgraded != downgraded ||
        r->placed != placed)
        fail_msg("evaluate: members %lld up %lld down %lld placed %lld; expected %lld %lld %lld %lld",
                 (long long)r->members, (long long)r->upgraded, (long long)r->downgraded,
                 (long long)r->placed, (long long)members, (long long)upgraded,
                 (long long)downgraded, (long long)placed);
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

/* verify must fail on a state mismatch in `table`. */
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
    assert_int_equal(report.first_bad_seq, 0);
    assert_non_null(strstr(report.reason, table));
    assert_errmsg_mentions(fx->ledger, table);
}

/* The tier history, copied out of the callback. */
#define MAX_CHANGES 16
typedef struct change {
    char from[LOYALTY_CODE_MAX + 1]; /* "(null)" when NULL */
    char to[LOYALTY_CODE_MAX + 1];
    char cause[16];
    int64_t qualifying;
    char reason[LOYALTY_CODE_MAX + 1]; /* "(null)" when NULL */
    int64_t ts_us;
    char actor[LOYALTY_ID_MAX + 1];
    int64_t audit_seq;
} change;

typedef struct changes {
    int count;
    int stop_after; /* 0: never */
    change list[MAX_CHANGES];
} changes;

static int collect_change(void *context, const loyalty_tier_change *c)
{
    changes *h = context;
    assert_true(h->count < MAX_CHANGES);
    change *out = &h->list[h->count++];
    snprintf(out->from, sizeof out->from, "%s", c->from ? c->from : "(null)");
    snprintf(out->to, sizeof out->to, "%s", c->to);
    snprintf(out->cause, sizeof out->cause, "%s", c->cause);
    out->qualifying = c->qualifying;
    snprintf(out->reason, sizeof out->reason, "%s", c->reason ? c->reason : "(null)");
    out->ts_us = c->ts_us;
    snprintf(out->actor, sizeof out->actor, "%s", c->actor);
    out->audit_seq = c->audit_seq;
    return h->stop_after && h->count >= h->stop_after;
}

static changes history(fixture *fx, const char *member)
{
    changes h;
    memset(&h, 0, sizeof h);
    expect_rc(fx, loyalty_tier_history(fx->ledger, member, collect_change, &h), LOYALTY_OK,
              "tier history");
    return h;
}

static void assert_change(const changes *h, int i, const char *from, const char *to,
                          const char *cause, int64_t qualifying, const char *reason,
                          int64_t ts_us, const char *actor)
{
    assert_true(i < h->count);
    const change *c = &h->list[i];
    assert_string_equal(c->from, from);
    assert_string_equal(c->to, to);
    assert_string_equal(c->cause, cause);
    assert_int_equal(c->qualifying, qualifying);
    assert_string_equal(c->reason, reason);
    assert_int_equal(c->ts_us, ts_us);
    assert_string_equal(c->actor, actor);
    assert_true(c->audit_seq > 0);
}

/* The audit entry `seq` records a tier change of this member to `to`. */
static void assert_audited_change(fixture *fx, int64_t seq, const char *action, const char *needle)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM audit WHERE seq = %lld AND action = '%s' AND instr(payload, '%s') > 0",
             (long long)seq, action, needle);
    if (sql_integer(fx, sql) != 1)
        fail_msg("audit entry %lld is not a %s entry with %s", (long long)seq, action, needle);
}

/* The ladder listing, copied out. */
#define MAX_TIERS 8
typedef struct tier_list {
    int count;
    int stop_after;
    struct {
        char code[LOYALTY_CODE_MAX + 1];
        char name[LOYALTY_CODE_MAX + 1];
        int64_t position, threshold, multiplier_permille, members;
        char benefits[128];
    } list[MAX_TIERS];
} tier_list;

static int collect_tier(void *context, const loyalty_tier_info *t)
{
    tier_list *l = context;
    assert_true(l->count < MAX_TIERS);
    snprintf(l->list[l->count].code, sizeof l->list[0].code, "%s", t->code);
    snprintf(l->list[l->count].name, sizeof l->list[0].name, "%s", t->name);
    snprintf(l->list[l->count].benefits, sizeof l->list[0].benefits, "%s", t->benefits);
    l->list[l->count].position = t->position;
    l->list[l->count].threshold = t->threshold;
    l->list[l->count].multiplier_permille = t->multiplier_permille;
    l->list[l->count].members = t->members;
    l->count++;
    return l->stop_after && l->count >= l->stop_after;
}

static tier_list tiers(fixture *fx)
{
    tier_list l;
    memset(&l, 0, sizeof l);
    expect_rc(fx, loyalty_tiers(fx->ledger, collect_tier, &l), LOYALTY_OK, "tiers");
    return l;
}

static void assert_tier_row(const tier_list *l, int i, const char *code, const char *name,
                            int64_t threshold, int64_t multiplier, const char *benefits,
                            int64_t members)
{
    assert_true(i < l->count);
    assert_string_equal(l->list[i].code, code);
    assert_string_equal(l->list[i].name, name);
    assert_int_equal(l->list[i].position, i);
    assert_int_equal(l->list[i].threshold, threshold);
    assert_int_equal(l->list[i].multiplier_permille, multiplier);
    assert_string_equal(l->list[i].benefits, benefits);
    assert_int_equal(l->list[i].members, members);
}

static int64_t audit_rows(const fixture *fx)
{
    return sql_integer(fx, "SELECT COUNT(*) FROM audit");
}

/* --- new members --------------------------------------------------------- */

static void test_new_member_starts_in_first_tier(void **state)
{
    fixture *fx = *state;
    loyalty_member_info info;
    int replayed = -1;
    assert_int_equal(loyalty_member_add(fx->ledger, "m1", &info, &replayed), LOYALTY_OK);
    assert_int_equal(replayed, 0);
    assert_string_equal(info.tier, "base");
    assert_int_equal(info.qualifying, 0);
    assert_tier(fx, "m1", "base", 0);
    /* Being placed at creation is not a change. */
    assert_int_equal(history(fx, "m1").count, 0);
    tier_list l = tiers(fx);
    assert_int_equal(l.count, 3);
    assert_tier_row(&l, 0, "base", "Base", 0, 1000, "", 1);
    assert_tier_row(&l, 1, "silver", "Silver", 100, 1500, "lounge", 0);
    assert_tier_row(&l, 2, "gold", "Gold", 500, 2000, "lounge,suite", 0);
    check_verify(fx);
}

/* --- upgrades ------------------------------------------------------------- */

static void test_upgrade_on_crossing_award(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");

    loyalty_posting p = purchase(fx, "m1", "o1", 9000);
    assert_int_equal(p.points, 90);
    assert_int_equal(p.multiplier_permille, 1000);
    assert_tier(fx, "m1", "base", 90);

    /* The crossing award earns at the old rate; the member is silver right after. */
    loyalty_posting crossing = purchase(fx, "m1", "o2", 2000);
    assert_int_equal(crossing.points, 20);
    assert_int_equal(crossing.multiplier_permille, 1000);
    assert_int_equal(crossing.balance, 110);
    assert_tier(fx, "m1", "silver", 110);
    assert_audited_change(fx, crossing.audit_seq, "award", "\"upgrade\":\"silver\"");

    /* Replaying it returns the original result and changes nothing. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_award_request again = {.member = "m1", .ref = "o2", .amount_minor = 2000};
    loyalty_posting replay;
    expect_rc(fx, loyalty_award(fx->ledger, &again, &replay), LOYALTY_OK, "replay");
    assert_int_equal(replay.replayed, 1);
    assert_int_equal(replay.tx, crossing.tx);
    assert_int_equal(replay.points, 20);
    assert_int_equal(replay.multiplier_permille, 1000);
    assert_unchanged(fx, "m1", &before);
    again.amount_minor = 2001;
    expect_rc(fx, loyalty_award(fx->ledger, &again, &replay), LOYALTY_ERR_CONFLICT, "conflict");
    assert_unchanged(fx, "m1", &before);

    /* The next purchase earns at the new rate, rounding down. */
    p = purchase(fx, "m1", "o3", 10000);
    assert_int_equal(p.points, 150);
    assert_int_equal(p.multiplier_permille, 1500);
    p = purchase(fx, "m1", "o4", 1001); /* 10.01 x 1.5 = 15.015 */
    assert_int_equal(p.points, 15);
    assert_int_equal(p.multiplier_permille, 1500);
    assert_int_equal(p.balance, 275);
    assert_tier(fx, "m1", "silver", 275);

    changes h = history(fx, "m1");
    assert_int_equal(h.count, 1);
    assert_change(&h, 0, "base", "silver", "upgrade", 110, "(null)", T0_US, ACTOR);
    assert_int_equal(h.list[0].audit_seq, crossing.audit_seq);

    /* Exactly at a threshold counts; one point below does not. */
    add_member(fx, "m2");
    add_member(fx, "m3");
    p = purchase(fx, "m2", "o5", 10000);
    assert_int_equal(p.points, 100);
    assert_tier(fx, "m2", "silver", 100);
    p = purchase(fx, "m3", "o6", 9999);
    assert_int_equal(p.points, 99);
    assert_tier(fx, "m3", "base", 99);
    assert_int_equal(history(fx, "m3").count, 0);
    check_verify(fx);
}

static void test_skip_straight_to_gold(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    loyalty_posting big = purchase(fx, "m1", "big", 60000);
    assert_int_equal(big.points, 600);
    assert_int_equal(big.multiplier_permille, 1000);
    assert_tier(fx, "m1", "gold", 600);
    changes h = history(fx, "m1");
    assert_int_equal(h.count, 1);
    assert_change(&h, 0, "base", "gold", "upgrade", 600, "(null)", T0_US, ACTOR);
    assert_int_equal(h.list[0].audit_seq, big.audit_seq);
    assert_audited_change(fx, big.audit_seq, "award", "\"upgrade\":\"gold\"");
    loyalty_posting next = purchase(fx, "m1", "next", 1000);
    assert_int_equal(next.points, 20);
    assert_int_equal(next.multiplier_permille, 2000);
    assert_tier(fx, "m1", "gold", 620);

    /* silver -> gold: the crossing award earns at silver's rate. */
    add_member(fx, "m2");
    purchase(fx, "m2", "a", 9000);
    purchase(fx, "m2", "b", 2000);
    loyalty_posting up = purchase(fx, "m2", "c", 30000);
    assert_int_equal(up.points, 450);
    assert_int_equal(up.multiplier_permille, 1500);
    assert_tier(fx, "m2", "gold", 560);
    h = history(fx, "m2");
    assert_int_equal(h.count, 2);
    assert_change(&h, 0, "base", "silver", "upgrade", 110, "(null)", T0_US, ACTOR);
    assert_change(&h, 1, "silver", "gold", "upgrade", 560, "(null)", T0_US, ACTOR);

    /* Staying in the top tier records nothing more. */
    purchase(fx, "m2", "d", 100000);
    assert_int_equal(history(fx, "m2").count, 2);
    check_verify(fx);
}

static void test_bonus_and_adjustments_do_not_qualify(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    loyalty_award_request bonus = {.member = "m1", .ref = "bonus", .points = 1000};
    loyalty_posting p;
    expect_rc(fx, loyalty_award(fx->ledger, &bonus, &p), LOYALTY_OK, "bonus");
    assert_int_equal(p.points, 1000);
    assert_int_equal(p.multiplier_permille, 1000);
    assert_tier(fx, "m1", "base", 0);
    loyalty_adjust_request adjust = {.member = "m1", .ref = "adj", .points = 800, .reason = "goodwill"};
    expect_rc(fx, loyalty_adjust(fx->ledger, &adjust, &p), LOYALTY_OK, "adjust");
    assert_tier(fx, "m1", "base", 0);
    p = purchase(fx, "m1", "o1", 5000);
    assert_int_equal(p.points, 50);
    assert_int_equal(p.balance, 1850);
    assert_tier(fx, "m1", "base", 50);
    adjust = (loyalty_adjust_request){.member = "m1", .ref = "adj2", .points = -100, .reason = "fix"};
    expect_rc(fx, loyalty_adjust(fx->ledger, &adjust, &p), LOYALTY_OK, "negative adjust");
    assert_tier(fx, "m1", "base", 50);
    /* A redemption does not reduce qualifying points either. */
    redeem_points(fx, "m1", "r1", 500);
    assert_tier(fx, "m1", "base", 50);
    assert_int_equal(history(fx, "m1").count, 0);

    /* Evaluation agrees: nothing to do. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_evaluate_result r = evaluate(fx);
    assert_evaluated(&r, 1, 0, 0, 0);
    assert_unchanged(fx, "m1", &before);

    /* A bonus to a silver member gets no multiplier. */
    add_member(fx, "m2");
    purchase(fx, "m2", "o2", 10000);
    assert_tier(fx, "m2", "silver", 100);
    bonus = (loyalty_award_request){.member = "m2", .ref = "bonus2", .points = 100};
    expect_rc(fx, loyalty_award(fx->ledger, &bonus, &p), LOYALTY_OK, "bonus to silver");
    assert_int_equal(p.points, 100);
    assert_int_equal(p.multiplier_permille, 1000);
    assert_tier(fx, "m2", "silver", 100);
    check_verify(fx);
}

static void test_refunds_reduce_qualifying(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    purchase(fx, "m1", "o1", 12000);
    assert_tier(fx, "m1", "silver", 120);

    loyalty_refund_request refund = {.member = "m1", .ref = "rf1", .order_ref = "o1",
                                     .amount_minor = 4000};
    loyalty_posting p;
    expect_rc(fx, loyalty_refund(fx->ledger, &refund, &p), LOYALTY_OK, "refund");
    assert_int_equal(p.points, -40);
    /* Below silver's threshold now, but a refund does not downgrade by itself. */
    assert_tier(fx, "m1", "silver", 80);
    p = purchase(fx, "m1", "o2", 1000);
    assert_int_equal(p.points, 15);
    assert_int_equal(p.multiplier_permille, 1500);
    assert_tier(fx, "m1", "silver", 95);
    assert_int_equal(history(fx, "m1").count, 1);

    /* A purchase's reversal takes its points out of qualification too. */
    add_member(fx, "m2");
    loyalty_posting order = purchase(fx, "m2", "p1", 20000);
    assert_tier(fx, "m2", "silver", 200);
    loyalty_reverse_request reverse = {.tx = order.tx, .ref = "rev1", .reason = "mistake"};
    expect_rc(fx, loyalty_reverse(fx->ledger, &reverse, &p), LOYALTY_OK, "reverse");
    assert_tier(fx, "m2", "silver", 0);

    /* A full refund of a gold-making order. */
    add_member(fx, "m3");
    purchase(fx, "m3", "g1", 60000);
    assert_tier(fx, "m3", "gold", 600);
    refund = (loyalty_refund_request){.member = "m3", .ref = "rf3", .order_ref = "g1",
                                      .amount_minor = 60000};
    expect_rc(fx, loyalty_refund(fx->ledger, &refund, &p), LOYALTY_OK, "full refund");
    assert_int_equal(p.points, -600);
    assert_tier(fx, "m3", "gold", 0);

    /* Refund part of an order, then reverse it: only what is left is taken once more. */
    add_member(fx, "m4");
    loyalty_posting q1 = purchase(fx, "m4", "q1", 20000);
    assert_int_equal(q1.points, 200);
    p = purchase(fx, "m4", "q2", 10000);
    assert_int_equal(p.points, 150);
    assert_tier(fx, "m4", "silver", 350);
    refund = (loyalty_refund_request){.member = "m4", .ref = "rf4", .order_ref = "q1",
                                      .amount_minor = 5000};
    expect_rc(fx, loyalty_refund(fx->ledger, &refund, &p), LOYALTY_OK, "partial refund");
    assert_int_equal(p.points, -50);
    assert_tier(fx, "m4", "silver", 300);
    reverse = (loyalty_reverse_request){.tx = q1.tx, .ref = "rev4", .reason = "mistake"};
    expect_rc(fx, loyalty_reverse(fx->ledger, &reverse, &p), LOYALTY_OK, "reverse refunded order");
    assert_int_equal(p.points, -150);
    assert_tier(fx, "m4", "silver", 150);

    /* The evaluation moves each down to what they qualify for now. */
    clock_at(fx, DAY_US);
    loyalty_evaluate_result r = evaluate(fx);
    assert_evaluated(&r, 4, 0, 3, 0);
    assert_tier(fx, "m4", "silver", 150);
    assert_tier(fx, "m1", "base", 95);
    assert_tier(fx, "m2", "base", 0);
    assert_tier(fx, "m3", "base", 0);
    changes h = history(fx, "m1");
    assert_int_equal(h.count, 2);
    assert_change(&h, 1, "silver", "base", "evaluate", 95, "(null)", T0_US + DAY_US, ACTOR);
    h = history(fx, "m3");
    assert_int_equal(h.count, 2);
    assert_change(&h, 0, "base", "gold", "upgrade", 600, "(null)", T0_US, ACTOR);
    assert_change(&h, 1, "gold", "base", "evaluate", 0, "(null)", T0_US + DAY_US, ACTOR);
    assert_audited_change(fx, h.list[1].audit_seq, "tier_change", "\"cause\":\"evaluate\"");
    check_verify(fx);
}

/* --- the window and the evaluation ---------------------------------------- */

typedef struct progress_log {
    int calls;
    int64_t done, total;
} progress_log;

static void on_progress(void *context, int64_t done, int64_t total)
{
    progress_log *p = context;
    p->calls++;
    p->done = done;
    p->total = total;
}

static void test_window_expiry_downgrades_at_evaluation_only(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    add_member(fx, "m2");
    add_member(fx, "m3");
    add_member(fx, "m4");
    purchase(fx, "m1", "a1", 60000);
    purchase(fx, "m2", "b1", 60000);
    purchase(fx, "m4", "d1", 60000);
    assert_tier(fx, "m1", "gold", 600);

    /* A gold member who leaves. */
    clock_at(fx, DAY_US);
    assert_int_equal(loyalty_member_close(fx->ledger, "m4", "left", NULL, NULL), LOYALTY_OK);

    clock_at(fx, 20 * DAY_US);
    loyalty_posting p = purchase(fx, "m2", "b2", 10000);
    assert_int_equal(p.points, 200);
    assert_int_equal(p.multiplier_permille, 2000);
    assert_tier(fx, "m2", "gold", 800);

    /* Inside the window nothing moves. */
    clock_at(fx, 29 * DAY_US);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_evaluate_result r = evaluate(fx);
    assert_evaluated(&r, 3, 0, 0, 0);
    assert_unchanged(fx, "m1", &before);

    /* The window is 30 days: the last microsecond inside it, then outside. */
    clock_at(fx, 30 * DAY_US - 1);
    assert_tier(fx, "m1", "gold", 600);
    clock_at(fx, 30 * DAY_US);
    assert_tier(fx, "m1", "gold", 0);

    /* 31 days later: qualifying points gone, but still gold until the evaluation. */
    clock_at(fx, 31 * DAY_US);
    assert_tier(fx, "m1", "gold", 0);
    assert_tier(fx, "m2", "gold", 200);
    assert_tier(fx, "m3", "base", 0);
    tier_list l = tiers(fx);
    assert_tier_row(&l, 0, "base", "Base", 0, 1000, "", 1);
    assert_tier_row(&l, 2, "gold", "Gold", 500, 2000, "lounge,suite", 2); /* m4 is closed */

    int64_t rows = audit_rows(fx);
    progress_log progress = {0, -1, -1};
    memset(&r, 0xff, sizeof r);
    expect_rc(fx, loyalty_tier_evaluate(fx->ledger, &r, on_progress, &progress), LOYALTY_OK,
              "evaluate");
    assert_evaluated(&r, 3, 0, 2, 0);
    assert_true(progress.calls >= 1);
    assert_int_equal(progress.done, 3);
    assert_int_equal(progress.total, 3);
    assert_int_equal(audit_rows(fx), rows + 2);
    assert_tier(fx, "m1", "base", 0);
    assert_tier(fx, "m2", "silver", 200);
    assert_tier(fx, "m3", "base", 0);
    /* The closed member is skipped: still gold, no change recorded. */
    loyalty_member_info closed = member_get(fx, "m4");
    assert_string_equal(closed.status, "closed");
    assert_string_equal(closed.tier, "gold");
    assert_int_equal(history(fx, "m4").count, 1);

    changes h = history(fx, "m1");
    assert_int_equal(h.count, 2);
    assert_change(&h, 0, "base", "gold", "upgrade", 600, "(null)", T0_US, ACTOR);
    assert_change(&h, 1, "gold", "base", "evaluate", 0, "(null)", T0_US + 31 * DAY_US, ACTOR);
    h = history(fx, "m2");
    assert_int_equal(h.count, 2);
    assert_change(&h, 1, "gold", "silver", "evaluate", 200, "(null)", T0_US + 31 * DAY_US, ACTOR);
    assert_audited_change(fx, h.list[1].audit_seq, "tier_change", "\"to\":\"silver\"");
    assert_true(h.list[1].audit_seq > h.list[0].audit_seq);

    /* Running it again changes nothing at all. */
    snapshot_take(fx, "m2", &before);
    r = evaluate(fx);
    assert_evaluated(&r, 3, 0, 0, 0);
    assert_unchanged(fx, "m2", &before);
    clock_at(fx, 32 * DAY_US);
    r = evaluate(fx);
    assert_evaluated(&r, 3, 0, 0, 0);
    assert_unchanged(fx, "m2", &before);

    /* Silver's rate applies now. */
    p = purchase(fx, "m2", "b3", 1000);
    assert_int_equal(p.multiplier_permille, 1500);
    assert_int_equal(p.points, 15);

    /* And when the rest of the window passes, silver goes too. */
    clock_at(fx, 51 * DAY_US);
    assert_tier(fx, "m2", "silver", 15);
    r = evaluate(fx);
    assert_evaluated(&r, 3, 0, 1, 0);
    assert_tier(fx, "m2", "base", 15);
    assert_tier_row((l = tiers(fx), &l), 0, "base", "Base", 0, 1000, "", 3);
    check_verify(fx);
}

/* The window is the program's in force: lengthening it brings points back, and evaluation
 * then moves members up. */
static void test_window_of_program_in_force(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    purchase(fx, "m1", "o1", 60000);
    clock_at(fx, 31 * DAY_US);
    loyalty_evaluate_result r = evaluate(fx);
    assert_evaluated(&r, 1, 0, 1, 0);
    assert_tier(fx, "m1", "base", 0);

    char longer[sizeof ladder];
    memcpy(longer, ladder, sizeof ladder);
    char *window = strstr(longer, "\"tier_window_days\":30");
    assert_non_null(window);
    memcpy(window + strlen("\"tier_window_days\":"), "60", 2);
    load_program(fx, longer);
    assert_tier(fx, "m1", "base", 600);
    r = evaluate(fx);
    assert_evaluated(&r, 1, 1, 0, 0);
    assert_tier(fx, "m1", "gold", 600);
    changes h = history(fx, "m1");
    assert_int_equal(h.count, 3);
    assert_change(&h, 2, "base", "gold", "evaluate", 600, "(null)", T0_US + 31 * DAY_US, ACTOR);
    check_verify(fx);
}

static void test_evaluate_misuse_and_empty(void **state)
{
    fixture *fx = *state;
    assert_int_equal(loyalty_tier_evaluate(fx->ledger, NULL, NULL, NULL), LOYALTY_ERR_MISUSE);
    loyalty_evaluate_result r;
    assert_int_equal(loyalty_tier_evaluate(NULL, &r, NULL, NULL), LOYALTY_ERR_MISUSE);
    snapshot before;
    snapshot_take(fx, NULL, &before);
    r = evaluate(fx);
    assert_evaluated(&r, 0, 0, 0, 0);
    assert_unchanged(fx, NULL, &before);
}

/* More members than one batch (256): two batches, progress after each, all placed. */
typedef struct progress_steps {
    int calls;
    int64_t done[4], total[4];
} progress_steps;

static void on_progress_step(void *context, int64_t done, int64_t total)
{
    progress_steps *p = context;
    if (p->calls < 4) {
        p->done[p->calls] = done;
        p->total[p->calls] = total;
    }
    p->calls++;
}

static void test_evaluate_in_batches(void **state)
{
    fixture *fx = *state; /* the default program: members get no tier */
    char id[16];
    for (int i = 0; i < 257; i++) {
        snprintf(id, sizeof id, "b%03d", i);
        add_member(fx, id);
    }
    add_member(fx, "gone");
    assert_int_equal(loyalty_member_close(fx->ledger, "gone", "left", NULL, NULL), LOYALTY_OK);
    load_program(fx, ladder);
    int64_t rows = audit_rows(fx);
    progress_steps progress;
    memset(&progress, 0, sizeof progress);
    loyalty_evaluate_result r;
    expect_rc(fx, loyalty_tier_evaluate(fx->ledger, &r, on_progress_step, &progress), LOYALTY_OK,
              "evaluate");
    assert_evaluated(&r, 257, 0, 0, 257);
    assert_int_equal(progress.calls, 2);
    assert_int_equal(progress.done[0], 256);
    assert_int_equal(progress.total[0], 257);
    assert_int_equal(progress.done[1], 257);
    assert_int_equal(progress.total[1], 257);
    assert_int_equal(audit_rows(fx), rows + 257);
    assert_tier(fx, "b000", "base", 0);
    assert_tier(fx, "b256", "base", 0);
    loyalty_member_info gone = member_get(fx, "gone");
    assert_string_equal(gone.tier, "");
    tier_list l = tiers(fx);
    assert_tier_row(&l, 0, "base", "Base", 0, 1000, "", 257);

    snapshot before;
    snapshot_take(fx, "b100", &before);
    r = evaluate(fx);
    assert_evaluated(&r, 257, 0, 0, 0);
    assert_unchanged(fx, "b100", &before);
    check_verify(fx);
}

/* --- manual changes ------------------------------------------------------- */

static void test_manual_tier_set(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    add_member(fx, "m2");
    add_member(fx, "m3");
    add_member(fx, "m4");
    /* Operators: support sets tiers, a checkout operator may not; evaluation is admin's. */
    assert_int_equal(loyalty_operator_add(fx->ledger, "support-7", "support", NULL), LOYALTY_OK);
    assert_int_equal(loyalty_operator_add(fx->ledger, "till-1", "checkout", NULL), LOYALTY_OK);
    assert_int_equal(loyalty_operator_add(fx->ledger, "nightly", "admin", NULL), LOYALTY_OK);

    clock_as(fx, DAY_US, "support-7");
    loyalty_member_info info;
    expect_rc(fx, loyalty_tier_set(fx->ledger, "m1", "gold", "vip-promo", &info), LOYALTY_OK, "set");
    assert_string_equal(info.member, "m1");
    assert_string_equal(info.tier, "gold");
    assert_int_equal(info.qualifying, 0);
    assert_tier(fx, "m1", "gold", 0);
    changes h = history(fx, "m1");
    assert_int_equal(h.count, 1);
    assert_change(&h, 0, "base", "gold", "manual", 0, "vip-promo", T0_US + DAY_US, "support-7");
    assert_int_equal(h.list[0].audit_seq, sql_integer(fx, "SELECT MAX(seq) FROM audit"));
    assert_audited_change(fx, h.list[0].audit_seq, "tier_change", "\"reason\":\"vip-promo\"");
    assert_int_equal(sql_integer(fx, "SELECT actor = 'support-7' FROM audit"
                                     " WHERE seq = (SELECT MAX(seq) FROM audit)"),
                     1);

    /* Refusals change nothing. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    expect_rc(fx, loyalty_tier_set(fx->ledger, "m1", "platinum", "vip", NULL), LOYALTY_ERR_NOT_FOUND,
              "unknown tier");
    assert_errmsg_mentions(fx->ledger, "platinum");
    assert_unchanged(fx, "m1", &before);
    expect_rc(fx, loyalty_tier_set(fx->ledger, "ghost", "gold", "vip", NULL), LOYALTY_ERR_NOT_FOUND,
              "unknown member");
    assert_errmsg_mentions(fx->ledger, "ghost");
    assert_unchanged(fx, "m1", &before);
    expect_rc(fx, loyalty_tier_set(fx->ledger, "m1", "gold star", "vip", NULL), LOYALTY_ERR_INVALID,
              "bad tier code");
    assert_unchanged(fx, "m1", &before);
    expect_rc(fx, loyalty_tier_set(fx->ledger, "m1", "silver", NULL, NULL), LOYALTY_ERR_INVALID,
              "no reason");
    assert_unchanged(fx, "m1", &before);
    expect_rc(fx, loyalty_tier_set(fx->ledger, "m1", "silver", "not a code", NULL),
              LOYALTY_ERR_INVALID, "bad reason");
    assert_unchanged(fx, "m1", &before);
    expect_rc(fx, loyalty_tier_set(fx->ledger, "bad id!", "silver", "vip", NULL),
              LOYALTY_ERR_INVALID, "bad member id");
    assert_unchanged(fx, "m1", &before);
    /* Setting the tier the member is already in records nothing. */
    expect_rc(fx, loyalty_tier_set(fx->ledger, "m1", "gold", "vip-promo", &info), LOYALTY_OK, "same");
    assert_string_equal(info.tier, "gold");
    assert_unchanged(fx, "m1", &before);
    /* A checkout operator may not set tiers. */
    clock_as(fx, DAY_US, "till-1");
    expect_rc(fx, loyalty_tier_set(fx->ledger, "m1", "silver", "vip", NULL),
              LOYALTY_ERR_NOT_PERMITTED, "checkout role");
    assert_unchanged(fx, "m1", &before);

    /* A closed member cannot be moved; a frozen one can. */
    clock_as(fx, DAY_US, "support-7");
    assert_int_equal(loyalty_member_close(fx->ledger, "m3", "left", NULL, NULL), LOYALTY_OK);
    snapshot_take(fx, "m3", &before);
    expect_rc(fx, loyalty_tier_set(fx->ledger, "m3", "gold", "vip", NULL), LOYALTY_ERR_NOT_PERMITTED,
              "closed");
    assert_unchanged(fx, "m3", &before);
    assert_int_equal(loyalty_member_freeze(fx->ledger, "m4", "review", NULL, NULL), LOYALTY_OK);
    expect_rc(fx, loyalty_tier_set(fx->ledger, "m4", "silver", "vip", NULL), LOYALTY_OK, "frozen");
    assert_tier(fx, "m4", "silver", 0);

    /* The manual tier's rate applies. */
    clock_at(fx, DAY_US);
    loyalty_posting p = purchase(fx, "m1", "o1", 1000);
    assert_int_equal(p.points, 20);
    assert_int_equal(p.multiplier_permille, 2000);
    assert_tier(fx, "m1", "gold", 20);

    /* A manual downgrade below what the member qualifies for. */
    purchase(fx, "m2", "o2", 60000);
    assert_tier(fx, "m2", "gold", 600);
    clock_as(fx, DAY_US, "support-7");
    expect_rc(fx, loyalty_tier_set(fx->ledger, "m2", "base", "correction", NULL), LOYALTY_OK, "down");
    assert_tier(fx, "m2", "base", 600);

    /* The next evaluation moves them again: m1 down, m2 up, m4 (frozen) down. */
    clock_as(fx, 2 * DAY_US, "nightly");
    loyalty_evaluate_result r = evaluate(fx);
    assert_evaluated(&r, 3, 1, 2, 0);
    assert_tier(fx, "m1", "base", 20);
    assert_tier(fx, "m2", "gold", 600);
    assert_tier(fx, "m4", "base", 0);
    h = history(fx, "m1");
    assert_int_equal(h.count, 2);
    assert_change(&h, 1, "gold", "base", "evaluate", 20, "(null)", T0_US + 2 * DAY_US, "nightly");
    h = history(fx, "m2");
    assert_int_equal(h.count, 3);
    assert_change(&h, 0, "base", "gold", "upgrade", 600, "(null)", T0_US + DAY_US, ACTOR);
    assert_change(&h, 1, "gold", "base", "manual", 600, "correction", T0_US + DAY_US, "support-7");
    assert_change(&h, 2, "base", "gold", "evaluate", 600, "(null)", T0_US + 2 * DAY_US, "nightly");
    check_verify(fx);
}

/*
 * A manual downgrade holds until the next evaluation: a purchase that crosses
 * no threshold (the member was already above gold's) is not an upgrade.
 */
static void test_manual_downgrade_holds_until_evaluation(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    purchase(fx, "m1", "o1", 60000);
    assert_tier(fx, "m1", "gold", 600);
    expect_rc(fx, loyalty_tier_set(fx->ledger, "m1", "base", "correction", NULL), LOYALTY_OK, "down");
    assert_tier(fx, "m1", "base", 600);
    loyalty_posting p = purchase(fx, "m1", "o2", 1000);
    assert_int_equal(p.multiplier_permille, 1000);
    assert_int_equal(p.points, 10);
    changes h = history(fx, "m1");
    if (h.count != 2)
        fail_msg("a purchase crossing no threshold (600 -> 610, gold at 500) recorded %s %s -> %s",
                 h.list[h.count - 1].cause, h.list[h.count - 1].from, h.list[h.count - 1].to);
    assert_tier(fx, "m1", "base", 610);
    clock_at(fx, DAY_US);
    loyalty_evaluate_result r = evaluate(fx);
    assert_evaluated(&r, 1, 1, 0, 0);
    assert_tier(fx, "m1", "gold", 610);
    check_verify(fx);
}

/* --- listings ------------------------------------------------------------- */

static void test_tiers_listing_and_history_errors(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    add_member(fx, "m2");
    add_member(fx, "m3");
    add_member(fx, "m4");
    purchase(fx, "m1", "o1", 60000);
    purchase(fx, "m2", "o2", 10000);
    purchase(fx, "m4", "o4", 60000);
    assert_int_equal(loyalty_member_close(fx->ledger, "m4", "left", NULL, NULL), LOYALTY_OK);
    tier_list l = tiers(fx);
    assert_int_equal(l.count, 3);
    assert_tier_row(&l, 0, "base", "Base", 0, 1000, "", 1);
    assert_tier_row(&l, 1, "silver", "Silver", 100, 1500, "lounge", 1);
    assert_tier_row(&l, 2, "gold", "Gold", 500, 2000, "lounge,suite", 1);

    /* Early stop. */
    memset(&l, 0, sizeof l);
    l.stop_after = 1;
    assert_int_equal(loyalty_tiers(fx->ledger, collect_tier, &l), LOYALTY_OK);
    assert_int_equal(l.count, 1);
    assert_int_equal(loyalty_tiers(fx->ledger, NULL, NULL), LOYALTY_ERR_MISUSE);

    /* Tier history: errors and early stop. */
    changes h;
    memset(&h, 0, sizeof h);
    expect_rc(fx, loyalty_tier_history(fx->ledger, "ghost", collect_change, &h),
              LOYALTY_ERR_NOT_FOUND, "unknown member");
    expect_rc(fx, loyalty_tier_history(fx->ledger, "bad id!", collect_change, &h),
              LOYALTY_ERR_INVALID, "bad id");
    expect_rc(fx, loyalty_tier_history(fx->ledger, "m1", NULL, NULL), LOYALTY_ERR_MISUSE, "no callback");
    assert_int_equal(h.count, 0);
    assert_int_equal(loyalty_tier_set(fx->ledger, "m1", "base", "test", NULL), LOYALTY_OK);
    h.stop_after = 1;
    expect_rc(fx, loyalty_tier_history(fx->ledger, "m1", collect_change, &h), LOYALTY_OK, "stop");
    assert_int_equal(h.count, 1);
    assert_string_equal(h.list[0].cause, "upgrade");
    assert_int_equal(history(fx, "m1").count, 2);

    /* Without a ladder there is nothing to list and evaluation moves nobody. */
    load_program(fx, "{}");
    l = tiers(fx);
    assert_int_equal(l.count, 0);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_evaluate_result r = evaluate(fx);
    assert_evaluated(&r, 3, 0, 0, 0);
    assert_unchanged(fx, "m1", &before);
    loyalty_posting p = purchase(fx, "m2", "o5", 1000); /* and everyone earns at 1000‰ */
    assert_int_equal(p.multiplier_permille, 1000);
    assert_int_equal(p.points, 10);
    check_verify(fx);
}

/* --- a new program -------------------------------------------------------- */

static void test_new_program_places_members(void **state)
{
    fixture *fx = *state; /* the default program: no tiers */
    add_member(fx, "m0");
    assert_tier(fx, "m0", "", 0);
    load_program(fx, ladder);
    add_member(fx, "m1");
    add_member(fx, "m2");
    add_member(fx, "m3");
    purchase(fx, "m1", "o1", 60000);
    purchase(fx, "m2", "o2", 12000);
    assert_tier(fx, "m0", "", 0);
    assert_tier(fx, "m1", "gold", 600);
    assert_tier(fx, "m2", "silver", 120);
    assert_tier(fx, "m3", "base", 0);

    /* m0 had no tier: placed in the first one. */
    clock_at(fx, DAY_US);
    loyalty_evaluate_result r = evaluate(fx);
    assert_evaluated(&r, 4, 0, 0, 1);
    assert_tier(fx, "m0", "base", 0);
    changes h = history(fx, "m0");
    assert_int_equal(h.count, 1);
    assert_change(&h, 0, "(null)", "base", "evaluate", 0, "(null)", T0_US + DAY_US, ACTOR);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'tier_change'"
                                     " AND instr(payload, '\"from\"') = 0"),
                     1);

    /* A new ladder keeps gold (lower now), drops base and silver. */
    clock_at(fx, 2 * DAY_US);
    load_program(fx, ladder_v3);
    assert_tier(fx, "m2", "silver", 120);
    tier_list l = tiers(fx);
    assert_int_equal(l.count, 3);
    assert_tier_row(&l, 0, "bronze", "Bronze", 0, 1000, "", 0);
    assert_tier_row(&l, 1, "gold", "Gold", 300, 3000, "", 1);
    assert_tier_row(&l, 2, "platinum", "Platinum", 1000, 4000, "", 0);

    clock_at(fx, 3 * DAY_US);
    r = evaluate(fx);
    assert_evaluated(&r, 4, 0, 0, 3);
    assert_tier(fx, "m0", "bronze", 0);
    assert_tier(fx, "m1", "gold", 600);
    assert_tier(fx, "m2", "bronze", 120);
    assert_tier(fx, "m3", "bronze", 0);
    h = history(fx, "m2");
    assert_int_equal(h.count, 2);
    assert_change(&h, 1, "silver", "bronze", "evaluate", 120, "(null)", T0_US + 3 * DAY_US, ACTOR);
    l = tiers(fx);
    assert_tier_row(&l, 0, "bronze", "Bronze", 0, 1000, "", 3);
    assert_tier_row(&l, 1, "gold", "Gold", 300, 3000, "", 1);
    assert_int_equal(history(fx, "m1").count, 1);

    /* Gold's new rate applies; evaluation is settled. */
    loyalty_posting p = purchase(fx, "m1", "o3", 1000);
    assert_int_equal(p.multiplier_permille, 3000);
    assert_int_equal(p.points, 30);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    r = evaluate(fx);
    assert_evaluated(&r, 4, 0, 0, 0);
    assert_unchanged(fx, "m1", &before);
    check_verify(fx);
}

/*
 * A member whose tier is not in the ladder in force earns at the default
 * tier's rate; a purchase that crosses no threshold of the new ladder is not
 * an upgrade: the member is placed by the evaluation.
 */
static void test_orphan_tier_purchase_is_not_an_upgrade(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    purchase(fx, "m1", "o1", 12000);
    assert_tier(fx, "m1", "silver", 120);
    load_program(fx, ladder_v3);
    loyalty_posting p = purchase(fx, "m1", "o2", 1000);
    assert_int_equal(p.multiplier_permille, 1000); /* bronze's rate */
    assert_int_equal(p.points, 10);
    changes h = history(fx, "m1");
    for (int i = 0; i < h.count; i++)
        if (strcmp(h.list[i].cause, "upgrade") == 0 && strcmp(h.list[i].to, "bronze") == 0)
            fail_msg("a purchase crossing no threshold recorded an 'upgrade' %s -> %s",
                     h.list[i].from, h.list[i].to);
    assert_tier(fx, "m1", "silver", 130);
    loyalty_evaluate_result r = evaluate(fx);
    assert_evaluated(&r, 1, 0, 0, 1);
    assert_tier(fx, "m1", "bronze", 130);

    /* Crossing a threshold of the new ladder does upgrade at once. */
    p = purchase(fx, "m1", "o3", 20000);
    assert_int_equal(p.points, 200);
    assert_tier(fx, "m1", "gold", 330);
    check_verify(fx);
}

/* --- tampering ------------------------------------------------------------ */

static void test_verify_catches_tampered_tiers(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    purchase(fx, "m1", "o1", 12000);
    assert_int_equal(loyalty_tier_set(fx->ledger, "m1", "gold", "vip", NULL), LOYALTY_OK);
    check_verify(fx);

    sql_exec(fx, "UPDATE members SET tier = 'silver' WHERE external_id = 'm1'");
    assert_tier(fx, "m1", "silver", 120);
    expect_verify_fails(fx, "members");
    sql_exec(fx, "UPDATE members SET tier = 'gold' WHERE external_id = 'm1'");
    check_verify(fx);

    sql_exec(fx, "UPDATE members SET tier = NULL WHERE external_id = 'm1'");
    expect_verify_fails(fx, "members");
    sql_exec(fx, "UPDATE members SET tier = 'gold' WHERE external_id = 'm1'");
    check_verify(fx);

    sql_exec(fx, "UPDATE tier_changes SET cause = 'evaluate' WHERE cause = 'manual'");
    expect_verify_fails(fx, "tier_changes");
    sql_exec(fx, "UPDATE tier_changes SET cause = 'manual' WHERE reason = 'vip'");
    check_verify(fx);

    sql_exec(fx, "UPDATE tier_changes SET qualifying = 999 WHERE cause = 'upgrade'");
    expect_verify_fails(fx, "tier_changes");
    sql_exec(fx, "UPDATE tier_changes SET qualifying = 120 WHERE cause = 'upgrade'");
    check_verify(fx);

    sql_exec(fx, "UPDATE program_tiers SET multiplier_permille = 5000 WHERE code = 'gold'");
    expect_verify_fails(fx, "program_tiers");
    sql_exec(fx, "UPDATE program_tiers SET multiplier_permille = 2000 WHERE code = 'gold'");
    check_verify(fx);

    sql_exec(fx, "DELETE FROM tier_changes WHERE cause = 'manual'");
    expect_verify_fails(fx, "tier_changes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_member_starts_in_first_tier, setup_tiers, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_on_crossing_award, setup_tiers, teardown),
        cmocka_unit_test_setup_teardown(test_skip_straight_to_gold, setup_tiers, teardown),
        cmocka_unit_test_setup_teardown(test_bonus_and_adjustments_do_not_qualify, setup_tiers,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refunds_reduce_qualifying, setup_tiers, teardown),
        cmocka_unit_test_setup_teardown(test_window_expiry_downgrades_at_evaluation_only,
                                        setup_tiers, teardown),
        cmocka_unit_test_setup_teardown(test_window_of_program_in_force, setup_tiers, teardown),
        cmocka_unit_test_setup_teardown(test_evaluate_misuse_and_empty, setup_tiers, teardown),
        cmocka_unit_test_setup_teardown(test_evaluate_in_batches, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_manual_tier_set, setup_tiers, teardown),
        cmocka_unit_test_setup_teardown(test_manual_downgrade_holds_until_evaluation, setup_tiers,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tiers_listing_and_history_errors, setup_tiers,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_new_program_places_members, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_orphan_tier_purchase_is_not_an_upgrade, setup_tiers,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_verify_catches_tampered_tiers, setup_tiers, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
