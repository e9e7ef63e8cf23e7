/*
 * bench.c - the performance harness of issue 7 (`make bench`, `make bench-smoke`).
 *
 * ONE run measures the raw limits of this machine and the library side by
 * side, and reports each of ours as a ratio to its baseline:
 *
 *   baselines (raw, same machine, same run)
 *     raw.award_rows_1tx_sign   the rows an award writes (journal, lots, members
 *                               UPDATE, audit with BLAKE2b + Ed25519) in plain
 *                               SQLite, one transaction each, WAL + synchronous=FULL
 *     raw.serial_batch          the same rows, 1000 per transaction, hashing and
 *                               signing each on one thread
 *     raw.ed25519_sign/verify   libsodium, one core
 *     raw.ed25519_verify_parallel  verification on every core at once (informative:
 *                               what the cores give together, against one core x cores)
 *     raw.point_select@SIZE     prepared SELECT by primary key on the ledger file
 *   ours (through libloyalty and the CLI)
 *     award.single, award.batch, award.cli, balance.lookup, verify.rate,
 *     verify.peak_rss, cli.balance_median
 *   bounds (informative)
 *     verify.other_work, verify.bound  what verification does besides checking
 *                               signatures, and the rate that leaves it at most
 *                               (see fig_verify_bound())
 *
 * at two sizes: a fresh ledger and a large one (2 000 000 journal entries over
 * 1 000 000 members) built once with the batch API and cached in the cache
 * directory (bench/cache), rebuilt when missing or when the schema version
 * (PRAGMA user_version) or page size changed. Every run works on a copy of the cached file.
 *
 * Each of ours alternates with its baseline for a few rounds and the best
 * rate of each is kept, so that load from other processes skews both alike;
 * the 1-minute load average at the start is recorded with the machine.
 *
 * Output: a table on stdout and a JSON file (--json). --smoke runs every
 * figure on tiny sizes in seconds and asserts only that each measurement ran.
 * --ceiling measures instead how fast batches could be at the large size
 * without the indexes an award writes at random (see measure_ceiling()).
 *
 * Usage: bench [--smoke] [--rebuild] [--ceiling] --cli PATH --cache DIR --json PATH
 */
#define _GNU_SOURCE /* sched_getcpu, sched_setaffinity */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "loyalty.h"

extern char **environ; /* for posix_spawn: the command runs in this environment */

#ifndef BENCH_GIT
#define BENCH_GIT "unknown"
#endif

#define ACTOR "bench"
#define BUILD_BATCH 10000 /* operations per batch when building ledgers */
#define MAX_FIGURES 48

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

typedef struct config {
    int smoke;
    int rebuild;
    const char *cli;
    const char *cache_dir;
    const char *json_path;
    const char *git; /* the tree measured (--git), else the one the binary was built from */
    int64_t large_entries, large_members; /* the cached large ledger */
    int64_t small_entries, small_members; /* the ledger verify is measured on at "10k" */
    int64_t fresh_members;                /* members of the fresh ledger */
    int raw_single;                       /* raw one-transaction awards */
    int single_awards;                    /* loyalty_award calls per size */
    int batches, batch_size;              /* timed batches per size */
    int cli_awards;                       /* `loyalty award` processes */
    int lookups;                          /* loyalty_member_get calls per size */
    int selects;                          /* raw point SELECTs per size */
    int crypto_ops;                       /* signatures and verifications */
    int cli_runs;                         /* `loyalty balance` processes per size */
    int rounds;                           /* alternations of each figure with its baseline */
} config;

static const config full_config = {
    .large_entries = 2000000, .large_members = 1000000,
    .small_entries = 10000, .small_members = 5000,
    .fresh_members = 10000,
    .raw_single = 1000, .single_awards = 1000,
    .batches = 10, .batch_size = 1000,
    .cli_awards = 200, .lookups = 100000, .selects = 300000,
    .crypto_ops = 20000, .cli_runs = 100, .rounds = 3,
};

static const config smoke_config = {
    .smoke = 1,
    .large_entries = 2000, .large_members = 1000,
    .small_entries = 200, .small_members = 100,
    .fresh_members = 100,
    .raw_single = 10, .single_awards = 10,
    .batches = 2, .batch_size = 1000,
    .cli_awards = 3, .lookups = 1000, .selects = 2000,
    .crypto_ops = 200, .cli_runs = 3, .rounds = 1,
};

