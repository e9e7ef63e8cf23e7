/*
 * fuzz_cli_args.c - libFuzzer target for the `loyalty` tool's argument
 * handling, without running a process per input.
 *
 * cli/arguments.c and the other files of cli/ are linked in as they are;
 * cli/main.c is compiled into this file with its main() renamed
 * (loyalty_cli_main), so the whole tool can be called as a function. No
 * file of cli/ is changed for the fuzzer.
 *
 * Input: [mode][table] then the arguments, separated by NUL bytes (at most
 * 48 of them).
 *   mode even: the parser alone. cli_parse against one of a few option
 *     tables shaped like the tool's (positionals, required and optional
 *     options, flags), then cli_parse_number (both rules) and
 *     cli_parse_time on every argument.
 *   mode odd: the whole tool, loyalty_cli_main(argc, argv), run inside a
 *     sandbox directory holding a small ledger (./loyalty.db, the tool's
 *     default), with a fixed clock and actor from the environment, stdin
 *     from /dev/null and stdout/stderr discarded. Every '/' in an argument
 *     becomes '_' so that nothing outside the sandbox can be named.
 * Properties:
 *   - cli_parse returns CLI_CONTINUE, 0 (help) or 2 (usage); when it
 *     continues, every positional and required option has a value, each
 *     value lies inside one of the arguments, a flag's value is its name,
 *     and the database path is set and not empty;
 *   - cli_parse_number accepts only [+-]digits in range for its rule, and
 *     the value it gives is exactly the number written; otherwise exit 2;
 *   - cli_parse_time's value survives cli_format_time and back, and lies
 *     after 1970;
 *   - the whole tool returns one of the documented exit codes 0..7.
 */
#include <fcntl.h>

#include "fuzz_common.h"

/* cli/main.c with its entry point renamed; its statics become this file's. */
int loyalty_cli_main(int argc, char **argv);
#define main loyalty_cli_main
#include "../../cli/main.c"
#undef main

#define MAX_ARGS 48

static struct {
    int ready;
    char sandbox[FUZZ_PATH_BYTES];
    FILE *null_out;
} fx;

static void close_fixture(void)
{
    if (fx.null_out)
        fclose(fx.null_out);
    fx.null_out = NULL;
}

static void setup(void)
{
    if (fx.ready)
        return;
    fuzz_path(fx.sandbox, fuzz_scratch_dir(), "sandbox");
    if (mkdir(fx.sandbox, 0700) != 0)
        abort();
    char db_path[FUZZ_PATH_BYTES];
    fuzz_path(db_path, fx.sandbox, "loyalty.db");
    loyalty_ledger *l = fuzz_create_ledger(db_path, NULL);
    loyalty_posting p;
    fuzz_setup_ok(l, loyalty_member_add(l, "m1", NULL, NULL), "member add");
    loyalty_award_request award = {.member = "m1", .ref = "a1", .points = 500};
    fuzz_setup_ok(l, loyalty_award(l, &award, &p), "award");
    loyalty_close(l);
    unsetenv("LOYALTY_DB");
    unsetenv("LOYALTY_KEY");
    setenv("LOYALTY_ACTOR", FUZZ_ACTOR, 1);
    setenv("LOYALTY_NOW", "2026-01-01T00:00:00Z", 1);
    if (freopen("/dev/null", "rb", stdin) == NULL)
        abort();
    fx.null_out = fopen("/dev/null", "wb");
    if (fx.null_out == NULL)
        abort();
    fx.ready = 1;
    atexit(close_fixture);
}

/* Splits the bytes at NULs into argv[first..]; returns the count (argv is NULL-terminated). */
static int split_arguments(char *text, size_t size, char **argv, int first)
{
    int argc = first;
    size_t start = 0;
    if (size == 0) {
        argv[argc] = NULL;
        return argc;
    }
    for (size_t i = 0; i <= size && argc < MAX_ARGS; i++) {
        if (i == size || text[i] == '\0') {
            if (i == size && start == size && size > 0)
                break;
            text[i] = '\0';
            argv[argc++] = text + start;
            start = i + 1;
        }
    }
    argv[argc] = NULL;
    return argc;
}

/* --- the parser ---------------------------------------------------------------- */

static const char *values[8];

static const cli_option tables[][7] = {
    {{"ID", &values[0], 1}, {"--ref", &values[1], 1}, {"--amount", &values[2], 0},
     {"--points", &values[3], 0}, {"--reason", &values[4], 0}, {NULL, NULL, 0}},
    {{"TX", &values[0], 1}, {"--ref", &values[1], 1}, {"--reason", &values[2], 1}, {NULL, NULL, 0}},
    {{"--all", &values[0], CLI_FLAG}, {NULL, NULL, 0}},
    {{"ID", &values[0], 1}, {"CODE", &values[1], 1}, {"--reason", &values[2], 1}, {NULL, NULL, 0}},
    {{"FILE", &values[0], 1}, {"--results", &values[1], 0}, {"--batch", &values[2], 0}, {NULL, NULL, 0}},
    {{"--pubkey", &values[0], 0}, {"--checkpoint", &values[1], 0}, {NULL, NULL, 0}},
    {{"REF", &values[0], 1}, {"--points", &values[1], 0}, {"--all", &values[2], CLI_FLAG},
     {"--from", &values[3], 0}, {NULL, NULL, 0}},
    {{NULL, NULL, 0}},
};

