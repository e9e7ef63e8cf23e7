/*
 * test_ladder.c - validation of the tier ladder and the benefits catalogue of
 * a program: every refusal is LOYALTY_ERR_INVALID, names the culprit (tier or
 * benefit code, or the field's path) and changes nothing; a valid ladder is
 * stored per program version and round-trips through loyalty_program_show.
 */
#include "support.h"

#include <jansson.h>

/* Fails the test with the code's name (and the handle's message) when rc is not expected. */
SUPPORT void expect_rc(fixture *fx, int rc, int expected, const char *what)
{
    if (rc != expected)
        fail_msg("%s: expected %s, got %s (%s)", what, loyalty_result_name(expected),
                 loyalty_result_name(rc), loyalty_errmsg(fx->ledger));
}

SUPPORT void check_verify(fixture *fx)
{
    loyalty_verify_report report;
    memset(&report, 0, sizeof report);
    int rc = loyalty_verify(fx->ledger, NULL, NULL, &report);
    if (rc != LOYALTY_OK || !report.ok)
        fail_msg("verify: %s, seq %lld, table '%s', row '%s': %s (%s)", loyalty_result_name(rc),
                 (long long)report.first_bad_seq, report.table, report.row_key, report.reason,
                 loyalty_errmsg(fx->ledger));
}

/* A valid tier object. */
#define TIER(code, threshold, multiplier, benefits)                                              \
    "{\"code\":\"" code "\",\"name\":\"" code "\",\"threshold\":" #threshold                    \
    ",\"multiplier_permille\":" #multiplier ",\"benefits\":[" benefits "]}"

typedef struct bad_program {
    const char *json;
    const char *needle;  /* the message must mention it */
    const char *needle2; /* and this too, when not NULL */
} bad_program;