/* ------------------------------------------------------------------------ */
/* Small helpers: errors, time, randomness, sizes                            */
/* ------------------------------------------------------------------------ */

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    fputs("bench: ", stderr);
    vfprintf(stderr, format, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void check(loyalty_ledger *l, int rc, const char *what)
{
    if (rc != LOYALTY_OK)
        die("%s: %s: %s", what, loyalty_result_name(rc), loyalty_errmsg(l));
}

static void check_sql(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        die("%s: %s", what, sqlite3_errmsg(db));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: a bijection on 64 bits, so distinct counters give distinct refs. */
static uint64_t mix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static uint64_t rng_state = 42;

static uint64_t rnd(uint64_t bound) /* uniform enough in [0, bound) */
{
    rng_state = mix64(rng_state);
    return rng_state % bound;
}

/*
 * A fresh, random-looking order reference: random order refs write random
 * index pages. Within a run the counter makes them distinct (mix64 is a
 * bijection); the run's random salt keeps them apart from the refs of the
 * run that built the cached ledger. Every reference, the cached ledger's
 * included, is drawn from one key space (REF_PREFIX and 16 hex digits), so
 * that at the large size a measured award's reference lands among the
 * millions already in the index, as a checkout's random order ids do, not
 * in a region of the index that only this run's references fill.
 */
#define REF_PREFIX "b"
static uint64_t ref_counter, ref_salt;

static void next_ref(char out[24])
{
    snprintf(out, 24, REF_PREFIX "%016llx", (unsigned long long)mix64(ref_salt + ++ref_counter));
}

static void member_id(char out[24], int64_t n)
{
    snprintf(out, 24, "m%07lld", (long long)n);
}

/* "2M", "10k", "2k", "200": the size in figure names. */
static void size_label(char *out, size_t n, int64_t entries)
{
    if (entries >= 1000000 && entries % 1000000 == 0)
        snprintf(out, n, "%lldM", (long long)(entries / 1000000));
    else if (entries >= 1000 && entries % 1000 == 0)
        snprintf(out, n, "%lldk", (long long)(entries / 1000));
    else
        snprintf(out, n, "%lld", (long long)entries);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void path_join(char *out, size_t n, const char *dir, const char *name)
{
    if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
        die("path too long: %s/%s", dir, name);
}

static void path_suffix(char *out, size_t n, const char *path, const char *suffix)
{
    if ((size_t)snprintf(out, n, "%s%s", path, suffix) >= n)
        die("path too long: %s%s", path, suffix);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY);
    if (in < 0)
        die("open %s: %s", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (out < 0)
        die("create %s: %s", to, strerror(errno));
    static char buffer[1 << 20];
    for (;;) {
        ssize_t got = read(in, buffer, sizeof buffer);
        if (got < 0)
            die("read %s: %s", from, strerror(errno));
        if (got == 0)
            break;
        for (ssize_t done = 0; done < got;) {
            ssize_t put = write(out, buffer + done, (size_t)(got - done));
            if (put < 0)
                die("write %s: %s", to, strerror(errno));
            done += put;
        }
    }
    close(in);
    if (close(out) != 0)
        die("close %s: %s", to, strerror(errno));
}

/* Removes a ledger's files: the database, its WAL and shared memory, its key. */
static void remove_ledger(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".key"};
    char p[4096];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        path_suffix(p, sizeof p, path, suffixes[i]);
        unlink(p);
    }
}

/* Empties and removes a flat directory (the run's scratch directory). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        path_join(p, sizeof p, dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static char work_dir[4096]; /* the run's scratch directory, removed at exit */

static void remove_work_dir(void)
{
    if (work_dir[0])
        remove_dir(work_dir);
    work_dir[0] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Figures                                                                   */
/* ------------------------------------------------------------------------ */

enum target_kind { NO_TARGET, RATIO_AT_LEAST, RATIO_AT_MOST, VALUE_AT_MOST };

typedef struct figure {
    char name[48];
    const char *unit;
    double value;
    char baseline_name[48]; /* "" for a baseline itself */
    double baseline;
    double ratio;
    enum target_kind kind;
    double target;
    char note[160]; /* how it was measured, or why it failed */
} figure;

static figure figures[MAX_FIGURES];
static int figure_count;
static int failures; /* measurements that could not be taken */

static figure *find_figure(const char *name)
{
    for (int i = 0; i < figure_count; i++)
        if (strcmp(figures[i].name, name) == 0)
            return &figures[i];
    return NULL;
}

__attribute__((format(printf, 3, 4))) static figure *add_figure(const char *unit, double value,
                                                                 const char *format, ...)
{
    if (figure_count == MAX_FIGURES)
        die("too many figures");
    figure *f = &figures[figure_count++];
    memset(f, 0, sizeof *f);
    va_list ap;
    va_start(ap, format);
    vsnprintf(f->name, sizeof f->name, format, ap);
    va_end(ap);
    f->unit = unit;
    f->value = value;
    f->ratio = NAN;
    f->baseline = NAN;
    fprintf(stderr, "  %-34s %14.2f %s\n", f->name, value, unit);
    return f;
}

/* Compares f with the figure named baseline_name (ratio = f / baseline). */
static void against(figure *f, const char *baseline_name, enum target_kind kind, double target)
{
    const figure *b = find_figure(baseline_name);
    if (b == NULL)
        die("no baseline %s for %s", baseline_name, f->name);
    snprintf(f->baseline_name, sizeof f->baseline_name, "%s", baseline_name);
    f->baseline = b->value;
    f->ratio = b->value > 0 ? f->value / b->value : NAN;
    f->kind = kind;
    f->target = target;
}

static int target_met(const figure *f)
{
    switch (f->kind) {
    case RATIO_AT_LEAST:
        return f->ratio >= f->target;
    case RATIO_AT_MOST:
        return f->ratio <= f->target;
    case VALUE_AT_MOST:
        return f->value <= f->target;
    case NO_TARGET:
        break;
    }
    return 0;
}

static void format_number(char *out, size_t n, double v)
{
    if (isnan(v))
        snprintf(out, n, "-");
    else if (fabs(v) >= 1000)
        snprintf(out, n, "%.0f", v);
    else if (fabs(v) >= 100)
        snprintf(out, n, "%.1f", v);
    else
        snprintf(out, n, "%.3g", v);
}

static void format_target(char *out, size_t n, const figure *f)
{
    switch (f->kind) {
    case RATIO_AT_LEAST:
        snprintf(out, n, ">= %.2f", f->target);
        break;
    case RATIO_AT_MOST:
        snprintf(out, n, "<= %.2f", f->target);
        break;
    case VALUE_AT_MOST:
        snprintf(out, n, "<= %g %s", f->target, f->unit);
        break;
    case NO_TARGET:
        snprintf(out, n, "-");
        break;
    }
}

static void print_table(void)
{
    printf("\n%-32s %12s %-10s %-32s %12s %7s %10s %s\n", "figure", "value", "unit", "baseline",
           "", "ratio", "target", "met");
    for (int i = 0; i < figure_count; i++) {
        const figure *f = &figures[i];
        char value[32], base[32], ratio[32], target[32];
        format_number(value, sizeof value, f->value);
        format_number(base, sizeof base, f->baseline);
        if (isnan(f->ratio))
            snprintf(ratio, sizeof ratio, "-");
        else
            snprintf(ratio, sizeof ratio, "%.2f", f->ratio);
        format_target(target, sizeof target, f);
        printf("%-32s %12s %-10s %-32s %12s %7s %10s %s\n", f->name, value, f->unit,
               f->baseline_name[0] ? f->baseline_name : "-", f->baseline_name[0] ? base : "",
               ratio, target, f->kind == NO_TARGET ? "" : target_met(f) ? "yes" : "NO");
    }
    for (int i = 0; i < figure_count; i++)
        if (figures[i].note[0])
            printf("  note: %s: %s\n", figures[i].name, figures[i].note);
}

/* ------------------------------------------------------------------------ */
/* JSON output                                                               */
/* ------------------------------------------------------------------------ */

static void json_string_out(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void json_number_out(FILE *out, double v)
{
    if (isnan(v) || isinf(v))
        fputs("null", out);
    else if (fabs(v) >= 1000)
        fprintf(out, "%.1f", v);
    else
        fprintf(out, "%.6g", v);
}

typedef struct machine {
    char cpu[256];
    long cores;
    double memory_gib;
    char kernel[256];
    char date[32];
    double loadavg; /* 1-minute load average when the run started: other work skews figures */
} machine;

static void describe_machine(machine *m)
{
    memset(m, 0, sizeof *m);
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(m->kernel, sizeof m->kernel, "%s %s", u.sysname, u.release);
        snprintf(m->cpu, sizeof m->cpu, "%s", u.machine);
    }
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon += strspn(colon + 1, " \t") + 1;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(m->cpu, sizeof m->cpu, "%s", colon);
            break;
        }
    }
    if (f)
        fclose(f);
    m->cores = sysconf(_SC_NPROCESSORS_ONLN);
    m->memory_gib = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1 << 30);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (getloadavg(&m->loadavg, 1) != 1)
        m->loadavg = NAN;
}

static void write_json(const config *c, const machine *m)
{
    char tmp[4096];
    path_suffix(tmp, sizeof tmp, c->json_path, ".tmp");
    FILE *out = fopen(tmp, "w");
    if (out == NULL)
        die("cannot write %s: %s", tmp, strerror(errno));
    fputs("{\n  \"machine\": {\"cpu\": ", out);
    json_string_out(out, m->cpu);
    fprintf(out, ", \"cores\": %ld, \"memory_gib\": %.1f, \"kernel\": ", m->cores, m->memory_gib);
    json_string_out(out, m->kernel);
    fputs(", \"sqlite\": ", out);
    json_string_out(out, sqlite3_libversion());
    fputs(", \"libsodium\": ", out);
    json_string_out(out, sodium_version_string());
    fputs(", \"date\": ", out);
    json_string_out(out, m->date);
    fputs(", \"loadavg_1m\": ", out);
    json_number_out(out, m->loadavg);
    fputs("},\n  \"run\": {\"library\": ", out);
    json_string_out(out, LOYALTY_VERSION_STRING);
    fputs(", \"git\": ", out);
    json_string_out(out, c->git ? c->git : BENCH_GIT);
    fprintf(out, ", \"smoke\": %s, \"large_entries\": %lld, \"large_members\": %lld,"
                 " \"small_entries\": %lld, \"batch_size\": %d},\n  \"figures\": [\n",
            c->smoke ? "true" : "false", (long long)c->large_entries, (long long)c->large_members,
            (long long)c->small_entries, c->batch_size);
    for (int i = 0; i < figure_count; i++) {
        const figure *f = &figures[i];
        fputs("    {\"name\": ", out);
        json_string_out(out, f->name);
        fputs(", \"value\": ", out);
        json_number_out(out, f->value);
        fputs(", \"unit\": ", out);
        json_string_out(out, f->unit);
        fputs(", \"baseline\": ", out);
        json_number_out(out, f->baseline);
        fputs(", \"baseline_name\": ", out);
        if (f->baseline_name[0])
            json_string_out(out, f->baseline_name);
        else
            fputs("null", out);
        fputs(", \"ratio\": ", out);
        json_number_out(out, f->ratio);
        fputs(", \"target\": ", out);
        json_number_out(out, f->kind == NO_TARGET ? NAN : f->target);
        fputs(", \"target_op\": ", out);
        fputs(f->kind == NO_TARGET ? "null" : f->kind == RATIO_AT_LEAST ? "\">=\"" : "\"<=\"", out);
        fputs(", \"target_of\": ", out);
        fputs(f->kind == NO_TARGET ? "null" : f->kind == VALUE_AT_MOST ? "\"value\"" : "\"ratio\"",
              out);
        fputs(", \"met\": ", out);
        fputs(f->kind == NO_TARGET ? "null" : target_met(f) ? "true" : "false", out);
        if (f->note[0]) {
            fputs(", \"note\": ", out);
            json_string_out(out, f->note);
        }
        fprintf(out, "}%s\n", i + 1 < figure_count ? "," : "");
    }
    fputs("  ]\n}\n", out);
    if (fclose(out) != 0 || rename(tmp, c->json_path) != 0)
        die("cannot write %s: %s", c->json_path, strerror(errno));
}

/* ------------------------------------------------------------------------ */
/* Ledgers through the library                                               */
/* ------------------------------------------------------------------------ */

