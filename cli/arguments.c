/*
 * arguments.c - the argument parser of the `loyalty` tool: global options
 * (--db, --key, --actor, --json) wherever they appear, each command's own
 * options ("--opt VALUE" or "--opt=VALUE"), flags ("--all") and positional
 * arguments from its table, --help, and the strict parsing of integer
 * arguments.
 *
 * The whole command line is scanned before any error is reported, so that a
 * --json anywhere on the line also shapes the error message, and --help
 * anywhere wins over any error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PARSE_ERROR_BYTES 256

typedef struct parse_state {
    char error[PARSE_ERROR_BYTES]; /* the first problem found, "" when none */
    int help;
    int only_positionals;          /* after "--" */
    size_t positionals_seen;
} parse_state;

static const char global_options_help[] =
    "\nGlobal options (before or after the command):\n"
    "  --db PATH      ledger database (else $LOYALTY_DB, else ./loyalty.db)\n"
    "  --key PATH     secret key file (else $LOYALTY_KEY, else the database path + .key)\n"
    "  --actor NAME   who acts (else $LOYALTY_ACTOR, else the login name)\n"
    "  --json         print one JSON object on stdout\n"
    "  -h, --help     print this help\n";

static void note_error(char *error, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Keeps only the first error: later ones are usually consequences of it. */
static void note_error(char *error, size_t size, const char *format, ...)
{
    if (error[0] != '\0')
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(error, size, format, args);
    va_end(args);
}

int cli_is_help(const char *argument)
{
    return strcmp(argument, "--help") == 0 || strcmp(argument, "-h") == 0;
}

/*
 * Matches "--name" or "--name=value". Sets *inline_value to the text after
 * '=' (or NULL) and returns 1 on a match.
 */
static int match_option(const char *argument, const char *name, const char **inline_value)
{
    size_t length = strlen(name);
    if (strncmp(argument, name, length) != 0)
        return 0;
    if (argument[length] == '\0') {
        *inline_value = NULL;
        return 1;
    }
    if (argument[length] == '=') {
        *inline_value = argument + length + 1;
        return 1;
    }
    return 0;
}

/*
 * Takes the value of the option at argv[*index] (inline or the next
 * argument) and advances *index past it. Returns NULL when it is missing.
 */
static const char *take_value(int argc, char **argv, int *index, const char *inline_value)
{
    (*index)++;
    if (inline_value != NULL)
        return inline_value;
    if (*index >= argc)
        return NULL;
    return argv[(*index)++];
}

/*
 * If argv[*index] is a global option, applies it, advances *index and returns
 * 1 (with error set when its value is missing); otherwise returns 0.
 */
int cli_take_global_option(cli_context *cli, int argc, char **argv, int *index,
                           char *error, size_t error_size)
{
    static const char *const names[] = {"--db", "--key", "--actor"};
    const char *argument = argv[*index];
    const char *inline_value = NULL;
    if (match_option(argument, "--json", &inline_value)) {
        if (inline_value != NULL)
            note_error(error, error_size, "--json takes no value");
        cli->json = 1;
        (*index)++;
        return 1;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!match_option(argument, names[i], &inline_value))
            continue;
        const char *value = take_value(argc, argv, index, inline_value);
        if (value == NULL)
            note_error(error, error_size, "%s needs a value", names[i]);
        else if (i == 0)
            cli->db_path = value;
        else if (i == 1)
            cli->key_path = value;
        else
            cli->actor = value;
        return 1;
    }
    return 0;
}

/*
 * Applies a command option (or flag) at argv[*index]; records an error when
 * unknown or repeated, or when a flag is given a value.
 */
static void take_command_option(parse_state *state, const cli_option *options, int argc,
                                char **argv, int *index)
{
    const char *argument = argv[*index];
    const char *inline_value = NULL;
    for (const cli_option *option = options; option->name != NULL; option++) {
        if (option->name[0] != '-' || !match_option(argument, option->name, &inline_value))
            continue;
        if (option->required == CLI_FLAG) {
            (*index)++;
            if (inline_value != NULL)
                note_error(state->error, sizeof state->error, "%s takes no value", option->name);
            else if (*option->value != NULL)
                note_error(state->error, sizeof state->error, "%s given more than once",
                           option->name);
            else
                *option->value = option->name;
            return;
        }
        const char *value = take_value(argc, argv, index, inline_value);
        if (value == NULL)
            note_error(state->error, sizeof state->error, "%s needs a value", option->name);
        else if (*option->value != NULL)
            note_error(state->error, sizeof state->error, "%s given more than once",
                       option->name);
        else
            *option->value = value;
        return;
    }
    note_error(state->error, sizeof state->error, "unknown option '%s'", argument);
    (*index)++;
}

