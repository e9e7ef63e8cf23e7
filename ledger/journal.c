/*
 * journal.c - the postings that change a member's points: award (purchase
 * or bonus), redeem, adjust and reverse. Each is idempotent by (kind, ref):
 * a request fingerprint tells a replay (same parameters: the original result
 * comes back) from a conflict (other parameters). Each writes one journal
 * row, moves lots, updates the cached balance and appends one audit entry
 * whose payload carries the member and the signed points delta.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define KIND_AWARD "award"
#define KIND_REDEEM "redeem"
#define KIND_ADJUST "adjust"
#define KIND_REVERSE "reverse"

/* --- request fingerprints ------------------------------------------------ */

typedef struct fingerprint {
    crypto_generichash_state state;
} fingerprint;

static void fp_bytes(fingerprint *fp, const void *data, size_t length)
{
    unsigned char prefix[4] = {(unsigned char)(length >> 24), (unsigned char)(length >> 16),
                               (unsigned char)(length >> 8), (unsigned char)length};
    crypto_generichash_update(&fp->state, prefix, sizeof prefix);
    crypto_generichash_update(&fp->state, data, length);
}

static void fp_text(fingerprint *fp, const char *s)
{
    if (s == NULL)
        fp_bytes(fp, "\xff", 1); /* absent differs from every text, which is valid UTF-8 */
    else
        fp_bytes(fp, s, strlen(s));
}

static void fp_integer(fingerprint *fp, int64_t v)
{
    unsigned char b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)((uint64_t)v & 0xff);
        v = (int64_t)((uint64_t)v >> 8);
    }
    fp_bytes(fp, b, sizeof b);
}

static void fp_start(fingerprint *fp, const char *kind)
{
    crypto_generichash_init(&fp->state, NULL, 0, REQUEST_HASH_BYTES);
    fp_text(fp, kind);
}

static void fp_finish(fingerprint *fp, unsigned char out[REQUEST_HASH_BYTES])
{
    crypto_generichash_final(&fp->state, out, REQUEST_HASH_BYTES);
}

/* --- shared steps -------------------------------------------------------- */

/* Fills the public result from the member's state after the posting. */
static int fill_result(loyalty_ledger *l, const member_row *member, int64_t tx, int64_t points,
                       int64_t multiplier, int64_t reversed_tx, int64_t audit_seq,
                       int replayed, loyalty_posting *result)
{
    loyalty_member_info info;
    int rc = member_info(l, member, &info);
    if (rc != LOYALTY_OK || result == NULL)
        return rc;
    memset(result, 0, sizeof *result);
    result->tx = tx;
    snprintf(result->member, sizeof result->member, "%s", member->external_id);
    result->points = points;
    result->replayed = replayed;
    result->balance = info.balance;
    result->available = info.available;
    result->multiplier_permille = multiplier;
    result->reversed_tx = reversed_tx;
    result->audit_seq = audit_seq;
    return LOYALTY_OK;
}

/*
 * Looks up (kind, ref). Returns LOYALTY_ERR_NOT_FOUND when unused (error
 * cleared), LOYALTY_OK with *replayed = 1 and the original result when used
 * with the same fingerprint, LOYALTY_ERR_CONFLICT when used with another.
 */
static int find_previous(loyalty_ledger *l, const char *kind, const char *ref,
                         const unsigned char hash[REQUEST_HASH_BYTES], loyalty_posting *result)
{
    static const char sql[] =
        "SELECT tx, member_id, points, COALESCE(multiplier_permille, 1000),"
        " COALESCE(reverses_tx, 0), audit_seq, request_hash FROM journal WHERE kind = ? AND ref = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        sqlite3_reset(st);
        return LOYALTY_ERR_NOT_FOUND;
    }
    if (step != SQLITE_ROW) {
        sqlite3_reset(st);
        return fail_db(l, "looking up reference");
    }
    int64_t v[6];
    for (int i = 0; i < 6; i++)
        v[i] = sqlite3_column_int64(st, i);
    int same = sqlite3_column_bytes(st, 6) == REQUEST_HASH_BYTES &&
               memcmp(sqlite3_column_blob(st, 6), hash, REQUEST_HASH_BYTES) == 0;
    sqlite3_reset(st);
    if (!same)
        return fail(l, LOYALTY_ERR_CONFLICT,
                    "reference %s was already used with other parameters (%s, tx %lld)", ref,
                    kind, (long long)v[0]);
    member_row member;
    int rc = member_find_by_id(l, v[1], &member);
    if (rc == LOYALTY_OK)
        rc = fill_result(l, &member, v[0], v[2], v[3], v[4], v[5], 1, result);
    return rc;
}

