/*
 * internal.h - declarations shared by the files of ledger/ and nothing else:
 * the handle's layout, the write-transaction protocol, the audit append, the
 * statement cache and the pure rules. Not installed.
 *
 * The write protocol every state-changing operation follows:
 *
 *     rc = write_begin(l);               BEGIN IMMEDIATE, clock, signing key
 *     if (rc == LOYALTY_OK) rc = xxx_apply(l, request, result);
 *     rc = write_end(l, rc);             COMMIT on success, else ROLLBACK
 *
 * xxx_apply() validates, changes state and calls audit_append() exactly once
 * (unless it found a replay, when it changes nothing). In replay mode (used
 * by loyalty_verify) the same xxx_apply() functions re-execute the signed
 * payloads against a fresh ledger; audit_append() then checks that the
 * payload it is given is byte for byte the one that was signed.
 */
#ifndef LOYALTY_INTERNAL_H
#define LOYALTY_INTERNAL_H

#include <sqlite3.h>
#include <sodium.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "loyalty.h"
#include "ledger_limits.h"

#define HASH_BYTES 32 /* BLAKE2b-256 */
#define REQUEST_HASH_BYTES 16

/* The migrations, generated from the schema/ migrations by schema/embed.sh. */
extern const char *const loyalty_migrations[];
extern const int loyalty_migration_count;

/* SQLite application_id marking a loyalty ledger ("LOY1"). */
#define LEDGER_APPLICATION_ID 0x4C4F5931

/* One audit table row as stored: what a write appends, and what verify reads back
 * and re-executes in replay mode. The strings are borrowed. */
typedef struct audit_row {
    int64_t seq;
    int64_t ts_us;
    const char *actor;
    const char *action;
    const char *payload;
    const char *key_id;
    unsigned char prev_hash[HASH_BYTES];
    unsigned char hash[HASH_BYTES];
    unsigned char sig[crypto_sign_BYTES];
} audit_row;

/* The program in force, as the rules need it. */
typedef struct program_rules {
    int64_t version;
    char currency[8];
    int64_t minor_per_unit;
    int64_t points_per_unit;
    int64_t pending_days;
    int64_t expiry_days;
    int64_t hold_ttl_seconds;
    int64_t tier_window_days;
    int64_t approval_threshold;
    int64_t tier_count; /* tiers in the ladder (program_current only) */
    json_t *tiers;    /* canonical ladder, NULL when none (owned; program_rules_clear) */
    json_t *benefits; /* canonical catalogue, NULL when none (owned) */
} program_rules;

typedef struct cached_statement {
    const char *sql; /* identity: the address of a string literal */
    sqlite3_stmt *statement;
} cached_statement;

struct loyalty_ledger {
    sqlite3 *db;
    char *db_path;
    char *key_path;
    char actor[LOYALTY_ID_MAX + 1];
    int64_t fixed_now_us;
    char errmsg[LIMIT_ERRMSG_BYTES];
    int error_code; /* the code fail() last recorded */
    cached_statement statements[LIMIT_STATEMENT_CACHE];
    int statement_count;
    short statement_slots[2 * LIMIT_STATEMENT_CACHE]; /* by sql address: index + 1, 0 empty */
    short statements_used[LIMIT_STATEMENT_CACHE];     /* handed out since the last reset */
    int statements_used_count;
    unsigned char statement_used[LIMIT_STATEMENT_CACHE];

    /* Signing key: guarded memory, no access while idle. */
    unsigned char *secret_key; /* crypto_sign_SECRETKEYBYTES, sodium_malloc'd */
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    char key_id[LOYALTY_KEY_ID_HEX + 1]; /* "" when no key loaded */

    /* The write in progress. */
    int in_write;
    int64_t op_now_us;          /* the operation's time */
    const char *op_actor;       /* the operation's actor */
    int64_t next_seq;           /* seq the next audit entry takes */
    unsigned char prev_hash[HASH_BYTES];
    int entries_written;        /* audit entries in this operation: 0 or 1 */
    int64_t last_tx;            /* journal row the last posting wrote */

    /* The acting operator's role, read once per transaction (operators.c). */
    int operator_cached;
    /* Reads keep the operator and the program cached while PRAGMA data_version says no
     * other connection committed; this handle's own writes clear both caches. */
    int in_read;
    int replay_head_loaded; /* verify's replay: next_seq and prev_hash are current */
    int data_version_known;
    int64_t data_version;
    int operator_any;                   /* the ledger has operators at all */
    char operator_name[LOYALTY_ID_MAX + 1];
    char operator_role[16];             /* "" when not registered */
    char operator_status[16];

