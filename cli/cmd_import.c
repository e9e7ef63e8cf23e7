/*
 * cmd_import.c - `loyalty import`: order feeds and migrations as JSON Lines,
 * one operation per line. Lines are parsed by the library
 * (loyalty_import_parse) and applied in batches, each batch one transaction
 * (loyalty_apply_batch: group commit, one fsync per batch, each operation in
 * its own savepoint). Every non-empty input line gets exactly one JSON
 * result line, in input order; a bad line is reported and the import goes
 * on. Memory is bounded by the batch size, whatever the size of the input.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define IMPORT_BATCH_DEFAULT 1000
#define IMPORT_BATCH_MAX 10000     /* the library's bound on one batch */
#define IMPORT_LINE_MAX_BYTES 4096 /* the library's bound on one line */
#define IMPORT_MESSAGE_BYTES 256

static const char import_usage[] =
    "usage: loyalty import FILE [--results FILE] [--batch N]\n"
    "\n"
    "Applies the operations of a JSON Lines file ('-' reads standard input), one\n"
    "per line: \"op\" names the command (member_add, award, redeem, adjust, reverse,\n"
    "refund, hold, capture, release, claim) and the other fields are its options\n"
    "by their names (member, ref, amount, points, tx, reason, note, order,\n"
    "benefit), e.g. {\"op\":\"award\",\"member\":\"M1\",\"ref\":\"order-7\",\"amount\":12999}.\n"
    "Empty lines are skipped; a line may hold at most 4096 bytes.\n"
    "\n"
    "Lines are applied in batches of N, each batch one transaction (one disk sync),\n"
    "each operation on its own: a bad line is reported and the others apply. Every\n"
    "non-empty line gets one JSON result, in input order:\n"
    "  {\"line\":N,\"status\":\"applied\",\"tx\":T,\"points\":P,\"balance\":B}\n"
    "  status replayed (applied before: the same line again changes nothing),\n"
    "  pending_approval (an adjustment waiting, with its approval id), or\n"
    "  error (with code and message). Operations that move no points (member_add,\n"
    "  claim) carry no tx, points or balance; hold and release carry a null tx.\n"
    "A summary ends the run: on stderr as 'imported: N lines, A applied,\n"
    "R replayed, P pending, E errors'; with --json as the last line on stdout:\n"
    "  {\"summary\":{\"lines\":N,\"applied\":A,\"replayed\":R,\"pending_approval\":P,\"errors\":E}}\n"
    "A progress bar shows on stderr when it is a terminal and FILE a regular file.\n"
    "\n"
    "Exit 0 when no line failed; otherwise 2 when some line was invalid input\n"
    "(malformed JSON, unknown op or field, bad value), else the exit code of the\n"
    "first failed line (3 unknown member, 4 insufficient points, 5 conflict,\n"
    "6 not permitted...). A failure of a whole batch (storage, key) stops the\n"
    "import: its lines are reported as errors and the exit code is that failure's.\n"
    "\n"
    "  --results FILE   write the result lines to FILE instead of stdout\n"
    "  --batch N        operations per transaction, 1 to 10000 (default 1000)\n";

/* One non-empty input line waiting for its batch to be applied. */
typedef struct import_entry {
    int64_t line;                       /* 1-based line number in the input */
    int rc;                             /* LOYALTY_OK when parsed, else why not */
    size_t operation;                   /* its index in the batch, when parsed */
    char message[IMPORT_MESSAGE_BYTES]; /* why it could not be parsed */
} import_entry;

typedef struct import_counts {
    int64_t lines, applied, replayed, pending, errors;
    int first_error_exit; /* exit code of the first failed line, 0 when none */
    int invalid_seen;     /* some line was invalid input */
} import_counts;

typedef struct import_run {
    cli_context *cli;
    loyalty_ledger *ledger;
    FILE *input;
    FILE *output;
    size_t batch_size;
    import_entry *entries;                /* batch_size: the lines of this batch */
    loyalty_import_line *parsed;          /* batch_size: parse storage, never moved */
    loyalty_operation *operations;        /* batch_size: what loyalty_apply_batch takes */
    loyalty_operation_result *results;    /* batch_size */
    size_t entry_count;
    size_t operation_count;
    char line[IMPORT_LINE_MAX_BYTES + 2]; /* one line, NUL-terminated */
    int64_t line_number;
    int64_t bytes_read;
    int64_t bytes_total;                  /* size of a regular input file, else 0 */
    cli_progress progress;
    import_counts counts;
    int write_failed;
} import_run;

