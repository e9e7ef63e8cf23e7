/*
 * cmd_member.c - the member commands: `member add` and `member show`, the
 * status changes `member freeze`, `member unfreeze` and `member close`, and
 * the member record that `balance` prints too.
 */
#include <stdio.h>
#include <string.h>

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
    "Shows a member's status, tier (null without a tier ladder), qualifying points\n"
    "(purchase points in the tier window), points (balance, available, pending,\n"
    "held, expired but not yet swept, debt, and the next expiry: points and time,\n"
    "or null) and when the member was added.\n";

static const char member_freeze_usage[] =
    "usage: loyalty member freeze ID --reason CODE\n"
    "\n"
    "Freezes a member: they still earn, but cannot redeem, hold or capture (exit 6).\n"
    "Freezing a frozen member answers replayed: true and changes nothing; a closed\n"
    "member cannot be frozen (exit 6).\n"
    "\n"
    "  --reason CODE   reason code (A-Z a-z 0-9 . _ : -)\n";

static const char member_unfreeze_usage[] =
    "usage: loyalty member unfreeze ID [--reason CODE]\n"
    "\n"
    "Makes a frozen member active again. Unfreezing an active member answers\n"
    "replayed: true and changes nothing; a closed member stays closed (exit 6).\n"
    "\n"
    "  --reason CODE   reason code (default: unfreeze)\n";

static const char member_close_usage[] =
    "usage: loyalty member close ID --reason CODE\n"
    "\n"
    "Closes a member for good: open holds are released and every remaining point is\n"
    "forfeited in an audited entry (printed as forfeited). A closed member can do\n"
    "nothing more (exit 6). Closing a closed member answers replayed: true.\n"
    "\n"
    "  --reason CODE   reason code (A-Z a-z 0-9 . _ : -)\n";

/* The next expiry as {"points": N, "at": "ISO"}, or null when nothing is due to expire. */
static json_t *next_expiry_value(const loyalty_member_info *info)
{
    if (info->next_expiry_us == 0)
        return json_null();
    return json_pack("{s:I,s:o}", "points", (json_int_t)info->next_expiry_points, "at",
                     cli_time_value(info->next_expiry_us));
}

/*
 * The fields of `balance` (and of `member show` with `created`), or NULL
 * when memory ran out. `tier set` prints them too.
 */
json_t *cli_member_record(const loyalty_member_info *info, int with_created)
{
    json_t *record = json_object();
    int failed = 0;
    failed |= json_object_set_new(record, "member", json_string(info->member));
    failed |= json_object_set_new(record, "balance", json_integer(info->balance));
    failed |= json_object_set_new(record, "available", json_integer(info->available));
    failed |= json_object_set_new(record, "pending", json_integer(info->pending));
    failed |= json_object_set_new(record, "held", json_integer(info->held));
    failed |= json_object_set_new(record, "expired", json_integer(info->expired));
    failed |= json_object_set_new(record, "debt", json_integer(info->debt));
    failed |= json_object_set_new(record, "next_expiry", next_expiry_value(info));
    failed |= json_object_set_new(record, "tier", cli_optional_string(info->tier));
    failed |= json_object_set_new(record, "qualifying", json_integer(info->qualifying));
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
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, member_add_usage, options, &ledger);
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
        json_t *record = cli_member_record(&info, with_created);
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

typedef enum status_change { STATUS_FREEZE, STATUS_UNFREEZE, STATUS_CLOSE } status_change;

/* Opens the ledger, makes the one status call, prints {member, status, replayed[, forfeited]}. */
static int change_status(cli_context *cli, status_change change, const char *member,
                         const char *reason)
{
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_member_info info;
    memset(&info, 0, sizeof info);
    int replayed = 0;
    int64_t forfeited = 0;
    int rc = LOYALTY_ERR_INTERNAL;
    switch (change) {
    case STATUS_FREEZE:
        rc = loyalty_member_freeze(ledger, member, reason, &info, &replayed);
        break;
    case STATUS_UNFREEZE:
        rc = loyalty_member_unfreeze(ledger, member, reason, &info, &replayed);
        break;
    case STATUS_CLOSE:
        rc = loyalty_member_close(ledger, member, reason, &forfeited, &replayed);
        /* It returns no member info: on success the member is closed, now or before. */
        snprintf(info.status, sizeof info.status, "%s", "closed");
        break;
    }
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
    } else {
        json_t *record = json_object();
        int failed = 0;
        failed |= json_object_set_new(record, "member", json_string(member));
        failed |= json_object_set_new(record, "status", json_string(info.status));
        failed |= json_object_set_new(record, "replayed", json_boolean(replayed));
        if (change == STATUS_CLOSE)
            failed |= json_object_set_new(record, "forfeited", json_integer(forfeited));
        exit_code = cli_print_record(cli, record, failed);
    }
    loyalty_close(ledger);
    return exit_code;
}

/* The three status commands share one shape: ID and a reason (optional only for unfreeze). */
static int run_status_command(cli_context *cli, int argc, char **argv, status_change change,
                              const char *usage)
{
    const char *member = NULL, *reason = NULL;
    const cli_option options[] = {
        {"ID", &member, 1}, {"--reason", &reason, change != STATUS_UNFREEZE}, {NULL, NULL, 0},
    };
    int exit_code = cli_parse(cli, argc, argv, usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return change_status(cli, change, member, reason != NULL ? reason : "unfreeze");
}

int cli_run_member_freeze(cli_context *cli, int argc, char **argv)
{
    return run_status_command(cli, argc, argv, STATUS_FREEZE, member_freeze_usage);
}

int cli_run_member_unfreeze(cli_context *cli, int argc, char **argv)
{
    return run_status_command(cli, argc, argv, STATUS_UNFREEZE, member_unfreeze_usage);
}

int cli_run_member_close(cli_context *cli, int argc, char **argv)
{
    return run_status_command(cli, argc, argv, STATUS_CLOSE, member_close_usage);
}
