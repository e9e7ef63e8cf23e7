/*
 * fuzz_checkpoint.c - libFuzzer target for the checkpoint parser and the
 * trusted public key parser of loyalty_verify, on a small ledger prepared
 * once per process (two signing keys: a rotation sits in the middle).
 *
 * Input layout: [modes][key index][checkpoint index][key length] key-part
 * checkpoint-part. Each part is, by its mode (2 bits each in `modes`):
 *   0  absent (NULL),
 *   1  raw text,
 *   2  a genuine text (the public key of the chain named by key index; the
 *      checkpoint taken at the entry named by checkpoint index) edited by
 *      the part's bytes, read as 3-byte edits [op:2 bits|position:14 bits]
 *      [value]: replace, insert, delete or flip the case of one character.
 * Mode 2 keeps inputs meaningful although every process makes its own key.
 *
 * Properties:
 *   - the result is LOYALTY_OK, LOYALTY_ERR_VERIFY or LOYALTY_ERR_INVALID;
 *     the report's ok agrees with the result;
 *   - an accepted checkpoint names an entry of the chain with its ts_us and
 *     hash, and its signature verifies (checked here with libsodium, from
 *     the database read directly) under the key in force after that entry;
 *   - an accepted trusted key is one of the chain's keys;
 *   - unless LOYALTY_FUZZ_STRICT=0 in the environment: an accepted checkpoint
 *     is byte for byte the text loyalty_audit_checkpoint printed (the format
 *     of docs/AUDIT_FORMAT.md §9: "exactly six lines").
 */
#include <sodium.h>
#include <sqlite3.h>

#include "fuzz_common.h"

#define MAX_ENTRIES 64
#define MAX_KEYS 4

typedef struct entry {
    int64_t ts_us;
    unsigned char hash[32];
    char *checkpoint; /* the genuine checkpoint text taken with this entry at the head, or NULL */
} entry;

static struct {
    loyalty_ledger *ledger;
    char db_path[FUZZ_PATH_BYTES];
    int64_t head;
    entry entries[MAX_ENTRIES + 1]; /* by seq */
    int key_count;
    unsigned char keys[MAX_KEYS][crypto_sign_PUBLICKEYBYTES];
    int64_t key_from[MAX_KEYS];
    char key_hex[MAX_KEYS][65];
    char key_id[MAX_KEYS][17];
    int strict;
} fx;

static void close_fixture(void)
{
    loyalty_close(fx.ledger);
    fx.ledger = NULL;
    for (int i = 0; i <= MAX_ENTRIES; i++) {
        loyalty_free(fx.entries[i].checkpoint);
        fx.entries[i].checkpoint = NULL;
    }
}

/* After each step: a checkpoint of the new head. */
static void take_checkpoint(void)
{
    char *text = NULL;
    fuzz_setup_ok(fx.ledger, loyalty_audit_checkpoint(fx.ledger, &text), "checkpoint");
    long long seq = 0;
    if (sscanf(text, "loyalty-checkpoint-v1\nseq %lld", &seq) != 1 || seq < 1 || seq > MAX_ENTRIES)
        abort();
    loyalty_free(fx.entries[seq].checkpoint);
    fx.entries[seq].checkpoint = text;
}

static void build_history(void)
{
    loyalty_ledger *l = fx.ledger;
    loyalty_posting p;
    take_checkpoint();
    fuzz_setup_ok(l, loyalty_member_add(l, "m1", NULL, NULL), "member add");
    take_checkpoint();
    loyalty_award_request award = {.member = "m1", .ref = "a1", .amount_minor = 12999};
    fuzz_setup_ok(l, loyalty_award(l, &award, &p), "award");
    take_checkpoint();
    fuzz_setup_ok(l, loyalty_key_rotate(l, NULL, NULL), "key rotate");
    take_checkpoint();
    loyalty_redeem_request redeem = {.member = "m1", .ref = "r1", .points = 40};
    fuzz_setup_ok(l, loyalty_redeem(l, &redeem, &p), "redeem");
    take_checkpoint();
    loyalty_adjust_request adjust = {.member = "m1", .ref = "j1", .points = -3, .reason = "fix"};
    fuzz_setup_ok(l, loyalty_adjust(l, &adjust, &p), "adjust");
    take_checkpoint();
}