typedef struct journal_row {
    const char *kind;
    const char *ref;
    const unsigned char *request_hash;
    int64_t points;
    int64_t amount_minor;        /* 0: none */
    int64_t multiplier_permille; /* 0: none */
    const char *reason;
    const char *note;
    int64_t reverses_tx; /* 0: none */
} journal_row;

static void bind_optional_integer(sqlite3_stmt *st, int index, int64_t v)
{
    if (v != 0)
        sqlite3_bind_int64(st, index, v);
    else
        sqlite3_bind_null(st, index);
}

/* Inserts the journal row for member; *tx receives its id. */
static int journal_insert(loyalty_ledger *l, const member_row *member, const journal_row *row,
                          int64_t *tx)
{
    static const char sql[] =
        "INSERT INTO journal (member_id, kind, ref, request_hash, points, balance_after,"
        " amount_minor, multiplier_permille, reason, note, reverses_tx, ts_us, actor, audit_seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    int64_t balance_after;
    if (add_i64(member->balance, row->points, &balance_after))
        return fail(l, LOYALTY_ERR_INVALID, "balance of %s would overflow", member->external_id);
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member->id);
    sqlite3_bind_text(st, 2, row->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row->ref, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, row->request_hash, REQUEST_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, row->points);
    sqlite3_bind_int64(st, 6, balance_after);
    bind_optional_integer(st, 7, row->amount_minor);
    bind_optional_integer(st, 8, row->multiplier_permille);
    sqlite3_bind_text(st, 9, row->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, row->note, -1, SQLITE_STATIC);
    bind_optional_integer(st, 11, row->reverses_tx);
    sqlite3_bind_int64(st, 12, l->op_now_us);
    sqlite3_bind_text(st, 13, l->op_actor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 14, l->next_seq);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return fail_db(l, "writing journal");
    *tx = sqlite3_last_insert_rowid(l->db);
    return LOYALTY_OK;
}

/* Applies the row's points to the lots: credits make a lot, debits consume. */
static int move_points(loyalty_ledger *l, member_row *member, int64_t tx, const journal_row *row,
                       int allow_debt)
{
    if (row->points > 0)
        return lots_credit(l, member, tx, row->points, l->op_now_us, 0);
    if (row->points < 0)
        return lots_debit(l, member, -row->points, row->reverses_tx, allow_debt);
    return LOYALTY_OK;
}

/* The member that a posting applies to; closed members take no postings. */
static int posting_member(loyalty_ledger *l, const char *external_id, member_row *member)
{
    int rc = member_find(l, external_id, member);
    if (rc == LOYALTY_OK && strcmp(member->status, "closed") == 0)
        rc = fail(l, LOYALTY_ERR_NOT_PERMITTED, "member %s is closed", external_id);
    return rc;
}

static int require_available(loyalty_ledger *l, const member_row *member, int64_t points)
{
    lot_sums sums;
    int rc = lots_sum(l, member->id, l->op_now_us, &sums);
    if (rc == LOYALTY_OK && sums.available < points)
        rc = fail(l, LOYALTY_ERR_INSUFFICIENT, "member %s has %lld available points, fewer than %lld",
                  member->external_id, (long long)sums.available, (long long)points);
    return rc;
}