static const bad_program bad_programs[] = {
    /* The first threshold must be 0. */
    {"{\"tiers\":[" TIER("entry", 5, 1000, "") "]}", "'entry'", "threshold 0"},
    {"{\"tiers\":[" TIER("entry", 1, 1000, "") "," TIER("top", 100, 1000, "") "]}", "'entry'",
     "threshold 0"},
    /* Thresholds strictly increasing: equal, then decreasing. */
    {"{\"tiers\":[" TIER("a", 0, 1000, "") "," TIER("b", 100, 1000, "") "," TIER("c", 100, 1000, "") "]}",
     "'c'", "100"},
    {"{\"tiers\":[" TIER("a", 0, 1000, "") "," TIER("b", 0, 1000, "") "]}", "'b'", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "") "," TIER("b", 100, 1000, "") "," TIER("c", 50, 1000, "") "]}",
     "'c'", "50"},
    /* Duplicate codes. */
    {"{\"tiers\":[" TIER("a", 0, 1000, "") "," TIER("b", 100, 1000, "") "," TIER("a", 200, 1000, "") "]}",
     "duplicate tier code 'a'", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\"},"
     "{\"code\":\"x\",\"name\":\"Y\",\"limit\":1,\"period\":\"day\"}]}",
     "duplicate benefit code 'x'", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\",\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\"}]}",
     "'x'", "twice"},
    /* Granting an undefined benefit; defining a benefit no tier grants. */
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "," TIER("b", 10, 1000, "\"x\",\"ghost\"") "],"
     "\"benefits\":[{\"code\":\"x\",\"name\":\"X\"}]}",
     "'ghost'", "'b'"},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\"},"
     "{\"code\":\"orphan\",\"name\":\"O\"}]}",
     "'orphan'", "no tier"},
    {"{\"benefits\":[{\"code\":\"orphan\",\"name\":\"O\"}]}", "'orphan'", NULL},
    /* Limit without period, period without limit, bad period, bad limits. */
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\","
     "\"limit\":2}]}",
     "benefits[0]", "period"},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\","
     "\"period\":\"month\"}]}",
     "benefits[0]", "limit"},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\","
     "\"limit\":2,\"period\":\"fortnight\"}]}",
     "benefits[0].period", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\","
     "\"limit\":2,\"period\":\"Month\"}]}",
     "benefits[0].period", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\","
     "\"limit\":0,\"period\":\"day\"}]}",
     "benefits[0].limit", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\","
     "\"limit\":1000001,\"period\":\"day\"}]}",
     "benefits[0].limit", NULL},
    /* Unknown fields inside a tier or a benefit. */
    {"{\"tiers\":[{\"code\":\"a\",\"name\":\"A\",\"threshold\":0,\"multiplier_permille\":1000,"
     "\"colour\":\"red\"}]}",
     "tiers[0].colour", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\","
     "\"cost\":5}]}",
     "benefits[0].cost", NULL},
    /* Wrong types and missing fields. */
    {"{\"tiers\":{}}", "'tiers'", NULL},
    {"{\"tiers\":\"gold\"}", "'tiers'", NULL},
    {"{\"tiers\":[\"gold\"]}", "tiers[0]", NULL},
    {"{\"benefits\":\"x\"}", "'benefits'", NULL},
    {"{\"benefits\":[7]}", "benefits[0]", NULL},
    {"{\"tier_window_days\":\"30\"}", "tier_window_days", NULL},
    {"{\"tier_window_days\":0}", "tier_window_days", NULL},
    {"{\"tier_window_days\":3651}", "tier_window_days", NULL},
    {"{\"tier_window_days\":30.5}", "tier_window_days", NULL},
    {"{\"tiers\":[{\"code\":\"a\",\"name\":\"A\",\"threshold\":\"0\",\"multiplier_permille\":1000}]}",
     "tiers[0].threshold", NULL},
    {"{\"tiers\":[{\"code\":\"a\",\"name\":\"A\",\"threshold\":null,\"multiplier_permille\":1000}]}",
     "tiers[0].threshold", NULL},
    {"{\"tiers\":[{\"code\":\"a\",\"name\":\"A\",\"threshold\":-1,\"multiplier_permille\":1000}]}",
     "tiers[0].threshold", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "") ",{\"code\":\"b\",\"name\":\"B\",\"threshold\":1.5,"
     "\"multiplier_permille\":1000}]}",
     "tiers[1].threshold", NULL},
    {"{\"tiers\":[{\"code\":\"a\",\"name\":\"A\",\"threshold\":0,\"multiplier_permille\":1.5}]}",
     "tiers[0].multiplier_permille", NULL},
    {"{\"tiers\":[{\"code\":\"a\",\"name\":\"A\",\"threshold\":0,\"multiplier_permille\":0}]}",
     "tiers[0].multiplier_permille", NULL},
    {"{\"tiers\":[{\"code\":\"a\",\"name\":\"A\",\"threshold\":0,\"multiplier_permille\":100001}]}",
     "tiers[0].multiplier_permille", NULL},
    {"{\"tiers\":[{\"code\":\"a\",\"name\":\"A\",\"threshold\":0}]}", "tiers[0].multiplier_permille",
     NULL},
    {"{\"tiers\":[{\"code\":7,\"name\":\"A\",\"threshold\":0,\"multiplier_permille\":1000}]}",
     "tiers[0].code", NULL},
    {"{\"tiers\":[{\"code\":\"has space\",\"name\":\"A\",\"threshold\":0,\"multiplier_permille\":1000}]}",
     "tiers[0].code", NULL},
    {"{\"tiers\":[{\"name\":\"A\",\"threshold\":0,\"multiplier_permille\":1000}]}", "tiers[0].code",
     NULL},
    {"{\"tiers\":[{\"code\":\"a\",\"name\":\"\",\"threshold\":0,\"multiplier_permille\":1000}]}",
     "tiers[0].name", NULL},
    {"{\"tiers\":[{\"code\":\"a\",\"name\":[],\"threshold\":0,\"multiplier_permille\":1000}]}",
     "tiers[0].name", NULL},
    {"{\"tiers\":[{\"code\":\"a\",\"name\":\"A\",\"threshold\":0,\"multiplier_permille\":1000,"
     "\"benefits\":\"x\"}],\"benefits\":[{\"code\":\"x\",\"name\":\"X\"}]}",
     "tiers[0].benefits", NULL},
    {"{\"tiers\":[{\"code\":\"a\",\"name\":\"A\",\"threshold\":0,\"multiplier_permille\":1000,"
     "\"benefits\":[1]}]}",
     "tiers[0].benefits[0]", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\","
     "\"limit\":\"2\",\"period\":\"day\"}]}",
     "benefits[0].limit", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\","
     "\"limit\":2,\"period\":1}]}",
     "benefits[0].period", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\",\"name\":\"X\","
     "\"limit\":null,\"period\":\"day\"}]}",
     "benefits[0].limit", NULL},
    {"{\"tiers\":[" TIER("a", 0, 1000, "\"x\"") "],\"benefits\":[{\"code\":\"x\"}]}",
     "benefits[0].name", NULL},
};