static loyalty_ledger *ledger_open(const char *path, int create)
{
    loyalty_open_options options = {.db_path = path, .actor = ACTOR};
    loyalty_ledger *l = NULL;
    int rc = create ? loyalty_create(&l, &options, NULL) : loyalty_open(&l, &options);
    if (rc != LOYALTY_OK)
        die("%s %s: %s: %s", create ? "create" : "open", path, loyalty_result_name(rc),
            loyalty_errmsg(l));
    return l;
}

/* Room for one batch of operations and the strings they point to. */
typedef struct op_buffer {
    size_t cap;
    loyalty_operation *ops;
    loyalty_operation_result *results;
    char (*member)[24];
    char (*ref)[24];
} op_buffer;

static void ops_init(op_buffer *b, size_t cap)
{
    b->cap = cap;
    b->ops = calloc(cap, sizeof *b->ops);
    b->results = calloc(cap, sizeof *b->results);
    b->member = calloc(cap, sizeof *b->member);
    b->ref = calloc(cap, sizeof *b->ref);
    if (!b->ops || !b->results || !b->member || !b->ref)
        die("out of memory");
}

static void ops_free(op_buffer *b)
{
    free(b->ops);
    free(b->results);
    free(b->member);
    free(b->ref);
}

static void op_member_add(op_buffer *b, size_t i, int64_t n)
{
    member_id(b->member[i], n);
    b->ops[i] = (loyalty_operation){.kind = LOYALTY_OP_MEMBER_ADD, .member = b->member[i]};
}

/* A purchase award to a random one of `members`, with a fresh random reference. */
static void op_award(op_buffer *b, size_t i, int64_t members)
{
    member_id(b->member[i], 1 + (int64_t)rnd((uint64_t)members));
    next_ref(b->ref[i]);
    b->ops[i] = (loyalty_operation){.kind = LOYALTY_OP_AWARD,
                                    .member = b->member[i],
                                    .ref = b->ref[i],
                                    .amount_minor = 100 + (int64_t)rnd(100000)};
}

/* Applies the first n operations; every one must succeed. */
static void apply(loyalty_ledger *l, op_buffer *b, size_t n)
{
    check(l, loyalty_apply_batch(l, b->ops, n, b->results), "loyalty_apply_batch");
    for (size_t i = 0; i < n; i++)
        if (b->results[i].rc != LOYALTY_OK)
            die("batch operation %zu (%s %s): %s: %s", i, b->ops[i].member,
                b->ops[i].ref ? b->ops[i].ref : "", loyalty_result_name(b->results[i].rc),
                b->results[i].message);
}

/* Adds members m0000001.. and then `awards` purchase awards to random ones. */
static void ledger_fill(loyalty_ledger *l, int64_t members, int64_t awards, int progress)
{
    op_buffer b;
    ops_init(&b, BUILD_BATCH);
    double start = now_s(), last = start;
    int64_t total = members + awards;
    for (int64_t done = 0; done < total;) {
        size_t n = 0;
        for (; n < BUILD_BATCH && done + (int64_t)n < total; n++) {
            int64_t k = done + (int64_t)n;
            if (k < members)
                op_member_add(&b, n, k + 1);
            else
                op_award(&b, n, members);
        }
        apply(l, &b, n);
        done += (int64_t)n;
        double t = now_s();
        if (progress && (t - last >= 10 || done == total)) {
            double rate = (double)done / (t - start);
            fprintf(stderr, "    built %lld/%lld operations (%.0f/s, %.0f s elapsed, ~%.0f s left)\n",
                    (long long)done, (long long)total, rate, t - start,
                    (double)(total - done) / rate);
            last = t;
        }
    }
    ops_free(&b);
}

/* One integer from a database nobody is writing (opened immutable: leaves no -wal/-shm behind). */
static int64_t sql_integer(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int64_t v = -1;
    char uri[4200];
    snprintf(uri, sizeof uri, "file:%s?immutable=1", path);
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/* Builds a ledger of `members` members and `awards` awards at path (via a temporary name). */
static void build_ledger(const char *path, int64_t members, int64_t awards, int progress)
{
    char tmp[4096], from[4096], to[4096];
    path_suffix(tmp, sizeof tmp, path, ".building");
    remove_ledger(tmp);
    remove_ledger(path);
    loyalty_ledger *l = ledger_open(tmp, 1);
    ledger_fill(l, members, awards, progress);
    loyalty_close(l);
    static const char *const suffixes[] = {"", "-wal", ".key"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        path_suffix(from, sizeof from, tmp, suffixes[i]);
        path_suffix(to, sizeof to, path, suffixes[i]);
        if (file_exists(from) && rename(from, to) != 0)
            die("rename %s: %s", from, strerror(errno));
    }
    remove_ledger(tmp);
}

/*
 * The cached large ledger is current when it has the expected rows, schema
 * version and page size, and its references are in the key space the run
 * draws from (the first and last, through the (kind, ref) index).
 */
static int cache_current(const char *path, const config *c, int64_t user_version,
                         int64_t page_size)
{
    char key[4096];
    path_suffix(key, sizeof key, path, ".key");
    if (!file_exists(path) || !file_exists(key))
        return 0;
    return sql_integer(path, "PRAGMA user_version") == user_version &&
           sql_integer(path, "PRAGMA page_size") == page_size &&
           sql_integer(path, "SELECT count(*) FROM members") == c->large_members &&
           sql_integer(path, "SELECT count(*) FROM journal") == c->large_entries &&
           sql_integer(path, "SELECT (SELECT min(ref) FROM journal WHERE kind = 'award')"
                             " LIKE '" REF_PREFIX "%' AND (SELECT max(ref) FROM journal"
                             " WHERE kind = 'award') LIKE '" REF_PREFIX "%'") == 1;
}

/* A private copy of a ledger (database, WAL if any, key) for one run to write to. */
static void copy_ledger(const char *from, const char *to)
{
    char a[4096], b[4096];
    remove_ledger(to);
    copy_file(from, to, 0644);
    path_suffix(a, sizeof a, from, "-wal");
    path_suffix(b, sizeof b, to, "-wal");
    if (file_exists(a))
        copy_file(a, b, 0644);
    path_suffix(a, sizeof a, from, ".key");
    path_suffix(b, sizeof b, to, ".key");
    copy_file(a, b, 0600);
}

/* ------------------------------------------------------------------------ */
/* Raw baselines: SQLite and libsodium without the library                   */
/* ------------------------------------------------------------------------ */

/* The tables an award writes to, as the schema has them (schema/0001, 0002). */
static const char raw_schema[] =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
    "CREATE TABLE members (id INTEGER PRIMARY KEY, external_id TEXT NOT NULL UNIQUE,"
    " status TEXT NOT NULL DEFAULT 'active', tier TEXT, balance INTEGER NOT NULL DEFAULT 0,"
    " debt INTEGER NOT NULL DEFAULT 0, created_us INTEGER NOT NULL) STRICT;"
    "CREATE TABLE journal (tx INTEGER PRIMARY KEY, member_id INTEGER NOT NULL REFERENCES members (id),"
    " kind TEXT NOT NULL, ref TEXT NOT NULL, request_hash BLOB NOT NULL, points INTEGER NOT NULL,"
    " balance_after INTEGER NOT NULL, amount_minor INTEGER, multiplier_permille INTEGER,"
    " reason TEXT, note TEXT, reverses_tx INTEGER REFERENCES journal (tx), ts_us INTEGER NOT NULL,"
    " actor TEXT NOT NULL, audit_seq INTEGER NOT NULL, order_tx INTEGER REFERENCES journal (tx),"
    " UNIQUE (kind, ref)) STRICT;"
    "CREATE INDEX journal_member ON journal (member_id, tx);"
    "CREATE UNIQUE INDEX journal_reverses ON journal (reverses_tx) WHERE reverses_tx IS NOT NULL;"
    "CREATE INDEX journal_order ON journal (order_tx) WHERE order_tx IS NOT NULL;"
    "CREATE TABLE lots (id INTEGER PRIMARY KEY, member_id INTEGER NOT NULL REFERENCES members (id),"
    " tx INTEGER NOT NULL REFERENCES journal (tx), earned_us INTEGER NOT NULL,"
    " available_us INTEGER NOT NULL, expires_us INTEGER, points INTEGER NOT NULL,"
    " remaining INTEGER NOT NULL) STRICT;"
    "CREATE INDEX lots_member_open ON lots (member_id, expires_us, id) WHERE remaining > 0;"
    "CREATE INDEX lots_tx ON lots (tx);"
    "CREATE INDEX lots_expiring ON lots (expires_us, member_id)"
    " WHERE remaining > 0 AND expires_us IS NOT NULL;"
    "CREATE TABLE audit (seq INTEGER PRIMARY KEY, ts_us INTEGER NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, payload TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL,"
    " key_id TEXT NOT NULL, sig BLOB NOT NULL) STRICT;";

typedef struct raw_db {
    sqlite3 *db;
    sqlite3_stmt *journal, *lots, *member, *audit;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char prev[32];
    int64_t seq, members;
    int64_t *balance; /* per member, as the library reads it before writing balance_after */
} raw_db;

static sqlite3_stmt *raw_prepare(raw_db *r, const char *sql)
{
    sqlite3_stmt *st = NULL;
    check_sql(r->db, sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL), sql);
    return st;
}

