/*
 * holds.c - checkout holds: points reserved (hold), then debited in part or
 * whole (capture) or freed (release); an open hold past its time counts as
 * lapsed at once and the expiry sweep records the lapse. A hold changes no
 * balance, only `available`; its capture is a journal posting.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct hold_row {
    int64_t id;
    int64_t member_id;
    char ref[LOYALTY_ID_MAX + 1];
    unsigned char request_hash[REQUEST_HASH_BYTES];
    int64_t points;
    char status[16]; /* as stored; an open hold past expires_us is reported "lapsed" */
    int64_t expires_us;
    int64_t captured;
    int64_t capture_tx;
    int64_t audit_seq;
} hold_row;

/* The points the member's open holds reserve at now_us (a lapsed hold reserves none). */
int holds_held(loyalty_ledger *l, int64_t member_id, int64_t now_us, int64_t *held)
{
    static const char sql[] = "SELECT " SQL_HELD_POINTS("?1", "?2");
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member_id);
    sqlite3_bind_int64(st, 2, now_us);
    int step = sqlite3_step(st);
    *held = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return step == SQLITE_ROW ? LOYALTY_OK : fail_db(l, "summing holds");
}

/* Loads a hold by reference: LOYALTY_ERR_NOT_FOUND (message set) when there is none. */
static int hold_find(loyalty_ledger *l, const char *ref, hold_row *h)
{
    static const char sql[] =
        "SELECT id, member_id, ref, request_hash, points, status, expires_us, captured,"
        " COALESCE(capture_tx, 0), audit_seq FROM holds WHERE ref = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        h->id = sqlite3_column_int64(st, 0);
        h->member_id = sqlite3_column_int64(st, 1);
        snprintf(h->ref, sizeof h->ref, "%s", (const char *)sqlite3_column_text(st, 2));
        memset(h->request_hash, 0, sizeof h->request_hash);
        if (sqlite3_column_bytes(st, 3) == REQUEST_HASH_BYTES)
            memcpy(h->request_hash, sqlite3_column_blob(st, 3), REQUEST_HASH_BYTES);
        h->points = sqlite3_column_int64(st, 4);
        snprintf(h->status, sizeof h->status, "%s", (const char *)sqlite3_column_text(st, 5));
        h->expires_us = sqlite3_column_int64(st, 6);
        h->captured = sqlite3_column_int64(st, 7);
        h->capture_tx = sqlite3_column_int64(st, 8);
        h->audit_seq = sqlite3_column_int64(st, 9);
    }
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return fail(l, LOYALTY_ERR_NOT_FOUND, "no hold %s", ref);
    return step == SQLITE_ROW ? LOYALTY_OK : fail_db(l, "reading hold");
}

static const char *effective_status(const loyalty_ledger *l, const hold_row *h)
{
    if (strcmp(h->status, "open") == 0 && h->expires_us <= l->op_now_us)
        return "lapsed";
    return h->status;
}

static int fill_hold(loyalty_ledger *l, const hold_row *h, const member_row *member, int replayed,
                     loyalty_hold_info *out)
{
    if (out == NULL)
        return LOYALTY_OK;
    loyalty_member_info info;
    int rc = member_info(l, member, &info);
    if (rc != LOYALTY_OK)
        return rc;
    memset(out, 0, sizeof *out);
    snprintf(out->ref, sizeof out->ref, "%s", h->ref);
    snprintf(out->member, sizeof out->member, "%s", member->external_id);
    snprintf(out->status, sizeof out->status, "%s", effective_status(l, h));
    out->points = h->points;
    out->captured = h->captured;
    out->expires_us = h->expires_us;
    out->tx = h->capture_tx;
    out->replayed = replayed;
    out->balance = info.balance;
    out->available = info.available;
    out->held = info.held;
    out->audit_seq = h->audit_seq;
    return LOYALTY_OK;
}

/* Reloads the hold and its member, then reports them; audit_seq (0: the hold's own) names
 * the entry of the call that changed it. */
static int report(loyalty_ledger *l, const char *ref, int replayed, int64_t audit_seq,
                  loyalty_hold_info *out)
{
    hold_row h;
    member_row member;
    int rc = hold_find(l, ref, &h);
    if (rc == LOYALTY_OK)
        rc = member_find_by_id(l, h.member_id, &member);
    if (rc == LOYALTY_OK && audit_seq)
        h.audit_seq = audit_seq;
    return rc == LOYALTY_OK ? fill_hold(l, &h, &member, replayed, out) : rc;
}

static int insert_hold(loyalty_ledger *l, const member_row *member, const loyalty_hold_request *r,
                       const unsigned char hash[REQUEST_HASH_BYTES], int64_t expires_us)
{
    static const char sql[] =
        "INSERT INTO holds (member_id, ref, request_hash, points, created_us, expires_us, audit_seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member->id);
    sqlite3_bind_text(st, 2, r->ref, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, hash, REQUEST_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->points);
    sqlite3_bind_int64(st, 5, l->op_now_us);
    sqlite3_bind_int64(st, 6, expires_us);
    sqlite3_bind_int64(st, 7, l->next_seq);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    return step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "writing hold");
}

