/*
 * output.c - what the `loyalty` tool prints: the table from library result
 * codes to exit codes, one-line errors on stderr (plain or JSON), results
 * on stdout as aligned "key: value" text (lists as tables) or as one JSON
 * object, and timestamps in ISO 8601 UTC.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define MESSAGE_BYTES 1024

/* The one mapping from library result codes to exit codes. */
static const struct {
    int rc;
    int exit_code;
} exit_codes[] = {
    {LOYALTY_OK, CLI_EXIT_OK},
    {LOYALTY_ERR_INTERNAL, CLI_EXIT_INTERNAL},
    {LOYALTY_ERR_STORAGE, CLI_EXIT_INTERNAL},
    {LOYALTY_ERR_NOMEM, CLI_EXIT_INTERNAL},
    {LOYALTY_ERR_BUSY, CLI_EXIT_INTERNAL},
    {LOYALTY_ERR_MISUSE, CLI_EXIT_USAGE},
    {LOYALTY_ERR_INVALID, CLI_EXIT_USAGE},
    {LOYALTY_ERR_NO_LEDGER, CLI_EXIT_NOT_FOUND},
    {LOYALTY_ERR_NOT_FOUND, CLI_EXIT_NOT_FOUND},
    {LOYALTY_ERR_INSUFFICIENT, CLI_EXIT_INSUFFICIENT},
    {LOYALTY_ERR_CONFLICT, CLI_EXIT_CONFLICT},
    {LOYALTY_ERR_EXISTS, CLI_EXIT_CONFLICT},
    {LOYALTY_ERR_STATE, CLI_EXIT_CONFLICT},
    {LOYALTY_ERR_NOT_PERMITTED, CLI_EXIT_NOT_PERMITTED},
    {LOYALTY_ERR_KEY, CLI_EXIT_NOT_PERMITTED},
    {LOYALTY_ERR_VERIFY, CLI_EXIT_VERIFY},
};

/* What each exit code means, for `loyalty --help`. */
static const char *const exit_code_meanings[] = {
    [CLI_EXIT_OK] = "success",
    [CLI_EXIT_INTERNAL] = "internal or storage error",
    [CLI_EXIT_USAGE] = "usage error or invalid input",
    [CLI_EXIT_NOT_FOUND] = "not found (ledger, member, transaction)",
    [CLI_EXIT_INSUFFICIENT] = "insufficient points, or a benefit used up for the period",
    [CLI_EXIT_CONFLICT] = "conflict or wrong state (reference reused, already reversed, exists)",
    [CLI_EXIT_NOT_PERMITTED] = "not permitted (operator or role, self-approval, member state, "
                                "signing key)",
    [CLI_EXIT_VERIFY] = "audit verification failed",
};

#define EXIT_CODE_COUNT (sizeof exit_codes / sizeof exit_codes[0])
#define MEANING_COUNT (sizeof exit_code_meanings / sizeof exit_code_meanings[0])

/* The exit code of a library result code; unknown codes are internal errors. */
int cli_exit_code(int rc)
{
    for (size_t i = 0; i < EXIT_CODE_COUNT; i++)
        if (exit_codes[i].rc == rc)
            return exit_codes[i].exit_code;
    return CLI_EXIT_INTERNAL;
}

/* Prints each exit code with its meaning and the result codes behind it. */
void cli_print_exit_codes(void)
{
    printf("Exit codes:\n");
    for (size_t exit_code = 0; exit_code < MEANING_COUNT; exit_code++) {
        printf("  %zu  %s", exit_code, exit_code_meanings[exit_code]);
        const char *separator = " [";
        for (size_t i = 0; i < EXIT_CODE_COUNT; i++) {
            if (exit_codes[i].exit_code != (int)exit_code || exit_codes[i].rc == LOYALTY_OK)
                continue;
            printf("%s%s", separator, loyalty_result_name(exit_codes[i].rc));
            separator = ", ";
        }
        printf("%s\n", separator[0] == ',' ? "]" : "");
    }
}