/* The payload's common head: tx, member, ref. */
static json_t *payload_head(int64_t tx, const member_row *member, const char *ref)
{
    json_t *p = json_object();
    json_object_set_new(p, "tx", json_integer(tx));
    json_object_set_new(p, "member", json_string(member->external_id));
    json_object_set_new(p, "ref", json_string(ref));
    return p;
}

static void payload_optional_text(json_t *p, const char *key, const char *value)
{
    if (value)
        json_object_set_new(p, key, json_string(value));
}

/*
 * Writes a posting: journal row, lots, balance, audit entry, result. The
 * payload is built by the caller from the head and completed here with points.
 */
static int post(loyalty_ledger *l, member_row *member, const journal_row *row, int allow_debt,
                const char *action, loyalty_posting *result)
{
    int64_t tx = 0;
    int64_t audit_seq = l->next_seq;
    int rc = journal_insert(l, member, row, &tx);
    if (rc == LOYALTY_OK)
        rc = move_points(l, member, tx, row, allow_debt);
    if (rc != LOYALTY_OK)
        return rc;
    json_t *p = payload_head(tx, member, row->ref);
    if (row->reverses_tx)
        json_object_set_new(p, "reverses", json_integer(row->reverses_tx));
    if (row->amount_minor) {
        json_object_set_new(p, "amount", json_integer(row->amount_minor));
        json_object_set_new(p, "multiplier_permille", json_integer(row->multiplier_permille));
    }
    json_object_set_new(p, "points", json_integer(row->points));
    payload_optional_text(p, "reason", row->reason);
    payload_optional_text(p, "note", row->note);
    rc = audit_append(l, action, p);
    if (rc == LOYALTY_OK)
        rc = fill_result(l, member, tx, row->points,
                         row->multiplier_permille ? row->multiplier_permille : 1000,
                         row->reverses_tx, audit_seq, 0, result);
    return rc;
}

/* Checks the reference and looks for an earlier use; LOYALTY_ERR_NOT_FOUND means "new". */
static int begin_posting(loyalty_ledger *l, const char *kind, const char *ref,
                         const unsigned char hash[REQUEST_HASH_BYTES], loyalty_posting *result)
{
    int rc = check_id(l, "reference", ref);
    if (rc != LOYALTY_OK)
        return rc;
    rc = find_previous(l, kind, ref, hash, result);
    if (rc == LOYALTY_ERR_NOT_FOUND)
        clear_error(l);
    return rc;
}

/* --- award --------------------------------------------------------------- */

static int check_award(loyalty_ledger *l, const loyalty_award_request *r)
{
    if (r == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "request is required");
    int rc = check_id(l, "member id", r->member);
    if (rc == LOYALTY_OK && (r->amount_minor != 0) == (r->points != 0))
        rc = fail(l, LOYALTY_ERR_INVALID, "an award needs exactly one of amount and points");
    if (rc == LOYALTY_OK && r->amount_minor != 0 &&
        (r->amount_minor < 1 || r->amount_minor > LIMIT_AMOUNT_MAX))
        rc = fail(l, LOYALTY_ERR_INVALID, "amount must be between 1 and %lld minor units",
                  (long long)LIMIT_AMOUNT_MAX);
    if (rc == LOYALTY_OK && r->points != 0)
        rc = check_points(l, "points", r->points);
    if (rc == LOYALTY_OK)
        rc = check_optional_text(l, "reason", r->reason, LOYALTY_NOTE_MAX);
    return rc;
}