static void test_invalid_ladders_change_nothing(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    for (size_t i = 0; i < sizeof bad_programs / sizeof bad_programs[0]; i++) {
        const bad_program *b = &bad_programs[i];
        int64_t version = -1;
        int rc = loyalty_program_load(fx->ledger, b->json, &version);
        if (rc != LOYALTY_ERR_INVALID)
            fail_msg("program %s: expected invalid, got %s (%s)", b->json, loyalty_result_name(rc),
                     loyalty_errmsg(fx->ledger));
        assert_int_equal(version, -1);
        const char *message = loyalty_errmsg(fx->ledger);
        if (strstr(message, b->needle) == NULL || (b->needle2 && strstr(message, b->needle2) == NULL))
            fail_msg("program %s: message \"%s\" does not name \"%s\"%s%s", b->json, message,
                     b->needle, b->needle2 ? " and " : "", b->needle2 ? b->needle2 : "");
        assert_unchanged(fx, "m1", &before);
    }
    check_verify(fx);
}

static void test_invalid_ladder_at_create(void **state)
{
    fixture *fx = *state;
    int rc = create_ledger(fx, "{\"tiers\":[" TIER("a", 0, 1000, "") "," TIER("b", 0, 1000, "") "]}");
    expect_rc(fx, rc, LOYALTY_ERR_INVALID, "create with equal thresholds");
    assert_errmsg_mentions(fx->ledger, "'b'");
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    /* Nothing became a ledger: opening it finds none, and a valid create still works. */
    loyalty_ledger *other = NULL;
    rc = open_handle(fx, ACTOR, NULL, &other);
    loyalty_close(other);
    assert_int_equal(rc, LOYALTY_ERR_NO_LEDGER);
    assert_int_equal(create_ledger(fx, "{\"tiers\":[" TIER("a", 0, 1000, "") "]}"), LOYALTY_OK);
    check_verify(fx);
}

/* A ladder of n tiers a0..a(n-1) at thresholds 0, 10, 20, ... */
static char *ladder_of(int n)
{
    size_t size = 64 + (size_t)n * 128;
    char *json = malloc(size);
    assert_non_null(json);
    size_t used = (size_t)snprintf(json, size, "{\"tiers\":[");
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(json + used, size - used,
                                 "%s{\"code\":\"t%d\",\"name\":\"T%d\",\"threshold\":%d,"
                                 "\"multiplier_permille\":%d}",
                                 i ? "," : "", i, i, i * 10, 1000 + i);
    snprintf(json + used, size - used, "]}");
    return json;
}

