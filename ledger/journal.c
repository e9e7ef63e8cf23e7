/*
 * journal.c - the basic postings: award (purchase or bonus), redeem, adjust
 * and reverse. Each is idempotent by (kind, ref) through a request
 * fingerprint, and goes through posting.c for the journal row, the lots,
 * the balance and its audit entry.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define KIND_AWARD "award"
#define KIND_REDEEM "redeem"
#define KIND_ADJUST "adjust"
#define KIND_REVERSE "reverse"

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

/*
 * A purchase: points at the member's tier multiplier, and an upgrade at once
 * when they lift qualifying points over a threshold (this award still earned
 * at the old multiplier; the payload names the new tier).
 */
static int purchase(loyalty_ledger *l, member_row *member, int64_t amount, journal_row *row,
                    loyalty_posting *result)
{
    program_rules rules;
    char upgrade[LOYALTY_CODE_MAX + 1] = "";
    int64_t qualifying = 0;
    int rc = program_current(l, &rules);
    row->amount_minor = amount;
    if (rc == LOYALTY_OK)
        rc = tier_multiplier(l, member, &rules, &row->multiplier_permille);
    if (rc == LOYALTY_OK && earn_points(&rules, amount, row->multiplier_permille, &row->points))
        rc = fail(l, LOYALTY_ERR_INVALID, "the award for amount %lld is out of range", (long long)amount);
    if (rc == LOYALTY_OK)
        rc = tier_upgrade_for(l, member, &rules, row->points, upgrade, &qualifying);
    if (rc != LOYALTY_OK)
        return rc;
    json_t *extra = upgrade[0] ? json_object() : NULL;
    if (extra)
        jset(extra, "upgrade", json_string(upgrade));
    row->extra = extra;
    int64_t seq = l->next_seq;
    rc = posting_write(l, member, row, KIND_AWARD, result);
    json_decref(extra);
    if (rc == LOYALTY_OK && upgrade[0])
        rc = tier_record(l, member, upgrade, "upgrade", qualifying, NULL, seq);
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
    rc = posting_begin(l, KIND_AWARD, r->ref, hash, result);
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    member_row member;
    rc = posting_member(l, r->member, &member);
    if (rc != LOYALTY_OK)
        return rc;
    journal_row row = {.kind = KIND_AWARD, .ref = r->ref, .request_hash = hash,
                       .points = r->points, .reason = r->reason};
    return r->amount_minor ? purchase(l, &member, r->amount_minor, &row, result)
                           : posting_write(l, &member, &row, KIND_AWARD, result);
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
    rc = posting_begin(l, KIND_REDEEM, r->ref, hash, result);
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    member_row member;
    rc = posting_member(l, r->member, &member);
    if (rc == LOYALTY_OK)
        rc = posting_require_active(l, &member);
    if (rc == LOYALTY_OK)
        rc = posting_require_available(l, &member, r->points, 0);
    if (rc != LOYALTY_OK)
        return rc;
    journal_row row = {.kind = KIND_REDEEM, .ref = r->ref, .request_hash = hash,
                       .points = -r->points};
    return posting_write(l, &member, &row, KIND_REDEEM, result);
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
    rc = posting_begin(l, KIND_ADJUST, r->ref, hash, result);
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    rc = approval_previous(l, r->ref, hash, result);
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    member_row member;
    program_rules rules;
    rc = posting_member(l, r->member, &member);
    if (rc == LOYALTY_OK && r->points < 0)
        rc = posting_require_available(l, &member, -r->points, 0);
    if (rc == LOYALTY_OK)
        rc = program_current(l, &rules);
    if (rc != LOYALTY_OK)
        return rc;
    if (rules.approval_threshold > 0 &&
        (r->points > rules.approval_threshold || -r->points > rules.approval_threshold))
        return approval_request(l, &member, r, hash, result);
    journal_row row = {.kind = KIND_ADJUST, .ref = r->ref, .request_hash = hash,
                       .points = r->points, .reason = r->reason, .note = r->note};
    return posting_write(l, &member, &row, KIND_ADJUST, result);
}

