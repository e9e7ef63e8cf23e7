/*
 * ladder.c - the tier ladder and the benefits catalogue of a program:
 * parsing and validating them from the program's JSON (every refusal names
 * the culprit), their canonical JSON form, and storing them per program
 * version. The rules that use them live in tiers.c and benefits.c.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const periods[] = {"day", "week", "month", "year"};

int ladder_valid_period(const char *period)
{
    for (size_t i = 0; period && i < sizeof periods / sizeof periods[0]; i++)
        if (strcmp(period, periods[i]) == 0)
            return 1;
    return 0;
}

/* A required string field that is an identifier (codes) or a short text (names). */
static int string_field(loyalty_ledger *l, json_t *o, const char *where, const char *key,
                        int is_code, json_t *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return fail(l, LOYALTY_ERR_INVALID, "program field '%s.%s' is required", where, key);
    const char *s = json_string_value(v);
    if (s == NULL || (is_code ? !valid_id(s) : !valid_text(s, LOYALTY_CODE_MAX)))
        return fail(l, LOYALTY_ERR_INVALID, "program field '%s.%s' must be %s", where, key,
                    is_code ? "a code of A-Z a-z 0-9 . _ : - (1 to 64)" : "a text of 1 to 64 bytes");
    jset(out, key, json_string(s));
    return LOYALTY_OK;
}

static int integer_field(loyalty_ledger *l, json_t *o, const char *where, const char *key,
                         int64_t min, int64_t max, json_t *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return fail(l, LOYALTY_ERR_INVALID, "program field '%s.%s' is required", where, key);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return fail(l, LOYALTY_ERR_INVALID, "program field '%s.%s' must be an integer from %lld to %lld",
                    where, key, (long long)min, (long long)max);
    jset(out, key, json_integer(json_integer_value(v)));
    return LOYALTY_OK;
}

static int only_keys(loyalty_ledger *l, json_t *o, const char *where, const char *const *keys,
                     size_t count)
{
    const char *key;
    json_t *value;
    json_object_foreach(o, key, value)
    {
        size_t i = 0;
        while (i < count && strcmp(key, keys[i]) != 0)
            i++;
        if (i == count)
            return fail(l, LOYALTY_ERR_INVALID, "unknown program field '%s.%.64s'", where, key);
    }
    return LOYALTY_OK;
}

/* Whether array (of objects with "code", or of strings) already holds code. */
static int holds_code(json_t *array, const char *code)
{
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v)
    {
        const char *c = json_is_string(v) ? json_string_value(v)
                                          : json_string_value(json_object_get(v, "code"));
        if (c && strcmp(c, code) == 0)
            return 1;
    }
    return 0;
}

static int tier_benefit_codes(loyalty_ledger *l, json_t *tier, const char *where, json_t *out)
{
    json_t *list = json_object_get(tier, "benefits");
    json_t *codes = json_array();
    jset(out, "benefits", codes);
    if (list == NULL)
        return LOYALTY_OK;
    if (!json_is_array(list) || json_array_size(list) > LIMIT_BENEFITS_MAX)
        return fail(l, LOYALTY_ERR_INVALID, "program field '%s.benefits' must be a list of codes", where);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *code = json_string_value(v);
        if (code == NULL || !valid_id(code))
            return fail(l, LOYALTY_ERR_INVALID, "program field '%s.benefits[%zu]' must be a code",
                        where, i);
        if (holds_code(codes, code))
            return fail(l, LOYALTY_ERR_INVALID, "%s grants benefit '%s' twice", where, code);
        jappend(codes, json_string(code));
    }
    return LOYALTY_OK;
}

static int parse_tier(loyalty_ledger *l, json_t *tier, size_t index, json_t *ladder)
{
    static const char *const keys[] = {"code", "name", "threshold", "multiplier_permille", "benefits"};
    char where[32];
    snprintf(where, sizeof where, "tiers[%zu]", index);
    if (!json_is_object(tier))
        return fail(l, LOYALTY_ERR_INVALID, "program field '%s' must be an object", where);
    json_t *out = json_object();
    jappend(ladder, out);
    int rc = only_keys(l, tier, where, keys, sizeof keys / sizeof keys[0]);
    if (rc == LOYALTY_OK)
        rc = string_field(l, tier, where, "code", 1, out);
    if (rc == LOYALTY_OK)
        rc = string_field(l, tier, where, "name", 0, out);
    if (rc == LOYALTY_OK)
        rc = integer_field(l, tier, where, "threshold", 0, LIMIT_POINTS_MAX, out);
    if (rc == LOYALTY_OK)
        rc = integer_field(l, tier, where, "multiplier_permille", 1, LIMIT_MULTIPLIER_PERMILLE_MAX, out);
    if (rc == LOYALTY_OK)
        rc = tier_benefit_codes(l, tier, where, out);
    return rc;
}

