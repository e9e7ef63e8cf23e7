/*
 * cmd_tiers.c - the commands of membership tiers and their benefits:
 * `tiers` (the ladder with member counts), `tier set` (by hand),
 * `tier history`, the batch `tier evaluate`, `benefits` (a member's
 * benefits with this period's usage) and `benefit claim`. Qualification,
 * periods and limits are the library's rules; this file only asks and
 * prints.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char tiers_usage[] =
    "usage: loyalty tiers\n"
    "\n"
    "Lists the tier ladder of the program in force, lowest first: code, name,\n"
    "position (0 is the default tier), the qualifying points needed (threshold),\n"
    "the earn multiplier in per-mille, the benefits the tier grants and how many\n"
    "members are in it now.\n";

static const char tier_set_usage[] =
    "usage: loyalty tier set ID CODE --reason CODE\n"
    "\n"
    "Puts member ID in tier CODE by hand (support, supervisor or admin), audited\n"
    "with its reason, and prints the member. The next 'loyalty tier evaluate' may\n"
    "move the member again. Unknown member or tier: exit 3; closed member: exit 6.\n"
    "\n"
    "  --reason CODE   reason code (A-Z a-z 0-9 . _ : -)\n";

static const char tier_history_usage[] =
    "usage: loyalty tier history ID\n"
    "\n"
    "Lists every tier change of a member, oldest first: from (null for the first\n"
    "placement), to, cause (upgrade: an award crossed a threshold; evaluate: the\n"
    "batch evaluation; manual: 'loyalty tier set', with its reason), the qualifying\n"
    "points at the change, when, who, and the audit entry.\n";

static const char tier_evaluate_usage[] =
    "usage: loyalty tier evaluate\n"
    "\n"
    "The batch evaluation (e.g. nightly, admin only): every member who is not\n"
    "closed is put in the tier their qualifying points reach now. Members below\n"
    "their tier's threshold move down (downgrades happen only here; upgrades happen\n"
    "at once on the crossing award); members whose tier is not in the ladder any\n"
    "more are placed. Prints members, upgraded, downgraded and placed. Running it\n"
    "again changes nothing. A progress bar shows on stderr when it is a terminal.\n";

static const char benefits_usage[] =
    "usage: loyalty benefits ID\n"
    "\n"
    "Lists the benefits of the member's current tier: code, name, limit per period\n"
    "(null: unlimited), period (day, week from Monday, month or year, calendar\n"
    "periods in UTC), used and remaining in the current period (remaining is null\n"
    "when unlimited) and the period's start and end.\n";

static const char benefit_claim_usage[] =
    "usage: loyalty benefit claim ID CODE --ref REF\n"
    "\n"
    "Consumes one use of benefit CODE for member ID. The member's tier must grant\n"
    "it (else exit 6, also for a frozen or closed member); used up in this period:\n"
    "exit 4; unknown member or benefit: exit 3. The same --ref with the same\n"
    "parameters answers replayed: true; with others it fails with exit 5.\n"
    "\n"
    "  --ref REF   idempotency reference (A-Z a-z 0-9 . _ : -, 1 to 64 characters)\n";

/* "a,b,c" as ["a","b","c"]; "" as []. */
static json_t *code_list(const char *codes)
{
    json_t *array = json_array();
    const char *start = codes;
    while (array != NULL && start != NULL && start[0] != '\0') {
        const char *comma = strchr(start, ',');
        size_t length = comma ? (size_t)(comma - start) : strlen(start);
        if (json_array_append_new(array, json_stringn(start, length)) != 0) {
            json_decref(array);
            return NULL;
        }
        start = comma ? comma + 1 : NULL;
    }
    return array;
}

