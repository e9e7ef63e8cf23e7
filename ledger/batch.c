/*
 * batch.c - many operations in one transaction (group commit): one fsync for
 * the lot, each operation in its own savepoint so that one that fails is
 * undone alone and reported, while the others apply with their own audit
 * entries, exactly as the single calls would.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static unsigned capability_of(loyalty_operation_kind kind)
{
    switch (kind) {
    case LOYALTY_OP_MEMBER_ADD:
        return CAP_ADD_MEMBER;
    case LOYALTY_OP_AWARD:
        return CAP_EARN;
    case LOYALTY_OP_REDEEM:
    case LOYALTY_OP_HOLD:
    case LOYALTY_OP_CAPTURE:
    case LOYALTY_OP_RELEASE:
        return CAP_SPEND;
    case LOYALTY_OP_ADJUST:
        return CAP_ADJUST;
    case LOYALTY_OP_REVERSE:
        return CAP_REVERSE;
    case LOYALTY_OP_REFUND:
        return CAP_REFUND;
    case LOYALTY_OP_CLAIM:
        return CAP_CLAIM;
    }
    return 0;
}

static void from_posting(const loyalty_posting *p, loyalty_operation_result *r)
{
    r->replayed = p->replayed;
    r->pending_approval = p->pending_approval;
    r->approval = p->approval;
    r->tx = p->tx;
    r->points = p->points;
    r->balance = p->balance;
}

/* A hold or release moves no points; a capture reports its posting. */
static void from_hold(const loyalty_hold_info *h, int capture, loyalty_operation_result *r)
{
    r->replayed = h->replayed;
    r->tx = capture ? h->tx : 0;
    r->points = capture ? -h->captured : 0;
    r->balance = h->balance;
}

static int apply_posting(loyalty_ledger *l, const loyalty_operation *op, loyalty_operation_result *r)
{
    loyalty_posting p;
    memset(&p, 0, sizeof p);
    int rc;
    if (op->kind == LOYALTY_OP_AWARD) {
        loyalty_award_request q = {op->member, op->ref, op->amount_minor, op->points, op->reason};
        rc = award_apply(l, &q, &p);
    } else if (op->kind == LOYALTY_OP_REDEEM) {
        loyalty_redeem_request q = {op->member, op->ref, op->points};
        rc = redeem_apply(l, &q, &p);
    } else if (op->kind == LOYALTY_OP_ADJUST) {
        loyalty_adjust_request q = {op->member, op->ref, op->points, op->reason, op->note};
        rc = adjust_apply(l, &q, &p);
    } else if (op->kind == LOYALTY_OP_REVERSE) {
        loyalty_reverse_request q = {op->tx, op->ref, op->reason};
        rc = reverse_apply(l, &q, &p);
    } else {
        loyalty_refund_request q = {op->member, op->ref, op->order, op->amount_minor};
        rc = refund_apply(l, &q, &p);
    }
    if (rc == LOYALTY_OK)
        from_posting(&p, r);
    return rc;
}

static int apply_one(loyalty_ledger *l, const loyalty_operation *op, loyalty_operation_result *r)
{
    loyalty_hold_info h;
    memset(&h, 0, sizeof h);
    int rc;
    switch (op->kind) {
    case LOYALTY_OP_MEMBER_ADD:
        return member_add_apply(l, op->member, &r->replayed);
    case LOYALTY_OP_HOLD: {
        loyalty_hold_request q = {op->member, op->ref, op->points};
        rc = hold_apply(l, &q, &h);
        break;
    }
    case LOYALTY_OP_CAPTURE:
        rc = capture_apply(l, op->ref, op->points, &h);
        break;
    case LOYALTY_OP_RELEASE:
        rc = release_apply(l, op->ref, &h);
        break;
    case LOYALTY_OP_CLAIM: {
        loyalty_claim_request q = {op->member, op->benefit, op->ref};
        loyalty_claim_result c;
        rc = claim_apply(l, &q, &c);
        r->replayed = rc == LOYALTY_OK && c.replayed;
        return rc;
    }
    default:
        return apply_posting(l, op, r);
    }
    if (rc == LOYALTY_OK)
        from_hold(&h, op->kind == LOYALTY_OP_CAPTURE, r);
    return rc;
}

