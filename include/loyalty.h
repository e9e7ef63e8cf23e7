/*
 * loyalty.h - the whole public API of libloyalty, a loyalty and membership
 * points ledger.
 *
 * Everything a program can do with a ledger is declared here; anything not in
 * this header is private to the library. The `loyalty` command-line tool uses
 * nothing else.
 *
 * Conventions
 * - Every function that can fail returns an int result code (enum
 *   loyalty_result). LOYALTY_OK is 0. Codes are never renumbered.
 * - When a function fails, the handle keeps a one-line message with the
 *   detail (which field, which member); read it with loyalty_errmsg().
 * - Strings passed in are borrowed for the duration of the call only.
 *   Strings handed to callbacks are valid only during the callback.
 *   Memory returned by the library (char ** outputs) is released with
 *   loyalty_free().
 * - Points are int64_t integers; money is int64_t minor units (12999 = 129.99).
 *   Every arithmetic step is checked for overflow.
 * - Every state change is one SQLite transaction (BEGIN IMMEDIATE) holding the
 *   change and exactly one signed audit entry. A failed call changes nothing.
 * - Operations carrying a reference (`ref`) are idempotent: the same kind and
 *   reference with the same parameters returns the original result with
 *   `replayed` set; with different parameters it fails with
 *   LOYALTY_ERR_CONFLICT. This holds across processes.
 *
 * Operators and permissions: every call acts as the handle's actor, who must
 * be an active operator whose role allows the call, else
 * LOYALTY_ERR_NOT_PERMITTED and nothing changes (loyalty_verify is open to
 * anyone holding the file). Roles: "checkout" adds members, awards, redeems,
 * holds, captures, releases, refunds and claims benefits; "support" adds
 * members, adjusts, reverses, freezes/unfreezes/closes members and sets
 * tiers; "supervisor" does what support does and approves; "auditor" exports
 * and verifies; "admin" does everything, including program loads, operators,
 * key rotation, checkpoints, the expiry sweep and tier evaluation. Every role
 * reads (balances, history, statistics, tiers, benefits, the program). A
 * ledger with no operator at all (made before operators existed) is open.
 *
 * Thread safety: a loyalty_ledger handle must be used by one thread at a time.
 * Separate handles (in one process or many) on the same database may be used
 * concurrently; SQLite's locking serialises writers and the busy timeout
 * absorbs contention. loyalty_strerror() and loyalty_result_name() are
 * thread-safe.
 *
 * jansson: the library parses JSON with jansson, whose parser is not safe
 * when an allocation fails. On its first parse the library therefore chains
 * its own functions in front of jansson's allocator (json_set_alloc_funcs),
 * so that a parse that runs out of memory is unwound and reported as
 * LOYALTY_ERR_NOMEM. They forward everything else unchanged. A program that
 * installs its own jansson allocator must do so before its first call into
 * the library.
 *
 * SQLite: the library opens every database through its own VFS, named
 * "loyalty" (not made the default), which it registers when it first opens a
 * ledger, around the VFS that is the default at that moment. It forwards
 * every call, except that a WAL file's writes are gathered into 64 KiB ones
 * (one buffer per open WAL file) and written before any sync, read or other
 * call on that file; durability is unchanged. A program that registers its
 * own default VFS must do so before its first call into the library.
 */
#ifndef LOYALTY_H
#define LOYALTY_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(LOYALTY_BUILDING)
#define LOYALTY_API __attribute__((visibility("default")))
#else
#define LOYALTY_API
#endif

#if defined(__GNUC__)
#define LOYALTY_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define LOYALTY_WARN_UNUSED
#endif

/* Library version, as a string and as a number (major*10000 + minor*100 + patch). */
#define LOYALTY_VERSION_STRING "0.1.0"
#define LOYALTY_VERSION_NUMBER 100

/* Sizes of identifiers (without the terminating NUL). */
#define LOYALTY_ID_MAX 64          /* member ids, references, actors */
#define LOYALTY_CODE_MAX 64        /* reason codes, kinds, currency */
#define LOYALTY_NOTE_MAX 256       /* free-text notes and award reasons */
#define LOYALTY_PUBLIC_KEY_HEX 64  /* Ed25519 public key in hex */
#define LOYALTY_KEY_ID_HEX 16      /* key id in hex */
#define LOYALTY_HASH_HEX 64        /* BLAKE2b-256 hash in hex */

/*
 * Result codes. The comment after each says when it is returned and which
 * exit code the `loyalty` tool maps it to.
 */
enum loyalty_result {
    LOYALTY_OK = 0,                 /* success (exit 0) */
    LOYALTY_ERR_INTERNAL = 1,       /* a broken invariant or a bug (exit 1) */
    LOYALTY_ERR_STORAGE = 2,        /* SQLite or file-system failure (exit 1) */
    LOYALTY_ERR_NOMEM = 3,          /* out of memory (exit 1) */
    LOYALTY_ERR_MISUSE = 4,         /* API misuse: NULL handle or argument (exit 2) */
    LOYALTY_ERR_INVALID = 5,        /* invalid input: bad id, amount, field (exit 2) */
    LOYALTY_ERR_NO_LEDGER = 6,      /* the database does not exist or is not a ledger (exit 3) */
    LOYALTY_ERR_NOT_FOUND = 7,      /* unknown member, transaction or entry (exit 3) */
    LOYALTY_ERR_INSUFFICIENT = 8,   /* not enough available points (exit 4) */
    LOYALTY_ERR_CONFLICT = 9,       /* reference reused with other parameters (exit 5) */
    LOYALTY_ERR_EXISTS = 10,        /* the ledger is already initialised (exit 5) */
    LOYALTY_ERR_STATE = 11,         /* wrong state: already reversed, not reversible (exit 5) */
    LOYALTY_ERR_NOT_PERMITTED = 12, /* not allowed for this actor or member (exit 6) */
    LOYALTY_ERR_KEY = 13,           /* key file missing, insecure or not the ledger's key (exit 6) */
    LOYALTY_ERR_VERIFY = 14,        /* audit verification failed (exit 7) */
    LOYALTY_ERR_BUSY = 15           /* the database stayed locked past the busy timeout (exit 1) */
};

