-- 0001: the core ledger: program versions, members, journal, lots, signing
-- keys and the audit chain. Every table is STRICT so that an overflowing
-- integer can never silently become a REAL.

-- Every program ever loaded; the highest version is in force.
CREATE TABLE program (
    version         INTEGER PRIMARY KEY,
    loaded_us       INTEGER NOT NULL,
    actor           TEXT    NOT NULL,
    body            TEXT    NOT NULL,           -- canonical JSON of the program
    currency        TEXT    NOT NULL,
    minor_per_unit  INTEGER NOT NULL CHECK (minor_per_unit > 0),
    points_per_unit INTEGER NOT NULL CHECK (points_per_unit >= 0)
) STRICT;

-- Members are opaque external ids; no personal data lives anywhere here.
-- balance = sum of the member's journal deltas = sum(lots.remaining) - debt.
CREATE TABLE members (
    id          INTEGER PRIMARY KEY,
    external_id TEXT    NOT NULL UNIQUE,
    status      TEXT    NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'frozen', 'closed')),
    tier        TEXT,
    balance     INTEGER NOT NULL DEFAULT 0,
    debt        INTEGER NOT NULL DEFAULT 0 CHECK (debt >= 0),
    created_us  INTEGER NOT NULL
) STRICT;

-- The journal: append-only, one row per operation. (kind, ref) is the
-- idempotency key; request_hash fingerprints the request's parameters so a
-- retry with other parameters is told apart from a replay.
CREATE TABLE journal (
    tx            INTEGER PRIMARY KEY,
    member_id     INTEGER NOT NULL REFERENCES members (id),
    kind          TEXT    NOT NULL,
    ref           TEXT    NOT NULL,
    request_hash  BLOB    NOT NULL,
    points        INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    amount_minor  INTEGER,
    multiplier_permille INTEGER,
    reason        TEXT,
    note          TEXT,
    reverses_tx   INTEGER REFERENCES journal (tx),
    ts_us         INTEGER NOT NULL,
    actor         TEXT    NOT NULL,
    audit_seq     INTEGER NOT NULL,
    UNIQUE (kind, ref)
) STRICT;
CREATE INDEX journal_member ON journal (member_id, tx);
CREATE UNIQUE INDEX journal_reverses ON journal (reverses_tx) WHERE reverses_tx IS NOT NULL;

-- Lots: every credit creates one; debits consume them first-expiring-first.
-- expires_us NULL means never.
CREATE TABLE lots (
    id           INTEGER PRIMARY KEY,
    member_id    INTEGER NOT NULL REFERENCES members (id),
    tx           INTEGER NOT NULL REFERENCES journal (tx),
    earned_us    INTEGER NOT NULL,
    available_us INTEGER NOT NULL,
    expires_us   INTEGER,
    points       INTEGER NOT NULL CHECK (points > 0),
    remaining    INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= points)
) STRICT;
CREATE INDEX lots_member_open ON lots (member_id, expires_us, id) WHERE remaining > 0;
CREATE INDEX lots_tx ON lots (tx);

-- Signing keys in the order they came into force (genesis, then rotations).
CREATE TABLE signing_keys (
    key_id     TEXT PRIMARY KEY,
    public_key BLOB    NOT NULL,
    from_seq   INTEGER NOT NULL UNIQUE
) STRICT;

-- The audit chain: one signed entry per state change, in the same
-- transaction as the change. See docs/AUDIT_FORMAT.md.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    ts_us     INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    payload   TEXT    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL,
    key_id    TEXT    NOT NULL,
    sig       BLOB    NOT NULL
) STRICT;
