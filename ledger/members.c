/*
 * members.c - members: opaque external ids with a status, a tier, a cached
 * balance and a recorded debt. Adding is idempotent by id; reading combines
 * the member row with the sums of its lots at the handle's clock (the
 * figures kept on the row while they hold, else the lots themselves).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define MEMBER_COLUMNS \
    "id, external_id, status, COALESCE(tier, ''), balance, debt, created_us, lots_remaining," \
    " COALESCE(last_journal_tx, 0), lots_at_us, lots_until_us, lots_available, lots_pending," \
    " lots_expired, lots_next_expiry_us, lots_next_expiry_points"
#define MEMBER_COLUMN_COUNT 16 /* the columns above; a statement's own come after them */

static void copy_column(char *out, size_t size, sqlite3_stmt *st, int column)
{
    text_copy(out, size, (const char *)sqlite3_column_text(st, column));
}

/* Steps st and reads MEMBER_COLUMNS into row, and the column after them into *extra if asked. */
static int read_member(loyalty_ledger *l, sqlite3_stmt *st, member_row *row, const char *what,
                       int64_t *extra)
{
    int step = sqlite3_step(st);
    int rc = LOYALTY_OK;
    if (step == SQLITE_ROW) {
        if (extra)
            *extra = sqlite3_column_int64(st, MEMBER_COLUMN_COUNT);
        row->id = sqlite3_column_int64(st, 0);
        copy_column(row->external_id, sizeof row->external_id, st, 1);
        copy_column(row->status, sizeof row->status, st, 2);
        copy_column(row->tier, sizeof row->tier, st, 3);
        row->balance = sqlite3_column_int64(st, 4);
        row->debt = sqlite3_column_int64(st, 5);
        row->created_us = sqlite3_column_int64(st, 6);
        row->lots_remaining = sqlite3_column_int64(st, 7);
        row->last_journal_tx = sqlite3_column_int64(st, 8);
        row->lots_at_us = sqlite3_column_int64(st, 9);
        row->lots_until_us = sqlite3_column_int64(st, 10);
        row->lots = (lot_sums){
            .available = sqlite3_column_int64(st, 11),
            .pending = sqlite3_column_int64(st, 12),
            .expired = sqlite3_column_int64(st, 13),
            .next_expiry_us = sqlite3_column_int64(st, 14),
            .next_expiry_points = sqlite3_column_int64(st, 15),
        };
    } else if (step == SQLITE_DONE) {
        rc = fail(l, LOYALTY_ERR_NOT_FOUND, "no member %s", what);
    } else {
        rc = fail_db(l, "reading member");
    }
    sqlite3_reset(st);
    return rc;
}

/* The member by external id; with held, also its open holds at now_us, in the same statement. */
static int find_by_external_id(loyalty_ledger *l, const char *external_id, member_row *row,
                               int64_t now_us, int64_t *held)
{
    static const char plain[] = "SELECT " MEMBER_COLUMNS " FROM members WHERE external_id = ?1";
    static const char with_held[] = "SELECT " MEMBER_COLUMNS ", " SQL_HELD_POINTS("members.id", "?2")
                                    " FROM members WHERE external_id = ?1";
    sqlite3_stmt *st = stmt(l, held ? with_held : plain);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, external_id, -1, SQLITE_STATIC);
    if (held)
        sqlite3_bind_int64(st, 2, now_us);
    return read_member(l, st, row, external_id, held);
}

int member_find(loyalty_ledger *l, const char *external_id, member_row *row)
{
    return find_by_external_id(l, external_id, row, 0, NULL);
}

int member_find_by_id(loyalty_ledger *l, int64_t id, member_row *row)
{
    static const char sql[] = "SELECT " MEMBER_COLUMNS " FROM members WHERE id = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, id);
    return read_member(l, st, row, "with this internal id", NULL);
}

/*
 * Stores the member's figures (balance, debt, lots total, the lots figures
 * kept for look-ups) and the newest tx of its journal chain. The chain head
 * only moves forward (MAX): a caller holding a copy of the row read before a
 * later posting of the same member cannot rewind it.
 */
int member_set_balance(loyalty_ledger *l, const member_row *member)
{
    static const char sql[] =
        "UPDATE members SET balance = ?1, debt = ?2, lots_remaining = ?3,"
        " last_journal_tx = NULLIF(MAX(COALESCE(last_journal_tx, 0), ?4), 0),"
        " lots_at_us = ?5, lots_until_us = ?6, lots_available = ?7, lots_pending = ?8,"
        " lots_expired = ?9, lots_next_expiry_us = ?10, lots_next_expiry_points = ?11"
        " WHERE id = ?12";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member->balance);
    sqlite3_bind_int64(st, 2, member->debt);
    sqlite3_bind_int64(st, 3, member->lots_remaining);
    sqlite3_bind_int64(st, 4, member->last_journal_tx);
    sqlite3_bind_int64(st, 5, member->lots_at_us);
    sqlite3_bind_int64(st, 6, member->lots_until_us);
    sqlite3_bind_int64(st, 7, member->lots.available);
    sqlite3_bind_int64(st, 8, member->lots.pending);
    sqlite3_bind_int64(st, 9, member->lots.expired);
    sqlite3_bind_int64(st, 10, member->lots.next_expiry_us);
    sqlite3_bind_int64(st, 11, member->lots.next_expiry_points);
    sqlite3_bind_int64(st, 12, member->id);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return fail_db(l, "updating balance");
    return sqlite3_changes(l->db) == 1 ? LOYALTY_OK
                                       : fail(l, LOYALTY_ERR_INTERNAL, "member row vanished");
}

