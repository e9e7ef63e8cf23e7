/*
 * test_program.c - the program: the default program, loading valid and
 * invalid programs (every refusal names the field and changes nothing),
 * program_show, version numbers, and the pure earn rule earn_points() at its
 * boundaries.
 */
#include "internal.h" /* first: cmocka.h defines a macro named fail */
#include "support.h"

/* Parses program_show's JSON and checks every field. */
static void assert_program(fixture *fx, int64_t version, const char *currency,
                           int64_t minor_per_unit, int64_t points_per_unit)
{
    char *text = NULL;
    assert_int_equal(loyalty_program_show(fx->ledger, &text), LOYALTY_OK);
    json_error_t error;
    json_t *o = json_loads(text, 0, &error);
    assert_non_null(o);
    assert_int_equal(json_object_size(o), 11);
    assert_int_equal(json_integer_value(json_object_get(o, "version")), version);
    assert_string_equal(json_string_value(json_object_get(o, "currency")), currency);
    assert_int_equal(json_integer_value(json_object_get(o, "minor_per_unit")), minor_per_unit);
    assert_int_equal(json_integer_value(json_object_get(o, "points_per_unit")), points_per_unit);
    assert_true(json_is_integer(json_object_get(o, "pending_days")));
    assert_true(json_is_integer(json_object_get(o, "expiry_days")));
    assert_true(json_is_integer(json_object_get(o, "hold_ttl_seconds")));
    assert_true(json_is_integer(json_object_get(o, "tier_window_days")));
    assert_true(json_is_array(json_object_get(o, "tiers")));
    assert_true(json_is_array(json_object_get(o, "benefits")));
    assert_null(strchr(text, ' '));
    assert_null(strchr(text, '\n'));
    json_decref(o);
    loyalty_free(text);
}

static void test_default_program(void **state)
{
    fixture *fx = *state;
    assert_program(fx, 1, "EUR", 100, 1);
    /* One point per 1.00: 129.99 earns 129 points. */
    add_member(fx, "m1");
    loyalty_award_request request = {.member = "m1", .ref = "o1", .amount_minor = 12999};
    loyalty_posting posting;
    assert_int_equal(loyalty_award(fx->ledger, &request, &posting), LOYALTY_OK);
    assert_int_equal(posting.points, 129);
    assert_int_equal(posting.multiplier_permille, 1000);
}

static void test_load_valid_programs(void **state)
{
    fixture *fx = *state;
    int64_t audit_rows = sql_integer(fx, "SELECT COUNT(*) FROM audit");
    int64_t version = 0;
    assert_int_equal(loyalty_program_load(fx->ledger,
                                          "{\"currency\":\"USD\",\"minor_per_unit\":1000,"
                                          "\"points_per_unit\":5}",
                                          &version),
                     LOYALTY_OK);
    assert_int_equal(version, 2);
    assert_string_equal(loyalty_errmsg(fx->ledger), "");
    assert_program(fx, 2, "USD", 1000, 5);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit"), audit_rows + 1);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'program_load'"
                                     " AND seq = (SELECT MAX(seq) FROM audit)"),
                     1);

    /* The new rate applies to the next purchase: floor(12345 * 5 / 1000). */
    add_member(fx, "m1");
    loyalty_award_request request = {.member = "m1", .ref = "o1", .amount_minor = 12345};
    loyalty_posting posting;
    assert_int_equal(loyalty_award(fx->ledger, &request, &posting), LOYALTY_OK);
    assert_int_equal(posting.points, 61);

    /* Omitted fields take their defaults again, they are not inherited. */
    assert_int_equal(loyalty_program_load(fx->ledger, "{\"points_per_unit\":2}", &version),
                     LOYALTY_OK);
    assert_int_equal(version, 3);
    assert_program(fx, 3, "EUR", 100, 2);
    assert_int_equal(loyalty_program_load(fx->ledger, " { } ", NULL), LOYALTY_OK);
    assert_program(fx, 4, "EUR", 100, 1);
}

static void test_versions_increment(void **state)
{
    fixture *fx = *state;
    for (int64_t expected = 2; expected <= 5; expected++) {
        int64_t version = 0;
        assert_int_equal(loyalty_program_load(fx->ledger, "{\"points_per_unit\":3}", &version),
                         LOYALTY_OK);
        assert_int_equal(version, expected);
    }
    assert_program(fx, 5, "EUR", 100, 3);
    reopen(fx);
    assert_program(fx, 5, "EUR", 100, 3);
}

typedef struct bad_program {
    const char *json;
    const char *mentions; /* what the message must name */
} bad_program;

