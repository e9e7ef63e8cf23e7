/*
 * program.c - the program: the earning rules loaded from JSON, validated
 * field by field (unknown and ill-typed fields are refused by name), stored
 * as numbered versions with an audit entry each, and the pure earn rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void program_defaults(program_rules *rules)
{
    memset(rules, 0, sizeof *rules);
    strcpy(rules->currency, "EUR");
    rules->minor_per_unit = 100;
    rules->points_per_unit = 1;
    rules->hold_ttl_seconds = DEFAULT_HOLD_TTL_SECONDS;
    rules->tier_window_days = DEFAULT_TIER_WINDOW_DAYS;
}

void program_rules_clear(program_rules *rules)
{
    json_decref(rules->tiers);
    json_decref(rules->benefits);
    rules->tiers = NULL;
    rules->benefits = NULL;
}

static int parse_integer_field(loyalty_ledger *l, const char *name, json_t *value, int64_t min,
                               int64_t max, int64_t *out)
{
    if (!json_is_integer(value) || json_integer_value(value) < min ||
        json_integer_value(value) > max)
        return fail(l, LOYALTY_ERR_INVALID, "program field '%s' must be an integer from %lld to %lld",
                    name, (long long)min, (long long)max);
    *out = json_integer_value(value);
    return LOYALTY_OK;
}

static int parse_currency(loyalty_ledger *l, json_t *value, program_rules *rules)
{
    const char *s = json_string_value(value);
    if (s == NULL || strlen(s) != 3 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' ||
        s[2] < 'A' || s[2] > 'Z')
        return fail(l, LOYALTY_ERR_INVALID,
                    "program field 'currency' must be a string of 3 upper-case letters (ISO 4217)");
    strcpy(rules->currency, s);
    return LOYALTY_OK;
}

static int parse_field(loyalty_ledger *l, const char *key, json_t *value, program_rules *rules)
{
    if (strcmp(key, "currency") == 0)
        return parse_currency(l, value, rules);
    if (strcmp(key, "minor_per_unit") == 0)
        return parse_integer_field(l, key, value, 1, LIMIT_MINOR_PER_UNIT_MAX, &rules->minor_per_unit);
    if (strcmp(key, "points_per_unit") == 0)
        return parse_integer_field(l, key, value, 0, LIMIT_POINTS_PER_UNIT_MAX,
                                   &rules->points_per_unit);
    if (strcmp(key, "pending_days") == 0)
        return parse_integer_field(l, key, value, 0, LIMIT_PENDING_DAYS_MAX, &rules->pending_days);
    if (strcmp(key, "expiry_days") == 0)
        return parse_integer_field(l, key, value, 0, LIMIT_EXPIRY_DAYS_MAX, &rules->expiry_days);
    if (strcmp(key, "hold_ttl_seconds") == 0)
        return parse_integer_field(l, key, value, LIMIT_HOLD_TTL_MIN, LIMIT_HOLD_TTL_MAX,
                                   &rules->hold_ttl_seconds);
    if (strcmp(key, "approval_threshold") == 0)
        return parse_integer_field(l, key, value, 0, LIMIT_POINTS_MAX, &rules->approval_threshold);
    if (strcmp(key, "tier_window_days") == 0)
        return parse_integer_field(l, key, value, 1, LIMIT_TIER_WINDOW_DAYS_MAX,
                                   &rules->tier_window_days);
    int rc = ladder_parse_field(l, key, value, rules);
    if (rc >= 0)
        return rc;
    return fail(l, LOYALTY_ERR_INVALID, "unknown program field '%.64s'", key);
}

/* Parses and validates program JSON; omitted fields take their defaults. The
 * caller clears rules (program_rules_clear) whatever the outcome. */
int program_parse(loyalty_ledger *l, const char *json_text, program_rules *rules)
{
    program_defaults(rules);
    json_checks_reset();
    if (json_text == NULL)
        return LOYALTY_OK;
    if (strlen(json_text) > LIMIT_PROGRAM_BYTES)
        return fail(l, LOYALTY_ERR_INVALID, "program is larger than %d bytes", LIMIT_PROGRAM_BYTES);
    json_error_t error;
    int out_of_memory;
    json_t *root = json_parse(json_text, JSON_REJECT_DUPLICATES, &error, &out_of_memory);
    if (out_of_memory)
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory reading the program");
    if (root == NULL)
        return fail(l, LOYALTY_ERR_INVALID, "program is not valid JSON (line %d, column %d): %s",
                    error.line, error.column, error.text);
    int rc = LOYALTY_OK;
    if (!json_is_object(root))
        rc = fail(l, LOYALTY_ERR_INVALID, "program must be a JSON object");
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (rc == LOYALTY_OK)
            rc = parse_field(l, key, value, rules);
    }
    json_decref(root);
    if (rc == LOYALTY_OK && json_checks_failed())
        rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory reading the program");
    if (rc == LOYALTY_OK)
        rc = ladder_check(l, rules);
    return rc;
}

