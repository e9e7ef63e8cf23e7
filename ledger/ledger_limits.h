/*
 * ledger_limits.h - every bound the ledger enforces, in one place, each with the
 * reason for its value. Inputs outside these bounds are rejected with
 * LOYALTY_ERR_INVALID before anything is written.
 */
#ifndef LOYALTY_LIMITS_H
#define LOYALTY_LIMITS_H

#include <stdint.h>

/* Largest points delta of one operation: 10^12 leaves six orders of magnitude
 * of headroom below INT64_MAX for balances summed over many operations. */
#define LIMIT_POINTS_MAX INT64_C(1000000000000)

/* Largest purchase amount in minor units: 10^15 (ten trillion in a currency
 * with cents) is above any real order and keeps amount * rate inside 128 bits. */
#define LIMIT_AMOUNT_MAX INT64_C(1000000000000000)

/* Earn-rate fields of the program: a million minor units per unit and a
 * million points per unit cover every real currency and program. */
#define LIMIT_MINOR_PER_UNIT_MAX INT64_C(1000000)
#define LIMIT_POINTS_PER_UNIT_MAX INT64_C(1000000)

/* Pending up to ten years and expiry up to a hundred: longer is a mistake. */
#define LIMIT_PENDING_DAYS_MAX INT64_C(3650)
#define LIMIT_EXPIRY_DAYS_MAX INT64_C(36500)

/* Holds live a minute to thirty days: a checkout, not a layaway plan. */
#define LIMIT_HOLD_TTL_MIN INT64_C(60)
#define LIMIT_HOLD_TTL_MAX INT64_C(2592000)
#define DEFAULT_HOLD_TTL_SECONDS INT64_C(900)

/* A ladder of 32 tiers and a catalogue of 256 benefits cover any real program. */
#define LIMIT_TIERS_MAX 32
#define LIMIT_BENEFITS_MAX 256
#define LIMIT_CLAIMS_PER_PERIOD_MAX INT64_C(1000000)

/* The qualification window: a day to ten years. */
#define LIMIT_TIER_WINDOW_DAYS_MAX INT64_C(3650)
#define DEFAULT_TIER_WINDOW_DAYS INT64_C(365)

/* A batch: large enough to amortise one fsync over many operations, small
 * enough that its results fit comfortably in memory. */
#define LIMIT_BATCH_MAX 10000

/* One import line: a JSON object of a few short fields. */
#define LIMIT_IMPORT_LINE_BYTES 4096

/* The expiry sweep commits this many members per transaction. */
#define LIMIT_SWEEP_BATCH 256

/* Multipliers are per mille; 100x is the largest a tier may grant. */
#define LIMIT_MULTIPLIER_PERMILLE_MAX INT64_C(100000)

/* A history page: large enough for any screen, small enough to bound work. */
#define LIMIT_HISTORY_PAGE_MAX 1000

/* A program file: a program with many tiers and benefits fits in 1 MiB. */
#define LIMIT_PROGRAM_BYTES (1024 * 1024)

/* How long a writer waits for the database lock before reporting BUSY. */
#define LIMIT_BUSY_TIMEOUT_MS 30000

/* The latest time the ledger accepts (9999-12-31T23:59:59Z): far enough for any
 * clock, near enough that adding any period to it cannot overflow. */
#define LIMIT_NOW_US_MAX INT64_C(253402300799999999)

/* WAL pages after which a background thread checkpoints (checkpointer.c), and the
 * multiple of it at which the writer checkpoints itself because the thread fell behind.
 * A longer WAL copies less per award (a checkpoint copies each page once however many
 * batches rewrote it): 40 000 pages made batches about 10 % faster (20-30 batches of
 * 1000, alternating: fresh 36 834 / 39 945, 35 372 / 38 056 awards/s; 2M 13 575 /
 * 17 612, 18 196 / 21 416), but in `make bench` the longer checkpoint's fsync then
 * overlapped the single durable awards, which fell to 0.56 and 0.66 of their baseline
 * in two runs against 1.03 with 10 000 in the run between. A checkout's single
 * award waits on its fsync, so the shorter WAL stays. */
#define LIMIT_CHECKPOINT_PAGES 10000
/* The WAL file left behind after a reset is cut to this size (a full WAL of 2 KiB
 * pages is about 20 MiB): a busy ledger does not shrink and regrow it. */
#define LIMIT_WAL_KEEP_BYTES (64 * 1024 * 1024)
#define LIMIT_CHECKPOINT_INLINE_FACTOR 4

/* Page cache per handle, and while verify runs, in KiB. verify reads every page
 * about once; on the 2M bench ledger (3.3M entries) it took 250 s with 4 MiB,
 * 179 s with 8 MiB and 179 s with 32 MiB, peaking at 11, 16 and 42 MiB. */
#define LIMIT_CACHE_KIB 131072
#define LIMIT_VERIFY_CACHE_KIB 8192

/* Prepared statements cached per handle. */
#define LIMIT_STATEMENT_CACHE 128

/* Longest per-handle error message. */
#define LIMIT_ERRMSG_BYTES 512

#endif