typedef enum read_status { READ_END, READ_LINE, READ_TOO_LONG, READ_NUL, READ_ERROR } read_status;

/*
 * Reads one line into run->line without its newline (and a CR before it).
 * A line longer than the bound is consumed to its end and reported as too
 * long, so that the reading goes on at the next line.
 */
static read_status read_line(import_run *run)
{
    size_t length = 0;
    int any = 0, too_long = 0, nul = 0, c;
    while ((c = getc_unlocked(run->input)) != EOF) {
        any = 1;
        run->bytes_read++;
        if (c == '\n')
            break;
        if (c == '\0')
            nul = 1;
        if (length < IMPORT_LINE_MAX_BYTES + 1)
            run->line[length++] = (char)c;
        else
            too_long = 1;
    }
    if (ferror(run->input))
        return READ_ERROR;
    if (!any)
        return READ_END;
    if (!too_long && length > 0 && run->line[length - 1] == '\r')
        length--;
    run->line[length] = '\0';
    if (too_long || length > IMPORT_LINE_MAX_BYTES)
        return READ_TOO_LONG;
    return nul ? READ_NUL : READ_LINE;
}

static int is_blank(const char *text)
{
    for (; *text != '\0'; text++)
        if (!isspace((unsigned char)*text))
            return 0;
    return 1;
}

/* Writes one result line; remembers a failed write. */
static void write_json_line(import_run *run, json_t *record)
{
    char *text = record ? json_dumps(record, JSON_COMPACT) : NULL;
    json_decref(record);
    if (text == NULL || fputs(text, run->output) == EOF || putc('\n', run->output) == EOF)
        run->write_failed = 1;
    free(text);
}

static void count_error(import_run *run, int rc)
{
    run->counts.errors++;
    if (rc == LOYALTY_ERR_INVALID || rc == LOYALTY_ERR_MISUSE)
        run->counts.invalid_seen = 1;
    if (run->counts.first_error_exit == 0)
        run->counts.first_error_exit = cli_exit_code(rc);
}

static json_t *error_line(import_run *run, int64_t line, int rc, const char *message)
{
    count_error(run, rc);
    return json_pack("{s:I,s:s,s:s,s:o}", "line", (json_int_t)line, "status", "error", "code",
                     loyalty_result_name(rc), "message", cli_text_value(message));
}

/* Operations that move points report tx, points and balance; member_add and claim do not. */
static int moves_points(loyalty_operation_kind kind)
{
    return kind != LOYALTY_OP_MEMBER_ADD && kind != LOYALTY_OP_CLAIM;
}

static json_t *success_line(import_run *run, int64_t line, const loyalty_operation *operation,
                            const loyalty_operation_result *result)
{
    const char *status = result->pending_approval ? "pending_approval"
                         : result->replayed       ? "replayed"
                                                  : "applied";
    if (result->pending_approval)
        run->counts.pending++;
    else if (result->replayed)
        run->counts.replayed++;
    else
        run->counts.applied++;
    json_t *record = json_pack("{s:I,s:s}", "line", (json_int_t)line, "status", status);
    int failed = record == NULL;
    if (result->pending_approval) {
        failed |= json_object_set_new(record, "approval", json_integer(result->approval));
        failed |= json_object_set_new(record, "replayed", json_boolean(result->replayed));
    } else if (moves_points(operation->kind)) {
        failed |= json_object_set_new(record, "tx",
                                      result->tx ? json_integer(result->tx) : json_null());
        failed |= json_object_set_new(record, "points", json_integer(result->points));
        failed |= json_object_set_new(record, "balance", json_integer(result->balance));
    }
    if (failed) {
        json_decref(record);
        return NULL;
    }
    return record;
}

/*
 * Applies the parsed operations of the batch in one transaction and writes
 * a result for every line of it, in order. Returns the batch-level result:
 * LOYALTY_OK, or the failure that stopped it (then its lines are errors).
 */