static const bad_program bad_programs[] = {
    {"{\"bonus\":1}", "bonus"},
    {"{\"currency\":\"EUR\",\"earn_rate\":1}", "earn_rate"},
    {"{\"currency\":\"usd\"}", "currency"},
    {"{\"currency\":\"EURO\"}", "currency"},
    {"{\"currency\":\"\"}", "currency"},
    {"{\"currency\":978}", "currency"},
    {"{\"currency\":null}", "currency"},
    {"{\"minor_per_unit\":0}", "minor_per_unit"},
    {"{\"minor_per_unit\":-100}", "minor_per_unit"},
    {"{\"minor_per_unit\":1000001}", "minor_per_unit"},
    {"{\"minor_per_unit\":\"100\"}", "minor_per_unit"},
    {"{\"minor_per_unit\":100.0}", "minor_per_unit"},
    {"{\"minor_per_unit\":1e2}", "minor_per_unit"},
    {"{\"points_per_unit\":-1}", "points_per_unit"},
    {"{\"points_per_unit\":1000001}", "points_per_unit"},
    {"{\"points_per_unit\":true}", "points_per_unit"},
    {"{\"points_per_unit\":[1]}", "points_per_unit"},
    {"{\"points_per_unit\":{}}", "points_per_unit"},
    {"{\"currency\":\"EUR\",\"currency\":\"USD\"}", "currency"},
    {"[]", "object"},
    {"[{\"currency\":\"EUR\"}]", "object"},
    {"42", "JSON"},
    {"\"EUR\"", "JSON"},
    {"null", "JSON"},
    {"", "JSON"},
    {"{", "JSON"},
    {"{\"currency\":\"EUR\",}", "JSON"},
    {"{} {}", "JSON"},
    {"{\"points_per_unit\":99999999999999999999}", "JSON"},
};

static void test_invalid_programs_change_nothing(void **state)
{
    fixture *fx = *state;
    snapshot before;
    snapshot_take(fx, NULL, &before);
    for (size_t i = 0; i < sizeof bad_programs / sizeof bad_programs[0]; i++) {
        int64_t version = -7;
        int rc = loyalty_program_load(fx->ledger, bad_programs[i].json, &version);
        if (rc != LOYALTY_ERR_INVALID)
            fail_msg("program %s: expected invalid_input, got %s", bad_programs[i].json,
                     loyalty_result_name(rc));
        assert_int_equal(version, -7);
        assert_errmsg_mentions(fx->ledger, bad_programs[i].mentions);
    }
    assert_unchanged(fx, NULL, &before);
    assert_int_equal(loyalty_program_load(fx->ledger, NULL, NULL), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_program_load(NULL, "{}", NULL), LOYALTY_ERR_MISUSE);
    assert_unchanged(fx, NULL, &before);
}

static void test_oversized_program_refused(void **state)
{
    fixture *fx = *state;
    snapshot before;
    snapshot_take(fx, NULL, &before);
    size_t size = LIMIT_PROGRAM_BYTES + 16;
    char *text = malloc(size + 1);
    assert_non_null(text);
    memset(text, ' ', size);
    text[0] = '{';
    text[size - 1] = '}';
    text[size] = '\0';
    assert_int_equal(loyalty_program_load(fx->ledger, text, NULL), LOYALTY_ERR_INVALID);
    free(text);
    assert_unchanged(fx, NULL, &before);
}

static void test_create_with_invalid_program(void **state)
{
    fixture *fx = *state;
    assert_int_equal(create_ledger(fx, "{\"minor_per_unit\":0}"), LOYALTY_ERR_INVALID);
    assert_errmsg_mentions(fx->ledger, "minor_per_unit");
    assert_false(path_exists(fx->db_path));
    assert_false(path_exists(fx->key_path));
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    assert_int_equal(create_ledger(fx, "{\"currency\":\"JPY\",\"minor_per_unit\":1}"), LOYALTY_OK);
    assert_program(fx, 1, "JPY", 1, 1);
}

static void test_program_show_misuse(void **state)
{
    fixture *fx = *state;
    char *text = (char *)"untouched";
    assert_int_equal(loyalty_program_show(fx->ledger, NULL), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_program_show(NULL, &text), LOYALTY_ERR_MISUSE);
}

static void test_zero_points_per_unit_records_purchase(void **state)
{
    fixture *fx = *state;
    assert_int_equal(loyalty_program_load(fx->ledger, "{\"points_per_unit\":0}", NULL), LOYALTY_OK);
    add_member(fx, "m1");
    loyalty_award_request request = {.member = "m1", .ref = "o1", .amount_minor = 500000};
    loyalty_posting posting;
    assert_int_equal(loyalty_award(fx->ledger, &request, &posting), LOYALTY_OK);
    assert_int_equal(posting.points, 0);
    assert_true(posting.tx > 0);
    assert_int_equal(posting.balance, 0);
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.transactions, 1);
    assert_int_equal(stats.issued, 0);
}

