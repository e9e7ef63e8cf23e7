/*
 * fuzz_program.c - libFuzzer target for the program parser: arbitrary text
 * through loyalty_program_load on a ledger made once per process.
 *
 * Input: the program text (the bytes up to the first NUL).
 * Properties:
 *   - the result is LOYALTY_OK or LOYALTY_ERR_INVALID (with a message);
 *   - a refused program changes nothing: loyalty_program_show gives the
 *     same text as before;
 *   - an accepted program round-trips: the JSON loyalty_program_show prints
 *     (minus "version"), loaded again, is accepted and shows identically
 *     but for the version, which goes up by one each load;
 *   - the ladder of an accepted program lists through loyalty_tiers, and an
 *     award by amount under it either succeeds or is refused cleanly.
 */
#include <jansson.h>

#include "fuzz_common.h"

static loyalty_ledger *ledger;
static char *shown; /* the program in force as loyalty_program_show printed it */
static int64_t awards;

static void close_ledger(void)
{
    loyalty_close(ledger);
    ledger = NULL;
    free(shown);
    shown = NULL;
}

static char *show(void)
{
    char *json = NULL;
    int rc = loyalty_program_show(ledger, &json);
    FUZZ_CHECK(rc == LOYALTY_OK && json != NULL, "program show fails: %s", loyalty_errmsg(ledger));
    char *copy = strdup(json);
    loyalty_free(json);
    FUZZ_CHECK(copy != NULL, "out of memory");
    return copy;
}

static void setup(void)
{
    if (ledger != NULL)
        return;
    char db_path[FUZZ_PATH_BYTES];
    fuzz_path(db_path, fuzz_scratch_dir(), "program.ledger");
    ledger = fuzz_create_ledger(db_path, NULL);
    fuzz_setup_ok(ledger, loyalty_member_add(ledger, "m1", NULL, NULL), "member add");
    shown = show();
    atexit(close_ledger);
}

/* The shown program without its "version" field, as loadable text; *version gets the field. */
static char *without_version(const char *json, int64_t *version)
{
    json_error_t error;
    json_t *o = json_loads(json, 0, &error);
    FUZZ_CHECK(json_is_object(o), "program show printed no JSON object: %s", json);
    json_t *v = json_object_get(o, "version");
    FUZZ_CHECK(json_is_integer(v), "program show printed no version: %s", json);
    *version = json_integer_value(v);
    json_object_del(o, "version");
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    FUZZ_CHECK(text != NULL, "out of memory");
    return text;
}

static int count_tier(void *context, const loyalty_tier_info *tier)
{
    FUZZ_CHECK(tier->code != NULL && tier->name != NULL && tier->benefits != NULL,
               "tier listing with a NULL field");
    (*(int64_t *)context)++;
    return 0;
}

/* The ladder lists, and an award by amount under the new program behaves. */
static void exercise(void)
{
    int64_t tiers = 0;
    int rc = loyalty_tiers(ledger, count_tier, &tiers);
    FUZZ_CHECK(rc == LOYALTY_OK, "tiers listing fails: %s", loyalty_errmsg(ledger));
    char ref[32];
    snprintf(ref, sizeof ref, "a%lld", (long long)awards++);
    /* Alternately the largest purchase (earn overflow paths) and an ordinary one. */
    int64_t amount = awards % 2 ? INT64_C(1000000000000000) : INT64_C(12999);
    loyalty_award_request award = {.member = "m1", .ref = ref, .amount_minor = amount};
    loyalty_posting posting;
    rc = loyalty_award(ledger, &award, &posting);
    FUZZ_CHECK(rc == LOYALTY_OK || rc == LOYALTY_ERR_INVALID, "award under the program: %s (%s)",
               loyalty_result_name(rc), loyalty_errmsg(ledger));
    if (rc == LOYALTY_OK)
        FUZZ_CHECK(posting.points >= 0 && posting.points <= INT64_C(1000000000000),
                   "award of %lld points", (long long)posting.points);
}

static void check_round_trip(int64_t loaded_version)
{
    char *first = show();
    int64_t version = 0;
    char *text = without_version(first, &version);
    FUZZ_CHECK(version == loaded_version, "loaded version %lld, shown %lld",
               (long long)loaded_version, (long long)version);
    int64_t again_version = 0;
    int rc = loyalty_program_load(ledger, text, &again_version);
    FUZZ_CHECK(rc == LOYALTY_OK, "the shown program %s is refused: %s", text, loyalty_errmsg(ledger));
    FUZZ_CHECK(again_version == loaded_version + 1, "version %lld after %lld",
               (long long)again_version, (long long)loaded_version);
    char *second = show();
    int64_t second_version = 0;
    char *second_text = without_version(second, &second_version);
    FUZZ_CHECK(strcmp(text, second_text) == 0, "round trip changed the program:\n  %s\n  %s", text,
               second_text);
    free(second_text);
    free(text);
    free(first);
    free(shown);
    shown = second;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    char *text = fuzz_text(data, size);
    int64_t version = -1;
    int rc = loyalty_program_load(ledger, text, &version);
    FUZZ_CHECK(rc == LOYALTY_OK || rc == LOYALTY_ERR_INVALID, "unexpected result %s: %s",
               loyalty_result_name(rc), loyalty_errmsg(ledger));
    FUZZ_TRACE("program load: %s %s\n", loyalty_result_name(rc), loyalty_errmsg(ledger));
    if (rc == LOYALTY_OK) {
        check_round_trip(version);
        exercise();
    } else {
        FUZZ_CHECK(loyalty_errmsg(ledger)[0] != '\0', "refused without a message");
        char *now = show();
        FUZZ_CHECK(strcmp(now, shown) == 0, "a refused program changed the program in force");
        free(now);
    }
    free(text);
    return 0;
}