/* A hold payload: member, ref, then the action's own figures (never "points": no balance moves). */
static json_t *hold_payload(const char *member, const char *ref, const char *figure, int64_t value)
{
    json_t *p = json_object();
    jset(p, "member", json_string(member));
    jset(p, "ref", json_string(ref));
    jset(p, figure, json_integer(value));
    return p;
}

int hold_apply(loyalty_ledger *l, const loyalty_hold_request *r, loyalty_hold_info *result)
{
    if (r == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "request is required");
    int rc = check_id(l, "member id", r->member);
    if (rc == LOYALTY_OK)
        rc = check_id(l, "reference", r->ref);
    if (rc == LOYALTY_OK)
        rc = check_points(l, "points", r->points);
    if (rc != LOYALTY_OK)
        return rc;
    unsigned char hash[REQUEST_HASH_BYTES];
    fingerprint fp;
    fp_start(&fp, "hold");
    fp_text(&fp, r->member);
    fp_integer(&fp, r->points);
    fp_finish(&fp, hash);
    hold_row existing;
    rc = hold_find(l, r->ref, &existing);
    if (rc == LOYALTY_OK)
        return sodium_memcmp(existing.request_hash, hash, REQUEST_HASH_BYTES) == 0
                   ? report(l, r->ref, 1, 0, result)
                   : fail(l, LOYALTY_ERR_CONFLICT,
                          "hold reference %s was already used with other parameters", r->ref);
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    clear_error(l);
    member_row member;
    program_rules rules = {0};
    rc = posting_member(l, r->member, &member);
    if (rc == LOYALTY_OK)
        rc = posting_require_active(l, &member);
    if (rc == LOYALTY_OK)
        rc = posting_require_available(l, &member, r->points, 0);
    if (rc == LOYALTY_OK)
        rc = program_current(l, &rules);
    int64_t expires_us = l->op_now_us + rules.hold_ttl_seconds * INT64_C(1000000);
    if (rc == LOYALTY_OK)
        rc = insert_hold(l, &member, r, hash, expires_us);
    if (rc != LOYALTY_OK)
        return rc;
    json_t *p = hold_payload(r->member, r->ref, "held", r->points);
    jset(p, "expires_us", json_integer(expires_us));
    rc = audit_append(l, "hold", p);
    return rc == LOYALTY_OK ? report(l, r->ref, 0, 0, result) : rc;
}

static int close_hold(loyalty_ledger *l, const hold_row *h, const char *status, int64_t captured,
                      int64_t capture_tx)
{
    static const char sql[] =
        "UPDATE holds SET status = ?, captured = ?, capture_tx = ?, closed_us = ?"
        " WHERE id = ? AND status = 'open'";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, captured);
    if (capture_tx)
        sqlite3_bind_int64(st, 3, capture_tx);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, l->op_now_us);
    sqlite3_bind_int64(st, 5, h->id);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return fail_db(l, "closing hold");
    return sqlite3_changes(l->db) == 1 ? LOYALTY_OK
                                       : fail(l, LOYALTY_ERR_INTERNAL, "hold %s was not open", h->ref);
}

/* An open hold, its member, and the member's right to act on it. */
static int open_hold(loyalty_ledger *l, const char *ref, hold_row *h, member_row *member,
                     int spending)
{
    int rc = check_id(l, "reference", ref);
    if (rc == LOYALTY_OK)
        rc = hold_find(l, ref, h);
    if (rc == LOYALTY_OK && strcmp(effective_status(l, h), "open") != 0)
        rc = fail(l, LOYALTY_ERR_STATE, "hold %s is %s", ref, effective_status(l, h));
    if (rc == LOYALTY_OK)
        rc = member_find_by_id(l, h->member_id, member);
    if (rc == LOYALTY_OK && strcmp(member->status, "closed") == 0)
        rc = fail(l, LOYALTY_ERR_NOT_PERMITTED, "member %s is closed", member->external_id);
    if (rc == LOYALTY_OK && spending)
        rc = posting_require_active(l, member);
    return rc;
}

/* The audit entry of a hold's capture, for a retried capture's answer. */
static int64_t capture_seq(loyalty_ledger *l, int64_t capture_tx)
{
    static const char sql[] = "SELECT audit_seq FROM journal WHERE tx = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, capture_tx);
    int64_t seq = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return seq;
}

/*
 * A retried capture or release answers like the first one did (replayed),
 * so that a checkout retrying after a timeout, or an import run again, never
 * applies twice and never fails. Any other call on a finished hold is
 * LOYALTY_ERR_STATE (the caller goes on to report it).
 */