/* An open ledger. Opaque. */
typedef struct loyalty_ledger loyalty_ledger;

/* A short English description of a result code. Never NULL. */
LOYALTY_API const char *loyalty_strerror(int rc);

/* A stable snake_case name for a result code ("not_found"), for JSON output. Never NULL. */
LOYALTY_API const char *loyalty_result_name(int rc);

/*
 * The detail message of the last failed call on this handle (one line, no
 * trailing newline), or "" when the last call succeeded. Valid until the next
 * call on the handle. Returns a generic text when ledger is NULL.
 */
LOYALTY_API const char *loyalty_errmsg(const loyalty_ledger *ledger);

/* Releases memory returned by the library. NULL is a no-op. */
LOYALTY_API void loyalty_free(void *memory);

/* ------------------------------------------------------------------------ */
/* Opening and creating                                                      */
/* ------------------------------------------------------------------------ */

typedef struct loyalty_open_options {
    const char *db_path;  /* required: path of the SQLite database file */
    const char *key_path; /* secret key file; NULL means db_path with ".key" appended */
    const char *actor;    /* who acts: [A-Za-z0-9._:@-]{1,64}; required for writes */
    int64_t now_us;       /* 0: the system clock; otherwise a fixed time in microseconds
                             since the Unix epoch (UTC), used for every operation */
} loyalty_open_options;

/*
 * Opens an existing ledger. Reading needs no key; the secret key is loaded on
 * the first write and checked to be the key in force in the audit chain.
 *
 * *out is set to a handle even on failure (unless memory ran out, when it is
 * NULL) so that loyalty_errmsg() can explain; the caller always closes it.
 *
 * Returns LOYALTY_OK, LOYALTY_ERR_MISUSE (NULL out/options/db_path),
 * LOYALTY_ERR_INVALID (bad actor), LOYALTY_ERR_NO_LEDGER (missing file, not a
 * ledger, or a newer schema), LOYALTY_ERR_STORAGE, LOYALTY_ERR_NOMEM.
 */
LOYALTY_API int loyalty_open(loyalty_ledger **out, const loyalty_open_options *options)
    LOYALTY_WARN_UNUSED;

/*
 * Creates a new ledger: the database (WAL mode) with every schema migration
 * applied, the signing key pair when the key file does not exist (mode 0600),
 * the genesis audit entry naming the public key, and the program.
 *
 * program_json is the program as JSON text, or NULL for the default program
 * (see loyalty_program_load). The handle semantics are those of loyalty_open.
 *
 * Returns LOYALTY_OK, LOYALTY_ERR_EXISTS (the database is already a ledger;
 * nothing is touched), LOYALTY_ERR_INVALID (bad program: the message names
 * the field), LOYALTY_ERR_KEY (an existing key file is unreadable, malformed
 * or group/world-readable), LOYALTY_ERR_STORAGE (also when the key file cannot
 * be written: no space, no such directory, read-only), LOYALTY_ERR_NOMEM,
 * LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_create(loyalty_ledger **out, const loyalty_open_options *options,
                               const char *program_json) LOYALTY_WARN_UNUSED;

/* Closes the handle and wipes any key material it held. NULL is a no-op. */
LOYALTY_API void loyalty_close(loyalty_ledger *ledger);

/* ------------------------------------------------------------------------ */
/* Program                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Loads a new program (the earning rules) from JSON text. Fields:
 *   currency        string, 3 upper-case letters       (default "EUR")
 *   minor_per_unit  integer 1..1000000, minor units in one unit of currency (default 100)
 *   points_per_unit integer 0..1000000, points per unit of currency        (default 1)
 *   pending_days    integer 0..3650, days before purchase points are spendable (default 0)
 *   expiry_days     integer 0..36500, days after which a lot expires; 0 never (default 0)
 *   hold_ttl_seconds integer 60..2592000, how long a hold lives            (default 900)
 *   tier_window_days integer 1..3650, the rolling qualification window       (default 365)
 *   approval_threshold integer 0..10^12: adjustments larger than this (in absolute points)
 *                   wait for a second operator's approval; 0 means never   (default 0)
 *   tiers           array of {code, name, threshold, multiplier_permille, benefits: [codes]},
 *                   at most 32, thresholds strictly increasing from 0       (default none)
 *   benefits        array of {code, name, limit, period}: limit claims (1..1000000, omitted:
 *                   unlimited) per calendar period "day", "week" (ISO, from Monday),
 *                   "month" or "year" in UTC; each must be granted by a tier (default none)
 * Omitted fields take their defaults; unknown or ill-typed fields are
 * rejected with LOYALTY_ERR_INVALID and a message naming the field.
 * On success *version_out (if not NULL) is the new program version.
 * Returns LOYALTY_OK, LOYALTY_ERR_INVALID, LOYALTY_ERR_KEY, LOYALTY_ERR_STORAGE,
 * LOYALTY_ERR_BUSY, LOYALTY_ERR_NOMEM, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_program_load(loyalty_ledger *ledger, const char *program_json,
                                     int64_t *version_out) LOYALTY_WARN_UNUSED;

/*
 * The program in force as compact JSON with every field present, plus
 * "version". *json_out is freed with loyalty_free().
 * Returns LOYALTY_OK, LOYALTY_ERR_STORAGE, LOYALTY_ERR_NOMEM, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_program_show(loyalty_ledger *ledger, char **json_out) LOYALTY_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Members                                                                   */