static int flush_batch(import_run *run)
{
    int batch_rc = LOYALTY_OK;
    if (run->operation_count > 0)
        batch_rc = loyalty_apply_batch(run->ledger, run->operations, run->operation_count,
                                       run->results);
    const char *batch_message = batch_rc == LOYALTY_OK ? "" : loyalty_errmsg(run->ledger);
    if (batch_message[0] == '\0')
        batch_message = loyalty_strerror(batch_rc);
    for (size_t i = 0; i < run->entry_count; i++) {
        const import_entry *entry = &run->entries[i];
        const loyalty_operation_result *result = &run->results[entry->operation];
        json_t *record;
        if (entry->rc != LOYALTY_OK)
            record = error_line(run, entry->line, entry->rc, entry->message);
        else if (batch_rc != LOYALTY_OK)
            record = error_line(run, entry->line, batch_rc, batch_message);
        else if (result->rc != LOYALTY_OK)
            record = error_line(run, entry->line, result->rc, result->message);
        else
            record = success_line(run, entry->line, &run->operations[entry->operation], result);
        run->counts.lines++;
        write_json_line(run, record);
    }
    run->entry_count = 0;
    run->operation_count = 0;
    cli_progress_update(&run->progress, run->bytes_read, run->bytes_total);
    return batch_rc;
}

/* Adds the line just read to the batch: parsed, or refused with the reason. */
static void take_line(import_run *run, read_status status)
{
    import_entry *entry = &run->entries[run->entry_count++];
    entry->line = run->line_number;
    entry->rc = LOYALTY_ERR_INVALID;
    if (status == READ_TOO_LONG) {
        snprintf(entry->message, sizeof entry->message, "line is longer than %d bytes",
                 IMPORT_LINE_MAX_BYTES);
        return;
    }
    if (status == READ_NUL) {
        snprintf(entry->message, sizeof entry->message, "line holds a NUL byte");
        return;
    }
    loyalty_import_line *parsed = &run->parsed[run->operation_count];
    entry->rc = loyalty_import_parse(run->line, parsed, entry->message, sizeof entry->message);
    if (entry->rc != LOYALTY_OK)
        return;
    entry->operation = run->operation_count;
    /* The operation's strings point into `parsed`, which stays where it is until the flush. */
    run->operations[run->operation_count++] = parsed->operation;
}

/* Reads the whole input batch by batch. Returns the batch-level result that stopped it. */
static int import_lines(import_run *run, int *read_failed)
{
    for (;;) {
        read_status status = read_line(run);
        if (status == READ_END)
            break;
        if (status == READ_ERROR) {
            *read_failed = errno != 0 ? errno : EIO;
            break;
        }
        run->line_number++;
        if (status == READ_LINE && is_blank(run->line))
            continue;
        take_line(run, status);
        if (run->entry_count == run->batch_size) {
            int rc = flush_batch(run);
            if (rc != LOYALTY_OK)
                return rc;
        }
    }
    return flush_batch(run);
}

static int allocate_batch(import_run *run)
{
    run->entries = calloc(run->batch_size, sizeof *run->entries);
    run->parsed = calloc(run->batch_size, sizeof *run->parsed);
    run->operations = calloc(run->batch_size, sizeof *run->operations);
    run->results = calloc(run->batch_size, sizeof *run->results);
    return run->entries && run->parsed && run->operations && run->results;
}

static void release_batch(import_run *run)
{
    free(run->entries);
    free(run->parsed);
    free(run->operations);
    free(run->results);
}

/* The summary: JSON as the last line on stdout with --json, one line on stderr otherwise. */
static void print_summary(import_run *run)
{
    const import_counts *c = &run->counts;
    if (!run->cli->json) {
        fflush(stdout); /* the results first, when both go to one terminal or file */
        fprintf(stderr, "imported: %lld lines, %lld applied, %lld replayed, %lld pending, %lld errors\n",
                (long long)c->lines, (long long)c->applied, (long long)c->replayed,
                (long long)c->pending, (long long)c->errors);
        return;
    }
    if (run->output != stdout && fflush(run->output) != 0)
        run->write_failed = 1;
    json_t *summary = json_pack("{s:{s:I,s:I,s:I,s:I,s:I}}", "summary", "lines",
                                (json_int_t)c->lines, "applied", (json_int_t)c->applied,
                                "replayed", (json_int_t)c->replayed, "pending_approval",
                                (json_int_t)c->pending, "errors", (json_int_t)c->errors);
    char *text = summary ? json_dumps(summary, JSON_COMPACT) : NULL;
    json_decref(summary);
    if (text == NULL || puts(text) == EOF)
        run->write_failed = 1;
    free(text);
}

