/*
 * test_keys_audit.c - the audit chain and the signing keys: exactly one
 * entry per write in the write's own transaction, payloads carrying member
 * and points, key rotation (archive file, new key in force, twice), and the
 * whole chain re-checked entry by entry: links, hashes (with the library's
 * audit_entry_hash() and with an independent implementation of the format),
 * key ids and Ed25519 signatures under the key in force.
 */
#include "internal.h" /* first: cmocka.h defines a macro named fail */
#include "support.h"

static int64_t audit_rows(fixture *fx)
{
    return sql_integer(fx, "SELECT COUNT(*) FROM audit");
}

/* Asserts the newest entry's action, and member and points in its payload. */
static void assert_head_entry(fixture *fx, const char *action, const char *member, int64_t points)
{
    sqlite3 *db = db_direct(fx, 0);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT action, payload FROM audit ORDER BY seq DESC LIMIT 1", -1,
                           &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), action);
    json_error_t error;
    json_t *payload = json_loads((const char *)sqlite3_column_text(st, 1), 0, &error);
    assert_non_null(payload);
    if (member) {
        assert_string_equal(json_string_value(json_object_get(payload, "member")), member);
        assert_true(json_is_integer(json_object_get(payload, "points")));
        assert_int_equal(json_integer_value(json_object_get(payload, "points")), points);
    }
    json_decref(payload);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void expect_one_more(fixture *fx, int64_t *rows, const char *action)
{
    assert_int_equal(audit_rows(fx), *rows + 1);
    *rows += 1;
    assert_head_entry(fx, action, NULL, 0);
}

static void test_one_entry_per_write(void **state)
{
    fixture *fx = *state;
    int64_t rows = audit_rows(fx);
    assert_int_equal(rows, 3); /* genesis, the first program, the first admin */
    add_member(fx, "m1");
    expect_one_more(fx, &rows, "member_add");
    assert_int_equal(loyalty_member_add(fx->ledger, "m1", NULL, NULL), LOYALTY_OK);
    assert_int_equal(audit_rows(fx), rows);

    loyalty_award_request a = {"m1", "a1", 25000, 0, NULL};
    loyalty_redeem_request r = {"m1", "r1", 100};
    loyalty_adjust_request j = {"m1", "t1", -20, "fix", "typo"};
    loyalty_posting p[4], again;
    assert_int_equal(loyalty_award(fx->ledger, &a, &p[0]), LOYALTY_OK);
    assert_head_entry(fx, "award", "m1", 250);
    assert_int_equal(loyalty_redeem(fx->ledger, &r, &p[1]), LOYALTY_OK);
    assert_head_entry(fx, "redeem", "m1", -100);
    assert_int_equal(loyalty_adjust(fx->ledger, &j, &p[2]), LOYALTY_OK);
    assert_head_entry(fx, "adjust", "m1", -20);
    loyalty_reverse_request v = {p[0].tx, "v1", "chargeback"};
    assert_int_equal(loyalty_reverse(fx->ledger, &v, &p[3]), LOYALTY_OK);
    assert_head_entry(fx, "reverse", "m1", -250);
    assert_int_equal(audit_rows(fx), rows + 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(p[i].audit_seq, rows + 1 + i);
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT audit_seq FROM journal WHERE tx = %lld",
                 (long long)p[i].tx);
        assert_int_equal(sql_integer(fx, sql), p[i].audit_seq);
    }
    rows += 4;
    assert_int_equal(loyalty_award(fx->ledger, &a, &again), LOYALTY_OK);
    assert_int_equal(again.replayed, 1);
    assert_int_equal(again.audit_seq, p[0].audit_seq);
    assert_int_equal(audit_rows(fx), rows);
    assert_int_equal(loyalty_program_load(fx->ledger, "{}", NULL), LOYALTY_OK);
    expect_one_more(fx, &rows, "program_load");
    assert_int_equal(loyalty_key_rotate(fx->ledger, NULL, NULL), LOYALTY_OK);
    expect_one_more(fx, &rows, "key_rotate");
    assert_int_equal(sql_integer(fx, "SELECT MAX(seq) FROM audit"), rows);
}

