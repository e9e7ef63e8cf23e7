/*
 * benefits.c - benefits granted by tiers, and claims on them. A limited
 * benefit allows `limit` claims per calendar period in UTC (day; ISO week
 * from Monday; month; year); an unlimited one has no period. Claims are
 * idempotent by reference and refused when the member's tier does not grant
 * the benefit, when it is used up, or for a frozen or closed member.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* The calendar period (UTC) holding now_us: [start, end). Pure. Returns -1 for an unknown period. */
int benefit_period(const char *period, int64_t now_us, int64_t *start_us, int64_t *end_us)
{
    time_t seconds = (time_t)(now_us / 1000000 - (now_us % 1000000 < 0));
    struct tm t;
    if (!ladder_valid_period(period) || gmtime_r(&seconds, &t) == NULL)
        return -1;
    t.tm_hour = t.tm_min = t.tm_sec = 0;
    struct tm end = t;
    if (strcmp(period, "day") == 0) {
        end.tm_mday += 1;
    } else if (strcmp(period, "week") == 0) {
        t.tm_mday -= (t.tm_wday + 6) % 7; /* back to Monday */
        end = t;
        end.tm_mday += 7;
    } else if (strcmp(period, "month") == 0) {
        t.tm_mday = 1;
        end = t;
        end.tm_mon += 1;
    } else {
        t.tm_mday = 1;
        t.tm_mon = 0;
        end = t;
        end.tm_year += 1;
    }
    *start_us = (int64_t)timegm(&t) * 1000000;
    *end_us = (int64_t)timegm(&end) * 1000000;
    return 0;
}

typedef struct benefit_row {
    char code[LOYALTY_CODE_MAX + 1];
    char name[LOYALTY_CODE_MAX + 1];
    int64_t limit; /* 0: unlimited */
    char period[8];
    int granted;   /* by the member's tier */
} benefit_row;

static void read_benefit(sqlite3_stmt *st, benefit_row *b)
{
    snprintf(b->code, sizeof b->code, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(b->name, sizeof b->name, "%s", (const char *)sqlite3_column_text(st, 1));
    b->limit = sqlite3_column_int64(st, 2);
    const unsigned char *period = sqlite3_column_text(st, 3);
    snprintf(b->period, sizeof b->period, "%s", period ? (const char *)period : "");
    b->granted = sqlite3_column_int(st, 4);
}

static int find_benefit(loyalty_ledger *l, int64_t version, const char *tier, const char *code,
                        benefit_row *b)
{
    static const char sql[] =
        "SELECT b.code, b.name, COALESCE(b.claim_limit, 0), b.period,"
        " EXISTS (SELECT 1 FROM program_tier_benefits g WHERE g.version = b.version"
        " AND g.tier_code = ?2 AND g.benefit_code = b.code)"
        " FROM program_benefits b WHERE b.version = ?1 AND b.code = ?3";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, version);
    sqlite3_bind_text(st, 2, tier, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, code, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        read_benefit(st, b);
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return fail(l, LOYALTY_ERR_NOT_FOUND, "the program has no benefit %s", code);
    return step == SQLITE_ROW ? LOYALTY_OK : fail_db(l, "reading benefits");
}

/* Claims of a benefit by a member in the period starting at start_us (0: unlimited). */
static int count_claims(loyalty_ledger *l, int64_t member_id, const char *code, int64_t start_us,
                        int64_t *used)
{
    static const char sql[] = "SELECT COUNT(*) FROM benefit_claims"
                              " WHERE member_id = ? AND benefit = ? AND period_start_us = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member_id);
    sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, start_us);
    int step = sqlite3_step(st);
    *used = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return step == SQLITE_ROW ? LOYALTY_OK : fail_db(l, "counting claims");
}

/* The status of one benefit for a member at now_us. */
static int benefit_status(loyalty_ledger *l, int64_t member_id, const benefit_row *b,
                          int64_t now_us, loyalty_benefit_status *s)
{
    memset(s, 0, sizeof *s);
    s->code = b->code;
    s->name = b->name;
    s->limit = b->limit;
    if (b->limit > 0) {
        s->period = b->period;
        benefit_period(b->period, now_us, &s->period_start_us, &s->period_end_us);
    }
    int rc = count_claims(l, member_id, b->code, s->period_start_us, &s->used);
    s->remaining = b->limit > 0 ? (b->limit > s->used ? b->limit - s->used : 0) : -1;
    return rc;
}