static int collect_tier(void *context, const loyalty_tier_info *tier)
{
    json_t *item = json_object();
    int failed = 0;
    failed |= json_object_set_new(item, "code", json_string(tier->code));
    failed |= json_object_set_new(item, "name", cli_text_value(tier->name));
    failed |= json_object_set_new(item, "position", json_integer(tier->position));
    failed |= json_object_set_new(item, "threshold", json_integer(tier->threshold));
    failed |= json_object_set_new(item, "multiplier_permille",
                                  json_integer(tier->multiplier_permille));
    failed |= json_object_set_new(item, "benefits", code_list(tier->benefits));
    failed |= json_object_set_new(item, "members", json_integer(tier->members));
    return cli_list_append(context, item, failed);
}

/* The options of a command that takes no arguments. */
static const cli_option no_options[] = {{NULL, NULL, 0}};

int cli_run_tiers(cli_context *cli, int argc, char **argv)
{
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, tiers_usage, no_options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    cli_list list = {.items = json_array(), .failed = 0};
    int rc = list.items == NULL ? LOYALTY_ERR_NOMEM : loyalty_tiers(ledger, collect_tier, &list);
    static const char *const columns[] = {
        "code", "name", "position", "threshold", "multiplier_permille", "benefits", "members", NULL};
    exit_code = cli_print_listing(cli, ledger, rc, &list, NULL, 0, "tiers", columns);
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_tier_set(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL, *tier = NULL, *reason = NULL;
    const cli_option options[] = {
        {"ID", &member, 1}, {"CODE", &tier, 1}, {"--reason", &reason, 1}, {NULL, NULL, 0},
    };
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, tier_set_usage, options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_member_info info;
    memset(&info, 0, sizeof info);
    int rc = loyalty_tier_set(ledger, member, tier, reason, &info);
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
    } else {
        json_t *record = cli_member_record(&info, 0);
        exit_code = cli_print_record(cli, record, record == NULL);
    }
    loyalty_close(ledger);
    return exit_code;
}

static int collect_change(void *context, const loyalty_tier_change *change)
{
    json_t *item = json_object();
    int failed = 0;
    failed |= json_object_set_new(item, "from", cli_optional_string(change->from));
    failed |= json_object_set_new(item, "to", json_string(change->to));
    failed |= json_object_set_new(item, "cause", json_string(change->cause));
    failed |= json_object_set_new(item, "qualifying", json_integer(change->qualifying));
    if (change->reason != NULL)
        failed |= json_object_set_new(item, "reason", json_string(change->reason));
    failed |= json_object_set_new(item, "ts", cli_time_value(change->ts_us));
    failed |= json_object_set_new(item, "actor", json_string(change->actor));
    failed |= json_object_set_new(item, "audit_seq", json_integer(change->audit_seq));
    return cli_list_append(context, item, failed);
}

int cli_run_tier_history(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL;
    const cli_option options[] = {{"ID", &member, 1}, {NULL, NULL, 0}};
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, tier_history_usage, options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    cli_list list = {.items = json_array(), .failed = 0};
    int rc = list.items == NULL ? LOYALTY_ERR_NOMEM
                                : loyalty_tier_history(ledger, member, collect_change, &list);
    static const char *const columns[] = {"ts",    "from",      "to",     "cause", "qualifying",
                                          "actor", "audit_seq", "reason", NULL};
    json_t *record = json_object();
    int failed = json_object_set_new(record, "member", json_string(member));
    exit_code = cli_print_listing(cli, ledger, rc, &list, record, failed, "changes", columns);
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_tier_evaluate(cli_context *cli, int argc, char **argv)
{
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, tier_evaluate_usage, no_options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_evaluate_result result;
    memset(&result, 0, sizeof result);
    cli_progress progress;
    cli_progress_start(&progress, "tier evaluate");
    int rc = loyalty_tier_evaluate(ledger, &result, cli_progress_update, &progress);
    cli_progress_finish(&progress);
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
    } else {
        json_t *record = json_pack("{s:I,s:I,s:I,s:I}", "members", (json_int_t)result.members,
                                   "upgraded", (json_int_t)result.upgraded, "downgraded",
                                   (json_int_t)result.downgraded, "placed",
                                   (json_int_t)result.placed);
        exit_code = cli_print_record(cli, record, 0);
    }
    loyalty_close(ledger);
    return exit_code;
}

