/*
 * test_open_create.c - creating and opening: what a new ledger holds, create
 * refusing to touch existing files, open refusing what is not a ledger, the
 * secret key file (mode, insecure modes, the wrong key), handle misuse, and
 * the result code texts.
 */
#include "support.h"

static void assert_no_ledger_files(const fixture *fx)
{
    char path[PATH_BYTES];
    assert_false(path_exists(fx->db_path));
    assert_false(path_exists(fx->key_path));
    assert_true(snprintf(path, sizeof path, "%s-wal", fx->db_path) < PATH_BYTES);
    assert_false(path_exists(path));
    assert_true(snprintf(path, sizeof path, "%s-shm", fx->db_path) < PATH_BYTES);
    assert_false(path_exists(path));
}

static void test_create_new_ledger(void **state)
{
    fixture *fx = *state;
    assert_int_equal(create_ledger(fx, NULL), LOYALTY_OK);
    assert_string_equal(loyalty_errmsg(fx->ledger), "");
    assert_int_equal(file_mode(fx->key_path), 0600);
    char from_file[65], public_hex[65], key_id[17];
    key_file_public(fx->key_path, from_file);
    assert_int_equal(loyalty_key_public(fx->ledger, public_hex, key_id), LOYALTY_OK);
    assert_string_equal(public_hex, from_file);
    assert_int_equal(strlen(key_id), 16);
    /* The genesis entry names the key; the database is in WAL mode. */
    assert_int_equal(
        sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE seq = 1 AND action = 'genesis'"), 1);
    char like[128];
    snprintf(like, sizeof like,
             "SELECT COUNT(*) FROM audit WHERE seq = 1 AND payload LIKE '%%%s%%'", public_hex);
    assert_int_equal(sql_integer(fx, like), 1);
    sqlite3 *db = db_direct(fx, 0);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(fx->ledger, &stats), LOYALTY_OK);
    assert_int_equal(stats.members + stats.transactions + stats.outstanding, 0);
}

static void test_create_twice(void **state)
{
    fixture *fx = *state;
    assert_int_equal(create_ledger(fx, NULL), LOYALTY_OK);
    add_member(fx, "m1");
    loyalty_ledger *first = fx->ledger;
    for (int round = 0; round < 2; round++) {
        size_t db_length = 0, key_length = 0;
        unsigned char *db = file_read(fx->db_path, &db_length);
        unsigned char *key = file_read(fx->key_path, &key_length);
        fx->ledger = NULL;
        assert_int_equal(create_ledger(fx, "{\"points_per_unit\":9}"), LOYALTY_ERR_EXISTS);
        assert_errmsg_mentions(fx->ledger, fx->db_path);
        loyalty_close(fx->ledger);
        fx->ledger = NULL;
        assert_file_bytes(fx->db_path, db, db_length);
        assert_file_bytes(fx->key_path, key, key_length);
        free(db);
        free(key);
        loyalty_close(first); /* second round: with no other handle open */
        first = NULL;
    }
    reopen(fx);
    assert_int_equal(member_get(fx, "m1").balance, 0);
}

