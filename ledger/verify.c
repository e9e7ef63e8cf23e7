/*
 * verify.c - loyalty_verify: the auditor's check of a whole ledger, in one
 * read snapshot and in memory that does not grow with the ledger:
 *   1. the chain: seq 1, 2, 3... without gaps, each entry linking the
 *      previous hash, each hash recomputed from the entry's content;
 *   2. the signatures: each under the key in force (genesis key, or the
 *      trusted key which must be a key of the chain; rotations move it on);
 *   3. the checkpoint, if given: signed by the key in force at its seq and
 *      naming exactly that entry, which must exist;
 *   4. the schema: every table, index, trigger and view is the one the
 *      migrations create (compared with a scratch ledger's, before the walk);
 *   5. the state: every entry is re-executed on the scratch ledger in a
 *      temporary directory, and every table of the ledger is compared with
 *      the scratch one row by row.
 * Verification stops at the first failure and says where.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

typedef struct checkpoint {
    int present;
    int64_t seq;
    int64_t ts_us;
    unsigned char hash[HASH_BYTES];
    char key_id[LOYALTY_KEY_ID_HEX + 1];
    unsigned char sig[crypto_sign_BYTES];
} checkpoint;

typedef struct verifier {
    loyalty_ledger *l;         /* the ledger under audit */
    loyalty_ledger *scratch;   /* the replay ledger */
    char scratch_dir[4096];
    loyalty_verify_report *report;
    int have_trusted;
    int trusted_seen;
    unsigned char trusted[crypto_sign_PUBLICKEYBYTES];
    unsigned char key[crypto_sign_PUBLICKEYBYTES]; /* key in force */
    char key_id[LOYALTY_KEY_ID_HEX + 1];
    checkpoint cp;
    unsigned char prev_hash[HASH_BYTES];
    verify_pool *pool; /* checks signatures on other threads; NULL: checked inline */
} verifier;

static int hex_field(const char *hex, unsigned char *out, size_t size)
{
    size_t length = 0;
    return strlen(hex) == 2 * size &&
           sodium_hex2bin(out, size, hex, 2 * size, NULL, &length, NULL) == 0 && length == size;
}

/* Reads "<name> <value>\n" at *text exactly; advances past it. value gets the text. */
static int checkpoint_line(const char **text, const char *name, char *value, size_t size)
{
    size_t n = strlen(name);
    if (strncmp(*text, name, n) != 0 || (*text)[n] != ' ')
        return -1;
    const char *start = *text + n + 1, *end = strchr(start, '\n');
    if (end == NULL || end == start || (size_t)(end - start) >= size)
        return -1;
    memcpy(value, start, (size_t)(end - start));
    value[end - start] = '\0';
    *text = end + 1;
    return 0;
}

/* A decimal without sign or leading zero, at most 18 digits. */
static int parse_decimal(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || (s[0] == '0' && n > 1) || strspn(s, "0123456789") != n)
        return -1;
    *out = strtoll(s, NULL, 10);
    return 0;
}

static int lower_hex(const char *s, size_t length)
{
    return strlen(s) == length && strspn(s, "0123456789abcdef") == length;
}

/* Parses the checkpoint text of docs/AUDIT_FORMAT.md: exactly its six lines, nothing else. */
static int parse_checkpoint(const char *text, checkpoint *cp)
{
    static const char header[] = "loyalty-checkpoint-v1\n";
    char seq[32], ts[32], hash[2 * HASH_BYTES + 1], sig[2 * crypto_sign_BYTES + 1];
    if (strncmp(text, header, sizeof header - 1) != 0)
        return -1;
    text += sizeof header - 1;
    if (checkpoint_line(&text, "seq", seq, sizeof seq) != 0 ||
        checkpoint_line(&text, "ts_us", ts, sizeof ts) != 0 ||
        checkpoint_line(&text, "hash", hash, sizeof hash) != 0 ||
        checkpoint_line(&text, "key", cp->key_id, sizeof cp->key_id) != 0 ||
        checkpoint_line(&text, "sig", sig, sizeof sig) != 0 || *text != '\0')
        return -1;
    if (parse_decimal(seq, &cp->seq) != 0 || cp->seq < 1 || parse_decimal(ts, &cp->ts_us) != 0 ||
        !lower_hex(hash, 2 * HASH_BYTES) || !lower_hex(cp->key_id, LOYALTY_KEY_ID_HEX) ||
        !lower_hex(sig, 2 * crypto_sign_BYTES) || !hex_field(hash, cp->hash, HASH_BYTES) ||
        !hex_field(sig, cp->sig, crypto_sign_BYTES))
        return -1;
    cp->present = 1;
    return 0;
}

