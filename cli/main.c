/*
 * main.c - the entry point of the `loyalty` tool: the table of commands,
 * the top-level and group usage texts, the global options that come before
 * the command, --version, and the dispatch to the command's handler. Each
 * command group lives in its own cmd_*.c file.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *group;    /* "member", "program", ... or NULL for a top-level command */
    const char *name;
    const char *synopsis; /* arguments, as in the usage line */
    const char *summary;
    cli_command_fn run;
} command;

static const command commands[] = {
    {NULL, "init", "[--program FILE]", "create a ledger, its signing key and its program", cli_run_init},
    {"program", "load", "FILE", "load a new program (earning rules) from a JSON file", cli_run_program_load},
    {"program", "show", "", "print the program in force", cli_run_program_show},
    {"member", "add", "ID", "add a member (again: replayed, nothing changes)", cli_run_member_add},
    {"member", "show", "ID", "show a member's state and points", cli_run_member_show},
    {"member", "freeze", "ID --reason CODE", "stop a member spending (they still earn)",
     cli_run_member_freeze},
    {"member", "unfreeze", "ID [--reason CODE]", "let a frozen member spend again",
     cli_run_member_unfreeze},
    {"member", "close", "ID --reason CODE", "close a member, forfeiting the remaining points",
     cli_run_member_close},
    {NULL, "award", "ID --ref REF (--amount MINOR | --points N) [--reason TEXT]",
     "credit points for a purchase or as a bonus", cli_run_award},
    {NULL, "redeem", "ID --ref REF --points N", "spend available points", cli_run_redeem},
    {NULL, "adjust", "ID --ref REF --points +-N --reason CODE [--note TEXT]",
     "a support correction (above the approval threshold: waits for approval)", cli_run_adjust},
    {NULL, "reverse", "TX --ref REF --reason CODE", "compensate an earlier transaction",
     cli_run_reverse},
    {NULL, "refund", "ID --ref REF --order ORDER_REF --amount MINOR",
     "claw back what a purchase earned, in proportion to the refund", cli_run_refund},
    {NULL, "hold", "ID --ref REF --points N", "reserve available points for a checkout",
     cli_run_hold},
    {NULL, "capture", "REF [--points N]", "debit a hold (all or part) and free the rest",
     cli_run_capture},
    {NULL, "release", "REF", "free a hold", cli_run_release},
    {NULL, "expire", "", "sweep expired points and lapsed holds", cli_run_expire},
    {NULL, "balance", "ID", "a member's points: balance, available, pending, held, next expiry",
     cli_run_balance},
    {NULL, "history", "ID [--limit N] [--before TX]", "a member's journal, newest first",
     cli_run_history},
    {NULL, "stats", "", "program-wide figures", cli_run_stats},
    {NULL, "tiers", "", "the tier ladder with member counts", cli_run_tiers},
    {"tier", "set", "ID CODE --reason CODE", "put a member in a tier by hand", cli_run_tier_set},
    {"tier", "history", "ID", "a member's tier changes with their causes", cli_run_tier_history},
    {"tier", "evaluate", "", "move every member to the tier they qualify for now",
     cli_run_tier_evaluate},
    {NULL, "benefits", "ID", "the benefits of a member's tier, with this period's usage",
     cli_run_benefits},
    {"benefit", "claim", "ID CODE --ref REF", "use a benefit once", cli_run_benefit_claim},
    {"operator", "add", "NAME --role ROLE",
     "register an operator: checkout, support, supervisor, auditor or admin",
     cli_run_operator_add},
    {"operator", "list", "", "every operator with role and status", cli_run_operator_list},
    {"operator", "disable", "NAME", "disable an operator for good", cli_run_operator_disable},
    {NULL, "approvals", "[--all]", "adjustments waiting for approval", cli_run_approvals},
    {NULL, "approve", "ID", "apply a pending adjustment (another supervisor or admin)",
     cli_run_approve},
    {NULL, "reject", "ID --reason CODE", "drop a pending adjustment", cli_run_reject},
    {NULL, "import", "FILE [--results FILE] [--batch N]",
     "apply a JSON Lines file of operations in batches, one result per line", cli_run_import},
    {"key", "public", "", "print the public key in force", cli_run_key_public},
    {"key", "rotate", "", "replace the signing key (the old one is kept)", cli_run_key_rotate},
    {"audit", "export", "[--from SEQ]", "the audit log as JSON Lines", cli_run_audit_export},
    {"audit", "checkpoint", "", "a signed statement of the chain head", cli_run_audit_checkpoint},
    {NULL, "verify", "[--pubkey FILE] [--checkpoint FILE]",
     "check the audit chain and replay it against the state", cli_run_verify},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

/* Prints the commands of one group (NULL: every command). */
static void print_commands(FILE *stream, const char *group)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const command *c = &commands[i];
        if (group != NULL && (c->group == NULL || strcmp(c->group, group) != 0))
            continue;
        char words[128];
        snprintf(words, sizeof words, "%s%s%s%s%s", c->group ? c->group : "",
                 c->group ? " " : "", c->name, c->synopsis[0] ? " " : "", c->synopsis);
        fprintf(stream, "  loyalty %s\n      %s\n", words, c->summary);
    }
}

