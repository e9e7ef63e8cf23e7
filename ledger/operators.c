/*
 * operators.c - operators, roles and what each role may do. The permission
 * table is here and nowhere else; every public call checks it inside its
 * transaction (write_begin_as / read_begin_as), and verify's replay checks
 * that every signed entry's actor was allowed to do what it did.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct role_rights {
    const char *role;
    unsigned rights;
} role_rights;

#define SUPPORT_RIGHTS (CAP_READ | CAP_ADD_MEMBER | CAP_ADJUST | CAP_REVERSE | CAP_STATUS | CAP_SET_TIER)

static const role_rights roles[] = {
    {"checkout", CAP_READ | CAP_ADD_MEMBER | CAP_EARN | CAP_SPEND | CAP_REFUND | CAP_CLAIM},
    {"support", SUPPORT_RIGHTS},
    {"supervisor", SUPPORT_RIGHTS | CAP_APPROVE},
    {"auditor", CAP_READ | CAP_EXPORT},
    {"admin", ~0u},
};

static const char *capability_name(unsigned capability)
{
    static const struct {
        unsigned capability;
        const char *name;
    } names[] = {{CAP_READ, "read"},          {CAP_ADD_MEMBER, "add members"},
                 {CAP_EARN, "award points"},  {CAP_SPEND, "spend or hold points"},
                 {CAP_REFUND, "refund"},      {CAP_CLAIM, "claim benefits"},
                 {CAP_ADJUST, "adjust"},      {CAP_REVERSE, "reverse"},
                 {CAP_STATUS, "change member status"}, {CAP_SET_TIER, "set tiers"},
                 {CAP_APPROVE, "approve"},    {CAP_EXPORT, "export the audit log"},
                 {CAP_SWEEP, "run batch jobs"}, {CAP_ADMIN, "administer the ledger"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].capability == capability)
            return names[i].name;
    return "do this";
}

int role_valid(const char *role)
{
    for (size_t i = 0; role && i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(role, roles[i].role) == 0)
            return 1;
    return 0;
}

static unsigned rights_of(const char *role)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(role, roles[i].role) == 0)
            return roles[i].rights;
    return 0;
}

/*
 * Whether `actor` may exercise `capability` now. A ledger without any
 * operator (created before operators existed, or being built by init or a
 * replay) is open to everyone.
 */
/* Reads the actor's role and status into the handle's cache (one query per transaction). */
static int load_operator(loyalty_ledger *l, const char *actor)
{
    static const char sql[] = "SELECT EXISTS (SELECT 1 FROM operators),"
                              " (SELECT role FROM operators WHERE name = ?1),"
                              " (SELECT status FROM operators WHERE name = ?1)";
    if (l->operator_cached && strcmp(l->operator_name, actor) == 0)
        return LOYALTY_OK;
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, actor, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return fail_db(l, "reading operators");
    }
    l->operator_any = sqlite3_column_int(st, 0);
    snprintf(l->operator_role, sizeof l->operator_role, "%s",
             sqlite3_column_type(st, 1) == SQLITE_TEXT ? (const char *)sqlite3_column_text(st, 1) : "");
    snprintf(l->operator_status, sizeof l->operator_status, "%s",
             sqlite3_column_type(st, 2) == SQLITE_TEXT ? (const char *)sqlite3_column_text(st, 2) : "");
    sqlite3_reset(st);
    snprintf(l->operator_name, sizeof l->operator_name, "%s", actor);
    l->operator_cached = 1;
    return LOYALTY_OK;
}

/*
 * Whether `actor` may exercise `capability` now. A ledger without any
 * operator (created before operators existed, or being built by init or a
 * replay) is open to everyone.
 */