/* Records a failure at an entry (seq > 0) or in a table (table != NULL). */
static int verdict(verifier *v, int64_t seq, const char *table, const char *key, const char *reason)
{
    loyalty_verify_report *r = v->report;
    r->ok = 0;
    r->first_bad_seq = seq;
    snprintf(r->table, sizeof r->table, "%s", table ? table : "");
    snprintf(r->row_key, sizeof r->row_key, "%s", key ? key : "");
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    if (seq > 0)
        return fail(v->l, LOYALTY_ERR_VERIFY, "entry %lld: %s", (long long)seq, reason);
    if (table)
        return fail(v->l, LOYALTY_ERR_VERIFY, "table %s, row %s: %s", table, key, reason);
    return fail(v->l, LOYALTY_ERR_VERIFY, "%s", reason);
}

/* --- the scratch ledger -------------------------------------------------- */

static int scratch_open(verifier *v)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(v->scratch_dir, sizeof v->scratch_dir, "%s/loyalty-verify-XXXXXX",
             tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(v->scratch_dir) == NULL) {
        v->scratch_dir[0] = '\0';
        return fail(v->l, LOYALTY_ERR_STORAGE, "cannot make a scratch directory for the replay");
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/replay.db", v->scratch_dir);
    loyalty_open_options options = {.db_path = path};
    int rc = db_open_handle(&v->scratch, &options);
    if (rc != LOYALTY_OK)
        return fail(v->l, rc, "cannot prepare the replay");
    if (sqlite3_open_v2(path, &v->scratch->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        vfs_name()) !=
        SQLITE_OK)
        return fail(v->l, LOYALTY_ERR_STORAGE, "cannot create the replay database");
    /* A scratch copy: no journal, no fsync; it is thrown away afterwards. */
    rc = db_exec(v->scratch, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                             " PRAGMA foreign_keys = ON; BEGIN");
    if (rc == LOYALTY_OK)
        rc = migrate_apply_all(v->scratch);
    if (rc != LOYALTY_OK)
        return fail(v->l, rc, "cannot prepare the replay: %s", v->scratch->errmsg);
    return LOYALTY_OK;
}

static void scratch_close(verifier *v)
{
    char path[4200];
    loyalty_close(v->scratch);
    v->scratch = NULL;
    if (v->scratch_dir[0] == '\0')
        return;
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s/replay.db%s", v->scratch_dir, suffixes[i]);
        unlink(path);
    }
    rmdir(v->scratch_dir);
}

/* --- the chain ----------------------------------------------------------- */

/* Follows genesis and rotations: the key in force after this entry. */
static int take_key(verifier *v, const audit_row *e)
{
    if (strcmp(e->action, "genesis") != 0 && strcmp(e->action, "key_rotate") != 0)
        return LOYALTY_OK;
    json_error_t error;
    int out_of_memory;
    json_t *payload = json_parse(e->payload, 0, &error, &out_of_memory);
    if (out_of_memory)
        return fail(v->l, LOYALTY_ERR_NOMEM, "out of memory reading a key entry");
    const char *hex = json_string_value(json_object_get(payload, "public_key"));
    int ok = hex && hex_field(hex, v->key, sizeof v->key);
    json_decref(payload);
    if (!ok)
        return verdict(v, e->seq, NULL, NULL, "names no valid public key");
    key_id_of(v->key, v->key_id);
    return LOYALTY_OK;
}

