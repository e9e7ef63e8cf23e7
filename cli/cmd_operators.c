/*
 * cmd_operators.c - who may act, and the second pair of eyes: the operator
 * commands `operator add`, `operator list` and `operator disable`, and the
 * approval commands `approvals`, `approve` and `reject` for adjustments
 * above the program's approval threshold. The permission table itself is
 * the library's; a refusal arrives here as LOYALTY_ERR_NOT_PERMITTED.
 */
#include <string.h>

#include "cli.h"

static const char operator_add_usage[] =
    "usage: loyalty operator add NAME --role ROLE\n"
    "\n"
    "Registers operator NAME (A-Z a-z 0-9 . _ : @ -, 1 to 64 characters), the name\n"
    "they act under with --actor, with a role (admin only):\n"
    "  checkout    adds members, awards, redeems, holds, captures, releases,\n"
    "              refunds and claims benefits\n"
    "  support     adds members, adjusts, reverses, freezes, unfreezes and closes\n"
    "              members, sets tiers\n"
    "  supervisor  what support does, and approves or rejects adjustments\n"
    "  auditor     exports the audit log and verifies\n"
    "  admin       everything: programs, operators, keys, checkpoints, the expiry\n"
    "              sweep and tier evaluation\n"
    "Every role reads. Adding an active operator again with the same role answers\n"
    "replayed: true; with another role: exit 5; a disabled name cannot come back\n"
    "(exit 5).\n"
    "\n"
    "  --role ROLE   checkout, support, supervisor, auditor or admin\n";

static const char operator_list_usage[] =
    "usage: loyalty operator list\n"
    "\n"
    "Lists every operator by name: role, status (active or disabled), when and by\n"
    "whom they were added.\n";

static const char operator_disable_usage[] =
    "usage: loyalty operator disable NAME\n"
    "\n"
    "Disables operator NAME for good (admin only): from now on everything they try\n"
    "fails with exit 6. Disabling again answers replayed: true; an admin cannot\n"
    "disable themselves (exit 6); an unknown name: exit 3.\n";

static const char approvals_usage[] =
    "usage: loyalty approvals [--all]\n"
    "\n"
    "Lists the adjustments waiting for approval, oldest first: id, member, ref,\n"
    "points, reason, note, status, who asked and when, and who decided.\n"
    "\n"
    "  --all   every request, approved and rejected ones too\n";

static const char approve_usage[] =
    "usage: loyalty approve ID\n"
    "\n"
    "Applies the pending adjustment ID and prints its posting. The acting operator\n"
    "must be a supervisor or an admin other than the one who asked (exit 6\n"
    "otherwise). A request no longer pending (approved or rejected): exit 5; an\n"
    "unknown one: exit 3; a debit the member can no longer cover: exit 4.\n";

static const char reject_usage[] =
    "usage: loyalty reject ID --reason CODE\n"
    "\n"
    "Drops the pending adjustment ID (a supervisor or an admin; whoever asked may\n"
    "withdraw their own). A request no longer pending: exit 5; an unknown one:\n"
    "exit 3.\n"
    "\n"
    "  --reason CODE   reason code (A-Z a-z 0-9 . _ : -)\n";

/* Prints {operator, <key>: <value>, replayed}. */
static int print_operator_change(cli_context *cli, const char *name, const char *key,
                                 const char *value, int replayed)
{
    json_t *record = json_object();
    int failed = 0;
    failed |= json_object_set_new(record, "operator", json_string(name));
    failed |= json_object_set_new(record, key, json_string(value));
    failed |= json_object_set_new(record, "replayed", json_boolean(replayed));
    return cli_print_record(cli, record, failed);
}

int cli_run_operator_add(cli_context *cli, int argc, char **argv)
{
    const char *name = NULL, *role = NULL;
    const cli_option options[] = {{"NAME", &name, 1}, {"--role", &role, 1}, {NULL, NULL, 0}};
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, operator_add_usage, options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    int replayed = 0;
    int rc = loyalty_operator_add(ledger, name, role, &replayed);
    if (rc != LOYALTY_OK)
        exit_code = cli_fail(cli, ledger, rc);
    else
        exit_code = print_operator_change(cli, name, "role", role, replayed);
    loyalty_close(ledger);
    return exit_code;
}

static int collect_operator(void *context, const loyalty_operator_info *operator_info)
{
    json_t *item = json_object();
    int failed = 0;
    failed |= json_object_set_new(item, "name", json_string(operator_info->name));
    failed |= json_object_set_new(item, "role", json_string(operator_info->role));
    failed |= json_object_set_new(item, "status", json_string(operator_info->status));
    failed |= json_object_set_new(item, "created", cli_time_value(operator_info->created_us));
    failed |= json_object_set_new(item, "created_by", cli_optional_string(operator_info->created_by));
    return cli_list_append(context, item, failed);
}