/* ------------------------------------------------------------------------ */

/* A member's state and points. `available` is what can be spent now. */
typedef struct loyalty_member_info {
    char member[LOYALTY_ID_MAX + 1]; /* external id */
    char status[16];                 /* "active", "frozen" or "closed" */
    char tier[LOYALTY_CODE_MAX + 1]; /* tier code, "" when the program has no tiers */
    int64_t balance;                 /* sum of every journal delta */
    int64_t available;               /* balance - pending - held - expired, never below 0 */
    int64_t pending;                 /* credited but not yet spendable */
    int64_t held;                    /* reserved by open holds (lapsed ones excluded) */
    int64_t expired;                 /* past expiry, not yet swept by loyalty_expire */
    int64_t debt;                    /* clawed back beyond what was left; repaid by credits */
    int64_t next_expiry_points;      /* points of the next lot to expire, 0 when none */
    int64_t next_expiry_us;          /* when they expire, 0 when none */
    int64_t qualifying;              /* purchase points in the tier window (after refunds) */
    int64_t created_us;              /* when the member was added */
} loyalty_member_info;

/*
 * Adds a member with an opaque external id ([A-Za-z0-9._:-]{1,64}; no personal
 * data). Adding an existing id again succeeds with *replayed = 1 and changes
 * nothing. info and replayed may be NULL.
 * Returns LOYALTY_OK, LOYALTY_ERR_INVALID, LOYALTY_ERR_KEY, LOYALTY_ERR_STORAGE,
 * LOYALTY_ERR_BUSY, LOYALTY_ERR_NOMEM, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_member_add(loyalty_ledger *ledger, const char *member,
                                   loyalty_member_info *info, int *replayed) LOYALTY_WARN_UNUSED;

/*
 * Reads a member's state and balances at the handle's clock.
 * Returns LOYALTY_OK, LOYALTY_ERR_INVALID (bad id), LOYALTY_ERR_NOT_FOUND,
 * LOYALTY_ERR_STORAGE, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_member_get(loyalty_ledger *ledger, const char *member,
                                   loyalty_member_info *info) LOYALTY_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Postings: award, redeem, adjust, reverse                                  */
/* ------------------------------------------------------------------------ */

/* The outcome of any operation that changes a member's points. */
typedef struct loyalty_posting {
    int64_t tx;                      /* journal transaction id */
    char member[LOYALTY_ID_MAX + 1]; /* the member */
    int64_t points;                  /* signed delta applied to the balance */
    int replayed;                    /* 1 when the reference had already been applied */
    int64_t balance;                 /* balance after the call */
    int64_t available;               /* available after the call */
    int64_t multiplier_permille;     /* earn multiplier used (purchase awards; 1000 otherwise) */
    int64_t reversed_tx;             /* for a reversal: the transaction it compensates; else 0 */
    int64_t audit_seq;               /* the audit entry recording the operation */
    int pending_approval;            /* 1: an adjustment above the approval threshold was recorded,
                                        not applied (tx 0, points 0) until loyalty_approve */
    int64_t approval;                /* the approval request's id when pending_approval, else 0 */
} loyalty_posting;

/*
 * Award request. Exactly one of amount_minor (a purchase: points are
 * floor(amount * points_per_unit * multiplier_permille / (minor_per_unit * 1000)))
 * or points (an explicit bonus) is positive; the other is 0.
 */
typedef struct loyalty_award_request {
    const char *member;   /* external id */
    const char *ref;      /* idempotency reference [A-Za-z0-9._:-]{1,64} */
    int64_t amount_minor; /* purchase amount in minor units, 1..10^15, or 0 */
    int64_t points;       /* bonus points, 1..10^12, or 0 */
    const char *reason;   /* optional free text (no personal data), up to 256 bytes */
} loyalty_award_request;

/*
 * Credits points. A purchase worth 0 points still records the transaction.
 * Returns LOYALTY_OK, LOYALTY_ERR_INVALID, LOYALTY_ERR_NOT_FOUND (member),
 * LOYALTY_ERR_CONFLICT, LOYALTY_ERR_KEY, LOYALTY_ERR_STORAGE, LOYALTY_ERR_BUSY,
 * LOYALTY_ERR_NOMEM, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_award(loyalty_ledger *ledger, const loyalty_award_request *request,
                              loyalty_posting *result) LOYALTY_WARN_UNUSED;

typedef struct loyalty_redeem_request {
    const char *member;
    const char *ref;
    int64_t points; /* 1..10^12 */
} loyalty_redeem_request;

/*
 * Spends available points (oldest-expiring lots first).
 * Returns as loyalty_award, plus LOYALTY_ERR_INSUFFICIENT when fewer points
 * are available than requested.
 */
LOYALTY_API int loyalty_redeem(loyalty_ledger *ledger, const loyalty_redeem_request *request,
                               loyalty_posting *result) LOYALTY_WARN_UNUSED;

typedef struct loyalty_adjust_request {
    const char *member;
    const char *ref;
    int64_t points;     /* signed, non-zero, |points| <= 10^12 */
    const char *reason; /* required reason code [A-Za-z0-9._:-]{1,64} */
    const char *note;   /* optional free text (no personal data), up to 256 bytes */
} loyalty_adjust_request;

/*
 * A support correction. A negative adjustment needs that many available
 * points (LOYALTY_ERR_INSUFFICIENT otherwise). Other codes as loyalty_award.
 */
LOYALTY_API int loyalty_adjust(loyalty_ledger *ledger, const loyalty_adjust_request *request,
                               loyalty_posting *result) LOYALTY_WARN_UNUSED;

typedef struct loyalty_reverse_request {
    int64_t tx;         /* the transaction to compensate */
    const char *ref;
    const char *reason; /* required reason code */
} loyalty_reverse_request;

