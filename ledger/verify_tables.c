/*
 * verify_tables.c - the ledger's structure and state against the replay
 * ledger's. First (verify_schema), the schema must be the one the
 * migrations create; last (verify_tables), every table of the ledger must
 * equal, row for row and column for column, the table that replaying the
 * signed history produced. Tables are discovered from the
 * schema, so tables added by later migrations are compared too. Both sides
 * are streamed in primary-key order, so a row deleted or added is named by
 * its key, not blamed on its neighbour; memory stays constant. The audit table
 * is the exception: the chain walk has already checked each of its rows.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define SQL_MAX 1024

/*
 * "SELECT pk..., * FROM "t" ORDER BY pk..." with identifiers quoted: the
 * primary key's columns come first, so that two rows out of step can be
 * told apart by key. *key_columns gets their number (0: ordered by rowid).
 * Returns 0 on success.
 */
static int select_sql(sqlite3 *db, const char *table, char *sql, size_t size, int *key_columns)
{
    static const char pk_sql[] = "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk";
    char *order = sqlite3_mprintf("%s", "");
    sqlite3_stmt *st = NULL;
    if (order == NULL || sqlite3_prepare_v2(db, pk_sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_free(order);
        sqlite3_finalize(st);
        return -2; /* out of memory (or the store failed), not a property of the table */
    }
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    *key_columns = 0;
    while (order && sqlite3_step(st) == SQLITE_ROW) {
        char *next = sqlite3_mprintf("%s%s\"%w\"", order, order[0] ? ", " : "",
                                     (const char *)sqlite3_column_text(st, 0));
        sqlite3_free(order);
        order = next;
        ++*key_columns;
    }
    sqlite3_finalize(st);
    if (order == NULL)
        return -2;
    int n = order[0]
                ? snprintf(sql, size, "SELECT %s, * FROM \"%s\" ORDER BY %s", order, table, order)
                : snprintf(sql, size, "SELECT * FROM \"%s\" ORDER BY rowid", table);
    sqlite3_free(order);
    return n > 0 && (size_t)n < size && strchr(table, '"') == NULL ? 0 : -1;
}

/* Where a value sorts among storage classes, as ORDER BY sorts them. */
static int class_rank(int type)
{
    return type == SQLITE_NULL ? 0 : type == SQLITE_INTEGER || type == SQLITE_FLOAT ? 1
                                   : type == SQLITE_TEXT ? 2 : 3;
}

/*
 * Which of two rows comes first by their leading key columns, as the ORDER
 * BY put them (BINARY collation): < 0 when a's key is smaller, > 0 when b's
 * is, 0 when the keys are equal or cannot be ordered here (real numbers).
 */
static int compare_keys(sqlite3_stmt *a, sqlite3_stmt *b, int key_columns)
{
    for (int c = 0; c < key_columns; c++) {
        int ta = sqlite3_column_type(a, c), tb = sqlite3_column_type(b, c);
        if (class_rank(ta) != class_rank(tb))
            return class_rank(ta) - class_rank(tb);
        if (ta == SQLITE_FLOAT || tb == SQLITE_FLOAT)
            return 0;
        if (ta == SQLITE_INTEGER) {
            int64_t x = sqlite3_column_int64(a, c), y = sqlite3_column_int64(b, c);
            if (x != y)
                return x < y ? -1 : 1;
        } else if (ta != SQLITE_NULL) {
            const void *x = sqlite3_column_blob(a, c), *y = sqlite3_column_blob(b, c);
            int nx = sqlite3_column_bytes(a, c), ny = sqlite3_column_bytes(b, c);
            int order = memcmp(x ? x : "", y ? y : "", (size_t)(nx < ny ? nx : ny));
            if (order != 0 || nx != ny)
                return order != 0 ? order : nx - ny;
        }
    }
    return 0;
}

static int same_value(sqlite3_stmt *a, sqlite3_stmt *b, int column)
{
    int type = sqlite3_column_type(a, column);
    if (type != sqlite3_column_type(b, column))
        return 0;
    switch (type) {
    case SQLITE_NULL:
        return 1;
    case SQLITE_INTEGER:
        return sqlite3_column_int64(a, column) == sqlite3_column_int64(b, column);
    case SQLITE_FLOAT:
        return 0; /* the ledger stores no floating point; one appearing is tampering */
    default: {
        int n = sqlite3_column_bytes(a, column);
        return n == sqlite3_column_bytes(b, column) &&
               (n == 0 || memcmp(sqlite3_column_blob(a, column), sqlite3_column_blob(b, column),
                                 (size_t)n) == 0);
    }
    }
}

/* A column's value as printable text: blobs in hex (truncated), NULL as "NULL". */
static const char *printable(sqlite3_stmt *st, int column, char *buffer, size_t size)
{
    int type = sqlite3_column_type(st, column);
    if (type == SQLITE_NULL)
        return "NULL";
    if (type == SQLITE_BLOB) {
        size_t n = (size_t)sqlite3_column_bytes(st, column);
        if (2 * n + 1 > size)
            n = (size - 1) / 2;
        sodium_bin2hex(buffer, size, sqlite3_column_blob(st, column), n);
        return buffer;
    }
    return (const char *)sqlite3_column_text(st, column);
}

/* The row's key for the report: its first column, plus its first text column when it has one. */
static void describe_row(sqlite3_stmt *st, char *out, size_t size)
{
    char first[130];
    int written = snprintf(out, size, "%s=%s", sqlite3_column_name(st, 0),
                           printable(st, 0, first, sizeof first));
    for (int c = 1; c < sqlite3_column_count(st) && written > 0 && (size_t)written < size; c++) {
        if (sqlite3_column_type(st, c) == SQLITE_TEXT) {
            snprintf(out + written, size - (size_t)written, " %s=%.64s", sqlite3_column_name(st, c),
                     (const char *)sqlite3_column_text(st, c));
            break;
        }
    }
}

static int mismatch(loyalty_ledger *l, loyalty_verify_report *r, const char *table,
                    sqlite3_stmt *row, const char *reason)
{
    /* A value that could not be read (memory ran out) is not a difference. */
    if (sqlite3_errcode(sqlite3_db_handle(row)) == SQLITE_NOMEM)
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory comparing table %s", table);
    r->first_bad_seq = 0;
    snprintf(r->table, sizeof r->table, "%s", table);
    describe_row(row, r->row_key, sizeof r->row_key);
    snprintf(r->reason, sizeof r->reason, "table %s, row %s: %s", table, r->row_key, reason);
    return fail(l, LOYALTY_ERR_VERIFY, "%s", r->reason);
}

/* Whether a value of either row could not be read because memory ran out: then no
 * difference seen between them is real. */
static int memory_ran_out(sqlite3_stmt *mine, sqlite3_stmt *replayed)
{
    return sqlite3_errcode(sqlite3_db_handle(mine)) == SQLITE_NOMEM ||
           sqlite3_errcode(sqlite3_db_handle(replayed)) == SQLITE_NOMEM;
}

static int compare_rows(loyalty_ledger *l, loyalty_verify_report *r, const char *table,
                        sqlite3_stmt *mine, sqlite3_stmt *replayed)
{
    char reason[256];
    int columns = sqlite3_column_count(mine);
    if (columns != sqlite3_column_count(replayed))
        return mismatch(l, r, table, mine, "the table's columns differ from the schema");
    for (int c = 0; c < columns; c++) {
        if (!same_value(mine, replayed, c)) {
            if (memory_ran_out(mine, replayed))
                return fail(l, LOYALTY_ERR_NOMEM, "out of memory comparing table %s", table);
            char have_hex[82], want_hex[82];
            const char *have = printable(mine, c, have_hex, sizeof have_hex);
            const char *want = printable(replayed, c, want_hex, sizeof want_hex);
            snprintf(reason, sizeof reason,
                     "column %s is %.40s in the ledger but %.40s by the signed history",
                     sqlite3_column_name(mine, c), have ? have : "NULL", want ? want : "NULL");
            return mismatch(l, r, table, mine, reason);
        }
    }
    return LOYALTY_OK;
}

/* When either step of a lockstep read failed: a storage error, never a difference. */
static int read_failed(loyalty_ledger *l, int a, int b, const char *what)
{
    if ((a == SQLITE_ROW || a == SQLITE_DONE) && (b == SQLITE_ROW || b == SQLITE_DONE))
        return LOYALTY_OK;
    int rc = fail_db(l, what);
    return rc == LOYALTY_OK || rc == LOYALTY_ERR_VERIFY ? LOYALTY_ERR_STORAGE : rc;
}

static int compare_table(loyalty_ledger *l, loyalty_ledger *scratch, loyalty_verify_report *r,
                         const char *table)
{
    char sql[SQL_MAX];
    sqlite3_stmt *mine = NULL, *replayed = NULL;
    int key_columns = 0;
    int built = select_sql(l->db, table, sql, sizeof sql, &key_columns);
    if (built == -2)
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory preparing to compare table %.64s", table);
    if (built != 0)
        return fail(l, LOYALTY_ERR_VERIFY, "table %.64s cannot be read for comparison", table);
    int rc = LOYALTY_OK;
    if (sqlite3_prepare_v2(l->db, sql, -1, &mine, NULL) != SQLITE_OK)
        rc = fail_db(l, "reading a table to compare");
    else if (sqlite3_prepare_v2(scratch->db, sql, -1, &replayed, NULL) != SQLITE_OK)
        rc = fail(l, LOYALTY_ERR_STORAGE, "reading the replayed table %s", table);
    while (rc == LOYALTY_OK) {
        int a = sqlite3_step(mine), b = sqlite3_step(replayed);
        if (a == SQLITE_DONE && b == SQLITE_DONE)
            break;
        rc = read_failed(l, a, b, "comparing tables");
        if (rc != LOYALTY_OK)
            break;
        /* Rows out of step (or one side ended): the one with the smaller key is
         * the extra or the missing one. */
        int order = a != SQLITE_ROW   ? 1
                    : b != SQLITE_ROW ? -1
                                      : compare_keys(mine, replayed, key_columns);
        if (order != 0 && memory_ran_out(mine, replayed))
            rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory comparing table %s", table);
        else if (order < 0)
            rc = mismatch(l, r, table, mine, "the row is not in the signed history");
        else if (order > 0)
            rc = mismatch(l, r, table, replayed, "the row of the signed history is missing");
        else
            rc = compare_rows(l, r, table, mine, replayed);
    }
    sqlite3_finalize(mine);
    sqlite3_finalize(replayed);
    return rc;
}

/* Records a schema difference about the object (a table, index, trigger or view) in row. */
static int schema_mismatch(loyalty_ledger *l, loyalty_verify_report *r, sqlite3_stmt *row,
                           const char *what)
{
    const char *name = (const char *)sqlite3_column_text(row, 0);
    const char *type = (const char *)sqlite3_column_text(row, 1);
    if (name == NULL || type == NULL)
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory reading the schema");
    r->first_bad_seq = 0;
    snprintf(r->table, sizeof r->table, "sqlite_schema");
    snprintf(r->row_key, sizeof r->row_key, "%s", name);
    snprintf(r->reason, sizeof r->reason, "the %s %.64s %s", type, name, what);
    return fail(l, LOYALTY_ERR_VERIFY, "%s", r->reason);
}

/*
 * The schema itself: every table, index, trigger and view, and the SQL that
 * defines it, exactly as the migrations create it in the replay ledger. A
 * renamed column, a dropped constraint or index, an added trigger or view
 * changes what the ledger's rows mean without changing a row.
 */
int verify_schema(loyalty_ledger *l, loyalty_ledger *scratch, loyalty_verify_report *r)
{
    static const char sql[] =
        "SELECT name, type, tbl_name, sql FROM sqlite_schema ORDER BY name, type";
    sqlite3_stmt *mine = NULL, *replayed = NULL;
    int rc = LOYALTY_OK;
    if (sqlite3_prepare_v2(l->db, sql, -1, &mine, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(scratch->db, sql, -1, &replayed, NULL) != SQLITE_OK)
        rc = fail_db(l, "reading the schema");
    while (rc == LOYALTY_OK) {
        int a = sqlite3_step(mine), b = sqlite3_step(replayed);
        if (a == SQLITE_DONE && b == SQLITE_DONE)
            break;
        rc = read_failed(l, a, b, "reading the schema");
        if (rc != LOYALTY_OK)
            break;
        const char *name_a = a == SQLITE_ROW ? (const char *)sqlite3_column_text(mine, 0) : "";
        const char *name_b = b == SQLITE_ROW ? (const char *)sqlite3_column_text(replayed, 0) : "";
        if (name_a == NULL || name_b == NULL) {
            rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory reading the schema");
            break;
        }
        /* One side ended, or names out of step: the smaller name is extra or missing. */
        int order = a != SQLITE_ROW ? 1 : b != SQLITE_ROW ? -1 : strcmp(name_a, name_b);
        int differs = order != 0 || !same_value(mine, replayed, 1) ||
                      !same_value(mine, replayed, 2) || !same_value(mine, replayed, 3);
        if (differs && memory_ran_out(mine, replayed))
            rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory reading the schema");
        else if (order < 0)
            rc = schema_mismatch(l, r, mine, "is not one the migrations create");
        else if (order > 0)
            rc = schema_mismatch(l, r, replayed, "is missing from the ledger");
        else if (differs)
            rc = schema_mismatch(l, r, mine, "differs from the one the migrations create");
    }
    sqlite3_finalize(mine);
    sqlite3_finalize(replayed);
    return rc;
}

/*
 * Compares every table of the ledger with the replay ledger's. verify_schema()
 * has already found both schemas equal, so both hold the same tables.
 */
int verify_tables(loyalty_ledger *l, loyalty_ledger *scratch, loyalty_verify_report *report)
{
    static const char sql[] = "SELECT name FROM sqlite_schema WHERE type = 'table'"
                              " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
    sqlite3_stmt *tables = NULL;
    int rc = LOYALTY_OK, step;
    if (sqlite3_prepare_v2(l->db, sql, -1, &tables, NULL) != SQLITE_OK)
        rc = fail_db(l, "listing tables");
    while (rc == LOYALTY_OK && (step = sqlite3_step(tables)) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(tables, 0);
        if (table == NULL)
            rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory listing tables");
        else if (strcmp(table, "audit") != 0)
            /* The audit table is the signed history itself: the chain walk read every
             * row in seq order from 1 (so none is missing or extra), recomputed each
             * hash, checked each signature and link, and compared each payload with
             * the re-executed one. The replay does not copy it. */
            rc = compare_table(l, scratch, report, table);
    }
    if (rc == LOYALTY_OK && step != SQLITE_DONE)
        rc = read_failed(l, step, SQLITE_DONE, "listing tables");
    sqlite3_finalize(tables);
    return rc;
}
