/*
 * cmd_audit.c - the commands of the signed audit log: `key public`,
 * `key rotate`, `audit export`, `audit checkpoint` and `verify`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char key_public_usage[] =
    "usage: loyalty key public\n"
    "\n"
    "Prints the public key in force as the one line of a public key file\n"
    "(64 hex characters); with --json, public_key and key_id.\n";

static const char key_rotate_usage[] =
    "usage: loyalty key rotate\n"
    "\n"
    "Generates a new signing key pair and appends a rotation entry, signed by the\n"
    "old key, naming the new public key. The old secret key file is kept as\n"
    "<key path>.<old key id>; the new one takes the key path (mode 0600).\n";

static const char audit_export_usage[] =
    "usage: loyalty audit export [--from SEQ]\n"
    "\n"
    "Writes the audit log as JSON Lines on stdout, one entry per line (also with\n"
    "--json), from entry SEQ on (default 1: every entry).\n";

static const char audit_checkpoint_usage[] =
    "usage: loyalty audit checkpoint\n"
    "\n"
    "Prints a signed statement of the chain head (seq, hash, time). Keep it: a later\n"
    "'loyalty verify --checkpoint FILE' proves that no entry up to it was removed or\n"
    "changed. With --json: {\"checkpoint\": TEXT}.\n";

static const char verify_usage[] =
    "usage: loyalty verify [--pubkey FILE] [--checkpoint FILE]\n"
    "\n"
    "Checks the audit chain (gap-free, linked, every hash and signature) and that\n"
    "replaying it from scratch reproduces the ledger's state row for row.\n"
    "Exit 0 when everything holds, 7 when something does not.\n"
    "\n"
    "  --pubkey FILE       trust this public key (a public key file) instead of the genesis key\n"
    "  --checkpoint FILE   a checkpoint printed earlier by 'loyalty audit checkpoint'\n";

/* Parses a command that takes no arguments and opens the ledger. */
static int open_plain(cli_context *cli, int argc, char **argv, const char *usage,
                      loyalty_ledger **ledger)
{
    const cli_option options[] = {{NULL, NULL, 0}};
    int exit_code = cli_parse(cli, argc, argv, usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return cli_open_ledger(cli, ledger);
}

static int print_key(cli_context *cli, const char *public_key, const char *key_id)
{
    json_t *record = json_pack("{s:s,s:s}", "public_key", public_key, "key_id", key_id);
    return cli_print_record(cli, record, 0);
}

int cli_run_key_public(cli_context *cli, int argc, char **argv)
{
    loyalty_ledger *ledger = NULL;
    int exit_code = open_plain(cli, argc, argv, key_public_usage, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    char public_key[LOYALTY_PUBLIC_KEY_HEX + 1];
    char key_id[LOYALTY_KEY_ID_HEX + 1];
    int rc = loyalty_key_public(ledger, public_key, key_id);
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
    } else if (cli->json) {
        exit_code = print_key(cli, public_key, key_id);
    } else {
        puts(public_key);
        exit_code = CLI_EXIT_OK;
    }
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_key_rotate(cli_context *cli, int argc, char **argv)
{
    loyalty_ledger *ledger = NULL;
    int exit_code = open_plain(cli, argc, argv, key_rotate_usage, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    char public_key[LOYALTY_PUBLIC_KEY_HEX + 1];
    char key_id[LOYALTY_KEY_ID_HEX + 1];
    int rc = loyalty_key_rotate(ledger, public_key, key_id);
    if (rc != LOYALTY_OK)
        exit_code = cli_fail(cli, ledger, rc);
    else
        exit_code = print_key(cli, public_key, key_id);
    loyalty_close(ledger);
    return exit_code;
}

/* Export callback: one line per entry; stops when stdout fails. */
static int write_line(void *context, const char *line)
{
    int *write_failed = context;
    if (fputs(line, stdout) == EOF || putchar('\n') == EOF) {
        *write_failed = 1;
        return 1;
    }
    return 0;
}

int cli_run_audit_export(cli_context *cli, int argc, char **argv)
{
    const char *from_text = NULL;
    const cli_option options[] = {{"--from", &from_text, 0}, {NULL, NULL, 0}};
    int exit_code = cli_parse(cli, argc, argv, audit_export_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    int64_t from = 1;
    if (from_text != NULL) {
        exit_code = cli_parse_number(cli, "--from", from_text, CLI_POSITIVE, &from);
        if (exit_code != CLI_CONTINUE)
            return exit_code;
    }
    loyalty_ledger *ledger = NULL;
    exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    int write_failed = 0;
    int rc = loyalty_audit_export(ledger, from, write_line, &write_failed);
    if (rc != LOYALTY_OK)
        exit_code = cli_fail(cli, ledger, rc);
    else if (write_failed)
        exit_code = cli_error(cli, LOYALTY_ERR_STORAGE, "cannot write to standard output");
    else
        exit_code = CLI_EXIT_OK;
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_audit_checkpoint(cli_context *cli, int argc, char **argv)
{
    loyalty_ledger *ledger = NULL;
    int exit_code = open_plain(cli, argc, argv, audit_checkpoint_usage, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    char *text = NULL;
    int rc = loyalty_audit_checkpoint(ledger, &text);
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
    } else if (cli->json) {
        exit_code = cli_print_record(cli, json_pack("{s:s}", "checkpoint", text), 0);
    } else {
        fputs(text, stdout);
        exit_code = CLI_EXIT_OK;
    }
    loyalty_free(text);
    loyalty_close(ledger);
    return exit_code;
}

static json_t *verify_record(const loyalty_verify_report *report)
{
    json_t *record = json_object();
    int failed = 0;
    failed |= json_object_set_new(record, "ok", json_boolean(report->ok));
    failed |= json_object_set_new(record, "entries", json_integer(report->entries));
    failed |= json_object_set_new(record, "head_seq", json_integer(report->head_seq));
    failed |= json_object_set_new(record, "head_hash", json_string(report->head_hash));
    if (!report->ok) {
        failed |= json_object_set_new(record, "first_bad_seq",
                                      report->first_bad_seq != 0
                                          ? json_integer(report->first_bad_seq)
                                          : json_null());
        if (report->table[0] != '\0')
            failed |= json_object_set_new(record, "table", json_string(report->table));
        if (report->row_key[0] != '\0')
            failed |= json_object_set_new(record, "key", json_string(report->row_key));
        failed |= json_object_set_new(record, "reason", json_string(report->reason));
    }
    if (failed) {
        json_decref(record);
        return NULL;
    }
    return record;
}

/* Prints the report; exit 0 when it holds, 7 when it does not. */
static int print_verify_report(cli_context *cli, const loyalty_verify_report *report)
{
    int exit_code = report->ok ? CLI_EXIT_OK : CLI_EXIT_VERIFY;
    if (cli->json) {
        json_t *record = verify_record(report);
        int printed = cli_print_record(cli, record, record == NULL);
        return printed != CLI_EXIT_OK ? printed : exit_code;
    }
    if (report->ok)
        printf("ok: %lld entries, head seq %lld hash %s\n", (long long)report->entries,
               (long long)report->head_seq, report->head_hash);
    else if (report->first_bad_seq != 0)
        printf("FAILED at seq %lld: %s\n", (long long)report->first_bad_seq, report->reason);
    else if (report->table[0] != '\0')
        printf("FAILED at table %s key %s: %s\n", report->table, report->row_key, report->reason);
    else
        printf("FAILED: %s\n", report->reason);
    return exit_code;
}

/* Reads the optional --pubkey and --checkpoint files. */
static int read_verify_inputs(cli_context *cli, const char *pubkey_path,
                              const char *checkpoint_path, char *public_key,
                              char **checkpoint)
{
    int exit_code = CLI_CONTINUE;
    if (pubkey_path != NULL)
        exit_code = cli_read_public_key(cli, pubkey_path, public_key);
    if (exit_code == CLI_CONTINUE && checkpoint_path != NULL)
        exit_code = cli_read_file(cli, "--checkpoint", checkpoint_path, checkpoint);
    return exit_code;
}

int cli_run_verify(cli_context *cli, int argc, char **argv)
{
    const char *pubkey_path = NULL, *checkpoint_path = NULL;
    const cli_option options[] = {
        {"--pubkey", &pubkey_path, 0}, {"--checkpoint", &checkpoint_path, 0}, {NULL, NULL, 0},
    };
    int exit_code = cli_parse(cli, argc, argv, verify_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    char public_key[LOYALTY_PUBLIC_KEY_HEX + 1] = "";
    char *checkpoint = NULL;
    exit_code = read_verify_inputs(cli, pubkey_path, checkpoint_path, public_key, &checkpoint);
    loyalty_ledger *ledger = NULL;
    if (exit_code == CLI_CONTINUE)
        exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code == CLI_CONTINUE) {
        loyalty_verify_report report = {0};
        int rc = loyalty_verify(ledger, pubkey_path ? public_key : NULL, checkpoint, &report);
        report.ok = report.ok && rc == LOYALTY_OK;
        if (rc == LOYALTY_OK || rc == LOYALTY_ERR_VERIFY)
            exit_code = print_verify_report(cli, &report);
        else
            exit_code = cli_fail(cli, ledger, rc);
    }
    free(checkpoint);
    loyalty_close(ledger);
    return exit_code;
}
