/*
 * cmd_lifecycle.c - the commands of the points lifecycle: `refund` (claw
 * back what a purchase earned), the checkout holds `hold`, `capture` and
 * `release`, and the `expire` sweep. Like the other command files it parses
 * the arguments, makes one library call and prints what it answers; the
 * rules (proportional clawback, lot order, hold time) are the library's.
 */
#include <string.h>

#include "cli.h"

static const char refund_usage[] =
    "usage: loyalty refund ID --ref REF --order ORDER_REF --amount MINOR\n"
    "\n"
    "Claws back the points that the purchase award ORDER_REF earned, in proportion\n"
    "to the refunded amount (rounded down, counted over every refund of the order,\n"
    "so that refunds adding up to the order's amount take back exactly what it\n"
    "earned). The points come out of the order's own lot first, then other lots\n"
    "first-expiring-first; points the member already spent become a debt (a\n"
    "negative balance) that later credits repay. More than is left of the order:\n"
    "exit 5; no such purchase award for the member: exit 3.\n"
    "\n"
    "  --ref REF          the refund's own idempotency reference\n"
    "  --order ORDER_REF  the --ref of the purchase award being refunded\n"
    "  --amount MINOR     refunded amount in minor units (positive integer)\n";

static const char hold_usage[] =
    "usage: loyalty hold ID --ref REF --points N\n"
    "\n"
    "Reserves N available points for a checkout (exit 4 when fewer are available).\n"
    "They stay in the balance but leave `available` until the hold is captured,\n"
    "released, or lapses after the program's hold_ttl_seconds. A frozen or closed\n"
    "member cannot hold (exit 6). The same --ref with the same parameters answers\n"
    "replayed: true; with others it fails with exit 5.\n"
    "\n"
    "  --ref REF    the hold's reference, used again by capture and release\n"
    "  --points N   points to reserve (positive integer)\n";

static const char capture_usage[] =
    "usage: loyalty capture REF [--points N]\n"
    "\n"
    "Debits N points (default: all of them) of the open hold REF and frees the\n"
    "rest. A hold already captured, released or lapsed: exit 5; an unknown hold:\n"
    "exit 3; more than held: exit 2; a frozen or closed member: exit 6.\n"
    "\n"
    "  --points N   points to debit, 1 to the points held\n";

static const char release_usage[] =
    "usage: loyalty release REF\n"
    "\n"
    "Frees every point of the open hold REF. A hold already captured, released or\n"
    "lapsed: exit 5; an unknown hold: exit 3.\n";

static const char expire_usage[] =
    "usage: loyalty expire\n"
    "\n"
    "The expiry sweep at the current time (or $LOYALTY_NOW): writes one expire\n"
    "entry per member whose points are past their expiry and marks every hold past\n"
    "its time as lapsed, then prints expired_points, members and holds_lapsed.\n"
    "Expired points are never spendable whether or not the sweep ran; running it\n"
    "again changes nothing. A progress bar shows on stderr when it is a terminal.\n";

int cli_run_refund(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL, *ref = NULL, *order = NULL, *amount = NULL;
    const cli_option options[] = {
        {"ID", &member, 1},     {"--ref", &ref, 1},        {"--order", &order, 1},
        {"--amount", &amount, 1}, {NULL, NULL, 0},
    };
    int exit_code = cli_parse(cli, argc, argv, refund_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_refund_request request = {.member = member, .ref = ref, .order_ref = order};
    exit_code = cli_parse_number(cli, "--amount", amount, CLI_POSITIVE, &request.amount_minor);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_ledger *ledger = NULL;
    exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_posting posting;
    memset(&posting, 0, sizeof posting);
    int rc = loyalty_refund(ledger, &request, &posting);
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
    } else {
        json_t *record = json_object();
        int failed = 0;
        failed |= json_object_set_new(record, "tx", json_integer(posting.tx));
        failed |= json_object_set_new(record, "member", json_string(posting.member));
        failed |= json_object_set_new(record, "order", json_string(order));
        failed |= json_object_set_new(record, "amount", json_integer(request.amount_minor));
        failed |= json_object_set_new(record, "points", json_integer(posting.points));
        failed |= json_object_set_new(record, "replayed", json_boolean(posting.replayed));
        failed |= json_object_set_new(record, "balance", json_integer(posting.balance));
        failed |= json_object_set_new(record, "available", json_integer(posting.available));
        failed |= json_object_set_new(record, "audit_seq", json_integer(posting.audit_seq));
        exit_code = cli_print_record(cli, record, failed);
    }
    loyalty_close(ledger);
    return exit_code;
}