int award_apply(loyalty_ledger *l, const loyalty_award_request *r, loyalty_posting *result)
{
    int rc = check_award(l, r);
    if (rc != LOYALTY_OK)
        return rc;
    unsigned char hash[REQUEST_HASH_BYTES];
    fingerprint fp;
    fp_start(&fp, KIND_AWARD);
    fp_text(&fp, r->member);
    fp_integer(&fp, r->amount_minor);
    fp_integer(&fp, r->points);
    fp_text(&fp, r->reason);
    fp_finish(&fp, hash);
    rc = begin_posting(l, KIND_AWARD, r->ref, hash, result);
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    member_row member;
    rc = posting_member(l, r->member, &member);
    if (rc != LOYALTY_OK)
        return rc;
    journal_row row = {.kind = KIND_AWARD, .ref = r->ref, .request_hash = hash,
                       .points = r->points, .reason = r->reason};
    if (r->amount_minor) {
        program_rules rules;
        rc = program_current(l, &rules);
        row.amount_minor = r->amount_minor;
        row.multiplier_permille = 1000;
        if (rc == LOYALTY_OK && earn_points(&rules, r->amount_minor, 1000, &row.points))
            rc = fail(l, LOYALTY_ERR_INVALID, "the award for amount %lld is out of range",
                      (long long)r->amount_minor);
        if (rc != LOYALTY_OK)
            return rc;
    }
    return post(l, &member, &row, 0, KIND_AWARD, result);
}

/* --- redeem -------------------------------------------------------------- */

int redeem_apply(loyalty_ledger *l, const loyalty_redeem_request *r, loyalty_posting *result)
{
    if (r == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "request is required");
    int rc = check_id(l, "member id", r->member);
    if (rc == LOYALTY_OK)
        rc = check_points(l, "points", r->points);
    if (rc != LOYALTY_OK)
        return rc;
    unsigned char hash[REQUEST_HASH_BYTES];
    fingerprint fp;
    fp_start(&fp, KIND_REDEEM);
    fp_text(&fp, r->member);
    fp_integer(&fp, r->points);
    fp_finish(&fp, hash);
    rc = begin_posting(l, KIND_REDEEM, r->ref, hash, result);
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    member_row member;
    rc = posting_member(l, r->member, &member);
    if (rc == LOYALTY_OK && strcmp(member.status, "active") != 0)
        rc = fail(l, LOYALTY_ERR_NOT_PERMITTED, "member %s is %s", r->member, member.status);
    if (rc == LOYALTY_OK)
        rc = require_available(l, &member, r->points);
    if (rc != LOYALTY_OK)
        return rc;
    journal_row row = {.kind = KIND_REDEEM, .ref = r->ref, .request_hash = hash,
                       .points = -r->points};
    return post(l, &member, &row, 0, KIND_REDEEM, result);
}

/* --- adjust -------------------------------------------------------------- */

int adjust_apply(loyalty_ledger *l, const loyalty_adjust_request *r, loyalty_posting *result)
{
    if (r == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "request is required");
    int rc = check_id(l, "member id", r->member);
    if (rc == LOYALTY_OK && (r->points == 0 || r->points < -LIMIT_POINTS_MAX ||
                             r->points > LIMIT_POINTS_MAX))
        rc = fail(l, LOYALTY_ERR_INVALID, "points must be non-zero and at most %lld either way",
                  (long long)LIMIT_POINTS_MAX);
    if (rc == LOYALTY_OK)
        rc = check_id(l, "reason code", r->reason);
    if (rc == LOYALTY_OK)
        rc = check_optional_text(l, "note", r->note, LOYALTY_NOTE_MAX);
    if (rc != LOYALTY_OK)
        return rc;
    unsigned char hash[REQUEST_HASH_BYTES];
    fingerprint fp;
    fp_start(&fp, KIND_ADJUST);
    fp_text(&fp, r->member);
    fp_integer(&fp, r->points);
    fp_text(&fp, r->reason);
    fp_text(&fp, r->note);
    fp_finish(&fp, hash);
    rc = begin_posting(l, KIND_ADJUST, r->ref, hash, result);
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    member_row member;
    rc = posting_member(l, r->member, &member);
    if (rc == LOYALTY_OK && r->points < 0)
        rc = require_available(l, &member, -r->points);
    if (rc != LOYALTY_OK)
        return rc;
    journal_row row = {.kind = KIND_ADJUST, .ref = r->ref, .request_hash = hash,
                       .points = r->points, .reason = r->reason, .note = r->note};
    return post(l, &member, &row, 0, KIND_ADJUST, result);
}

