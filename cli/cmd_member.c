/*
 * cmd_member.c - the member commands, `member add` and `member show`, and
 * the member record that `balance` prints too.
 */
#include "cli.h"

static const char member_add_usage[] =
    "usage: loyalty member add ID\n"
    "\n"
    "Adds a member with an opaque external id (A-Z a-z 0-9 . _ : -, 1 to 64\n"
    "characters; never a name or an e-mail address). Adding an existing id again\n"
    "succeeds with replayed: true and changes nothing.\n";

static const char member_show_usage[] =
    "usage: loyalty member show ID\n"
    "\n"
    "Shows a member's status, tier and points (balance, available, pending, held)\n"
    "and when the member was added.\n";

/*
 * The fields of `balance` (and of `member show` with `created`), or NULL
 * when memory ran out.
 */
static json_t *member_record(const loyalty_member_info *info, int with_created)
{
    json_t *record = json_object();
    int failed = 0;
    failed |= json_object_set_new(record, "member", json_string(info->member));
    failed |= json_object_set_new(record, "balance", json_integer(info->balance));
    failed |= json_object_set_new(record, "available", json_integer(info->available));
    failed |= json_object_set_new(record, "pending", json_integer(info->pending));
    failed |= json_object_set_new(record, "held", json_integer(info->held));
    failed |= json_object_set_new(record, "tier", cli_optional_string(info->tier));
    failed |= json_object_set_new(record, "status", json_string(info->status));
    if (with_created)
        failed |= json_object_set_new(record, "created", cli_time_value(info->created_us));
    if (failed) {
        json_decref(record);
        return NULL;
    }
    return record;
}

int cli_run_member_add(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL;
    const cli_option options[] = {{"ID", &member, 1}, {NULL, NULL, 0}};
    int exit_code = cli_parse(cli, argc, argv, member_add_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_ledger *ledger = NULL;
    exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_member_info info;
    int replayed = 0;
    int rc = loyalty_member_add(ledger, member, &info, &replayed);
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
    } else {
        json_t *record = json_object();
        int failed = 0;
        failed |= json_object_set_new(record, "member", json_string(info.member));
        failed |= json_object_set_new(record, "status", json_string(info.status));
        failed |= json_object_set_new(record, "created", cli_time_value(info.created_us));
        failed |= json_object_set_new(record, "replayed", json_boolean(replayed));
        exit_code = cli_print_record(cli, record, failed);
    }
    loyalty_close(ledger);
    return exit_code;
}

/* Prints a member's record; `balance` and `member show` share it. */
int cli_show_member(cli_context *cli, const char *member, int with_created)
{
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_member_info info;
    int rc = loyalty_member_get(ledger, member, &info);
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
    } else {
        json_t *record = member_record(&info, with_created);
        exit_code = cli_print_record(cli, record, record == NULL);
    }
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_member_show(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL;
    const cli_option options[] = {{"ID", &member, 1}, {NULL, NULL, 0}};
    int exit_code = cli_parse(cli, argc, argv, member_show_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return cli_show_member(cli, member, 1);
}
