/*
 * cmd_program.c - the commands that create a ledger and manage its program:
 * `init`, `program load` and `program show`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char init_usage[] =
    "usage: loyalty init [--program FILE]\n"
    "\n"
    "Creates a ledger at the --db path: the database, the signing key pair (unless\n"
    "the key file already exists; mode 0600) and the genesis audit entry, then loads\n"
    "the program from FILE ('-' reads standard input) or the default program\n"
    "(1 point per 1.00 of currency), and registers the actor as the first operator,\n"
    "with the admin role. On an existing ledger it fails with exit 5 and changes\n"
    "nothing.\n"
    "\n"
    "  --program FILE   the program as a JSON object\n";

static const char program_load_usage[] =
    "usage: loyalty program load FILE\n"
    "\n"
    "Loads a new program (the earning rules) from a JSON file ('-' reads standard\n"
    "input) and prints its version. Omitted fields take their defaults; unknown or\n"
    "ill-typed fields are refused with exit 2 and a message naming the field.\n";

static const char program_show_usage[] =
    "usage: loyalty program show\n"
    "\n"
    "Prints the program in force, every field present, with its version.\n";

/* Reads the version of the program in force from the library's JSON. */
static int program_version(loyalty_ledger *ledger, int64_t *version)
{
    char *text = NULL;
    int rc = loyalty_program_show(ledger, &text);
    if (rc != LOYALTY_OK)
        return rc;
    json_t *program = json_loads(text, 0, NULL);
    loyalty_free(text);
    json_t *value = json_object_get(program, "version");
    if (!json_is_integer(value)) {
        json_decref(program);
        return LOYALTY_ERR_INTERNAL;
    }
    *version = json_integer_value(value);
    json_decref(program);
    return LOYALTY_OK;
}

static int print_created(cli_context *cli, loyalty_ledger *ledger)
{
    char public_key[LOYALTY_PUBLIC_KEY_HEX + 1];
    char key_id[LOYALTY_KEY_ID_HEX + 1];
    int64_t version = 0;
    int rc = loyalty_key_public(ledger, public_key, key_id);
    if (rc == LOYALTY_OK)
        rc = program_version(ledger, &version);
    if (rc != LOYALTY_OK)
        return cli_fail(cli, ledger, rc);
    json_t *record = json_object();
    int failed = 0;
    failed |= json_object_set_new(record, "db", cli_text_value(cli->db_path));
    failed |= json_object_set_new(record, "program_version", json_integer(version));
    failed |= json_object_set_new(record, "public_key", json_string(public_key));
    failed |= json_object_set_new(record, "key_id", json_string(key_id));
    return cli_print_record(cli, record, failed);
}

int cli_run_init(cli_context *cli, int argc, char **argv)
{
    const char *program_path = NULL;
    const cli_option options[] = {{"--program", &program_path, 0}, {NULL, NULL, 0}};
    int exit_code = cli_parse(cli, argc, argv, init_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    char *program = NULL;
    if (program_path != NULL) {
        exit_code = cli_read_file(cli, "--program", program_path, &program);
        if (exit_code != CLI_CONTINUE)
            return exit_code;
    }
    loyalty_ledger *ledger = NULL;
    exit_code = cli_create_ledger(cli, program, &ledger);
    free(program);
    if (exit_code == CLI_CONTINUE)
        exit_code = print_created(cli, ledger);
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_program_load(cli_context *cli, int argc, char **argv)
{
    const char *path = NULL;
    const cli_option options[] = {{"FILE", &path, 1}, {NULL, NULL, 0}};
    int exit_code = cli_parse(cli, argc, argv, program_load_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    char *program = NULL;
    exit_code = cli_read_file(cli, "program load", path, &program);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_ledger *ledger = NULL;
    exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code == CLI_CONTINUE) {
        int64_t version = 0;
        int rc = loyalty_program_load(ledger, program, &version);
        if (rc != LOYALTY_OK) {
            exit_code = cli_fail(cli, ledger, rc);
        } else {
            json_t *record = json_object();
            int failed = json_object_set_new(record, "version", json_integer(version));
            exit_code = cli_print_record(cli, record, failed);
        }
    }
    free(program);
    loyalty_close(ledger);
    return exit_code;
}

/* Prints the library's program JSON: as is with --json, indented otherwise. */
static int print_program(cli_context *cli, const char *text)
{
    if (cli->json) {
        puts(text);
        return CLI_EXIT_OK;
    }
    json_t *program = json_loads(text, 0, NULL);
    char *indented = program ? json_dumps(program, JSON_INDENT(2)) : NULL;
    json_decref(program);
    puts(indented ? indented : text);
    free(indented);
    return CLI_EXIT_OK;
}

int cli_run_program_show(cli_context *cli, int argc, char **argv)
{
    const cli_option options[] = {{NULL, NULL, 0}};
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, program_show_usage, options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    char *text = NULL;
    int rc = loyalty_program_show(ledger, &text);
    if (rc != LOYALTY_OK)
        exit_code = cli_fail(cli, ledger, rc);
    else
        exit_code = print_program(cli, text);
    loyalty_free(text);
    loyalty_close(ledger);
    return exit_code;
}
