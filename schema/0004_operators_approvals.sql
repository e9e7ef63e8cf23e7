-- 0004: operators with roles, and four-eyes approvals of large adjustments.

CREATE TABLE operators (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('checkout', 'support', 'supervisor', 'auditor', 'admin')),
    status     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_us INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    audit_seq  INTEGER NOT NULL
) STRICT;

ALTER TABLE program ADD COLUMN approval_threshold INTEGER NOT NULL DEFAULT 0
    CHECK (approval_threshold >= 0);

-- An adjustment above the threshold waits here until another operator with
-- the supervisor or admin role approves (it is then journaled) or rejects it.
CREATE TABLE approvals (
    id              INTEGER PRIMARY KEY,
    member_id       INTEGER NOT NULL REFERENCES members (id),
    ref             TEXT    NOT NULL UNIQUE,
    request_hash    BLOB    NOT NULL,
    points          INTEGER NOT NULL CHECK (points != 0),
    reason          TEXT    NOT NULL,
    note            TEXT,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by    TEXT    NOT NULL,
    requested_us    INTEGER NOT NULL,
    decided_by      TEXT,
    decided_us      INTEGER,
    decision_reason TEXT,
    tx              INTEGER REFERENCES journal (tx),
    audit_seq       INTEGER NOT NULL
) STRICT;
CREATE INDEX approvals_pending ON approvals (id) WHERE status = 'pending';