/* Adds the member unless the id exists (then *replayed = 1 and nothing is written). */
int member_add_apply(loyalty_ledger *l, const char *external_id, int *replayed)
{
    /* No lots yet: the kept figures are zero from now on, for ever (0008). */
    static const char sql[] =
        "INSERT INTO members (external_id, created_us, lots_at_us, lots_until_us, tier)"
        " VALUES (?1, ?2, ?2, 9223372036854775807, (SELECT code FROM program_tiers"
        " WHERE position = 0 AND version = (SELECT MAX(version) FROM program)))";
    int rc = check_id(l, "member id", external_id);
    if (rc != LOYALTY_OK)
        return rc;
    member_row existing;
    rc = member_find(l, external_id, &existing);
    if (rc == LOYALTY_OK) {
        *replayed = 1;
        return LOYALTY_OK;
    }
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    clear_error(l);
    *replayed = 0;
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, external_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, l->op_now_us);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return fail_db(l, "adding member");
    json_t *payload = json_object();
    jset(payload, "member", json_string(external_id));
    return audit_append(l, "member_add", payload);
}

/*
 * The public view of a member at now_us: the row plus its lots and its open
 * holds (read here unless the caller read them at now_us: held_read).
 */
static int member_view(loyalty_ledger *l, const member_row *row, int64_t now_us,
                       const int64_t *held_read, loyalty_member_info *info)
{
    lot_sums sums;
    int64_t held = held_read ? *held_read : 0;
    memset(info, 0, sizeof *info);
    program_rules rules;
    /* A look-up inside the range of the figures kept on the row does not read
     * the lots; writes always do. Open holds (a small index) are always read,
     * here or in the caller's statement. */
    int rc = LOYALTY_OK;
    if (!l->in_write && !l->replay && lots_figures_hold(row, now_us))
        sums = row->lots;
    else
        rc = lots_sum(l, row->id, now_us, &sums);
    if (rc == LOYALTY_OK && held_read == NULL)
        rc = holds_held(l, row->id, now_us, &held);
    if (rc == LOYALTY_OK)
        rc = program_current(l, &rules);
    if (rc == LOYALTY_OK && rules.tier_count > 0)
        rc = tier_qualifying(l, row->id, now_us, rules.tier_window_days, &info->qualifying);
    if (rc != LOYALTY_OK)
        return rc;
    text_copy(info->member, sizeof info->member, row->external_id);
    text_copy(info->status, sizeof info->status, row->status);
    text_copy(info->tier, sizeof info->tier, row->tier);
    info->balance = row->balance;
    info->pending = sums.pending;
    info->held = held;
    info->expired = sums.expired;
    info->next_expiry_us = sums.next_expiry_us;
    info->next_expiry_points = sums.next_expiry_points;
    info->debt = row->debt;
    info->available = sums.available > held ? sums.available - held : 0;
    info->created_us = row->created_us;
    return LOYALTY_OK;
}

/* Fills the public view of a member: the row plus its lots and holds at the clock. */
int member_info(loyalty_ledger *l, const member_row *row, loyalty_member_info *info)
{
    int64_t now_us = l->in_write || l->replay ? l->op_now_us : clock_now_us(l);
    return member_view(l, row, now_us, NULL, info);
}

LOYALTY_API int loyalty_member_add(loyalty_ledger *l, const char *member,
                                   loyalty_member_info *info, int *replayed)
{
    int was_replayed = 0;
    int rc = write_begin_as(l, CAP_ADD_MEMBER);
    if (rc != LOYALTY_OK)
        return rc;
    rc = member_add_apply(l, member, &was_replayed);
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

LOYALTY_API int loyalty_member_get(loyalty_ledger *l, const char *member, loyalty_member_info *info)
{
    if (info == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "info is required") : LOYALTY_ERR_MISUSE;
    int rc = read_begin_as(l, CAP_READ);
    if (rc != LOYALTY_OK)
        return rc;
    rc = check_id(l, "member id", member);
    /* One statement reads the row and its open holds (a look-up's commonest case
     * then needs no other: the lots figures kept on the row hold). */
    int64_t now_us = clock_now_us(l), held = 0;
    member_row row;
    if (rc == LOYALTY_OK)
        rc = find_by_external_id(l, member, &row, now_us, &held);
    if (rc == LOYALTY_OK)
        rc = member_view(l, &row, now_us, &held, info);
    read_end(l);
    return rc;
}