typedef enum hold_call { HOLD_RESERVE, HOLD_CAPTURE, HOLD_RELEASE } hold_call;

/* The hold's state after the call; a capture adds what it debited and its transaction. */
static int print_hold(cli_context *cli, const loyalty_hold_info *hold, hold_call call)
{
    json_t *record = json_object();
    int failed = 0;
    failed |= json_object_set_new(record, "ref", json_string(hold->ref));
    failed |= json_object_set_new(record, "member", json_string(hold->member));
    failed |= json_object_set_new(record, "status", json_string(hold->status));
    failed |= json_object_set_new(record, "points", json_integer(hold->points));
    if (call == HOLD_CAPTURE) {
        failed |= json_object_set_new(record, "captured", json_integer(hold->captured));
        failed |= json_object_set_new(record, "tx", json_integer(hold->tx));
    }
    failed |= json_object_set_new(record, "expires", cli_time_value(hold->expires_us));
    failed |= json_object_set_new(record, "replayed", json_boolean(hold->replayed));
    failed |= json_object_set_new(record, "balance", json_integer(hold->balance));
    failed |= json_object_set_new(record, "available", json_integer(hold->available));
    failed |= json_object_set_new(record, "held", json_integer(hold->held));
    failed |= json_object_set_new(record, "audit_seq", json_integer(hold->audit_seq));
    return cli_print_record(cli, record, failed);
}

/* Opens the ledger, makes the one hold call, prints the hold. */
static int hold_run(cli_context *cli, hold_call call, const loyalty_hold_request *request,
                    const char *ref, int64_t points)
{
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_hold_info hold;
    memset(&hold, 0, sizeof hold);
    int rc = LOYALTY_ERR_INTERNAL;
    switch (call) {
    case HOLD_RESERVE:
        rc = loyalty_hold(ledger, request, &hold);
        break;
    case HOLD_CAPTURE:
        rc = loyalty_capture(ledger, ref, points, &hold);
        break;
    case HOLD_RELEASE:
        rc = loyalty_release(ledger, ref, &hold);
        break;
    }
    if (rc != LOYALTY_OK)
        exit_code = cli_fail(cli, ledger, rc);
    else
        exit_code = print_hold(cli, &hold, call);
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_hold(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL, *ref = NULL, *points = NULL;
    const cli_option options[] = {
        {"ID", &member, 1}, {"--ref", &ref, 1}, {"--points", &points, 1}, {NULL, NULL, 0},
    };
    int exit_code = cli_parse(cli, argc, argv, hold_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_hold_request request = {.member = member, .ref = ref};
    exit_code = cli_parse_number(cli, "--points", points, CLI_POSITIVE, &request.points);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return hold_run(cli, HOLD_RESERVE, &request, NULL, 0);
}

int cli_run_capture(cli_context *cli, int argc, char **argv)
{
    const char *ref = NULL, *points_text = NULL;
    const cli_option options[] = {{"REF", &ref, 1}, {"--points", &points_text, 0}, {NULL, NULL, 0}};
    int exit_code = cli_parse(cli, argc, argv, capture_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    int64_t points = 0; /* the library reads 0 as "all of it" */
    if (points_text != NULL)
        exit_code = cli_parse_number(cli, "--points", points_text, CLI_POSITIVE, &points);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return hold_run(cli, HOLD_CAPTURE, NULL, ref, points);
}

int cli_run_release(cli_context *cli, int argc, char **argv)
{
    const char *ref = NULL;
    const cli_option options[] = {{"REF", &ref, 1}, {NULL, NULL, 0}};
    int exit_code = cli_parse(cli, argc, argv, release_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return hold_run(cli, HOLD_RELEASE, NULL, ref, 0);
}

int cli_run_expire(cli_context *cli, int argc, char **argv)
{
    const cli_option options[] = {{NULL, NULL, 0}};
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, expire_usage, options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_expire_result result;
    memset(&result, 0, sizeof result);
    cli_progress progress;
    cli_progress_start(&progress, "expire");
    int rc = loyalty_expire(ledger, &result, cli_progress_update, &progress);
    cli_progress_finish(&progress);
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
    } else {
        json_t *record = json_pack("{s:I,s:I,s:I}", "expired_points",
                                   (json_int_t)result.expired_points, "members",
                                   (json_int_t)result.members, "holds_lapsed",
                                   (json_int_t)result.holds_lapsed);
        exit_code = cli_print_record(cli, record, 0);
    }
    loyalty_close(ledger);
    return exit_code;
}
