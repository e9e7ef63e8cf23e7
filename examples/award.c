/*
 * award.c - the smallest useful program on libloyalty: it opens a ledger,
 * makes sure a member exists, awards the points of one order and prints what
 * happened. It uses nothing but <loyalty.h>, as any program linking the
 * installed library would.
 *
 * Build it against an installed libloyalty through pkg-config:
 *
 *     cc -o award award.c $(pkg-config --cflags --libs loyalty)
 *
 * (for a static binary: `pkg-config --static --libs loyalty`, which adds
 * sqlite3, libsodium and jansson).
 *
 *     award [-a actor] [-m member] [-o order_ref] [-p amount_minor] [ledger.db]
 *
 * With a ledger path it opens that ledger, whose key file is ledger.db.key;
 * the actor (default $LOYALTY_ACTOR, else "example") must be an operator
 * allowed to add members and award points. Without one it creates a new
 * ledger in a fresh directory under $TMPDIR (else /tmp) and says where.
 * Running it twice with the same order reference awards the points once:
 * the second run reports a replay.
 *
 * Exit status: 0 when the points were awarded (or had been already), 1 when
 * the library refused, 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loyalty.h>

#define PATH_SIZE 4096
#define DB_NAME "/shop.db"

static void usage(void)
{
    fprintf(stderr, "usage: award [-a actor] [-m member] [-o order_ref] [-p amount_minor]"
                    " [ledger.db]\n");
}

/* Reports a failed library call: what we tried, the code's meaning and the detail. */
static int report(const loyalty_ledger *ledger, const char *what, int rc)
{
    fprintf(stderr, "award: %s: %s (%s): %s\n", what, loyalty_strerror(rc),
            loyalty_result_name(rc), loyalty_errmsg(ledger));
    return 1;
}

/* Parses a positive amount in minor units; 0 when the text is not one. */
static int64_t parse_amount(const char *text)
{
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || value <= 0)
        return 0;
    return (int64_t)value;
}

/* Creates a ledger in a new temporary directory; db_path receives its path. */
static int create_ledger(loyalty_ledger **ledger, loyalty_open_options *options,
                         char db_path[PATH_SIZE])
{
    const char *tmp = getenv("TMPDIR");
    char directory[PATH_SIZE - sizeof DB_NAME]; /* room left for the file name */
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    int n = snprintf(directory, sizeof directory, "%s/loyalty-award.XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof directory || mkdtemp(directory) == NULL) {
        perror("award: cannot make a temporary directory");
        return 1;
    }
    snprintf(db_path, PATH_SIZE, "%s" DB_NAME, directory);
    options->db_path = db_path;
    /* NULL: the default program, 1 point per 1.00 of currency. */
    int rc = loyalty_create(ledger, options, NULL);
    if (rc != LOYALTY_OK)
        return report(*ledger, "cannot create the ledger", rc);
    printf("new ledger: %s (actor %s is its admin)\n", db_path, options->actor);
    return 0;
}

int main(int argc, char **argv)
{
    const char *actor = getenv("LOYALTY_ACTOR");
    const char *member = "M1001";
    const char *order = "order-1";
    int64_t amount_minor = 12999;
    int option;

    while ((option = getopt(argc, argv, "a:hm:o:p:")) != -1) {
        switch (option) {
        case 'a': actor = optarg; break;
        case 'm': member = optarg; break;
        case 'o': order = optarg; break;
        case 'p':
            amount_minor = parse_amount(optarg);
            if (amount_minor == 0) {
                fprintf(stderr, "award: -p takes a positive amount in minor units\n");
                return 2;
            }
            break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (argc - optind > 1) {
        usage();
        return 2;
    }
    if (actor == NULL || *actor == '\0')
        actor = "example";

    loyalty_ledger *ledger = NULL;
    loyalty_open_options options = {.actor = actor};
    char db_path[PATH_SIZE];
    int status = 1;
    int rc;

    if (optind < argc) {
        options.db_path = argv[optind];
        rc = loyalty_open(&ledger, &options);
        if (rc != LOYALTY_OK) {
            status = report(ledger, "cannot open the ledger", rc);
            goto done;
        }
    } else if (create_ledger(&ledger, &options, db_path) != 0) {
        goto done;
    }

    /* Adding a member who exists already is a harmless replay. */
    rc = loyalty_member_add(ledger, member, NULL, NULL);
    if (rc != LOYALTY_OK) {
        status = report(ledger, "cannot add the member", rc);
        goto done;
    }

    loyalty_award_request award = {
        .member = member, .ref = order, .amount_minor = amount_minor, .reason = "example order"};
    loyalty_posting posting;
    rc = loyalty_award(ledger, &award, &posting);
    if (rc != LOYALTY_OK) {
        status = report(ledger, "cannot award the points", rc);
        goto done;
    }
    printf("%s: %+" PRId64 " points for %s (tx %" PRId64 "%s), balance %" PRId64
           ", available %" PRId64 "\n",
           posting.member, posting.points, order, posting.tx,
           posting.replayed ? ", replayed: awarded before" : "", posting.balance,
           posting.available);
    status = 0;

done:
    loyalty_close(ledger);
    return status;
}
