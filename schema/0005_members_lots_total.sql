-- 0005: each member keeps the sum of its lots' remainders, so that the
-- invariant balance = lots - debt is checked in constant time after every
-- change (it was a scan of the member's open lots); and the open-lots index
-- covers what the available/pending/expired sums read.

ALTER TABLE members ADD COLUMN lots_remaining INTEGER NOT NULL DEFAULT 0
    CHECK (lots_remaining >= 0);
UPDATE members SET lots_remaining =
    (SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE lots.member_id = members.id);

DROP INDEX lots_member_open;
CREATE INDEX lots_member_open ON lots (member_id, expires_us, available_us, remaining, id)
    WHERE remaining > 0;