/* The ladder: an ordered list, the first at threshold 0, thresholds strictly increasing. */
static int parse_tiers(loyalty_ledger *l, json_t *value, program_rules *rules)
{
    if (!json_is_array(value) || json_array_size(value) > LIMIT_TIERS_MAX)
        return fail(l, LOYALTY_ERR_INVALID, "program field 'tiers' must be a list of at most %d tiers",
                    LIMIT_TIERS_MAX);
    json_t *ladder = json_array();
    json_decref(rules->tiers);
    rules->tiers = ladder;
    size_t i;
    json_t *tier;
    int64_t previous = -1;
    json_array_foreach(value, i, tier)
    {
        int rc = parse_tier(l, tier, i, ladder);
        if (rc != LOYALTY_OK)
            return rc;
        json_t *parsed = json_array_get(ladder, i);
        const char *code = json_string_value(json_object_get(parsed, "code"));
        int64_t threshold = json_integer_value(json_object_get(parsed, "threshold"));
        if (i == 0 && threshold != 0)
            return fail(l, LOYALTY_ERR_INVALID, "the first tier '%s' must have threshold 0", code);
        if (threshold <= previous)
            return fail(l, LOYALTY_ERR_INVALID,
                        "tier '%s' has threshold %lld, not above the tier before it (%lld)", code,
                        (long long)threshold, (long long)previous);
        for (size_t j = 0; j < i; j++)
            if (strcmp(code, json_string_value(json_object_get(json_array_get(ladder, j), "code"))) == 0)
                return fail(l, LOYALTY_ERR_INVALID, "duplicate tier code '%s'", code);
        previous = threshold;
    }
    if (json_array_size(ladder) == 0) {
        json_decref(ladder);
        rules->tiers = NULL;
    }
    return LOYALTY_OK;
}

static int parse_benefit(loyalty_ledger *l, json_t *benefit, size_t index, json_t *catalogue)
{
    static const char *const keys[] = {"code", "name", "limit", "period"};
    char where[32];
    snprintf(where, sizeof where, "benefits[%zu]", index);
    if (!json_is_object(benefit))
        return fail(l, LOYALTY_ERR_INVALID, "program field '%s' must be an object", where);
    json_t *out = json_object();
    jappend(catalogue, out);
    int rc = only_keys(l, benefit, where, keys, sizeof keys / sizeof keys[0]);
    if (rc == LOYALTY_OK)
        rc = string_field(l, benefit, where, "code", 1, out);
    if (rc == LOYALTY_OK)
        rc = string_field(l, benefit, where, "name", 0, out);
    if (rc != LOYALTY_OK)
        return rc;
    json_t *limit = json_object_get(benefit, "limit");
    json_t *period = json_object_get(benefit, "period");
    if (limit == NULL && period == NULL)
        return LOYALTY_OK; /* unlimited */
    if (limit == NULL || period == NULL)
        return fail(l, LOYALTY_ERR_INVALID, "program field '%s' needs both limit and period, or neither",
                    where);
    rc = integer_field(l, benefit, where, "limit", 1, LIMIT_CLAIMS_PER_PERIOD_MAX, out);
    if (rc == LOYALTY_OK && !ladder_valid_period(json_string_value(period)))
        rc = fail(l, LOYALTY_ERR_INVALID,
                  "program field '%s.period' must be \"day\", \"week\", \"month\" or \"year\"", where);
    if (rc == LOYALTY_OK)
        jset(out, "period", json_string(json_string_value(period)));
    return rc;
}

static int parse_benefits(loyalty_ledger *l, json_t *value, program_rules *rules)
{
    if (!json_is_array(value) || json_array_size(value) > LIMIT_BENEFITS_MAX)
        return fail(l, LOYALTY_ERR_INVALID,
                    "program field 'benefits' must be a list of at most %d benefits", LIMIT_BENEFITS_MAX);
    json_t *catalogue = json_array();
    json_decref(rules->benefits);
    rules->benefits = catalogue;
    size_t i;
    json_t *benefit;
    json_array_foreach(value, i, benefit)
    {
        int rc = parse_benefit(l, benefit, i, catalogue);
        if (rc != LOYALTY_OK)
            return rc;
        const char *code = json_string_value(json_object_get(json_array_get(catalogue, i), "code"));
        for (size_t j = 0; j < i; j++)
            if (strcmp(code, json_string_value(json_object_get(json_array_get(catalogue, j), "code"))) == 0)
                return fail(l, LOYALTY_ERR_INVALID, "duplicate benefit code '%s'", code);
    }
    if (json_array_size(catalogue) == 0) {
        json_decref(catalogue);
        rules->benefits = NULL;
    }
    return LOYALTY_OK;
}

