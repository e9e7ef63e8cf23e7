/*
 * approvals.c - four-eyes approval of large adjustments. An adjustment whose
 * size is above the program's approval_threshold is recorded as a request
 * (audited as adjust_request, no balance change); a second operator with the
 * supervisor or admin role applies it (audited as approve, with the points)
 * or rejects it. The request keeps the adjustment's reference, so a retried
 * adjust answers with the request, or with the posting once approved.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct approval_row {
    int64_t id;
    int64_t member_id;
    char ref[LOYALTY_ID_MAX + 1];
    unsigned char request_hash[REQUEST_HASH_BYTES];
    int64_t points;
    char reason[LOYALTY_ID_MAX + 1];
    char note[LOYALTY_NOTE_MAX + 1];
    int has_note;
    char status[16];
    char requested_by[LOYALTY_ID_MAX + 1];
    int64_t audit_seq;
} approval_row;

#define APPROVAL_COLUMNS \
    "id, member_id, ref, request_hash, points, reason, note, status, requested_by, audit_seq"

static void text_column(char *out, size_t size, sqlite3_stmt *st, int column)
{
    const unsigned char *t = sqlite3_column_text(st, column);
    snprintf(out, size, "%s", t ? (const char *)t : "");
}

static int read_approval(loyalty_ledger *l, sqlite3_stmt *st, approval_row *a)
{
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        a->id = sqlite3_column_int64(st, 0);
        a->member_id = sqlite3_column_int64(st, 1);
        text_column(a->ref, sizeof a->ref, st, 2);
        memset(a->request_hash, 0, sizeof a->request_hash);
        if (sqlite3_column_bytes(st, 3) == REQUEST_HASH_BYTES)
            memcpy(a->request_hash, sqlite3_column_blob(st, 3), REQUEST_HASH_BYTES);
        a->points = sqlite3_column_int64(st, 4);
        text_column(a->reason, sizeof a->reason, st, 5);
        a->has_note = sqlite3_column_type(st, 6) != SQLITE_NULL;
        text_column(a->note, sizeof a->note, st, 6);
        text_column(a->status, sizeof a->status, st, 7);
        text_column(a->requested_by, sizeof a->requested_by, st, 8);
        a->audit_seq = sqlite3_column_int64(st, 9);
    }
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return LOYALTY_ERR_NOT_FOUND;
    return step == SQLITE_ROW ? LOYALTY_OK : fail_db(l, "reading approval");
}

static int approval_by_id(loyalty_ledger *l, int64_t id, approval_row *a)
{
    static const char sql[] = "SELECT " APPROVAL_COLUMNS " FROM approvals WHERE id = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, id);
    int rc = read_approval(l, st, a);
    return rc == LOYALTY_ERR_NOT_FOUND ? fail(l, rc, "no approval request %lld", (long long)id) : rc;
}

/* The answer to an adjust that is (or was) waiting for approval. */
static int pending_result(loyalty_ledger *l, const approval_row *a, int replayed,
                          loyalty_posting *result)
{
    member_row member;
    int rc = member_find_by_id(l, a->member_id, &member);
    if (rc == LOYALTY_OK)
        rc = posting_result(l, &member, 0, 0, 1000, 0, a->audit_seq, replayed, result);
    if (rc == LOYALTY_OK && result) {
        result->pending_approval = 1;
        result->approval = a->id;
    }
    return rc;
}

/* An adjust reference already waiting: LOYALTY_ERR_NOT_FOUND when there is none. */
int approval_previous(loyalty_ledger *l, const char *ref, const unsigned char hash[REQUEST_HASH_BYTES],
                      loyalty_posting *result)
{
    static const char sql[] = "SELECT " APPROVAL_COLUMNS " FROM approvals WHERE ref = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
    approval_row a;
    int rc = read_approval(l, st, &a);
    if (rc != LOYALTY_OK)
        return rc;
    if (memcmp(a.request_hash, hash, REQUEST_HASH_BYTES) != 0)
        return fail(l, LOYALTY_ERR_CONFLICT,
                    "reference %s was already used with other parameters (approval %lld)", ref,
                    (long long)a.id);
    if (strcmp(a.status, "rejected") == 0)
        return fail(l, LOYALTY_ERR_STATE, "the adjustment %s was rejected (approval %lld)", ref,
                    (long long)a.id);
    return pending_result(l, &a, 1, result);
}

