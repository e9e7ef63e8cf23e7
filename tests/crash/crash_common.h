/*
 * crash_common.h - what the crash writer, the crash driver and the
 * concurrency soak share: a seeded random number generator, the operation
 * log's line format, appending a line durably, and a few small helpers.
 *
 * The operation log (one file per writer run) has three kinds of lines,
 * space-separated, one per line:
 *
 *   I batch kind ref member amount points aux   an operation about to be called
 *   A kind ref points replayed tx               it was acknowledged (returned OK)
 *   F kind ref rc                               it was refused: nothing applied
 *
 * `batch` is 0 for a single call, else the number of the batch the
 * operation belongs to (one transaction); `aux` is the refund's order
 * reference, the reversal's transaction, or "-". Empty strings are "-".
 * An A line is fsynced before the writer goes on, so that an acknowledged
 * operation is on record even after a power loss; an I line needs no fsync:
 * kill -9 loses nothing already written, and a power loss before the call's
 * own commit loses the call too.
 */
#ifndef LOYALTY_CRASH_COMMON_H
#define LOYALTY_CRASH_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loyalty.h"

#define CRASH_UNUSED __attribute__((unused))

/* The writer's world: members m0..m7; the creator is the admin. */
#define CRASH_MEMBERS 8
#define CRASH_ADMIN "crash-admin"
#define CRASH_CLERK "crash-clerk" /* a checkout operator: awards and holds go through it */

/* The program: two tiers, so that purchases cross thresholds and upgrade members. */
#define CRASH_PROGRAM                                                                      \
    "{\"tiers\":[{\"code\":\"base\",\"name\":\"Base\",\"threshold\":0,"                   \
    "\"multiplier_permille\":1000,\"benefits\":[]},"                                        \
    "{\"code\":\"gold\",\"name\":\"Gold\",\"threshold\":20000,"                             \
    "\"multiplier_permille\":1500,\"benefits\":[]}]}"

/* The fixed texts of the writer's requests: a retry must repeat them exactly. */
#define CRASH_ADJUST_REASON "goodwill"
#define CRASH_NOTE "crash test"
#define CRASH_REVERSE_REASON "mistake"

/* Longest log line: five ids of 64 characters and a few numbers. */
#define CRASH_LINE_MAX 512

/* xorshift64*: small, fast, and the same sequence everywhere for a seed. */
typedef struct crash_rng {
    uint64_t state;
} crash_rng;

static CRASH_UNUSED void rng_seed(crash_rng *r, uint64_t seed)
{
    r->state = seed * UINT64_C(0x9E3779B97F4A7C15) + UINT64_C(0x2545F4914F6CDD1D);
    if (r->state == 0)
        r->state = 1;
}

static CRASH_UNUSED uint64_t rng_next(crash_rng *r)
{
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Uniform in [low, high] (inclusive); high >= low. */
static CRASH_UNUSED int64_t rng_range(crash_rng *r, int64_t low, int64_t high)
{
    uint64_t span = (uint64_t)(high - low) + 1;
    return low + (int64_t)(rng_next(r) % span);
}

/* True with probability percent/100. */
static CRASH_UNUSED int rng_chance(crash_rng *r, int percent)
{
    return (int)(rng_next(r) % 100) < percent;
}

static CRASH_UNUSED int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static CRASH_UNUSED void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("crash: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

/* Appends one formatted line with a single write(); fsyncs it when durable. */
static CRASH_UNUSED void log_line(int fd, int durable, const char *format, ...)
{
    char line[CRASH_LINE_MAX];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line - 1, format, args);
    va_end(args);
    if (n < 0 || n >= (int)sizeof line - 1)
        die("log line too long");
    line[n++] = '\n';
    for (int done = 0; done < n;) {
        ssize_t w = write(fd, line + done, (size_t)(n - done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("writing the operation log: %s", strerror(errno));
        done += (int)w;
    }
    if (durable && fsync(fd) != 0)
        die("fsync of the operation log: %s", strerror(errno));
}

/* "-" for an empty or absent string, as the log writes it. */
static CRASH_UNUSED const char *or_dash(const char *s)
{
    return s && s[0] ? s : "-";
}

static CRASH_UNUSED void member_name(char out[16], int index)
{
    snprintf(out, 16, "m%d", index);
}

#endif
