/*
 * export.c - what leaves the ledger for auditors: the audit chain as JSON
 * Lines, and signed checkpoints of the chain head (text format and digest
 * in docs/AUDIT_FORMAT.md; the parsing side lives in verify.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static json_t *hex_string(const void *bytes, size_t length)
{
    char hex[2 * 64 + 1];
    if (length > 64)
        return NULL;
    sodium_bin2hex(hex, sizeof hex, bytes, length);
    return json_string(hex);
}

/* One exported line: the stored columns, binary ones in hex, the payload text as a string. */
static char *export_line(sqlite3_stmt *st)
{
    json_checks_reset();
    json_t *o = json_object();
    jset(o, "seq", json_integer(sqlite3_column_int64(st, 0)));
    jset(o, "ts_us", json_integer(sqlite3_column_int64(st, 1)));
    jset(o, "actor", json_string((const char *)sqlite3_column_text(st, 2)));
    jset(o, "action", json_string((const char *)sqlite3_column_text(st, 3)));
    const char *payload = (const char *)sqlite3_column_text(st, 4);
    jset(o, "payload", json_stringn(payload ? payload : "",
                                                   (size_t)sqlite3_column_bytes(st, 4)));
    jset(o, "prev", hex_string(sqlite3_column_blob(st, 5), (size_t)sqlite3_column_bytes(st, 5)));
    jset(o, "hash", hex_string(sqlite3_column_blob(st, 6), (size_t)sqlite3_column_bytes(st, 6)));
    jset(o, "key", json_string((const char *)sqlite3_column_text(st, 7)));
    jset(o, "sig", hex_string(sqlite3_column_blob(st, 8), (size_t)sqlite3_column_bytes(st, 8)));
    char *line = json_checks_failed() ? NULL : json_compact(o);
    json_decref(o);
    json_checks_reset();
    return line;
}

LOYALTY_API int loyalty_audit_export(loyalty_ledger *l, int64_t from_seq, loyalty_line_fn callback,
                                     void *context)
{
    static const char sql[] =
        "SELECT seq, ts_us, actor, action, payload, prev_hash, hash, key_id, sig"
        " FROM audit WHERE seq >= ? ORDER BY seq";
    if (callback == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "callback is required") : LOYALTY_ERR_MISUSE;
    int rc = read_begin_as(l, CAP_EXPORT);
    if (rc != LOYALTY_OK)
        return rc;
    if (from_seq < 1)
        rc = fail(l, LOYALTY_ERR_INVALID, "from must be a sequence number of 1 or more");
    sqlite3_stmt *st = rc == LOYALTY_OK ? stmt(l, sql) : NULL;
    if (rc == LOYALTY_OK && st == NULL)
        rc = l->error_code;
    if (rc == LOYALTY_OK) {
        sqlite3_bind_int64(st, 1, from_seq);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            char *line = export_line(st);
            if (line == NULL) {
                rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory exporting entry");
                break;
            }
            int stop = callback(context, line);
            free(line);
            if (stop)
                break;
        }
        if (rc == LOYALTY_OK && step != SQLITE_ROW && step != SQLITE_DONE)
            rc = fail_db(l, "reading audit entries");
    }
    read_end(l);
    return rc;
}

static void put_u64be(unsigned char out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* digest = BLAKE2b-256("loyalty-checkpoint-v1" 0x00 || u64be(seq) || i64be(ts_us) || hash) */
void checkpoint_digest(unsigned char out[HASH_BYTES], int64_t seq, int64_t ts_us,
                       const unsigned char hash[HASH_BYTES])
{
    static const char tag[] = "loyalty-checkpoint-v1";
    crypto_generichash_state state;
    unsigned char number[8];
    crypto_generichash_init(&state, NULL, 0, HASH_BYTES);
    crypto_generichash_update(&state, (const unsigned char *)tag, sizeof tag);
    put_u64be(number, (uint64_t)seq);
    crypto_generichash_update(&state, number, sizeof number);
    put_u64be(number, (uint64_t)ts_us);
    crypto_generichash_update(&state, number, sizeof number);
    crypto_generichash_update(&state, hash, HASH_BYTES);
    crypto_generichash_final(&state, out, HASH_BYTES);
}

static int read_head(loyalty_ledger *l, int64_t *seq, int64_t *ts_us, unsigned char hash[HASH_BYTES])
{
    static const char sql[] = "SELECT seq, ts_us, hash FROM audit ORDER BY seq DESC LIMIT 1";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    int step = sqlite3_step(st);
    int rc = LOYALTY_OK;
    if (step == SQLITE_ROW && sqlite3_column_bytes(st, 2) == HASH_BYTES) {
        *seq = sqlite3_column_int64(st, 0);
        *ts_us = sqlite3_column_int64(st, 1);
        memcpy(hash, sqlite3_column_blob(st, 2), HASH_BYTES);
    } else {
        rc = step == SQLITE_ROW || step == SQLITE_DONE
                 ? fail(l, LOYALTY_ERR_INTERNAL, "the audit chain has no usable head")
                 : fail_db(l, "reading the audit head");
    }
    sqlite3_reset(st);
    return rc;
}

static char *format_checkpoint(int64_t seq, int64_t ts_us, const unsigned char hash[HASH_BYTES],
                               const char *key_id, const unsigned char sig[crypto_sign_BYTES])
{
    char hash_hex[2 * HASH_BYTES + 1], sig_hex[2 * crypto_sign_BYTES + 1];
    sodium_bin2hex(hash_hex, sizeof hash_hex, hash, HASH_BYTES);
    sodium_bin2hex(sig_hex, sizeof sig_hex, sig, crypto_sign_BYTES);
    size_t size = 512;
    char *text = malloc(size);
    if (text)
        snprintf(text, size, "loyalty-checkpoint-v1\nseq %lld\nts_us %lld\nhash %s\nkey %s\nsig %s\n",
                 (long long)seq, (long long)ts_us, hash_hex, key_id, sig_hex);
    return text;
}

LOYALTY_API int loyalty_audit_checkpoint(loyalty_ledger *l, char **text_out)
{
    if (text_out == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "text_out is required") : LOYALTY_ERR_MISUSE;
    *text_out = NULL;
    int64_t seq = 0, ts_us = 0;
    unsigned char hash[HASH_BYTES], digest[HASH_BYTES], sig[crypto_sign_BYTES];
    int rc = read_begin_as(l, CAP_ADMIN);
    if (rc == LOYALTY_OK)
        rc = read_head(l, &seq, &ts_us, hash);
    if (rc == LOYALTY_OK)
        rc = keys_ensure_signing(l);
    if (rc == LOYALTY_OK) {
        checkpoint_digest(digest, seq, ts_us, hash);
        rc = keys_sign(l, digest, sig);
    }
    read_end(l);
    if (rc != LOYALTY_OK)
        return rc;
    *text_out = format_checkpoint(seq, ts_us, hash, l->key_id, sig);
    return *text_out ? LOYALTY_OK : fail(l, LOYALTY_ERR_NOMEM, "out of memory");
}