int authorize_actor(loyalty_ledger *l, const char *actor, unsigned capability)
{
    if (actor == NULL)
        actor = "";
    int rc = load_operator(l, actor);
    if (rc != LOYALTY_OK)
        return rc;
    if (!l->operator_any)
        return LOYALTY_OK;
    if (l->operator_role[0] == '\0')
        return fail(l, LOYALTY_ERR_NOT_PERMITTED, "operator '%s' is not registered",
                    actor[0] ? actor : "(none)");
    if (strcmp(l->operator_status, "active") != 0)
        return fail(l, LOYALTY_ERR_NOT_PERMITTED, "operator '%s' is disabled", actor);
    if ((rights_of(l->operator_role) & capability) == 0)
        return fail(l, LOYALTY_ERR_NOT_PERMITTED, "operator '%s' (role %s) may not %s", actor,
                    l->operator_role, capability_name(capability));
    return LOYALTY_OK;
}

int write_begin_as(loyalty_ledger *l, unsigned capability)
{
    int rc = write_begin(l);
    if (rc != LOYALTY_OK)
        return rc;
    rc = authorize_actor(l, l->op_actor, capability);
    return rc == LOYALTY_OK ? LOYALTY_OK : write_end(l, rc);
}

int read_begin_as(loyalty_ledger *l, unsigned capability)
{
    int rc = read_begin(l);
    if (rc == LOYALTY_OK)
        rc = authorize_actor(l, l->actor, capability);
    if (rc != LOYALTY_OK && l != NULL && l->db != NULL)
        read_end(l);
    return rc;
}

/* What each signed action needed, for the replay's check; 0 when the action checks itself. */
unsigned capability_of_action(const char *action, const char *cause)
{
    static const struct {
        const char *action;
        unsigned capability;
    } table[] = {
        {"genesis", CAP_ADMIN},        {"program_load", CAP_ADMIN},   {"key_rotate", CAP_ADMIN},
        {"operator_add", CAP_ADMIN},   {"operator_disable", CAP_ADMIN},
        {"member_add", CAP_ADD_MEMBER}, {"award", CAP_EARN},          {"redeem", CAP_SPEND},
        {"hold", CAP_SPEND},           {"capture", CAP_SPEND},        {"release", CAP_SPEND},
        {"adjust", CAP_ADJUST},        {"adjust_request", CAP_ADJUST}, {"reverse", CAP_REVERSE},
        {"refund", CAP_REFUND},        {"expire", CAP_SWEEP},         {"hold_lapse", CAP_SWEEP},
        {"member_freeze", CAP_STATUS}, {"member_unfreeze", CAP_STATUS}, {"member_close", CAP_STATUS},
        {"benefit_claim", CAP_CLAIM},  {"approve", CAP_APPROVE},
    };
    if (strcmp(action, "tier_change") == 0)
        return cause && strcmp(cause, "manual") == 0 ? CAP_SET_TIER : CAP_SWEEP;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(action, table[i].action) == 0)
            return table[i].capability;
    return 0;
}

/* --- operators ----------------------------------------------------------- */

