/*
 * cli.h - declarations shared by the files of the `loyalty` command-line
 * tool: the run context (global options), the option tables each command
 * hands to the argument parser, the exit codes, and the output helpers.
 *
 * The tool is a thin shell over include/loyalty.h: it parses arguments,
 * calls the library and prints the result. It holds no SQL and no ledger
 * rules; when the library refuses something, the tool reports the library's
 * message and maps the result code to an exit code.
 */
#ifndef LOYALTY_CLI_H
#define LOYALTY_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "loyalty.h"

/* Exit codes, one per class of failure (the table is in output.c). */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_INTERNAL = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_NOT_FOUND = 3,
    CLI_EXIT_INSUFFICIENT = 4,
    CLI_EXIT_CONFLICT = 5,
    CLI_EXIT_NOT_PERMITTED = 6,
    CLI_EXIT_VERIFY = 7
};

/* Returned by cli_parse when the command should go on (any other value is an exit code). */
#define CLI_CONTINUE (-1)

/* Largest file the tool reads (program, checkpoint, public key): far above any real one. */
#define CLI_FILE_MAX_BYTES (4 * 1024 * 1024)

/* Text tables (lists in human output): at most this many columns, each cell cut to this size. */
#define CLI_TABLE_COLUMNS_MAX 16
#define CLI_TABLE_CELL_BYTES 512

/* Longest login name kept as the default actor; the library checks the real bound. */
#define CLI_LOGIN_NAME_MAX 256

/* The global options and environment, resolved once per run. */
typedef struct cli_context {
    const char *db_path;   /* --db, $LOYALTY_DB, "./loyalty.db" */
    const char *key_path;  /* --key, $LOYALTY_KEY, NULL (the library derives it) */
    const char *actor;     /* --actor, $LOYALTY_ACTOR, the login name, or NULL */
    int json;              /* --json: one JSON object on stdout */
    int64_t now_us;        /* $LOYALTY_NOW in microseconds, 0 for the system clock */
    char login_name[CLI_LOGIN_NAME_MAX + 1];
} cli_context;

/*
 * One entry of a command's argument table. A name starting with "--" is an
 * option taking a value (or, with `required` set to CLI_FLAG, a flag taking
 * none); any other name (e.g. "ID") is a positional argument, matched in
 * table order. Tables end with an entry whose name is NULL.
 */
typedef struct cli_option {
    const char *name;
    const char **value; /* receives the argument (borrowed from argv), a flag its own name;
                           NULL when absent */
    int required;       /* 1 required, 0 optional, CLI_FLAG; positionals are always required */
} cli_option;

/* The `required` value of an optional flag such as --all. */
#define CLI_FLAG 2

/* A command's handler: argv holds the arguments after the command words. */
typedef int (*cli_command_fn)(cli_context *cli, int argc, char **argv);

/* --- arguments.c --------------------------------------------------------- */
int cli_parse(cli_context *cli, int argc, char **argv, const char *usage,
              const cli_option *options);
int cli_take_global_option(cli_context *cli, int argc, char **argv, int *index,
                           char *error, size_t error_size);
int cli_is_help(const char *argument);

typedef enum cli_number_rule {
    CLI_POSITIVE,       /* 1 .. INT64_MAX */
    CLI_NONZERO_SIGNED  /* any non-zero value, sign optional */
} cli_number_rule;
int cli_parse_number(cli_context *cli, const char *name, const char *text, cli_number_rule rule,
                     int64_t *out);

/* --- context.c ----------------------------------------------------------- */
int cli_resolve_environment(cli_context *cli);
int cli_parse_time(const char *text, int64_t *out_us);
int cli_open_ledger(cli_context *cli, loyalty_ledger **out);
int cli_parse_open(cli_context *cli, int argc, char **argv, const char *usage,
                   const cli_option *options, loyalty_ledger **out);
int cli_create_ledger(cli_context *cli, const char *program_json, loyalty_ledger **out);

/* --- input.c ------------------------------------------------------------- */
int cli_read_file(cli_context *cli, const char *option, const char *path, char **text_out);
int cli_read_public_key(cli_context *cli, const char *path, char hex_out[LOYALTY_PUBLIC_KEY_HEX + 1]);

/* --- output_file.c ------------------------------------------------------- */
/* What path is when it names one of the ledger's files or the input being read
 * (input_fd, or -1), so that the tool must not write to it; NULL otherwise. */
const char *cli_protected_file(const cli_context *cli, const char *path, int input_fd);

