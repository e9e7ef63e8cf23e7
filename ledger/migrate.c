/*
 * migrate.c - schema migrations. The numbered files of schema/ are compiled
 * into the library (loyalty_migrations[]); migration i brings the database
 * from PRAGMA user_version i to i + 1. A ledger made by an older version is
 * brought forward when it is opened; one made by a newer version is refused.
 */
#include <stdio.h>

#include "internal.h"

static int user_version(loyalty_ledger *l, int64_t *version)
{
    sqlite3_stmt *st = NULL;
    int rc = LOYALTY_OK;
    if (sqlite3_prepare_v2(l->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return fail_db(l, "reading schema version");
    if (sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int64(st, 0);
    else
        rc = fail_db(l, "reading schema version");
    sqlite3_finalize(st);
    return rc;
}

static int set_user_version(loyalty_ledger *l, int64_t version)
{
    char sql[64];
    /* PRAGMA takes no bound parameters; the value is an integer we formatted. */
    snprintf(sql, sizeof sql, "PRAGMA user_version = %lld", (long long)version);
    return db_exec(l, sql);
}

/* Applies migrations from the current user_version up; the caller holds the write lock. */
static int apply_from(loyalty_ledger *l, int64_t version)
{
    for (int64_t i = version; i < loyalty_migration_count; i++) {
        if (sqlite3_exec(l->db, loyalty_migrations[i], NULL, NULL, NULL) != SQLITE_OK)
            return fail_db(l, "applying schema migration");
    }
    return set_user_version(l, loyalty_migration_count);
}

/* Creates the whole schema in an empty database (inside the creating transaction). */
int migrate_apply_all(loyalty_ledger *l)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d", LEDGER_APPLICATION_ID);
    int rc = db_exec(l, sql);
    if (rc == LOYALTY_OK)
        rc = apply_from(l, 0);
    return rc;
}

/* On open: refuse unknown versions, bring older ledgers forward. */
int migrate_check_version(loyalty_ledger *l)
{
    int64_t version = 0;
    int rc = user_version(l, &version);
    if (rc != LOYALTY_OK)
        return rc;
    if (version == loyalty_migration_count)
        return LOYALTY_OK;
    if (version < 1 || version > loyalty_migration_count)
        return fail(l, LOYALTY_ERR_NO_LEDGER,
                    "%s has schema version %lld; this library knows 1 to %d", l->db_path,
                    (long long)version, loyalty_migration_count);
    rc = db_exec(l, "BEGIN IMMEDIATE");
    if (rc != LOYALTY_OK)
        return rc;
    rc = user_version(l, &version);
    if (rc == LOYALTY_OK && version < loyalty_migration_count)
        rc = apply_from(l, version);
    if (rc == LOYALTY_OK)
        rc = db_exec(l, "COMMIT");
    if (rc != LOYALTY_OK)
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}
