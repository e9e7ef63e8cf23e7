/*
 * support.h - helpers shared by the unit tests: a fresh ledger in its own
 * temporary directory with a fixed clock, extra handles on it, a snapshot of
 * everything a failed call must leave alone (the API's figures plus a digest
 * of every table's rows), direct SQL on the database file for the checks the
 * API cannot express, and small file helpers.
 *
 * Every helper is static and marked unused: each test file includes this
 * header and uses only some of them. A test that needs ledger/internal.h
 * includes it before this header: cmocka defines a macro named fail().
 */
#ifndef LOYALTY_TEST_SUPPORT_H
#define LOYALTY_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <dirent.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loyalty.h"

#define SUPPORT static __attribute__((unused))

/* The fixed clock of every test handle: 2023-11-14T22:13:20Z. */
#define T0_US INT64_C(1700000000000000)
#define ACTOR "unit-test"
#define PATH_BYTES 512

typedef struct fixture {
    char dir[PATH_BYTES];
    char db_path[PATH_BYTES];
    char key_path[PATH_BYTES];
    loyalty_ledger *ledger; /* open on db_path, actor ACTOR, clock T0_US */
} fixture;

/* --- files ---------------------------------------------------------------- */

SUPPORT void path_in(const fixture *fx, char *out, const char *name)
{
    int n = snprintf(out, PATH_BYTES, "%s/%s", fx->dir, name);
    assert_true(n > 0 && n < PATH_BYTES);
}

SUPPORT int path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

SUPPORT unsigned file_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

/* Reads a whole file into a malloc'd buffer (with a NUL after the end); *length gets its size. */
SUPPORT unsigned char *file_read(const char *path, size_t *length)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t capacity = 4096, n = 0;
    unsigned char *data = malloc(capacity);
    assert_non_null(data);
    size_t got;
    while ((got = fread(data + n, 1, capacity - n, f)) > 0) {
        n += got;
        if (n + 1 >= capacity) {
            capacity *= 2;
            data = realloc(data, capacity);
            assert_non_null(data);
        }
    }
    fclose(f);
    data[n] = '\0';
    *length = n;
    return data;
}

SUPPORT void file_write(const char *path, const void *data, size_t length, unsigned mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, length), (ssize_t)length);
    assert_int_equal(close(fd), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* The key pair derived from the seed in a secret key file. */
SUPPORT void key_file_keypair(const char *path, unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                              unsigned char sk[crypto_sign_SECRETKEYBYTES])
{
    size_t length = 0;
    char *text = (char *)file_read(path, &length);
    char *line = text;
    while (*line == '#') {
        line = strchr(line, '\n');
        assert_non_null(line);
        line++;
    }
    unsigned char seed[crypto_sign_SEEDBYTES];
    assert_int_equal(sodium_hex2bin(seed, sizeof seed, line, 64, NULL, NULL, NULL), 0);
    assert_true(line[64] == '\n' || line[64] == '\0');
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(text, length);
    free(text);
}

/* The public key (hex) derived from the seed in a secret key file. */
SUPPORT void key_file_public(const char *path, char hex[65])
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    key_file_keypair(path, pk, sk);
    sodium_bin2hex(hex, 65, pk, sizeof pk);
    sodium_memzero(sk, sizeof sk);
}

/* Asserts that the file at path holds exactly length bytes of data. */
SUPPORT void assert_file_bytes(const char *path, const unsigned char *data, size_t length)
{
    size_t now_length = 0;
    unsigned char *now = file_read(path, &now_length);
    assert_int_equal(now_length, length);
    assert_memory_equal(now, data, length);
    free(now);
}

