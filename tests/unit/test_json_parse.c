/*
 * test_json_parse.c - parsing when memory runs out: jansson's allocator is
 * made to fail at its Nth allocation for every N an import line's parse
 * makes. Each time loyalty_import_parse must answer LOYALTY_ERR_NOMEM with a
 * message, leave the output zeroed and give back every block jansson took
 * (never "invalid input", never a crash); past the last allocation it parses
 * the line exactly.
 */
#include "support.h"

#include <jansson.h>

typedef struct fault_plan {
    int armed;
    long count;   /* allocations since armed */
    long fail_at; /* the allocation that fails */
    int injected;
    long live;    /* blocks handed out and not yet freed */
} fault_plan;
static fault_plan plan;

static void *failing_malloc(size_t size)
{
    if (plan.armed && ++plan.count == plan.fail_at) {
        plan.injected = 1;
        return NULL;
    }
    void *block = malloc(size);
    if (block)
        plan.live++;
    return block;
}

static void counting_free(void *block)
{
    if (block)
        plan.live--;
    free(block);
}

static const char line[] = "{\"op\":\"award\",\"member\":\"m-1\",\"ref\":\"order-7\",\"amount\":12999,"
                           "\"reason\":\"a reason with \\\"escapes\\\" and \\u00e9\"}";

static void test_every_allocation_failing_once(void **state)
{
    (void)state;
    loyalty_import_line zero;
    memset(&zero, 0, sizeof zero);
    long injected = 0;
    for (long n = 1;; n++) {
        loyalty_import_line out;
        memset(&out, 0xA5, sizeof out);
        char error[256] = "unset";
        long live_before = plan.live;
        plan = (fault_plan){.armed = 1, .fail_at = n, .live = live_before};
        int rc = loyalty_import_parse(line, &out, error, sizeof error);
        plan.armed = 0;
        if (!plan.injected) {
            assert_int_equal(rc, LOYALTY_OK);
            assert_int_equal(out.operation.kind, LOYALTY_OP_AWARD);
            assert_string_equal(out.member, "m-1");
            assert_string_equal(out.ref, "order-7");
            assert_int_equal(out.operation.amount_minor, 12999);
            assert_string_equal(out.reason, "a reason with \"escapes\" and \xc3\xa9");
            assert_int_equal(plan.live, live_before);
            break;
        }
        injected++;
        if (rc != LOYALTY_ERR_NOMEM)
            fail_msg("allocation %ld failing gave %s (%s), not out_of_memory", n,
                     loyalty_result_name(rc), error);
        assert_non_null(strstr(error, "out of memory"));
        assert_memory_equal(&out, &zero, sizeof out); /* nothing half-parsed is handed out */
        if (plan.live != live_before)
            fail_msg("allocation %ld failing left %ld blocks behind", n, plan.live - live_before);
    }
    assert_true(injected > 5); /* the line's parse allocates: the loop did fail something */
}

static void test_parses_normally_afterwards(void **state)
{
    (void)state;
    loyalty_import_line out;
    char error[256];
    assert_int_equal(loyalty_import_parse(line, &out, error, sizeof error), LOYALTY_OK);
    assert_int_equal(loyalty_import_parse("{\"op\":", &out, error, sizeof error),
                     LOYALTY_ERR_INVALID);
    assert_non_null(strstr(error, "not valid JSON"));
}

int main(void)
{
    /* Before the library's first parse: it chains its guard in front of this allocator. */
    json_set_alloc_funcs(failing_malloc, counting_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_failing_once),
        cmocka_unit_test(test_parses_normally_afterwards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