static int check_link_and_signature(verifier *v, const audit_row *e, int64_t expected_seq,
                                    size_t payload_length)
{
    char reason[160];
    if (e->seq != expected_seq) {
        if (e->seq < expected_seq) /* seq 0, a negative one, or a duplicate */
            snprintf(reason, sizeof reason, "an entry numbered %lld stands where entry %lld belongs",
                     (long long)e->seq, (long long)expected_seq);
        else
            snprintf(reason, sizeof reason, "entry %lld is missing (next entry is %lld)",
                     (long long)expected_seq, (long long)e->seq);
        return verdict(v, expected_seq, NULL, NULL, reason);
    }
    if (sodium_memcmp(e->prev_hash, v->prev_hash, HASH_BYTES) != 0)
        return verdict(v, e->seq, NULL, NULL, "does not link to the previous entry's hash");
    unsigned char hash[HASH_BYTES];
    audit_entry_hash(hash, e->seq, e->ts_us, e->actor, e->action, e->payload, payload_length,
                     e->prev_hash);
    if (sodium_memcmp(hash, e->hash, HASH_BYTES) != 0)
        return verdict(v, e->seq, NULL, NULL, "hash does not match the entry's content");
    if (e->seq == 1) {
        if (strcmp(e->action, "genesis") != 0)
            return verdict(v, 1, NULL, NULL, "the first entry is not a genesis entry");
        int rc = take_key(v, e); /* genesis is signed by the key it names */
        if (rc != LOYALTY_OK)
            return rc;
    }
    if (strcmp(e->key_id, v->key_id) != 0) {
        snprintf(reason, sizeof reason, "signed with key '%.64s' but key %s is in force", e->key_id,
                 v->key_id);
        return verdict(v, e->seq, NULL, NULL, reason);
    }
    if (v->pool)
        verify_pool_submit(v->pool, e->seq, e->hash, e->sig, v->key);
    else if (crypto_sign_verify_detached(e->sig, e->hash, HASH_BYTES, v->key) != 0)
        return verdict(v, e->seq, NULL, NULL, "signature does not verify");
    /* A trusted key counts only once it has signed an entry: merely being named proves nothing. */
    if (v->have_trusted && memcmp(v->key, v->trusted, sizeof v->key) == 0)
        v->trusted_seen = 1;
    return e->seq == 1 ? LOYALTY_OK : take_key(v, e);
}

static int check_checkpoint_at(verifier *v, const audit_row *e)
{
    if (!v->cp.present || v->cp.seq != e->seq)
        return LOYALTY_OK;
    unsigned char digest[HASH_BYTES];
    checkpoint_digest(digest, v->cp.seq, v->cp.ts_us, v->cp.hash);
    if (sodium_memcmp(v->cp.hash, e->hash, HASH_BYTES) != 0 || v->cp.ts_us != e->ts_us)
        return verdict(v, e->seq, NULL, NULL, "differs from the checkpoint taken at this entry");
    if (strcmp(v->cp.key_id, v->key_id) != 0 ||
        crypto_sign_verify_detached(v->cp.sig, digest, HASH_BYTES, v->key) != 0)
        return verdict(v, e->seq, NULL, NULL, "the checkpoint's signature does not verify");
    return LOYALTY_OK;
}

/* Fills an audit_row from the current row; returns the payload length or -1. */
static long read_entry(sqlite3_stmt *st, audit_row *e)
{
    e->seq = sqlite3_column_int64(st, 0);
    e->ts_us = sqlite3_column_int64(st, 1);
    e->actor = (const char *)sqlite3_column_text(st, 2);
    e->action = (const char *)sqlite3_column_text(st, 3);
    e->payload = (const char *)sqlite3_column_text(st, 4);
    long payload_length = sqlite3_column_bytes(st, 4);
    const void *prev_hash = sqlite3_column_blob(st, 5);
    const void *hash = sqlite3_column_blob(st, 6);
    e->key_id = (const char *)sqlite3_column_text(st, 7);
    const void *sig = sqlite3_column_blob(st, 8);
    if (!e->actor || !e->action || !e->payload || !e->key_id || !prev_hash || !hash || !sig ||
        sqlite3_column_bytes(st, 5) != HASH_BYTES || sqlite3_column_bytes(st, 6) != HASH_BYTES ||
        sqlite3_column_bytes(st, 8) != crypto_sign_BYTES ||
        strlen(e->payload) != (size_t)payload_length ||
        /* a NUL inside a text would hide the bytes after it from the hash and every compare */
        strlen(e->actor) != (size_t)sqlite3_column_bytes(st, 2) ||
        strlen(e->action) != (size_t)sqlite3_column_bytes(st, 3) ||
        strlen(e->key_id) != (size_t)sqlite3_column_bytes(st, 7))
        return -1;
    memcpy(e->prev_hash, prev_hash, HASH_BYTES);
    memcpy(e->hash, hash, HASH_BYTES);
    memcpy(e->sig, sig, crypto_sign_BYTES);
    return payload_length;
}

