/*
 * create.c - creating a new ledger: an empty database file in WAL mode, the
 * schema, the signing key (made when the key file does not exist), the
 * genesis entry and the first program, all in one transaction. An existing
 * file is never touched.
 */
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Refuses any path that already holds data: init must change nothing then. */
static int check_new_path(loyalty_ledger *l)
{
    struct stat st;
    if (stat(l->db_path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return fail(l, LOYALTY_ERR_STORAGE, "%s is a directory", l->db_path);
        if (st.st_size > 0)
            return fail(l, LOYALTY_ERR_EXISTS, "%s already exists; nothing was changed", l->db_path);
    } else if (errno != ENOENT) {
        return fail(l, LOYALTY_ERR_STORAGE, "cannot use %s: %s", l->db_path, strerror(errno));
    }
    return LOYALTY_OK;
}

static int is_empty_database(loyalty_ledger *l)
{
    sqlite3_stmt *st = NULL;
    int rc = LOYALTY_OK;
    if (sqlite3_prepare_v2(l->db, "SELECT COUNT(*) FROM sqlite_schema", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        rc = fail_db(l, "inspecting database");
    else if (sqlite3_column_int64(st, 0) != 0)
        rc = fail(l, LOYALTY_ERR_EXISTS, "%s is already a ledger; nothing was changed", l->db_path);
    sqlite3_finalize(st);
    return rc;
}

/*
 * Removes the database this call created (it was absent or empty before and
 * the creating transaction rolled back, so it holds nothing), so that a
 * corrected retry of init is not refused as "already exists".
 */
static void remove_created(loyalty_ledger *l)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char path[4096];
    if (l->db) {
        sqlite3_close_v2(l->db);
        l->db = NULL;
    }
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (snprintf(path, sizeof path, "%s%s", l->db_path, suffixes[i]) < (int)sizeof path)
            unlink(path);
    }
}

/* Inside BEGIN IMMEDIATE: schema, key, genesis, program. */
static int build_ledger(loyalty_ledger *l, const program_rules *rules)
{
    int rc = is_empty_database(l);
    if (rc == LOYALTY_OK)
        rc = migrate_apply_all(l);
    if (rc != LOYALTY_OK)
        return rc;
    l->op_now_us = clock_now_us(l);
    l->op_actor = l->actor;
    l->next_seq = 1;
    memset(l->prev_hash, 0, sizeof l->prev_hash);
    l->entries_written = 0;
    /* Genesis, the program and the first admin: three entries of one transaction. */
    int replayed = 0;
    rc = genesis_apply(l, l->public_key);
    operation_next(l);
    if (rc == LOYALTY_OK)
        rc = program_apply(l, rules, NULL);
    operation_next(l);
    if (rc == LOYALTY_OK)
        rc = operator_add_apply(l, l->actor, LOYALTY_ROLE_ADMIN, &replayed);
    return rc;
}

/* Creates the database file and builds the ledger in it; on failure removes what it made. */
static int create_database(loyalty_ledger *l, const program_rules *rules)
{
    int rc = LOYALTY_OK;
    if (sqlite3_open_v2(l->db_path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        vfs_name()) !=
        SQLITE_OK)
        rc = fail_db(l, "cannot create ledger");
    if (rc == LOYALTY_OK)
        rc = db_configure(l);
    /* 2 KiB pages rather than 4: at millions of entries most of an award's writes land
     * on random index pages, and each one dirtied costs a page in the WAL and again in
     * the checkpoint. Measured on the 2M-entry bench ledger (copies VACUUMed to each
     * size, 20 batches of 1000 random awards, three rounds): 4 KiB 9 200-9 900
     * awards/s, 2 KiB 8 400-11 500, 1 KiB 11 200-12 200; on a fresh ledger, look-ups
     * and verify the three are within noise. 2 KiB keeps most of the gain with fewer
     * overflow pages and a smaller file than 1 KiB. Only a new file takes it. */
    if (rc == LOYALTY_OK)
        rc = db_exec(l, "PRAGMA page_size = 2048");
    if (rc == LOYALTY_OK)
        rc = db_exec(l, "PRAGMA journal_mode = WAL");
    if (rc == LOYALTY_OK)
        rc = db_exec(l, "BEGIN IMMEDIATE");
    if (rc == LOYALTY_OK) {
        l->in_write = 1;
        rc = write_end(l, build_ledger(l, rules));
    }
    /* EXISTS here means another process created the ledger meanwhile: it is theirs. */
    if (rc != LOYALTY_OK && rc != LOYALTY_ERR_EXISTS)
        remove_created(l);
    return rc;
}

LOYALTY_API int loyalty_create(loyalty_ledger **out, const loyalty_open_options *options,
                               const char *program_json)
{
    int rc = db_open_handle(out, options);
    if (rc != LOYALTY_OK)
        return rc;
    loyalty_ledger *l = *out;
    if (l->actor[0] == '\0')
        return fail(l, LOYALTY_ERR_INVALID, "an actor is required (--actor or LOYALTY_ACTOR)");
    program_rules rules;
    rc = program_parse(l, program_json, &rules);
    if (rc == LOYALTY_OK)
        rc = check_new_path(l);
    /* The key first: a key problem must not leave a database file behind. */
    if (rc == LOYALTY_OK)
        rc = keys_load_or_create(l);
    if (rc == LOYALTY_OK)
        rc = create_database(l, &rules);
    program_rules_clear(&rules);
    return rc;
}
