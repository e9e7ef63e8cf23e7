/*
 * replay.c - re-executing one signed audit entry against a replay ledger.
 * The payload is parsed back into the request that produced it and handed
 * to the very same *_apply() function that wrote the original; in replay
 * mode audit_append() then insists that the regenerated payload is the
 * signed one byte for byte. Used by loyalty_verify (verify.c).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *text_field(json_t *payload, const char *key)
{
    return json_string_value(json_object_get(payload, key));
}

static int64_t integer_field(json_t *payload, const char *key)
{
    json_t *v = json_object_get(payload, key);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* A debit's points, which its payload holds negative; INT64_MIN has no positive
 * counterpart, so it is refused rather than negated. */
static int debit_points(loyalty_ledger *l, json_t *payload, int64_t *points)
{
    int64_t stored = integer_field(payload, "points");
    if (stored == INT64_MIN)
        return fail(l, LOYALTY_ERR_VERIFY, "points out of range");
    *points = -stored;
    return LOYALTY_OK;
}

static int public_key_field(json_t *payload, unsigned char public_key[crypto_sign_PUBLICKEYBYTES])
{
    const char *hex = text_field(payload, "public_key");
    size_t length = 0;
    if (hex == NULL || strlen(hex) != LOYALTY_PUBLIC_KEY_HEX ||
        sodium_hex2bin(public_key, crypto_sign_PUBLICKEYBYTES, hex, LOYALTY_PUBLIC_KEY_HEX, NULL,
                       &length, NULL) != 0 ||
        length != crypto_sign_PUBLICKEYBYTES)
        return -1;
    return 0;
}

static int replay_program(loyalty_ledger *l, json_t *payload)
{
    json_t *program = json_object_get(payload, "program");
    if (!json_is_object(program))
        return fail(l, LOYALTY_ERR_VERIFY, "program_load entry has no program");
    char *text = json_compact(program);
    if (text == NULL)
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory re-reading a program");
    program_rules rules;
    int rc = program_parse(l, text, &rules);
    free(text);
    if (rc == LOYALTY_OK)
        rc = program_apply(l, &rules, NULL);
    program_rules_clear(&rules);
    return rc;
}

static int replay_member_add(loyalty_ledger *l, json_t *payload)
{
    int replayed = 0;
    int rc = member_add_apply(l, text_field(payload, "member"), &replayed);
    if (rc == LOYALTY_OK && replayed)
        rc = fail(l, LOYALTY_ERR_VERIFY, "adds member %s, who already exists",
                  text_field(payload, "member"));
    return rc;
}

/* Dispatches a posting; a posting that only replays an earlier one was never signed. */
static int replay_posting(loyalty_ledger *l, const char *action, json_t *p)
{
    loyalty_posting result;
    memset(&result, 0, sizeof result);
    int rc;
    if (strcmp(action, "award") == 0) {
        int64_t amount = integer_field(p, "amount");
        loyalty_award_request r = {.member = text_field(p, "member"), .ref = text_field(p, "ref"),
                                   .amount_minor = amount,
                                   .points = amount ? 0 : integer_field(p, "points"),
                                   .reason = text_field(p, "reason")};
        rc = award_apply(l, &r, &result);
    } else if (strcmp(action, "redeem") == 0) {
        loyalty_redeem_request r = {.member = text_field(p, "member"), .ref = text_field(p, "ref")};
        rc = debit_points(l, p, &r.points);
        if (rc == LOYALTY_OK)
            rc = redeem_apply(l, &r, &result);
    } else if (strcmp(action, "adjust") == 0) {
        loyalty_adjust_request r = {.member = text_field(p, "member"), .ref = text_field(p, "ref"),
                                    .points = integer_field(p, "points"),
                                    .reason = text_field(p, "reason"), .note = text_field(p, "note")};
        rc = adjust_apply(l, &r, &result);
    } else {
        loyalty_reverse_request r = {.tx = integer_field(p, "reverses"), .ref = text_field(p, "ref"),
                                     .reason = text_field(p, "reason")};
        rc = reverse_apply(l, &r, &result);
    }
    if (rc == LOYALTY_OK && result.replayed)
        rc = fail(l, LOYALTY_ERR_VERIFY, "repeats reference %s, already applied",
                  text_field(p, "ref"));
    return rc;
}

