/*
 * test_members.c - members: adding (one audit entry), adding again
 * (replayed, nothing written), reading, the id rules, unknown members.
 */
#include "support.h"

static void assert_fresh_member(const loyalty_member_info *info, const char *member,
                                int64_t created_us)
{
    assert_string_equal(info->member, member);
    assert_string_equal(info->status, "active");
    assert_string_equal(info->tier, "");
    assert_int_equal(info->balance, 0);
    assert_int_equal(info->available, 0);
    assert_int_equal(info->pending, 0);
    assert_int_equal(info->held, 0);
    assert_int_equal(info->created_us, created_us);
}

static void test_add_member(void **state)
{
    fixture *fx = *state;
    int64_t audit_rows = sql_integer(fx, "SELECT COUNT(*) FROM audit");
    loyalty_member_info info;
    int replayed = -1;
    assert_int_equal(loyalty_member_add(fx->ledger, "cust-0001", &info, &replayed), LOYALTY_OK);
    assert_int_equal(replayed, 0);
    assert_string_equal(loyalty_errmsg(fx->ledger), "");
    assert_fresh_member(&info, "cust-0001", T0_US);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit"), audit_rows + 1);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE action = 'member_add'"
                                     " AND payload LIKE '%\"member\":\"cust-0001\"%'"),
                     1);
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.members, 1);
    /* Both output pointers are optional. */
    assert_int_equal(loyalty_member_add(fx->ledger, "cust-0002", NULL, NULL), LOYALTY_OK);
    loyalty_member_info got = member_get(fx, "cust-0002");
    assert_fresh_member(&got, "cust-0002", T0_US);
}

static void test_add_again_is_a_replay(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "r1", 40);
    assert_int_equal(loyalty_operator_add(fx->ledger, "other", "checkout", NULL), LOYALTY_OK);
    snapshot before;
    snapshot_take(fx, "m1", &before);

    /* Another process, later: the original member comes back untouched. */
    loyalty_open_options options = {
        .db_path = fx->db_path, .actor = "other", .now_us = T0_US + 5000000};
    loyalty_ledger *other = NULL;
    assert_int_equal(loyalty_open(&other, &options), LOYALTY_OK);
    loyalty_member_info info;
    int replayed = 0;
    assert_int_equal(loyalty_member_add(other, "m1", &info, &replayed), LOYALTY_OK);
    assert_int_equal(replayed, 1);
    assert_int_equal(info.created_us, T0_US);
    assert_int_equal(info.balance, 40);
    assert_int_equal(info.available, 40);
    loyalty_close(other);
    assert_unchanged(fx, "m1", &before);
}

static void test_get_member(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "r1", 25);
    reopen(fx);
    loyalty_member_info info = member_get(fx, "m1");
    assert_string_equal(info.member, "m1");
    assert_int_equal(info.balance, 25);
    assert_int_equal(info.available, 25);
    assert_int_equal(info.created_us, T0_US);
    /* Ids are opaque: case matters. */
    snapshot before;
    snapshot_take(fx, "M1", &before);
    assert_int_equal(before.member_rc, LOYALTY_ERR_NOT_FOUND);
}

static void test_unknown_member(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_member_info info;
    assert_int_equal(loyalty_member_get(fx->ledger, "nobody", &info), LOYALTY_ERR_NOT_FOUND);
    assert_errmsg_mentions(fx->ledger, "nobody");
    /* The message is cleared by the next successful call. */
    assert_int_equal(loyalty_member_get(fx->ledger, "m1", &info), LOYALTY_OK);
    assert_string_equal(loyalty_errmsg(fx->ledger), "");
    assert_unchanged(fx, "m1", &before);
}

static const char *const bad_ids[] = {
    "",
    "0123456789012345678901234567890123456789012345678901234567890123x", /* 65 */
    "with space",
    "slash/ed",
    "at@sign",
    "comma,",
    "quote\"",
    "tab\t",
    "new\nline",
    "caf\xc3\xa9",
    "\xff",
    NULL,
};

static void test_invalid_ids(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        loyalty_member_info info;
        int replayed = -1;
        int rc = loyalty_member_add(fx->ledger, bad_ids[i], &info, &replayed);
        if (rc != LOYALTY_ERR_INVALID)
            fail_msg("adding id #%zu: expected invalid_input, got %s", i, loyalty_result_name(rc));
        assert_errmsg_mentions(fx->ledger, "member");
        assert_int_equal(replayed, -1);
        rc = loyalty_member_get(fx->ledger, bad_ids[i], &info);
        if (rc != LOYALTY_ERR_INVALID)
            fail_msg("reading id #%zu: expected invalid_input, got %s", i, loyalty_result_name(rc));
    }
    assert_unchanged(fx, "m1", &before);
}

static void test_valid_id_edges(void **state)
{
    fixture *fx = *state;
    const char *longest = "0123456789012345678901234567890123456789012345678901234567890123";
    assert_int_equal(strlen(longest), LOYALTY_ID_MAX);
    add_member(fx, longest);
    add_member(fx, "A");
    add_member(fx, "Az09._:-");
    assert_string_equal(member_get(fx, longest).member, longest);
    assert_string_equal(member_get(fx, "Az09._:-").member, "Az09._:-");
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.members, 3);
}

static void test_add_without_actor(void **state)
{
    fixture *fx = *state;
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_ledger *anonymous = NULL;
    assert_int_equal(open_handle(fx, NULL, NULL, &anonymous), LOYALTY_OK);
    assert_int_equal(loyalty_member_add(anonymous, "m1", NULL, NULL), LOYALTY_ERR_INVALID);
    assert_errmsg_mentions(anonymous, "actor");
    /* Reading needs a registered operator too. */
    loyalty_member_info info;
    assert_int_equal(loyalty_member_get(anonymous, "m1", &info), LOYALTY_ERR_NOT_PERMITTED);
    loyalty_close(anonymous);
    assert_unchanged(fx, "m1", &before);
}

static void test_misuse(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_member_info info;
    assert_int_equal(loyalty_member_get(fx->ledger, "m1", NULL), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_member_get(NULL, "m1", &info), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_member_add(NULL, "m2", &info, NULL), LOYALTY_ERR_MISUSE);
    assert_unchanged(fx, "m1", &before);
}

/* The snapshot sees a change the API does not show (a test of the tests). */
static void test_snapshot_notices_hidden_changes(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 10);
    snapshot before, after;
    snapshot_take(fx, "m1", &before);
    snapshot_take(fx, "m1", &after);
    assert_memory_equal(before.digest, after.digest, sizeof before.digest);
    sql_exec(fx, "UPDATE lots SET earned_us = earned_us - 1");
    snapshot_take(fx, "m1", &after);
    assert_memory_equal(&before.member, &after.member, sizeof before.member);
    assert_memory_not_equal(before.digest, after.digest, sizeof before.digest);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_member, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_add_again_is_a_replay, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_get_member, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_member, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_ids, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_valid_id_edges, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_add_without_actor, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_misuse, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_notices_hidden_changes, setup_ledger,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
