-- 0002: the points lifecycle: pending and expiring lots (program fields),
-- checkout holds, refunds tied to their order, and the indexes the expiry
-- sweep needs.

ALTER TABLE program ADD COLUMN pending_days INTEGER NOT NULL DEFAULT 0 CHECK (pending_days >= 0);
ALTER TABLE program ADD COLUMN expiry_days INTEGER NOT NULL DEFAULT 0 CHECK (expiry_days >= 0);
ALTER TABLE program ADD COLUMN hold_ttl_seconds INTEGER NOT NULL DEFAULT 900
    CHECK (hold_ttl_seconds > 0);

-- A refund names the purchase award it refunds.
ALTER TABLE journal ADD COLUMN order_tx INTEGER REFERENCES journal (tx);
CREATE INDEX journal_order ON journal (order_tx) WHERE order_tx IS NOT NULL;

-- Holds reserve points for a checkout. An open hold past expires_us counts
-- as lapsed at once; the sweep records it.
CREATE TABLE holds (
    id           INTEGER PRIMARY KEY,
    member_id    INTEGER NOT NULL REFERENCES members (id),
    ref          TEXT    NOT NULL UNIQUE,
    request_hash BLOB    NOT NULL,
    points       INTEGER NOT NULL CHECK (points > 0),
    status       TEXT    NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'captured', 'released', 'lapsed')),
    created_us   INTEGER NOT NULL,
    expires_us   INTEGER NOT NULL,
    captured     INTEGER NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= points),
    capture_tx   INTEGER REFERENCES journal (tx),
    closed_us    INTEGER,
    audit_seq    INTEGER NOT NULL
) STRICT;
CREATE INDEX holds_member_open ON holds (member_id, expires_us) WHERE status = 'open';
CREATE INDEX holds_open_expiry ON holds (expires_us) WHERE status = 'open';

-- The sweep finds expired points without scanning every lot.
CREATE INDEX lots_expiring ON lots (expires_us, member_id) WHERE remaining > 0 AND expires_us IS NOT NULL;
