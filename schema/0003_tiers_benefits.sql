-- 0003: tiers and benefits. The ladder and the benefits catalogue belong to
-- a program version; members carry their tier code, every change of it is
-- recorded with its cause, and every benefit claim with its period.

ALTER TABLE program ADD COLUMN tier_window_days INTEGER NOT NULL DEFAULT 365
    CHECK (tier_window_days > 0);

CREATE TABLE program_tiers (
    version             INTEGER NOT NULL REFERENCES program (version),
    position            INTEGER NOT NULL CHECK (position >= 0),
    code                TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    threshold           INTEGER NOT NULL CHECK (threshold >= 0),
    multiplier_permille INTEGER NOT NULL CHECK (multiplier_permille > 0),
    PRIMARY KEY (version, position),
    UNIQUE (version, code)
) STRICT;

CREATE TABLE program_benefits (
    version     INTEGER NOT NULL REFERENCES program (version),
    code        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    claim_limit INTEGER CHECK (claim_limit > 0),   -- NULL: unlimited
    period      TEXT CHECK (period IN ('day', 'week', 'month', 'year')),
    PRIMARY KEY (version, code)
) STRICT;

CREATE TABLE program_tier_benefits (
    version      INTEGER NOT NULL REFERENCES program (version),
    tier_code    TEXT    NOT NULL,
    benefit_code TEXT    NOT NULL,
    PRIMARY KEY (version, tier_code, benefit_code)
) STRICT;

CREATE TABLE tier_changes (
    id         INTEGER PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members (id),
    from_tier  TEXT,
    to_tier    TEXT    NOT NULL,
    cause      TEXT    NOT NULL CHECK (cause IN ('upgrade', 'evaluate', 'manual')),
    qualifying INTEGER NOT NULL,
    reason     TEXT,
    ts_us      INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    audit_seq  INTEGER NOT NULL
) STRICT;
CREATE INDEX tier_changes_member ON tier_changes (member_id, id);

CREATE TABLE benefit_claims (
    id              INTEGER PRIMARY KEY,
    member_id       INTEGER NOT NULL REFERENCES members (id),
    benefit         TEXT    NOT NULL,
    ref             TEXT    NOT NULL UNIQUE,
    request_hash    BLOB    NOT NULL,
    tier            TEXT    NOT NULL,
    claim_limit     INTEGER,                        -- the limit when claimed; NULL: unlimited
    period_start_us INTEGER NOT NULL,
    ts_us           INTEGER NOT NULL,
    actor           TEXT    NOT NULL,
    audit_seq       INTEGER NOT NULL
) STRICT;
CREATE INDEX benefit_claims_usage ON benefit_claims (member_id, benefit, period_start_us);

CREATE INDEX members_tier ON members (tier);