static void test_award_out_of_range_changes_nothing(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    /* 10^15 minor units at 1 point per 100 is 10^13 points, above 10^12. */
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_award_request request = {
        .member = "m1", .ref = "big", .amount_minor = LIMIT_AMOUNT_MAX};
    loyalty_posting posting;
    assert_int_equal(loyalty_award(fx->ledger, &request, &posting), LOYALTY_ERR_INVALID);
    assert_errmsg_mentions(fx->ledger, "range");
    assert_unchanged(fx, "m1", &before);
    /* At 1 point per 1000 minor units the same amount earns exactly the limit. */
    assert_int_equal(loyalty_program_load(fx->ledger, "{\"minor_per_unit\":1000}", NULL),
                     LOYALTY_OK);
    assert_int_equal(loyalty_award(fx->ledger, &request, &posting), LOYALTY_OK);
    assert_int_equal(posting.points, LIMIT_POINTS_MAX);
    assert_int_equal(posting.balance, LIMIT_POINTS_MAX);
}

/* --- the pure earn rule -------------------------------------------------- */

static int64_t earn(int64_t minor_per_unit, int64_t points_per_unit, int64_t amount,
                    int64_t multiplier)
{
    program_rules rules = {.minor_per_unit = minor_per_unit, .points_per_unit = points_per_unit};
    int64_t points = -1;
    assert_int_equal(earn_points(&rules, amount, multiplier, &points), 0);
    return points;
}

static int earn_refused(int64_t minor_per_unit, int64_t points_per_unit, int64_t amount,
                        int64_t multiplier)
{
    program_rules rules = {.minor_per_unit = minor_per_unit, .points_per_unit = points_per_unit};
    int64_t points = -1;
    return earn_points(&rules, amount, multiplier, &points) != 0;
}

static void test_earn_floor_rounding(void **state)
{
    (void)state;
    assert_int_equal(earn(100, 1, 0, 1000), 0);
    assert_int_equal(earn(100, 1, 99, 1000), 0);
    assert_int_equal(earn(100, 1, 100, 1000), 1);
    assert_int_equal(earn(100, 1, 199, 1000), 1);
    assert_int_equal(earn(100, 1, 12999, 1000), 129);
    assert_int_equal(earn(3, 1, 10, 1000), 3);
    assert_int_equal(earn(100, 1, 100, 1500), 1);
    assert_int_equal(earn(100, 1, 200, 1500), 3);
    assert_int_equal(earn(100, 1, 100, 999), 0);
    assert_int_equal(earn(100, 7, 1234, 1250), 107); /* 1234*7*1.25/100 = 107.975 */
    assert_int_equal(earn(1, 1, 5, 0), 0);
}

static void test_earn_large_values(void **state)
{
    (void)state;
    /* Products above 2^63 that divide back into range are exact. */
    assert_int_equal(earn(1000000, 10, LIMIT_AMOUNT_MAX, 1000), INT64_C(10000000000));
    assert_int_equal(earn(1000000, 13, LIMIT_AMOUNT_MAX - 1, 1000), INT64_C(12999999999));
    assert_int_equal(earn(1000000, 1000, LIMIT_AMOUNT_MAX, 1), INT64_C(1000000000));
    /* The limit itself is allowed, one more is not. */
    assert_int_equal(earn(1000, 1, LIMIT_AMOUNT_MAX, 1000), LIMIT_POINTS_MAX);
    assert_true(earn_refused(999, 1, LIMIT_AMOUNT_MAX, 1000));
    /* The largest factors everywhere: reported out of range, no overflow. */
    assert_true(earn_refused(1, LIMIT_POINTS_PER_UNIT_MAX, LIMIT_AMOUNT_MAX,
                             LIMIT_MULTIPLIER_PERMILLE_MAX));
    assert_true(earn_refused(LIMIT_MINOR_PER_UNIT_MAX, LIMIT_POINTS_PER_UNIT_MAX, LIMIT_AMOUNT_MAX,
                             LIMIT_MULTIPLIER_PERMILLE_MAX));
}

static void test_earn_zero_rate_and_bad_inputs(void **state)
{
    (void)state;
    assert_int_equal(earn(100, 0, LIMIT_AMOUNT_MAX, LIMIT_MULTIPLIER_PERMILLE_MAX), 0);
    assert_int_equal(earn(1, 0, 1, 1000), 0);
    assert_true(earn_refused(100, 1, LIMIT_AMOUNT_MAX + 1, 1000));
    assert_true(earn_refused(100, 1, -1, 1000));
    assert_true(earn_refused(100, 1, INT64_MAX, 1000));
    assert_true(earn_refused(100, 1, 100, LIMIT_MULTIPLIER_PERMILLE_MAX + 1));
    assert_true(earn_refused(100, 1, 100, -1));
    assert_true(earn_refused(0, 1, 100, 1000));
    assert_true(earn_refused(100, -1, 100, 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_program, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_load_valid_programs, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_versions_increment, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_programs_change_nothing, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_oversized_program_refused, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_create_with_invalid_program, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_program_show_misuse, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_zero_points_per_unit_records_purchase, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_award_out_of_range_changes_nothing, setup_ledger,
                                        teardown),
        cmocka_unit_test(test_earn_floor_rounding),
        cmocka_unit_test(test_earn_large_values),
        cmocka_unit_test(test_earn_zero_rate_and_bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
