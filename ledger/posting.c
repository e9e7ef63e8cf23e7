/*
 * posting.c - the machinery every points-changing operation shares: the
 * idempotency look-up by (kind, ref), the journal row, moving points between
 * lots, the audit payload (member and signed points delta always present)
 * and the result handed back. The operations themselves live in journal.c,
 * refunds.c, holds.c, expiry.c and status.c.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Fills the public result from the member's state after the posting. */
int posting_result(loyalty_ledger *l, const member_row *member, int64_t tx, int64_t points,
                   int64_t multiplier, int64_t reversed_tx, int64_t audit_seq, int replayed,
                   loyalty_posting *result)
{
    if (result == NULL)
        return LOYALTY_OK;
    loyalty_member_info info;
    memset(&info, 0, sizeof info);
    /* A replay only needs to know whether the operation applied, a batch only the
     * balance: skip the figures that cost queries. */
    int rc = l->replay || l->in_batch ? LOYALTY_OK : member_info(l, member, &info);
    if (rc != LOYALTY_OK)
        return rc;
    if (l->in_batch)
        info.balance = member->balance;
    memset(result, 0, sizeof *result);
    result->tx = tx;
    snprintf(result->member, sizeof result->member, "%s", member->external_id);
    result->points = points;
    result->replayed = replayed;
    result->balance = info.balance;
    result->available = info.available;
    result->multiplier_permille = multiplier;
    result->reversed_tx = reversed_tx;
    result->audit_seq = audit_seq;
    return LOYALTY_OK;
}

/*
 * Looks up (kind, ref). Returns LOYALTY_ERR_NOT_FOUND when unused (error
 * cleared), LOYALTY_OK with the original result (replayed) when used with the
 * same fingerprint, LOYALTY_ERR_CONFLICT when used with another.
 */
static int find_previous(loyalty_ledger *l, const char *kind, const char *ref,
                         const unsigned char hash[REQUEST_HASH_BYTES], loyalty_posting *result)
{
    static const char sql[] =
        "SELECT tx, member_id, points, COALESCE(multiplier_permille, 1000),"
        " COALESCE(reverses_tx, 0), audit_seq, request_hash FROM journal WHERE kind = ? AND ref = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_reset(st);
        return step == SQLITE_DONE ? LOYALTY_ERR_NOT_FOUND : fail_db(l, "looking up reference");
    }
    int64_t v[6];
    for (int i = 0; i < 6; i++)
        v[i] = sqlite3_column_int64(st, i);
    int same = sqlite3_column_bytes(st, 6) == REQUEST_HASH_BYTES &&
               memcmp(sqlite3_column_blob(st, 6), hash, REQUEST_HASH_BYTES) == 0;
    sqlite3_reset(st);
    if (!same)
        return fail(l, LOYALTY_ERR_CONFLICT,
                    "reference %s was already used with other parameters (%s, tx %lld)", ref, kind,
                    (long long)v[0]);
    member_row member;
    int rc = member_find_by_id(l, v[1], &member);
    if (rc == LOYALTY_OK)
        rc = posting_result(l, &member, v[0], v[2], v[3], v[4], v[5], 1, result);
    return rc;
}

/* Checks the reference and looks for an earlier use; LOYALTY_ERR_NOT_FOUND means "new". */
int posting_begin(loyalty_ledger *l, const char *kind, const char *ref,
                  const unsigned char hash[REQUEST_HASH_BYTES], loyalty_posting *result)
{
    int rc = check_id(l, "reference", ref);
    if (rc != LOYALTY_OK)
        return rc;
    if (l->probe_deferred)
        return LOYALTY_ERR_NOT_FOUND; /* the journal's unique (kind, ref) index will tell */
    rc = find_previous(l, kind, ref, hash, result);
    if (rc == LOYALTY_ERR_NOT_FOUND)
        clear_error(l);
    return rc;
}

static void bind_optional_integer(sqlite3_stmt *st, int index, int64_t v)
{
    if (v != 0)
        sqlite3_bind_int64(st, index, v);
    else
        sqlite3_bind_null(st, index);
}

/*
 * Inserts the journal row for member, naming the member's previous tx (read
 * from the member row, not from the caller's copy of it); *tx receives its
 * id and member->last_journal_tx becomes it, for member_set_balance to store
 * with the new balance.
 */
static int journal_insert(loyalty_ledger *l, member_row *member, const journal_row *row,
                          int64_t *tx)
{
    static const char sql[] =
        "INSERT INTO journal (member_id, kind, ref, request_hash, points, balance_after,"
        " amount_minor, multiplier_permille, reason, note, reverses_tx, ts_us, actor, audit_seq,"
        " order_tx, member_prev_tx) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
        " ?13, ?14, ?15, (SELECT last_journal_tx FROM members WHERE id = ?1))";
    int64_t balance_after;
    if (add_i64(member->balance, row->points, &balance_after))
        return fail(l, LOYALTY_ERR_INVALID, "balance of %s would overflow", member->external_id);
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member->id);
    sqlite3_bind_text(st, 2, row->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row->ref, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, row->request_hash, REQUEST_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, row->points);
    sqlite3_bind_int64(st, 6, balance_after);
    bind_optional_integer(st, 7, row->amount_minor);
    bind_optional_integer(st, 8, row->multiplier_permille);
    sqlite3_bind_text(st, 9, row->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, row->note, -1, SQLITE_STATIC);
    bind_optional_integer(st, 11, row->reverses_tx);
    sqlite3_bind_int64(st, 12, l->op_now_us);
    sqlite3_bind_text(st, 13, l->op_actor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 14, l->next_seq);
    bind_optional_integer(st, 15, row->order_tx);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE && l->probe_deferred &&
        sqlite3_extended_errcode(l->db) == SQLITE_CONSTRAINT_UNIQUE)
        return fail(l, LOYALTY_ERR_CONFLICT, "reference %s is in use", row->ref); /* batch.c retries */
    if (step != SQLITE_DONE)
        return fail_db(l, "writing journal");
    *tx = sqlite3_last_insert_rowid(l->db);
    member->last_journal_tx = *tx;
    return LOYALTY_OK;
}

