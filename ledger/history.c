/*
 * history.c - reading the journal: a member's history newest first in
 * pages (following the member's chain of rows, schema 0006), and the
 * program-wide statistics (checked to add up).
 */
#include <string.h>

#include "internal.h"

static const char *optional_text(sqlite3_stmt *st, int column)
{
    return sqlite3_column_type(st, column) == SQLITE_NULL ? NULL
                                                          : (const char *)sqlite3_column_text(st, column);
}

/* Where a page starts: the member's newest tx, or when before_tx is one of the
 * member's rows, the one before it (else the walk starts at the newest and
 * skips what is not older than before_tx). */
static int page_start(loyalty_ledger *l, const member_row *member, int64_t before_tx, int64_t *tx)
{
    static const char sql[] =
        "SELECT COALESCE(member_prev_tx, 0) FROM journal WHERE tx = ? AND member_id = ?";
    *tx = member->last_journal_tx;
    if (before_tx <= 0)
        return LOYALTY_OK;
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, before_tx);
    sqlite3_bind_int64(st, 2, member->id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *tx = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "reading history");
}

/*
 * One page of a member's journal, newest first, by walking the member's
 * chain (journal.member_prev_tx). A link that leaves the member or does not
 * go back in time is corruption, reported rather than followed.
 */
static int list_page(loyalty_ledger *l, const member_row *member, int64_t limit, int64_t before_tx,
                     loyalty_history_fn callback, void *context, int64_t *next_before)
{
    static const char sql[] =
        "SELECT j.tx, j.kind, j.ref, j.points, j.balance_after, COALESCE(j.amount_minor, 0),"
        " j.ts_us, j.actor, j.reason, j.note, COALESCE(j.reverses_tx, 0),"
        " COALESCE((SELECT r.tx FROM journal r WHERE r.reverses_tx = j.tx), 0),"
        " COALESCE(j.order_tx, 0), j.member_id, COALESCE(j.member_prev_tx, 0)"
        " FROM journal j WHERE j.tx = ?";
    int64_t tx = 0, count = 0, last_tx = 0;
    int rc = page_start(l, member, before_tx, &tx);
    int stopped = 0;
    while (rc == LOYALTY_OK && tx != 0) {
        if (count == limit) {
            *next_before = last_tx; /* there is at least one more */
            break;
        }
        sqlite3_stmt *st = stmt(l, sql);
        if (st == NULL)
            return l->error_code;
        sqlite3_bind_int64(st, 1, tx);
        int step = sqlite3_step(st);
        if (step != SQLITE_ROW) {
            rc = step == SQLITE_DONE ? fail(l, LOYALTY_ERR_INTERNAL,
                                            "the journal chain of member %s names a missing tx %lld",
                                            member->external_id, (long long)tx)
                                     : fail_db(l, "reading history");
            sqlite3_reset(st);
            break;
        }
        int64_t prev = sqlite3_column_int64(st, 14);
        if (sqlite3_column_int64(st, 13) != member->id || prev < 0 || prev >= tx) {
            rc = fail(l, LOYALTY_ERR_INTERNAL, "the journal chain of member %s is broken at tx %lld",
                      member->external_id, (long long)tx);
            sqlite3_reset(st);
            break;
        }
        if (before_tx <= 0 || tx < before_tx) {
            loyalty_history_entry e = {
                .tx = tx,
                .kind = (const char *)sqlite3_column_text(st, 1),
                .ref = (const char *)sqlite3_column_text(st, 2),
                .points = sqlite3_column_int64(st, 3),
                .balance_after = sqlite3_column_int64(st, 4),
                .amount_minor = sqlite3_column_int64(st, 5),
                .ts_us = sqlite3_column_int64(st, 6),
                .actor = (const char *)sqlite3_column_text(st, 7),
                .reason = optional_text(st, 8),
                .note = optional_text(st, 9),
                .reversed_tx = sqlite3_column_int64(st, 10),
                .reversed_by = sqlite3_column_int64(st, 11),
                .order_tx = sqlite3_column_int64(st, 12),
            };
            count++;
            last_tx = tx;
            if (!stopped && callback(context, &e) != 0)
                stopped = 1;
        }
        sqlite3_reset(st);
        tx = prev;
    }
    return rc;
}

