/*
 * expiry.c - the expiry sweep. Expired points are never spendable whether
 * or not the sweep ran (lots.c and the available figure look at the clock);
 * the sweep records their removal, one `expire` posting per member, and the
 * lapse of every hold past its time, committing in batches. Running it
 * again finds nothing left to do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Between the operations of one batch transaction: each wrote at most one entry. */
void operation_next(loyalty_ledger *l)
{
    if (l->entries_written > 1)
        fail(l, LOYALTY_ERR_INTERNAL, "an operation wrote %d audit entries", l->entries_written);
    l->entries_written = 0;
}

int expire_member_apply(loyalty_ledger *l, const char *external_id, int64_t *expired)
{
    member_row member;
    lot_sums sums;
    int rc = check_id(l, "member id", external_id);
    if (rc == LOYALTY_OK)
        rc = member_find(l, external_id, &member);
    if (rc == LOYALTY_OK)
        rc = lots_sum(l, member.id, l->op_now_us, &sums);
    if (rc == LOYALTY_OK && sums.expired == 0)
        rc = fail(l, LOYALTY_ERR_STATE, "member %s has no expired points", external_id);
    if (rc != LOYALTY_OK)
        return rc;
    char ref[32];
    snprintf(ref, sizeof ref, "expire-%lld", (long long)l->next_seq);
    unsigned char hash[REQUEST_HASH_BYTES];
    fingerprint fp;
    fp_start(&fp, "expire");
    fp_text(&fp, external_id);
    fp_integer(&fp, l->next_seq);
    fp_finish(&fp, hash);
    journal_row row = {.kind = "expire", .ref = ref, .request_hash = hash,
                       .points = -sums.expired, .move = MOVE_EXPIRED};
    rc = posting_write(l, &member, &row, "expire", NULL);
    if (rc == LOYALTY_OK && expired)
        *expired = sums.expired;
    return rc;
}

/* Up to `limit` texts from the first column of sql (bound with now), copied out. */
static int collect(loyalty_ledger *l, const char *sql, int64_t limit,
                   char (*out)[LOYALTY_ID_MAX + 1], int64_t *count)
{
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, l->op_now_us);
    sqlite3_bind_int64(st, 2, limit);
    int step;
    *count = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && *count < limit)
        snprintf(out[(*count)++], LOYALTY_ID_MAX + 1, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "finding work");
}

static const char sql_expired_members[] =
    "SELECT DISTINCT m.external_id FROM lots o JOIN members m ON m.id = o.member_id"
    " WHERE o.remaining > 0 AND o.expires_us <= ?1 ORDER BY m.external_id LIMIT ?2";
static const char sql_lapsed_holds[] =
    "SELECT ref FROM holds WHERE status = 'open' AND expires_us <= ?1 ORDER BY ref LIMIT ?2";

/* One batch: up to LIMIT_SWEEP_BATCH members, then holds, in one transaction. */
static int sweep_batch(loyalty_ledger *l, char (*work)[LOYALTY_ID_MAX + 1],
                       loyalty_expire_result *result, int64_t *done)
{
    int64_t count = 0, expired = 0;
    int rc = collect(l, sql_expired_members, LIMIT_SWEEP_BATCH, work, &count);
    for (int64_t i = 0; rc == LOYALTY_OK && i < count; i++) {
        rc = expire_member_apply(l, work[i], &expired);
        if (rc == LOYALTY_OK && add_i64(result->expired_points, expired, &result->expired_points))
            rc = fail(l, LOYALTY_ERR_INTERNAL, "expired points overflow");
        result->members++;
        operation_next(l);
    }
    *done = count;
    if (rc == LOYALTY_OK && count < LIMIT_SWEEP_BATCH) {
        rc = collect(l, sql_lapsed_holds, LIMIT_SWEEP_BATCH - count, work, &count);
        for (int64_t i = 0; rc == LOYALTY_OK && i < count; i++) {
            rc = hold_lapse_apply(l, work[i]);
            result->holds_lapsed++;
            operation_next(l);
        }
        *done += count;
    }
    return rc;
}

static int count_work(loyalty_ledger *l, int64_t now_us, int64_t *total)
{
    static const char sql[] =
        "SELECT (SELECT COUNT(DISTINCT member_id) FROM lots WHERE remaining > 0 AND expires_us <= ?1)"
        " + (SELECT COUNT(*) FROM holds WHERE status = 'open' AND expires_us <= ?1)";
    int rc = read_begin_as(l, CAP_SWEEP);
    sqlite3_stmt *st = rc == LOYALTY_OK ? stmt(l, sql) : NULL;
    if (rc == LOYALTY_OK && st == NULL)
        rc = l->error_code;
    if (rc == LOYALTY_OK) {
        sqlite3_bind_int64(st, 1, now_us);
        if (sqlite3_step(st) == SQLITE_ROW)
            *total = sqlite3_column_int64(st, 0);
        else
            rc = fail_db(l, "counting expiry work");
    }
    read_end(l);
    return rc;
}

LOYALTY_API int loyalty_expire(loyalty_ledger *l, loyalty_expire_result *result,
                               loyalty_progress_fn progress, void *context)
{
    if (l == NULL)
        return LOYALTY_ERR_MISUSE;
    if (result == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "result is required");
    memset(result, 0, sizeof *result);
    int64_t total = 0, done = 0, batch = 0;
    int rc = count_work(l, clock_now_us(l), &total);
    char (*work)[LOYALTY_ID_MAX + 1] = calloc(LIMIT_SWEEP_BATCH, LOYALTY_ID_MAX + 1);
    if (rc == LOYALTY_OK && work == NULL)
        rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory");
    /* Each batch leaves less to do; the bound only guards against a bug looping forever. */
    for (int64_t round = 0; rc == LOYALTY_OK && round <= total / LIMIT_SWEEP_BATCH + 2; round++) {
        loyalty_expire_result before = *result;
        rc = write_begin_as(l, CAP_SWEEP);
        if (rc != LOYALTY_OK)
            break;
        rc = write_end(l, sweep_batch(l, work, result, &batch));
        if (rc != LOYALTY_OK) {
            *result = before;
            break;
        }
        if (batch == 0)
            break;
        done += batch;
        if (progress)
            progress(context, done < total ? done : total, total);
    }
    free(work);
    return rc;
}