/* Failures that concern the whole batch (the store, memory, the key) end it. */
static int batch_level(int rc)
{
    return rc == LOYALTY_ERR_STORAGE || rc == LOYALTY_ERR_NOMEM || rc == LOYALTY_ERR_BUSY ||
           rc == LOYALTY_ERR_KEY || rc == LOYALTY_ERR_INTERNAL || rc == LOYALTY_ERR_VERIFY;
}

/* One attempt at an operation inside its savepoint; its own failure is recorded and undone. */
static int attempt(loyalty_ledger *l, const loyalty_operation *op, loyalty_operation_result *r)
{
    memset(r, 0, sizeof *r);
    size_t mark = l->signer ? signer_mark(l->signer) : 0;
    int64_t head_seq = l->next_seq; /* the chain head, restored if the operation is undone */
    unsigned char head_hash[HASH_BYTES];
    memcpy(head_hash, l->prev_hash, HASH_BYTES);
    int rc = db_run(l, "SAVEPOINT operation");
    if (rc != LOYALTY_OK)
        return rc;
    clear_error(l);
    json_checks_reset();
    unsigned capability = capability_of(op->kind);
    rc = capability ? authorize_actor(l, l->op_actor, capability)
                    : fail(l, LOYALTY_ERR_INVALID, "unknown operation kind %d", (int)op->kind);
    if (rc == LOYALTY_OK)
        rc = apply_one(l, op, r);
    operation_next(l);
    if (rc == LOYALTY_OK)
        return db_run(l, "RELEASE operation");
    r->rc = rc;
    snprintf(r->message, sizeof r->message, "%.255s", l->errmsg[0] ? l->errmsg : loyalty_strerror(rc));
    if (sqlite3_exec(l->db, "ROLLBACK TO operation; RELEASE operation", NULL, NULL, NULL) != SQLITE_OK)
        return fail_db(l, "undoing a failed operation");
    l->operator_cached = 0; /* cached state may come from the undone operation */
    l->rules_cached = 0;
    if (l->signer)
        signer_discard_since(l->signer, mark);
    if (batch_level(rc))
        return rc;
    /* The undone entry's seq is free again (its row, if any, was never stored: the
     * signer keeps a batch's rows until it finishes). */
    l->next_seq = head_seq;
    memcpy(l->prev_hash, head_hash, HASH_BYTES);
    return LOYALTY_OK;
}

/*
 * One operation. Awards and redemptions, the bulk of a checkout's batches,
 * first run without looking their reference up: when it is new (nearly
 * always) the journal's unique (kind, ref) index is the only check needed,
 * and that saves a statement. Any failure of that attempt is undone and the
 * operation runs again the ordinary way, which answers a retry (replayed,
 * or a conflict) and every other error exactly as a lone call would.
 */
static int run_one(loyalty_ledger *l, const loyalty_operation *op, loyalty_operation_result *r)
{
    if (op->kind != LOYALTY_OP_AWARD && op->kind != LOYALTY_OP_REDEEM)
        return attempt(l, op, r);
    l->probe_deferred = 1;
    int rc = attempt(l, op, r);
    l->probe_deferred = 0;
    if (rc != LOYALTY_OK || r->rc == LOYALTY_OK)
        return rc;
    return attempt(l, op, r);
}

LOYALTY_API int loyalty_apply_batch(loyalty_ledger *l, const loyalty_operation *operations,
                                    size_t count, loyalty_operation_result *results)
{
    if (l == NULL)
        return LOYALTY_ERR_MISUSE;
    if (operations == NULL || results == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "operations and results are required");
    if (count < 1 || count > LIMIT_BATCH_MAX)
        return fail(l, LOYALTY_ERR_INVALID, "a batch holds 1 to %d operations", LIMIT_BATCH_MAX);
    int rc = write_begin(l);
    if (rc != LOYALTY_OK)
        return rc;
    l->signer = signer_start(l, count);
    l->in_batch = 1;
    for (size_t i = 0; rc == LOYALTY_OK && i < count; i++)
        rc = run_one(l, &operations[i], &results[i]);
    l->in_batch = 0;
    if (l->signer) {
        int signed_rc = signer_finish(l->signer, l, rc == LOYALTY_OK);
        l->signer = NULL;
        if (rc == LOYALTY_OK)
            rc = signed_rc;
    }
    return write_end(l, rc);
}
