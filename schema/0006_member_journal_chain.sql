-- 0006: a member's journal rows are chained newest to oldest instead of
-- indexed by (member_id, tx). At millions of entries that index put every
-- posting on a random page of its own (read, dirtied, written to the WAL and
-- checkpointed); the chain costs nothing extra: the new row carries the
-- member's previous tx, and the member row, which every posting already
-- rewrites, carries the newest. History pages and qualifying points walk it.
-- No REFERENCES clause on member_prev_tx: the check would read the previous
-- row's page on every insert. verify's replay rebuilds both columns and
-- compares them like every other.

ALTER TABLE journal ADD COLUMN member_prev_tx INTEGER CHECK (member_prev_tx < tx);
ALTER TABLE members ADD COLUMN last_journal_tx INTEGER;

UPDATE journal SET member_prev_tx =
    (SELECT MAX(p.tx) FROM journal p WHERE p.member_id = journal.member_id AND p.tx < journal.tx);
UPDATE members SET last_journal_tx =
    (SELECT MAX(j.tx) FROM journal j WHERE j.member_id = members.id);

DROP INDEX journal_member;