/* A count that the library reports as 0 (or -1) when there is no limit: null then. */
static json_t *limited_value(int64_t value, int unlimited)
{
    return unlimited ? json_null() : json_integer(value);
}

static int collect_benefit(void *context, const loyalty_benefit_status *benefit)
{
    int unlimited = benefit->period == NULL || benefit->limit == 0;
    json_t *item = json_object();
    int failed = 0;
    failed |= json_object_set_new(item, "code", json_string(benefit->code));
    failed |= json_object_set_new(item, "name", cli_text_value(benefit->name));
    failed |= json_object_set_new(item, "limit", limited_value(benefit->limit, unlimited));
    failed |= json_object_set_new(item, "period", cli_optional_string(benefit->period));
    failed |= json_object_set_new(item, "used", json_integer(benefit->used));
    failed |= json_object_set_new(item, "remaining", limited_value(benefit->remaining, unlimited));
    failed |= json_object_set_new(item, "period_start",
                                  unlimited ? json_null() : cli_time_value(benefit->period_start_us));
    failed |= json_object_set_new(item, "period_end",
                                  unlimited ? json_null() : cli_time_value(benefit->period_end_us));
    return cli_list_append(context, item, failed);
}

int cli_run_benefits(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL;
    const cli_option options[] = {{"ID", &member, 1}, {NULL, NULL, 0}};
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, benefits_usage, options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_member_info info;
    cli_list list = {.items = json_array(), .failed = 0};
    int rc = list.items == NULL ? LOYALTY_ERR_NOMEM : loyalty_member_get(ledger, member, &info);
    if (rc == LOYALTY_OK)
        rc = loyalty_benefits(ledger, member, collect_benefit, &list);
    static const char *const columns[] = {"code", "name", "limit", "period", "used",
                                          "remaining", "period_start", "period_end", NULL};
    json_t *record = NULL;
    int failed = 0;
    if (rc == LOYALTY_OK) { /* info is filled */
        record = json_object();
        failed |= json_object_set_new(record, "member", json_string(info.member));
        failed |= json_object_set_new(record, "tier", cli_optional_string(info.tier));
    }
    exit_code = cli_print_listing(cli, ledger, rc, &list, record, failed, "benefits", columns);
    loyalty_close(ledger);
    return exit_code;
}

static int print_claim(cli_context *cli, const loyalty_claim_result *claim)
{
    int unlimited = claim->remaining < 0;
    json_t *record = json_object();
    int failed = 0;
    failed |= json_object_set_new(record, "member", json_string(claim->member));
    failed |= json_object_set_new(record, "benefit", json_string(claim->benefit));
    failed |= json_object_set_new(record, "ref", json_string(claim->ref));
    failed |= json_object_set_new(record, "replayed", json_boolean(claim->replayed));
    failed |= json_object_set_new(record, "used", json_integer(claim->used));
    failed |= json_object_set_new(record, "remaining", limited_value(claim->remaining, unlimited));
    failed |= json_object_set_new(record, "period_start",
                                  claim->period_start_us == 0
                                      ? json_null()
                                      : cli_time_value(claim->period_start_us));
    failed |= json_object_set_new(record, "audit_seq", json_integer(claim->audit_seq));
    return cli_print_record(cli, record, failed);
}

int cli_run_benefit_claim(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL, *benefit = NULL, *ref = NULL;
    const cli_option options[] = {
        {"ID", &member, 1}, {"CODE", &benefit, 1}, {"--ref", &ref, 1}, {NULL, NULL, 0},
    };
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, benefit_claim_usage, options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_claim_request request = {.member = member, .benefit = benefit, .ref = ref};
    loyalty_claim_result claim;
    memset(&claim, 0, sizeof claim);
    int rc = loyalty_benefit_claim(ledger, &request, &claim);
    if (rc != LOYALTY_OK)
        exit_code = cli_fail(cli, ledger, rc);
    else
        exit_code = print_claim(cli, &claim);
    loyalty_close(ledger);
    return exit_code;
}