static void raw_exec(raw_db *r, const char *sql)
{
    check_sql(r->db, sqlite3_exec(r->db, sql, NULL, NULL, NULL), sql);
}

static void raw_open(raw_db *r, const char *path, int64_t members)
{
    memset(r, 0, sizeof *r);
    remove_ledger(path);
    check_sql(NULL, sqlite3_open(path, &r->db) == SQLITE_OK ? SQLITE_OK : SQLITE_ERROR, path);
    raw_exec(r, raw_schema);
    crypto_sign_keypair(r->pk, r->sk);
    r->members = members;
    r->balance = calloc((size_t)members + 1, sizeof *r->balance);
    if (r->balance == NULL)
        die("out of memory");
    raw_exec(r, "BEGIN");
    sqlite3_stmt *add = raw_prepare(r, "INSERT INTO members (external_id, created_us) VALUES (?, 0)");
    for (int64_t i = 1; i <= members; i++) {
        char id[24];
        member_id(id, i);
        sqlite3_bind_text(add, 1, id, -1, SQLITE_TRANSIENT);
        check_sql(r->db, sqlite3_step(add), "raw member");
        sqlite3_reset(add);
    }
    sqlite3_finalize(add);
    raw_exec(r, "COMMIT");
    r->journal = raw_prepare(r,
        "INSERT INTO journal (member_id, kind, ref, request_hash, points, balance_after, amount_minor,"
        " multiplier_permille, ts_us, actor, audit_seq) VALUES (?, 'award', ?, ?, ?, ?, ?, 1000, ?, ?, ?)");
    r->lots = raw_prepare(r,
        "INSERT INTO lots (member_id, tx, earned_us, available_us, expires_us, points, remaining)"
        " VALUES (?, ?, ?, ?, NULL, ?, ?)");
    r->member = raw_prepare(r, "UPDATE members SET balance = ? WHERE id = ?");
    r->audit = raw_prepare(r,
        "INSERT INTO audit (seq, ts_us, actor, action, payload, prev_hash, hash, key_id, sig)"
        " VALUES (?, ?, ?, 'award', ?, ?, ?, 'bench0000000000', ?)");
}

static void raw_close(raw_db *r)
{
    sqlite3_finalize(r->journal);
    sqlite3_finalize(r->lots);
    sqlite3_finalize(r->member);
    sqlite3_finalize(r->audit);
    sqlite3_close(r->db);
    free(r->balance);
}

static void raw_step(raw_db *r, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        die("raw %s: %s", what, sqlite3_errmsg(r->db));
}

/* BLAKE2b-256 over the entry's fields and the previous hash, as audit.c chains them. */
static void raw_entry_hash(unsigned char out[32], int64_t seq, int64_t ts, const char *payload,
                           const unsigned char prev[32])
{
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, 32);
    crypto_generichash_update(&state, (const unsigned char *)"loyalty-audit-v1", 17);
    crypto_generichash_update(&state, (const unsigned char *)&seq, sizeof seq);
    crypto_generichash_update(&state, (const unsigned char *)&ts, sizeof ts);
    crypto_generichash_update(&state, (const unsigned char *)ACTOR "award", sizeof ACTOR "award" - 1);
    crypto_generichash_update(&state, (const unsigned char *)payload, strlen(payload));
    crypto_generichash_update(&state, prev, 32);
    crypto_generichash_final(&state, out, 32);
}

