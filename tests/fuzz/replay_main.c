/*
 * replay_main.c - a main() for the fuzz targets without libFuzzer: feeds
 * every file named on the command line, or found directly in a directory
 * named there, to LLVMFuzzerTestOneInput once, in name order. This is how
 * `make test` replays the committed corpora with the ordinary compiler (and
 * under SANITIZE=1 with ASan and UBSan): a crash, a sanitizer report or a
 * failed property aborts the run, and the name of the input that caused it
 * is printed (from a signal handler, or the sanitizers' death callback).
 * REPLAY_VERBOSE=1 in the environment names every input as it runs.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest input replayed: corpora hold small files; a bigger one is a mistake. */
#define REPLAY_MAX_BYTES (1024 * 1024)

/* Set by ASan/UBSan when linked in; called just before they end the process. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static char current[4096];

static void name_current_input(void)
{
    if (current[0] == '\0')
        return;
    static const char prefix[] = "replay: the finding above comes from input ";
    ssize_t ignored = write(2, prefix, sizeof prefix - 1);
    ignored = write(2, current, strlen(current));
    ignored = write(2, "\n", 1);
    (void)ignored;
}

static void on_fatal_signal(int signal_number)
{
    name_current_input();
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

static void watch_for_findings(void)
{
    static const int signals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        signal(signals[i], on_fatal_signal);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(name_current_input);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    uint8_t *data = malloc(REPLAY_MAX_BYTES + 1);
    if (data == NULL) {
        fclose(f);
        return -1;
    }
    size_t size = fread(data, 1, REPLAY_MAX_BYTES + 1, f);
    fclose(f);
    if (size > REPLAY_MAX_BYTES) {
        fprintf(stderr, "replay: %s is larger than %d bytes\n", path, REPLAY_MAX_BYTES);
        free(data);
        return -1;
    }
    snprintf(current, sizeof current, "%s", path);
    const char *verbose = getenv("REPLAY_VERBOSE");
    if (verbose && strcmp(verbose, "1") == 0)
        fprintf(stderr, "replay: %s\n", path);
    /* An exact-size copy lets ASan see reads past the end of the input. */
    uint8_t *exact = malloc(size ? size : 1);
    if (exact == NULL) {
        free(data);
        return -1;
    }
    memcpy(exact, data, size);
    free(data);
    LLVMFuzzerTestOneInput(exact, size);
    free(exact);
    current[0] = '\0';
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file directly inside dir, in name order; returns the count or -1. */
static long run_directory(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: cannot open directory %s\n", dir);
        return -1;
    }
    size_t count = 0, capacity = 64;
    char **paths = malloc(capacity * sizeof *paths);
    struct dirent *entry;
    while (paths != NULL && (entry = readdir(d)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        size_t length = strlen(dir) + strlen(entry->d_name) + 2;
        char *path = malloc(length);
        if (path == NULL)
            break;
        snprintf(path, length, "%s/%s", dir, entry->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (count == capacity) {
            char **more = realloc(paths, 2 * capacity * sizeof *paths);
            if (more == NULL) {
                free(path);
                break;
            }
            paths = more;
            capacity *= 2;
        }
        paths[count++] = path;
    }
    closedir(d);
    if (paths == NULL)
        return -1;
    qsort(paths, count, sizeof *paths, compare_names);
    long ran = 0;
    for (size_t i = 0; i < count; i++) {
        if (ran >= 0 && run_file(paths[i]) == 0)
            ran++;
        else
            ran = -1;
        free(paths[i]);
    }
    free(paths);
    return ran;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    watch_for_findings();
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        long ran = -1;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            ran = run_directory(argv[i]);
        else if (run_file(argv[i]) == 0)
            ran = 1;
        if (ran < 0)
            return 1;
        total += ran;
    }
    fprintf(stderr, "replay: %s: %ld inputs, no finding\n", argv[0], total);
    return 0;
}