static int operator_state(loyalty_ledger *l, const char *name, char role[16], char status[16])
{
    static const char sql[] = "SELECT role, status FROM operators WHERE name = ?";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        snprintf(role, 16, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(status, 16, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return LOYALTY_ERR_NOT_FOUND;
    return step == SQLITE_ROW ? LOYALTY_OK : fail_db(l, "reading operator");
}

static json_t *operator_payload(const char *name, const char *role)
{
    json_t *p = json_object();
    jset(p, "operator", json_string(name));
    if (role)
        jset(p, "role", json_string(role));
    return p;
}

int operator_add_apply(loyalty_ledger *l, const char *name, const char *role, int *replayed)
{
    static const char sql[] = "INSERT INTO operators (name, role, created_us, created_by, audit_seq)"
                              " VALUES (?, ?, ?, ?, ?)";
    char have_role[16], status[16];
    *replayed = 0;
    if (!valid_actor(name))
        return fail(l, LOYALTY_ERR_INVALID,
                    "operator name must be 1 to %d characters of A-Z a-z 0-9 . _ : @ -", LOYALTY_ID_MAX);
    if (!role_valid(role))
        return fail(l, LOYALTY_ERR_INVALID,
                    "role must be checkout, support, supervisor, auditor or admin");
    /* The first operator of a ledger must be able to add the others. */
    if (strcmp(role, "admin") != 0 && authorize_actor(l, "", CAP_READ) == LOYALTY_OK)
        return fail(l, LOYALTY_ERR_INVALID, "the first operator of a ledger must be an admin");
    clear_error(l);
    int rc = operator_state(l, name, have_role, status);
    if (rc == LOYALTY_OK) {
        if (strcmp(status, "active") != 0)
            return fail(l, LOYALTY_ERR_STATE, "operator '%s' is disabled", name);
        if (strcmp(have_role, role) != 0)
            return fail(l, LOYALTY_ERR_CONFLICT, "operator '%s' already exists with role %s", name,
                        have_role);
        *replayed = 1;
        return LOYALTY_OK;
    }
    if (rc != LOYALTY_ERR_NOT_FOUND)
        return rc;
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, l->op_now_us);
    sqlite3_bind_text(st, 4, l->op_actor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, l->next_seq);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    l->operator_cached = 0;
    if (step != SQLITE_DONE)
        return fail_db(l, "adding operator");
    return audit_append(l, "operator_add", operator_payload(name, role));
}

int operator_disable_apply(loyalty_ledger *l, const char *name, int *replayed)
{
    static const char sql[] = "UPDATE operators SET status = 'disabled' WHERE name = ?";
    char role[16], status[16];
    *replayed = 0;
    if (!valid_actor(name))
        return fail(l, LOYALTY_ERR_INVALID, "operator name is not valid");
    int rc = operator_state(l, name, role, status);
    if (rc == LOYALTY_ERR_NOT_FOUND)
        return fail(l, LOYALTY_ERR_NOT_FOUND, "no operator '%s'", name);
    if (rc != LOYALTY_OK)
        return rc;
    if (strcmp(status, "disabled") == 0) {
        *replayed = 1;
        return LOYALTY_OK;
    }
    if (strcmp(name, l->op_actor) == 0)
        return fail(l, LOYALTY_ERR_NOT_PERMITTED, "operators cannot disable themselves");
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    l->operator_cached = 0;
    if (step != SQLITE_DONE)
        return fail_db(l, "disabling operator");
    return audit_append(l, "operator_disable", operator_payload(name, NULL));
}

LOYALTY_API int loyalty_operator_add(loyalty_ledger *l, const char *name, const char *role,
                                     int *replayed)
{
    int was_replayed = 0;
    int rc = write_begin_as(l, CAP_ADMIN);
    if (rc != LOYALTY_OK)
        return rc;
    rc = write_end(l, operator_add_apply(l, name, role, &was_replayed));
    if (rc == LOYALTY_OK && replayed)
        *replayed = was_replayed;
    return rc;
}

LOYALTY_API int loyalty_operator_disable(loyalty_ledger *l, const char *name, int *replayed)
{
    int was_replayed = 0;
    int rc = write_begin_as(l, CAP_ADMIN);
    if (rc != LOYALTY_OK)
        return rc;
    rc = write_end(l, operator_disable_apply(l, name, &was_replayed));
    if (rc == LOYALTY_OK && replayed)
        *replayed = was_replayed;
    return rc;
}

LOYALTY_API int loyalty_operators(loyalty_ledger *l, loyalty_operator_fn callback, void *context)
{
    static const char sql[] = "SELECT name, role, status, created_us, created_by FROM operators"
                              " ORDER BY name";
    if (callback == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "callback is required") : LOYALTY_ERR_MISUSE;
    int rc = read_begin_as(l, CAP_READ);
    if (rc != LOYALTY_OK)
        return rc;
    sqlite3_stmt *st = stmt(l, sql);
    int step = SQLITE_DONE;
    if (st == NULL)
        rc = l->error_code;
    while (rc == LOYALTY_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        loyalty_operator_info o = {
            .name = (const char *)sqlite3_column_text(st, 0),
            .role = (const char *)sqlite3_column_text(st, 1),
            .status = (const char *)sqlite3_column_text(st, 2),
            .created_us = sqlite3_column_int64(st, 3),
            .created_by = (const char *)sqlite3_column_text(st, 4),
        };
        if (callback(context, &o) != 0)
            break;
    }
    if (rc == LOYALTY_OK && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = fail_db(l, "listing operators");
    read_end(l);
    return rc;
}