/* One award's rows: journal, lot, member balance, hashed and signed audit entry. */
static void raw_award(raw_db *r)
{
    int64_t m = 1 + (int64_t)rnd((uint64_t)r->members);
    int64_t amount = 100 + (int64_t)rnd(100000), points = amount / 100;
    int64_t ts = (int64_t)(now_s() * 1e6), seq = ++r->seq;
    char ref[24], member[24], payload[256];
    next_ref(ref);
    member_id(member, m);
    unsigned char request_hash[16], hash[32], sig[crypto_sign_BYTES];
    crypto_generichash(request_hash, sizeof request_hash, (const unsigned char *)ref, strlen(ref),
                       NULL, 0);
    r->balance[m] += points;
    sqlite3_bind_int64(r->journal, 1, m);
    sqlite3_bind_text(r->journal, 2, ref, -1, SQLITE_STATIC);
    sqlite3_bind_blob(r->journal, 3, request_hash, sizeof request_hash, SQLITE_STATIC);
    sqlite3_bind_int64(r->journal, 4, points);
    sqlite3_bind_int64(r->journal, 5, r->balance[m]);
    sqlite3_bind_int64(r->journal, 6, amount);
    sqlite3_bind_int64(r->journal, 7, ts);
    sqlite3_bind_text(r->journal, 8, ACTOR, -1, SQLITE_STATIC);
    sqlite3_bind_int64(r->journal, 9, seq);
    raw_step(r, r->journal, "journal");
    int64_t tx = sqlite3_last_insert_rowid(r->db);
    sqlite3_bind_int64(r->lots, 1, m);
    sqlite3_bind_int64(r->lots, 2, tx);
    sqlite3_bind_int64(r->lots, 3, ts);
    sqlite3_bind_int64(r->lots, 4, ts);
    sqlite3_bind_int64(r->lots, 5, points);
    sqlite3_bind_int64(r->lots, 6, points);
    raw_step(r, r->lots, "lots");
    sqlite3_bind_int64(r->member, 1, r->balance[m]);
    sqlite3_bind_int64(r->member, 2, m);
    raw_step(r, r->member, "members");
    snprintf(payload, sizeof payload,
             "{\"tx\":%lld,\"member\":\"%s\",\"ref\":\"%s\",\"amount\":%lld,"
             "\"multiplier_permille\":1000,\"points\":%lld}",
             (long long)tx, member, ref, (long long)amount, (long long)points);
    raw_entry_hash(hash, seq, ts, payload, r->prev);
    crypto_sign_detached(sig, NULL, hash, sizeof hash, r->sk);
    sqlite3_bind_int64(r->audit, 1, seq);
    sqlite3_bind_int64(r->audit, 2, ts);
    sqlite3_bind_text(r->audit, 3, ACTOR, -1, SQLITE_STATIC);
    sqlite3_bind_text(r->audit, 4, payload, -1, SQLITE_STATIC);
    sqlite3_bind_blob(r->audit, 5, r->prev, 32, SQLITE_STATIC);
    sqlite3_bind_blob(r->audit, 6, hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(r->audit, 7, sig, sizeof sig, SQLITE_STATIC);
    raw_step(r, r->audit, "audit");
    memcpy(r->prev, hash, 32);
}

/*
 * First thing in each timed write loop: the kernel writes back what the loop before
 * it left dirty (another database's pages, a copied ledger) now, not in the
 * middle of this one.
 */
static void settle(void)
{
    sync();
}

/* Baseline (1): the award's rows + BLAKE2b + Ed25519, one durable transaction each. */
static double raw_single_rate(const config *c, raw_db *r)
{
    settle();
    double t0 = now_s();
    for (int i = 0; i < c->raw_single; i++) {
        raw_exec(r, "BEGIN IMMEDIATE");
        raw_award(r);
        raw_exec(r, "COMMIT");
    }
    return c->raw_single / (now_s() - t0);
}

/* Baseline (2): the same rows, batch_size per transaction, hashed and signed on one thread. */
static double raw_batch_rate(const config *c, raw_db *r)
{
    settle();
    double t0 = now_s();
    for (int b = 0; b < c->batches; b++) {
        raw_exec(r, "BEGIN IMMEDIATE");
        for (int i = 0; i < c->batch_size; i++)
            raw_award(r);
        raw_exec(r, "COMMIT");
    }
    return (double)c->batches * c->batch_size / (now_s() - t0);
}

#define VERIFY_THREADS_MAX 64

/* `count` verifications of the 64 signed messages, in turn, on one thread. */
typedef struct verify_share {
    unsigned char (*msg)[32];
    unsigned char (*sig)[crypto_sign_BYTES];
    const unsigned char *pk;
    int count, bad;
} verify_share;

static void *verify_share_run(void *argument)
{
    verify_share *v = argument;
    for (int i = 0; i < v->count; i++)
        v->bad += crypto_sign_verify_detached(v->sig[i % 64], v->msg[i % 64], 32, v->pk) != 0;
    return NULL;
}

/*
 * Seconds for `threads` (1 .. VERIFY_THREADS_MAX) copies of `work` at once:
 * what the cores really give together (they share caches, memory bandwidth
 * and, on a virtual machine, a host), as against one core's rate times cores.
 * One thread runs on the calling thread. Dies when a verification fails.
 */
static double verify_seconds(verify_share work, int threads)
{
    pthread_t tids[VERIFY_THREADS_MAX];
    verify_share shares[VERIFY_THREADS_MAX];
    for (int i = 0; i < threads; i++)
        shares[i] = work;
    double t0 = now_s();
    for (int i = 1; i < threads; i++)
        if (pthread_create(&tids[i], NULL, verify_share_run, &shares[i]) != 0)
            die("pthread_create failed");
    verify_share_run(&shares[0]);
    for (int i = 1; i < threads; i++)
        pthread_join(tids[i], NULL);
    double t = now_s() - t0;
    int bad = 0;
    for (int i = 0; i < threads; i++)
        bad += shares[i].bad;
    if (bad)
        die("raw verification failed %d times", bad);
    return t;
}

/* Baseline (3): Ed25519 sign and verify rates on one core, verification on
 * every core at once; BLAKE2b of an audit entry. */
static void fig_raw_crypto(const config *c, long cores)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char msg[64][32], sig[64][crypto_sign_BYTES], prev[32] = {0};
    const char *payload = "{\"tx\":123456,\"member\":\"m0012345\",\"ref\":\"o0123456789abcdef\","
                          "\"amount\":12999,\"multiplier_permille\":1000,\"points\":129}";
    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, sizeof msg);
    int hashes = c->crypto_ops * 10;
    int threads = cores < 1 ? 1 : cores > VERIFY_THREADS_MAX ? VERIFY_THREADS_MAX : (int)cores;
    verify_share one_core = {msg, sig, pk, c->crypto_ops, 0};
    verify_share per_thread = {msg, sig, pk, c->crypto_ops / threads, 0};
    int parallel_ops = per_thread.count * threads;
    double sign = INFINITY, verify = INFINITY, hash = INFINITY; /* best of the rounds */
    double parallel = INFINITY;
    for (int round = 0; round < c->rounds; round++) {
        double t0 = now_s();
        for (int i = 0; i < c->crypto_ops; i++)
            crypto_sign_detached(sig[i % 64], NULL, msg[i % 64], 32, sk);
        sign = fmin(sign, now_s() - t0);
        verify = fmin(verify, verify_seconds(one_core, 1));
        double t1 = now_s();
        for (int i = 0; i < hashes; i++)
            raw_entry_hash(prev, i, i, payload, prev);
        hash = fmin(hash, now_s() - t1);
        parallel = fmin(parallel, verify_seconds(per_thread, threads));
    }
    add_figure("signs/s", c->crypto_ops / sign, "raw.ed25519_sign");
    add_figure("verifies/s", c->crypto_ops / verify, "raw.ed25519_verify");
    snprintf(add_figure("verifies/s", (double)cores * c->crypto_ops / verify,
                        "raw.ed25519_verify_x%ld_cores", cores)->note,
             sizeof figures[0].note, "raw.ed25519_verify x %ld online cores (computed)", cores);
    /* Informative: how far the cores together fall short of one core times
     * cores, which is what verify's target is measured against. */
    figure *all = add_figure("verifies/s", parallel_ops / parallel, "raw.ed25519_verify_parallel");
    snprintf(all->note, sizeof all->note, "%d threads at once, measured", threads);
    char computed[48];
    snprintf(computed, sizeof computed, "raw.ed25519_verify_x%ld_cores", cores);
    against(all, computed, NO_TARGET, 0);
    add_figure("hashes/s", hashes / hash, "raw.blake2b_entry");
}

/* Baseline (4): prepared point SELECT by primary key on the ledger file's members table. */
static double point_select_rate(const config *c, const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        die("open %s: %s", path, sqlite3_errmsg(db));
    sqlite3_stmt *st = NULL;
    int64_t max_id = 0;
    check_sql(db, sqlite3_prepare_v2(db, "SELECT max(id) FROM members", -1, &st, NULL), "max id");
    if (sqlite3_step(st) == SQLITE_ROW)
        max_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (max_id < 1)
        die("%s has no members", path);
    check_sql(db, sqlite3_prepare_v2(db, "SELECT status, balance, debt FROM members WHERE id = ?",
                                     -1, &st, NULL), "point select");
    int64_t sum = 0;
    double t0 = now_s();
    for (int i = 0; i < c->selects; i++) {
        sqlite3_bind_int64(st, 1, 1 + (int64_t)rnd((uint64_t)max_id));
        if (sqlite3_step(st) != SQLITE_ROW)
            die("point select found no row: %s", sqlite3_errmsg(db));
        sum += sqlite3_column_int64(st, 1) + (sqlite3_column_text(st, 0) != NULL);
        sqlite3_reset(st);
    }
    double t = now_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (sum < 0)
        die("impossible balance sum");
    return c->selects / t;
}

/* ------------------------------------------------------------------------ */
/* Ours: the library and the CLI                                             */
/* ------------------------------------------------------------------------ */

/* One durable loyalty_award per call (one transaction, one fsync each). */
static double award_single_rate(const config *c, loyalty_ledger *l, int64_t members)
{
    char member[24], ref[24];
    loyalty_posting p;
    settle();
    double t = 0;
    for (int i = 0; i < c->single_awards; i++) {
        member_id(member, 1 + (int64_t)rnd((uint64_t)members));
        next_ref(ref);
        loyalty_award_request q = {member, ref, 100 + (int64_t)rnd(100000), 0, NULL};
        double t0 = now_s();
        check(l, loyalty_award(l, &q, &p), "loyalty_award");
        t += now_s() - t0;
    }
    return c->single_awards / t;
}

/* loyalty_apply_batch with batch_size awards per batch (one transaction each). */
static double award_batch_rate(const config *c, loyalty_ledger *l, int64_t members, op_buffer *b)
{
    settle();
    double t = 0;
    for (int k = 0; k < c->batches; k++) {
        for (int i = 0; i < c->batch_size; i++)
            op_award(b, (size_t)i, members);
        double t0 = now_s();
        apply(l, b, (size_t)c->batch_size);
        t += now_s() - t0;
    }
    return (double)c->batches * c->batch_size / t;
}

/* loyalty_member_get on random members. */
static double balance_lookup_rate(const config *c, loyalty_ledger *l, int64_t members)
{
    char member[24];
    loyalty_member_info info;
    int64_t sum = 0;
    double t0 = now_s();
    for (int i = 0; i < c->lookups; i++) {
        member_id(member, 1 + (int64_t)rnd((uint64_t)members));
        check(l, loyalty_member_get(l, member, &info), "loyalty_member_get");
        sum += info.balance;
    }
    double t = now_s() - t0;
    if (sum < 0)
        die("impossible balance sum");
    return c->lookups / t;
}

/*
 * Starts argv[0] with its stdout on out_fd (the write end of a pipe, which the
 * child alone then holds) or, when out_fd is -1, on /dev/null; returns its pid,
 * dies on failure. posix_spawn, not fork: fork copies the page tables of this
 * process, which by the large ledger's figures holds a hundred MiB and more of
 * freed page cache, and that copy is the harness's cost, not the command's
 * (docs/PERFORMANCE.md, section 4).
 */
static pid_t start_process(char *const argv[], int out_fd)
{
    posix_spawn_file_actions_t actions;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc == 0)
        rc = out_fd < 0 ? posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null",
                                                           O_WRONLY, 0)
                        : posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
    if (rc != 0)
        die("posix_spawn_file_actions: %s", strerror(rc));
    pid_t pid;
    rc = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
    if (rc != 0)
        die("posix_spawn %s: %s", argv[0], strerror(rc));
    posix_spawn_file_actions_destroy(&actions);
    if (out_fd >= 0)
        close(out_fd);
    return pid;
}

