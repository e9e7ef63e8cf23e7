/*
 * audit.c - appending to the audit chain. Every state change calls
 * audit_append() exactly once inside its write transaction: the payload is
 * serialised once to compact JSON (those bytes are what is hashed and
 * stored, never re-serialised), hashed with the chain's previous hash
 * (BLAKE2b-256) and signed (Ed25519). The byte layout is the contract of
 * docs/AUDIT_FORMAT.md.
 */
#include <string.h>

#include "internal.h"

static const char domain_tag[] = "loyalty-audit-v1"; /* hashed with its NUL */

static void put_u64be(unsigned char out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static void hash_lp(crypto_generichash_state *state, const void *data, size_t length)
{
    unsigned char prefix[4] = {(unsigned char)(length >> 24), (unsigned char)(length >> 16),
                               (unsigned char)(length >> 8), (unsigned char)length};
    crypto_generichash_update(state, prefix, sizeof prefix);
    crypto_generichash_update(state, data, length);
}

/* hash = BLAKE2b-256(tag 0x00 || u64be seq || i64be ts || lp(actor) || lp(action) || lp(payload) || prev) */
void audit_entry_hash(unsigned char out[HASH_BYTES], int64_t seq, int64_t ts_us,
                      const char *actor, const char *action, const char *payload,
                      size_t payload_length, const unsigned char prev_hash[HASH_BYTES])
{
    crypto_generichash_state state;
    unsigned char number[8];
    crypto_generichash_init(&state, NULL, 0, HASH_BYTES);
    crypto_generichash_update(&state, (const unsigned char *)domain_tag, sizeof domain_tag);
    put_u64be(number, (uint64_t)seq);
    crypto_generichash_update(&state, number, sizeof number);
    put_u64be(number, (uint64_t)ts_us);
    crypto_generichash_update(&state, number, sizeof number);
    hash_lp(&state, actor, strlen(actor));
    hash_lp(&state, action, strlen(action));
    hash_lp(&state, payload, payload_length);
    crypto_generichash_update(&state, prev_hash, HASH_BYTES);
    crypto_generichash_final(&state, out, HASH_BYTES);
}

/*
 * Building payloads: jansson reports a failed allocation by returning NULL or
 * -1, and json_object_set_new() silently drops a NULL value. A payload with
 * a field missing must never be signed, so every payload and canonical
 * document is built through these, which remember any failure on this
 * thread until the next write operation starts; audit_append() refuses to
 * sign after one.
 */
static _Thread_local int json_broken;

void json_checks_reset(void)
{
    json_broken = 0;
}

int json_checks_failed(void)
{
    return json_broken;
}

void jset(json_t *object, const char *key, json_t *value)
{
    if (object == NULL || value == NULL || json_object_set_new(object, key, value) != 0) {
        json_broken = 1;
        if (object == NULL)
            json_decref(value);
    }
}

void jappend(json_t *array, json_t *value)
{
    if (array == NULL || value == NULL || json_array_append_new(array, value) != 0) {
        json_broken = 1;
        if (array == NULL)
            json_decref(value);
    }
}

void jupdate(json_t *object, json_t *other)
{
    if (object == NULL || other == NULL || json_object_update(object, other) != 0)
        json_broken = 1;
}

/* Compact JSON with fields in insertion order; NULL when value is NULL or memory ran out. */
char *json_compact(const json_t *value)
{
    if (value == NULL)
        return NULL;
    /* Not json_dumps: jansson 2.14 ignores a failed buffer append while it writes an
     * object key and returns the damaged text as a success. json_dumpb writes into a
     * buffer sized here, whose writes cannot fail, and reports any other failure. */
    const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;
    char small[1024]; /* most payloads fit: one pass */
    size_t size = json_dumpb(value, small, sizeof small, flags);
    if (size == 0 || size == SIZE_MAX)
        return NULL;
    char *text = malloc(size + 1);
    if (text == NULL)
        return NULL;
    if (size <= sizeof small)
        memcpy(text, small, size);
    else if (json_dumpb(value, text, size, flags) != size) {
        free(text);
        return NULL;
    }
    text[size] = '\0';
    return text;
}

/* Inserts one audit row; rc LOYALTY_OK or a storage error. */
int audit_insert_row(loyalty_ledger *l, const audit_row *row)
{
    static const char sql[] =
        "INSERT INTO audit (seq, ts_us, actor, action, payload, prev_hash, hash, key_id, sig)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, row->seq);
    sqlite3_bind_int64(st, 2, row->ts_us);
    sqlite3_bind_text(st, 3, row->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, row->action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, row->payload, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, row->prev_hash, HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, row->hash, HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, row->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, row->sig, crypto_sign_BYTES, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "appending audit entry");
    sqlite3_reset(st);
    return rc;
}

/* In replay mode: the re-executed entry must be the signed one, byte for byte. */
static int check_replayed(loyalty_ledger *l, const char *action, const char *payload,
                          const unsigned char hash[HASH_BYTES])
{
    const audit_row *src = l->replay;
    if (src->seq != l->next_seq)
        return fail(l, LOYALTY_ERR_VERIFY, "entry %lld: replay reached seq %lld",
                    (long long)src->seq, (long long)l->next_seq);
    if (strcmp(src->action, action) != 0 || strcmp(src->payload, payload) != 0)
        return fail(l, LOYALTY_ERR_VERIFY,
                    "entry %lld: re-executing the %s entry gives another payload: %.160s",
                    (long long)src->seq, src->action, payload);
    if (sodium_memcmp(src->hash, hash, HASH_BYTES) != 0)
        return fail(l, LOYALTY_ERR_VERIFY, "entry %lld: hash does not match its content",
                    (long long)src->seq);
    return LOYALTY_OK;
}

/* Appends the operation's audit entry. Takes ownership of payload. */
int audit_append(loyalty_ledger *l, const char *action, json_t *payload)
{
    char *text = json_checks_failed() ? NULL : json_compact(payload);
    json_decref(payload);
    json_checks_reset();
    if (text == NULL)
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory building the audit payload");
    if (l->entries_written != 0) {
        free(text);
        return fail(l, LOYALTY_ERR_INTERNAL, "an operation tried to write a second audit entry");
    }
    audit_row row = {.seq = l->next_seq,
                     .ts_us = l->op_now_us,
                     .actor = l->op_actor,
                     .action = action,
                     .payload = text,
                     .key_id = l->key_id};
    memcpy(row.prev_hash, l->prev_hash, HASH_BYTES);
    audit_entry_hash(row.hash, row.seq, row.ts_us, row.actor, action, text, strlen(text),
                     l->prev_hash);
    int rc;
    if (l->replay) {
        /* verify: the entry must be the signed one. It is not copied into the
         * replay ledger: the chain walk has checked every stored column of every
         * entry, so verify_tables() has nothing left to compare in it. */
        rc = check_replayed(l, action, text, row.hash);
    } else if (l->signer) {
        /* Signed on the batch's signer thread, which keeps the row (and the payload)
         * and stores it once signed, before the batch commits. */
        rc = signer_submit(l->signer, &row) == 0
                 ? LOYALTY_OK
                 : fail(l, LOYALTY_ERR_INTERNAL, "a batch wrote more entries than operations");
        if (rc == LOYALTY_OK)
            text = NULL;
    } else {
        rc = keys_sign(l, row.hash, row.sig);
        if (rc == LOYALTY_OK)
            rc = audit_insert_row(l, &row);
    }
    free(text);
    if (rc != LOYALTY_OK)
        return rc;
    l->entries_written++;
    l->next_seq++;
    memcpy(l->prev_hash, row.hash, HASH_BYTES);
    return LOYALTY_OK;
}