/*
 * The canonical JSON of a program, fields in a fixed order. The earn-rate
 * fields are always present; fields added by later versions only when they
 * differ from their defaults, so that the signed payloads of older ledgers
 * re-execute to the same bytes (every_field: all of them, for display).
 */
json_t *program_to_json(const program_rules *rules, int every_field)
{
    json_t *o = json_object();
    jset(o, "currency", json_string(rules->currency));
    jset(o, "minor_per_unit", json_integer(rules->minor_per_unit));
    jset(o, "points_per_unit", json_integer(rules->points_per_unit));
    if (every_field || rules->pending_days != 0)
        jset(o, "pending_days", json_integer(rules->pending_days));
    if (every_field || rules->expiry_days != 0)
        jset(o, "expiry_days", json_integer(rules->expiry_days));
    if (every_field || rules->hold_ttl_seconds != DEFAULT_HOLD_TTL_SECONDS)
        jset(o, "hold_ttl_seconds", json_integer(rules->hold_ttl_seconds));
    if (every_field || rules->tier_window_days != DEFAULT_TIER_WINDOW_DAYS)
        jset(o, "tier_window_days", json_integer(rules->tier_window_days));
    if (every_field || rules->approval_threshold != 0)
        jset(o, "approval_threshold", json_integer(rules->approval_threshold));
    if (every_field || rules->tiers)
        jset(o, "tiers", rules->tiers ? json_deep_copy(rules->tiers) : json_array());
    if (every_field || rules->benefits)
        jset(o, "benefits",
                            rules->benefits ? json_deep_copy(rules->benefits) : json_array());
    return o;
}

/*
 * The program in force (scalar fields and the number of tiers). Inside a
 * write it is read once and kept until the write ends or a program loads:
 * postings consult it several times each.
 */
int program_current(loyalty_ledger *l, program_rules *rules)
{
    static const char sql[] =
        "SELECT version, currency, minor_per_unit, points_per_unit, pending_days, expiry_days,"
        " hold_ttl_seconds, tier_window_days, approval_threshold,"
        " (SELECT COUNT(*) FROM program_tiers t WHERE t.version = p.version)"
        " FROM program p ORDER BY version DESC LIMIT 1";
    int cacheable = l->in_write || l->replay || l->in_read;
    if (cacheable && l->rules_cached) {
        *rules = l->cached_rules;
        return LOYALTY_OK;
    }
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    int step = sqlite3_step(st);
    int rc = LOYALTY_OK;
    if (step == SQLITE_ROW) {
        memset(rules, 0, sizeof *rules);
        rules->version = sqlite3_column_int64(st, 0);
        const char *currency = (const char *)sqlite3_column_text(st, 1);
        snprintf(rules->currency, sizeof rules->currency, "%s", currency ? currency : "");
        rules->minor_per_unit = sqlite3_column_int64(st, 2);
        rules->points_per_unit = sqlite3_column_int64(st, 3);
        rules->pending_days = sqlite3_column_int64(st, 4);
        rules->expiry_days = sqlite3_column_int64(st, 5);
        rules->hold_ttl_seconds = sqlite3_column_int64(st, 6);
        rules->tier_window_days = sqlite3_column_int64(st, 7);
        rules->approval_threshold = sqlite3_column_int64(st, 8);
        rules->tier_count = sqlite3_column_int64(st, 9);
        if (cacheable) {
            l->cached_rules = *rules;
            l->rules_cached = 1;
        }
    } else {
        rc = step == SQLITE_DONE ? fail(l, LOYALTY_ERR_INTERNAL, "the ledger has no program")
                                 : fail_db(l, "reading the program");
    }
    sqlite3_reset(st);
    return rc;
}