static int insert_claim(loyalty_ledger *l, const member_row *member, const loyalty_claim_request *r,
                        const unsigned char hash[REQUEST_HASH_BYTES], const char *tier,
                        int64_t start_us, int64_t limit)
{
    static const char sql[] =
        "INSERT INTO benefit_claims (member_id, benefit, ref, request_hash, tier, period_start_us,"
        " ts_us, actor, audit_seq, claim_limit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, member->id);
    sqlite3_bind_text(st, 2, r->benefit, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->ref, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, hash, REQUEST_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, tier, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, start_us);
    sqlite3_bind_int64(st, 7, l->op_now_us);
    sqlite3_bind_text(st, 8, l->op_actor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, l->next_seq);
    if (limit > 0)
        sqlite3_bind_int64(st, 10, limit);
    else
        sqlite3_bind_null(st, 10);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    return step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "recording claim");
}

/* An earlier claim with this reference: replayed result, conflict, or NOT_FOUND when new. */
static int previous_claim(loyalty_ledger *l, const loyalty_claim_request *r,
                          const unsigned char hash[REQUEST_HASH_BYTES], loyalty_claim_result *result)
{
    static const char sql[] =
        "SELECT c.request_hash, c.period_start_us, c.audit_seq, COALESCE(c.claim_limit, 0),"
        " (SELECT COUNT(*) FROM benefit_claims d WHERE d.member_id = c.member_id"
        "  AND d.benefit = c.benefit AND d.period_start_us = c.period_start_us AND d.id <= c.id)"
        " FROM benefit_claims c WHERE c.ref = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, r->ref, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int same = step == SQLITE_ROW && sqlite3_column_bytes(st, 0) == REQUEST_HASH_BYTES &&
               memcmp(sqlite3_column_blob(st, 0), hash, REQUEST_HASH_BYTES) == 0;
    if (step == SQLITE_ROW && same && result) {
        memset(result, 0, sizeof *result);
        result->period_start_us = sqlite3_column_int64(st, 1);
        result->audit_seq = sqlite3_column_int64(st, 2);
        int64_t limit = sqlite3_column_int64(st, 3);
        result->used = sqlite3_column_int64(st, 4);
        result->remaining = limit > 0 ? (limit > result->used ? limit - result->used : 0) : -1;
        result->replayed = 1;
    }
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return LOYALTY_ERR_NOT_FOUND;
    if (step != SQLITE_ROW)
        return fail_db(l, "looking up claim");
    return same ? LOYALTY_OK
                : fail(l, LOYALTY_ERR_CONFLICT, "claim reference %s was already used with other"
                                                " parameters", r->ref);
}

static void fill_claim(const loyalty_claim_request *r, const benefit_row *b, loyalty_claim_result *out)
{
    snprintf(out->member, sizeof out->member, "%s", r->member);
    snprintf(out->benefit, sizeof out->benefit, "%s", r->benefit);
    snprintf(out->ref, sizeof out->ref, "%s", r->ref);
    if (b->limit > 0)
        out->remaining = b->limit > out->used ? b->limit - out->used : 0;
}

/* The member, their effective tier and the benefit as the tier sees it. */
static int claim_context(loyalty_ledger *l, const loyalty_claim_request *r, member_row *member,
                         tier_row *tier, benefit_row *b)
{
    program_rules rules;
    int rc = posting_member(l, r->member, member);
    if (rc == LOYALTY_OK)
        rc = posting_require_active(l, member);
    if (rc == LOYALTY_OK)
        rc = program_current(l, &rules);
    if (rc == LOYALTY_OK && (rc = tier_effective(l, member, rules.version, tier)) == LOYALTY_ERR_NOT_FOUND)
        rc = fail(l, LOYALTY_ERR_NOT_FOUND, "the program has no benefit %s", r->benefit);
    if (rc == LOYALTY_OK)
        rc = find_benefit(l, rules.version, tier->code, r->benefit, b);
    if (rc == LOYALTY_OK && !b->granted)
        rc = fail(l, LOYALTY_ERR_NOT_PERMITTED, "tier %s does not grant benefit %s", tier->code,
                  r->benefit);
    return rc;
}

