/*
 * tier_reports.c - reading tiers: the ladder in force with its benefits and
 * member counts, and a member's tier history with causes.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

LOYALTY_API int loyalty_tiers(loyalty_ledger *l, loyalty_tier_fn callback, void *context)
{
    static const char sql[] =
        "SELECT t.code, t.name, t.position, t.threshold, t.multiplier_permille,"
        " COALESCE((SELECT group_concat(g.benefit_code, ',') FROM (SELECT benefit_code"
        "  FROM program_tier_benefits WHERE version = t.version AND tier_code = t.code"
        "  ORDER BY benefit_code) g), ''),"
        " (SELECT COUNT(*) FROM members m WHERE m.tier = t.code AND m.status != 'closed')"
        " FROM program_tiers t WHERE t.version = (SELECT MAX(version) FROM program)"
        " ORDER BY t.position";
    if (callback == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "callback is required") : LOYALTY_ERR_MISUSE;
    int rc = read_begin_as(l, CAP_READ);
    sqlite3_stmt *st = rc == LOYALTY_OK ? stmt(l, sql) : NULL;
    if (rc == LOYALTY_OK && st == NULL)
        rc = l->error_code;
    int step = SQLITE_DONE;
    while (rc == LOYALTY_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        loyalty_tier_info t = {
            .code = (const char *)sqlite3_column_text(st, 0),
            .name = (const char *)sqlite3_column_text(st, 1),
            .position = sqlite3_column_int64(st, 2),
            .threshold = sqlite3_column_int64(st, 3),
            .multiplier_permille = sqlite3_column_int64(st, 4),
            .benefits = (const char *)sqlite3_column_text(st, 5),
            .members = sqlite3_column_int64(st, 6),
        };
        if (callback(context, &t) != 0)
            break;
    }
    if (rc == LOYALTY_OK && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = fail_db(l, "reading tiers");
    read_end(l);
    return rc;
}

static const char *optional(sqlite3_stmt *st, int column)
{
    return sqlite3_column_type(st, column) == SQLITE_NULL ? NULL
                                                          : (const char *)sqlite3_column_text(st, column);
}

LOYALTY_API int loyalty_tier_history(loyalty_ledger *l, const char *member,
                                     loyalty_tier_change_fn callback, void *context)
{
    static const char sql[] = "SELECT from_tier, to_tier, cause, qualifying, reason, ts_us, actor,"
                              " audit_seq FROM tier_changes WHERE member_id = ? ORDER BY id";
    if (callback == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "callback is required") : LOYALTY_ERR_MISUSE;
    int rc = read_begin_as(l, CAP_READ);
    if (rc != LOYALTY_OK)
        return rc;
    member_row row;
    rc = check_id(l, "member id", member);
    if (rc == LOYALTY_OK)
        rc = member_find(l, member, &row);
    sqlite3_stmt *st = rc == LOYALTY_OK ? stmt(l, sql) : NULL;
    if (rc == LOYALTY_OK && st == NULL)
        rc = l->error_code;
    int step = SQLITE_DONE;
    if (rc == LOYALTY_OK)
        sqlite3_bind_int64(st, 1, row.id);
    while (rc == LOYALTY_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        loyalty_tier_change c = {
            .from = optional(st, 0),
            .to = (const char *)sqlite3_column_text(st, 1),
            .cause = (const char *)sqlite3_column_text(st, 2),
            .qualifying = sqlite3_column_int64(st, 3),
            .reason = optional(st, 4),
            .ts_us = sqlite3_column_int64(st, 5),
            .actor = (const char *)sqlite3_column_text(st, 6),
            .audit_seq = sqlite3_column_int64(st, 7),
        };
        if (callback(context, &c) != 0)
            break;
    }
    if (rc == LOYALTY_OK && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = fail_db(l, "reading tier history");
    read_end(l);
    return rc;
}
