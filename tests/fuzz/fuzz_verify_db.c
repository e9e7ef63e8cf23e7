/*
 * fuzz_verify_db.c - libFuzzer target for loyalty_verify over mutated
 * database files.
 *
 * Once per process a small ledger is made that uses every kind of entry
 * (program with tiers, benefits, pending days and expiry; members, awards,
 * redemptions, adjustments, reversals, refunds, holds, captures, claims,
 * status changes, tier changes, operators, a key rotation, an expiry
 * sweep), checkpointed into its main file and, so that the file is small,
 * rewritten with 1 KiB pages. The table contents of this original are
 * digested once.
 *
 * Input: 4-byte mutations [offset: 3 bytes big-endian][value], each setting
 * the byte at offset (modulo the file size) to value, applied to a fresh
 * copy of the original. The copy keeps WAL mode in its header: its -wal and
 * -shm side files are removed before every run so that no state leaks from
 * one input to the next.
 *
 * Properties:
 *   - loyalty_open + loyalty_verify never crash and return a documented
 *     code; report.ok agrees with the result;
 *   - whenever verify says ok, every table of the copy (read here with
 *     SQLite directly, every row, every column with its storage class) is
 *     identical to the original: verify never reports ok for a database
 *     whose ledger state was changed;
 *   - unless LOYALTY_FUZZ_STRICT=0: whenever verify says ok,
 *     PRAGMA integrity_check on the copy is also ok (verify compares
 *     tables, not indexes; this mode finds index damage it does not see).
 */
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>

#include "fuzz_common.h"

static struct {
    int ready;
    char original[FUZZ_PATH_BYTES];
    char copy[FUZZ_PATH_BYTES];
    unsigned char *bytes;
    size_t size;
    unsigned char digest[32];
    int strict;
} fx;

static void free_fixture(void)
{
    free(fx.bytes);
    fx.bytes = NULL;
}

/* --- the original ledger ---------------------------------------------------- */

static const char program_json[] =
    "{\"currency\":\"EUR\",\"minor_per_unit\":100,\"points_per_unit\":2,\"pending_days\":1,"
    "\"expiry_days\":30,\"hold_ttl_seconds\":600,\"approval_threshold\":1000,"
    "\"tiers\":[{\"code\":\"base\",\"name\":\"Base\",\"threshold\":0,\"multiplier_permille\":1000,"
    "\"benefits\":[]},{\"code\":\"gold\",\"name\":\"Gold\",\"threshold\":100,"
    "\"multiplier_permille\":1500,\"benefits\":[\"lounge\"]}],"
    "\"benefits\":[{\"code\":\"lounge\",\"name\":\"Lounge\",\"limit\":2,\"period\":\"month\"}]}";

#define DAY_US INT64_C(86400000000)

