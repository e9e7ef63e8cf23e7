-- 0007: each member row keeps its lots figures (available, pending, expired,
-- next expiry) as they stood at its last lot change, with the time range in
-- which they hold: from that change (lots_at_us) until the first moment a
-- lot becomes spendable or expires (lots_until_us; 9223372036854775807 when
-- none ever will; 0 when no figures are kept). A balance look-up inside that
-- range reads the member row and its open holds, not the lots index, which
-- at millions of lots is a random page of its own. Writes keep them exact
-- (ledger/lots.c); verify's replay rebuilds them and compares them like any
-- other column, so the values set here for existing members must be exactly
-- what the writes would have left: the figures at the member's last journal
-- row that moved points.

ALTER TABLE members ADD COLUMN lots_at_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN lots_until_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN lots_available INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN lots_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN lots_expired INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN lots_next_expiry_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN lots_next_expiry_points INTEGER NOT NULL DEFAULT 0;

CREATE TEMP TABLE last_move (member_id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
INSERT INTO last_move
    SELECT member_id, MAX(ts_us) FROM journal WHERE points != 0 GROUP BY member_id;
UPDATE members SET lots_at_us = (SELECT at FROM last_move WHERE last_move.member_id = members.id),
                   lots_until_us = 1
    WHERE id IN (SELECT member_id FROM last_move);
DROP TABLE last_move;

UPDATE members SET
    lots_available = (SELECT COALESCE(SUM(remaining), 0) FROM lots
        WHERE member_id = members.id AND remaining > 0
          AND NOT (expires_us IS NOT NULL AND expires_us <= members.lots_at_us)
          AND available_us <= members.lots_at_us),
    lots_pending = (SELECT COALESCE(SUM(remaining), 0) FROM lots
        WHERE member_id = members.id AND remaining > 0
          AND NOT (expires_us IS NOT NULL AND expires_us <= members.lots_at_us)
          AND available_us > members.lots_at_us),
    lots_expired = (SELECT COALESCE(SUM(remaining), 0) FROM lots
        WHERE member_id = members.id AND remaining > 0 AND expires_us <= members.lots_at_us),
    lots_next_expiry_us = COALESCE((SELECT MIN(expires_us) FROM lots
        WHERE member_id = members.id AND remaining > 0 AND expires_us > members.lots_at_us), 0),
    lots_until_us = COALESCE((SELECT MIN(e) FROM (
        SELECT available_us AS e FROM lots
            WHERE member_id = members.id AND remaining > 0 AND available_us > members.lots_at_us
        UNION ALL
        SELECT expires_us FROM lots
            WHERE member_id = members.id AND remaining > 0 AND expires_us > members.lots_at_us)),
        9223372036854775807)
    WHERE lots_until_us = 1;
UPDATE members SET lots_next_expiry_points = (SELECT COALESCE(SUM(remaining), 0) FROM lots
        WHERE member_id = members.id AND remaining > 0 AND expires_us = members.lots_next_expiry_us)
    WHERE lots_next_expiry_us != 0;