/*
 * Writes a compensating entry of the opposite sign for an earlier award,
 * redemption or adjustment. A transaction is reversed at most once. Reversing
 * a credit whose points were already spent leaves a recorded debt (negative
 * balance) that later credits repay.
 * Returns LOYALTY_ERR_NOT_FOUND (no such tx), LOYALTY_ERR_STATE (already
 * reversed, or a reversal itself), otherwise as loyalty_award.
 */
LOYALTY_API int loyalty_reverse(loyalty_ledger *ledger, const loyalty_reverse_request *request,
                                loyalty_posting *result) LOYALTY_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Points lifecycle: refunds, holds, expiry, member status                   */
/* ------------------------------------------------------------------------ */

typedef struct loyalty_refund_request {
    const char *member;
    const char *ref;        /* the refund's own reference */
    const char *order_ref;  /* the reference of the purchase award being refunded */
    int64_t amount_minor;   /* refunded amount, 1.. what is left of the order */
} loyalty_refund_request;

/*
 * Claws back the points a purchase award earned, in proportion to the
 * refunded amount: after all refunds of an order, floor(points * refunded /
 * amount) points have been taken back, so refunds adding up to the order's
 * amount take back exactly what it earned. Points come from the order's own
 * lot first (pending or not), then other lots first-expiring-first; what the
 * member already spent becomes debt (a negative balance).
 * Returns LOYALTY_OK, LOYALTY_ERR_NOT_FOUND (member, or no purchase award
 * order_ref for this member), LOYALTY_ERR_STATE (more than is left of the
 * order, or the order was reversed), LOYALTY_ERR_NOT_PERMITTED (closed
 * member), otherwise as loyalty_award.
 */
LOYALTY_API int loyalty_refund(loyalty_ledger *ledger, const loyalty_refund_request *request,
                               loyalty_posting *result) LOYALTY_WARN_UNUSED;

/* A hold's state after a hold, capture or release call. */
typedef struct loyalty_hold_info {
    char ref[LOYALTY_ID_MAX + 1];
    char member[LOYALTY_ID_MAX + 1];
    char status[16];     /* "open", "captured", "released" or "lapsed" */
    int64_t points;      /* reserved points */
    int64_t captured;    /* points debited by the capture, 0 otherwise */
    int64_t expires_us;  /* when an open hold lapses */
    int64_t tx;          /* journal transaction of the capture, 0 otherwise */
    int replayed;        /* 1 when a hold call repeated an earlier one */
    int64_t balance;     /* the member's balance after the call */
    int64_t available;   /* the member's available points after the call */
    int64_t held;        /* the member's held points after the call */
    int64_t audit_seq;
} loyalty_hold_info;

typedef struct loyalty_hold_request {
    const char *member;
    const char *ref;     /* the hold's reference, used again to capture or release */
    int64_t points;      /* 1..10^12 */
} loyalty_hold_request;

/*
 * Reserves available points for a checkout; they stay in the balance but
 * leave `available` until captured, released or lapsed (after the program's
 * hold_ttl_seconds). Idempotent by reference.
 * Returns LOYALTY_OK, LOYALTY_ERR_INSUFFICIENT, LOYALTY_ERR_NOT_PERMITTED
 * (frozen or closed member), LOYALTY_ERR_CONFLICT, otherwise as loyalty_award.
 */
LOYALTY_API int loyalty_hold(loyalty_ledger *ledger, const loyalty_hold_request *request,
                             loyalty_hold_info *result) LOYALTY_WARN_UNUSED;

/*
 * Debits points (1..the held amount; 0 means all of it) of an open hold and
 * frees the rest. Repeating a capture with the same points (a retry) answers
 * the first capture with replayed set; any other capture of a finished hold
 * is LOYALTY_ERR_STATE.
 * Returns LOYALTY_OK, LOYALTY_ERR_NOT_FOUND (no such hold),
 * LOYALTY_ERR_STATE (already captured, released or lapsed),
 * LOYALTY_ERR_INVALID (more than held), LOYALTY_ERR_NOT_PERMITTED (frozen or
 * closed member), LOYALTY_ERR_INSUFFICIENT (the reserved points expired
 * meanwhile), otherwise as loyalty_award.
 */
LOYALTY_API int loyalty_capture(loyalty_ledger *ledger, const char *ref, int64_t points,
                                loyalty_hold_info *result) LOYALTY_WARN_UNUSED;

/* Frees an open hold; a frozen member may release (it frees points, spends none).
 * Releasing a released hold again answers with replayed set.
 * Returns as loyalty_capture, without INSUFFICIENT and INVALID. */
LOYALTY_API int loyalty_release(loyalty_ledger *ledger, const char *ref,
                                loyalty_hold_info *result) LOYALTY_WARN_UNUSED;

typedef struct loyalty_expire_result {
    int64_t expired_points; /* points removed */
    int64_t members;        /* members who lost points */
    int64_t holds_lapsed;   /* holds past their time marked lapsed */
} loyalty_expire_result;

/* Progress of a long run: done out of total units of work. */
typedef void (*loyalty_progress_fn)(void *context, int64_t done, int64_t total);

