/*
 * fuzz_import.c - libFuzzer target for the import-line parser,
 * loyalty_import_parse (pure: no ledger).
 *
 * Input: one import line (the bytes up to the first NUL are the C string).
 * Properties:
 *   - the result is LOYALTY_OK or LOYALTY_ERR_INVALID, never anything else;
 *   - a refusal leaves a non-empty, NUL-terminated message and a zeroed
 *     operation; a tiny error buffer is never overrun;
 *   - an accepted line has a known kind, and every string field is either
 *     NULL or points into its own buffer of the output, NUL-terminated
 *     within the buffer's size;
 *   - round trip: the accepted operation, written back as a JSON line with
 *     every field its kind takes, parses again to the same operation.
 */
#include <jansson.h>

#include "fuzz_common.h"

typedef struct kind_spec {
    const char *name;
    loyalty_operation_kind kind;
    int amount, points, tx; /* which integer fields the kind takes */
} kind_spec;

static const kind_spec kinds[] = {
    {"member_add", LOYALTY_OP_MEMBER_ADD, 0, 0, 0}, {"award", LOYALTY_OP_AWARD, 1, 1, 0},
    {"redeem", LOYALTY_OP_REDEEM, 0, 1, 0},         {"adjust", LOYALTY_OP_ADJUST, 0, 1, 0},
    {"reverse", LOYALTY_OP_REVERSE, 0, 0, 1},       {"refund", LOYALTY_OP_REFUND, 1, 0, 0},
    {"hold", LOYALTY_OP_HOLD, 0, 1, 0},             {"capture", LOYALTY_OP_CAPTURE, 0, 1, 0},
    {"release", LOYALTY_OP_RELEASE, 0, 0, 0},       {"claim", LOYALTY_OP_CLAIM, 0, 0, 0},
};

static const kind_spec *spec_of(loyalty_operation_kind kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == kind)
            return &kinds[i];
    return NULL;
}

/* A string field is NULL or its own buffer, terminated inside it. */
static void check_text(const char *field, const char *buffer, size_t size, const char *name)
{
    if (field == NULL)
        return;
    FUZZ_CHECK(field == buffer, "field %s does not point at its buffer", name);
    FUZZ_CHECK(memchr(buffer, '\0', size) != NULL, "field %s is not terminated", name);
}

static void check_accepted(const loyalty_import_line *line)
{
    const loyalty_operation *op = &line->operation;
    FUZZ_CHECK(spec_of(op->kind) != NULL, "unknown kind %d", (int)op->kind);
    check_text(op->member, line->member, sizeof line->member, "member");
    check_text(op->ref, line->ref, sizeof line->ref, "ref");
    check_text(op->reason, line->reason, sizeof line->reason, "reason");
    check_text(op->note, line->note, sizeof line->note, "note");
    check_text(op->order, line->order, sizeof line->order, "order");
    check_text(op->benefit, line->benefit, sizeof line->benefit, "benefit");
}

static void put_text(json_t *o, const char *key, const char *value)
{
    if (value != NULL)
        json_object_set_new(o, key, json_string(value));
}

/* The accepted operation written back as an import line. */
static char *write_back(const loyalty_operation *op)
{
    const kind_spec *spec = spec_of(op->kind);
    json_t *o = json_object();
    json_object_set_new(o, "op", json_string(spec->name));
    put_text(o, "member", op->member);
    put_text(o, "ref", op->ref);
    put_text(o, "reason", op->reason);
    put_text(o, "note", op->note);
    put_text(o, "order", op->order);
    put_text(o, "benefit", op->benefit);
    if (spec->amount)
        json_object_set_new(o, "amount", json_integer(op->amount_minor));
    if (spec->points)
        json_object_set_new(o, "points", json_integer(op->points));
    if (spec->tx)
        json_object_set_new(o, "tx", json_integer(op->tx));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    FUZZ_CHECK(text != NULL, "cannot write the operation back");
    return text;
}

static int same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_round_trip(const loyalty_import_line *first)
{
    char *text = write_back(&first->operation);
    loyalty_import_line *again = malloc(sizeof *again);
    FUZZ_CHECK(again != NULL, "out of memory");
    char error[256];
    int rc = loyalty_import_parse(text, again, error, sizeof error);
    FUZZ_CHECK(rc == LOYALTY_OK, "the written-back line %s is refused: %s", text, error);
    const loyalty_operation *a = &first->operation, *b = &again->operation;
    /* Integer fields the kind does not take stay 0 on both sides. */
    FUZZ_CHECK(a->kind == b->kind && a->amount_minor == b->amount_minor && a->points == b->points &&
                   a->tx == b->tx,
               "round trip changed the kind or an integer: %s", text);
    FUZZ_CHECK(same_text(a->member, b->member) && same_text(a->ref, b->ref) &&
                   same_text(a->reason, b->reason) && same_text(a->note, b->note) &&
                   same_text(a->order, b->order) && same_text(a->benefit, b->benefit),
               "round trip changed a text field: %s", text);
    free(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    loyalty_import_line *line = malloc(sizeof *line);
    FUZZ_CHECK(line != NULL, "out of memory");
    char error[256];
    memset(error, 'x', sizeof error);
    int rc = loyalty_import_parse(text, line, error, sizeof error);
    FUZZ_CHECK(rc == LOYALTY_OK || rc == LOYALTY_ERR_INVALID, "unexpected result %d", rc);
    FUZZ_TRACE("import parse: %s %s\n", loyalty_result_name(rc), rc == LOYALTY_OK ? "" : error);
    if (rc == LOYALTY_OK) {
        FUZZ_CHECK(error[0] == '\0', "accepted, yet the message is \"%.64s\"", error);
        check_accepted(line);
        check_round_trip(line);
    } else {
        FUZZ_CHECK(error[0] != '\0' && memchr(error, '\0', sizeof error) != NULL,
                   "refused without a message");
        static const loyalty_operation zero;
        FUZZ_CHECK(memcmp(&line->operation, &zero, sizeof zero) == 0,
                   "refused, yet the operation is filled in");
        /* A small error buffer gets a cut, terminated message and nothing past it. */
        char small[9];
        memset(small, 'y', sizeof small);
        rc = loyalty_import_parse(text, line, small, 8);
        FUZZ_CHECK(rc == LOYALTY_ERR_INVALID && small[8] == 'y' && memchr(small, '\0', 8) != NULL,
                   "small error buffer mishandled");
        rc = loyalty_import_parse(text, line, NULL, 0);
        FUZZ_CHECK(rc == LOYALTY_ERR_INVALID, "refusal depends on the error buffer");
    }
    free(line);
    free(text);
    return 0;
}
