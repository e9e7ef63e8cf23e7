/*
 * errors.c - result codes: their descriptions and stable names, the
 * per-handle error message, and the mapping from SQLite's codes.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct result_text {
    const char *name;
    const char *description;
} result_text;

static const result_text result_texts[] = {
    [LOYALTY_OK] = {"ok", "success"},
    [LOYALTY_ERR_INTERNAL] = {"internal", "internal error"},
    [LOYALTY_ERR_STORAGE] = {"storage", "storage error"},
    [LOYALTY_ERR_NOMEM] = {"out_of_memory", "out of memory"},
    [LOYALTY_ERR_MISUSE] = {"misuse", "library misuse"},
    [LOYALTY_ERR_INVALID] = {"invalid_input", "invalid input"},
    [LOYALTY_ERR_NO_LEDGER] = {"no_ledger", "no ledger at this path"},
    [LOYALTY_ERR_NOT_FOUND] = {"not_found", "not found"},
    [LOYALTY_ERR_INSUFFICIENT] = {"insufficient_points", "insufficient points"},
    [LOYALTY_ERR_CONFLICT] = {"conflict", "reference already used with other parameters"},
    [LOYALTY_ERR_EXISTS] = {"exists", "already exists"},
    [LOYALTY_ERR_STATE] = {"wrong_state", "operation not allowed in the current state"},
    [LOYALTY_ERR_NOT_PERMITTED] = {"not_permitted", "not permitted"},
    [LOYALTY_ERR_KEY] = {"key_error", "signing key unusable"},
    [LOYALTY_ERR_VERIFY] = {"verification_failed", "audit verification failed"},
    [LOYALTY_ERR_BUSY] = {"busy", "database is busy"},
};

static const result_text *text_of(int rc)
{
    if (rc < 0 || (size_t)rc >= sizeof result_texts / sizeof result_texts[0])
        return NULL;
    return &result_texts[rc];
}

LOYALTY_API const char *loyalty_strerror(int rc)
{
    const result_text *t = text_of(rc);
    return t ? t->description : "unknown result code";
}

LOYALTY_API const char *loyalty_result_name(int rc)
{
    const result_text *t = text_of(rc);
    return t ? t->name : "unknown";
}

LOYALTY_API const char *loyalty_errmsg(const loyalty_ledger *l)
{
    if (l == NULL)
        return "no ledger handle";
    return l->errmsg;
}

void clear_error(loyalty_ledger *l)
{
    l->errmsg[0] = '\0';
    l->error_code = LOYALTY_OK;
}

/* Records a one-line message on the handle and returns rc. */
int fail(loyalty_ledger *l, int rc, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(l->errmsg, sizeof l->errmsg, format, args);
    va_end(args);
    l->error_code = rc;
    for (char *p = l->errmsg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return rc;
}

int rc_from_sqlite(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return LOYALTY_OK;
    case SQLITE_NOMEM:
        return LOYALTY_ERR_NOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return LOYALTY_ERR_BUSY;
    case SQLITE_NOTADB:
        return LOYALTY_ERR_NO_LEDGER;
    case SQLITE_MISUSE:
        return LOYALTY_ERR_INTERNAL;
    default:
        return LOYALTY_ERR_STORAGE;
    }
}

/* Records SQLite's last error on the handle's connection. */
int fail_db(loyalty_ledger *l, const char *what)
{
    int code = l->db ? sqlite3_extended_errcode(l->db) : SQLITE_ERROR;
    int rc = rc_from_sqlite(code);
    if (rc == LOYALTY_OK)
        rc = LOYALTY_ERR_STORAGE;
    if (l->db == NULL)
        return fail(l, rc, "%s: no database", what);
    /* For a failure of the file system, say what the operating system said (SQLite's
     * "disk I/O error" alone does not tell a full disk from a file size limit). */
    int primary = code & 0xff;
    int system_errno = sqlite3_system_errno(l->db);
    if ((primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL ||
         primary == SQLITE_READONLY) &&
        system_errno != 0)
        return fail(l, rc, "%s: %s (%s)", what, sqlite3_errmsg(l->db), strerror(system_errno));
    return fail(l, rc, "%s: %s", what, sqlite3_errmsg(l->db));
}