static void print_usage(FILE *stream, const char *group)
{
    fprintf(stream, "usage: loyalty [GLOBAL OPTIONS] %s%sCOMMAND [ARGS]\n\nCommands:\n",
            group ? group : "", group ? " " : "");
    print_commands(stream, group);
    if (group != NULL) {
        fprintf(stream, "\nRun 'loyalty %s COMMAND --help' for a command's options.\n", group);
        return;
    }
    fprintf(stream,
            "\nGlobal options (before or after the command):\n"
            "  --db PATH      ledger database (else $LOYALTY_DB, else ./loyalty.db)\n"
            "  --key PATH     secret key file (else $LOYALTY_KEY, else the database path + .key)\n"
            "  --actor NAME   who acts (else $LOYALTY_ACTOR, else the login name)\n"
            "  --json         print one JSON object on stdout; errors as JSON on stderr\n"
            "  -h, --help     help (also after any command)\n"
            "  --version      print the version\n"
            "\nThe actor must be a registered, active operator whose role allows the command\n"
            "('loyalty init' registers its actor as the first admin; see 'loyalty operator add\n"
            "--help' for the roles).\n"
            "\nEnvironment: LOYALTY_NOW=2026-11-25T12:00:00Z fixes the clock (ISO 8601 UTC).\n"
            "Amounts are integers in minor units (--amount 12999 is 129.99); points are integers.\n\n");
    if (stream == stdout)
        cli_print_exit_codes();
}

/*
 * Takes the global options before a command (group NULL) or before a
 * group's subcommand, and --help/--version. Returns CLI_CONTINUE when a
 * command word follows at *index, otherwise the exit code to end with.
 */
static int take_leading_options(cli_context *cli, int argc, char **argv, int *index,
                                const char *group)
{
    char error[256] = "";
    while (*index < argc && argv[*index][0] == '-' && argv[*index][1] != '\0') {
        const char *argument = argv[*index];
        if (cli_is_help(argument)) {
            print_usage(stdout, group);
            return CLI_EXIT_OK;
        }
        if (group == NULL && strcmp(argument, "--version") == 0) {
            printf("loyalty %s\n", LOYALTY_VERSION_STRING);
            return CLI_EXIT_OK;
        }
        if (!cli_take_global_option(cli, argc, argv, index, error, sizeof error))
            return cli_usage_error(cli, "unknown option '%s' (see 'loyalty --help')", argument);
        if (error[0] != '\0')
            return cli_usage_error(cli, "%s", error);
    }
    if (*index >= argc) {
        if (cli->json) /* --json: errors are one JSON line, even this one */
            return cli_usage_error(cli,
                                   "a command is required after '%s' (see 'loyalty%s%s --help')",
                                   group ? group : "loyalty", group ? " " : "", group ? group : "");
        print_usage(stderr, group);
        return CLI_EXIT_USAGE;
    }
    return CLI_CONTINUE;
}

static const command *find_command(const char *group, const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const command *c = &commands[i];
        int same_group = group == NULL ? c->group == NULL
                                       : (c->group != NULL && strcmp(c->group, group) == 0);
        if (same_group && strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

static int is_group(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (commands[i].group != NULL && strcmp(commands[i].group, name) == 0)
            return 1;
    return 0;
}

/* Finds the command named at argv[*index] (one or two words) and runs it. */
static int dispatch(cli_context *cli, int argc, char **argv, int index)
{
    const char *group = NULL;
    if (is_group(argv[index])) {
        group = argv[index++];
        int exit_code = take_leading_options(cli, argc, argv, &index, group);
        if (exit_code != CLI_CONTINUE)
            return exit_code;
    }
    const command *c = find_command(group, argv[index]);
    if (c == NULL)
        return cli_usage_error(cli, "unknown command '%s%s%s' (see 'loyalty --help')",
                               group ? group : "", group ? " " : "", argv[index]);
    return c->run(cli, argc - index - 1, argv + index + 1);
}

int main(int argc, char **argv)
{
    cli_context cli;
    memset(&cli, 0, sizeof cli);
    int index = 1;
    int exit_code = take_leading_options(&cli, argc, argv, &index, NULL);
    if (exit_code == CLI_CONTINUE)
        exit_code = dispatch(&cli, argc, argv, index);
    return cli_finish_output(&cli, exit_code);
}