/* Removes dir and everything in it (the tests make at most a few levels). */
SUPPORT void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        char path[PATH_BYTES];
        assert_true(snprintf(path, sizeof path, "%s/%s", dir, entry->d_name) < PATH_BYTES);
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        if (S_ISDIR(st.st_mode))
            remove_tree(path);
        else
            assert_int_equal(unlink(path), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

/* --- handles -------------------------------------------------------------- */

SUPPORT int open_handle(const fixture *fx, const char *actor, const char *key_path,
                        loyalty_ledger **out)
{
    loyalty_open_options options = {
        .db_path = fx->db_path, .key_path = key_path, .actor = actor, .now_us = T0_US};
    return loyalty_open(out, &options);
}

/* Closes the fixture's handle and opens a fresh one (as a new process would). */
SUPPORT void reopen(fixture *fx)
{
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    assert_int_equal(open_handle(fx, ACTOR, NULL, &fx->ledger), LOYALTY_OK);
}

/* Makes an empty temporary directory; the fixture's paths point into it. */
SUPPORT fixture *fixture_new(void)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    const char *tmp = getenv("TMPDIR");
    int n =
        snprintf(fx->dir, sizeof fx->dir, "%s/loyalty-unit-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    assert_true(n > 0 && n < (int)sizeof fx->dir);
    assert_non_null(mkdtemp(fx->dir));
    path_in(fx, fx->db_path, "ledger.db");
    path_in(fx, fx->key_path, "ledger.db.key");
    return fx;
}

SUPPORT int create_ledger(fixture *fx, const char *program_json)
{
    loyalty_open_options options = {.db_path = fx->db_path, .actor = ACTOR, .now_us = T0_US};
    return loyalty_create(&fx->ledger, &options, program_json);
}

/* cmocka setup: a temporary directory only, no ledger. */
SUPPORT int setup_empty(void **state)
{
    *state = fixture_new();
    return 0;
}

/* cmocka setup: a new ledger with the default program. */
SUPPORT int setup_ledger(void **state)
{
    fixture *fx = fixture_new();
    *state = fx;
    return create_ledger(fx, NULL) == LOYALTY_OK ? 0 : -1;
}

SUPPORT int teardown(void **state)
{
    fixture *fx = *state;
    loyalty_close(fx->ledger);
    remove_tree(fx->dir);
    free(fx);
    return 0;
}

/* --- operations used as test preconditions ------------------------------- */

SUPPORT void add_member(fixture *fx, const char *member)
{
    int replayed = -1;
    assert_int_equal(loyalty_member_add(fx->ledger, member, NULL, &replayed), LOYALTY_OK);
    assert_int_equal(replayed, 0);
}

SUPPORT int64_t award_points(fixture *fx, const char *member, const char *ref, int64_t points)
{
    loyalty_award_request request = {.member = member, .ref = ref, .points = points};
    loyalty_posting posting;
    assert_int_equal(loyalty_award(fx->ledger, &request, &posting), LOYALTY_OK);
    assert_int_equal(posting.replayed, 0);
    return posting.tx;
}

SUPPORT int64_t redeem_points(fixture *fx, const char *member, const char *ref, int64_t points)
{
    loyalty_redeem_request request = {.member = member, .ref = ref, .points = points};
    loyalty_posting posting;
    assert_int_equal(loyalty_redeem(fx->ledger, &request, &posting), LOYALTY_OK);
    return posting.tx;
}

SUPPORT loyalty_member_info member_get(fixture *fx, const char *member)
{
    loyalty_member_info info;
    assert_int_equal(loyalty_member_get(fx->ledger, member, &info), LOYALTY_OK);
    return info;
}

/* --- direct SQL on the database file -------------------------------------- */

SUPPORT sqlite3 *db_direct(const fixture *fx, int writable)
{
    sqlite3 *db = NULL;
    int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    assert_int_equal(sqlite3_open_v2(fx->db_path, &db, flags, NULL), SQLITE_OK);
    return db;
}

/* The first column of the first row of sql, as an integer (0 when NULL). */
SUPPORT int64_t sql_integer(const fixture *fx, const char *sql)
{
    sqlite3 *db = db_direct(fx, 0);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t value = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return value;
}

SUPPORT void sql_exec(const fixture *fx, const char *sql)
{
    sqlite3 *db = db_direct(fx, 1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void digest_rows(sqlite3 *db, const char *table, crypto_generichash_state *state)
{
    char sql[256];
    assert_true(snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY rowid", table) <
                (int)sizeof sql);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    crypto_generichash_update(state, (const unsigned char *)table, strlen(table) + 1);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            unsigned char type = (unsigned char)sqlite3_column_type(st, i);
            const void *bytes = sqlite3_column_blob(st, i);
            uint32_t length = (uint32_t)sqlite3_column_bytes(st, i);
            crypto_generichash_update(state, &type, 1);
            crypto_generichash_update(state, (const unsigned char *)&length, sizeof length);
            if (bytes)
                crypto_generichash_update(state, bytes, length);
        }
    }
    sqlite3_finalize(st);
}

/* A digest of every row of every table, and of the schema itself. */
SUPPORT void db_digest(const fixture *fx, unsigned char out[32])
{
    sqlite3 *db = db_direct(fx, 0);
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, 32);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT name FROM sqlite_schema WHERE type = 'table'"
                                        " AND name NOT LIKE 'sqlite_%' ORDER BY name",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        digest_rows(db, (const char *)sqlite3_column_text(st, 0), &state);
    sqlite3_finalize(st);
    digest_rows(db, "sqlite_schema", &state);
    sqlite3_close(db);
    crypto_generichash_final(&state, out, 32);
}

