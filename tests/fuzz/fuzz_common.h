/*
 * fuzz_common.h - helpers shared by the fuzz targets of tests/fuzz/: a
 * per-process scratch directory (removed at exit), a NUL-terminated copy of
 * the fuzzer's bytes, creating a ledger with a fixed clock, and the check
 * that stops the run when a property does not hold.
 *
 * A target aborts (which libFuzzer and the replay driver both report as a
 * finding, with the input that caused it) when the library crashes or when
 * one of the target's properties fails. Every helper is static: each target
 * is one translation unit.
 */
#ifndef LOYALTY_FUZZ_COMMON_H
#define LOYALTY_FUZZ_COMMON_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loyalty.h"

#define FUZZ_HELPER static __attribute__((unused))
#define FUZZ_PATH_BYTES 1024

/* The fixed clock of every fuzz ledger: 2026-01-01T00:00:00Z. */
#define FUZZ_T0_US INT64_C(1767225600000000)
#define FUZZ_ACTOR "fuzz-admin"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run: a property of the target does not hold. Written straight to file
 * descriptor 2, since a target may have pointed stderr elsewhere. */
#define FUZZ_CHECK(condition, ...)                                                   \
    do {                                                                             \
        if (!(condition)) {                                                          \
            dprintf(2, "fuzz property failed at %s:%d: %s\n  ", __FILE__, __LINE__,   \
                    #condition);                                                     \
            dprintf(2, __VA_ARGS__);                                                 \
            dprintf(2, "\n");                                                        \
            abort();                                                                 \
        }                                                                            \
    } while (0)

static char fuzz_dir[FUZZ_PATH_BYTES];

/* With LOYALTY_FUZZ_TRACE=1 in the environment, a target says what each input did. */
#define FUZZ_TRACE(...)                            \
    do {                                           \
        if (fuzz_tracing())                        \
            dprintf(2, "trace: " __VA_ARGS__);     \
    } while (0)

FUZZ_HELPER int fuzz_tracing(void)
{
    static int tracing = -1;
    if (tracing < 0) {
        const char *value = getenv("LOYALTY_FUZZ_TRACE");
        tracing = value != NULL && strcmp(value, "1") == 0;
    }
    return tracing;
}

/* Removes a directory tree of plain files and directories (no symlinks are followed). */
FUZZ_HELPER void fuzz_remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        char path[FUZZ_PATH_BYTES * 2];
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(path, 0700);
            fuzz_remove_tree(path);
        } else {
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

static void fuzz_cleanup(void)
{
    if (fuzz_dir[0] != '\0')
        fuzz_remove_tree(fuzz_dir);
    fuzz_dir[0] = '\0';
}

/* The process's scratch directory (made on first use, removed at exit). */
FUZZ_HELPER const char *fuzz_scratch_dir(void)
{
    if (fuzz_dir[0] != '\0')
        return fuzz_dir;
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/loyalty-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(fuzz_dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    atexit(fuzz_cleanup);
    return fuzz_dir;
}

/* dir/name into out (FUZZ_PATH_BYTES). */
FUZZ_HELPER void fuzz_path(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, FUZZ_PATH_BYTES, "%s/%s", dir, name);
    if (n < 0 || n >= FUZZ_PATH_BYTES)
        abort();
}

/* A malloc'd copy of the fuzzer's bytes with a NUL after them. */
FUZZ_HELPER char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        abort();
    if (size > 0)
        memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

/* Creates a ledger at db_path (program_json may be NULL) with the fixed clock; aborts on failure. */
FUZZ_HELPER loyalty_ledger *fuzz_create_ledger(const char *db_path, const char *program_json)
{
    loyalty_open_options options = {.db_path = db_path, .actor = FUZZ_ACTOR, .now_us = FUZZ_T0_US};
    loyalty_ledger *ledger = NULL;
    int rc = loyalty_create(&ledger, &options, program_json);
    if (rc != LOYALTY_OK) {
        fprintf(stderr, "fuzz setup: cannot create %s: %s\n", db_path, loyalty_errmsg(ledger));
        abort();
    }
    return ledger;
}

/* Opens a handle on db_path at the given clock; aborts on failure. */
FUZZ_HELPER loyalty_ledger *fuzz_open_ledger(const char *db_path, int64_t now_us)
{
    loyalty_open_options options = {.db_path = db_path, .actor = FUZZ_ACTOR, .now_us = now_us};
    loyalty_ledger *ledger = NULL;
    if (loyalty_open(&ledger, &options) != LOYALTY_OK) {
        fprintf(stderr, "fuzz setup: cannot open %s: %s\n", db_path, loyalty_errmsg(ledger));
        abort();
    }
    return ledger;
}

/* Aborts when a setup call fails: the fixture itself is broken, not the input. */
FUZZ_HELPER void fuzz_setup_ok(loyalty_ledger *ledger, int rc, const char *what)
{
    if (rc != LOYALTY_OK) {
        fprintf(stderr, "fuzz setup: %s failed: %s (%s)\n", what, loyalty_result_name(rc),
                loyalty_errmsg(ledger));
        abort();
    }
}

/* Whether rc is one of the codes the header documents (0..LOYALTY_ERR_BUSY). */
FUZZ_HELPER int fuzz_known_result(int rc)
{
    return rc >= LOYALTY_OK && rc <= LOYALTY_ERR_BUSY;
}

#endif