/* A credit's lot: pending for purchases, expiring per the program in force. */
static int credit(loyalty_ledger *l, member_row *member, int64_t tx, const journal_row *row)
{
    program_rules rules;
    int rc = program_current(l, &rules);
    if (rc != LOYALTY_OK)
        return rc;
    const int64_t day_us = INT64_C(86400000000);
    int64_t available_us = l->op_now_us, expires_us = 0;
    if (row->amount_minor && row->order_tx == 0 && row->reverses_tx == 0)
        available_us += rules.pending_days * day_us;
    if (rules.expiry_days > 0)
        expires_us = l->op_now_us + rules.expiry_days * day_us;
    return lots_credit(l, member, tx, row->points, available_us, expires_us);
}

/* Applies the row's points to the lots; each way ends by storing the member
 * row (balance and the chain's newest tx). */
static int move_points(loyalty_ledger *l, member_row *member, int64_t tx, const journal_row *row)
{
    if (row->points > 0)
        return credit(l, member, tx, row);
    if (row->points == 0)
        return member_set_balance(l, member);
    switch (row->move) {
    case MOVE_EXPIRED:
    case MOVE_ALL:
        return lots_remove(l, member, row->move == MOVE_EXPIRED, -row->points);
    case MOVE_CLAWBACK:
        return lots_debit(l, member, -row->points, row->prefer_tx, 1);
    default:
        return lots_debit(l, member, -row->points, row->prefer_tx, 0);
    }
}

/* The member a posting applies to; closed members take no postings. */
int posting_member(loyalty_ledger *l, const char *external_id, member_row *member)
{
    int rc = member_find(l, external_id, member);
    if (rc == LOYALTY_OK && strcmp(member->status, "closed") == 0)
        rc = fail(l, LOYALTY_ERR_NOT_PERMITTED, "member %s is closed", external_id);
    return rc;
}

/* Spending needs an active member (frozen members still earn, but cannot spend). */
int posting_require_active(loyalty_ledger *l, const member_row *member)
{
    if (strcmp(member->status, "active") != 0)
        return fail(l, LOYALTY_ERR_NOT_PERMITTED, "member %s is %s", member->external_id,
                    member->status);
    return LOYALTY_OK;
}

/* Requires `points` available now, not counting `own_hold` points the caller's hold reserved. */
int posting_require_available(loyalty_ledger *l, const member_row *member, int64_t points,
                              int64_t own_hold)
{
    loyalty_member_info info;
    int rc = member_info(l, member, &info);
    int64_t available = info.available;
    if (rc == LOYALTY_OK && own_hold > 0) {
        lot_sums sums;
        rc = lots_sum(l, member->id, l->op_now_us, &sums);
        available = sums.available - (info.held - own_hold);
    }
    if (rc == LOYALTY_OK && available < points)
        rc = fail(l, LOYALTY_ERR_INSUFFICIENT, "member %s has %lld available points, fewer than %lld",
                  member->external_id, (long long)(available > 0 ? available : 0), (long long)points);
    return rc;
}

void payload_text(json_t *p, const char *key, const char *value)
{
    if (value)
        jset(p, key, json_string(value));
}

/* The posting's payload: tx, member, ref, what it refers to, points, texts, extra fields. */
static json_t *posting_payload(int64_t tx, const member_row *member, const journal_row *row)
{
    json_t *p = json_object();
    jset(p, "tx", json_integer(tx));
    jset(p, "member", json_string(member->external_id));
    jset(p, "ref", json_string(row->ref));
    if (row->reverses_tx)
        jset(p, "reverses", json_integer(row->reverses_tx));
    if (row->order_ref) {
        jset(p, "order", json_string(row->order_ref));
        jset(p, "amount", json_integer(row->amount_minor));
    } else if (row->amount_minor) {
        jset(p, "amount", json_integer(row->amount_minor));
        jset(p, "multiplier_permille", json_integer(row->multiplier_permille));
    }
    jset(p, "points", json_integer(row->points));
    payload_text(p, "reason", row->reason);
    payload_text(p, "note", row->note);
    if (row->extra)
        jupdate(p, row->extra);
    return p;
}

/* Writes a posting: journal row, lots, balance, audit entry (action), result. */
int posting_write(loyalty_ledger *l, member_row *member, const journal_row *row, const char *action,
                  loyalty_posting *result)
{
    int64_t tx = 0;
    int64_t audit_seq = l->next_seq;
    int rc = journal_insert(l, member, row, &tx);
    if (rc == LOYALTY_OK)
        rc = move_points(l, member, tx, row);
    if (rc != LOYALTY_OK)
        return rc;
    rc = audit_append(l, action, posting_payload(tx, member, row));
    if (rc == LOYALTY_OK)
        rc = posting_result(l, member, tx, row->points,
                            row->multiplier_permille ? row->multiplier_permille : 1000,
                            row->reverses_tx, audit_seq, 0, result);
    if (rc == LOYALTY_OK)
        l->last_tx = tx;
    return rc;
}
