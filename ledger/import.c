/*
 * import.c - parsing one JSON Lines import record into a batch operation.
 * Each operation names the fields it takes by their CLI option names; a
 * field it does not take, a field of the wrong type or a missing required
 * field is refused with a message naming it. Pure: no ledger involved.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Field flags: which fields an operation takes, and which it requires. */
enum {
    F_MEMBER = 1 << 0,
    F_REF = 1 << 1,
    F_AMOUNT = 1 << 2,
    F_POINTS = 1 << 3,
    F_TX = 1 << 4,
    F_REASON = 1 << 5,
    F_NOTE = 1 << 6,
    F_ORDER = 1 << 7,
    F_BENEFIT = 1 << 8
};

typedef struct operation_spec {
    const char *name;
    loyalty_operation_kind kind;
    unsigned takes;
    unsigned requires;
} operation_spec;

static const operation_spec specs[] = {
    {"member_add", LOYALTY_OP_MEMBER_ADD, F_MEMBER, F_MEMBER},
    {"award", LOYALTY_OP_AWARD, F_MEMBER | F_REF | F_AMOUNT | F_POINTS | F_REASON, F_MEMBER | F_REF},
    {"redeem", LOYALTY_OP_REDEEM, F_MEMBER | F_REF | F_POINTS, F_MEMBER | F_REF | F_POINTS},
    {"adjust", LOYALTY_OP_ADJUST, F_MEMBER | F_REF | F_POINTS | F_REASON | F_NOTE,
     F_MEMBER | F_REF | F_POINTS | F_REASON},
    {"reverse", LOYALTY_OP_REVERSE, F_TX | F_REF | F_REASON, F_TX | F_REF | F_REASON},
    {"refund", LOYALTY_OP_REFUND, F_MEMBER | F_REF | F_ORDER | F_AMOUNT,
     F_MEMBER | F_REF | F_ORDER | F_AMOUNT},
    {"hold", LOYALTY_OP_HOLD, F_MEMBER | F_REF | F_POINTS, F_MEMBER | F_REF | F_POINTS},
    {"capture", LOYALTY_OP_CAPTURE, F_REF | F_POINTS, F_REF},
    {"release", LOYALTY_OP_RELEASE, F_REF, F_REF},
    {"claim", LOYALTY_OP_CLAIM, F_MEMBER | F_BENEFIT | F_REF, F_MEMBER | F_BENEFIT | F_REF},
};

typedef struct field_spec {
    const char *name;
    unsigned flag;
    size_t offset; /* of the text buffer in loyalty_import_line; 0 for integers */
    size_t size;
} field_spec;

#define TEXT_FIELD(name, flag, member) \
    {name, flag, offsetof(loyalty_import_line, member), sizeof(((loyalty_import_line *)0)->member)}

static const field_spec fields[] = {
    TEXT_FIELD("member", F_MEMBER, member), TEXT_FIELD("ref", F_REF, ref),
    {"amount", F_AMOUNT, 0, 0},           {"points", F_POINTS, 0, 0},
    {"tx", F_TX, 0, 0},                   TEXT_FIELD("reason", F_REASON, reason),
    TEXT_FIELD("note", F_NOTE, note),     TEXT_FIELD("order", F_ORDER, order),
    TEXT_FIELD("benefit", F_BENEFIT, benefit),
};

static int refuse(char *error, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char *error, size_t size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    if (error && size)
        vsnprintf(error, size, format, args);
    va_end(args);
    return LOYALTY_ERR_INVALID;
}

static const field_spec *field_named(const char *name)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

static void set_integer(loyalty_import_line *out, unsigned flag, int64_t value)
{
    if (flag == F_AMOUNT)
        out->operation.amount_minor = value;
    else if (flag == F_POINTS)
        out->operation.points = value;
    else
        out->operation.tx = value;
}

/* Stores one field of the record; *seen collects the flags present. */
static int take_field(const operation_spec *spec, const char *key, json_t *value,
                      loyalty_import_line *out, unsigned *seen, char *error, size_t size)
{
    const field_spec *f = field_named(key);
    if (f == NULL || !(spec->takes & f->flag))
        return refuse(error, size, "field '%.64s' is not used by %s", key, spec->name);
    *seen |= f->flag;
    if (f->offset == 0) {
        if (!json_is_integer(value))
            return refuse(error, size, "field '%s' must be an integer", key);
        set_integer(out, f->flag, json_integer_value(value));
        return LOYALTY_OK;
    }
    const char *text = json_string_value(value);
    if (text == NULL)
        return refuse(error, size, "field '%s' must be a string", key);
    if (strlen(text) >= f->size)
        return refuse(error, size, "field '%s' is longer than %zu bytes", key, f->size - 1);
    memcpy((char *)out + f->offset, text, strlen(text) + 1);
    return LOYALTY_OK;
}

/* Points the operation's strings at the buffers that were filled. */
static void link_strings(loyalty_import_line *out, unsigned seen)
{
    loyalty_operation *op = &out->operation;
    op->member = seen & F_MEMBER ? out->member : NULL;
    op->ref = seen & F_REF ? out->ref : NULL;
    op->reason = seen & F_REASON ? out->reason : NULL;
    op->note = seen & F_NOTE ? out->note : NULL;
    op->order = seen & F_ORDER ? out->order : NULL;
    op->benefit = seen & F_BENEFIT ? out->benefit : NULL;
}

static int parse_record(json_t *root, loyalty_import_line *out, char *error, size_t size)
{
    const char *name = json_string_value(json_object_get(root, "op"));
    if (name == NULL)
        return refuse(error, size, "field 'op' is required and must be a string");
    const operation_spec *spec = NULL;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        if (strcmp(specs[i].name, name) == 0)
            spec = &specs[i];
    if (spec == NULL)
        return refuse(error, size, "unknown op '%.64s'", name);
    out->operation.kind = spec->kind;
    unsigned seen = 0;
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (strcmp(key, "op") == 0)
            continue;
        int rc = take_field(spec, key, value, out, &seen, error, size);
        if (rc != LOYALTY_OK)
            return rc;
    }
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if ((spec->requires & fields[i].flag) && !(seen & fields[i].flag))
            return refuse(error, size, "%s needs field '%s'", spec->name, fields[i].name);
    link_strings(out, seen);
    return LOYALTY_OK;
}

LOYALTY_API int loyalty_import_parse(const char *json_line, loyalty_import_line *out, char *error,
                                     size_t error_size)
{
    if (json_line == NULL || out == NULL)
        return LOYALTY_ERR_MISUSE;
    memset(out, 0, sizeof *out);
    if (error && error_size)
        error[0] = '\0';
    if (strlen(json_line) > LIMIT_IMPORT_LINE_BYTES)
        return refuse(error, error_size, "line is longer than %d bytes", LIMIT_IMPORT_LINE_BYTES);
    json_error_t parse_error;
    int out_of_memory;
    json_t *root = json_parse(json_line, JSON_REJECT_DUPLICATES, &parse_error, &out_of_memory);
    if (out_of_memory) {
        if (error && error_size)
            snprintf(error, error_size, "out of memory reading the line");
        return LOYALTY_ERR_NOMEM;
    }
    if (root == NULL)
        return refuse(error, error_size, "not valid JSON (column %d): %s", parse_error.column,
                      parse_error.text);
    int rc = json_is_object(root) ? parse_record(root, out, error, error_size)
                                  : refuse(error, error_size, "a line must be a JSON object");
    json_decref(root);
    if (rc != LOYALTY_OK)
        memset(&out->operation, 0, sizeof out->operation);
    return rc;
}