/*
 * The expiry sweep: one `expire` entry per member with points past their
 * expiry (negative points), and one `hold_lapse` entry per hold past its
 * time. Expired points are never spendable whether or not this ran; the
 * sweep records their removal. Running it again changes nothing. Commits in
 * batches; progress (may be NULL) is called after each batch.
 * Returns LOYALTY_OK, LOYALTY_ERR_KEY, LOYALTY_ERR_STORAGE, LOYALTY_ERR_BUSY,
 * LOYALTY_ERR_NOMEM, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_expire(loyalty_ledger *ledger, loyalty_expire_result *result,
                               loyalty_progress_fn progress, void *context) LOYALTY_WARN_UNUSED;

/*
 * Member status changes, each audited with its reason code
 * ([A-Za-z0-9._:-]{1,64}). A frozen member still earns but cannot redeem,
 * hold or capture; a closed member can do nothing, and closing forfeits the
 * remaining points (a `forfeit` journal entry) and releases open holds.
 * Freezing a frozen member or unfreezing an active one changes nothing and
 * sets *replayed (may be NULL). info may be NULL.
 * Returns LOYALTY_OK, LOYALTY_ERR_INVALID, LOYALTY_ERR_NOT_FOUND,
 * LOYALTY_ERR_NOT_PERMITTED (the member is closed), LOYALTY_ERR_KEY,
 * LOYALTY_ERR_STORAGE, LOYALTY_ERR_BUSY, LOYALTY_ERR_NOMEM, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_member_freeze(loyalty_ledger *ledger, const char *member, const char *reason,
                                      loyalty_member_info *info, int *replayed) LOYALTY_WARN_UNUSED;
LOYALTY_API int loyalty_member_unfreeze(loyalty_ledger *ledger, const char *member,
                                        const char *reason, loyalty_member_info *info,
                                        int *replayed) LOYALTY_WARN_UNUSED;
/* Closing a closed member sets *replayed. *forfeited (may be NULL) gets the points forfeited. */
LOYALTY_API int loyalty_member_close(loyalty_ledger *ledger, const char *member, const char *reason,
                                     int64_t *forfeited, int *replayed) LOYALTY_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Tiers and benefits                                                        */
/* ------------------------------------------------------------------------ */

/* One tier of the ladder in force, for loyalty_tiers. Strings valid during the callback. */
typedef struct loyalty_tier_info {
    const char *code;
    const char *name;
    int64_t position;            /* 0 for the default (lowest) tier */
    int64_t threshold;           /* qualifying points needed */
    int64_t multiplier_permille; /* earn multiplier */
    const char *benefits;        /* benefit codes, comma-separated ("" when none) */
    int64_t members;             /* members currently in the tier */
} loyalty_tier_info;

typedef int (*loyalty_tier_fn)(void *context, const loyalty_tier_info *tier);

/* Lists the ladder, lowest first. Returns LOYALTY_OK, LOYALTY_ERR_STORAGE, LOYALTY_ERR_MISUSE. */
LOYALTY_API int loyalty_tiers(loyalty_ledger *ledger, loyalty_tier_fn callback, void *context)
    LOYALTY_WARN_UNUSED;

/* One change of a member's tier. cause: "upgrade" (an award crossed a threshold),
 * "evaluate" (loyalty_tier_evaluate) or "manual" (loyalty_tier_set). */
typedef struct loyalty_tier_change {
    const char *from;  /* NULL when the member had no tier */
    const char *to;
    const char *cause;
    int64_t qualifying; /* qualifying points at the change */
    const char *reason; /* NULL unless manual */
    int64_t ts_us;
    const char *actor;
    int64_t audit_seq;
} loyalty_tier_change;

typedef int (*loyalty_tier_change_fn)(void *context, const loyalty_tier_change *change);

/* Every tier change of a member, oldest first. Returns LOYALTY_OK, LOYALTY_ERR_INVALID,
 * LOYALTY_ERR_NOT_FOUND, LOYALTY_ERR_STORAGE, LOYALTY_ERR_MISUSE. */
LOYALTY_API int loyalty_tier_history(loyalty_ledger *ledger, const char *member,
                                     loyalty_tier_change_fn callback, void *context)
    LOYALTY_WARN_UNUSED;

/*
 * Puts a member in a tier by hand (audited with its reason code); the next
 * evaluation may move the member again. info may be NULL.
 * Returns LOYALTY_OK, LOYALTY_ERR_INVALID, LOYALTY_ERR_NOT_FOUND (member or
 * tier code), LOYALTY_ERR_NOT_PERMITTED (closed member), LOYALTY_ERR_KEY,
 * LOYALTY_ERR_STORAGE, LOYALTY_ERR_BUSY, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_tier_set(loyalty_ledger *ledger, const char *member, const char *tier,
                                 const char *reason, loyalty_member_info *info) LOYALTY_WARN_UNUSED;

typedef struct loyalty_evaluate_result {
    int64_t members;     /* members evaluated */
    int64_t upgraded;    /* moved up */
    int64_t downgraded;  /* moved down */
    int64_t placed;      /* had no tier of the ladder in force */
} loyalty_evaluate_result;

/*
 * The batch evaluation (e.g. nightly): every member who is not closed is put
 * in the tier their qualifying points reach now: down when they fell below
 * their tier's threshold, placed when their tier is not in the ladder.
 * Upgrades normally happen at once on the crossing award. Idempotent.
 * Commits in batches; progress (may be NULL) is called after each.
 * Returns LOYALTY_OK, LOYALTY_ERR_KEY, LOYALTY_ERR_STORAGE, LOYALTY_ERR_BUSY,
 * LOYALTY_ERR_NOMEM, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_tier_evaluate(loyalty_ledger *ledger, loyalty_evaluate_result *result,
                                      loyalty_progress_fn progress, void *context)
    LOYALTY_WARN_UNUSED;

/* A benefit of the member's tier, for loyalty_benefits. Strings valid during the callback. */
typedef struct loyalty_benefit_status {
    const char *code;
    const char *name;
    const char *period;      /* "day", "week", "month", "year"; NULL when unlimited */
    int64_t limit;           /* claims per period, 0 when unlimited */
    int64_t used;            /* claims in the current period (all claims when unlimited) */
    int64_t remaining;       /* limit - used, -1 when unlimited */
    int64_t period_start_us; /* the current period, 0 when unlimited */
    int64_t period_end_us;
} loyalty_benefit_status;

typedef int (*loyalty_benefit_fn)(void *context, const loyalty_benefit_status *benefit);