/*
 * A JSON string of text that may not be UTF-8 (it can echo bad input): bytes
 * outside ASCII are replaced with '?' when the text is not valid UTF-8.
 */
json_t *cli_text_value(const char *text)
{
    json_t *value = json_string(text);
    if (value != NULL)
        return value;
    char ascii[MESSAGE_BYTES];
    size_t length = 0;
    for (; text[length] != '\0' && length + 1 < sizeof ascii; length++)
        ascii[length] = (unsigned char)text[length] < 0x80 ? text[length] : '?';
    ascii[length] = '\0';
    return json_string(ascii);
}

/* Prints one error line on stderr and returns the exit code of rc. */
int cli_error(cli_context *cli, int rc, const char *message)
{
    if (cli->json) {
        json_t *error = json_pack("{s:{s:s,s:o}}", "error", "code", loyalty_result_name(rc),
                                  "message", cli_text_value(message));
        char *text = error ? json_dumps(error, JSON_COMPACT) : NULL;
        if (text != NULL)
            fprintf(stderr, "%s\n", text);
        else
            fprintf(stderr, "{\"error\":{\"code\":\"%s\",\"message\":\"out of memory\"}}\n",
                    loyalty_result_name(LOYALTY_ERR_NOMEM));
        free(text);
        json_decref(error);
    } else {
        /* One line, and nothing a terminal would act on: the message can echo
         * an argument, which may hold newlines or escape sequences. */
        char line[MESSAGE_BYTES];
        size_t length = 0;
        for (; message[length] != '\0' && length + 1 < sizeof line; length++) {
            unsigned char c = (unsigned char)message[length];
            line[length] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        line[length] = '\0';
        fprintf(stderr, "loyalty: %s\n", line);
    }
    return cli_exit_code(rc);
}

/* A usage or input error found by the tool itself: exit 2. */
int cli_usage_error(cli_context *cli, const char *format, ...)
{
    char message[MESSAGE_BYTES];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    return cli_error(cli, LOYALTY_ERR_INVALID, message);
}

/* Reports a failed library call with the handle's detail when it has one. */
int cli_fail(cli_context *cli, loyalty_ledger *ledger, int rc)
{
    const char *detail = ledger != NULL ? loyalty_errmsg(ledger) : "";
    return cli_error(cli, rc, detail[0] != '\0' ? detail : loyalty_strerror(rc));
}

int cli_out_of_memory(cli_context *cli)
{
    return cli_error(cli, LOYALTY_ERR_NOMEM, "out of memory");
}

/* "2026-11-25T12:00:00Z", with ".ffffff" only when there are microseconds. */
void cli_format_time(int64_t ts_us, char buffer[40])
{
    int64_t seconds = ts_us / 1000000;
    int64_t microseconds = ts_us % 1000000;
    if (microseconds < 0) {
        microseconds += 1000000;
        seconds -= 1;
    }
    time_t whole = (time_t)seconds;
    struct tm utc;
    if (gmtime_r(&whole, &utc) == NULL) {
        snprintf(buffer, 40, "@%lld", (long long)ts_us);
        return;
    }
    size_t length = strftime(buffer, 40, "%Y-%m-%dT%H:%M:%S", &utc);
    if (microseconds != 0)
        snprintf(buffer + length, 40 - length, ".%06lldZ", (long long)microseconds);
    else
        snprintf(buffer + length, 40 - length, "Z");
}

json_t *cli_time_value(int64_t ts_us)
{
    char buffer[40];
    cli_format_time(ts_us, buffer);
    return json_string(buffer);
}

/* A JSON string, or null for NULL or "". */
json_t *cli_optional_string(const char *text)
{
    return (text != NULL && text[0] != '\0') ? json_string(text) : json_null();
}

/* Prints value as one compact JSON line and releases it. */
int cli_print_json(cli_context *cli, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(value);
    if (text == NULL)
        return cli_out_of_memory(cli);
    puts(text);
    free(text);
    return CLI_EXIT_OK;
}

static void print_text_value(const json_t *value);

/* A nested object in text: "key value, key value" (e.g. next_expiry: points 40, at ...). */
static void print_text_object(const json_t *object)
{
    const char *key;
    const json_t *value;
    const char *separator = "";
    json_object_foreach((json_t *)object, key, value) {
        printf("%s%s ", separator, key);
        print_text_value(value);
        separator = ", ";
    }
}

static void print_text_value(const json_t *value)
{
    if (json_is_object(value)) {
        print_text_object(value);
    } else if (json_is_string(value)) {
        fputs(json_string_value(value), stdout);
    } else if (json_is_integer(value)) {
        printf("%lld", (long long)json_integer_value(value));
    } else if (json_is_null(value)) {
        fputs("-", stdout);
    } else {
        char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        fputs(text ? text : "?", stdout);
        free(text);
    }
}

/* Prints an object's fields as aligned "key: value" lines. */
static void print_text_record(const json_t *record)
{
    const char *key;
    const json_t *value;
    int width = 0;
    json_object_foreach((json_t *)record, key, value) {
        int length = (int)strlen(key) + 1;
        if (length > width)
            width = length;
    }
    json_object_foreach((json_t *)record, key, value) {
        printf("%s:%*s ", key, width - (int)strlen(key) - 1, "");
        print_text_value(value);
        putchar('\n');
    }
}

/*
 * Appends an item built by a listing callback (failed: building it ran out
 * of memory) and returns non-zero, which stops the listing, once anything
 * has failed.
 */
int cli_list_append(cli_list *list, json_t *item, int failed)
{
    if (item == NULL || failed) {
        json_decref(item);
        list->failed = 1;
    } else if (json_array_append_new(list->items, item) != 0) {
        list->failed = 1; /* the array released the item */
    }
    return list->failed;
}

/* One cell of a text table: like a text value, with arrays joined by commas. */
static void format_cell(const json_t *value, char *buffer, size_t size)
{
    buffer[0] = '\0';
    if (json_is_string(value)) {
        snprintf(buffer, size, "%s", json_string_value(value));
    } else if (json_is_integer(value)) {
        snprintf(buffer, size, "%lld", (long long)json_integer_value(value));
    } else if (json_is_boolean(value)) {
        snprintf(buffer, size, "%s", json_is_true(value) ? "true" : "false");
    } else if (json_is_array(value)) {
        size_t index, used = 0;
        const json_t *item;
        json_array_foreach((json_t *)value, index, item) {
            const char *text = json_string_value(item);
            int written = snprintf(buffer + used, size - used, "%s%s", index ? "," : "",
                                   text ? text : "?");
            if (written < 0 || (size_t)written >= size - used)
                break;
            used += (size_t)written;
        }
        if (json_array_size(value) == 0)
            snprintf(buffer, size, "-");
    } else {
        snprintf(buffer, size, "-");
    }
}

/* A column of integers (nulls allowed) is right-aligned: figures read best that way. */
static int column_is_numeric(const json_t *rows, const char *column)
{
    size_t index;
    const json_t *row;
    int integers = 0;
    json_array_foreach((json_t *)rows, index, row) {
        const json_t *value = json_object_get(row, column);
        if (json_is_integer(value))
            integers++;
        else if (value != NULL && !json_is_null(value))
            return 0;
    }
    return integers > 0;
}

/* Prints rows (objects) as a table of the named columns, with upper-case headings. */
static void print_text_table(const json_t *rows, const char *const *columns)
{
    size_t count = 0;
    while (columns[count] != NULL && count < CLI_TABLE_COLUMNS_MAX)
        count++;
    int widths[CLI_TABLE_COLUMNS_MAX];
    int numeric[CLI_TABLE_COLUMNS_MAX];
    char cell[CLI_TABLE_CELL_BYTES];
    for (size_t c = 0; c < count; c++) {
        widths[c] = (int)strlen(columns[c]);
        numeric[c] = column_is_numeric(rows, columns[c]);
        size_t index;
        const json_t *row;
        json_array_foreach((json_t *)rows, index, row) {
            format_cell(json_object_get(row, columns[c]), cell, sizeof cell);
            if ((int)strlen(cell) > widths[c])
                widths[c] = (int)strlen(cell);
        }
    }
    for (size_t c = 0; c < count; c++) {
        char heading[CLI_TABLE_CELL_BYTES];
        size_t length = 0;
        for (; columns[c][length] != '\0' && length + 1 < sizeof heading; length++)
            heading[length] = (char)toupper((unsigned char)columns[c][length]);
        heading[length] = '\0';
        /* The last column is not padded: no trailing blanks. */
        int width = c + 1 == count && !numeric[c] ? 0 : widths[c];
        printf("%s%*s%s", c ? "  " : "", numeric[c] ? width : -width, heading,
               c + 1 == count ? "\n" : "");
    }
    size_t index;
    const json_t *row;
    json_array_foreach((json_t *)rows, index, row) {
        for (size_t c = 0; c < count; c++) {
            format_cell(json_object_get(row, columns[c]), cell, sizeof cell);
            int width = c + 1 == count && !numeric[c] ? 0 : widths[c];
            printf("%s%*s", c ? "  " : "", numeric[c] ? width : -width, cell);
        }
        putchar('\n');
    }
}

/*
 * Prints a record that holds one list under list_key and releases it: with
 * --json as one object; otherwise its other fields as "key: value" lines,
 * then the list as a table of the given columns (a NULL-terminated array).
 */
int cli_print_list(cli_context *cli, json_t *record, const char *list_key,
                   const char *const *columns, int build_failed)
{
    if (record == NULL || build_failed) {
        json_decref(record);
        return cli_out_of_memory(cli);
    }
    if (cli->json)
        return cli_print_json(cli, record);
    json_t *rows = json_incref(json_object_get(record, list_key));
    json_object_del(record, list_key);
    print_text_record(record);
    if (rows != NULL)
        print_text_table(rows, columns);
    json_decref(rows);
    json_decref(record);
    return CLI_EXIT_OK;
}

/*
 * Ends a listing command: when rc is not LOYALTY_OK reports it and drops the
 * items and the record; otherwise puts the items under list_key in record (a
 * new object when NULL; record_failed: building it ran out of memory) and
 * prints it as cli_print_list does.
 */
int cli_print_listing(cli_context *cli, loyalty_ledger *ledger, int rc, cli_list *list,
                      json_t *record, int record_failed, const char *list_key,
                      const char *const *columns)
{
    if (rc != LOYALTY_OK) {
        json_decref(list->items);
        json_decref(record);
        return cli_fail(cli, ledger, rc);
    }
    if (record == NULL)
        record = json_object();
    int failed = record_failed | list->failed;
    failed |= json_object_set_new(record, list_key, list->items);
    return cli_print_list(cli, record, list_key, columns, failed);
}

/*
 * Prints a result object (JSON with --json, aligned text otherwise) and
 * releases it. build_failed is non-zero when building it ran out of memory.
 */
int cli_print_record(cli_context *cli, json_t *record, int build_failed)
{
    if (record == NULL || build_failed) {
        json_decref(record);
        return cli_out_of_memory(cli);
    }
    if (cli->json)
        return cli_print_json(cli, record);
    print_text_record(record);
    json_decref(record);
    return CLI_EXIT_OK;
}

/* Flushes stdout; a failed write turns success into exit 1. */
int cli_finish_output(cli_context *cli, int exit_code)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (exit_code == CLI_EXIT_OK)
            return cli_error(cli, LOYALTY_ERR_STORAGE, "cannot write to standard output");
    }
    return exit_code;
}
