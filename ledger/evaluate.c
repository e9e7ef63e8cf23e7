/*
 * evaluate.c - the tier evaluation run: every member who is not closed, in
 * batches of one transaction each, is put in the tier their qualifying
 * points reach now (tiers.c decides and records). Running it twice in a row
 * changes nothing the second time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The next batch of member ids after `after`, in id order. */
static int next_members(loyalty_ledger *l, int64_t after, char (*ids)[LOYALTY_ID_MAX + 1],
                        int64_t *last_id, int64_t *count)
{
    static const char sql[] = "SELECT id, external_id FROM members WHERE id > ? AND status != 'closed'"
                              " ORDER BY id LIMIT ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, LIMIT_SWEEP_BATCH);
    int step;
    *count = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && *count < LIMIT_SWEEP_BATCH) {
        *last_id = sqlite3_column_int64(st, 0);
        snprintf(ids[(*count)++], LOYALTY_ID_MAX + 1, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "listing members");
}

static int evaluate_batch(loyalty_ledger *l, char (*ids)[LOYALTY_ID_MAX + 1], int64_t count,
                          loyalty_evaluate_result *result)
{
    int rc = LOYALTY_OK;
    for (int64_t i = 0; rc == LOYALTY_OK && i < count; i++) {
        int moved = 0;
        rc = tier_evaluate_apply(l, ids[i], &moved);
        result->members++;
        result->upgraded += moved == 1;
        result->downgraded += moved == -1;
        result->placed += moved == 2;
        operation_next(l);
    }
    return rc;
}

static int count_members(loyalty_ledger *l, int64_t *total)
{
    static const char sql[] = "SELECT COUNT(*) FROM members WHERE status != 'closed'";
    int rc = read_begin_as(l, CAP_SWEEP);
    sqlite3_stmt *st = rc == LOYALTY_OK ? stmt(l, sql) : NULL;
    if (rc == LOYALTY_OK && st == NULL)
        rc = l->error_code;
    if (rc == LOYALTY_OK && sqlite3_step(st) == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    else if (rc == LOYALTY_OK)
        rc = fail_db(l, "counting members");
    read_end(l);
    return rc;
}

LOYALTY_API int loyalty_tier_evaluate(loyalty_ledger *l, loyalty_evaluate_result *result,
                                      loyalty_progress_fn progress, void *context)
{
    if (l == NULL)
        return LOYALTY_ERR_MISUSE;
    if (result == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "result is required");
    memset(result, 0, sizeof *result);
    int64_t total = 0, after = 0;
    int rc = count_members(l, &total);
    char (*ids)[LOYALTY_ID_MAX + 1] = calloc(LIMIT_SWEEP_BATCH, LOYALTY_ID_MAX + 1);
    if (rc == LOYALTY_OK && ids == NULL)
        rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory");
    while (rc == LOYALTY_OK) {
        loyalty_evaluate_result before = *result;
        int64_t count = 0, last = after;
        rc = write_begin_as(l, CAP_SWEEP);
        if (rc != LOYALTY_OK)
            break;
        rc = next_members(l, after, ids, &last, &count);
        if (rc == LOYALTY_OK)
            rc = evaluate_batch(l, ids, count, result);
        rc = write_end(l, rc);
        if (rc != LOYALTY_OK)
            *result = before;
        if (rc != LOYALTY_OK || count == 0)
            break;
        after = last; /* ids only grow, so every batch moves forward */
        if (progress)
            progress(context, result->members < total ? result->members : total, total);
    }
    free(ids);
    return rc;
}
