/*
 * cmd_read.c - the commands that only read: `balance`, `history` (a
 * member's journal, newest first, one page at a time) and `stats`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define HISTORY_DEFAULT_LIMIT 20

static const char balance_usage[] =
    "usage: loyalty balance ID\n"
    "\n"
    "Prints a member's points: balance (every credit and debit), available (what\n"
    "can be spent now), pending (not yet spendable), held (reserved by open holds),\n"
    "expired (past expiry, not yet swept), debt (clawed back beyond what was left),\n"
    "next_expiry (the points that expire next and when, or null), the member's tier\n"
    "(null without a tier ladder), qualifying points (purchase points in the tier\n"
    "window, after refunds) and status.\n";

static const char history_usage[] =
    "usage: loyalty history ID [--limit N] [--before TX]\n"
    "\n"
    "Lists a member's journal, newest first, one page at a time. next_before is the\n"
    "--before value of the next page (null, or absent in text, on the last page).\n"
    "\n"
    "  --limit N     entries per page, 1 to 1000 (default 20)\n"
    "  --before TX   only entries older than transaction TX\n";

static const char stats_usage[] =
    "usage: loyalty stats\n"
    "\n"
    "Prints program-wide figures: members, points outstanding (the sum of all\n"
    "balances), issued, redeemed, net adjusted, net reversed, expired, clawed back\n"
    "by refunds, forfeited by closed members, and transactions. outstanding =\n"
    "issued - redeemed - expired - clawed_back - forfeited + adjusted + reversed.\n";

int cli_run_balance(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL;
    const cli_option options[] = {{"ID", &member, 1}, {NULL, NULL, 0}};
    int exit_code = cli_parse(cli, argc, argv, balance_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return cli_show_member(cli, member, 0);
}

typedef struct history_page {
    json_t *entries;
    int failed;
} history_page;

static int add_optional_fields(json_t *item, const loyalty_history_entry *entry)
{
    int failed = 0;
    if (entry->reason != NULL)
        failed |= json_object_set_new(item, "reason", json_string(entry->reason));
    if (entry->note != NULL)
        failed |= json_object_set_new(item, "note", json_string(entry->note));
    if (entry->amount_minor != 0)
        failed |= json_object_set_new(item, "amount", json_integer(entry->amount_minor));
    if (entry->reversed_tx != 0)
        failed |= json_object_set_new(item, "reversed_tx", json_integer(entry->reversed_tx));
    if (entry->reversed_by != 0)
        failed |= json_object_set_new(item, "reversed_by", json_integer(entry->reversed_by));
    if (entry->order_tx != 0)
        failed |= json_object_set_new(item, "order_tx", json_integer(entry->order_tx));
    return failed;
}

/* History callback: appends the entry to the page; stops when memory runs out. */
static int collect_entry(void *context, const loyalty_history_entry *entry)
{
    history_page *page = context;
    json_t *item = json_object();
    int failed = 0;
    failed |= json_object_set_new(item, "tx", json_integer(entry->tx));
    failed |= json_object_set_new(item, "kind", json_string(entry->kind));
    failed |= json_object_set_new(item, "ref", json_string(entry->ref));
    failed |= json_object_set_new(item, "points", json_integer(entry->points));
    failed |= json_object_set_new(item, "balance_after", json_integer(entry->balance_after));
    failed |= json_object_set_new(item, "ts", cli_time_value(entry->ts_us));
    failed |= json_object_set_new(item, "actor", json_string(entry->actor));
    failed |= add_optional_fields(item, entry);
    failed |= json_array_append_new(page->entries, item);
    page->failed |= failed;
    return page->failed;
}

/* The last column of the text table: reason, note, amount, reversal and refund links. */
static void print_details(const json_t *item)
{
    const char *reason = json_string_value(json_object_get(item, "reason"));
    const char *note = json_string_value(json_object_get(item, "note"));
    json_t *amount = json_object_get(item, "amount");
    json_t *reversed_tx = json_object_get(item, "reversed_tx");
    json_t *reversed_by = json_object_get(item, "reversed_by");
    json_t *order_tx = json_object_get(item, "order_tx");
    if (reason != NULL)
        printf(" %s", reason);
    if (note != NULL)
        printf(" (%s)", note);
    if (amount != NULL)
        printf(" amount=%lld", (long long)json_integer_value(amount));
    if (reversed_tx != NULL)
        printf(" reverses tx %lld", (long long)json_integer_value(reversed_tx));
    if (reversed_by != NULL)
        printf(" reversed by tx %lld", (long long)json_integer_value(reversed_by));
    if (order_tx != NULL)
        printf(" refunds tx %lld", (long long)json_integer_value(order_tx));
}