static void history_day0(loyalty_ledger *l)
{
    loyalty_posting p;
    loyalty_hold_info h;
    fuzz_setup_ok(l, loyalty_operator_add(l, "clerk", LOYALTY_ROLE_CHECKOUT, NULL), "operator add");
    fuzz_setup_ok(l, loyalty_operator_add(l, "boss", LOYALTY_ROLE_SUPERVISOR, NULL), "operator add");
    fuzz_setup_ok(l, loyalty_member_add(l, "m1", NULL, NULL), "member add");
    fuzz_setup_ok(l, loyalty_member_add(l, "m2", NULL, NULL), "member add");
    loyalty_award_request purchase = {.member = "m1", .ref = "o1", .amount_minor = 10000};
    fuzz_setup_ok(l, loyalty_award(l, &purchase, &p), "purchase");
    loyalty_award_request bonus = {.member = "m1", .ref = "b1", .points = 50, .reason = "welcome"};
    fuzz_setup_ok(l, loyalty_award(l, &bonus, &p), "bonus");
    loyalty_award_request bonus2 = {.member = "m2", .ref = "b2", .points = 70};
    fuzz_setup_ok(l, loyalty_award(l, &bonus2, &p), "bonus");
    loyalty_hold_request hold = {.member = "m1", .ref = "h1", .points = 20};
    fuzz_setup_ok(l, loyalty_hold(l, &hold, &h), "hold");
    fuzz_setup_ok(l, loyalty_capture(l, "h1", 15, &h), "capture");
    loyalty_hold_request hold2 = {.member = "m2", .ref = "h2", .points = 5};
    fuzz_setup_ok(l, loyalty_hold(l, &hold2, &h), "hold");
    loyalty_adjust_request adjust = {.member = "m2", .ref = "j1", .points = 5, .reason = "goodwill",
                                     .note = "n\xc3\xa9"};
    fuzz_setup_ok(l, loyalty_adjust(l, &adjust, &p), "adjust");
    loyalty_adjust_request big = {.member = "m2", .ref = "j2", .points = 5000, .reason = "big"};
    fuzz_setup_ok(l, loyalty_adjust(l, &big, &p), "adjust for approval");
    fuzz_setup_ok(l, loyalty_member_freeze(l, "m2", "check", NULL, NULL), "freeze");
    fuzz_setup_ok(l, loyalty_key_rotate(l, NULL, NULL), "key rotate");
}

static void history_day2(loyalty_ledger *l)
{
    loyalty_posting p;
    loyalty_claim_result c;
    loyalty_refund_request refund = {.member = "m1", .ref = "f1", .order_ref = "o1", .amount_minor = 2500};
    fuzz_setup_ok(l, loyalty_refund(l, &refund, &p), "refund");
    loyalty_redeem_request redeem = {.member = "m1", .ref = "r1", .points = 30};
    fuzz_setup_ok(l, loyalty_redeem(l, &redeem, &p), "redeem");
    loyalty_reverse_request reverse = {.tx = p.tx, .ref = "v1", .reason = "undo"};
    fuzz_setup_ok(l, loyalty_reverse(l, &reverse, &p), "reverse");
    fuzz_setup_ok(l, loyalty_tier_set(l, "m1", "gold", "vip", NULL), "tier set");
    loyalty_claim_request claim = {.member = "m1", .benefit = "lounge", .ref = "c1"};
    fuzz_setup_ok(l, loyalty_benefit_claim(l, &claim, &c), "claim");
    fuzz_setup_ok(l, loyalty_member_unfreeze(l, "m2", "ok", NULL, NULL), "unfreeze");
    fuzz_setup_ok(l, loyalty_member_add(l, "m3", NULL, NULL), "member add");
    fuzz_setup_ok(l, loyalty_member_close(l, "m3", "gone", NULL, NULL), "close");
}

static void history_day40(loyalty_ledger *l)
{
    loyalty_expire_result expired;
    loyalty_evaluate_result evaluated;
    fuzz_setup_ok(l, loyalty_expire(l, &expired, NULL, NULL), "expire");
    fuzz_setup_ok(l, loyalty_tier_evaluate(l, &evaluated, NULL, NULL), "tier evaluate");
}

static void approve_as_boss(const char *db_path)
{
    loyalty_open_options options = {.db_path = db_path, .actor = "boss", .now_us = FUZZ_T0_US + 2 * DAY_US};
    loyalty_ledger *l = NULL;
    if (loyalty_open(&l, &options) != LOYALTY_OK)
        abort();
    loyalty_posting p;
    /* The boss's writes need the signing key, which sits next to the database. */
    fuzz_setup_ok(l, loyalty_approve(l, 1, &p), "approve");
    loyalty_close(l);
}