/* When the audit entry cannot be written, the state change is rolled back too. */
static void test_failed_audit_append_rolls_back(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 100);
    sql_exec(fx, "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit"
                 " BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    loyalty_award_request a = {"m1", "a2", 0, 50, NULL};
    loyalty_redeem_request r = {"m1", "r1", 30};
    loyalty_posting p;
    assert_int_equal(loyalty_award(fx->ledger, &a, &p), LOYALTY_ERR_STORAGE);
    assert_errmsg_mentions(fx->ledger, "injected audit failure");
    assert_int_equal(loyalty_redeem(fx->ledger, &r, &p), LOYALTY_ERR_STORAGE);
    assert_int_equal(loyalty_member_add(fx->ledger, "m2", NULL, NULL), LOYALTY_ERR_STORAGE);
    assert_int_equal(loyalty_program_load(fx->ledger, "{}", NULL), LOYALTY_ERR_STORAGE);
    assert_unchanged(fx, "m1", &before);
    sql_exec(fx, "DROP TRIGGER refuse_audit");
    assert_int_equal(loyalty_award(fx->ledger, &a, &p), LOYALTY_OK);
    assert_int_equal(p.replayed, 0);
    assert_int_equal(p.balance, 150);
}

static void key_path_with_suffix(const fixture *fx, char *out, const char *suffix)
{
    assert_true(snprintf(out, PATH_BYTES, "%s.%s", fx->key_path, suffix) < PATH_BYTES);
}

/* Rotates and checks the files: the old key archived, the new one in place. */
static void rotate_and_check(fixture *fx, char new_id[17])
{
    char old_public[65], old_id[17], new_public[65], from_file[65], archive[PATH_BYTES];
    assert_int_equal(loyalty_key_public(fx->ledger, old_public, old_id), LOYALTY_OK);
    size_t old_length = 0;
    unsigned char *old_key = file_read(fx->key_path, &old_length);
    assert_int_equal(loyalty_key_rotate(fx->ledger, new_public, new_id), LOYALTY_OK);
    assert_string_not_equal(new_id, old_id);
    assert_string_not_equal(new_public, old_public);
    key_path_with_suffix(fx, archive, old_id);
    assert_int_equal(file_mode(archive), 0600);
    assert_file_bytes(archive, old_key, old_length);
    free(old_key);
    assert_int_equal(file_mode(fx->key_path), 0600);
    key_file_public(fx->key_path, from_file);
    assert_string_equal(from_file, new_public);
    char public_now[65], id_now[17];
    assert_int_equal(loyalty_key_public(fx->ledger, public_now, id_now), LOYALTY_OK);
    assert_string_equal(public_now, new_public);
    assert_string_equal(id_now, new_id);
    /* The rotation entry is signed by the old key; the next entry by the new one. */
    assert_head_entry(fx, "key_rotate", NULL, 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)"
             " AND key_id = '%s' AND payload LIKE '%%%s%%'",
             old_id, new_public);
    assert_int_equal(sql_integer(fx, sql), 1);
}

static void assert_head_key(fixture *fx, const char *key_id)
{
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)"
             " AND key_id = '%s'",
             key_id);
    assert_int_equal(sql_integer(fx, sql), 1);
}

static void test_key_rotation(void **state)
{
    fixture *fx = *state;
    char first_id[17], second_id[17], pending[PATH_BYTES];
    add_member(fx, "m1");
    rotate_and_check(fx, first_id);
    add_member(fx, "m2");
    assert_head_key(fx, first_id);
    reopen(fx); /* a new process loads the new key from the key file */
    add_member(fx, "m3");
    assert_head_key(fx, first_id);
    rotate_and_check(fx, second_id);
    award_points(fx, "m1", "a1", 5);
    assert_head_key(fx, second_id);
    key_path_with_suffix(fx, pending, "new");
    assert_false(path_exists(pending));
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM signing_keys"), 3);
}