/* Parses "tiers" or "benefits"; returns -1 when key is neither. */
int ladder_parse_field(loyalty_ledger *l, const char *key, json_t *value, program_rules *rules)
{
    if (strcmp(key, "tiers") == 0)
        return parse_tiers(l, value, rules);
    if (strcmp(key, "benefits") == 0)
        return parse_benefits(l, value, rules);
    return -1;
}

/* Every benefit a tier grants is defined; every defined benefit is granted by a tier. */
int ladder_check(loyalty_ledger *l, const program_rules *rules)
{
    size_t i, j;
    json_t *tier, *code;
    json_array_foreach(rules->tiers, i, tier)
    {
        json_array_foreach(json_object_get(tier, "benefits"), j, code)
        {
            if (!holds_code(rules->benefits, json_string_value(code)))
                return fail(l, LOYALTY_ERR_INVALID, "tier '%s' grants benefit '%s', which is not defined",
                            json_string_value(json_object_get(tier, "code")), json_string_value(code));
        }
    }
    json_t *benefit;
    json_array_foreach(rules->benefits, i, benefit)
    {
        const char *benefit_code = json_string_value(json_object_get(benefit, "code"));
        int granted = 0;
        json_array_foreach(rules->tiers, j, tier)
            granted |= holds_code(json_object_get(tier, "benefits"), benefit_code);
        if (!granted)
            return fail(l, LOYALTY_ERR_INVALID, "benefit '%s' is granted by no tier", benefit_code);
    }
    return LOYALTY_OK;
}

static int insert_tier(loyalty_ledger *l, int64_t version, size_t position, json_t *tier)
{
    static const char sql[] = "INSERT INTO program_tiers (version, position, code, name, threshold,"
                              " multiplier_permille) VALUES (?, ?, ?, ?, ?, ?)";
    static const char sql_grant[] = "INSERT INTO program_tier_benefits (version, tier_code, benefit_code)"
                                    " VALUES (?, ?, ?)";
    const char *code = json_string_value(json_object_get(tier, "code"));
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_int64(st, 1, version);
    sqlite3_bind_int64(st, 2, (int64_t)position);
    sqlite3_bind_text(st, 3, code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, json_string_value(json_object_get(tier, "name")), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, json_integer_value(json_object_get(tier, "threshold")));
    sqlite3_bind_int64(st, 6, json_integer_value(json_object_get(tier, "multiplier_permille")));
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    size_t i;
    json_t *benefit;
    json_array_foreach(json_object_get(tier, "benefits"), i, benefit)
    {
        if (step != SQLITE_DONE || (st = stmt(l, sql_grant)) == NULL)
            break;
        sqlite3_bind_int64(st, 1, version);
        sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, json_string_value(benefit), -1, SQLITE_STATIC);
        step = sqlite3_step(st);
        sqlite3_reset(st);
    }
    if (st == NULL)
        return l->error_code;
    return step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "storing tier");
}

static int insert_benefit(loyalty_ledger *l, int64_t version, json_t *benefit)
{
    static const char sql[] = "INSERT INTO program_benefits (version, code, name, claim_limit, period)"
                              " VALUES (?, ?, ?, ?, ?)";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    json_t *limit = json_object_get(benefit, "limit");
    sqlite3_bind_int64(st, 1, version);
    sqlite3_bind_text(st, 2, json_string_value(json_object_get(benefit, "code")), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, json_string_value(json_object_get(benefit, "name")), -1, SQLITE_STATIC);
    if (limit) {
        sqlite3_bind_int64(st, 4, json_integer_value(limit));
        sqlite3_bind_text(st, 5, json_string_value(json_object_get(benefit, "period")), -1,
                          SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 4);
        sqlite3_bind_null(st, 5);
    }
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    return step == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "storing benefit");
}

/* Stores the ladder and the catalogue of a new program version. */
int ladder_store(loyalty_ledger *l, int64_t version, const program_rules *rules)
{
    int rc = LOYALTY_OK;
    size_t i;
    json_t *v;
    json_array_foreach(rules->benefits, i, v)
    {
        if (rc == LOYALTY_OK)
            rc = insert_benefit(l, version, v);
    }
    json_array_foreach(rules->tiers, i, v)
    {
        if (rc == LOYALTY_OK)
            rc = insert_tier(l, version, i, v);
    }
    return rc;
}