/* Records an adjustment above the threshold as a request. */
int approval_request(loyalty_ledger *l, member_row *member, const loyalty_adjust_request *r,
                     const unsigned char hash[REQUEST_HASH_BYTES], loyalty_posting *result)
{
    static const char sql[] =
        "INSERT INTO approvals (member_id, ref, request_hash, points, reason, note, requested_by,"
        " requested_us, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member->id);
    sqlite3_bind_text(st, 2, r->ref, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, hash, REQUEST_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->points);
    sqlite3_bind_text(st, 5, r->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->note, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, l->op_actor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, l->op_now_us);
    sqlite3_bind_int64(st, 9, l->next_seq);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return fail_db(l, "recording approval request");
    approval_row a = {.id = sqlite3_last_insert_rowid(l->db), .member_id = member->id,
                      .audit_seq = l->next_seq};
    json_t *p = json_object();
    jset(p, "approval", json_integer(a.id));
    jset(p, "member", json_string(member->external_id));
    jset(p, "ref", json_string(r->ref));
    jset(p, "requested", json_integer(r->points));
    jset(p, "reason", json_string(r->reason));
    payload_text(p, "note", r->note);
    int rc = audit_append(l, "adjust_request", p);
    return rc == LOYALTY_OK ? pending_result(l, &a, 0, result) : rc;
}

static int decide(loyalty_ledger *l, const approval_row *a, const char *status, const char *reason,
                  int64_t tx)
{
    static const char sql[] = "UPDATE approvals SET status = ?, decided_by = ?, decided_us = ?,"
                              " decision_reason = ?, tx = ? WHERE id = ? AND status = 'pending'";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, l->op_actor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, l->op_now_us);
    sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
    if (tx)
        sqlite3_bind_int64(st, 5, tx);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, a->id);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return fail_db(l, "deciding approval");
    return sqlite3_changes(l->db) == 1 ? LOYALTY_OK
                                       : fail(l, LOYALTY_ERR_INTERNAL, "approval was not pending");
}

static int pending(loyalty_ledger *l, int64_t id, approval_row *a)
{
    int rc = approval_by_id(l, id, a);
    if (rc == LOYALTY_OK && strcmp(a->status, "pending") != 0)
        rc = fail(l, LOYALTY_ERR_STATE, "approval %lld is already %s", (long long)id, a->status);
    return rc;
}

int approve_apply(loyalty_ledger *l, int64_t id, loyalty_posting *result)
{
    approval_row a;
    member_row member;
    int rc = pending(l, id, &a);
    if (rc == LOYALTY_OK && strcmp(a.requested_by, l->op_actor) == 0)
        rc = fail(l, LOYALTY_ERR_NOT_PERMITTED, "operator '%s' requested approval %lld and cannot"
                  " approve it", l->op_actor, (long long)id);
    if (rc == LOYALTY_OK)
        rc = member_find_by_id(l, a.member_id, &member);
    if (rc == LOYALTY_OK && strcmp(member.status, "closed") == 0)
        rc = fail(l, LOYALTY_ERR_NOT_PERMITTED, "member %s is closed", member.external_id);
    if (rc == LOYALTY_OK && a.points < 0)
        rc = posting_require_available(l, &member, -a.points, 0);
    if (rc != LOYALTY_OK)
        return rc;
    json_t *extra = json_object();
    jset(extra, "approval", json_integer(a.id));
    jset(extra, "requested_by", json_string(a.requested_by));
    journal_row row = {.kind = "adjust", .ref = a.ref, .request_hash = a.request_hash,
                       .points = a.points, .reason = a.reason, .note = a.has_note ? a.note : NULL,
                       .extra = extra};
    rc = posting_write(l, &member, &row, "approve", result);
    json_decref(extra);
    if (rc == LOYALTY_OK)
        rc = decide(l, &a, "approved", NULL, l->last_tx);
    return rc;
}