/* The exit status of a started process. */
static int wait_process(pid_t pid)
{
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        die("wait: %s", strerror(errno));
    return status;
}

/* Runs argv[0] with stdout to /dev/null; returns the wall time, dies on failure. */
static double spawn(char *const argv[])
{
    double t0 = now_s();
    int status = wait_process(start_process(argv, -1));
    double t = now_s() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("%s %s exited with status %d", argv[0], argv[1] ? argv[1] : "",
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return t;
}

/* `loyalty award` as one process per award. */
static void fig_award_cli(const config *c, const char *db, int64_t members, const char *label)
{
    char member[24], ref[24], amount[24];
    char *argv[] = {(char *)c->cli, "--db", (char *)db, "--actor", ACTOR, "award", member,
                    "--ref", ref, "--amount", amount, NULL};
    double t = 0;
    for (int i = 0; i < c->cli_awards; i++) {
        member_id(member, 1 + (int64_t)rnd((uint64_t)members));
        next_ref(ref);
        snprintf(amount, sizeof amount, "%lld", (long long)(100 + rnd(100000)));
        t += spawn(argv);
    }
    against(add_figure("awards/s", c->cli_awards / t, "award.cli@%s", label),
            "raw.award_rows_1tx_sign", NO_TARGET, 0);
}

/* The median wall time of `loyalty balance` (one process each). */
static void fig_cli_balance(const config *c, const char *db, int64_t members, const char *label)
{
    char member[24];
    char *argv[] = {(char *)c->cli, "--db", (char *)db, "--actor", ACTOR, "balance", member, NULL};
    double *ms = calloc((size_t)c->cli_runs, sizeof *ms);
    if (ms == NULL)
        die("out of memory");
    for (int i = 0; i < c->cli_runs; i++) {
        member_id(member, 1 + (int64_t)rnd((uint64_t)members));
        ms[i] = 1000 * spawn(argv);
    }
    figure *f = add_figure("ms", median(ms, c->cli_runs), "cli.balance_median@%s", label);
    snprintf(f->note, sizeof f->note, "median of %d runs; fastest %.2f ms, slowest %.2f ms",
             c->cli_runs, ms[0], ms[c->cli_runs - 1]);
    against(f, "raw.spawn_true_median", VALUE_AT_MOST, 5.0);
    free(ms);
}

/* The floor under any CLI figure: starting /bin/true and waiting for it. */
static void fig_raw_spawn(const config *c)
{
    char *argv[] = {file_exists("/bin/true") ? "/bin/true" : "/usr/bin/true", NULL};
    double *ms = calloc((size_t)c->cli_runs, sizeof *ms);
    if (ms == NULL)
        die("out of memory");
    for (int i = 0; i < c->cli_runs; i++)
        ms[i] = 1000 * spawn(argv);
    add_figure("ms", median(ms, c->cli_runs), "raw.spawn_true_median");
    free(ms);
}

/* One loyalty_verify in a child process, as the child reported it. */
typedef struct verify_run {
    int rc;
    long long entries, peak_kib;
    double seconds;
    char reason[200];
} verify_run;

/*
 * Runs loyalty_verify in a child process (this program re-executed with
 * --child-verify, so that the parent's memory is not counted), on every
 * core or pinned to one.
 */
static verify_run run_verify_child(const char *db, int one_core)
{
    int fds[2];
    if (pipe(fds) != 0)
        die("pipe: %s", strerror(errno));
    char *argv[] = {"/proc/self/exe", one_core ? "--child-verify-one-core" : "--child-verify",
                    (char *)db, NULL};
    /* The read end must not stay open in the child, or the read below would not end. */
    if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0)
        die("fcntl: %s", strerror(errno));
    pid_t pid = start_process(argv, fds[1]);
    char text[1024] = "";
    size_t used = 0;
    while (used + 1 < sizeof text) { /* one short line; bounded by the buffer */
        ssize_t got = read(fds[0], text + used, sizeof text - 1 - used);
        if (got <= 0)
            break;
        used += (size_t)got;
    }
    text[used] = '\0';
    close(fds[0]);
    int status = wait_process(pid);
    verify_run run = {.rc = -1};
    int consumed = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(text, "%d %lld %lf %lld %n", &run.rc, &run.entries, &run.seconds, &run.peak_kib,
               &consumed) != 4)
        die("verify child failed (status %d): %s", status, text);
    text[strcspn(text, "\n")] = '\0';
    snprintf(run.reason, sizeof run.reason, "%s", text + consumed);
    return run;
}

/* The fastest of `rounds` runs (one when the ledger is large: minutes each). */
static verify_run best_verify_run(const char *db, int one_core, int rounds)
{
    verify_run best = run_verify_child(db, one_core);
    for (int round = 1; round < rounds && best.rc == LOYALTY_OK; round++) {
        verify_run run = run_verify_child(db, one_core);
        if (run.rc != LOYALTY_OK || run.seconds < best.seconds)
            best = run;
    }
    return best;
}

/*
 * verify.rate: audit entries per second on every core, and the child's peak
 * RSS (its VmHWM after exec: ru_maxrss of a forked child would also count
 * the parent's pages it shared before exec), from the fastest of `rounds` runs.
 */
static void fig_verify(const char *db, const char *label, long cores, int rounds, figure **rss_out)
{
    verify_run run = best_verify_run(db, 0, rounds);
    double per_second = run.rc == LOYALTY_OK ? (double)run.entries / run.seconds : 0;
    figure *rate = add_figure("entries/s", per_second, "verify.rate@%s", label);
    char baseline[48];
    snprintf(baseline, sizeof baseline, "raw.ed25519_verify_x%ld_cores", cores);
    against(rate, baseline, RATIO_AT_LEAST, 0.8);
    if (run.rc != LOYALTY_OK) {
        failures++;
        snprintf(rate->note, sizeof rate->note, "FAILED: %.150s", run.reason);
    } else {
        const figure *all = find_figure("raw.ed25519_verify_parallel");
        snprintf(rate->note, sizeof rate->note,
                 "%lld audit entries in %.2f s; %.2f of raw.ed25519_verify_parallel", run.entries,
                 run.seconds, all && all->value > 0 ? rate->value / all->value : NAN);
    }
    *rss_out = add_figure("MiB", (double)run.peak_kib / 1024.0, "verify.peak_rss@%s", label);
}

/*
 * The most verify.rate could be, given the work verification does besides
 * checking signatures (reading the chain, hashing, the replay, the file
 * check, comparing the tables): on one core, verify takes its signatures at
 * raw.ed25519_verify plus that other work, so the other work is what the
 * one-core run takes beyond its signatures. Shared perfectly over every
 * core, with signatures at raw.ed25519_verify_parallel, the best rate is
 *     cores x entries / (entries x cores / parallel rate + other work).
 * Informative: a bound, not a figure of the library. The fastest of `rounds`
 * one-core runs is kept, so that the bound errs on the generous side.
 */
static void fig_verify_bound(const char *db, const char *label, long cores, int rounds)
{
    verify_run run = best_verify_run(db, 1, rounds);
    const figure *one = find_figure("raw.ed25519_verify");
    const figure *all = find_figure("raw.ed25519_verify_parallel");
    if (run.rc != LOYALTY_OK || one == NULL || all == NULL || run.entries <= 0)
        die("verify on one core failed: %s", run.reason);
    double entries = (double)run.entries, other = run.seconds - entries / one->value;
    figure *work = add_figure("us/entry", 1e6 * other / entries, "verify.other_work@%s", label);
    snprintf(work->note, sizeof work->note,
             "one core: %lld entries in %.2f s, less their signatures at raw.ed25519_verify",
             run.entries, run.seconds);
    double signatures = entries * (double)cores / all->value; /* CPU seconds on every core */
    figure *bound = add_figure("entries/s", (double)cores * entries / (signatures + other),
                               "verify.bound@%s", label);
    char baseline[48];
    snprintf(baseline, sizeof baseline, "raw.ed25519_verify_x%ld_cores", cores);
    against(bound, baseline, NO_TARGET, 0);
    snprintf(bound->note, sizeof bound->note,
             "the most verify.rate could be: signatures at raw.ed25519_verify_parallel"
             " plus verify.other_work, on %ld cores", cores);
}

