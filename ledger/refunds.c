/*
 * refunds.c - refunds claw back what a purchase award earned, in proportion
 * to the money returned. Rounding is cumulative: after refunds totalling R of
 * an order of amount A that earned P points, exactly floor(P * R / A) points
 * have been taken back, so parts adding up to A take back exactly P.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct order_state {
    int64_t tx;
    int64_t amount;          /* the order's amount */
    int64_t points;          /* what it earned */
    int64_t refunded_amount; /* refunded so far */
    int64_t clawed_back;     /* points taken back so far (positive) */
    int64_t reversed_by;     /* 0 unless the award was reversed */
} order_state;

static int find_order(loyalty_ledger *l, const member_row *member, const char *order_ref,
                      order_state *o)
{
    static const char sql[] =
        "SELECT j.tx, j.amount_minor, j.points,"
        " COALESCE((SELECT SUM(f.amount_minor) FROM journal f WHERE f.order_tx = j.tx), 0),"
        " COALESCE((SELECT -SUM(f.points) FROM journal f WHERE f.order_tx = j.tx), 0),"
        " COALESCE((SELECT r.tx FROM journal r WHERE r.reverses_tx = j.tx), 0)"
        " FROM journal j WHERE j.kind = 'award' AND j.ref = ? AND j.member_id = ?"
        " AND j.amount_minor IS NOT NULL";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, order_ref, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, member->id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        o->tx = sqlite3_column_int64(st, 0);
        o->amount = sqlite3_column_int64(st, 1);
        o->points = sqlite3_column_int64(st, 2);
        o->refunded_amount = sqlite3_column_int64(st, 3);
        o->clawed_back = sqlite3_column_int64(st, 4);
        o->reversed_by = sqlite3_column_int64(st, 5);
    }
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return fail(l, LOYALTY_ERR_NOT_FOUND, "member %s has no purchase award %s",
                    member->external_id, order_ref);
    return step == SQLITE_ROW ? LOYALTY_OK : fail_db(l, "reading order");
}

/* Points this refund takes back: the cumulative share minus what earlier refunds took. */
static int refund_points(loyalty_ledger *l, const order_state *o, int64_t amount, int64_t *points)
{
    if (o->reversed_by)
        return fail(l, LOYALTY_ERR_STATE, "order %lld was reversed by transaction %lld",
                    (long long)o->tx, (long long)o->reversed_by);
    if (amount > o->amount - o->refunded_amount)
        return fail(l, LOYALTY_ERR_STATE,
                    "refund of %lld exceeds the %lld left of the order (amount %lld, refunded %lld)",
                    (long long)amount, (long long)(o->amount - o->refunded_amount),
                    (long long)o->amount, (long long)o->refunded_amount);
    __extension__ typedef __int128 wide;
    wide total = (wide)o->points * (o->refunded_amount + amount) / o->amount;
    *points = (int64_t)total - o->clawed_back;
    if (*points < 0 || *points > o->points)
        return fail(l, LOYALTY_ERR_INTERNAL, "refund arithmetic out of range");
    return LOYALTY_OK;
}

int refund_apply(loyalty_ledger *l, const loyalty_refund_request *r, loyalty_posting *result)
{
    if (r == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "request is required");
    int rc = check_id(l, "member id", r->member);
    if (rc == LOYALTY_OK)
        rc = check_id(l, "order reference", r->order_ref);
    if (rc == LOYALTY_OK && (r->amount_minor < 1 || r->amount_minor > LIMIT_AMOUNT_MAX))
        rc = fail(l, LOYALTY_ERR_INVALID, "amount must be between 1 and %lld minor units",
                  (long long)LIMIT_AMOUNT_MAX);
    if (rc != LOYALTY_OK)
        return rc;
    unsigned char hash[REQUEST_HASH_BYTES];
    fingerprint fp;
    fp_start(&fp, "refund");
    fp_text(&fp, r->member);
    fp_text(&fp, r->order_ref);
    fp_integer(&fp, r->amount_minor);
    fp_finish(&fp, hash);
    rc = posting_begin(l, "refund", r->ref, hash, result);
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    member_row member;
    order_state order = {0};
    int64_t points = 0;
    rc = posting_member(l, r->member, &member);
    if (rc == LOYALTY_OK)
        rc = find_order(l, &member, r->order_ref, &order);
    if (rc == LOYALTY_OK)
        rc = refund_points(l, &order, r->amount_minor, &points);
    if (rc != LOYALTY_OK)
        return rc;
    journal_row row = {.kind = "refund", .ref = r->ref, .request_hash = hash, .points = -points,
                       .amount_minor = r->amount_minor, .order_tx = order.tx,
                       .order_ref = r->order_ref, .prefer_tx = order.tx, .move = MOVE_CLAWBACK};
    return posting_write(l, &member, &row, "refund", result);
}

LOYALTY_API int loyalty_refund(loyalty_ledger *l, const loyalty_refund_request *request,
                               loyalty_posting *result)
{
    int rc = write_begin_as(l, CAP_REFUND);
    return rc == LOYALTY_OK ? write_end(l, refund_apply(l, request, result)) : rc;
}