LOYALTY_API int loyalty_history(loyalty_ledger *l, const char *member, int64_t limit,
                                int64_t before_tx, loyalty_history_fn callback, void *context,
                                int64_t *next_before)
{
    if (callback == NULL || next_before == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "callback and next_before are required")
                 : LOYALTY_ERR_MISUSE;
    *next_before = 0;
    int rc = read_begin_as(l, CAP_READ);
    if (rc != LOYALTY_OK)
        return rc;
    rc = check_id(l, "member id", member);
    if (rc == LOYALTY_OK && (limit < 1 || limit > LIMIT_HISTORY_PAGE_MAX))
        rc = fail(l, LOYALTY_ERR_INVALID, "limit must be between 1 and %d", LIMIT_HISTORY_PAGE_MAX);
    if (rc == LOYALTY_OK && before_tx < 0)
        rc = fail(l, LOYALTY_ERR_INVALID, "before must be a positive transaction id");
    member_row row;
    if (rc == LOYALTY_OK)
        rc = member_find(l, member, &row);
    if (rc == LOYALTY_OK)
        rc = list_page(l, &row, limit, before_tx, callback, context, next_before);
    read_end(l);
    return rc;
}

static int single_integer(loyalty_ledger *l, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return step == SQLITE_ROW ? LOYALTY_OK : fail_db(l, "reading statistics");
}

/* The figure a journal kind adds to, and whether its points count negated
 * (debits are stored negative); NULL for a kind the ledger does not write. */
static int64_t *figure_of(loyalty_stats *s, const char *kind, int *negate)
{
    *negate = 1;
    if (kind == NULL)
        return NULL;
    if (strcmp(kind, "redeem") == 0 || strcmp(kind, "capture") == 0)
        return &s->redeemed;
    if (strcmp(kind, "expire") == 0)
        return &s->expired;
    if (strcmp(kind, "refund") == 0)
        return &s->clawed_back;
    if (strcmp(kind, "forfeit") == 0)
        return &s->forfeited;
    *negate = 0;
    if (strcmp(kind, "award") == 0)
        return &s->issued;
    if (strcmp(kind, "adjust") == 0)
        return &s->adjusted;
    if (strcmp(kind, "reverse") == 0)
        return &s->reversed;
    return NULL;
}

/* Adds a kind's sum to its figure; 1 on overflow. */
static int add_to_figure(int64_t *figure, int64_t sum, int negate)
{
    int64_t value = sum;
    if (negate && sub_i64(0, sum, &value))
        return 1;
    return add_i64(*figure, value, figure);
}

static int sum_by_kind(loyalty_ledger *l, loyalty_stats *s)
{
    static const char sql[] = "SELECT kind, SUM(points), COUNT(*) FROM journal GROUP BY kind";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    int step, unknown = 0, overflow = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int negate = 0;
        int64_t *figure = figure_of(s, (const char *)sqlite3_column_text(st, 0), &negate);
        s->transactions += sqlite3_column_int64(st, 2);
        if (figure == NULL)
            unknown = 1;
        else
            overflow |= add_to_figure(figure, sqlite3_column_int64(st, 1), negate);
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return fail_db(l, "reading statistics");
    if (overflow)
        return fail(l, LOYALTY_ERR_INTERNAL, "the journal's figures overflow 64 bits");
    return unknown ? fail(l, LOYALTY_ERR_INTERNAL, "the journal holds an unknown kind") : LOYALTY_OK;
}

/* issued - redeemed - expired - clawed back - forfeited + adjusted + reversed; 1 on overflow. */
static int journal_outstanding(const loyalty_stats *s, int64_t *out)
{
    int64_t v = s->issued;
    if (sub_i64(v, s->redeemed, &v) || sub_i64(v, s->expired, &v) ||
        sub_i64(v, s->clawed_back, &v) || sub_i64(v, s->forfeited, &v) ||
        add_i64(v, s->adjusted, &v) || add_i64(v, s->reversed, &v))
        return 1;
    *out = v;
    return 0;
}

LOYALTY_API int loyalty_stats_get(loyalty_ledger *l, loyalty_stats *s)
{
    static const char sql_members[] = "SELECT COUNT(*) FROM members";
    static const char sql_outstanding[] = "SELECT COALESCE(SUM(balance), 0) FROM members";
    if (s == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "stats is required") : LOYALTY_ERR_MISUSE;
    memset(s, 0, sizeof *s);
    int rc = read_begin_as(l, CAP_READ);
    if (rc == LOYALTY_OK)
        rc = single_integer(l, sql_members, &s->members);
    if (rc == LOYALTY_OK)
        rc = single_integer(l, sql_outstanding, &s->outstanding);
    if (rc == LOYALTY_OK)
        rc = sum_by_kind(l, s);
    read_end(l);
    int64_t from_journal = 0;
    if (rc == LOYALTY_OK && journal_outstanding(s, &from_journal))
        rc = fail(l, LOYALTY_ERR_INTERNAL, "the journal's figures overflow 64 bits");
    if (rc == LOYALTY_OK && s->outstanding != from_journal)
        rc = fail(l, LOYALTY_ERR_INTERNAL,
                  "outstanding %lld differs from the sum of the journal's figures",
                  (long long)s->outstanding);
    return rc;
}
