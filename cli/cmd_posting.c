/*
 * cmd_posting.c - the commands that change a member's points: `award`,
 * `redeem`, `adjust` and `reverse`. Each parses its arguments into the
 * library's request, makes the one call, and prints the posting. An
 * adjustment above the approval threshold prints as pending_approval.
 */
#include <string.h>

#include "cli.h"

static const char award_usage[] =
    "usage: loyalty award ID --ref REF (--amount MINOR | --points N) [--reason TEXT]\n"
    "\n"
    "Credits points to a member: for a purchase (--amount, in minor units: 12999 is\n"
    "129.99; the program's earn rate decides the points) or as a bonus (--points).\n"
    "The same --ref with the same parameters answers replayed: true and changes\n"
    "nothing; with other parameters it fails with exit 5.\n"
    "\n"
    "  --ref REF        idempotency reference (A-Z a-z 0-9 . _ : -, 1 to 64 characters)\n"
    "  --amount MINOR   purchase amount in minor units (positive integer)\n"
    "  --points N       bonus points (positive integer)\n"
    "  --reason TEXT    optional free text, no personal data (up to 256 bytes)\n";

static const char redeem_usage[] =
    "usage: loyalty redeem ID --ref REF --points N\n"
    "\n"
    "Spends N available points (exit 4 when fewer are available). The same --ref with\n"
    "the same parameters answers replayed: true; with others it fails with exit 5.\n";

static const char adjust_usage[] =
    "usage: loyalty adjust ID --ref REF --points +-N --reason CODE [--note TEXT]\n"
    "\n"
    "A support correction of N points, signed: --points +50 credits, --points -50\n"
    "debits (a debit needs that many available points, else exit 4). status is\n"
    "applied, or pending_approval when |N| is above the program's\n"
    "approval_threshold: nothing changes yet (tx is null), and the printed approval\n"
    "id waits for 'loyalty approve ID' by another operator with the supervisor or\n"
    "admin role (or 'loyalty reject ID'). Retrying the same --ref answers the\n"
    "request, or the posting once approved.\n"
    "\n"
    "  --ref REF       idempotency reference\n"
    "  --points N      signed, non-zero\n"
    "  --reason CODE   reason code (A-Z a-z 0-9 . _ : -)\n"
    "  --note TEXT     optional free text, no personal data (up to 256 bytes)\n";

static const char reverse_usage[] =
    "usage: loyalty reverse TX --ref REF --reason CODE\n"
    "\n"
    "Writes a compensating entry of the opposite sign for transaction TX (an award,\n"
    "redemption or adjustment). A transaction is reversed at most once, and a\n"
    "reversal cannot itself be reversed (exit 5).\n";

typedef enum posting_kind {
    POSTING_AWARD,
    POSTING_REDEEM,
    POSTING_ADJUST,
    POSTING_REVERSE
} posting_kind;

static int print_posting(cli_context *cli, const loyalty_posting *posting, posting_kind kind)
{
    json_t *record = json_object();
    int failed = 0;
    /* A pending adjustment has no transaction yet: null rather than a made-up 0. */
    failed |= json_object_set_new(record, "tx", posting->pending_approval
                                                    ? json_null()
                                                    : json_integer(posting->tx));
    failed |= json_object_set_new(record, "member", json_string(posting->member));
    failed |= json_object_set_new(record, "points", json_integer(posting->points));
    failed |= json_object_set_new(record, "replayed", json_boolean(posting->replayed));
    failed |= json_object_set_new(record, "balance", json_integer(posting->balance));
    failed |= json_object_set_new(record, "available", json_integer(posting->available));
    if (kind == POSTING_AWARD)
        failed |= json_object_set_new(record, "multiplier_permille",
                                      json_integer(posting->multiplier_permille));
    if (kind == POSTING_REVERSE)
        failed |= json_object_set_new(record, "reversed_tx", json_integer(posting->reversed_tx));
    if (kind == POSTING_ADJUST) {
        failed |= json_object_set_new(
            record, "status", json_string(posting->pending_approval ? "pending_approval" : "applied"));
        if (posting->pending_approval)
            failed |= json_object_set_new(record, "approval", json_integer(posting->approval));
    }
    failed |= json_object_set_new(record, "audit_seq", json_integer(posting->audit_seq));
    return cli_print_record(cli, record, failed);
}