/* This process's peak resident set (VmHWM) in KiB, 0 when unknown. */
static long long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    long long kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* The child side of run_verify_child: prints "rc entries seconds peak_kib reason". */
static int child_verify(const char *db, int one_core)
{
    if (one_core) { /* on the CPU it runs on now, and no other */
        int cpu = sched_getcpu();
        cpu_set_t set;
        CPU_ZERO(&set);
        if (cpu >= 0)
            CPU_SET(cpu, &set);
        if (cpu < 0 || sched_setaffinity(0, sizeof set, &set) != 0)
            die("cannot pin the verify child to one CPU: %s", strerror(errno));
    }
    loyalty_ledger *l = ledger_open(db, 0);
    loyalty_verify_report report;
    memset(&report, 0, sizeof report);
    double t0 = now_s();
    int rc = loyalty_verify(l, NULL, NULL, &report);
    double t = now_s() - t0;
    printf("%d %lld %.6f %lld %s: %s\n", rc, (long long)report.entries, t, peak_rss_kib(),
           loyalty_result_name(rc),
           rc == LOYALTY_OK ? "ok" : report.reason[0] ? report.reason : loyalty_errmsg(l));
    loyalty_close(l);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The run                                                                   */
/* ------------------------------------------------------------------------ */

/* The best (highest) rate of each measurement over the rounds. */
typedef struct rates {
    double raw_single, raw_batch, single, batch, select, lookup;
} rates;

static void keep_best(double *best, double rate)
{
    if (rate > *best)
        *best = rate;
}

/*
 * The figures on one ledger (fresh or large). Each of ours alternates with
 * its baseline for c->rounds rounds and the best rate of each is kept, so
 * that load from other processes, which comes and goes, skews both alike.
 * After one untimed warm-up award and batch, every timed loop is bounded.
 */
static void measure_size(const config *c, const char *db, const char *work, int64_t members,
                         const char *label, int fresh)
{
    fprintf(stderr, "measuring on the %s ledger (%s), best of %d rounds\n", label, db, c->rounds);
    raw_db raw_single, raw_batch;
    char single_path[4096], batch_path[4096];
    path_join(single_path, sizeof single_path, work, "raw-single.db");
    path_join(batch_path, sizeof batch_path, work, "raw-batch.db");
    if (fresh) {
        raw_open(&raw_single, single_path, members);
        raw_open(&raw_batch, batch_path, members);
    }
    loyalty_ledger *l = ledger_open(db, 0);
    op_buffer b;
    ops_init(&b, (size_t)c->batch_size);
    config warm = *c;
    warm.single_awards = 1;
    warm.batches = 1;
    (void)award_single_rate(&warm, l, members); /* untimed warm-up: page cache, statements */
    (void)award_batch_rate(&warm, l, members, &b);
    rates best = {0, 0, 0, 0, 0, 0};
    for (int round = 0; round < c->rounds; round++) {
        if (fresh)
            keep_best(&best.raw_single, raw_single_rate(c, &raw_single));
        keep_best(&best.single, award_single_rate(c, l, members));
        if (fresh)
            keep_best(&best.raw_batch, raw_batch_rate(c, &raw_batch));
        keep_best(&best.batch, award_batch_rate(c, l, members, &b));
        keep_best(&best.select, point_select_rate(c, db));
        keep_best(&best.lookup, balance_lookup_rate(c, l, members));
    }
    ops_free(&b);
    loyalty_close(l);
    if (fresh) {
        raw_close(&raw_single);
        raw_close(&raw_batch);
        remove_ledger(single_path);
        remove_ledger(batch_path);
        add_figure("awards/s", best.raw_single, "raw.award_rows_1tx_sign");
        add_figure("awards/s", best.raw_batch, "raw.serial_batch");
    }
    figure *single = add_figure("awards/s", best.single, "award.single@%s", label);
    figure *batch = add_figure("awards/s", best.batch, "award.batch@%s", label);
    add_figure("selects/s", best.select, "raw.point_select@%s", label);
    figure *lookup = add_figure("lookups/s", best.lookup, "balance.lookup@%s", label);
    char name[48];
    snprintf(name, sizeof name, "raw.point_select@%s", label);
    against(lookup, name, RATIO_AT_LEAST, 0.5);
    if (fresh) {
        against(single, "raw.award_rows_1tx_sign", RATIO_AT_LEAST, 0.85);
        against(batch, "raw.serial_batch", RATIO_AT_LEAST, 1.3);
        fig_award_cli(c, db, members, label);
    } else {
        against(single, "award.single@fresh", NO_TARGET, 0);
        against(batch, "award.batch@fresh", RATIO_AT_LEAST, 0.75);
    }
    fig_cli_balance(c, db, members, label);
}

/* ------------------------------------------------------------------------ */
/* The ceiling (--ceiling)                                                   */
/* ------------------------------------------------------------------------ */

/*
 * How fast batches of awards could be at the large size if an award wrote no
 * index entry at a random place: not a figure of the library, a bound on what
 * any index design can give. An award to a random member writes three pages
 * at random (the member row, the journal's unique (kind, ref) index, the
 * open-lots index) besides the pages it appends to; the ceiling measures
 * batches with the indexes as shipped, without the open-lots index, and
 * without both, each on a fresh ledger and on the large one. Awards with new
 * references need neither index, so the library runs as before on such a
 * ledger; retries, debits and anything else that reads those indexes would
 * be slow or wrong on it, so nothing else is measured.
 */

/* Runs an SQL script on db or dies naming what failed. */
static void exec_sql(sqlite3 *db, const char *sql, const char *what)
{
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK)
        die("%s: %s", what, error ? error : sqlite3_errmsg(db));
}

/* Appends text to a growing script (dies when it would not fit). */
static void script_add(char *script, size_t size, const char *text, size_t length)
{
    size_t used = strlen(script);
    if (used + length + 1 > size)
        die("the ceiling's script does not fit in %zu bytes", size);
    memcpy(script + used, text, length);
    script[used + length] = '\0';
}

/*
 * Removes the open-lots index and, with refs, the journal's unique (kind, ref)
 * index. SQLite keeps a UNIQUE constraint inside the table, so the journal is
 * copied into a table declared without it (the rest of its definition and its
 * other indexes as the schema has them). Dies unless the definition is the
 * one this expects.
 */
static void drop_random_indexes(const char *path, int refs)
{
    static const char head[] = "CREATE TABLE journal (";
    static const char unique[] = "UNIQUE (kind, ref)";
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("open %s: %s", path, sqlite3_errmsg(db));
    exec_sql(db, "DROP INDEX lots_member_open", "dropping the open-lots index");
    if (refs) {
        static char script[16384];
        script[0] = '\0';
        script_add(script, sizeof script, "BEGIN;\n", 7);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db,
                               "SELECT type = 'table', sql FROM sqlite_schema WHERE tbl_name = 'journal'"
                               " AND sql IS NOT NULL ORDER BY type = 'table' DESC",
                               -1, &st, NULL) != SQLITE_OK)
            die("reading the schema of %s: %s", path, sqlite3_errmsg(db));
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            const char *sql = (const char *)sqlite3_column_text(st, 1);
            if (!sqlite3_column_int(st, 0)) { /* an index: recreated after the copy */
                script_add(script, sizeof script, sql, strlen(sql));
                script_add(script, sizeof script, ";\n", 2);
                continue;
            }
            const char *clause = strstr(sql, unique);
            const char *comma = clause;
            while (comma != NULL && comma > sql && *comma != ',')
                comma--;
            if (strncmp(sql, head, sizeof head - 1) != 0 || clause == NULL || *comma != ',')
                die("the journal of %s is not defined as expected (with \"%s\")", path, unique);
            static const char create[] = "CREATE TABLE journal_unindexed (";
            script_add(script, sizeof script, create, sizeof create - 1);
            script_add(script, sizeof script, sql + sizeof head - 1,
                       (size_t)(comma - sql) - (sizeof head - 1));
            const char *rest = clause + sizeof unique - 1;
            script_add(script, sizeof script, rest, strlen(rest));
            static const char copy[] = ";\nINSERT INTO journal_unindexed SELECT * FROM journal;\n"
                                       "DROP TABLE journal;\n"
                                       "ALTER TABLE journal_unindexed RENAME TO journal;\n";
            script_add(script, sizeof script, copy, sizeof copy - 1);
        }
        if (step != SQLITE_DONE)
            die("reading the schema of %s: %s", path, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        script_add(script, sizeof script, "COMMIT;\n", 8);
        if (strstr(script, "journal_unindexed") == NULL)
            die("%s has no journal", path);
        exec_sql(db, script, "copying the journal without its (kind, ref) index");
    }
    exec_sql(db, "PRAGMA wal_checkpoint(TRUNCATE)", "checkpointing");
    sqlite3_close(db);
    if (sql_integer(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'lots_member_open'"
                          " OR (tbl_name = 'journal' AND name LIKE 'sqlite_autoindex%')") != 1 - refs)
        die("%s still has an index the ceiling drops", path);
}