/* Stores a positional argument in the next positional slot of the table. */
static void take_positional(parse_state *state, const cli_option *options, const char *argument)
{
    size_t seen = 0;
    for (const cli_option *option = options; option->name != NULL; option++) {
        if (option->name[0] == '-')
            continue;
        if (seen++ == state->positionals_seen) {
            *option->value = argument;
            state->positionals_seen++;
            return;
        }
    }
    note_error(state->error, sizeof state->error, "unexpected argument '%s'", argument);
}

static void scan_arguments(parse_state *state, cli_context *cli, int argc, char **argv,
                           const cli_option *options)
{
    int index = 0;
    while (index < argc) {
        const char *argument = argv[index];
        if (state->only_positionals || argument[0] != '-' || argument[1] == '\0') {
            take_positional(state, options, argument);
            index++;
        } else if (strcmp(argument, "--") == 0) {
            state->only_positionals = 1;
            index++;
        } else if (cli_is_help(argument)) {
            state->help = 1;
            index++;
        } else if (!cli_take_global_option(cli, argc, argv, &index, state->error,
                                           sizeof state->error)) {
            take_command_option(state, options, argc, argv, &index);
        }
    }
}

static void check_required(parse_state *state, const cli_option *options)
{
    for (const cli_option *option = options; option->name != NULL; option++) {
        if (*option->value != NULL)
            continue;
        if (option->name[0] != '-')
            note_error(state->error, sizeof state->error, "missing %s", option->name);
        else if (option->required == 1)
            note_error(state->error, sizeof state->error, "%s is required", option->name);
    }
}

/*
 * Parses a command's arguments against its table, then resolves the
 * environment. Prints the usage (exit 0) on --help and a one-line error
 * (exit 2) on any problem. Returns CLI_CONTINUE when the command should run.
 */
int cli_parse(cli_context *cli, int argc, char **argv, const char *usage,
              const cli_option *options)
{
    parse_state state = {.error = "", .help = 0};
    for (const cli_option *option = options; option->name != NULL; option++)
        *option->value = NULL;
    scan_arguments(&state, cli, argc, argv, options);
    if (state.help) {
        fputs(usage, stdout);
        fputs(global_options_help, stdout);
        return CLI_EXIT_OK;
    }
    check_required(&state, options);
    if (state.error[0] != '\0')
        return cli_usage_error(cli, "%s", state.error);
    return cli_resolve_environment(cli);
}

/*
 * Parses a whole decimal integer argument: no blanks, no trailing text, no
 * overflow, and the sign the rule asks for. The message names the option.
 * Returns CLI_CONTINUE, or the exit code after printing the error.
 */
int cli_parse_number(cli_context *cli, const char *name, const char *text, cli_number_rule rule,
                     int64_t *out)
{
    const char *expected = rule == CLI_POSITIVE ? "a positive integer" : "a non-zero integer";
    const char *digits = (text[0] == '+' || text[0] == '-') ? text + 1 : text;
    if (!isdigit((unsigned char)digits[0]))
        return cli_usage_error(cli, "%s must be %s, not '%s'", name, expected, text);
    errno = 0;
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (*end != '\0')
        return cli_usage_error(cli, "%s must be %s, not '%s'", name, expected, text);
    if (errno == ERANGE)
        return cli_usage_error(cli, "%s is out of range: '%s'", name, text);
    if ((rule == CLI_POSITIVE && value <= 0) || (rule == CLI_NONZERO_SIGNED && value == 0))
        return cli_usage_error(cli, "%s must be %s, not '%s'", name, expected, text);
    *out = (int64_t)value;
    return CLI_CONTINUE;
}