static int check_entry(verifier *v, sqlite3_stmt *st, int64_t expected_seq)
{
    audit_row e;
    long payload_length = read_entry(st, &e);
    if (payload_length < 0 && (sqlite3_errcode(v->l->db) & 0xff) == SQLITE_NOMEM)
        return fail(v->l, LOYALTY_ERR_NOMEM, "out of memory reading the audit chain");
    if (payload_length < 0)
        return verdict(v, sqlite3_column_int64(st, 0), NULL, NULL, "entry has a malformed column");
    if (!valid_actor(e.actor))
        return verdict(v, e.seq, NULL, NULL, "the actor is not a valid operator name");
    /* The replay computes expiries and periods from it, within the clock's range. */
    if (e.ts_us < 0 || e.ts_us > LIMIT_NOW_US_MAX)
        return verdict(v, e.seq, NULL, NULL, "the time is outside 1970 to 9999");
    int rc = check_link_and_signature(v, &e, expected_seq, (size_t)payload_length);
    if (rc != LOYALTY_OK)
        return rc;
    rc = replay_entry(v->scratch, &e);
    if (rc == LOYALTY_ERR_VERIFY) {
        char reason[256];
        snprintf(reason, sizeof reason, "re-executing the %.24s entry fails: %.160s", e.action,
                 v->scratch->errmsg);
        return verdict(v, e.seq, NULL, NULL, reason);
    }
    if (rc != LOYALTY_OK)
        return fail(v->l, rc, "replay: %s", v->scratch->errmsg);
    rc = check_checkpoint_at(v, &e);
    memcpy(v->prev_hash, e.hash, HASH_BYTES);
    v->report->entries++;
    v->report->head_seq = e.seq;
    sodium_bin2hex(v->report->head_hash, sizeof v->report->head_hash, e.hash, HASH_BYTES);
    return rc;
}

static int check_chain(verifier *v)
{
    static const char sql[] =
        "SELECT seq, ts_us, actor, action, payload, prev_hash, hash, key_id, sig FROM audit ORDER BY seq";
    sqlite3_stmt *st = stmt(v->l, sql);
    if (st == NULL)
        return v->l->error_code;
    int rc = LOYALTY_OK, step;
    int64_t expected = 1;
    while (rc == LOYALTY_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = check_entry(v, st, expected++);
    if (rc == LOYALTY_OK && step != SQLITE_DONE)
        rc = fail_db(v->l, "reading the audit chain");
    sqlite3_reset(st);
    if (rc != LOYALTY_OK)
        return rc;
    if (v->report->entries == 0)
        return verdict(v, 1, NULL, NULL, "the audit chain is empty");
    if (v->cp.present && v->cp.seq > v->report->head_seq) {
        char reason[160];
        snprintf(reason, sizeof reason, "the chain ends at entry %lld but the checkpoint names entry %lld:"
                 " entries were removed", (long long)v->report->head_seq, (long long)v->cp.seq);
        return verdict(v, v->report->head_seq + 1, NULL, NULL, reason);
    }
    if (v->have_trusted && !v->trusted_seen)
        return verdict(v, 1, NULL, NULL, "the trusted public key is not a key of this chain");
    return LOYALTY_OK;
}

/* Collects the signature checks; a bad signature earlier than any other finding wins. */
static int signatures_checked(verifier *v, int rc)
{
    int64_t first_bad = verify_pool_finish(v->pool);
    v->pool = NULL;
    if (first_bad == 0 || (rc != LOYALTY_OK && rc != LOYALTY_ERR_VERIFY))
        return rc;
    if (rc == LOYALTY_ERR_VERIFY && v->report->first_bad_seq > 0 &&
        v->report->first_bad_seq < first_bad)
        return rc;
    return verdict(v, first_bad, NULL, NULL, "signature does not verify");
}

/* The file itself: every page and index consistent (SQLite's own check). */
static int check_file(verifier *v)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(v->l->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return fail_db(v->l, "checking the database file");
    }
    int64_t read_errors = vfs_read_errors(v->l->db);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW && (sqlite3_errcode(v->l->db) & 0xff) != SQLITE_CORRUPT &&
        (sqlite3_errcode(v->l->db) & 0xff) != SQLITE_NOTADB) {
        sqlite3_finalize(st);
        return fail_db(v->l, "checking the database file");
    }
    const char *first = step == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    char reason[200];
    int ok = first && strcmp(first, "ok") == 0;
    /* A page that could not be read (I/O error, memory) is reported as a row, not as
     * an error: that is a failure to check, not a damaged file. Some rows carry the
     * error code; "failed to get page N" does not, so failed reads are also counted
     * by the VFS. */
    if (!ok && first &&
        (strstr(first, "error code=") || strstr(first, "out of memory") ||
         vfs_read_errors(v->l->db) != read_errors)) {
        int rc = fail(v->l, strstr(first, "out of memory") ? LOYALTY_ERR_NOMEM : LOYALTY_ERR_STORAGE,
                      "cannot check the database file: %.150s", first);
        sqlite3_finalize(st);
        return rc;
    }
    if (!ok)
        snprintf(reason, sizeof reason, "the database file is damaged: %.150s",
                 first ? first : sqlite3_errmsg(v->l->db));
    sqlite3_finalize(st);
    return ok ? LOYALTY_OK : verdict(v, 0, NULL, NULL, reason);
}