/* --- reverse ------------------------------------------------------------- */

typedef struct reversal_target {
    int64_t member_id;
    char kind[LOYALTY_CODE_MAX + 1];
    int64_t points;
    int64_t refunded;    /* points already clawed back by refunds of this award */
    int64_t reversed_by; /* 0: not reversed */
} reversal_target;

/* Awards, redemptions, adjustments and captures can be reversed; the sweeps, refunds,
 * forfeits and reversals themselves cannot (they are the compensations). */
static int reversible(const char *kind)
{
    return strcmp(kind, "award") == 0 || strcmp(kind, "redeem") == 0 ||
           strcmp(kind, "adjust") == 0 || strcmp(kind, "capture") == 0;
}

static int find_target(loyalty_ledger *l, int64_t tx, reversal_target *t)
{
    static const char sql[] =
        "SELECT j.member_id, j.kind, j.points,"
        " COALESCE((SELECT -SUM(f.points) FROM journal f WHERE f.order_tx = j.tx), 0),"
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
        t->refunded = sqlite3_column_int64(st, 3);
        t->reversed_by = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return fail(l, LOYALTY_ERR_NOT_FOUND, "no transaction %lld", (long long)tx);
    if (step != SQLITE_ROW)
        return fail_db(l, "reading transaction");
    if (!reversible(t->kind))
        return fail(l, LOYALTY_ERR_STATE, "transaction %lld is a %s and cannot be reversed",
                    (long long)tx, t->kind);
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
    rc = posting_begin(l, KIND_REVERSE, r->ref, hash, result);
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    reversal_target target;
    member_row member;
    rc = find_target(l, r->tx, &target);
    if (rc == LOYALTY_OK)
        rc = member_find_by_id(l, target.member_id, &member);
    if (rc == LOYALTY_OK && strcmp(member.status, "closed") == 0)
        rc = fail(l, LOYALTY_ERR_NOT_PERMITTED, "member %s is closed", member.external_id);
    if (rc == LOYALTY_OK && target.refunded != 0 && target.points == target.refunded)
        rc = fail(l, LOYALTY_ERR_STATE, "transaction %lld was fully refunded: nothing is left to"
                  " reverse", (long long)r->tx);
    if (rc != LOYALTY_OK)
        return rc;
    /* What refunds already took back is not taken twice. */
    journal_row row = {.kind = KIND_REVERSE, .ref = r->ref, .request_hash = hash,
                       .points = -(target.points - target.refunded), .reason = r->reason,
                       .reverses_tx = r->tx, .prefer_tx = r->tx, .move = MOVE_CLAWBACK};
    /* Taking back a credit is a clawback: its own lot first, any shortfall becomes debt. */
    return posting_write(l, &member, &row, KIND_REVERSE, result);
}

/* --- public entry points ------------------------------------------------- */

#define PUBLIC_POSTING(function, apply, request_type, capability)                         \
    LOYALTY_API int function(loyalty_ledger *l, const request_type *request,              \
                             loyalty_posting *result)                                     \
    {                                                                                     \
        int rc = write_begin_as(l, capability);                                           \
        if (rc != LOYALTY_OK)                                                             \
            return rc;                                                                    \
        return write_end(l, apply(l, request, result));                                   \
    }

PUBLIC_POSTING(loyalty_award, award_apply, loyalty_award_request, CAP_EARN)
PUBLIC_POSTING(loyalty_redeem, redeem_apply, loyalty_redeem_request, CAP_SPEND)
PUBLIC_POSTING(loyalty_adjust, adjust_apply, loyalty_adjust_request, CAP_ADJUST)
PUBLIC_POSTING(loyalty_reverse, reverse_apply, loyalty_reverse_request, CAP_REVERSE)
