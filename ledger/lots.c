/*
 * lots.c - lots: every credit creates one (earned, available from, expires
 * at); debits consume them first-expiring-first, never touching expired
 * points. A clawback that finds too few points records the shortfall as the
 * member's debt, which the next credits repay before they create spendable
 * points. Invariant, checked after every change:
 *     member.balance = sum(lots.remaining) - member.debt, debt >= 0.
 * Every change also leaves on the member row the figures lots_sum() would
 * give at the operation's clock and until when they hold (schema 0007), so
 * that a balance look-up need not read the lots.
 */
#include <string.h>

#include "internal.h"

/*
 * Adds one open lot of `points` to figures seen at now_us: its bucket, the
 * next expiry, and the next moment the figures change by time alone.
 * lots_sum() and the figures kept on member rows both go through here.
 * Returns nonzero on overflow.
 */
static int sums_add_lot(lot_sums *sums, int64_t now_us, int64_t available_us, int expires,
                        int64_t expires_us, int64_t points)
{
    int64_t *bucket = expires && expires_us <= now_us ? &sums->expired
                      : available_us > now_us          ? &sums->pending
                                                       : &sums->available;
    int overflow = add_i64(*bucket, points, bucket);
    if (available_us > now_us && (sums->next_event_us == 0 || available_us < sums->next_event_us))
        sums->next_event_us = available_us;
    if (!expires || expires_us <= now_us)
        return overflow;
    if (sums->next_event_us == 0 || expires_us < sums->next_event_us)
        sums->next_event_us = expires_us;
    /* expires_us > now_us >= 0, so 0 is free to mean "no next expiry" */
    if (sums->next_expiry_us == 0 || expires_us < sums->next_expiry_us) {
        sums->next_expiry_us = expires_us;
        sums->next_expiry_points = points;
    } else if (expires_us == sums->next_expiry_us) {
        overflow |= add_i64(sums->next_expiry_points, points, &sums->next_expiry_points);
    }
    return overflow;
}

/* One pass over the member's open lots: the available, pending and expired
 * points, the next expiry, and when these next change by time alone. */
int lots_sum(loyalty_ledger *l, int64_t member_id, int64_t now_us, lot_sums *sums)
{
    static const char sql[] = "SELECT available_us, expires_us, remaining FROM lots"
                              " WHERE member_id = ? AND remaining > 0";
    memset(sums, 0, sizeof *sums);
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member_id);
    int step, overflow = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        overflow |= sums_add_lot(sums, now_us, sqlite3_column_int64(st, 0),
                                 sqlite3_column_type(st, 1) != SQLITE_NULL,
                                 sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
    int rc = step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "summing lots");
    sqlite3_reset(st);
    if (rc == LOYALTY_OK && overflow)
        rc = fail(l, LOYALTY_ERR_INTERNAL, "the lots of member %lld overflow", (long long)member_id);
    return rc;
}

/* The figures kept on the member row as seen at now_us (lot_sums.next_event_us 0: never). */
static void figures_set(member_row *member, const lot_sums *sums, int64_t now_us)
{
    member->lots = *sums;
    member->lots_at_us = now_us;
    member->lots_until_us = sums->next_event_us ? sums->next_event_us : INT64_MAX;
}

int lots_figures_hold(const member_row *member, int64_t now_us)
{
    return member->lots_until_us != 0 && member->lots_at_us <= now_us && now_us < member->lots_until_us;
}

/* Recomputes the member's kept figures from its open lots at the operation's clock. */
static int figures_recompute(loyalty_ledger *l, member_row *member)
{
    lot_sums sums;
    int rc = lots_sum(l, member->id, l->op_now_us, &sums);
    if (rc == LOYALTY_OK)
        figures_set(member, &sums, l->op_now_us);
    return rc;
}

/*
 * The kept figures after a new lot of `remaining` points: added to figures
 * that still hold at the operation's clock (the common case, no statement),
 * else recomputed. Either way they equal what lots_sum() would say now.
 */
