/*
 * checkpointer.c - copying the WAL back into the database off the writer's
 * path.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses its
 * threshold, so one batch in a few pays for copying every page the batches
 * before it wrote, and at millions of entries those pages are scattered over
 * the whole file (a checkpoint there takes hundreds of milliseconds). A
 * read-write handle therefore installs a WAL hook instead: once the WAL holds
 * `checkpoint_pages` pages, the hook wakes a thread that runs a PASSIVE
 * checkpoint on its own connection while the writer goes on (WAL lets a
 * checkpoint and a writer run at the same time). Durability does not depend
 * on it: every commit is already in the fsynced WAL.
 *
 * Should the thread fall behind (or fail to start), the WAL is not allowed to
 * grow without bound: at LIMIT_CHECKPOINT_INLINE_FACTOR times the threshold
 * the writer checkpoints inline, as SQLite would have.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct checkpointer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    sqlite3 *db;    /* the thread's own connection */
    char *path;
    int requested;  /* a checkpoint is wanted */
    int stopping;
    int64_t runs;   /* checkpoints the thread ran (for tests) */
};

static void *checkpointer_main(void *argument)
{
    checkpointer *c = argument;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->requested && !c->stopping)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->stopping)
            break;
        c->requested = 0;
        pthread_mutex_unlock(&c->lock);
        /* A failure leaves the frames in the WAL for the next checkpoint. */
        (void)sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->lock);
        c->runs++;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void checkpointer_free(checkpointer *c)
{
    if (c->db)
        sqlite3_close_v2(c->db);
    free(c->path);
    free(c);
}

/* Starts the thread and its connection; NULL when either cannot be had. */
static checkpointer *checkpointer_start(const char *path)
{
    checkpointer *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->path = strdup(path);
    if (c->path == NULL ||
        sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs_name()) !=
            SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
        checkpointer_free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, checkpointer_main, c) != 0) {
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->wake);
        checkpointer_free(c);
        return NULL;
    }
    return c;
}

/* Called by SQLite after each commit with the number of pages in the WAL. */
static int wal_hook(void *context, sqlite3 *db, const char *name, int pages)
{
    loyalty_ledger *l = context;
    if (pages < l->checkpoint_pages)
        return SQLITE_OK;
    if (l->checkpointer == NULL && !l->checkpointer_failed) {
        l->checkpointer = checkpointer_start(l->db_path);
        l->checkpointer_failed = l->checkpointer == NULL;
    }
    if (l->checkpointer == NULL ||
        pages / LIMIT_CHECKPOINT_INLINE_FACTOR >= l->checkpoint_pages) {
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    checkpointer *c = l->checkpointer;
    pthread_mutex_lock(&c->lock);
    c->requested = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    return SQLITE_OK;
}

void checkpointer_attach(loyalty_ledger *l)
{
    l->checkpoint_pages = LIMIT_CHECKPOINT_PAGES;
    sqlite3_wal_hook(l->db, wal_hook, l);
}

/* Stops the thread (after the checkpoint it may be running) and closes its connection. */
void checkpointer_stop(loyalty_ledger *l)
{
    checkpointer *c = l->checkpointer;
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    checkpointer_free(c);
    l->checkpointer = NULL;
}

int64_t checkpointer_runs(const loyalty_ledger *l)
{
    checkpointer *c = l->checkpointer;
    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->lock);
    int64_t runs = c->runs;
    pthread_mutex_unlock(&c->lock);
    return runs;
}