/* --- output.c ------------------------------------------------------------ */
int cli_exit_code(int rc);
void cli_print_exit_codes(void);
int cli_usage_error(cli_context *cli, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
int cli_error(cli_context *cli, int rc, const char *message);
int cli_fail(cli_context *cli, loyalty_ledger *ledger, int rc);
int cli_out_of_memory(cli_context *cli);
void cli_format_time(int64_t ts_us, char buffer[40]);
json_t *cli_time_value(int64_t ts_us);
json_t *cli_optional_string(const char *text);
json_t *cli_text_value(const char *text);
int cli_print_record(cli_context *cli, json_t *record, int build_failed);
int cli_print_list(cli_context *cli, json_t *record, const char *list_key,
                   const char *const *columns, int build_failed);

/* Items gathered by a library listing callback; failed is set once memory ran out. */
typedef struct cli_list {
    json_t *items;
    int failed;
} cli_list;
int cli_list_append(cli_list *list, json_t *item, int failed);
int cli_print_listing(cli_context *cli, loyalty_ledger *ledger, int rc, cli_list *list,
                      json_t *record, int record_failed, const char *list_key,
                      const char *const *columns);
int cli_print_json(cli_context *cli, json_t *value);
int cli_finish_output(cli_context *cli, int exit_code);

/* --- progress.c ---------------------------------------------------------- */
/* A progress bar on stderr, drawn only when stderr is a terminal. */
typedef struct cli_progress {
    const char *label;
    int active;            /* stderr is a terminal */
    int width;             /* widest line drawn, to wipe it at the end */
    int64_t last_permille; /* what was last drawn, to skip redraws that change nothing */
} cli_progress;
void cli_progress_start(cli_progress *progress, const char *label);
void cli_progress_update(void *context, int64_t done, int64_t total);
void cli_progress_finish(cli_progress *progress);

/* --- commands (one file per group) ---------------------------------------- */
int cli_run_init(cli_context *cli, int argc, char **argv);
int cli_run_program_load(cli_context *cli, int argc, char **argv);
int cli_run_program_show(cli_context *cli, int argc, char **argv);
int cli_run_member_add(cli_context *cli, int argc, char **argv);
int cli_run_member_show(cli_context *cli, int argc, char **argv);
int cli_run_member_freeze(cli_context *cli, int argc, char **argv);
int cli_run_member_unfreeze(cli_context *cli, int argc, char **argv);
int cli_run_member_close(cli_context *cli, int argc, char **argv);
int cli_show_member(cli_context *cli, const char *member, int with_created);
json_t *cli_member_record(const loyalty_member_info *info, int with_created);
int cli_run_award(cli_context *cli, int argc, char **argv);
int cli_run_redeem(cli_context *cli, int argc, char **argv);
int cli_run_adjust(cli_context *cli, int argc, char **argv);
int cli_print_adjustment(cli_context *cli, const loyalty_posting *posting);
int cli_run_reverse(cli_context *cli, int argc, char **argv);
int cli_run_refund(cli_context *cli, int argc, char **argv);
int cli_run_hold(cli_context *cli, int argc, char **argv);
int cli_run_capture(cli_context *cli, int argc, char **argv);
int cli_run_release(cli_context *cli, int argc, char **argv);
int cli_run_expire(cli_context *cli, int argc, char **argv);
int cli_run_balance(cli_context *cli, int argc, char **argv);
int cli_run_history(cli_context *cli, int argc, char **argv);
int cli_run_stats(cli_context *cli, int argc, char **argv);
int cli_run_key_public(cli_context *cli, int argc, char **argv);
int cli_run_key_rotate(cli_context *cli, int argc, char **argv);
int cli_run_audit_export(cli_context *cli, int argc, char **argv);
int cli_run_audit_checkpoint(cli_context *cli, int argc, char **argv);
int cli_run_verify(cli_context *cli, int argc, char **argv);
int cli_run_tiers(cli_context *cli, int argc, char **argv);
int cli_run_tier_set(cli_context *cli, int argc, char **argv);
int cli_run_tier_history(cli_context *cli, int argc, char **argv);
int cli_run_tier_evaluate(cli_context *cli, int argc, char **argv);
int cli_run_benefits(cli_context *cli, int argc, char **argv);
int cli_run_benefit_claim(cli_context *cli, int argc, char **argv);
int cli_run_operator_add(cli_context *cli, int argc, char **argv);
int cli_run_operator_list(cli_context *cli, int argc, char **argv);
int cli_run_operator_disable(cli_context *cli, int argc, char **argv);
int cli_run_approve(cli_context *cli, int argc, char **argv);
int cli_run_reject(cli_context *cli, int argc, char **argv);
int cli_run_approvals(cli_context *cli, int argc, char **argv);
int cli_run_import(cli_context *cli, int argc, char **argv);

#endif