/* --- snapshots ----------------------------------------------------------- */

typedef struct snapshot {
    loyalty_stats stats;
    int64_t audit_rows;
    int64_t audit_head_seq;
    unsigned char digest[32];
    char program[1024];
    int member_rc;
    loyalty_member_info member;
} snapshot;

/* Everything observable; member (may be NULL) is read through the API too. */
SUPPORT void snapshot_take(fixture *fx, const char *member, snapshot *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(loyalty_stats_get(fx->ledger, &s->stats), LOYALTY_OK);
    char *program = NULL;
    assert_int_equal(loyalty_program_show(fx->ledger, &program), LOYALTY_OK);
    assert_true(strlen(program) < sizeof s->program);
    strcpy(s->program, program);
    loyalty_free(program);
    if (member)
        s->member_rc = loyalty_member_get(fx->ledger, member, &s->member);
    s->audit_rows = sql_integer(fx, "SELECT COUNT(*) FROM audit");
    s->audit_head_seq = sql_integer(fx, "SELECT MAX(seq) FROM audit");
    db_digest(fx, s->digest);
}

/* Asserts that nothing observable changed since before was taken. */
SUPPORT void assert_unchanged(fixture *fx, const char *member, const snapshot *before)
{
    snapshot now;
    snapshot_take(fx, member, &now);
    assert_int_equal(now.audit_rows, before->audit_rows);
    assert_int_equal(now.audit_head_seq, before->audit_head_seq);
    assert_int_equal(now.stats.members, before->stats.members);
    assert_int_equal(now.stats.outstanding, before->stats.outstanding);
    assert_int_equal(now.stats.issued, before->stats.issued);
    assert_int_equal(now.stats.redeemed, before->stats.redeemed);
    assert_int_equal(now.stats.adjusted, before->stats.adjusted);
    assert_int_equal(now.stats.reversed, before->stats.reversed);
    assert_int_equal(now.stats.transactions, before->stats.transactions);
    assert_string_equal(now.program, before->program);
    assert_int_equal(now.member_rc, before->member_rc);
    assert_memory_equal(&now.member, &before->member, sizeof now.member);
    assert_memory_equal(now.digest, before->digest, sizeof now.digest);
}

/* Asserts that the handle's message mentions needle. */
SUPPORT void assert_errmsg_mentions(const loyalty_ledger *ledger, const char *needle)
{
    const char *message = loyalty_errmsg(ledger);
    if (strstr(message, needle) == NULL)
        fail_msg("error message \"%s\" does not mention \"%s\"", message, needle);
}

#endif