static int figures_add_lot(loyalty_ledger *l, member_row *member, int64_t remaining,
                           int64_t available_us, int64_t expires_us)
{
    int64_t now = l->op_now_us;
    if (!lots_figures_hold(member, now))
        return figures_recompute(l, member);
    lot_sums sums = member->lots;
    sums.next_event_us = member->lots_until_us == INT64_MAX ? 0 : member->lots_until_us;
    if (remaining > 0 &&
        sums_add_lot(&sums, now, available_us, expires_us > 0, expires_us, remaining))
        return fail(l, LOYALTY_ERR_INTERNAL, "the lots of member %s overflow", member->external_id);
    figures_set(member, &sums, now);
    return LOYALTY_OK;
}

/*
 * Stores the member's figures after a change, asserting the lots invariant
 * (balance = lots - debt, neither negative) in constant time: the lots total
 * is kept on the member and moves with every lot change. verify's replay
 * recomputes every lot and member row independently.
 */
static int store_balance(loyalty_ledger *l, member_row *member)
{
    if (member->debt < 0 || member->lots_remaining < 0 ||
        member->lots_remaining - member->debt != member->balance)
        return fail(l, LOYALTY_ERR_INTERNAL,
                    "invariant broken for member %s: balance %lld, lots %lld, debt %lld",
                    member->external_id, (long long)member->balance,
                    (long long)member->lots_remaining, (long long)member->debt);
    return member_set_balance(l, member);
}

/* Credits points: repays debt first, the rest becomes a lot. */
int lots_credit(loyalty_ledger *l, member_row *member, int64_t tx, int64_t points,
                int64_t available_us, int64_t expires_us)
{
    static const char sql[] =
        "INSERT INTO lots (member_id, tx, earned_us, available_us, expires_us, points, remaining)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)";
    if (points <= 0)
        return fail(l, LOYALTY_ERR_INTERNAL, "a credit must be positive");
    if (add_i64(member->balance, points, &member->balance))
        return fail(l, LOYALTY_ERR_INVALID, "balance of %s would overflow", member->external_id);
    int64_t repaid = member->debt < points ? member->debt : points;
    member->debt -= repaid;
    member->lots_remaining += points - repaid; /* cannot overflow: bounded by the balance */
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member->id);
    sqlite3_bind_int64(st, 2, tx);
    sqlite3_bind_int64(st, 3, l->op_now_us);
    sqlite3_bind_int64(st, 4, available_us);
    if (expires_us > 0)
        sqlite3_bind_int64(st, 5, expires_us);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, points);
    sqlite3_bind_int64(st, 7, points - repaid);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return fail_db(l, "creating lot");
    int rc = figures_add_lot(l, member, points - repaid, available_us, expires_us);
    return rc == LOYALTY_OK ? store_balance(l, member) : rc;
}

/*
 * Finds the next lot to consume: the preferred transaction's own lot first
 * (pending or not; for a clawback expired or not, so that points which
 * expired anyway are not taken twice), then spendable lots first-expiring-
 * first, then (only for clawbacks) pending lots. Returns SQLITE_ROW with *lot_id and *remaining set,
 * or SQLITE_DONE when none is left.
 */
static int next_lot(loyalty_ledger *l, int64_t member_id, int64_t prefer_tx, int include_pending,
                    int64_t *lot_id, int64_t *remaining, int *rc)
{
    static const char sql[] =
        "SELECT id, remaining FROM lots"
        " WHERE member_id = ?1 AND remaining > 0"
        "   AND (expires_us IS NULL OR expires_us > ?2 OR (?4 AND tx = ?3))"
        "   AND (tx = ?3 OR available_us <= ?2 OR ?4)"
        " ORDER BY tx = ?3 DESC, available_us > ?2, expires_us IS NULL, expires_us, id LIMIT 1";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL) {
        *rc = l->error_code;
        return SQLITE_ERROR;
    }
    sqlite3_bind_int64(st, 1, member_id);
    sqlite3_bind_int64(st, 2, l->op_now_us);
    sqlite3_bind_int64(st, 3, prefer_tx);
    sqlite3_bind_int(st, 4, include_pending);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *lot_id = sqlite3_column_int64(st, 0);
        *remaining = sqlite3_column_int64(st, 1);
    } else if (step != SQLITE_DONE) {
        *rc = fail_db(l, "choosing lot");
    }
    sqlite3_reset(st);
    return step;
}