/* The benefits the member's tier grants, with this period's usage. Returns LOYALTY_OK,
 * LOYALTY_ERR_INVALID, LOYALTY_ERR_NOT_FOUND, LOYALTY_ERR_STORAGE, LOYALTY_ERR_MISUSE. */
LOYALTY_API int loyalty_benefits(loyalty_ledger *ledger, const char *member,
                                 loyalty_benefit_fn callback, void *context) LOYALTY_WARN_UNUSED;

typedef struct loyalty_claim_request {
    const char *member;
    const char *benefit; /* benefit code */
    const char *ref;     /* idempotency reference */
} loyalty_claim_request;

typedef struct loyalty_claim_result {
    char member[LOYALTY_ID_MAX + 1];
    char benefit[LOYALTY_CODE_MAX + 1];
    char ref[LOYALTY_ID_MAX + 1];
    int replayed;
    int64_t used;            /* claims in the claim's period, this one included */
    int64_t remaining;       /* -1 when unlimited */
    int64_t period_start_us; /* 0 when unlimited */
    int64_t audit_seq;
} loyalty_claim_result;

/*
 * Consumes one use of a benefit. Idempotent by reference.
 * Returns LOYALTY_OK, LOYALTY_ERR_INVALID, LOYALTY_ERR_NOT_FOUND (member or
 * benefit), LOYALTY_ERR_NOT_PERMITTED (the tier does not grant it; frozen or
 * closed member), LOYALTY_ERR_INSUFFICIENT (used up this period),
 * LOYALTY_ERR_CONFLICT, LOYALTY_ERR_KEY, LOYALTY_ERR_STORAGE, LOYALTY_ERR_BUSY,
 * LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_benefit_claim(loyalty_ledger *ledger, const loyalty_claim_request *request,
                                      loyalty_claim_result *result) LOYALTY_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Operators and approvals                                                   */
/* ------------------------------------------------------------------------ */

/* Roles, as the strings the API takes. */
#define LOYALTY_ROLE_CHECKOUT "checkout"
#define LOYALTY_ROLE_SUPPORT "support"
#define LOYALTY_ROLE_SUPERVISOR "supervisor"
#define LOYALTY_ROLE_AUDITOR "auditor"
#define LOYALTY_ROLE_ADMIN "admin"

/*
 * Registers an operator (name as an actor: [A-Za-z0-9._:@-]{1,64}) with a
 * role. Adding an existing active operator with the same role sets *replayed
 * (may be NULL); with another role it is LOYALTY_ERR_CONFLICT; a disabled
 * one is LOYALTY_ERR_STATE. Admin only.
 * Returns LOYALTY_OK, LOYALTY_ERR_INVALID, LOYALTY_ERR_CONFLICT,
 * LOYALTY_ERR_STATE, LOYALTY_ERR_NOT_PERMITTED, LOYALTY_ERR_KEY,
 * LOYALTY_ERR_STORAGE, LOYALTY_ERR_BUSY, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_operator_add(loyalty_ledger *ledger, const char *name, const char *role,
                                     int *replayed) LOYALTY_WARN_UNUSED;

/* Disables an operator for good (disabling again sets *replayed). An admin cannot disable
 * themselves. Returns as loyalty_operator_add, plus LOYALTY_ERR_NOT_FOUND. */
LOYALTY_API int loyalty_operator_disable(loyalty_ledger *ledger, const char *name, int *replayed)
    LOYALTY_WARN_UNUSED;

typedef struct loyalty_operator_info {
    const char *name;
    const char *role;
    const char *status;     /* "active" or "disabled" */
    int64_t created_us;
    const char *created_by;
} loyalty_operator_info;

typedef int (*loyalty_operator_fn)(void *context, const loyalty_operator_info *operator_info);

/* Lists every operator by name. Returns LOYALTY_OK, LOYALTY_ERR_NOT_PERMITTED,
 * LOYALTY_ERR_STORAGE, LOYALTY_ERR_MISUSE. */
LOYALTY_API int loyalty_operators(loyalty_ledger *ledger, loyalty_operator_fn callback, void *context)
    LOYALTY_WARN_UNUSED;

/*
 * Applies a pending adjustment: the acting operator must be a supervisor or
 * an admin and not the one who requested it. result is the adjustment's
 * posting. Returns LOYALTY_OK, LOYALTY_ERR_NOT_FOUND, LOYALTY_ERR_STATE (not
 * pending any more), LOYALTY_ERR_NOT_PERMITTED (role, self-approval, closed
 * member), LOYALTY_ERR_INSUFFICIENT (a debit the member can no longer
 * cover), LOYALTY_ERR_KEY, LOYALTY_ERR_STORAGE, LOYALTY_ERR_BUSY,
 * LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_approve(loyalty_ledger *ledger, int64_t approval, loyalty_posting *result)
    LOYALTY_WARN_UNUSED;

/* Drops a pending adjustment with a reason code (supervisor or admin; the requester may
 * withdraw their own). Returns as loyalty_approve, without INSUFFICIENT. */
LOYALTY_API int loyalty_reject(loyalty_ledger *ledger, int64_t approval, const char *reason)
    LOYALTY_WARN_UNUSED;

typedef struct loyalty_approval_info {
    int64_t id;
    const char *member;
    const char *ref;
    int64_t points;
    const char *reason;
    const char *note;          /* NULL when none */
    const char *status;        /* "pending", "approved" or "rejected" */
    const char *requested_by;
    int64_t requested_us;
    const char *decided_by;    /* NULL while pending */
} loyalty_approval_info;

typedef int (*loyalty_approval_fn)(void *context, const loyalty_approval_info *approval);

/* Lists approval requests, oldest first: only pending ones unless all is non-zero.
 * Returns LOYALTY_OK, LOYALTY_ERR_NOT_PERMITTED, LOYALTY_ERR_STORAGE, LOYALTY_ERR_MISUSE. */