static void test_tier_count_limit(void **state)
{
    fixture *fx = *state;
    snapshot before;
    snapshot_take(fx, NULL, &before);
    char *json = ladder_of(33);
    expect_rc(fx, loyalty_program_load(fx->ledger, json, NULL), LOYALTY_ERR_INVALID, "33 tiers");
    assert_errmsg_mentions(fx->ledger, "'tiers'");
    assert_errmsg_mentions(fx->ledger, "32");
    free(json);
    assert_unchanged(fx, NULL, &before);

    json = ladder_of(32);
    int64_t version = 0;
    expect_rc(fx, loyalty_program_load(fx->ledger, json, &version), LOYALTY_OK, "32 tiers");
    free(json);
    assert_int_equal(version, 2);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM program_tiers WHERE version = 2"), 32);
    assert_int_equal(sql_integer(fx, "SELECT MAX(position) FROM program_tiers WHERE version = 2"), 31);
    assert_int_equal(sql_integer(fx, "SELECT threshold FROM program_tiers WHERE version = 2"
                                     " AND code = 't31'"),
                     310);
    check_verify(fx);
}

static const char valid_program[] =
    "{\"tier_window_days\":30,"
    "\"tiers\":[{\"code\":\"base\",\"name\":\"Base\",\"threshold\":0,\"multiplier_permille\":1000},"
    "{\"benefits\":[\"lounge\"],\"multiplier_permille\":1500,\"threshold\":100,\"name\":\"Silver\","
    "\"code\":\"silver\"},"
    "{\"code\":\"gold\",\"name\":\"Gold\",\"threshold\":500,\"multiplier_permille\":2000,"
    "\"benefits\":[\"wifi\",\"lounge\"]}],"
    "\"benefits\":[{\"code\":\"lounge\",\"name\":\"Lounge\",\"limit\":2,\"period\":\"month\"},"
    "{\"name\":\"Wi-Fi\",\"code\":\"wifi\"}]}";

/* program_show's canonical ladder: fields in a fixed order, grants in the order given. */
static const char shown_tiers[] =
    "[{\"code\":\"base\",\"name\":\"Base\",\"threshold\":0,\"multiplier_permille\":1000,"
    "\"benefits\":[]},"
    "{\"code\":\"silver\",\"name\":\"Silver\",\"threshold\":100,\"multiplier_permille\":1500,"
    "\"benefits\":[\"lounge\"]},"
    "{\"code\":\"gold\",\"name\":\"Gold\",\"threshold\":500,\"multiplier_permille\":2000,"
    "\"benefits\":[\"wifi\",\"lounge\"]}]";
static const char shown_benefits[] =
    "[{\"code\":\"lounge\",\"name\":\"Lounge\",\"limit\":2,\"period\":\"month\"},"
    "{\"code\":\"wifi\",\"name\":\"Wi-Fi\"}]";

/* Field `key` of a JSON object as compact text (keys in their order), malloc'd. */
static char *field_text(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_non_null(v);
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    assert_non_null(text);
    return text;
}

/* Checks program_show: version, window, and the ladder exactly; returns the parsed object. */
static json_t *assert_shown_ladder(fixture *fx, int64_t version)
{
    char *shown = NULL;
    assert_int_equal(loyalty_program_show(fx->ledger, &shown), LOYALTY_OK);
    assert_null(strchr(shown, ' '));
    json_error_t error;
    json_t *o = json_loads(shown, JSON_PRESERVE_ORDER, &error);
    assert_non_null(o);
    loyalty_free(shown);
    assert_int_equal(json_integer_value(json_object_get(o, "version")), version);
    assert_int_equal(json_integer_value(json_object_get(o, "tier_window_days")), 30);
    char *tiers = field_text(o, "tiers"), *benefits = field_text(o, "benefits");
    assert_string_equal(tiers, shown_tiers);
    assert_string_equal(benefits, shown_benefits);
    free(tiers);
    free(benefits);
    return o;
}