/* The lifecycle actions: refunds, holds, the sweep's entries, status changes. */
static int replay_lifecycle(loyalty_ledger *l, const char *action, json_t *p)
{
    loyalty_posting posting;
    loyalty_hold_info hold;
    int replayed = 0, rc;
    if (strcmp(action, "refund") == 0) {
        loyalty_refund_request r = {.member = text_field(p, "member"), .ref = text_field(p, "ref"),
                                    .order_ref = text_field(p, "order"),
                                    .amount_minor = integer_field(p, "amount")};
        rc = refund_apply(l, &r, &posting);
        replayed = rc == LOYALTY_OK && posting.replayed;
    } else if (strcmp(action, "hold") == 0) {
        loyalty_hold_request r = {.member = text_field(p, "member"), .ref = text_field(p, "ref"),
                                  .points = integer_field(p, "held")};
        rc = hold_apply(l, &r, &hold);
        replayed = rc == LOYALTY_OK && hold.replayed;
    } else if (strcmp(action, "capture") == 0) {
        int64_t points = 0;
        rc = debit_points(l, p, &points);
        if (rc == LOYALTY_OK)
            rc = capture_apply(l, text_field(p, "ref"), points, NULL);
    } else if (strcmp(action, "release") == 0) {
        rc = release_apply(l, text_field(p, "ref"), NULL);
    } else if (strcmp(action, "hold_lapse") == 0) {
        rc = hold_lapse_apply(l, text_field(p, "ref"));
    } else if (strcmp(action, "expire") == 0) {
        rc = expire_member_apply(l, text_field(p, "member"), NULL);
    } else if (strcmp(action, "tier_change") == 0) {
        const char *cause = text_field(p, "cause");
        int moved = 0;
        rc = cause && strcmp(cause, "manual") == 0
                 ? tier_set_apply(l, text_field(p, "member"), text_field(p, "to"),
                                  text_field(p, "reason"))
                 : tier_evaluate_apply(l, text_field(p, "member"), &moved);
    } else if (strcmp(action, "operator_add") == 0) {
        rc = operator_add_apply(l, text_field(p, "operator"), text_field(p, "role"), &replayed);
    } else if (strcmp(action, "operator_disable") == 0) {
        rc = operator_disable_apply(l, text_field(p, "operator"), &replayed);
    } else if (strcmp(action, "adjust_request") == 0) {
        loyalty_adjust_request r = {.member = text_field(p, "member"), .ref = text_field(p, "ref"),
                                    .points = integer_field(p, "requested"),
                                    .reason = text_field(p, "reason"), .note = text_field(p, "note")};
        rc = adjust_apply(l, &r, &posting);
        replayed = rc == LOYALTY_OK && (posting.replayed || !posting.pending_approval);
    } else if (strcmp(action, "approve") == 0) {
        rc = approve_apply(l, integer_field(p, "approval"), NULL);
    } else if (strcmp(action, "reject") == 0) {
        rc = reject_apply(l, integer_field(p, "approval"), text_field(p, "reason"));
    } else if (strcmp(action, "benefit_claim") == 0) {
        loyalty_claim_request r = {.member = text_field(p, "member"), .ref = text_field(p, "ref"),
                                   .benefit = text_field(p, "benefit")};
        loyalty_claim_result claim;
        rc = claim_apply(l, &r, &claim);
        replayed = rc == LOYALTY_OK && claim.replayed;
    } else {
        rc = status_apply(l, action, text_field(p, "member"), text_field(p, "reason"), &replayed, NULL);
    }
    if (rc == LOYALTY_OK && replayed)
        rc = fail(l, LOYALTY_ERR_VERIFY, "repeats an operation already applied");
    return rc;
}

static int is_lifecycle(const char *action)
{
    static const char *const actions[] = {"refund", "hold", "capture", "release", "hold_lapse",
                                          "expire", "member_freeze", "member_unfreeze",
                                          "member_close", "tier_change", "benefit_claim",
                                          "operator_add", "operator_disable", "adjust_request",
                                          "approve", "reject"};
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(action, actions[i]) == 0)
            return 1;
    return 0;
}

static int dispatch(loyalty_ledger *l, const char *action, json_t *payload)
{
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    if (strcmp(action, "genesis") == 0 || strcmp(action, "key_rotate") == 0) {
        if (public_key_field(payload, public_key) != 0)
            return fail(l, LOYALTY_ERR_VERIFY, "%s entry has no valid public key", action);
        return action[0] == 'g' ? genesis_apply(l, public_key) : key_rotation_apply(l, public_key);
    }
    if (strcmp(action, "program_load") == 0)
        return replay_program(l, payload);
    if (strcmp(action, "member_add") == 0)
        return replay_member_add(l, payload);
    if (strcmp(action, "award") == 0 || strcmp(action, "redeem") == 0 ||
        strcmp(action, "adjust") == 0 || strcmp(action, "reverse") == 0)
        return replay_posting(l, action, payload);
    if (is_lifecycle(action))
        return replay_lifecycle(l, action, payload);
    return fail(l, LOYALTY_ERR_VERIFY, "unknown action '%.64s'", action);
}

/*
 * Re-executes source on the replay ledger l. On failure the handle's message
 * says why; the code is LOYALTY_ERR_VERIFY for anything the entry itself
 * causes, or a storage/memory code.
 */
int replay_entry(loyalty_ledger *l, const audit_row *source)
{
    json_error_t error;
    int out_of_memory;
    json_t *payload = json_parse(source->payload, JSON_REJECT_DUPLICATES, &error, &out_of_memory);
    if (out_of_memory)
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory reading a payload");
    if (!json_is_object(payload)) {
        json_decref(payload);
        return fail(l, LOYALTY_ERR_VERIFY, "payload is not a JSON object");
    }
    l->replay = source;
    int rc = write_begin(l);
    /* The entry's actor must have been allowed to do it, by the operators of that moment. */
    unsigned capability = capability_of_action(source->action,
                                               json_string_value(json_object_get(payload, "cause")));
    if (rc == LOYALTY_OK && capability)
        rc = authorize_actor(l, source->actor, capability);
    if (rc == LOYALTY_OK)
        rc = dispatch(l, source->action, payload);
    if (rc == LOYALTY_OK && l->entries_written != 1)
        rc = fail(l, LOYALTY_ERR_VERIFY, "re-executing the entry wrote no audit entry");
    l->replay = NULL;
    json_decref(payload);
    if (rc != LOYALTY_OK && rc != LOYALTY_ERR_VERIFY && rc != LOYALTY_ERR_STORAGE &&
        rc != LOYALTY_ERR_NOMEM)
        rc = LOYALTY_ERR_VERIFY; /* the entry asks for something the ledger refuses */
    return rc;
}