LOYALTY_API int loyalty_approvals(loyalty_ledger *ledger, int all, loyalty_approval_fn callback,
                                  void *context) LOYALTY_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Batches and import                                                        */
/* ------------------------------------------------------------------------ */

/* Operations a batch can carry. Values are never renumbered. */
typedef enum loyalty_operation_kind {
    LOYALTY_OP_MEMBER_ADD = 1,
    LOYALTY_OP_AWARD = 2,
    LOYALTY_OP_REDEEM = 3,
    LOYALTY_OP_ADJUST = 4,
    LOYALTY_OP_REVERSE = 5,
    LOYALTY_OP_REFUND = 6,
    LOYALTY_OP_HOLD = 7,
    LOYALTY_OP_CAPTURE = 8,
    LOYALTY_OP_RELEASE = 9,
    LOYALTY_OP_CLAIM = 10
} loyalty_operation_kind;

/*
 * One operation of a batch: the fields its kind uses, as for the single
 * calls (member_add: member; award: member, ref, amount_minor or points,
 * reason; redeem: member, ref, points; adjust: member, ref, points, reason,
 * note; reverse: tx, ref, reason; refund: member, ref, order, amount_minor;
 * hold: member, ref, points; capture: ref, points (0: all); release: ref;
 * claim: member, benefit, ref). Unused fields are NULL or 0.
 */
typedef struct loyalty_operation {
    loyalty_operation_kind kind;
    const char *member;
    const char *ref;
    int64_t amount_minor;
    int64_t points;
    int64_t tx;
    const char *reason;
    const char *note;
    const char *order;
    const char *benefit;
} loyalty_operation;

/* The outcome of one operation of a batch. */
typedef struct loyalty_operation_result {
    int rc;                 /* LOYALTY_OK or why this operation failed */
    int replayed;           /* 1 when it repeated an operation already applied */
    int pending_approval;   /* an adjustment waiting for approval (approval holds its id) */
    int64_t approval;
    int64_t tx;             /* journal transaction, 0 when none */
    int64_t points;         /* signed points delta, 0 when none */
    int64_t balance;        /* the member's balance after it, when it names a member */
    char message[256];      /* on failure: the one-line reason */
} loyalty_operation_result;

/*
 * Applies up to 10000 operations in ONE transaction (one fsync), each in its
 * own savepoint: an operation that fails is rolled back alone and reported in
 * its result; the others apply. Each applied operation has its own audit
 * entry, exactly as if called singly, and the same permission checks.
 * Returns LOYALTY_OK when the batch committed (look at each result),
 * otherwise the batch-level failure (nothing applied): LOYALTY_ERR_MISUSE,
 * LOYALTY_ERR_INVALID (count out of range), LOYALTY_ERR_KEY,
 * LOYALTY_ERR_STORAGE, LOYALTY_ERR_BUSY, LOYALTY_ERR_NOMEM.
 */
LOYALTY_API int loyalty_apply_batch(loyalty_ledger *ledger, const loyalty_operation *operations,
                                    size_t count, loyalty_operation_result *results)
    LOYALTY_WARN_UNUSED;

/* Storage for one parsed import line: the operation points into the buffers. */
typedef struct loyalty_import_line {
    loyalty_operation operation;
    char member[LOYALTY_ID_MAX + 1];
    char ref[LOYALTY_ID_MAX + 1];
    char reason[LOYALTY_NOTE_MAX + 1];
    char note[LOYALTY_NOTE_MAX + 1];
    char order[LOYALTY_ID_MAX + 1];
    char benefit[LOYALTY_CODE_MAX + 1];
} loyalty_import_line;

/*
 * Parses one JSON Lines import record: {"op": NAME, ...} where NAME is
 * member_add, award, redeem, adjust, reverse, refund, hold, capture, release
 * or claim, and the other fields are the command's options by their CLI
 * names (member, ref, amount, points, tx, reason, note, order, benefit).
 * Unknown fields, wrong types and missing required fields are refused with a
 * message naming the field (written to error, of error_size bytes).
 * Returns LOYALTY_OK or LOYALTY_ERR_INVALID; LOYALTY_ERR_NOMEM when memory
 * ran out; LOYALTY_ERR_MISUSE on NULLs.
 * Pure: touches no ledger, thread-safe.
 */
LOYALTY_API int loyalty_import_parse(const char *json_line, loyalty_import_line *out, char *error,
                                     size_t error_size) LOYALTY_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Reading: history and statistics                                           */
/* ------------------------------------------------------------------------ */

/* One journal entry, as handed to a history callback. Strings are valid during the callback. */
typedef struct loyalty_history_entry {
    int64_t tx;
    const char *kind;     /* "award", "redeem", "adjust", "reverse", "refund", "capture",
                             "expire", "forfeit" */
    const char *ref;
    int64_t points;       /* signed delta */
    int64_t balance_after;
    int64_t amount_minor; /* purchase amount, 0 when none */
    int64_t ts_us;
    const char *actor;
    const char *reason;   /* NULL when none */
    const char *note;     /* NULL when none */
    int64_t reversed_tx;  /* for a reversal: the tx it compensates; else 0 */
    int64_t reversed_by;  /* the reversal of this entry, 0 when none */
    int64_t order_tx;     /* for a refund: the purchase award it refunds; else 0 */
} loyalty_history_entry;

/* Called once per entry; return non-zero to stop early (the call then returns LOYALTY_OK). */
typedef int (*loyalty_history_fn)(void *context, const loyalty_history_entry *entry);