static void test_rotation_refuses_taken_archive_name(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    char public_hex[65], key_id[17], archive[PATH_BYTES], pending[PATH_BYTES];
    assert_int_equal(loyalty_key_public(fx->ledger, public_hex, key_id), LOYALTY_OK);
    key_path_with_suffix(fx, archive, key_id);
    key_path_with_suffix(fx, pending, "new");
    file_write(archive, "keep me\n", 8, 0600);
    size_t key_length = 0;
    unsigned char *key = file_read(fx->key_path, &key_length);
    snapshot before;
    snapshot_take(fx, "m1", &before);
    char new_public[65] = "", new_id[17] = "";
    assert_int_equal(loyalty_key_rotate(fx->ledger, new_public, new_id), LOYALTY_ERR_EXISTS);
    assert_errmsg_mentions(fx->ledger, archive);
    assert_unchanged(fx, "m1", &before);
    assert_file_bytes(archive, (const unsigned char *)"keep me\n", 8);
    assert_file_bytes(fx->key_path, key, key_length);
    free(key);
    assert_false(path_exists(pending));
    add_member(fx, "m2");
    assert_head_key(fx, key_id);
}

/* The format of docs/AUDIT_FORMAT.md, written from the design notes alone. */
static void independent_hash(unsigned char out[32], sqlite3_stmt *row)
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    crypto_generichash_update(&h, (const unsigned char *)"loyalty-audit-v1", 17);
    unsigned char be[8];
    for (int field = 0; field < 2; field++) {
        uint64_t v = (uint64_t)sqlite3_column_int64(row, field);
        for (int i = 7; i >= 0; i--, v >>= 8)
            be[i] = (unsigned char)v;
        crypto_generichash_update(&h, be, 8);
    }
    for (int column = 2; column <= 4; column++) {
        uint32_t n = (uint32_t)sqlite3_column_bytes(row, column);
        unsigned char lp[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                               (unsigned char)(n >> 8), (unsigned char)n};
        crypto_generichash_update(&h, lp, 4);
        crypto_generichash_update(&h, sqlite3_column_text(row, column), n);
    }
    crypto_generichash_update(&h, sqlite3_column_blob(row, 5), 32);
    crypto_generichash_final(&h, out, 32);
}

/* The public key in force at seq, checking its key id on the way. */
static void key_in_force(sqlite3 *db, int64_t seq, unsigned char pk[32], char key_id[17])
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT key_id, public_key FROM signing_keys"
                                        " WHERE from_seq <= ? ORDER BY from_seq DESC LIMIT 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, seq);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_bytes(st, 1), 32);
    memcpy(pk, sqlite3_column_blob(st, 1), 32);
    snprintf(key_id, 17, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    unsigned char digest[32];
    char expected[17];
    crypto_generichash(digest, sizeof digest, pk, 32, NULL, 0);
    sodium_bin2hex(expected, sizeof expected, digest, 8);
    assert_string_equal(key_id, expected);
}

/* Checks one row against the previous hash; returns the row's seq. */
static int64_t check_row(sqlite3 *db, sqlite3_stmt *row, const unsigned char prev[32])
{
    int64_t seq = sqlite3_column_int64(row, 0);
    assert_int_equal(sqlite3_column_bytes(row, 5), 32);
    assert_int_equal(sqlite3_column_bytes(row, 6), 32);
    assert_int_equal(sqlite3_column_bytes(row, 8), crypto_sign_BYTES);
    assert_memory_equal(sqlite3_column_blob(row, 5), prev, 32);
    const char *payload = (const char *)sqlite3_column_text(row, 4);
    unsigned char ours[32], theirs[32];
    audit_entry_hash(ours, seq, sqlite3_column_int64(row, 1),
                     (const char *)sqlite3_column_text(row, 2),
                     (const char *)sqlite3_column_text(row, 3), payload, strlen(payload), prev);
    independent_hash(theirs, row);
    assert_memory_equal(ours, sqlite3_column_blob(row, 6), 32);
    assert_memory_equal(theirs, sqlite3_column_blob(row, 6), 32);
    unsigned char pk[32];
    char key_id[17];
    key_in_force(db, seq, pk, key_id);
    assert_string_equal((const char *)sqlite3_column_text(row, 7), key_id);
    assert_int_equal(crypto_sign_verify_detached(sqlite3_column_blob(row, 8), ours, 32, pk), 0);
    /* The check can fail: the same signature does not cover another hash. */
    ours[0] ^= 1;
    assert_int_not_equal(crypto_sign_verify_detached(sqlite3_column_blob(row, 8), ours, 32, pk), 0);
    return seq;
}