int claim_apply(loyalty_ledger *l, const loyalty_claim_request *r, loyalty_claim_result *result)
{
    if (r == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "request is required");
    int rc = check_id(l, "member id", r->member);
    if (rc == LOYALTY_OK)
        rc = check_id(l, "benefit code", r->benefit);
    if (rc == LOYALTY_OK)
        rc = check_id(l, "reference", r->ref);
    if (rc != LOYALTY_OK)
        return rc;
    unsigned char hash[REQUEST_HASH_BYTES];
    fingerprint fp;
    fp_start(&fp, "claim");
    fp_text(&fp, r->member);
    fp_text(&fp, r->benefit);
    fp_finish(&fp, hash);
    loyalty_claim_result local;
    loyalty_claim_result *out = result ? result : &local;
    member_row member;
    tier_row tier;
    benefit_row b;
    rc = previous_claim(l, r, hash, out);
    if (rc == LOYALTY_OK) {
        /* A replay answers with the figures of the original claim. */
        snprintf(out->member, sizeof out->member, "%s", r->member);
        snprintf(out->benefit, sizeof out->benefit, "%s", r->benefit);
        snprintf(out->ref, sizeof out->ref, "%s", r->ref);
        return LOYALTY_OK;
    }
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    rc = claim_context(l, r, &member, &tier, &b);
    int64_t start_us = 0, end_us = 0, used = 0;
    if (rc == LOYALTY_OK && b.limit > 0)
        benefit_period(b.period, l->op_now_us, &start_us, &end_us);
    if (rc == LOYALTY_OK)
        rc = count_claims(l, member.id, r->benefit, start_us, &used);
    if (rc == LOYALTY_OK && b.limit > 0 && used >= b.limit)
        rc = fail(l, LOYALTY_ERR_INSUFFICIENT, "benefit %s is used up: %lld of %lld this %s",
                  r->benefit, (long long)used, (long long)b.limit, b.period);
    if (rc == LOYALTY_OK)
        rc = insert_claim(l, &member, r, hash, tier.code, start_us, b.limit);
    if (rc != LOYALTY_OK)
        return rc;
    memset(out, 0, sizeof *out);
    out->used = used + 1;
    out->remaining = -1;
    out->period_start_us = start_us;
    out->audit_seq = l->next_seq;
    fill_claim(r, &b, out);
    json_t *p = json_object();
    jset(p, "member", json_string(r->member));
    jset(p, "ref", json_string(r->ref));
    jset(p, "benefit", json_string(r->benefit));
    jset(p, "tier", json_string(tier.code));
    return audit_append(l, "benefit_claim", p);
}

LOYALTY_API int loyalty_benefit_claim(loyalty_ledger *l, const loyalty_claim_request *request,
                                      loyalty_claim_result *result)
{
    int rc = write_begin_as(l, CAP_CLAIM);
    return rc == LOYALTY_OK ? write_end(l, claim_apply(l, request, result)) : rc;
}

LOYALTY_API int loyalty_benefits(loyalty_ledger *l, const char *member, loyalty_benefit_fn callback,
                                 void *context)
{
    static const char sql[] = "SELECT b.code, b.name, COALESCE(b.claim_limit, 0), b.period, 1"
                              " FROM program_tier_benefits g JOIN program_benefits b"
                              " ON b.version = g.version AND b.code = g.benefit_code"
                              " WHERE g.version = ?1 AND g.tier_code = ?2 ORDER BY b.code";
    if (callback == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "callback is required") : LOYALTY_ERR_MISUSE;
    int rc = read_begin_as(l, CAP_READ);
    if (rc != LOYALTY_OK)
        return rc;
    member_row row;
    program_rules rules;
    tier_row tier;
    rc = check_id(l, "member id", member);
    if (rc == LOYALTY_OK)
        rc = member_find(l, member, &row);
    if (rc == LOYALTY_OK)
        rc = program_current(l, &rules);
    int has_tier = rc == LOYALTY_OK && tier_effective(l, &row, rules.version, &tier) == LOYALTY_OK;
    /* The rows are copied out first: the status queries reuse the connection. */
    benefit_row list[LIMIT_BENEFITS_MAX];
    int count = 0;
    sqlite3_stmt *st = rc == LOYALTY_OK && has_tier ? stmt(l, sql) : NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, rules.version);
        sqlite3_bind_text(st, 2, tier.code, -1, SQLITE_STATIC);
        while (count < LIMIT_BENEFITS_MAX && sqlite3_step(st) == SQLITE_ROW)
            read_benefit(st, &list[count++]);
        sqlite3_reset(st);
    }
    int64_t now_us = clock_now_us(l);
    for (int i = 0; rc == LOYALTY_OK && i < count; i++) {
        loyalty_benefit_status status;
        rc = benefit_status(l, row.id, &list[i], now_us, &status);
        if (rc == LOYALTY_OK && callback(context, &status) != 0)
            break;
    }
    read_end(l);
    return rc;
}
