/*
 * context.c - the run context of the `loyalty` tool: the defaults and
 * environment variables behind the global options ($LOYALTY_DB,
 * $LOYALTY_KEY, $LOYALTY_ACTOR, the login name), the fixed clock of
 * $LOYALTY_NOW, and opening or creating the ledger with them.
 */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_DB_PATH "./loyalty.db"
#define MICROSECONDS_PER_SECOND INT64_C(1000000)
#define SECONDS_PER_DAY INT64_C(86400)

/* An environment variable, or NULL when it is unset or empty. */
static const char *environment(const char *name)
{
    const char *value = getenv(name);
    return (value != NULL && value[0] != '\0') ? value : NULL;
}

/* The effective user's login name, or NULL when there is none. */
static const char *login_name(cli_context *cli)
{
    const struct passwd *entry = getpwuid(geteuid());
    if (entry == NULL || entry->pw_name == NULL)
        return NULL;
    size_t length = strlen(entry->pw_name);
    if (length == 0 || length > CLI_LOGIN_NAME_MAX)
        return NULL;
    memcpy(cli->login_name, entry->pw_name, length + 1);
    return cli->login_name;
}

/*
 * Fills in what the command line left open, from the environment and the
 * defaults. Returns CLI_CONTINUE, or exit 2 after an error.
 */
int cli_resolve_environment(cli_context *cli)
{
    if (cli->db_path == NULL)
        cli->db_path = environment("LOYALTY_DB");
    if (cli->db_path == NULL)
        cli->db_path = DEFAULT_DB_PATH;
    if (cli->db_path[0] == '\0')
        return cli_usage_error(cli, "--db must not be empty");
    if (cli->key_path == NULL)
        cli->key_path = environment("LOYALTY_KEY");
    if (cli->key_path != NULL && cli->key_path[0] == '\0')
        return cli_usage_error(cli, "--key must not be empty");
    if (cli->actor == NULL)
        cli->actor = environment("LOYALTY_ACTOR");
    if (cli->actor == NULL)
        cli->actor = login_name(cli);
    const char *now = environment("LOYALTY_NOW");
    if (now != NULL && cli_parse_time(now, &cli->now_us) != 0)
        return cli_usage_error(cli, "LOYALTY_NOW must be an ISO 8601 UTC time like "
                                    "2026-11-25T12:00:00Z, not '%s'", now);
    return CLI_CONTINUE;
}

/* Reads exactly `count` decimal digits; returns 1 on success. */
static int read_digits(const char *text, int count, int64_t *value)
{
    int64_t result = 0;
    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
        result = result * 10 + (text[i] - '0');
    }
    *value = result;
    return 1;
}

static int is_leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int64_t days_in_month(int64_t year, int64_t month)
{
    static const int64_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return (month == 2 && is_leap_year(year)) ? 29 : days[month - 1];
}

/* Days from 1970-01-01 to a civil date (proleptic Gregorian calendar). */
static int64_t days_from_civil(int64_t year, int64_t month, int64_t day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* Reads ".f" to ".ffffff" (or nothing) as microseconds; returns the characters used or -1. */
static int read_fraction(const char *text, int64_t *microseconds)
{
    *microseconds = 0;
    if (text[0] != '.')
        return 0;
    int digits = 0;
    while (digits < 7 && text[1 + digits] >= '0' && text[1 + digits] <= '9')
        digits++;
    if (digits == 0 || digits > 6)
        return -1;
    int64_t value = 0;
    read_digits(text + 1, digits, &value);
    for (int i = digits; i < 6; i++)
        value *= 10;
    *microseconds = value;
    return 1 + digits;
}

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (UTC) into microseconds since the
 * Unix epoch. Returns 0 on success, -1 when malformed or not after 1970.
 */
int cli_parse_time(const char *text, int64_t *out_us)
{
    int64_t year, month, day, hour, minute, second, fraction;
    if (strlen(text) < 20 || !read_digits(text, 4, &year) || text[4] != '-' ||
        !read_digits(text + 5, 2, &month) || text[7] != '-' || !read_digits(text + 8, 2, &day) ||
        text[10] != 'T' || !read_digits(text + 11, 2, &hour) || text[13] != ':' ||
        !read_digits(text + 14, 2, &minute) || text[16] != ':' ||
        !read_digits(text + 17, 2, &second))
        return -1;
    int used = read_fraction(text + 19, &fraction);
    if (used < 0 || strcmp(text + 19 + used, "Z") != 0)
        return -1;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 59)
        return -1;
    int64_t seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 +
                      minute * 60 + second;
    int64_t microseconds = seconds * MICROSECONDS_PER_SECOND + fraction;
    if (microseconds <= 0)
        return -1; /* 0 would mean "the system clock" to the library */
    *out_us = microseconds;
    return 0;
}

static loyalty_open_options open_options(const cli_context *cli)
{
    loyalty_open_options options = {
        .db_path = cli->db_path,
        .key_path = cli->key_path,
        .actor = cli->actor,
        .now_us = cli->now_us,
    };
    return options;
}

/* Hands out the handle loyalty_open/create gave, or reports rc and closes it. */
static int opened(cli_context *cli, int rc, loyalty_ledger *ledger, loyalty_ledger **out)
{
    *out = NULL;
    if (rc != LOYALTY_OK) {
        int exit_code = cli_fail(cli, ledger, rc);
        loyalty_close(ledger);
        return exit_code;
    }
    *out = ledger;
    return CLI_CONTINUE;
}

/* Opens the ledger; returns CLI_CONTINUE, or an exit code after printing the error. */
int cli_open_ledger(cli_context *cli, loyalty_ledger **out)
{
    loyalty_open_options options = open_options(cli);
    loyalty_ledger *ledger = NULL;
    int rc = loyalty_open(&ledger, &options);
    return opened(cli, rc, ledger, out);
}

/* Parses the command's arguments, then opens the ledger; as cli_open_ledger. */
int cli_parse_open(cli_context *cli, int argc, char **argv, const char *usage,
                   const cli_option *options, loyalty_ledger **out)
{
    *out = NULL;
    int exit_code = cli_parse(cli, argc, argv, usage, options);
    return exit_code == CLI_CONTINUE ? cli_open_ledger(cli, out) : exit_code;
}

/* Creates the ledger (program_json NULL: the default program); as cli_open_ledger. */
int cli_create_ledger(cli_context *cli, const char *program_json, loyalty_ledger **out)
{
    loyalty_open_options options = open_options(cli);
    loyalty_ledger *ledger = NULL;
    int rc = loyalty_create(&ledger, &options, program_json);
    return opened(cli, rc, ledger, out);
}