static int retried(loyalty_ledger *l, const char *ref, const char *status, int64_t points,
                   loyalty_hold_info *result)
{
    hold_row h;
    if (!valid_id(ref))
        return 0;
    int rc = hold_find(l, ref, &h);
    if (rc != LOYALTY_OK) {
        if (rc == LOYALTY_ERR_NOT_FOUND)
            clear_error(l); /* open_hold reports it */
        return 0;           /* other errors: the statements after it fail the same way */
    }
    member_row member;
    if (strcmp(h.status, status) != 0 || member_find_by_id(l, h.member_id, &member) != LOYALTY_OK ||
        strcmp(member.status, "closed") == 0) /* a closing released it: not a retry */
        return 0;
    if (strcmp(status, "captured") == 0 && h.captured != (points == 0 ? h.points : points))
        return 0;
    int64_t seq = h.capture_tx ? capture_seq(l, h.capture_tx) : 0;
    return report(l, ref, 1, seq, result) == LOYALTY_OK;
}

int capture_apply(loyalty_ledger *l, const char *ref, int64_t points, loyalty_hold_info *result)
{
    hold_row h;
    member_row member;
    if (retried(l, ref, "captured", points, result))
        return LOYALTY_OK;
    int rc = open_hold(l, ref, &h, &member, 1);
    if (rc != LOYALTY_OK)
        return rc;
    int64_t taken = points == 0 ? h.points : points;
    if (taken < 1 || taken > h.points)
        return fail(l, LOYALTY_ERR_INVALID, "capture must be between 1 and the %lld points held",
                    (long long)h.points);
    rc = posting_require_available(l, &member, taken, h.points);
    if (rc != LOYALTY_OK)
        return rc;
    unsigned char hash[REQUEST_HASH_BYTES];
    fingerprint fp;
    fp_start(&fp, "capture");
    fp_text(&fp, ref);
    fp_integer(&fp, taken);
    fp_finish(&fp, hash);
    json_t *extra = json_object();
    jset(extra, "released", json_integer(h.points - taken));
    journal_row row = {.kind = "capture", .ref = ref, .request_hash = hash, .points = -taken,
                       .extra = extra};
    int64_t seq = l->next_seq;
    rc = posting_write(l, &member, &row, "capture", NULL);
    json_decref(extra);
    if (rc == LOYALTY_OK)
        rc = close_hold(l, &h, "captured", taken, l->last_tx);
    return rc == LOYALTY_OK ? report(l, ref, 0, seq, result) : rc;
}

int release_apply(loyalty_ledger *l, const char *ref, loyalty_hold_info *result)
{
    hold_row h;
    member_row member;
    if (retried(l, ref, "released", 0, result))
        return LOYALTY_OK;
    int rc = open_hold(l, ref, &h, &member, 0);
    int64_t seq = l->next_seq;
    if (rc == LOYALTY_OK)
        rc = close_hold(l, &h, "released", 0, 0);
    if (rc == LOYALTY_OK)
        rc = audit_append(l, "release", hold_payload(member.external_id, ref, "released", h.points));
    return rc == LOYALTY_OK ? report(l, ref, 0, seq, result) : rc;
}

/* The sweep's record of a hold that ran out of time. */
int hold_lapse_apply(loyalty_ledger *l, const char *ref)
{
    hold_row h;
    member_row member;
    int rc = hold_find(l, ref, &h);
    if (rc == LOYALTY_OK && (strcmp(h.status, "open") != 0 || h.expires_us > l->op_now_us))
        rc = fail(l, LOYALTY_ERR_STATE, "hold %s has not lapsed", ref);
    if (rc == LOYALTY_OK)
        rc = member_find_by_id(l, h.member_id, &member);
    if (rc == LOYALTY_OK)
        rc = close_hold(l, &h, "lapsed", 0, 0);
    if (rc == LOYALTY_OK)
        rc = audit_append(l, "hold_lapse", hold_payload(member.external_id, ref, "lapsed", h.points));
    return rc;
}

LOYALTY_API int loyalty_hold(loyalty_ledger *l, const loyalty_hold_request *request,
                             loyalty_hold_info *result)
{
    int rc = write_begin_as(l, CAP_SPEND);
    return rc == LOYALTY_OK ? write_end(l, hold_apply(l, request, result)) : rc;
}

LOYALTY_API int loyalty_capture(loyalty_ledger *l, const char *ref, int64_t points,
                                loyalty_hold_info *result)
{
    int rc = write_begin_as(l, CAP_SPEND);
    return rc == LOYALTY_OK ? write_end(l, capture_apply(l, ref, points, result)) : rc;
}

LOYALTY_API int loyalty_release(loyalty_ledger *l, const char *ref, loyalty_hold_info *result)
{
    int rc = write_begin_as(l, CAP_SPEND);
    return rc == LOYALTY_OK ? write_end(l, release_apply(l, ref, result)) : rc;
}