/* Makes the original ledger and rewrites it with small pages, all in the main file. */
static void make_original(const char *dir)
{
    loyalty_ledger *l = fuzz_create_ledger(fx.original, program_json);
    history_day0(l);
    loyalty_close(l);
    l = fuzz_open_ledger(fx.original, FUZZ_T0_US + 2 * DAY_US);
    history_day2(l);
    loyalty_close(l);
    approve_as_boss(fx.original);
    l = fuzz_open_ledger(fx.original, FUZZ_T0_US + 40 * DAY_US);
    history_day40(l);
    loyalty_verify_report report;
    fuzz_setup_ok(l, loyalty_verify(l, NULL, NULL, &report), "verify of the original");
    loyalty_close(l);
    sqlite3 *db = NULL;
    if (sqlite3_open(fx.original, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode = DELETE; PRAGMA page_size = 1024; VACUUM;"
                     " PRAGMA journal_mode = WAL; PRAGMA wal_checkpoint(TRUNCATE);",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "fuzz setup: %s\n", sqlite3_errmsg(db));
        abort();
    }
    sqlite3_close(db);
    (void)dir;
}

/* --- table digests ------------------------------------------------------------ */

/* Digest of every row of every table (name, storage class and bytes of each value); -1 when unreadable. */
static int digest_tables(const char *path, unsigned char out[32])
{
    sqlite3 *db = NULL;
    sqlite3_stmt *tables = NULL;
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, 32);
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
                     sqlite3_prepare_v2(db,
                                        "SELECT name FROM sqlite_schema WHERE type = 'table'"
                                        " ORDER BY name",
                                        -1, &tables, NULL) == SQLITE_OK
                 ? 0
                 : -1;
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(tables)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tables, 0);
        crypto_generichash_update(&state, (const unsigned char *)name, strlen(name) + 1);
        char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", name);
        sqlite3_stmt *rows = NULL;
        if (sql == NULL || sqlite3_prepare_v2(db, sql, -1, &rows, NULL) != SQLITE_OK)
            rc = -1;
        sqlite3_free(sql);
        /* Rows are combined by a sum of their hashes, so that the order a damaged index gives does
         * not matter but every row counts. */
        unsigned char total[32] = {0};
        int row_step = SQLITE_DONE;
        while (rc == 0 && (row_step = sqlite3_step(rows)) == SQLITE_ROW) {
            crypto_generichash_state row_state;
            unsigned char row_hash[32];
            crypto_generichash_init(&row_state, NULL, 0, 32);
            for (int c = 0; c < sqlite3_column_count(rows); c++) {
                unsigned char type = (unsigned char)sqlite3_column_type(rows, c);
                const void *bytes = sqlite3_column_blob(rows, c);
                uint32_t length = (uint32_t)sqlite3_column_bytes(rows, c);
                if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
                    char text[64];
                    if (type == SQLITE_INTEGER)
                        snprintf(text, sizeof text, "%lld", (long long)sqlite3_column_int64(rows, c));
                    else
                        snprintf(text, sizeof text, "%.17g", sqlite3_column_double(rows, c));
                    bytes = text;
                    length = (uint32_t)strlen(text);
                    crypto_generichash_update(&row_state, &type, 1);
                    crypto_generichash_update(&row_state, (const unsigned char *)&length, sizeof length);
                    crypto_generichash_update(&row_state, bytes, length);
                    continue;
                }
                crypto_generichash_update(&row_state, &type, 1);
                crypto_generichash_update(&row_state, (const unsigned char *)&length, sizeof length);
                if (bytes)
                    crypto_generichash_update(&row_state, bytes, length);
            }
            crypto_generichash_final(&row_state, row_hash, 32);
            unsigned carry = 0;
            for (int i = 31; i >= 0; i--) {
                unsigned sum = total[i] + row_hash[i] + carry;
                total[i] = (unsigned char)sum;
                carry = sum >> 8;
            }
        }
        if (rc == 0 && row_step != SQLITE_DONE)
            rc = -1;
        crypto_generichash_update(&state, total, sizeof total);
        sqlite3_finalize(rows);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = -1;
    sqlite3_finalize(tables);
    sqlite3_close(db);
    crypto_generichash_final(&state, out, 32);
    return rc;
}

