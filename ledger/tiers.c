/*
 * tiers.c - membership tiers. Qualifying points are the purchase points
 * earned in the program's rolling window, less what refunds and reversals
 * took back from those purchases. An award that crosses a threshold upgrades
 * at once (it earns at the old multiplier, the next at the new one); only
 * the evaluation run moves members down, and it also places members whose
 * tier is not in the ladder in force. Every change is kept in tier_changes
 * with its cause and audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const int64_t day_us = INT64_C(86400000000);

/* Reads one tier row from a statement selecting code, position, threshold, multiplier. */
static int read_tier(loyalty_ledger *l, sqlite3_stmt *st, tier_row *t)
{
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        snprintf(t->code, sizeof t->code, "%s", (const char *)sqlite3_column_text(st, 0));
        t->position = sqlite3_column_int64(st, 1);
        t->threshold = sqlite3_column_int64(st, 2);
        t->multiplier_permille = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return LOYALTY_ERR_NOT_FOUND;
    return step == SQLITE_ROW ? LOYALTY_OK : fail_db(l, "reading tiers");
}

/* The tier `code` of a program version; LOYALTY_ERR_NOT_FOUND (no message) when absent. */
int tier_lookup(loyalty_ledger *l, int64_t version, const char *code, tier_row *t)
{
    static const char sql[] = "SELECT code, position, threshold, multiplier_permille"
                              " FROM program_tiers WHERE version = ? AND code = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, version);
    sqlite3_bind_text(st, 2, code ? code : "", -1, SQLITE_STATIC);
    return read_tier(l, st, t);
}

/* The highest tier that `points` qualify for; LOYALTY_ERR_NOT_FOUND when there is no ladder. */
static int tier_for_points(loyalty_ledger *l, int64_t version, int64_t points, tier_row *t)
{
    static const char sql[] = "SELECT code, position, threshold, multiplier_permille"
                              " FROM program_tiers WHERE version = ? AND threshold <= ?"
                              " ORDER BY position DESC LIMIT 1";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, version);
    sqlite3_bind_int64(st, 2, points < 0 ? 0 : points);
    return read_tier(l, st, t);
}

/*
 * The tier whose rules apply to a member: their tier when it is in the
 * ladder in force, else the default (first) tier. LOYALTY_ERR_NOT_FOUND when
 * the program has no tiers.
 */
int tier_effective(loyalty_ledger *l, const member_row *member, int64_t version, tier_row *t)
{
    int rc = tier_lookup(l, version, member->tier, t);
    return rc == LOYALTY_ERR_NOT_FOUND ? tier_for_points(l, version, 0, t) : rc;
}

int tier_qualifying(loyalty_ledger *l, int64_t member_id, int64_t now_us, int64_t window_days,
                    int64_t *points)
{
    /* The member's rows, by walking their chain from the newest (schema 0006). */
    static const char sql[] =
        "WITH RECURSIVE chain(tx) AS ("
        "  SELECT last_journal_tx FROM members WHERE id = ?1 AND last_journal_tx IS NOT NULL"
        "  UNION ALL"
        "  SELECT c.member_prev_tx FROM journal c JOIN chain ON c.tx = chain.tx"
        "  WHERE c.member_prev_tx IS NOT NULL)"
        " SELECT COALESCE(SUM(j.points"
        " + COALESCE((SELECT SUM(f.points) FROM journal f WHERE f.order_tx = j.tx), 0)"
        " + COALESCE((SELECT SUM(r.points) FROM journal r WHERE r.reverses_tx = j.tx), 0)), 0)"
        " FROM chain JOIN journal j ON j.tx = chain.tx WHERE j.kind = 'award'"
        " AND j.amount_minor IS NOT NULL AND j.ts_us > ?2";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member_id);
    sqlite3_bind_int64(st, 2, now_us - window_days * day_us);
    int step = sqlite3_step(st);
    *points = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return step == SQLITE_ROW ? LOYALTY_OK : fail_db(l, "computing qualifying points");
}

/* The earn multiplier for a member now: their effective tier's, or 1000 without tiers. */
int tier_multiplier(loyalty_ledger *l, const member_row *member, const program_rules *rules,
                    int64_t *multiplier)
{
    tier_row t;
    *multiplier = 1000;
    if (rules->tier_count == 0)
        return LOYALTY_OK;
    int rc = tier_effective(l, member, rules->version, &t);
    *multiplier = rc == LOYALTY_OK ? t.multiplier_permille : 1000;
    if (rc == LOYALTY_ERR_NOT_FOUND)
        rc = LOYALTY_OK;
    return rc;
}

/*
 * Whether a purchase award of `points` crosses a threshold and so lifts the
 * member at once. Only a crossing upgrades: a member below the tier their
 * points already reached (set down by hand, or whose tier left the ladder)
 * waits for the evaluation. *to is set to the new tier's code ("" when no
 * upgrade); *qualifying to the qualifying points including the award.
 */
int tier_upgrade_for(loyalty_ledger *l, const member_row *member, const program_rules *rules,
                     int64_t points, char to[LOYALTY_CODE_MAX + 1], int64_t *qualifying)
{
    to[0] = '\0';
    *qualifying = 0;
    if (rules->tier_count == 0)
        return LOYALTY_OK; /* no ladder: nothing to qualify for */
    int64_t before = 0;
    int rc = tier_qualifying(l, member->id, l->op_now_us, rules->tier_window_days, &before);
    if (rc != LOYALTY_OK || add_i64(before, points, qualifying))
        return rc != LOYALTY_OK ? rc : fail(l, LOYALTY_ERR_INTERNAL, "qualifying points overflow");
    tier_row reached_before, reached, current;
    rc = tier_for_points(l, rules->version, *qualifying, &reached);
    if (rc == LOYALTY_OK)
        rc = tier_for_points(l, rules->version, before, &reached_before);
    if (rc == LOYALTY_ERR_NOT_FOUND)
        return LOYALTY_OK; /* no ladder */
    if (rc != LOYALTY_OK)
        return rc;
    rc = tier_lookup(l, rules->version, member->tier, &current);
    if (rc == LOYALTY_ERR_NOT_FOUND)
        current.position = -1;
    else if (rc != LOYALTY_OK)
        return rc;
    if (reached.position > reached_before.position && reached.position > current.position)
        snprintf(to, LOYALTY_CODE_MAX + 1, "%s", reached.code);
    return LOYALTY_OK;
}

