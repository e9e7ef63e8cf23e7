/*
 * output_file.c - files the `loyalty` tool writes (import's --results): it
 * must never write over the ledger's own files or the file it is reading.
 * A results path is refused when it names the database or its -wal, -shm
 * or -journal file, the secret key or a key kept by a rotation
 * ("<key>.<key id>"), or the input. Files that exist are compared as files
 * (device and inode, so hard and symbolic links count); names that do not
 * exist yet are compared after resolving their directory.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* The directory of path resolved, then its last component; 0 on success. */
static int resolved_name(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char directory[PATH_MAX];
    size_t length = slash ? (size_t)(slash - path) : 0;
    if (length >= sizeof directory)
        return -1;
    if (slash == NULL)
        strcpy(directory, ".");
    else if (length == 0)
        strcpy(directory, "/");
    else {
        memcpy(directory, path, length);
        directory[length] = '\0';
    }
    char real[PATH_MAX];
    if (realpath(directory, real) == NULL)
        return -1;
    int n = snprintf(out, size, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Whether a and b name the same file, or the same name once resolved. */
static int same_file(const char *a, const struct stat *a_status, const char *b)
{
    struct stat b_status;
    if (a_status != NULL && stat(b, &b_status) == 0)
        return a_status->st_dev == b_status.st_dev && a_status->st_ino == b_status.st_ino;
    char a_name[PATH_MAX + 256], b_name[PATH_MAX + 256];
    return resolved_name(a, a_name, sizeof a_name) == 0 &&
           resolved_name(b, b_name, sizeof b_name) == 0 && strcmp(a_name, b_name) == 0;
}

/* Whether path is "<key>.<something>": a name a rotation keeps an old key under. */
static int kept_key_name(const char *path, const char *key_path)
{
    char name[PATH_MAX + 256], key_name[PATH_MAX + 256];
    if (resolved_name(path, name, sizeof name) != 0 ||
        resolved_name(key_path, key_name, sizeof key_name) != 0)
        return 0;
    size_t n = strlen(key_name);
    return strncmp(name, key_name, n) == 0 && name[n] == '.' && name[n + 1] != '\0';
}

const char *cli_protected_file(const cli_context *cli, const char *path, int input_fd)
{
    struct stat status, input_status;
    int exists = stat(path, &status) == 0;
    if (exists && input_fd >= 0 && fstat(input_fd, &input_status) == 0 &&
        S_ISREG(input_status.st_mode) && status.st_dev == input_status.st_dev &&
        status.st_ino == input_status.st_ino)
        return "the file being imported";
    static const struct {
        const char *suffix;
        const char *what;
    } ledger_files[] = {
        {"", "the ledger's database"},
        {"-wal", "the ledger's write-ahead log"},
        {"-shm", "the ledger's shared-memory index"},
        {"-journal", "the ledger's rollback journal"},
    };
    char name[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof ledger_files / sizeof ledger_files[0]; i++) {
        int n = snprintf(name, sizeof name, "%s%s", cli->db_path, ledger_files[i].suffix);
        if (n > 0 && (size_t)n < sizeof name && same_file(path, exists ? &status : NULL, name))
            return ledger_files[i].what;
    }
    const char *key_path = cli->key_path;
    if (key_path == NULL) {
        int n = snprintf(name, sizeof name, "%s.key", cli->db_path);
        if (n <= 0 || (size_t)n >= sizeof name)
            return NULL;
        key_path = name;
    }
    if (same_file(path, exists ? &status : NULL, key_path))
        return "the ledger's secret key";
    if (kept_key_name(path, key_path))
        return "a secret key kept by a key rotation";
    return NULL;
}