/* PRAGMA integrity_check's first line ("ok" when the file is sound), into message. */
static int integrity_ok(const char *path, char *message, size_t size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    snprintf(message, size, "cannot run integrity_check");
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        snprintf(message, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return strcmp(message, "ok") == 0;
}

/* --- the run ------------------------------------------------------------------ */

static void setup(void)
{
    if (fx.ready)
        return;
    if (sodium_init() < 0)
        abort();
    const char *dir = fuzz_scratch_dir();
    fuzz_path(fx.original, dir, "original.ledger");
    fuzz_path(fx.copy, dir, "copy.ledger");
    make_original(dir);
    FILE *f = fopen(fx.original, "rb");
    if (f == NULL)
        abort();
    fseek(f, 0, SEEK_END);
    fx.size = (size_t)ftell(f);
    rewind(f);
    fx.bytes = malloc(fx.size);
    if (fx.bytes == NULL || fread(fx.bytes, 1, fx.size, f) != fx.size)
        abort();
    fclose(f);
    if (digest_tables(fx.original, fx.digest) != 0)
        abort();
    /* Strict checks are on unless LOYALTY_FUZZ_STRICT=0 (both findings they caught are fixed). */
    const char *strict = getenv("LOYALTY_FUZZ_STRICT");
    fx.strict = strict == NULL || strcmp(strict, "0") != 0;
    fx.ready = 1;
    atexit(free_fixture);
}

static void write_copy(const uint8_t *data, size_t size)
{
    static const char *const suffixes[] = {"-wal", "-shm", "-journal"};
    char side[FUZZ_PATH_BYTES + 16];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(side, sizeof side, "%s%s", fx.copy, suffixes[i]);
        unlink(side);
    }
    unsigned char *bytes = malloc(fx.size);
    if (bytes == NULL)
        abort();
    memcpy(bytes, fx.bytes, fx.size);
    for (size_t i = 0; i + 4 <= size; i += 4) {
        size_t offset = ((size_t)data[i] << 16 | (size_t)data[i + 1] << 8 | data[i + 2]) % fx.size;
        bytes[offset] = data[i + 3];
    }
    int fd = open(fx.copy, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, bytes, fx.size) != (ssize_t)fx.size || close(fd) != 0)
        abort();
    free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    write_copy(data, size);
    loyalty_open_options options = {.db_path = fx.copy, .now_us = FUZZ_T0_US + 41 * DAY_US};
    loyalty_ledger *l = NULL;
    int rc = loyalty_open(&l, &options);
    FUZZ_CHECK(fuzz_known_result(rc), "open returned %d", rc);
    if (rc != LOYALTY_OK)
        FUZZ_TRACE("open: %s %s\n", loyalty_result_name(rc), loyalty_errmsg(l));
    if (rc == LOYALTY_OK) {
        loyalty_verify_report report;
        rc = loyalty_verify(l, NULL, NULL, &report);
        FUZZ_CHECK(fuzz_known_result(rc) && rc != LOYALTY_ERR_INTERNAL && rc != LOYALTY_ERR_MISUSE,
                   "verify returned %s: %s", loyalty_result_name(rc), loyalty_errmsg(l));
        FUZZ_CHECK(report.ok == (rc == LOYALTY_OK), "report.ok %d with result %s", report.ok,
                   loyalty_result_name(rc));
        FUZZ_TRACE("verify: %s %s\n", loyalty_result_name(rc), loyalty_errmsg(l));
        if (rc == LOYALTY_OK) {
            unsigned char digest[32];
            FUZZ_CHECK(digest_tables(fx.copy, digest) == 0,
                       "verify says ok but a table of the database cannot be read");
            FUZZ_CHECK(memcmp(digest, fx.digest, sizeof digest) == 0,
                       "verify says ok but the ledger's tables differ from the original");
            char integrity[512];
            if (fx.strict)
                FUZZ_CHECK(integrity_ok(fx.copy, integrity, sizeof integrity),
                           "verify says ok but integrity_check fails: %s", integrity);
        }
    }
    loyalty_close(l);
    return 0;
}
