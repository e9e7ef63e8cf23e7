/*
 * status.c - member status: freeze (still earns, cannot spend), unfreeze,
 * and close (can do nothing more; the remaining points are forfeited in a
 * `forfeit` posting and open holds are released). Each change is audited
 * with its reason code; repeating a change that already holds is a replay.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int set_status(loyalty_ledger *l, int64_t member_id, const char *status)
{
    static const char sql[] = "UPDATE members SET status = ? WHERE id = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, member_id);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    return step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "changing member status");
}

static int release_all_holds(loyalty_ledger *l, int64_t member_id, int64_t *released)
{
    /* Holds already past their time stay open for the sweep to record as lapsed. */
    static const char sql[] = "UPDATE holds SET status = 'released', closed_us = ?1"
                              " WHERE member_id = ?2 AND status = 'open' AND expires_us > ?1";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, l->op_now_us);
    sqlite3_bind_int64(st, 2, member_id);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    *released = sqlite3_changes(l->db);
    return step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "releasing holds");
}

/* Closing: holds released, every remaining point forfeited, status closed. */
static int close_member(loyalty_ledger *l, member_row *member, const char *reason,
                        int64_t *forfeited)
{
    int64_t released = 0;
    int rc = release_all_holds(l, member->id, &released);
    int64_t remaining = member->balance + member->debt; /* = sum of the lots' remainders */
    if (rc == LOYALTY_OK)
        rc = set_status(l, member->id, "closed");
    if (rc != LOYALTY_OK)
        return rc;
    json_t *extra = json_object();
    jset(extra, "holds_released", json_integer(released));
    if (remaining > 0) {
        char ref[LOYALTY_ID_MAX + 8];
        snprintf(ref, sizeof ref, "close-%s", member->external_id);
        unsigned char hash[REQUEST_HASH_BYTES];
        fingerprint fp;
        fp_start(&fp, "forfeit");
        fp_text(&fp, member->external_id);
        fp_text(&fp, reason);
        fp_finish(&fp, hash);
        journal_row row = {.kind = "forfeit", .ref = ref, .request_hash = hash,
                           .points = -remaining, .reason = reason, .move = MOVE_ALL, .extra = extra};
        rc = posting_write(l, member, &row, "member_close", NULL);
        json_decref(extra);
    } else {
        json_t *p = json_object();
        jset(p, "member", json_string(member->external_id));
        jset(p, "reason", json_string(reason));
        jupdate(p, extra);
        json_decref(extra);
        rc = audit_append(l, "member_close", p);
    }
    if (rc == LOYALTY_OK && forfeited)
        *forfeited = remaining > 0 ? remaining : 0;
    return rc;
}

/* action: "member_freeze", "member_unfreeze" or "member_close". */
int status_apply(loyalty_ledger *l, const char *action, const char *external_id,
                 const char *reason, int *replayed, int64_t *forfeited)
{
    int rc = check_id(l, "member id", external_id);
    if (rc == LOYALTY_OK)
        rc = check_id(l, "reason code", reason);
    member_row member;
    if (rc == LOYALTY_OK)
        rc = member_find(l, external_id, &member);
    if (rc != LOYALTY_OK)
        return rc;
    int closing = strcmp(action, "member_close") == 0;
    const char *target = closing ? "closed" : strcmp(action, "member_freeze") == 0 ? "frozen" : "active";
    *replayed = strcmp(member.status, target) == 0;
    if (forfeited)
        *forfeited = 0;
    if (*replayed)
        return LOYALTY_OK;
    if (strcmp(member.status, "closed") == 0)
        return fail(l, LOYALTY_ERR_NOT_PERMITTED, "member %s is closed", external_id);
    if (closing)
        return close_member(l, &member, reason, forfeited);
    rc = set_status(l, member.id, target);
    if (rc != LOYALTY_OK)
        return rc;
    json_t *p = json_object();
    jset(p, "member", json_string(external_id));
    jset(p, "reason", json_string(reason));
    return audit_append(l, action, p);
}

static int change_status(loyalty_ledger *l, const char *action, const char *member,
                         const char *reason, loyalty_member_info *info, int *replayed,
                         int64_t *forfeited)
{
    int was_replayed = 0;
    int rc = write_begin_as(l, CAP_STATUS);
    if (rc != LOYALTY_OK)
        return rc;
    rc = status_apply(l, action, member, reason, &was_replayed, forfeited);
    member_row row;
    if (rc == LOYALTY_OK && info)
        rc = member_find(l, member, &row);
    if (rc == LOYALTY_OK && info)
        rc = member_info(l, &row, info);
    rc = write_end(l, rc);
    if (rc == LOYALTY_OK && replayed)
        *replayed = was_replayed;
    return rc;
}

LOYALTY_API int loyalty_member_freeze(loyalty_ledger *l, const char *member, const char *reason,
                                      loyalty_member_info *info, int *replayed)
{
    return change_status(l, "member_freeze", member, reason, info, replayed, NULL);
}

LOYALTY_API int loyalty_member_unfreeze(loyalty_ledger *l, const char *member, const char *reason,
                                        loyalty_member_info *info, int *replayed)
{
    return change_status(l, "member_unfreeze", member, reason, info, replayed, NULL);
}

LOYALTY_API int loyalty_member_close(loyalty_ledger *l, const char *member, const char *reason,
                                     int64_t *forfeited, int *replayed)
{
    return change_status(l, "member_close", member, reason, NULL, replayed, forfeited);
}