static void test_create_over_other_files(void **state)
{
    fixture *fx = *state;
    static const char garbage[] = "not a database, just some bytes\n";
    file_write(fx->db_path, garbage, sizeof garbage - 1, 0644);
    assert_int_equal(create_ledger(fx, NULL), LOYALTY_ERR_EXISTS);
    assert_file_bytes(fx->db_path, (const unsigned char *)garbage, sizeof garbage - 1);
    assert_false(path_exists(fx->key_path));
    loyalty_close(fx->ledger);
    fx->ledger = NULL;

    assert_int_equal(unlink(fx->db_path), 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fx->db_path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    size_t length = 0;
    unsigned char *before = file_read(fx->db_path, &length);
    assert_int_equal(create_ledger(fx, NULL), LOYALTY_ERR_EXISTS);
    assert_file_bytes(fx->db_path, before, length);
    assert_false(path_exists(fx->key_path));
    free(before);
}

/* A failed create leaves nothing behind: fixing the cause and retrying works. */
static void test_create_failure_leaves_nothing(void **state)
{
    fixture *fx = *state;
    static const char seed[] = "1111111111111111111111111111111111111111111111111111111111111111\n";
    file_write(fx->key_path, seed, sizeof seed - 1, 0644);
    assert_int_equal(create_ledger(fx, NULL), LOYALTY_ERR_KEY);
    assert_errmsg_mentions(fx->ledger, fx->key_path);
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    assert_false(path_exists(fx->db_path));
    assert_int_equal(file_mode(fx->key_path), 0644);
    assert_file_bytes(fx->key_path, (const unsigned char *)seed, sizeof seed - 1);

    assert_int_equal(chmod(fx->key_path, 0600), 0);
    assert_int_equal(create_ledger(fx, NULL), LOYALTY_OK);
    /* An existing key file is used, not replaced. */
    char from_file[65], public_hex[65], key_id[17];
    key_file_public(fx->key_path, from_file);
    assert_int_equal(loyalty_key_public(fx->ledger, public_hex, key_id), LOYALTY_OK);
    assert_string_equal(public_hex, from_file);
    assert_file_bytes(fx->key_path, (const unsigned char *)seed, sizeof seed - 1);
}

static void test_create_with_unusable_key_path(void **state)
{
    fixture *fx = *state;
    path_in(fx, fx->key_path, "missing-dir/ledger.key");
    loyalty_open_options options = {
        .db_path = fx->db_path, .key_path = fx->key_path, .actor = ACTOR, .now_us = T0_US};
    /* The file system refuses the key file: a storage failure, as for any write. */
    assert_int_equal(loyalty_create(&fx->ledger, &options, NULL), LOYALTY_ERR_STORAGE);
    assert_errmsg_mentions(fx->ledger, "No such file or directory");
    assert_false(path_exists(fx->db_path));
}

static void test_open_missing(void **state)
{
    fixture *fx = *state;
    loyalty_ledger *l = NULL;
    assert_int_equal(open_handle(fx, ACTOR, NULL, &l), LOYALTY_ERR_NO_LEDGER);
    assert_non_null(l);
    assert_errmsg_mentions(l, fx->db_path);
    assert_no_ledger_files(fx);
    /* The failed handle explains itself and refuses work, creating nothing. */
    loyalty_member_info info;
    loyalty_stats stats;
    loyalty_award_request award = {"m1", "a1", 0, 5, NULL};
    loyalty_posting posting;
    assert_int_equal(loyalty_member_get(l, "m1", &info), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_stats_get(l, &stats), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_award(l, &award, &posting), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_member_add(l, "m1", NULL, NULL), LOYALTY_ERR_MISUSE);
    loyalty_close(l);
    assert_no_ledger_files(fx);
}

static void expect_not_a_ledger(fixture *fx)
{
    size_t length = 0;
    unsigned char *before = file_read(fx->db_path, &length);
    loyalty_ledger *l = NULL;
    assert_int_equal(open_handle(fx, ACTOR, NULL, &l), LOYALTY_ERR_NO_LEDGER);
    assert_true(loyalty_errmsg(l)[0] != '\0');
    loyalty_close(l);
    assert_file_bytes(fx->db_path, before, length);
    free(before);
    assert_false(path_exists(fx->key_path));
}

static void test_open_not_a_ledger(void **state)
{
    fixture *fx = *state;
    unsigned char noise[8192];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (unsigned char)(i * 7919 % 251);
    file_write(fx->db_path, noise, sizeof noise, 0644);
    expect_not_a_ledger(fx);
    file_write(fx->db_path, "hello\n", 6, 0644);
    expect_not_a_ledger(fx);
    file_write(fx->db_path, "", 0, 0644);
    expect_not_a_ledger(fx);
    assert_int_equal(unlink(fx->db_path), 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fx->db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE audit (seq INTEGER)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    expect_not_a_ledger(fx);

    assert_int_equal(unlink(fx->db_path), 0);
    assert_int_equal(mkdir(fx->db_path, 0700), 0);
    loyalty_ledger *l = NULL;
    assert_int_equal(open_handle(fx, ACTOR, NULL, &l), LOYALTY_ERR_NO_LEDGER);
    loyalty_close(l);
}

static void test_open_newer_schema(void **state)
{
    fixture *fx = *state;
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    sql_exec(fx, "PRAGMA user_version = 9999");
    loyalty_ledger *l = NULL;
    assert_int_equal(open_handle(fx, ACTOR, NULL, &l), LOYALTY_ERR_NO_LEDGER);
    assert_errmsg_mentions(l, "9999");
    loyalty_close(l);
    assert_int_equal(sql_integer(fx, "PRAGMA user_version"), 9999);
}

static void test_open_options(void **state)
{
    fixture *fx = *state;
    loyalty_ledger *l = NULL;
    loyalty_open_options options = {.db_path = fx->db_path, .actor = ACTOR};
    assert_int_equal(loyalty_open(NULL, &options), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_open(&l, NULL), LOYALTY_ERR_MISUSE);
    loyalty_close(l);
    options.db_path = NULL;
    assert_int_equal(loyalty_open(&l, &options), LOYALTY_ERR_MISUSE);
    loyalty_close(l);
    options.db_path = fx->db_path;
    const char *bad_actors[] = {
        "", "two words", "tab\t",
        "0123456789012345678901234567890123456789012345678901234567890123x"};
    for (size_t i = 0; i < 4; i++) {
        options.actor = bad_actors[i];
        assert_int_equal(loyalty_open(&l, &options), LOYALTY_ERR_INVALID);
        assert_errmsg_mentions(l, "actor");
        loyalty_close(l);
    }
    options.actor = ACTOR;
    options.now_us = -1;
    assert_int_equal(loyalty_open(&l, &options), LOYALTY_ERR_INVALID);
    loyalty_close(l);
    options.now_us = 0;
    assert_int_equal(loyalty_operator_add(fx->ledger, "ops@example.com", "support", NULL), LOYALTY_OK);
    options.actor = "ops@example.com";
    assert_int_equal(loyalty_open(&l, &options), LOYALTY_OK);
    assert_string_equal(loyalty_errmsg(l), "");
    assert_int_equal(loyalty_member_add(l, "m1", NULL, NULL), LOYALTY_OK);
    loyalty_close(l);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM audit WHERE actor = 'ops@example.com'"),
                     1);
}

static void test_create_needs_actor(void **state)
{
    fixture *fx = *state;
    loyalty_open_options options = {.db_path = fx->db_path, .now_us = T0_US};
    assert_int_equal(loyalty_create(&fx->ledger, &options, NULL), LOYALTY_ERR_INVALID);
    assert_errmsg_mentions(fx->ledger, "actor");
    assert_no_ledger_files(fx);
}

/* A key file readable by others stops writes; reads go on. */
static void test_insecure_key_file(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 10);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    unsigned modes[] = {0644, 0640, 0604, 0660};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(fx->key_path, modes[i]), 0);
        reopen(fx);
        assert_int_equal(loyalty_member_add(fx->ledger, "m2", NULL, NULL), LOYALTY_ERR_KEY);
        assert_errmsg_mentions(fx->ledger, fx->key_path);
        loyalty_redeem_request redeem = {"m1", "r1", 5};
        loyalty_posting p;
        assert_int_equal(loyalty_redeem(fx->ledger, &redeem, &p), LOYALTY_ERR_KEY);
        assert_int_equal(loyalty_key_rotate(fx->ledger, NULL, NULL), LOYALTY_ERR_KEY);
        assert_unchanged(fx, "m1", &before);
        assert_int_equal(file_mode(fx->key_path), modes[i]);
    }
    assert_int_equal(member_get(fx, "m1").balance, 10);
    char public_hex[65], key_id[17];
    assert_int_equal(loyalty_key_public(fx->ledger, public_hex, key_id), LOYALTY_OK);
    assert_int_equal(chmod(fx->key_path, 0400), 0);
    reopen(fx);
    add_member(fx, "m2");
}