int cli_run_operator_list(cli_context *cli, int argc, char **argv)
{
    const cli_option options[] = {{NULL, NULL, 0}};
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, operator_list_usage, options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    cli_list list = {.items = json_array(), .failed = 0};
    int rc = list.items == NULL ? LOYALTY_ERR_NOMEM
                                : loyalty_operators(ledger, collect_operator, &list);
    static const char *const columns[] = {"name", "role", "status", "created", "created_by",
                                              NULL};
    exit_code = cli_print_listing(cli, ledger, rc, &list, NULL, 0, "operators", columns);
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_operator_disable(cli_context *cli, int argc, char **argv)
{
    const char *name = NULL;
    const cli_option options[] = {{"NAME", &name, 1}, {NULL, NULL, 0}};
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, operator_disable_usage, options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    int replayed = 0;
    int rc = loyalty_operator_disable(ledger, name, &replayed);
    if (rc != LOYALTY_OK)
        exit_code = cli_fail(cli, ledger, rc);
    else
        exit_code = print_operator_change(cli, name, "status", "disabled", replayed);
    loyalty_close(ledger);
    return exit_code;
}

static int collect_approval(void *context, const loyalty_approval_info *approval)
{
    json_t *item = json_object();
    int failed = 0;
    failed |= json_object_set_new(item, "id", json_integer(approval->id));
    failed |= json_object_set_new(item, "member", json_string(approval->member));
    failed |= json_object_set_new(item, "ref", json_string(approval->ref));
    failed |= json_object_set_new(item, "points", json_integer(approval->points));
    failed |= json_object_set_new(item, "reason", json_string(approval->reason));
    failed |= json_object_set_new(item, "note", cli_optional_string(approval->note));
    failed |= json_object_set_new(item, "status", json_string(approval->status));
    failed |= json_object_set_new(item, "requested_by", json_string(approval->requested_by));
    failed |= json_object_set_new(item, "requested", cli_time_value(approval->requested_us));
    failed |= json_object_set_new(item, "decided_by", cli_optional_string(approval->decided_by));
    return cli_list_append(context, item, failed);
}

int cli_run_approvals(cli_context *cli, int argc, char **argv)
{
    const char *all = NULL;
    const cli_option options[] = {{"--all", &all, CLI_FLAG}, {NULL, NULL, 0}};
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, approvals_usage, options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    cli_list list = {.items = json_array(), .failed = 0};
    int rc = list.items == NULL
                 ? LOYALTY_ERR_NOMEM
                 : loyalty_approvals(ledger, all != NULL, collect_approval, &list);
    static const char *const columns[] = {"id",     "member",       "ref",       "points",
                                              "reason", "status",       "requested", "requested_by",
                                              "decided_by", "note",     NULL};
    exit_code = cli_print_listing(cli, ledger, rc, &list, NULL, 0, "approvals", columns);
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_approve(cli_context *cli, int argc, char **argv)
{
    const char *id_text = NULL;
    const cli_option options[] = {{"ID", &id_text, 1}, {NULL, NULL, 0}};
    int exit_code = cli_parse(cli, argc, argv, approve_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    int64_t id = 0;
    exit_code = cli_parse_number(cli, "ID", id_text, CLI_POSITIVE, &id);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_ledger *ledger = NULL;
    exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_posting posting;
    memset(&posting, 0, sizeof posting);
    int rc = loyalty_approve(ledger, id, &posting);
    if (rc != LOYALTY_OK)
        exit_code = cli_fail(cli, ledger, rc);
    else
        exit_code = cli_print_adjustment(cli, &posting);
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_reject(cli_context *cli, int argc, char **argv)
{
    const char *id_text = NULL, *reason = NULL;
    const cli_option options[] = {{"ID", &id_text, 1}, {"--reason", &reason, 1}, {NULL, NULL, 0}};
    int exit_code = cli_parse(cli, argc, argv, reject_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    int64_t id = 0;
    exit_code = cli_parse_number(cli, "ID", id_text, CLI_POSITIVE, &id);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_ledger *ledger = NULL;
    exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    int rc = loyalty_reject(ledger, id, reason);
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
    } else {
        json_t *record = json_pack("{s:I,s:s}", "approval", (json_int_t)id, "status", "rejected");
        exit_code = cli_print_record(cli, record, 0);
    }
    loyalty_close(ledger);
    return exit_code;
}