/*
 * The best batch rate over the rounds on a private copy of `from` without
 * `dropped` of the indexes written at random (0 none, 1 the open-lots one,
 * 2 both).
 */
static double ceiling_rate(const config *c, const char *from, const char *work, int64_t members,
                           int dropped)
{
    char path[4096];
    path_join(path, sizeof path, work, "ceiling.db");
    copy_ledger(from, path);
    if (dropped > 0)
        drop_random_indexes(path, dropped > 1);
    loyalty_ledger *l = ledger_open(path, 0);
    op_buffer b;
    ops_init(&b, (size_t)c->batch_size);
    config warm = *c;
    warm.batches = 1;
    (void)award_batch_rate(&warm, l, members, &b); /* untimed warm-up */
    double best = 0;
    for (int round = 0; round < c->rounds; round++)
        keep_best(&best, award_batch_rate(c, l, members, &b));
    ops_free(&b);
    loyalty_close(l);
    remove_ledger(path);
    return best;
}

static void measure_ceiling(const config *c, const char *fresh, const char *large,
                            const char *work, const char *large_label)
{
    /* By the number of indexes written at random that the layout drops. */
    static const char *const layouts[] = {"indexed", "no_lots_index", "no_random_index"};
    for (int dropped = 0; dropped < 3; dropped++) {
        fprintf(stderr, "ceiling: batches %s\n", layouts[dropped]);
        double small = ceiling_rate(c, fresh, work, c->fresh_members, dropped);
        double big = ceiling_rate(c, large, work, c->large_members, dropped);
        char name[48];
        snprintf(name, sizeof name, "ceiling.%s@fresh", layouts[dropped]);
        add_figure("awards/s", small, "%s", name);
        figure *f = add_figure("awards/s", big, "ceiling.%s@%s", layouts[dropped], large_label);
        against(f, name, NO_TARGET, 0);
    }
}

/* The end of a run: the table, the JSON file, and the exit status. */
static int finish_run(const config *c, const machine *m)
{
    remove_work_dir();
    print_table();
    write_json(c, m);
    printf("\nwrote %s\n", c->json_path);
    if (failures)
        fprintf(stderr, "bench: %d measurement(s) failed\n", failures);
    return failures ? 1 : 0;
}

static void usage(void)
{
    fputs("usage: bench [--smoke] [--rebuild] [--build-only] [--ceiling] [--git DESCRIBE] --cli PATH\n"
          "             --cache DIR --json PATH\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child-verify") == 0)
        return child_verify(argv[2], 0);
    if (argc == 3 && strcmp(argv[1], "--child-verify-one-core") == 0)
        return child_verify(argv[2], 1);
    config c = full_config;
    const char *cli = NULL, *cache = NULL, *json = NULL, *git = NULL;
    int smoke = 0, rebuild = 0, build_only = 0, ceiling = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0)
            smoke = 1;
        else if (strcmp(argv[i], "--rebuild") == 0)
            rebuild = 1;
        else if (strcmp(argv[i], "--build-only") == 0)
            build_only = 1; /* make the cached large ledger current, measure nothing */
        else if (strcmp(argv[i], "--ceiling") == 0)
            ceiling = 1; /* only batches, with and without the indexes written at random */
        else if (strcmp(argv[i], "--cli") == 0 && i + 1 < argc)
            cli = argv[++i];
        else if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc)
            cache = argv[++i];
        else if (strcmp(argv[i], "--git") == 0 && i + 1 < argc)
            git = argv[++i];
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else
            usage();
    }
    if (cli == NULL || cache == NULL || json == NULL)
        usage();
    if (smoke)
        c = smoke_config;
    c.rebuild = rebuild;
    c.cli = cli;
    c.cache_dir = cache;
    c.json_path = json;
    c.git = git;
    if (access(cli, X_OK) != 0)
        die("the CLI %s is not executable", cli);
    if (sodium_init() < 0)
        die("sodium_init failed");
    randombytes_buf(&ref_salt, sizeof ref_salt);
    if (mkdir(cache, 0755) != 0 && errno != EEXIST)
        die("mkdir %s: %s", cache, strerror(errno));
    machine m;
    describe_machine(&m);
    char large_label[24], small_label[24];
    size_label(large_label, sizeof large_label, c.large_entries);
    size_label(small_label, sizeof small_label, c.small_entries);
    fprintf(stderr, "bench%s: %s, %ld cores, %.1f GiB, %s, SQLite %s, libsodium %s, load %.2f\n",
            c.smoke ? " (smoke)" : "", m.cpu, m.cores, m.memory_gib, m.kernel,
            sqlite3_libversion(), sodium_version_string(), m.loadavg);

    /* The run's scratch directory, on the same file system as the cache. */
    char work[4096];
    path_join(work, sizeof work, cache, "run-XXXXXX");
    if (mkdtemp(work) == NULL)
        die("mkdtemp %s: %s", work, strerror(errno));
    snprintf(work_dir, sizeof work_dir, "%s", work);
    atexit(remove_work_dir); /* also after die(): a stale copy of the large ledger is big */
    char fresh[4096], small[4096], large[4096], large_work[4096], name[64];
    path_join(fresh, sizeof fresh, work, "fresh.db");
    path_join(small, sizeof small, work, "small.db");
    path_join(large_work, sizeof large_work, work, "large.db");
    snprintf(name, sizeof name, "large-%lld-%lld.db", (long long)c.large_entries,
             (long long)c.large_members);
    path_join(large, sizeof large, cache, name);

    if (!build_only && !ceiling) {
        fprintf(stderr, "raw baselines\n");
        fig_raw_crypto(&c, m.cores);
        fig_raw_spawn(&c);
    }

    /* The fresh ledger: created now, with a few members. */
    loyalty_ledger *l = ledger_open(fresh, 1);
    ledger_fill(l, c.fresh_members, 0, 0);
    loyalty_close(l);
    int64_t user_version = sql_integer(fresh, "PRAGMA user_version"); /* closed: no WAL left */
    int64_t page_size = sql_integer(fresh, "PRAGMA page_size");
    if (!build_only && !ceiling)
        measure_size(&c, fresh, work, c.fresh_members, "fresh", 1);

    /* The large ledger: cached; rebuilt when missing, stale or asked for. */
    if (c.rebuild || !cache_current(large, &c, user_version, page_size)) {
        fprintf(stderr, "building the %s ledger (%lld members, %lld awards, schema %lld) in %s\n",
                large_label, (long long)c.large_members, (long long)c.large_entries,
                (long long)user_version, large);
        double t0 = now_s();
        build_ledger(large, c.large_members, c.large_entries, 1);
        fprintf(stderr, "  built in %.1f s\n", now_s() - t0);
    } else {
        fprintf(stderr, "using the cached %s ledger %s\n", large_label, large);
    }
    if (build_only)
        return 0;
    if (ceiling) {
        measure_ceiling(&c, fresh, large, work, large_label);
        return finish_run(&c, &m);
    }
    double t0 = now_s();
    copy_ledger(large, large_work);
    fprintf(stderr, "  copied for this run in %.1f s\n", now_s() - t0);
    measure_size(&c, large_work, work, c.large_members, large_label, 0);

    /* Verification: rate and peak memory at the small size and at the large one. */
    fprintf(stderr, "verifying (%s and %s entries)\n", small_label, large_label);
    build_ledger(small, c.small_members, c.small_entries, 0);
    figure *rss_small = NULL, *rss_large = NULL;
    fig_verify(small, small_label, m.cores, c.rounds, &rss_small);
    fig_verify_bound(small, small_label, m.cores, c.rounds);
    fig_verify(large_work, large_label, m.cores, 1, &rss_large);
    snprintf(name, sizeof name, "verify.peak_rss@%s", small_label);
    against(rss_large, name, RATIO_AT_MOST, 1.2);

    return finish_run(&c, &m);
}