static int64_t check_chain(fixture *fx)
{
    sqlite3 *db = db_direct(fx, 0);
    sqlite3_stmt *row = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT seq, ts_us, actor, action, payload, prev_hash,"
                                        " hash, key_id, sig FROM audit ORDER BY seq",
                                        -1, &row, NULL),
                     SQLITE_OK);
    unsigned char prev[32] = {0};
    int64_t expected_seq = 1;
    while (sqlite3_step(row) == SQLITE_ROW) {
        assert_int_equal(check_row(db, row, prev), expected_seq++);
        memcpy(prev, sqlite3_column_blob(row, 6), 32);
    }
    sqlite3_finalize(row);
    sqlite3_close(db);
    return expected_seq - 1;
}

/* A handle that signed with the old key picks up a rotation made by another. */
static void test_rotation_by_another_handle(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1"); /* the fixture's handle now holds the first key */
    loyalty_ledger *other = NULL;
    assert_int_equal(loyalty_operator_add(fx->ledger, "rotator", "admin", NULL), LOYALTY_OK);
    assert_int_equal(open_handle(fx, "rotator", NULL, &other), LOYALTY_OK);
    char new_id[17];
    assert_int_equal(loyalty_key_rotate(other, NULL, new_id), LOYALTY_OK);
    loyalty_close(other);
    add_member(fx, "m2");
    assert_head_key(fx, new_id);
    assert_int_equal(check_chain(fx), 7);
}

static void test_chain_hashes_and_signatures(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    int64_t awarded = award_points(fx, "m1", "a1", 100);
    char id[17];
    assert_int_equal(loyalty_key_rotate(fx->ledger, NULL, id), LOYALTY_OK);
    redeem_points(fx, "m1", "r1", 30);
    loyalty_adjust_request j = {"m1", "t1", 7, "goodwill", "caf\xc3\xa9 \"quoted\" \\ note"};
    loyalty_reverse_request v = {awarded, "v1", "chargeback"};
    loyalty_posting p;
    assert_int_equal(loyalty_adjust(fx->ledger, &j, &p), LOYALTY_OK);
    assert_int_equal(loyalty_key_rotate(fx->ledger, NULL, id), LOYALTY_OK);
    reopen(fx);
    assert_int_equal(loyalty_reverse(fx->ledger, &v, &p), LOYALTY_OK);
    assert_int_equal(loyalty_program_load(fx->ledger, "{\"currency\":\"USD\"}", NULL), LOYALTY_OK);
    add_member(fx, "m2");
    assert_int_equal(check_chain(fx), 12);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(DISTINCT key_id) FROM audit"), 3);
}

/* Signs hash with the ledger's own secret key, as whoever holds it could. */
static void sign_with_ledger_key(const fixture *fx, const unsigned char hash[32],
                                 unsigned char sig[crypto_sign_BYTES])
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    key_file_keypair(fx->key_path, pk, sk);
    crypto_sign_detached(sig, NULL, hash, 32, sk);
    sodium_memzero(sk, sizeof sk);
}

/*
 * Appends an entry after the head, hashed and signed with the ledger's key:
 * what a key holder could write by hand. verify must refuse it for what it
 * holds, and say so, without re-executing nonsense first.
 */