LOYALTY_API int loyalty_verify(loyalty_ledger *l, const char *trusted_public_key_hex,
                               const char *checkpoint_text, loyalty_verify_report *report)
{
    if (report == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "report is required") : LOYALTY_ERR_MISUSE;
    memset(report, 0, sizeof *report);
    verifier *v = calloc(1, sizeof *v);
    if (v == NULL)
        return l ? fail(l, LOYALTY_ERR_NOMEM, "out of memory") : LOYALTY_ERR_NOMEM;
    v->l = l;
    v->report = report;
    int rc = read_begin(l);
    if (rc == LOYALTY_OK && trusted_public_key_hex) {
        v->have_trusted = 1;
        if (!hex_field(trusted_public_key_hex, v->trusted, sizeof v->trusted))
            rc = fail(l, LOYALTY_ERR_INVALID, "the trusted public key must be %d hex characters",
                      LOYALTY_PUBLIC_KEY_HEX);
    }
    if (rc == LOYALTY_OK && checkpoint_text && parse_checkpoint(checkpoint_text, &v->cp) != 0)
        rc = fail(l, LOYALTY_ERR_INVALID, "the checkpoint is malformed (see docs/AUDIT_FORMAT.md)");
    char cache_sql[64];
    snprintf(cache_sql, sizeof cache_sql, "PRAGMA cache_size = -%d", LIMIT_VERIFY_CACHE_KIB);
    if (rc == LOYALTY_OK)
        rc = db_exec(l, cache_sql);
    if (rc == LOYALTY_OK)
        rc = check_file(v);
    if (rc == LOYALTY_OK)
        rc = scratch_open(v);
    if (rc == LOYALTY_OK)
        rc = verify_schema(l, v->scratch, report);
    if (rc == LOYALTY_OK) {
        v->pool = verify_pool_start();
        rc = check_chain(v);
        rc = signatures_checked(v, rc);
    }
    if (rc == LOYALTY_OK)
        rc = verify_tables(l, v->scratch, report);
    if (rc == LOYALTY_ERR_VERIFY && report->reason[0] == '\0')
        snprintf(report->reason, sizeof report->reason, "%.255s", l->errmsg);
    report->ok = rc == LOYALTY_OK;
    read_end(l);
    snprintf(cache_sql, sizeof cache_sql, "PRAGMA cache_size = -%d", LIMIT_CACHE_KIB);
    if (l != NULL && l->db != NULL) /* back to the handle's own size */
        sqlite3_exec(l->db, cache_sql, NULL, NULL, NULL);
    scratch_close(v);
    free(v);
    return rc;
}