/* --- reverse ------------------------------------------------------------- */

typedef struct reversal_target {
    int64_t member_id;
    char kind[LOYALTY_CODE_MAX + 1];
    int64_t points;
    int64_t reversed_by; /* 0: not reversed */
} reversal_target;

static int find_target(loyalty_ledger *l, int64_t tx, reversal_target *t)
{
    static const char sql[] =
        "SELECT j.member_id, j.kind, j.points,"
        " COALESCE((SELECT r.tx FROM journal r WHERE r.reverses_tx = j.tx), 0)"
        " FROM journal j WHERE j.tx = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, tx);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        t->member_id = sqlite3_column_int64(st, 0);
        snprintf(t->kind, sizeof t->kind, "%s", (const char *)sqlite3_column_text(st, 1));
        t->points = sqlite3_column_int64(st, 2);
        t->reversed_by = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return fail(l, LOYALTY_ERR_NOT_FOUND, "no transaction %lld", (long long)tx);
    if (step != SQLITE_ROW)
        return fail_db(l, "reading transaction");
    if (strcmp(t->kind, KIND_REVERSE) == 0)
        return fail(l, LOYALTY_ERR_STATE, "transaction %lld is a reversal and cannot be reversed",
                    (long long)tx);
    if (t->reversed_by)
        return fail(l, LOYALTY_ERR_STATE, "transaction %lld was already reversed by transaction %lld",
                    (long long)tx, (long long)t->reversed_by);
    return LOYALTY_OK;
}

int reverse_apply(loyalty_ledger *l, const loyalty_reverse_request *r, loyalty_posting *result)
{
    if (r == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "request is required");
    int rc = r->tx > 0 ? LOYALTY_OK
                       : fail(l, LOYALTY_ERR_INVALID, "transaction id must be a positive integer");
    if (rc == LOYALTY_OK)
        rc = check_id(l, "reason code", r->reason);
    if (rc != LOYALTY_OK)
        return rc;
    unsigned char hash[REQUEST_HASH_BYTES];
    fingerprint fp;
    fp_start(&fp, KIND_REVERSE);
    fp_integer(&fp, r->tx);
    fp_text(&fp, r->reason);
    fp_finish(&fp, hash);
    rc = begin_posting(l, KIND_REVERSE, r->ref, hash, result);
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    reversal_target target;
    member_row member;
    rc = find_target(l, r->tx, &target);
    if (rc == LOYALTY_OK)
        rc = member_find_by_id(l, target.member_id, &member);
    if (rc == LOYALTY_OK && strcmp(member.status, "closed") == 0)
        rc = fail(l, LOYALTY_ERR_NOT_PERMITTED, "member %s is closed", member.external_id);
    if (rc != LOYALTY_OK)
        return rc;
    journal_row row = {.kind = KIND_REVERSE, .ref = r->ref, .request_hash = hash,
                       .points = -target.points, .reason = r->reason, .reverses_tx = r->tx};
    /* Taking back a credit is a clawback: its own lot first, any shortfall becomes debt. */
    return post(l, &member, &row, 1, KIND_REVERSE, result);
}

/* --- public entry points ------------------------------------------------- */

#define PUBLIC_POSTING(function, apply, request_type)                                     \
    LOYALTY_API int function(loyalty_ledger *l, const request_type *request,              \
                             loyalty_posting *result)                                     \
    {                                                                                     \
        int rc = write_begin(l);                                                          \
        if (rc != LOYALTY_OK)                                                             \
            return rc;                                                                    \
        return write_end(l, apply(l, request, result));                                   \
    }

PUBLIC_POSTING(loyalty_award, award_apply, loyalty_award_request)
PUBLIC_POSTING(loyalty_redeem, redeem_apply, loyalty_redeem_request)
PUBLIC_POSTING(loyalty_adjust, adjust_apply, loyalty_adjust_request)
PUBLIC_POSTING(loyalty_reverse, reverse_apply, loyalty_reverse_request)
