/*
 * sigpool.c - Ed25519 work off the critical path.
 *
 * Verification: loyalty_verify walks the chain and replays it on one thread
 * (both must go in order); checking each entry's signature does not, so the
 * walk hands (seq, hash, signature, key) to worker threads through a bounded
 * ring and learns at the end the first seq whose signature failed. Memory is
 * the ring, whatever the ledger's size.
 *
 * Signing: a batch appends many entries in one transaction; their hashes are
 * serial and cheap, their signatures independent and dear. A signer thread
 * signs the entries while the batch goes on with its SQL; before the commit
 * the batch's own thread signs what is still waiting alongside it (signing
 * costs more than an entry's SQL, so a backlog is left), then writes the
 * signatures into the entries.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define RING_SIZE 1024 /* jobs in flight: bounds the memory whatever the ledger's size */
#define WORKERS_MAX 8

typedef struct verify_job {
    int64_t seq;
    unsigned char hash[HASH_BYTES];
    unsigned char sig[crypto_sign_BYTES];
    unsigned char key[crypto_sign_PUBLICKEYBYTES];
} verify_job;

struct verify_pool {
    pthread_t workers[WORKERS_MAX];
    int worker_count;
    pthread_mutex_t lock;
    pthread_cond_t work;  /* signalled when a job is queued or the pool closes */
    pthread_cond_t space; /* signalled when a job is taken */
    verify_job ring[RING_SIZE];
    int64_t taken;  /* jobs taken by workers */
    int64_t queued; /* jobs queued by the walk */
    int closing;
    int sleeping; /* workers waiting for work */
    int64_t first_bad_seq;
};

#define TAKE_MAX 32 /* jobs a worker takes at once: fewer wake-ups and lock round trips */

static void *verify_worker(void *argument)
{
    verify_pool *pool = argument;
    verify_job jobs[TAKE_MAX];
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (pool->taken == pool->queued && !pool->closing) {
            pool->sleeping++;
            pthread_cond_wait(&pool->work, &pool->lock);
            pool->sleeping--;
        }
        int count = 0;
        while (count < TAKE_MAX && pool->taken < pool->queued)
            jobs[count++] = pool->ring[pool->taken++ % RING_SIZE];
        if (count > 0)
            pthread_cond_signal(&pool->space);
        pthread_mutex_unlock(&pool->lock);
        if (count == 0)
            return NULL; /* closing, and nothing left */
        int64_t bad = 0;
        for (int i = 0; i < count; i++)
            if (crypto_sign_verify_detached(jobs[i].sig, jobs[i].hash, HASH_BYTES, jobs[i].key) != 0 &&
                (bad == 0 || jobs[i].seq < bad))
                bad = jobs[i].seq;
        if (bad) {
            pthread_mutex_lock(&pool->lock);
            if (pool->first_bad_seq == 0 || bad < pool->first_bad_seq)
                pool->first_bad_seq = bad;
            pthread_mutex_unlock(&pool->lock);
        }
    }
}

/* The cores this process may run on (a CPU set or taskset may allow fewer than are online). */
static long usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return sysconf(_SC_NPROCESSORS_ONLN);
}

/* One worker per usable core; the walk's own thread shares the cores with them. */
verify_pool *verify_pool_start(void)
{
    verify_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return NULL;
    long cores = usable_cores();
    int wanted = cores < 1 ? 1 : cores > WORKERS_MAX ? WORKERS_MAX : (int)cores;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, NULL);
    pthread_cond_init(&pool->space, NULL);
    for (int i = 0; i < wanted; i++) {
        if (pthread_create(&pool->workers[i], NULL, verify_worker, pool) != 0)
            break;
        pool->worker_count++;
    }
    if (pool->worker_count == 0) {
        verify_pool_finish(pool);
        return NULL;
    }
    return pool;
}

void verify_pool_submit(verify_pool *pool, int64_t seq, const unsigned char hash[HASH_BYTES],
                        const unsigned char sig[crypto_sign_BYTES],
                        const unsigned char key[crypto_sign_PUBLICKEYBYTES])
{
    pthread_mutex_lock(&pool->lock);
    while (pool->queued - pool->taken == RING_SIZE)
        pthread_cond_wait(&pool->space, &pool->lock);
    verify_job *job = &pool->ring[pool->queued % RING_SIZE];
    job->seq = seq;
    memcpy(job->hash, hash, HASH_BYTES);
    memcpy(job->sig, sig, crypto_sign_BYTES);
    memcpy(job->key, key, crypto_sign_PUBLICKEYBYTES);
    pool->queued++;
    /* Wake a sleeper only when a handful of jobs is waiting: one wake-up serves many. */
    if (pool->sleeping > 0 && pool->queued - pool->taken >= TAKE_MAX / 2)
        pthread_cond_signal(&pool->work);
    pthread_mutex_unlock(&pool->lock);
}

/* Waits for every queued job; returns the first seq whose signature failed, 0 when none. */
int64_t verify_pool_finish(verify_pool *pool)
{
    if (pool == NULL)
        return 0;
    pthread_mutex_lock(&pool->lock);
    pool->closing = 1;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->worker_count; i++)
        pthread_join(pool->workers[i], NULL);
    int64_t first_bad = pool->first_bad_seq;
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work);
    pthread_cond_destroy(&pool->space);
    free(pool);
    return first_bad;
}