static void test_valid_program_round_trips(void **state)
{
    fixture *fx = *state;
    int64_t version = 0;
    expect_rc(fx, loyalty_program_load(fx->ledger, valid_program, &version), LOYALTY_OK, "load");
    assert_int_equal(version, 2);
    assert_string_equal(loyalty_errmsg(fx->ledger), "");
    json_t *o = assert_shown_ladder(fx, 2);

    /* Loading what was shown (without "version") gives the same program again. */
    assert_int_equal(json_object_del(o, "version"), 0);
    char *again = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(again);
    json_decref(o);
    expect_rc(fx, loyalty_program_load(fx->ledger, again, &version), LOYALTY_OK, "reload");
    free(again);
    assert_int_equal(version, 3);
    json_decref(assert_shown_ladder(fx, 3));

    /* Stored per version. */
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM program_tiers WHERE version = 2"), 3);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM program_tiers WHERE version = 3"), 3);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM program_benefits WHERE version = 3"), 2);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM program_tier_benefits WHERE version = 3"), 3);
    assert_int_equal(sql_integer(fx, "SELECT position FROM program_tiers WHERE version = 3"
                                     " AND code = 'gold'"),
                     2);
    assert_int_equal(sql_integer(fx, "SELECT claim_limit IS NULL AND period IS NULL"
                                     " FROM program_benefits WHERE version = 3 AND code = 'wifi'"),
                     1);
    assert_int_equal(sql_integer(fx, "SELECT tier_window_days FROM program WHERE version = 3"), 30);

    /* A program without tiers drops the ladder; the default window is back. */
    expect_rc(fx, loyalty_program_load(fx->ledger, "{}", &version), LOYALTY_OK, "no tiers");
    char *shown = NULL;
    assert_int_equal(loyalty_program_show(fx->ledger, &shown), LOYALTY_OK);
    assert_non_null(strstr(shown, "\"tier_window_days\":365,"));
    assert_non_null(strstr(shown, "\"tiers\":[],\"benefits\":[]"));
    loyalty_free(shown);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM program_tiers WHERE version = 4"), 0);
    check_verify(fx);
}

static void test_window_and_limit_bounds(void **state)
{
    fixture *fx = *state;
    int64_t version = 0;
    expect_rc(fx, loyalty_program_load(fx->ledger, "{\"tier_window_days\":1}", &version), LOYALTY_OK,
              "window 1");
    expect_rc(fx, loyalty_program_load(fx->ledger, "{\"tier_window_days\":3650}", &version),
              LOYALTY_OK, "window 3650");
    static const char extreme[] =
        "{\"tiers\":[" TIER("a", 0, 1, "\"x\"") "," TIER("b", 1000000000000, 100000, "") "],"
        "\"benefits\":[{\"code\":\"x\",\"name\":\"X\",\"limit\":1000000,\"period\":\"year\"}]}";
    expect_rc(fx, loyalty_program_load(fx->ledger, extreme, &version), LOYALTY_OK,
              "extreme but valid ladder");
    assert_int_equal(version, 4);
    /* Every period name is accepted. */
    static const char periods[] =
        "{\"tiers\":[" TIER("a", 0, 1000, "\"d\",\"w\",\"m\",\"y\"") "],\"benefits\":["
        "{\"code\":\"d\",\"name\":\"D\",\"limit\":1,\"period\":\"day\"},"
        "{\"code\":\"w\",\"name\":\"W\",\"limit\":1,\"period\":\"week\"},"
        "{\"code\":\"m\",\"name\":\"M\",\"limit\":1,\"period\":\"month\"},"
        "{\"code\":\"y\",\"name\":\"Y\",\"limit\":1,\"period\":\"year\"}]}";
    expect_rc(fx, loyalty_program_load(fx->ledger, periods, &version), LOYALTY_OK, "all periods");
    assert_int_equal(version, 5);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM program_benefits WHERE version = 5"), 4);
    check_verify(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invalid_ladders_change_nothing, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_ladder_at_create, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_tier_count_limit, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_valid_program_round_trips, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_window_and_limit_bounds, setup_ledger, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