/* An adjustment's posting (applied or pending), as `adjust` prints it; `approve` shares it. */
int cli_print_adjustment(cli_context *cli, const loyalty_posting *posting)
{
    return print_posting(cli, posting, POSTING_ADJUST);
}

/* Opens the ledger, makes the one library call of this kind, prints the result. */
static int post(cli_context *cli, posting_kind kind, const void *request)
{
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_posting result;
    memset(&result, 0, sizeof result);
    int rc = LOYALTY_ERR_INTERNAL;
    switch (kind) {
    case POSTING_AWARD:
        rc = loyalty_award(ledger, request, &result);
        break;
    case POSTING_REDEEM:
        rc = loyalty_redeem(ledger, request, &result);
        break;
    case POSTING_ADJUST:
        rc = loyalty_adjust(ledger, request, &result);
        break;
    case POSTING_REVERSE:
        rc = loyalty_reverse(ledger, request, &result);
        break;
    }
    if (rc != LOYALTY_OK)
        exit_code = cli_fail(cli, ledger, rc);
    else
        exit_code = print_posting(cli, &result, kind);
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_award(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL, *ref = NULL, *amount = NULL, *points = NULL, *reason = NULL;
    const cli_option options[] = {
        {"ID", &member, 1},         {"--ref", &ref, 1},       {"--amount", &amount, 0},
        {"--points", &points, 0},   {"--reason", &reason, 0}, {NULL, NULL, 0},
    };
    int exit_code = cli_parse(cli, argc, argv, award_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    if ((amount == NULL) == (points == NULL))
        return cli_usage_error(cli, "give exactly one of --amount and --points");
    loyalty_award_request request = {.member = member, .ref = ref, .reason = reason};
    if (amount != NULL)
        exit_code = cli_parse_number(cli, "--amount", amount, CLI_POSITIVE, &request.amount_minor);
    else
        exit_code = cli_parse_number(cli, "--points", points, CLI_POSITIVE, &request.points);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return post(cli, POSTING_AWARD, &request);
}

int cli_run_redeem(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL, *ref = NULL, *points = NULL;
    const cli_option options[] = {
        {"ID", &member, 1}, {"--ref", &ref, 1}, {"--points", &points, 1}, {NULL, NULL, 0},
    };
    int exit_code = cli_parse(cli, argc, argv, redeem_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_redeem_request request = {.member = member, .ref = ref};
    exit_code = cli_parse_number(cli, "--points", points, CLI_POSITIVE, &request.points);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return post(cli, POSTING_REDEEM, &request);
}

int cli_run_adjust(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL, *ref = NULL, *points = NULL, *reason = NULL, *note = NULL;
    const cli_option options[] = {
        {"ID", &member, 1},         {"--ref", &ref, 1},     {"--points", &points, 1},
        {"--reason", &reason, 1},   {"--note", &note, 0},   {NULL, NULL, 0},
    };
    int exit_code = cli_parse(cli, argc, argv, adjust_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_adjust_request request = {.member = member, .ref = ref, .reason = reason, .note = note};
    exit_code = cli_parse_number(cli, "--points", points, CLI_NONZERO_SIGNED, &request.points);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return post(cli, POSTING_ADJUST, &request);
}

int cli_run_reverse(cli_context *cli, int argc, char **argv)
{
    const char *tx = NULL, *ref = NULL, *reason = NULL;
    const cli_option options[] = {
        {"TX", &tx, 1}, {"--ref", &ref, 1}, {"--reason", &reason, 1}, {NULL, NULL, 0},
    };
    int exit_code = cli_parse(cli, argc, argv, reverse_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_reverse_request request = {.ref = ref, .reason = reason};
    exit_code = cli_parse_number(cli, "TX", tx, CLI_POSITIVE, &request.tx);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return post(cli, POSTING_REVERSE, &request);
}