/* --- signing a batch on a second thread ---------------------------------- */

typedef struct sign_job {
    audit_row row;  /* payload owned; action and key_id point into the job */
    char action[32];
    char key_id[LOYALTY_KEY_ID_HEX + 1];
    int wanted; /* 0 once the entry was rolled back */
} sign_job;

struct batch_signer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work; /* signalled when an entry is queued or the batch closes */
    pthread_cond_t done; /* signalled when the last claimed entry is signed after closing */
    const unsigned char *secret_key;
    sign_job *jobs;
    size_t capacity;
    size_t queued;   /* entries submitted by the batch */
    size_t claimed;  /* entries taken by a thread to sign: jobs[0 .. claimed) */
    size_t finished; /* entries signed */
    int closing;
};

#define CLAIM_MAX 8 /* entries a thread takes at once: few lock round trips, a short tail */

/*
 * Takes up to CLAIM_MAX queued entries and signs them; called with the lock
 * held and returns with it held. Returns 0 when none was waiting.
 */
static int sign_some(batch_signer *s)
{
    size_t first = s->claimed, end = s->queued;
    if (first == end)
        return 0;
    if (end - first > CLAIM_MAX)
        end = first + CLAIM_MAX;
    s->claimed = end;
    pthread_mutex_unlock(&s->lock);
    for (size_t i = first; i < end; i++)
        crypto_sign_detached(s->jobs[i].row.sig, NULL, s->jobs[i].row.hash, HASH_BYTES,
                             s->secret_key);
    pthread_mutex_lock(&s->lock);
    s->finished += end - first;
    if (s->closing && s->finished == s->queued)
        pthread_cond_signal(&s->done);
    return 1;
}

static void *signer_main(void *argument)
{
    batch_signer *s = argument;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->claimed == s->queued && !s->closing)
            pthread_cond_wait(&s->work, &s->lock);
        if (!sign_some(s))
            break; /* closing, nothing left to claim */
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Starts the signer for a batch of at most `capacity` entries; NULL: sign inline. */
batch_signer *signer_start(loyalty_ledger *l, size_t capacity)
{
    if (l->secret_key == NULL || capacity < 2)
        return NULL;
    batch_signer *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->jobs = calloc(capacity, sizeof *s->jobs);
    s->capacity = capacity;
    s->secret_key = l->secret_key;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->done, NULL);
    /* The key stays readable for the batch's duration only, then inaccessible again. */
    sodium_mprotect_readonly(l->secret_key);
    if (s->jobs == NULL || pthread_create(&s->thread, NULL, signer_main, s) != 0) {
        sodium_mprotect_noaccess(l->secret_key);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->work);
        pthread_cond_destroy(&s->done);
        free(s->jobs);
        free(s);
        return NULL;
    }
    return s;
}

/* Queues an entry; returns -1 when the batch holds more entries than announced, or when
 * the action or key id do not fit (then the caller keeps the payload). */
int signer_submit(batch_signer *s, const audit_row *row)
{
    if (strlen(row->action) >= sizeof s->jobs[0].action ||
        strlen(row->key_id) >= sizeof s->jobs[0].key_id)
        return -1;
    pthread_mutex_lock(&s->lock);
    int ok = s->queued < s->capacity;
    if (ok) {
        sign_job *job = &s->jobs[s->queued];
        job->row = *row;
        snprintf(job->action, sizeof job->action, "%s", row->action);
        snprintf(job->key_id, sizeof job->key_id, "%s", row->key_id);
        job->row.action = job->action;
        job->row.key_id = job->key_id;
        job->wanted = 1;
        s->queued++;
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->lock);
    return ok ? 0 : -1;
}

size_t signer_mark(batch_signer *s)
{
    pthread_mutex_lock(&s->lock);
    size_t mark = s->queued;
    pthread_mutex_unlock(&s->lock);
    return mark;
}

/* The entries queued since `mark` were rolled back: their signatures are not written. */
void signer_discard_since(batch_signer *s, size_t mark)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = mark; i < s->queued; i++)
        s->jobs[i].wanted = 0;
    pthread_mutex_unlock(&s->lock);
}

/*
 * Signs what is still waiting alongside the signer thread, waits for every
 * signature and, when write is set, stores the entries that were not rolled
 * back (inside the batch's transaction, before it commits). Frees the signer
 * and every payload it held, and makes the key inaccessible again.
 */
int signer_finish(batch_signer *s, loyalty_ledger *l, int write)
{
    pthread_mutex_lock(&s->lock);
    s->closing = 1;
    pthread_cond_signal(&s->work);
    while (sign_some(s))
        ;
    while (s->finished < s->queued)
        pthread_cond_wait(&s->done, &s->lock);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    sodium_mprotect_noaccess(l->secret_key);
    int rc = LOYALTY_OK;
    for (size_t i = 0; write && rc == LOYALTY_OK && i < s->queued; i++)
        if (s->jobs[i].wanted)
            rc = audit_insert_row(l, &s->jobs[i].row);
    for (size_t i = 0; i < s->queued; i++)
        free((char *)s->jobs[i].row.payload);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->done);
    sodium_memzero(s->jobs, s->capacity * sizeof *s->jobs);
    free(s->jobs);
    free(s);
    return rc;
}