/* Reads the chain and the keys straight from the database, not through the library. */
static void read_chain(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(fx.db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT seq, ts_us, hash FROM audit ORDER BY seq", -1, &st, NULL) !=
            SQLITE_OK)
        abort();
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        if (seq != fx.head + 1 || seq > MAX_ENTRIES || sqlite3_column_bytes(st, 2) != 32)
            abort();
        fx.head = seq;
        fx.entries[seq].ts_us = sqlite3_column_int64(st, 1);
        memcpy(fx.entries[seq].hash, sqlite3_column_blob(st, 2), 32);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT public_key, from_seq, key_id FROM signing_keys ORDER BY from_seq",
                           -1, &st, NULL) != SQLITE_OK)
        abort();
    while (sqlite3_step(st) == SQLITE_ROW && fx.key_count < MAX_KEYS) {
        int k = fx.key_count++;
        if (sqlite3_column_bytes(st, 0) != crypto_sign_PUBLICKEYBYTES)
            abort();
        memcpy(fx.keys[k], sqlite3_column_blob(st, 0), crypto_sign_PUBLICKEYBYTES);
        fx.key_from[k] = sqlite3_column_int64(st, 1);
        sodium_bin2hex(fx.key_hex[k], sizeof fx.key_hex[k], fx.keys[k], crypto_sign_PUBLICKEYBYTES);
        snprintf(fx.key_id[k], sizeof fx.key_id[k], "%s", (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (fx.key_count != 2 || fx.head < 5)
        abort();
}

static void setup(void)
{
    if (fx.ledger != NULL)
        return;
    if (sodium_init() < 0)
        abort();
    fuzz_path(fx.db_path, fuzz_scratch_dir(), "checkpoint.ledger");
    fx.ledger = fuzz_create_ledger(fx.db_path, NULL);
    build_history();
    read_chain();
    /* Strict checks are on unless LOYALTY_FUZZ_STRICT=0 (both findings they caught are fixed). */
    const char *strict = getenv("LOYALTY_FUZZ_STRICT");
    fx.strict = strict == NULL || strcmp(strict, "0") != 0;
    atexit(close_fixture);
}

/* Applies 3-byte edits to a copy of base; returns a malloc'd text. */
static char *edited(const char *base, const uint8_t *edits, size_t size)
{
    size_t length = strlen(base), capacity = length + size / 3 + 1;
    char *text = malloc(capacity);
    if (text == NULL)
        abort();
    memcpy(text, base, length + 1);
    for (size_t i = 0; i + 3 <= size; i += 3) {
        unsigned op = edits[i] >> 6;
        size_t at = ((size_t)(edits[i] & 0x3f) << 8 | edits[i + 1]) % (length + 1);
        char value = (char)edits[i + 2];
        if (op == 0 && at < length && value != '\0') {
            text[at] = value;
        } else if (op == 1 && value != '\0') {
            memmove(text + at + 1, text + at, length - at + 1);
            text[at] = value;
            length++;
        } else if (op == 2 && at < length) {
            memmove(text + at, text + at + 1, length - at);
            length--;
        } else if (op == 3 && at < length) {
            char c = text[at];
            text[at] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
    }
    return text;
}

/* The part's text by its mode, or NULL when absent. */
static char *part_text(unsigned mode, const char *genuine, const uint8_t *bytes, size_t size)
{
    if (mode == 0)
        return NULL;
    if (mode == 1)
        return fuzz_text(bytes, size);
    return edited(genuine, bytes, size);
}

static int key_index_of(const char *hex)
{
    unsigned char key[crypto_sign_PUBLICKEYBYTES];
    size_t length = 0;
    if (strlen(hex) != 64 || sodium_hex2bin(key, sizeof key, hex, 64, NULL, &length, NULL) != 0)
        return -1;
    for (int k = 0; k < fx.key_count; k++)
        if (memcmp(key, fx.keys[k], sizeof key) == 0)
            return k;
    return -1;
}

/* The key in force after entry seq: the last one whose from_seq is at most seq + 1. */
static int key_after(int64_t seq)
{
    int found = -1;
    for (int k = 0; k < fx.key_count; k++)
        if (fx.key_from[k] <= seq + 1)
            found = k;
    return found;
}

/* An accepted checkpoint, checked independently of the library's verifier. */
static void check_accepted_checkpoint(const char *text)
{
    long long seq = 0, ts_us = 0;
    char hash_hex[80] = "", key_id[40] = "", sig_hex[160] = "";
    int fields = sscanf(text, "loyalty-checkpoint-v1 seq %lld ts_us %lld hash %79s key %39s sig %159s",
                        &seq, &ts_us, hash_hex, key_id, sig_hex);
    FUZZ_CHECK(fields == 5, "accepted checkpoint does not read back: %s", text);
    FUZZ_CHECK(seq >= 1 && seq <= fx.head, "accepted checkpoint names entry %lld of %lld", seq,
               (long long)fx.head);
    const entry *e = &fx.entries[seq];
    unsigned char hash[32], sig[crypto_sign_BYTES];
    size_t length = 0;
    FUZZ_CHECK(sodium_hex2bin(hash, sizeof hash, hash_hex, strlen(hash_hex), NULL, &length, NULL) == 0 &&
                   length == sizeof hash && memcmp(hash, e->hash, sizeof hash) == 0,
               "accepted checkpoint has another hash than entry %lld", seq);
    FUZZ_CHECK(ts_us == e->ts_us, "accepted checkpoint has another ts_us than entry %lld", seq);
    int k = key_after(seq);
    FUZZ_CHECK(k >= 0 && strcmp(key_id, fx.key_id[k]) == 0, "accepted checkpoint names key %s", key_id);
    FUZZ_CHECK(sodium_hex2bin(sig, sizeof sig, sig_hex, strlen(sig_hex), NULL, &length, NULL) == 0 &&
                   length == sizeof sig,
               "accepted checkpoint has a malformed signature");
    /* digest = BLAKE2b-256("loyalty-checkpoint-v1" 0x00 u64be(seq) i64be(ts_us) hash) */
    unsigned char message[22 + 8 + 8 + 32], digest[32];
    memcpy(message, "loyalty-checkpoint-v1", 22);
    for (int i = 0; i < 8; i++) {
        message[22 + i] = (unsigned char)((uint64_t)seq >> (56 - 8 * i));
        message[30 + i] = (unsigned char)((uint64_t)ts_us >> (56 - 8 * i));
    }
    memcpy(message + 38, hash, 32);
    crypto_generichash(digest, sizeof digest, message, sizeof message, NULL, 0);
    FUZZ_CHECK(crypto_sign_verify_detached(sig, digest, sizeof digest, fx.keys[k]) == 0,
               "accepted checkpoint's signature does not verify under key %s", fx.key_id[k]);
    if (fx.strict)
        FUZZ_CHECK(e->checkpoint != NULL && strcmp(text, e->checkpoint) == 0,
                   "a checkpoint text other than the documented format is accepted:\n%s", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 4)
        return 0;
    unsigned key_mode = data[0] & 3, checkpoint_mode = (data[0] >> 2) & 3;
    int key_pick = data[1] % fx.key_count;
    int64_t seq_pick = 1 + data[2] % fx.head;
    size_t key_length = data[3] < size - 4 ? data[3] : size - 4;
    const uint8_t *key_bytes = data + 4, *checkpoint_bytes = data + 4 + key_length;
    size_t checkpoint_length = size - 4 - key_length;
    const char *genuine_checkpoint = fx.entries[seq_pick].checkpoint;
    if (genuine_checkpoint == NULL)
        genuine_checkpoint = fx.entries[fx.head].checkpoint;
    char *key = part_text(key_mode == 3 ? 2 : key_mode, fx.key_hex[key_pick], key_bytes, key_length);
    char *checkpoint = part_text(checkpoint_mode == 3 ? 2 : checkpoint_mode, genuine_checkpoint,
                                 checkpoint_bytes, checkpoint_length);

    loyalty_verify_report report;
    int rc = loyalty_verify(fx.ledger, key, checkpoint, &report);
    FUZZ_CHECK(rc == LOYALTY_OK || rc == LOYALTY_ERR_VERIFY || rc == LOYALTY_ERR_INVALID,
               "unexpected result %s: %s", loyalty_result_name(rc), loyalty_errmsg(fx.ledger));
    FUZZ_CHECK(report.ok == (rc == LOYALTY_OK), "report.ok %d with result %s", report.ok,
               loyalty_result_name(rc));
    FUZZ_TRACE("key %s, checkpoint %s: %s %s\n", key ? "given" : "none",
               checkpoint ? "given" : "none", loyalty_result_name(rc), loyalty_errmsg(fx.ledger));
    if (rc != LOYALTY_OK)
        FUZZ_CHECK(loyalty_errmsg(fx.ledger)[0] != '\0', "refused without a message");
    if (rc == LOYALTY_OK) {
        FUZZ_CHECK(report.entries == fx.head && report.head_seq == fx.head,
                   "report of %lld entries", (long long)report.entries);
        if (key != NULL)
            FUZZ_CHECK(key_index_of(key) >= 0, "a trusted key outside the chain is accepted: %s", key);
        if (checkpoint != NULL)
            check_accepted_checkpoint(checkpoint);
    }
    free(key);
    free(checkpoint);
    return 0;
}