static int64_t append_forged_entry(fixture *fx, int64_t ts_us, const char *action,
                                   const char *payload)
{
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    sqlite3 *db = db_direct(fx, 1);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT seq, hash, key_id FROM audit"
                                        " ORDER BY seq DESC LIMIT 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t seq = sqlite3_column_int64(st, 0) + 1;
    unsigned char prev[32], hash[32], sig[crypto_sign_BYTES];
    memcpy(prev, sqlite3_column_blob(st, 1), 32);
    char key_id[17];
    snprintf(key_id, sizeof key_id, "%s", (const char *)sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    audit_entry_hash(hash, seq, ts_us, ACTOR, action, payload, strlen(payload), prev);
    sign_with_ledger_key(fx, hash, sig);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO audit (seq, ts_us, actor, action, payload,"
                                        " prev_hash, hash, key_id, sig)"
                                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, ts_us);
    sqlite3_bind_text(st, 3, ACTOR, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, payload, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, prev, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, key_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, sig, sizeof sig, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    reopen(fx);
    return seq;
}

/* Appends the forged entry and expects verify to refuse it, at its seq, for reason. */
static void expect_forged_entry_refused(fixture *fx, int64_t ts_us, const char *action,
                                        const char *payload, const char *reason)
{
    int64_t seq = append_forged_entry(fx, ts_us, action, payload);
    loyalty_verify_report report;
    assert_int_equal(loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_ERR_VERIFY);
    assert_int_equal(report.first_bad_seq, seq);
    if (strstr(report.reason, reason) == NULL)
        fail_msg("reason '%s' does not mention '%s'", report.reason, reason);
}

/* Times near the ends of int64 would overflow the replay's expiry arithmetic. */
static void test_verify_refuses_time_out_of_range(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 10);
    expect_forged_entry_refused(fx, INT64_MAX - 1, "award",
                                "{\"tx\":2,\"member\":\"m1\",\"ref\":\"a2\",\"points\":5}",
                                "outside 1970 to 9999");
}

static void test_verify_refuses_time_before_1970(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    expect_forged_entry_refused(fx, -5, "member_add", "{\"member\":\"m2\"}",
                                "outside 1970 to 9999");
}

/*
 * A debit (redeem, capture) of INT64_MIN points has no positive counterpart
 * to replay. The ledger holds an open hold "h1" for the capture to name.
 */
static void expect_unnegatable_debit_refused(fixture *fx, const char *action)
{
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 10);
    loyalty_hold_request hold = {.member = "m1", .ref = "h1", .points = 5};
    loyalty_hold_info info;
    assert_int_equal(loyalty_hold(fx->ledger, &hold, &info), LOYALTY_OK);
    expect_forged_entry_refused(fx, T0_US, action,
                                "{\"tx\":2,\"member\":\"m1\",\"ref\":\"h1\","
                                "\"points\":-9223372036854775808}",
                                "points out of range");
}

static void test_verify_refuses_unnegatable_points(void **state)
{
    expect_unnegatable_debit_refused(*state, "redeem");
}

static void test_verify_refuses_unnegatable_capture(void **state)
{
    expect_unnegatable_debit_refused(*state, "capture");
}

static void test_key_misuse(void **state)
{
    fixture *fx = *state;
    snapshot before;
    snapshot_take(fx, NULL, &before);
    char public_hex[65], key_id[17];
    assert_int_equal(loyalty_key_public(fx->ledger, NULL, key_id), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_key_public(fx->ledger, public_hex, NULL), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_key_public(NULL, public_hex, key_id), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_key_rotate(NULL, public_hex, key_id), LOYALTY_ERR_MISUSE);
    assert_unchanged(fx, NULL, &before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_entry_per_write, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_failed_audit_append_rolls_back, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_key_rotation, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_by_another_handle, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_refuses_taken_archive_name, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_chain_hashes_and_signatures, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_key_misuse, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_verify_refuses_time_out_of_range, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_verify_refuses_time_before_1970, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_verify_refuses_unnegatable_points, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_verify_refuses_unnegatable_capture, setup_ledger,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