static int consume_lot(loyalty_ledger *l, int64_t lot_id, int64_t taken)
{
    static const char sql[] = "UPDATE lots SET remaining = remaining - ? WHERE id = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, taken);
    sqlite3_bind_int64(st, 2, lot_id);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    return step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "consuming lot");
}

/*
 * Debits points from the member's lots. prefer_tx (0: none) names a credit
 * whose own lot goes first. With allow_debt (clawbacks) pending lots are
 * used too and any shortfall becomes debt; otherwise a shortfall is
 * LOYALTY_ERR_INSUFFICIENT (callers check availability first).
 */
int lots_debit(loyalty_ledger *l, member_row *member, int64_t points, int64_t prefer_tx,
               int allow_debt)
{
    if (points <= 0)
        return fail(l, LOYALTY_ERR_INTERNAL, "a debit must be positive");
    int64_t left = points;
    int rc = LOYALTY_OK;
    while (left > 0) {
        int64_t lot_id = 0, remaining = 0;
        int step = next_lot(l, member->id, prefer_tx, allow_debt, &lot_id, &remaining, &rc);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW)
            return rc;
        int64_t taken = remaining < left ? remaining : left;
        rc = consume_lot(l, lot_id, taken);
        if (rc != LOYALTY_OK)
            return rc;
        left -= taken;
        member->lots_remaining -= taken;
    }
    if (left > 0 && !allow_debt)
        return fail(l, LOYALTY_ERR_INSUFFICIENT, "member %s has fewer than %lld available points",
                    member->external_id, (long long)points);
    if (add_i64(member->debt, left, &member->debt) || sub_i64(member->balance, points, &member->balance))
        return fail(l, LOYALTY_ERR_INVALID, "balance of %s would overflow", member->external_id);
    rc = figures_recompute(l, member);
    return rc == LOYALTY_OK ? store_balance(l, member) : rc;
}

/*
 * Removes remainders without choosing lots: every expired one (the sweep) or
 * every one (closing). points is what the caller computed and journaled;
 * the lots must agree.
 */
int lots_remove(loyalty_ledger *l, member_row *member, int expired_only, int64_t points)
{
    static const char sql_sum[] =
        "SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE member_id = ?1 AND remaining > 0"
        " AND (?2 = 0 OR expires_us <= ?3)";
    static const char sql_zero[] =
        "UPDATE lots SET remaining = 0 WHERE member_id = ?1 AND remaining > 0"
        " AND (?2 = 0 OR expires_us <= ?3)";
    sqlite3_stmt *st = stmt(l, sql_sum);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member->id);
    sqlite3_bind_int(st, 2, expired_only);
    sqlite3_bind_int64(st, 3, l->op_now_us);
    int step = sqlite3_step(st);
    int64_t found = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (step != SQLITE_ROW)
        return fail_db(l, "summing lots");
    if (found != points)
        return fail(l, LOYALTY_ERR_INTERNAL, "lots of %s hold %lld points, expected %lld",
                    member->external_id, (long long)found, (long long)points);
    st = stmt(l, sql_zero);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member->id);
    sqlite3_bind_int(st, 2, expired_only);
    sqlite3_bind_int64(st, 3, l->op_now_us);
    step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return fail_db(l, "removing lots");
    if (sub_i64(member->balance, points, &member->balance))
        return fail(l, LOYALTY_ERR_INVALID, "balance of %s would overflow", member->external_id);
    member->lots_remaining -= points;
    int rc = figures_recompute(l, member);
    return rc == LOYALTY_OK ? store_balance(l, member) : rc;
}