static int column_width(const json_t *entries, const char *key, int minimum)
{
    size_t index;
    const json_t *item;
    int width = minimum;
    json_array_foreach((json_t *)entries, index, item) {
        int length = (int)strlen(json_string_value(json_object_get(item, key)));
        if (length > width)
            width = length;
    }
    return width;
}

static void print_history_table(const char *member, const json_t *entries, int64_t next_before)
{
    int ref_width = column_width(entries, "ref", 3);
    int actor_width = column_width(entries, "actor", 5);
    int ts_width = column_width(entries, "ts", 2);
    printf("member: %s\n", member);
    printf("%8s  %-*s  %-8s %10s %10s  %-*s  %-*s  %s\n", "TX", ts_width, "TS", "KIND",
           "POINTS", "BALANCE", ref_width, "REF", actor_width, "ACTOR", "DETAILS");
    size_t index;
    const json_t *item;
    json_array_foreach((json_t *)entries, index, item) {
        printf("%8lld  %-*s  %-8s %+10lld %10lld  %-*s  %-*s ",
               (long long)json_integer_value(json_object_get(item, "tx")), ts_width,
               json_string_value(json_object_get(item, "ts")),
               json_string_value(json_object_get(item, "kind")),
               (long long)json_integer_value(json_object_get(item, "points")),
               (long long)json_integer_value(json_object_get(item, "balance_after")), ref_width,
               json_string_value(json_object_get(item, "ref")), actor_width,
               json_string_value(json_object_get(item, "actor")));
        print_details(item);
        putchar('\n');
    }
    if (next_before != 0)
        printf("more: --before %lld\n", (long long)next_before);
}

static int print_history(cli_context *cli, const char *member, json_t *entries,
                         int64_t next_before)
{
    if (!cli->json) {
        print_history_table(member, entries, next_before);
        json_decref(entries);
        return CLI_EXIT_OK;
    }
    json_t *record = json_object();
    int failed = 0;
    failed |= json_object_set_new(record, "member", json_string(member));
    failed |= json_object_set_new(record, "entries", entries);
    failed |= json_object_set_new(record, "next_before",
                                  next_before != 0 ? json_integer(next_before) : json_null());
    return cli_print_record(cli, record, failed);
}

static int read_history(cli_context *cli, const char *member, int64_t limit, int64_t before)
{
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_open_ledger(cli, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    history_page page = {.entries = json_array(), .failed = 0};
    int64_t next_before = 0;
    int rc = page.entries == NULL ? LOYALTY_ERR_NOMEM
                                  : loyalty_history(ledger, member, limit, before, collect_entry,
                                                    &page, &next_before);
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
        json_decref(page.entries);
    } else if (page.failed) {
        exit_code = cli_out_of_memory(cli);
        json_decref(page.entries);
    } else {
        exit_code = print_history(cli, member, page.entries, next_before);
    }
    loyalty_close(ledger);
    return exit_code;
}

int cli_run_history(cli_context *cli, int argc, char **argv)
{
    const char *member = NULL, *limit_text = NULL, *before_text = NULL;
    const cli_option options[] = {
        {"ID", &member, 1}, {"--limit", &limit_text, 0}, {"--before", &before_text, 0},
        {NULL, NULL, 0},
    };
    int exit_code = cli_parse(cli, argc, argv, history_usage, options);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    int64_t limit = HISTORY_DEFAULT_LIMIT;
    int64_t before = 0;
    if (limit_text != NULL)
        exit_code = cli_parse_number(cli, "--limit", limit_text, CLI_POSITIVE, &limit);
    if (exit_code == CLI_CONTINUE && before_text != NULL)
        exit_code = cli_parse_number(cli, "--before", before_text, CLI_POSITIVE, &before);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    return read_history(cli, member, limit, before);
}

int cli_run_stats(cli_context *cli, int argc, char **argv)
{
    const cli_option options[] = {{NULL, NULL, 0}};
    loyalty_ledger *ledger = NULL;
    int exit_code = cli_parse_open(cli, argc, argv, stats_usage, options, &ledger);
    if (exit_code != CLI_CONTINUE)
        return exit_code;
    loyalty_stats stats;
    int rc = loyalty_stats_get(ledger, &stats);
    if (rc != LOYALTY_OK) {
        exit_code = cli_fail(cli, ledger, rc);
    } else {
        json_t *record = json_pack(
            "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "members", (json_int_t)stats.members,
            "outstanding", (json_int_t)stats.outstanding, "issued", (json_int_t)stats.issued,
            "redeemed", (json_int_t)stats.redeemed, "adjusted", (json_int_t)stats.adjusted,
            "reversed", (json_int_t)stats.reversed, "expired", (json_int_t)stats.expired,
            "clawed_back", (json_int_t)stats.clawed_back, "forfeited",
            (json_int_t)stats.forfeited, "transactions", (json_int_t)stats.transactions);
        exit_code = cli_print_record(cli, record, 0);
    }
    loyalty_close(ledger);
    return exit_code;
}