int reject_apply(loyalty_ledger *l, int64_t id, const char *reason)
{
    approval_row a;
    member_row member;
    int rc = check_id(l, "reason code", reason);
    if (rc == LOYALTY_OK)
        rc = pending(l, id, &a);
    /* Approvers may reject; the requester (still an active operator) may withdraw their own. */
    if (rc == LOYALTY_OK)
        rc = authorize_actor(l, l->op_actor,
                             strcmp(a.requested_by, l->op_actor) == 0 ? CAP_READ : CAP_APPROVE);
    if (rc == LOYALTY_OK)
        rc = member_find_by_id(l, a.member_id, &member);
    if (rc == LOYALTY_OK)
        rc = decide(l, &a, "rejected", reason, 0);
    if (rc != LOYALTY_OK)
        return rc;
    json_t *p = json_object();
    jset(p, "approval", json_integer(a.id));
    jset(p, "member", json_string(member.external_id));
    jset(p, "ref", json_string(a.ref));
    jset(p, "reason", json_string(reason));
    return audit_append(l, "reject", p);
}

LOYALTY_API int loyalty_approve(loyalty_ledger *l, int64_t approval, loyalty_posting *result)
{
    int rc = write_begin_as(l, CAP_APPROVE);
    return rc == LOYALTY_OK ? write_end(l, approve_apply(l, approval, result)) : rc;
}

LOYALTY_API int loyalty_reject(loyalty_ledger *l, int64_t approval, const char *reason)
{
    int rc = write_begin_as(l, CAP_READ);
    return rc == LOYALTY_OK ? write_end(l, reject_apply(l, approval, reason)) : rc;
}

LOYALTY_API int loyalty_approvals(loyalty_ledger *l, int all, loyalty_approval_fn callback,
                                  void *context)
{
    static const char sql[] =
        "SELECT a.id, m.external_id, a.ref, a.points, a.reason, a.note, a.status, a.requested_by,"
        " a.requested_us, a.decided_by FROM approvals a JOIN members m ON m.id = a.member_id"
        " WHERE ?1 OR a.status = 'pending' ORDER BY a.id";
    if (callback == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "callback is required") : LOYALTY_ERR_MISUSE;
    int rc = read_begin_as(l, CAP_READ);
    if (rc != LOYALTY_OK)
        return rc;
    sqlite3_stmt *st = stmt(l, sql);
    int step = SQLITE_DONE;
    if (st == NULL)
        rc = l->error_code;
    else
        sqlite3_bind_int(st, 1, all != 0);
    while (rc == LOYALTY_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        loyalty_approval_info a = {
            .id = sqlite3_column_int64(st, 0),
            .member = (const char *)sqlite3_column_text(st, 1),
            .ref = (const char *)sqlite3_column_text(st, 2),
            .points = sqlite3_column_int64(st, 3),
            .reason = (const char *)sqlite3_column_text(st, 4),
            .note = (const char *)sqlite3_column_text(st, 5),
            .status = (const char *)sqlite3_column_text(st, 6),
            .requested_by = (const char *)sqlite3_column_text(st, 7),
            .requested_us = sqlite3_column_int64(st, 8),
            .decided_by = (const char *)sqlite3_column_text(st, 9),
        };
        if (callback(context, &a) != 0)
            break;
    }
    if (rc == LOYALTY_OK && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = fail_db(l, "listing approvals");
    read_end(l);
    return rc;
}