static void test_wrong_key_file(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    char other[PATH_BYTES];
    path_in(fx, other, "other.key");
    static const char seed[] = "# another key\n"
                               "2222222222222222222222222222222222222222222222222222222222222222\n";
    file_write(other, seed, sizeof seed - 1, 0600);
    char missing[PATH_BYTES], malformed[PATH_BYTES];
    path_in(fx, missing, "missing.key");
    path_in(fx, malformed, "malformed.key");
    file_write(malformed, "12345\n", 6, 0600);
    const char *paths[] = {other, missing, malformed};
    for (size_t i = 0; i < 3; i++) {
        loyalty_ledger *l = NULL;
        assert_int_equal(open_handle(fx, ACTOR, paths[i], &l), LOYALTY_OK);
        assert_int_equal(loyalty_member_add(l, "m2", NULL, NULL), LOYALTY_ERR_KEY);
        assert_errmsg_mentions(l, paths[i]);
        loyalty_close(l);
        assert_unchanged(fx, "m1", &before);
    }
    assert_false(path_exists(missing));
    assert_file_bytes(other, (const unsigned char *)seed, sizeof seed - 1);
}

static void test_close_null_and_errmsg_null(void **state)
{
    (void)state;
    loyalty_close(NULL);
    loyalty_free(NULL);
    assert_non_null(loyalty_errmsg(NULL));
}

static void test_result_texts(void **state)
{
    (void)state;
    const char *names[LOYALTY_ERR_BUSY + 1];
    for (int rc = LOYALTY_OK; rc <= LOYALTY_ERR_BUSY; rc++) {
        names[rc] = loyalty_result_name(rc);
        assert_non_null(names[rc]);
        assert_true(strlen(names[rc]) > 0);
        assert_int_equal(strspn(names[rc], "abcdefghijklmnopqrstuvwxyz_"), strlen(names[rc]));
        assert_true(strlen(loyalty_strerror(rc)) > 0);
        for (int other = 0; other < rc; other++)
            assert_string_not_equal(names[rc], names[other]);
    }
    assert_string_equal(loyalty_result_name(LOYALTY_OK), "ok");
    assert_string_equal(loyalty_result_name(LOYALTY_ERR_NOT_FOUND), "not_found");
    int out_of_range[] = {-1, LOYALTY_ERR_BUSY + 1, 1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < 5; i++) {
        const char *name = loyalty_result_name(out_of_range[i]);
        assert_non_null(name);
        assert_non_null(loyalty_strerror(out_of_range[i]));
        for (int rc = LOYALTY_OK; rc <= LOYALTY_ERR_BUSY; rc++)
            assert_string_not_equal(name, names[rc]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_new_ledger, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_create_twice, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_create_over_other_files, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_create_failure_leaves_nothing, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_create_with_unusable_key_path, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_create_needs_actor, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_open_missing, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_open_not_a_ledger, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_open_newer_schema, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_open_options, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_insecure_key_file, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_file, setup_ledger, teardown),
        cmocka_unit_test(test_close_null_and_errmsg_null),
        cmocka_unit_test(test_result_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