/* Stores a new program version and its audit entry. */
int program_apply(loyalty_ledger *l, const program_rules *rules, int64_t *version_out)
{
    static const char sql_max[] = "SELECT COALESCE(MAX(version), 0) FROM program";
    l->rules_cached = 0;
    static const char sql_insert[] =
        "INSERT INTO program (version, loaded_us, actor, body, currency, minor_per_unit,"
        " points_per_unit, pending_days, expiry_days, hold_ttl_seconds, tier_window_days,"
        " approval_threshold) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = stmt(l, sql_max);
    if (st == NULL)
        return l->error_code;
    if (sqlite3_step(st) != SQLITE_ROW)
        return fail_db(l, "reading program version");
    int64_t version = sqlite3_column_int64(st, 0) + 1;
    sqlite3_reset(st);
    json_t *body = program_to_json(rules, 0);
    char *body_text = json_compact(body);
    if (body_text == NULL) {
        json_decref(body);
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory");
    }
    st = stmt(l, sql_insert);
    int rc = st ? LOYALTY_OK : l->error_code;
    if (rc == LOYALTY_OK) {
        sqlite3_bind_int64(st, 1, version);
        sqlite3_bind_int64(st, 2, l->op_now_us);
        sqlite3_bind_text(st, 3, l->op_actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, body_text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, rules->currency, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, rules->minor_per_unit);
        sqlite3_bind_int64(st, 7, rules->points_per_unit);
        sqlite3_bind_int64(st, 8, rules->pending_days);
        sqlite3_bind_int64(st, 9, rules->expiry_days);
        sqlite3_bind_int64(st, 10, rules->hold_ttl_seconds);
        sqlite3_bind_int64(st, 11, rules->tier_window_days);
        sqlite3_bind_int64(st, 12, rules->approval_threshold);
        rc = sqlite3_step(st) == SQLITE_DONE ? LOYALTY_OK : fail_db(l, "storing the program");
        sqlite3_reset(st);
    }
    free(body_text);
    if (rc == LOYALTY_OK)
        rc = ladder_store(l, version, rules);
    if (rc != LOYALTY_OK) {
        json_decref(body);
        return rc;
    }
    json_t *payload = json_object();
    jset(payload, "version", json_integer(version));
    jset(payload, "program", body);
    rc = audit_append(l, "program_load", payload);
    if (rc == LOYALTY_OK && version_out)
        *version_out = version;
    return rc;
}

/*
 * floor(amount * points_per_unit * multiplier / (minor_per_unit * 1000)) in
 * 128-bit arithmetic: every factor is bounded (ledger_limits.h) so the product fits.
 * Returns non-zero when the result does not fit in the points range.
 */
int earn_points(const program_rules *rules, int64_t amount_minor, int64_t multiplier_permille,
                int64_t *points_out)
{
    __extension__ typedef __int128 wide;
    if (amount_minor < 0 || amount_minor > LIMIT_AMOUNT_MAX || multiplier_permille < 0 ||
        multiplier_permille > LIMIT_MULTIPLIER_PERMILLE_MAX || rules->minor_per_unit < 1 ||
        rules->points_per_unit < 0)
        return 1;
    wide numerator = (wide)amount_minor * rules->points_per_unit * multiplier_permille;
    wide denominator = (wide)rules->minor_per_unit * 1000;
    wide points = numerator / denominator;
    if (points > LIMIT_POINTS_MAX)
        return 1;
    *points_out = (int64_t)points;
    return 0;
}

LOYALTY_API int loyalty_program_load(loyalty_ledger *l, const char *program_json,
                                     int64_t *version_out)
{
    if (l == NULL)
        return LOYALTY_ERR_MISUSE;
    clear_error(l);
    if (program_json == NULL)
        return fail(l, LOYALTY_ERR_MISUSE, "program text is required");
    program_rules rules;
    int rc = program_parse(l, program_json, &rules);
    if (rc == LOYALTY_OK)
        rc = write_begin_as(l, CAP_ADMIN);
    if (rc == LOYALTY_OK)
        rc = write_end(l, program_apply(l, &rules, version_out));
    program_rules_clear(&rules);
    return rc;
}

/* The stored canonical text of the program in force and its version. */
static int current_body(loyalty_ledger *l, int64_t *version, char **body)
{
    static const char sql[] = "SELECT version, body FROM program ORDER BY version DESC LIMIT 1";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    int step = sqlite3_step(st);
    *body = NULL;
    if (step == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        *body = strdup((const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    if (step != SQLITE_ROW)
        return fail_db(l, "reading the program");
    return *body ? LOYALTY_OK : fail(l, LOYALTY_ERR_NOMEM, "out of memory");
}

LOYALTY_API int loyalty_program_show(loyalty_ledger *l, char **json_out)
{
    if (json_out == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "json_out is required") : LOYALTY_ERR_MISUSE;
    *json_out = NULL;
    program_rules rules = {0};
    int64_t version = 0;
    char *body = NULL;
    int rc = read_begin_as(l, CAP_READ);
    if (rc == LOYALTY_OK)
        rc = current_body(l, &version, &body);
    read_end(l);
    if (rc == LOYALTY_OK)
        rc = program_parse(l, body, &rules);
    free(body);
    if (rc == LOYALTY_OK) {
        json_t *o = json_object();
        jset(o, "version", json_integer(version));
        json_t *fields = program_to_json(&rules, 1);
        jupdate(o, fields);
        json_decref(fields);
        *json_out = json_checks_failed() ? NULL : json_compact(o);
        json_decref(o);
        if (*json_out == NULL)
            rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory");
    }
    program_rules_clear(&rules);
    return rc;
}