    /* The program in force, read once per write transaction. */
    program_rules cached_rules;
    int rules_cached;

    /* A batch in progress signs its entries on a second thread (sigpool.c). */
    struct batch_signer *signer;

    /* Checkpoints on a background thread once the WAL holds checkpoint_pages (checkpointer.c). */
    struct checkpointer *checkpointer;
    int checkpoint_pages;
    int checkpointer_failed;
    int in_batch; /* results need only the balance: skip the other figures */
    int probe_deferred; /* batch: a posting's (kind, ref) is not looked up first (batch.c) */
    int poisoned; /* a commit failed on I/O: no more writes until reopened */
    int64_t busy_since_ms; /* when the current wait for the lock began */

    /* Replay mode (verify): entries come from another chain. */
    const audit_row *replay;
};

/* --- errors.c ------------------------------------------------------------ */
int fail(loyalty_ledger *l, int rc, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
int fail_db(loyalty_ledger *l, const char *what);
int rc_from_sqlite(int sqlite_rc);
void clear_error(loyalty_ledger *l);

/* --- validate.c ---------------------------------------------------------- */
int valid_id(const char *s);          /* [A-Za-z0-9._:-]{1,64} */
int valid_actor(const char *s);       /* [A-Za-z0-9._:@-]{1,64} */
int valid_text(const char *s, size_t max_bytes); /* UTF-8, no control characters, non-empty */
int check_id(loyalty_ledger *l, const char *what, const char *s);
int check_points(loyalty_ledger *l, const char *what, int64_t points);
int check_optional_text(loyalty_ledger *l, const char *what, const char *s, size_t max_bytes);

/* --- db.c ---------------------------------------------------------------- */
int db_open_handle(loyalty_ledger **out, const loyalty_open_options *options);
int db_configure(loyalty_ledger *l);
sqlite3_stmt *stmt(loyalty_ledger *l, const char *sql);
int db_exec(loyalty_ledger *l, const char *sql);
int db_run(loyalty_ledger *l, const char *sql); /* one cached statement, no rows */
int64_t clock_now_us(const loyalty_ledger *l);
int write_begin(loyalty_ledger *l);
int write_end(loyalty_ledger *l, int rc);
int load_chain_head(loyalty_ledger *l);
int read_begin(loyalty_ledger *l);
void read_end(loyalty_ledger *l);

/* --- migrate.c ----------------------------------------------------------- */
int migrate_apply_all(loyalty_ledger *l);
int migrate_check_version(loyalty_ledger *l);

/* --- keys.c -------------------------------------------------------------- */
int keys_load_or_create(loyalty_ledger *l);
int keys_load_file(loyalty_ledger *l, const char *path);
int keys_ensure_signing(loyalty_ledger *l);
int keys_sign(loyalty_ledger *l, const unsigned char hash[HASH_BYTES],
              unsigned char sig[crypto_sign_BYTES]);
void keys_wipe(loyalty_ledger *l);
void key_id_of(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
               char key_id[LOYALTY_KEY_ID_HEX + 1]);
int keys_record(loyalty_ledger *l, const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                int64_t from_seq);
int genesis_apply(loyalty_ledger *l, const unsigned char public_key[crypto_sign_PUBLICKEYBYTES]);
int key_rotation_apply(loyalty_ledger *l, const unsigned char new_public_key[crypto_sign_PUBLICKEYBYTES]);

/* --- audit.c ------------------------------------------------------------- */
int audit_append(loyalty_ledger *l, const char *action, json_t *payload);
int audit_insert_row(loyalty_ledger *l, const audit_row *row);
void audit_entry_hash(unsigned char out[HASH_BYTES], int64_t seq, int64_t ts_us,
                      const char *actor, const char *action, const char *payload,
                      size_t payload_length, const unsigned char prev_hash[HASH_BYTES]);
char *json_compact(const json_t *value);
/* json_loads that survives allocation failure (json_parse.c): *out_of_memory is set when
 * memory ran out, whatever the text. */
json_t *json_parse(const char *text, size_t flags, json_error_t *error, int *out_of_memory);
void jset(json_t *object, const char *key, json_t *value);
void jappend(json_t *array, json_t *value);
void jupdate(json_t *object, json_t *other);
void json_checks_reset(void);
int json_checks_failed(void);

/* --- export.c ------------------------------------------------------------ */
void checkpoint_digest(unsigned char out[HASH_BYTES], int64_t seq, int64_t ts_us,
                       const unsigned char hash[HASH_BYTES]);

/* --- program.c ----------------------------------------------------------- */
int program_parse(loyalty_ledger *l, const char *json_text, program_rules *rules);
void program_rules_clear(program_rules *rules);
json_t *program_to_json(const program_rules *rules, int every_field);
int program_current(loyalty_ledger *l, program_rules *rules);
int program_apply(loyalty_ledger *l, const program_rules *rules, int64_t *version_out);
int earn_points(const program_rules *rules, int64_t amount_minor, int64_t multiplier_permille,
                int64_t *points_out);

/* --- ladder.c ------------------------------------------------------------ */
int ladder_valid_period(const char *period);
int ladder_parse_field(loyalty_ledger *l, const char *key, json_t *value, program_rules *rules);
int ladder_check(loyalty_ledger *l, const program_rules *rules);
int ladder_store(loyalty_ledger *l, int64_t version, const program_rules *rules);

/* --- members.c ----------------------------------------------------------- */
/* A member's open lots seen at one moment (lots.c). */
typedef struct lot_sums {
    int64_t available; /* spendable now */
    int64_t pending;   /* not yet spendable */
    int64_t expired;   /* past expiry, not yet swept */
    int64_t next_expiry_us;     /* the earliest expiry still ahead, 0 when none */
    int64_t next_expiry_points; /* the points that expire then */
    int64_t next_event_us;      /* when the figures above next change by time alone
                                   (a lot becomes spendable or expires), 0 when never */
} lot_sums;

typedef struct member_row {
    int64_t id;
    char external_id[LOYALTY_ID_MAX + 1];
    char status[16];
    char tier[LOYALTY_CODE_MAX + 1];
    int64_t balance;
    int64_t debt;
    int64_t lots_remaining; /* sum of the member's lots' remainders */
    int64_t created_us;
    int64_t last_journal_tx; /* the newest of the member's journal rows (0: none) */
    /* The lots figures kept on the row (schema 0007): they hold at any time t with
     * lots_at_us <= t < lots_until_us; lots_until_us 0 means none are kept
     * (no row has 0 since schema 0008: a new member keeps zeros for ever). */
    lot_sums lots;
    int64_t lots_at_us;
    int64_t lots_until_us;
} member_row;
int member_find(loyalty_ledger *l, const char *external_id, member_row *row);
int member_find_by_id(loyalty_ledger *l, int64_t id, member_row *row);
int member_add_apply(loyalty_ledger *l, const char *external_id, int *replayed);
int member_info(loyalty_ledger *l, const member_row *row, loyalty_member_info *info);
int member_set_balance(loyalty_ledger *l, const member_row *member);

/* --- lots.c -------------------------------------------------------------- */
int lots_sum(loyalty_ledger *l, int64_t member_id, int64_t now_us, lot_sums *sums);
/* Whether the figures kept on the member row hold at now_us. */
int lots_figures_hold(const member_row *member, int64_t now_us);
/* The points a member's open holds reserve at a moment: one place says what counts as held.
 * member and now are SQL expressions (a parameter, a column). */
#define SQL_HELD_POINTS(member, now)                                                               \
    "(SELECT COALESCE(SUM(points), 0) FROM holds WHERE member_id = " member                       \
    " AND status = 'open' AND expires_us > " now ")"
/* holds.c: the points a member's open holds reserve at now_us. */
int holds_held(loyalty_ledger *l, int64_t member_id, int64_t now_us, int64_t *held);
int lots_credit(loyalty_ledger *l, member_row *member, int64_t tx, int64_t points,
                int64_t available_us, int64_t expires_us);
int lots_debit(loyalty_ledger *l, member_row *member, int64_t points, int64_t prefer_tx,
               int allow_debt);
int lots_remove(loyalty_ledger *l, member_row *member, int expired_only, int64_t points);

/* --- fingerprint.c ------------------------------------------------------- */
typedef struct fingerprint {
    crypto_generichash_state state;
} fingerprint;
void fp_start(fingerprint *fp, const char *kind);
void fp_text(fingerprint *fp, const char *s);
void fp_integer(fingerprint *fp, int64_t v);
void fp_finish(fingerprint *fp, unsigned char out[REQUEST_HASH_BYTES]);

/* --- posting.c ----------------------------------------------------------- */
enum point_move {
    MOVE_DEFAULT = 0, /* credit: a new lot; debit: spendable lots, first-expiring-first */
    MOVE_CLAWBACK,    /* debit preferring prefer_tx's lot, pending lots too, shortfall to debt */
    MOVE_EXPIRED,     /* remove the expired remainders */
    MOVE_ALL          /* remove every remainder (closing) */
};
typedef struct journal_row {
    const char *kind;
    const char *ref;
    const unsigned char *request_hash;
    int64_t points;              /* signed delta */
    int64_t amount_minor;        /* 0: none */
    int64_t multiplier_permille; /* 0: none */
    const char *reason;
    const char *note;
    int64_t reverses_tx;         /* 0: none */
    int64_t order_tx;            /* refunds: the purchase award; 0: none */
    const char *order_ref;       /* refunds: its reference */
    int64_t prefer_tx;           /* debits: the lot to take from first; 0: none */
    enum point_move move;
    json_t *extra;               /* borrowed: more payload fields, after the common ones */
} journal_row;
int posting_result(loyalty_ledger *l, const member_row *member, int64_t tx, int64_t points,
                   int64_t multiplier, int64_t reversed_tx, int64_t audit_seq, int replayed,
                   loyalty_posting *result);
int posting_begin(loyalty_ledger *l, const char *kind, const char *ref,
                  const unsigned char hash[REQUEST_HASH_BYTES], loyalty_posting *result);
int posting_member(loyalty_ledger *l, const char *external_id, member_row *member);
int posting_require_active(loyalty_ledger *l, const member_row *member);
int posting_require_available(loyalty_ledger *l, const member_row *member, int64_t points,
                              int64_t own_hold);
void payload_text(json_t *p, const char *key, const char *value);
int posting_write(loyalty_ledger *l, member_row *member, const journal_row *row, const char *action,
                  loyalty_posting *result);

/* --- journal.c ----------------------------------------------------------- */
int award_apply(loyalty_ledger *l, const loyalty_award_request *request, loyalty_posting *result);
int redeem_apply(loyalty_ledger *l, const loyalty_redeem_request *request, loyalty_posting *result);
int adjust_apply(loyalty_ledger *l, const loyalty_adjust_request *request, loyalty_posting *result);
int reverse_apply(loyalty_ledger *l, const loyalty_reverse_request *request, loyalty_posting *result);

/* --- refunds.c, holds.c, expiry.c, status.c ------------------------------- */
int refund_apply(loyalty_ledger *l, const loyalty_refund_request *request, loyalty_posting *result);
int hold_apply(loyalty_ledger *l, const loyalty_hold_request *request, loyalty_hold_info *result);
int capture_apply(loyalty_ledger *l, const char *ref, int64_t points, loyalty_hold_info *result);
int release_apply(loyalty_ledger *l, const char *ref, loyalty_hold_info *result);
int hold_lapse_apply(loyalty_ledger *l, const char *ref);
int expire_member_apply(loyalty_ledger *l, const char *external_id, int64_t *expired);
int status_apply(loyalty_ledger *l, const char *action, const char *member, const char *reason,
                 int *replayed, int64_t *forfeited);
void operation_next(loyalty_ledger *l);

/* --- tiers.c, evaluate.c, benefits.c ------------------------------------- */
typedef struct tier_row {
    char code[LOYALTY_CODE_MAX + 1];
    int64_t position;
    int64_t threshold;
    int64_t multiplier_permille;
} tier_row;
int tier_lookup(loyalty_ledger *l, int64_t version, const char *code, tier_row *t);
int tier_effective(loyalty_ledger *l, const member_row *member, int64_t version, tier_row *t);
int tier_qualifying(loyalty_ledger *l, int64_t member_id, int64_t now_us, int64_t window_days,
                    int64_t *points);
int tier_multiplier(loyalty_ledger *l, const member_row *member, const program_rules *rules,
                    int64_t *multiplier);
int tier_upgrade_for(loyalty_ledger *l, const member_row *member, const program_rules *rules,
                     int64_t points, char to[LOYALTY_CODE_MAX + 1], int64_t *qualifying);
int tier_record(loyalty_ledger *l, member_row *member, const char *to, const char *cause,
                int64_t qualifying, const char *reason, int64_t audit_seq);
int tier_evaluate_apply(loyalty_ledger *l, const char *external_id, int *moved);
int tier_set_apply(loyalty_ledger *l, const char *external_id, const char *code, const char *reason);
int benefit_period(const char *period, int64_t now_us, int64_t *start_us, int64_t *end_us);
int claim_apply(loyalty_ledger *l, const loyalty_claim_request *request, loyalty_claim_result *result);

/* --- operators.c, approvals.c -------------------------------------------- */
enum capability {
    CAP_READ = 1u << 0,
    CAP_ADD_MEMBER = 1u << 1,
    CAP_EARN = 1u << 2,
    CAP_SPEND = 1u << 3,
    CAP_REFUND = 1u << 4,
    CAP_CLAIM = 1u << 5,
    CAP_ADJUST = 1u << 6,
    CAP_REVERSE = 1u << 7,
    CAP_STATUS = 1u << 8,
    CAP_SET_TIER = 1u << 9,
    CAP_APPROVE = 1u << 10,
    CAP_EXPORT = 1u << 11,
    CAP_SWEEP = 1u << 12,
    CAP_ADMIN = 1u << 13
};
int role_valid(const char *role);
int authorize_actor(loyalty_ledger *l, const char *actor, unsigned capability);
int write_begin_as(loyalty_ledger *l, unsigned capability);
int read_begin_as(loyalty_ledger *l, unsigned capability);
unsigned capability_of_action(const char *action, const char *cause);
int operator_add_apply(loyalty_ledger *l, const char *name, const char *role, int *replayed);
int operator_disable_apply(loyalty_ledger *l, const char *name, int *replayed);
int approval_request(loyalty_ledger *l, member_row *member, const loyalty_adjust_request *r,
                     const unsigned char hash[REQUEST_HASH_BYTES], loyalty_posting *result);
int approval_previous(loyalty_ledger *l, const char *ref, const unsigned char hash[REQUEST_HASH_BYTES],
                      loyalty_posting *result);
int approve_apply(loyalty_ledger *l, int64_t approval, loyalty_posting *result);
int reject_apply(loyalty_ledger *l, int64_t approval, const char *reason);

/* --- replay.c ------------------------------------------------------------ */
int replay_entry(loyalty_ledger *l, const audit_row *source);

/* --- sigpool.c ----------------------------------------------------------- */
typedef struct verify_pool verify_pool;
verify_pool *verify_pool_start(void);
void verify_pool_submit(verify_pool *pool, int64_t seq, const unsigned char hash[HASH_BYTES],
                        const unsigned char sig[crypto_sign_BYTES],
                        const unsigned char key[crypto_sign_PUBLICKEYBYTES]);
int64_t verify_pool_finish(verify_pool *pool);
typedef struct checkpointer checkpointer;
void checkpointer_attach(loyalty_ledger *l);

/* vfs.c: the VFS name every connection opens with (NULL: SQLite's default);
 * the reads that failed on a connection's database and WAL files (SQLite's
 * integrity check reports some as damage); and, for the tests, the writes
 * and bytes that reached WAL files so far. */
const char *vfs_name(void);
int64_t vfs_read_errors(sqlite3 *db);
void vfs_wal_writes(int64_t *calls, int64_t *bytes);
void checkpointer_stop(loyalty_ledger *l);
int64_t checkpointer_runs(const loyalty_ledger *l);

typedef struct batch_signer batch_signer;
batch_signer *signer_start(loyalty_ledger *l, size_t capacity);
/* Queues row for signing and storing; on success takes ownership of row->payload
 * (malloc'd). The strings actor, action and key_id must outlive the batch. */
int signer_submit(batch_signer *s, const audit_row *row);
size_t signer_mark(batch_signer *s);
void signer_discard_since(batch_signer *s, size_t mark);
int signer_finish(batch_signer *s, loyalty_ledger *l, int write);

/* --- verify_tables.c ----------------------------------------------------- */
int verify_schema(loyalty_ledger *l, loyalty_ledger *scratch, loyalty_verify_report *report);
int verify_tables(loyalty_ledger *l, loyalty_ledger *scratch, loyalty_verify_report *report);

/* Checked arithmetic: return 0 on success, 1 on overflow. */
/* Copies text into out (size bytes), truncating like snprintf("%s") without its cost. */
static inline void text_copy(char *out, size_t size, const char *text)
{
    size_t n = text ? strnlen(text, size - 1) : 0;
    memcpy(out, text ? text : "", n);
    out[n] = '\0';
}

static inline int add_i64(int64_t a, int64_t b, int64_t *out) { return __builtin_add_overflow(a, b, out); }
static inline int sub_i64(int64_t a, int64_t b, int64_t *out) { return __builtin_sub_overflow(a, b, out); }

#endif