/* The exit code of a finished import (the batch-level failure, if any, was reported). */
static int import_exit_code(const import_run *run)
{
    if (run->counts.errors == 0)
        return CLI_EXIT_OK;
    if (run->counts.invalid_seen)
        return CLI_EXIT_USAGE;
    return run->counts.first_error_exit;
}

/* Runs the import with the input and output open; returns the exit code. */
static int run_import(import_run *run, const char *path)
{
    if (!allocate_batch(run)) {
        release_batch(run);
        if (run->output != stdout)
            fclose(run->output);
        return cli_out_of_memory(run->cli);
    }
    struct stat status;
    if (fstat(fileno(run->input), &status) == 0 && S_ISREG(status.st_mode))
        run->bytes_total = (int64_t)status.st_size;
    cli_progress_start(&run->progress, "import");
    int read_failed = 0;
    int rc = import_lines(run, &read_failed);
    cli_progress_finish(&run->progress);
    release_batch(run);
    if (run->output != stdout && fclose(run->output) != 0)
        run->write_failed = 1;
    run->output = stdout;
    print_summary(run);
    if (rc != LOYALTY_OK)
        return cli_fail(run->cli, run->ledger, rc);
    if (read_failed != 0)
        return cli_usage_error(run->cli, "import: cannot read %s: %s", path, strerror(read_failed));
    if (run->write_failed)
        return cli_error(run->cli, LOYALTY_ERR_STORAGE, "cannot write the results");
    return import_exit_code(run);
}

/* Closes the input unless it is standard input. */
static void close_input(import_run *run)
{
    if (run->input != NULL && run->input != stdin)
        fclose(run->input);
    run->input = NULL;
}

/* Opens the input ("-": stdin) and the results file (NULL or "-": stdout). */
static int open_streams(import_run *run, const char *path, const char *results_path)
{
    run->input = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (run->input == NULL)
        return cli_usage_error(run->cli, "import: cannot read %s: %s", path, strerror(errno));
    struct stat status;
    if (fstat(fileno(run->input), &status) == 0 && S_ISDIR(status.st_mode)) {
        close_input(run);
        return cli_usage_error(run->cli, "import: cannot read %s: %s", path, strerror(EISDIR));
    }
    run->output = stdout;
    if (results_path == NULL || strcmp(results_path, "-") == 0)
        return CLI_CONTINUE;
    const char *protected_file = cli_protected_file(run->cli, results_path, fileno(run->input));
    if (protected_file != NULL) {
        close_input(run);
        return cli_usage_error(run->cli, "--results: %s is %s; refusing to write over it",
                               results_path, protected_file);
    }
    run->output = fopen(results_path, "w");
    if (run->output == NULL) {
        int error = errno;
        close_input(run);
        return cli_usage_error(run->cli, "--results: cannot write %s: %s", results_path,
                               strerror(error));
    }
    return CLI_CONTINUE;
}

int cli_run_import(cli_context *cli, int argc, char **argv)
{
    const char *path = NULL, *results_path = NULL, *batch_text = NULL;
    const cli_option options[] = {
        {"FILE", &path, 1}, {"--results", &results_path, 0}, {"--batch", &batch_text, 0},
        {NULL, NULL, 0},
    };
    int exit_code = cli_parse(cli, argc, argv, import_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    int64_t batch_size = IMPORT_BATCH_DEFAULT;
    if (batch_text != NULL) {
        exit_code = cli_parse_number(cli, "--batch", batch_text, CLI_POSITIVE, &batch_size);
        if (exit_code != CLI_CONTINUE)
            return exit_code;
        if (batch_size > IMPORT_BATCH_MAX)
            return cli_usage_error(cli, "--batch must be at most %d, not %lld", IMPORT_BATCH_MAX,
                                   (long long)batch_size);
    }
    /* A run holds one line buffer of 4 KiB: on the heap, not on the stack. */
    import_run *run = calloc(1, sizeof *run);
    if (run == NULL)
        return cli_out_of_memory(cli);
    run->cli = cli;
    run->batch_size = (size_t)batch_size;
    exit_code = cli_open_ledger(cli, &run->ledger);
    if (exit_code == CLI_CONTINUE)
        exit_code = open_streams(run, path, results_path);
    if (exit_code == CLI_CONTINUE) {
        exit_code = run_import(run, path);
        close_input(run);
    }
    loyalty_close(run->ledger);
    free(run);
    return exit_code;
}