/*
 * Lists a member's journal newest first: at most `limit` entries (1..1000)
 * with tx < before_tx (0: from the newest). *next_before is the value to pass
 * as before_tx for the next page, or 0 when this was the last page.
 * Returns LOYALTY_OK, LOYALTY_ERR_INVALID, LOYALTY_ERR_NOT_FOUND (member),
 * LOYALTY_ERR_STORAGE, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_history(loyalty_ledger *ledger, const char *member, int64_t limit,
                                int64_t before_tx, loyalty_history_fn callback, void *context,
                                int64_t *next_before) LOYALTY_WARN_UNUSED;

/*
 * Program-wide figures. outstanding = issued - redeemed - expired - clawed_back
 * - forfeited + adjusted + reversed.
 */
typedef struct loyalty_stats {
    int64_t members;
    int64_t outstanding; /* sum of all balances */
    int64_t issued;      /* points credited by awards */
    int64_t redeemed;    /* points spent by redemptions and hold captures (positive) */
    int64_t adjusted;    /* net signed sum of adjustments */
    int64_t reversed;    /* net signed sum of reversals */
    int64_t expired;     /* points removed by expiry sweeps (positive) */
    int64_t clawed_back; /* points taken back by refunds (positive) */
    int64_t forfeited;   /* points forfeited by closing members (positive) */
    int64_t transactions;
} loyalty_stats;

/* Returns LOYALTY_OK, LOYALTY_ERR_INTERNAL (the figures do not add up), LOYALTY_ERR_STORAGE, LOYALTY_ERR_MISUSE. */
LOYALTY_API int loyalty_stats_get(loyalty_ledger *ledger, loyalty_stats *stats) LOYALTY_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */
/* ------------------------------------------------------------------------ */

/*
 * The public key in force (the latest in the audit chain) as 64 lower-case
 * hex characters, and its key id (16 hex). Buffers must hold 65 and 17 bytes.
 * Returns LOYALTY_OK, LOYALTY_ERR_STORAGE, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_key_public(loyalty_ledger *ledger, char public_key_hex[65],
                                   char key_id_hex[17]) LOYALTY_WARN_UNUSED;

/*
 * Generates a new signing key pair and appends a rotation entry, signed by the
 * old key, naming the new public key; later entries are signed by the new
 * key. The old secret key file is kept as "<key_path>.<old key id>" (never
 * overwritten: LOYALTY_ERR_EXISTS if that name is taken) and the new secret
 * key takes the key path (mode 0600). new_public_key_hex/new_key_id_hex may be
 * NULL; otherwise they must hold 65 and 17 bytes.
 * Returns LOYALTY_OK, LOYALTY_ERR_KEY, LOYALTY_ERR_EXISTS, LOYALTY_ERR_STORAGE
 * (also when a key file cannot be written or renamed: no space, read-only),
 * LOYALTY_ERR_BUSY, LOYALTY_ERR_NOMEM, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_key_rotate(loyalty_ledger *ledger, char new_public_key_hex[65],
                                   char new_key_id_hex[17]) LOYALTY_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Audit chain                                                               */
/* ------------------------------------------------------------------------ */

/* Called with one JSON Lines record (no trailing newline); non-zero stops early. */
typedef int (*loyalty_line_fn)(void *context, const char *line);

/*
 * Streams the audit entries with seq >= from_seq (1 for all) in order, one
 * JSON object per entry with the fields of docs/AUDIT_FORMAT.md.
 * Returns LOYALTY_OK, LOYALTY_ERR_INVALID (from_seq < 1), LOYALTY_ERR_STORAGE,
 * LOYALTY_ERR_NOMEM, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_audit_export(loyalty_ledger *ledger, int64_t from_seq,
                                     loyalty_line_fn callback, void *context) LOYALTY_WARN_UNUSED;

/*
 * A signed checkpoint of the chain head in the text format of
 * docs/AUDIT_FORMAT.md (several lines, ending in a newline). Needs the secret
 * key. *text_out is freed with loyalty_free().
 * Returns LOYALTY_OK, LOYALTY_ERR_KEY, LOYALTY_ERR_STORAGE, LOYALTY_ERR_NOMEM,
 * LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_audit_checkpoint(loyalty_ledger *ledger, char **text_out) LOYALTY_WARN_UNUSED;

/* What loyalty_verify found. */
typedef struct loyalty_verify_report {
    int ok;                                /* 1 when everything holds */
    int64_t entries;                       /* audit entries checked */
    int64_t head_seq;                      /* seq of the last entry */
    char head_hash[LOYALTY_HASH_HEX + 1];  /* hash of the last entry, hex */
    int64_t first_bad_seq;                 /* first entry that fails, 0 when none or a table row differs */
    char table[64];                        /* on a state mismatch: the table that differs */
    char row_key[128];                     /* on a state mismatch: the key of the row that differs */
    char reason[256];                      /* one line: why verification failed */
} loyalty_verify_report;

/*
 * Verifies the whole ledger, streaming, in memory that does not grow with it:
 * the chain is gap-free and linked, each hash recomputes, each signature
 * verifies under the key in force (starting from trusted_public_key_hex when
 * not NULL, else the genesis key, following rotations), the checkpoint (text,
 * may be NULL) is signed by a key of the chain and names an entry of it, and
 * replaying the signed payloads from an empty ledger reproduces every state
 * table row for row. Signatures are checked on worker threads, one per core
 * the process may use (its CPU affinity), joined before the call returns.
 * Returns LOYALTY_OK when everything holds, LOYALTY_ERR_VERIFY when something
 * does not (report says what and where), LOYALTY_ERR_INVALID (malformed key or
 * checkpoint text), LOYALTY_ERR_STORAGE, LOYALTY_ERR_NOMEM, LOYALTY_ERR_MISUSE.
 */
LOYALTY_API int loyalty_verify(loyalty_ledger *ledger, const char *trusted_public_key_hex,
                               const char *checkpoint_text, loyalty_verify_report *report)
    LOYALTY_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif /* LOYALTY_H */