/* Moves the member and records the change (audit_seq: the entry that records it). */
int tier_record(loyalty_ledger *l, member_row *member, const char *to, const char *cause,
                int64_t qualifying, const char *reason, int64_t audit_seq)
{
    static const char sql_member[] = "UPDATE members SET tier = ? WHERE id = ?";
    static const char sql_change[] =
        "INSERT INTO tier_changes (member_id, from_tier, to_tier, cause, qualifying, reason, ts_us,"
        " actor, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = stmt(l, sql_member);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, member->id);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE || (st = stmt(l, sql_change)) == NULL)
        return step != SQLITE_DONE ? fail_db(l, "changing tier") : l->error_code;
    sqlite3_bind_int64(st, 1, member->id);
    if (member->tier[0])
        sqlite3_bind_text(st, 2, member->tier, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, cause, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, qualifying);
    sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, l->op_now_us);
    sqlite3_bind_text(st, 8, l->op_actor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, audit_seq);
    step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return fail_db(l, "recording tier change");
    snprintf(member->tier, sizeof member->tier, "%s", to);
    return LOYALTY_OK;
}

/* A tier_change entry: member, from (when there was one), to, cause, qualifying, reason. */
static int audit_change(loyalty_ledger *l, member_row *member, const char *to, const char *cause,
                        int64_t qualifying, const char *reason)
{
    json_t *p = json_object();
    jset(p, "member", json_string(member->external_id));
    if (member->tier[0])
        jset(p, "from", json_string(member->tier));
    jset(p, "to", json_string(to));
    jset(p, "cause", json_string(cause));
    jset(p, "qualifying", json_integer(qualifying));
    payload_text(p, "reason", reason);
    int64_t seq = l->next_seq;
    int rc = tier_record(l, member, to, cause, qualifying, reason, seq);
    if (rc != LOYALTY_OK) {
        json_decref(p);
        return rc;
    }
    return audit_append(l, "tier_change", p);
}

/* Evaluation of one member: into the tier their qualifying points reach now. *moved: -1 down,
 * 1 up, 2 placed, 0 unchanged. */
int tier_evaluate_apply(loyalty_ledger *l, const char *external_id, int *moved)
{
    member_row member;
    program_rules rules;
    tier_row target, current;
    int64_t qualifying = 0;
    *moved = 0;
    int rc = member_find(l, external_id, &member);
    if (rc == LOYALTY_OK)
        rc = program_current(l, &rules);
    if (rc == LOYALTY_OK)
        rc = tier_qualifying(l, member.id, l->op_now_us, rules.tier_window_days, &qualifying);
    if (rc == LOYALTY_OK)
        rc = tier_for_points(l, rules.version, qualifying, &target);
    if (rc == LOYALTY_ERR_NOT_FOUND || strcmp(member.status, "closed") == 0)
        return LOYALTY_OK;
    if (rc != LOYALTY_OK || strcmp(target.code, member.tier) == 0)
        return rc;
    rc = tier_lookup(l, rules.version, member.tier, &current);
    if (rc != LOYALTY_OK && rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    *moved = rc == LOYALTY_ERR_NOT_FOUND ? 2 : target.position > current.position ? 1 : -1;
    return audit_change(l, &member, target.code, "evaluate", qualifying, NULL);
}

int tier_set_apply(loyalty_ledger *l, const char *external_id, const char *code, const char *reason)
{
    member_row member;
    program_rules rules;
    tier_row target;
    int64_t qualifying = 0;
    int rc = check_id(l, "member id", external_id);
    if (rc == LOYALTY_OK)
        rc = check_id(l, "tier code", code);
    if (rc == LOYALTY_OK)
        rc = check_id(l, "reason code", reason);
    if (rc == LOYALTY_OK)
        rc = posting_member(l, external_id, &member);
    if (rc == LOYALTY_OK)
        rc = program_current(l, &rules);
    if (rc == LOYALTY_OK && (rc = tier_lookup(l, rules.version, code, &target)) == LOYALTY_ERR_NOT_FOUND)
        rc = fail(l, LOYALTY_ERR_NOT_FOUND, "the program has no tier %s", code);
    if (rc == LOYALTY_OK)
        rc = tier_qualifying(l, member.id, l->op_now_us, rules.tier_window_days, &qualifying);
    if (rc != LOYALTY_OK || strcmp(member.tier, code) == 0)
        return rc;
    return audit_change(l, &member, code, "manual", qualifying, reason);
}

LOYALTY_API int loyalty_tier_set(loyalty_ledger *l, const char *member, const char *tier,
                                 const char *reason, loyalty_member_info *info)
{
    int rc = write_begin_as(l, CAP_SET_TIER);
    if (rc != LOYALTY_OK)
        return rc;
    rc = tier_set_apply(l, member, tier, reason);
    member_row row;
    if (rc == LOYALTY_OK && info && (rc = member_find(l, member, &row)) == LOYALTY_OK)
        rc = member_info(l, &row, info);
    return write_end(l, rc);
}