/* Whether p points into one of the arguments (at any character, or at its end). */
static int inside_arguments(const char *p, int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (p >= argv[i] && p <= argv[i] + strlen(argv[i]))
            return 1;
    return 0;
}

static void check_parse(int argc, char **argv, const cli_option *options)
{
    cli_context cli;
    memset(&cli, 0, sizeof cli);
    int exit_code = cli_parse(&cli, argc, argv, "usage: fuzz\n", options);
    FUZZ_CHECK(exit_code == CLI_CONTINUE || exit_code == CLI_EXIT_OK || exit_code == CLI_EXIT_USAGE,
               "cli_parse returned %d", exit_code);
    FUZZ_TRACE("cli_parse: %d\n", exit_code);
    if (exit_code != CLI_CONTINUE)
        return;
    FUZZ_CHECK(cli.db_path != NULL && cli.db_path[0] != '\0', "no database path");
    for (const cli_option *option = options; option->name != NULL; option++) {
        const char *value = *option->value;
        int required = option->name[0] != '-' || option->required == 1;
        FUZZ_CHECK(value != NULL || !required, "%s has no value", option->name);
        if (value == NULL)
            continue;
        if (option->required == CLI_FLAG)
            FUZZ_CHECK(value == option->name, "flag %s has a value", option->name);
        else
            FUZZ_CHECK(inside_arguments(value, argc, argv), "%s's value is not an argument",
                       option->name);
    }
}

/* The number text written canonically: sign ("-" only), no leading zeros. */
static int canonical_number(const char *text, char *out, size_t size)
{
    const char *sign = text[0] == '-' ? "-" : "";
    const char *digits = (text[0] == '+' || text[0] == '-') ? text + 1 : text;
    if (digits[0] == '\0' || strspn(digits, "0123456789") != strlen(digits))
        return -1;
    while (digits[0] == '0' && digits[1] != '\0')
        digits++;
    int n = snprintf(out, size, "%s%s", sign, digits);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

static void check_number(const char *text, cli_number_rule rule)
{
    cli_context cli;
    memset(&cli, 0, sizeof cli);
    int64_t value = 0;
    int exit_code = cli_parse_number(&cli, "--n", text, rule, &value);
    FUZZ_CHECK(exit_code == CLI_CONTINUE || exit_code == CLI_EXIT_USAGE,
               "cli_parse_number returned %d", exit_code);
    if (exit_code != CLI_CONTINUE)
        return;
    /* Leading zeros are allowed, so the text may be long; its canonical form is not. */
    char canonical[64], written[64];
    FUZZ_CHECK(canonical_number(text, canonical, sizeof canonical) == 0, "'%s' is accepted as a number",
               text);
    snprintf(written, sizeof written, "%lld", (long long)value);
    FUZZ_CHECK(strcmp(canonical, written) == 0, "'%s' is read as %s", text, written);
    FUZZ_CHECK(rule == CLI_POSITIVE ? value > 0 : value != 0, "'%s' breaks its rule", text);
}

static void check_time(const char *text)
{
    int64_t us = 0, again = 0;
    if (cli_parse_time(text, &us) != 0)
        return;
    FUZZ_CHECK(us > 0, "'%s' is read as %lld", text, (long long)us);
    char written[40];
    cli_format_time(us, written);
    FUZZ_CHECK(cli_parse_time(written, &again) == 0 && again == us,
               "'%s' is %lld, written as '%s' which reads back as %lld", text, (long long)us,
               written, (long long)again);
}

static void fuzz_parser(int table, int argc, char **argv)
{
    const cli_option *options = tables[table % (sizeof tables / sizeof tables[0])];
    FILE *saved_out = stdout, *saved_err = stderr;
    stdout = fx.null_out;
    stderr = fx.null_out;
    check_parse(argc, argv, options);
    for (int i = 0; i < argc; i++) {
        check_number(argv[i], CLI_POSITIVE);
        check_number(argv[i], CLI_NONZERO_SIGNED);
        check_time(argv[i]);
    }
    stdout = saved_out;
    stderr = saved_err;
}

/* --- the whole tool ------------------------------------------------------------ */

static void fuzz_tool(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        for (char *c = argv[i]; *c; c++)
            if (*c == '/')
                *c = '_';
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (here < 0 || chdir(fx.sandbox) != 0)
        abort();
    FILE *saved_out = stdout, *saved_err = stderr;
    stdout = fx.null_out;
    stderr = fx.null_out;
    int exit_code = loyalty_cli_main(argc, argv);
    stdout = saved_out;
    stderr = saved_err;
    if (fchdir(here) != 0)
        abort();
    close(here);
    FUZZ_CHECK(exit_code >= CLI_EXIT_OK && exit_code <= CLI_EXIT_VERIFY, "the tool exited %d",
               exit_code);
    FUZZ_TRACE("tool %s: exit %d\n", argc > 1 ? argv[1] : "", exit_code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 2)
        return 0;
    int mode = data[0], table = data[1];
    char *text = fuzz_text(data + 2, size - 2);
    char *argv[MAX_ARGS + 1];
    argv[0] = (char *)"loyalty";
    if (mode % 2 == 0) {
        int argc = split_arguments(text, size - 2, argv, 0);
        fuzz_parser(table, argc, argv);
    } else {
        int argc = split_arguments(text, size - 2, argv, 1);
        fuzz_tool(argc, argv);
    }
    free(text);
    return 0;
}
