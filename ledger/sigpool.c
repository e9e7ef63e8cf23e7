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
 * signs each entry while the batch goes on with its SQL; before the commit
 * the batch waits for the signatures and writes them into the entries.
 */
#include <pthread.h>
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

/* One worker per core: the walk's own thread shares them, being mostly SQL waits. */
verify_pool *verify_pool_start(void)
{
    verify_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return NULL;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
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
