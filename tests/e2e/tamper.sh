#!/usr/bin/env bash
# tamper.sh - `loyalty verify` against an attacker who can write the database
# file. A ledger with members, postings and key rotations is prepared through
# the CLI; then each tampering is done with sqlite3 (or a small tool) on a
# fresh copy, and verify must exit 7 naming the right place: the first bad
# audit entry (first_bad_seq) or the table and row that differ from the
# signed history. Covers: a payload byte, an actor, a NUL byte hidden in a
# text column, the schema (renamed columns, triggers, views, indexes,
# hidden tables, STRICT removed), a balance, a journal
# amount, a member's status, a program row, a signing key row, a deleted
# entry, forged entries, two reordered entries, a consistently truncated tail
# (caught only with a checkpoint taken before), a chain re-signed with other
# keys (caught only with the trusted --pubkey). Also: an operation that fails
# half-way (insecure key file, a failing audit insert, a failing rotation)
# leaves neither the change nor an audit entry.
#
#   LOYALTY_BIN=$PWD/build/loyalty bash tests/e2e/tamper.sh
set -euo pipefail

: "${LOYALTY_BIN:?set LOYALTY_BIN to the absolute path of the loyalty binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
TOOLS="$HERE/../tools"
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
BASE="$T/base"
mkdir "$BASE"

passed=0
failed=0
pass() { passed=$((passed + 1)); }
failure() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check_equal() { # DESCRIPTION EXPECTED ACTUAL
    if [ "$2" == "$3" ]; then pass; else failure "$1: expected [$2], got [$3]"; fi
}
check_contains() { # DESCRIPTION NEEDLE HAYSTACK
    if [[ "$3" == *"$2"* ]]; then pass; else failure "$1: [$2] not in [$3]"; fi
}

# cli DB ARGS...: runs the CLI on DB; sets RC, OUT, ERR (never aborts).
cli() {
    local db=$1
    shift
    RC=0
    "$LOYALTY_BIN" --db "$db" --actor tester "$@" >"$T/out" 2>"$T/err" || RC=$?
    OUT=$(cat "$T/out")
    ERR=$(cat "$T/err")
}
step() { # DESCRIPTION DB ARGS...: a CLI call that must succeed
    local what=$1
    shift
    cli "$@"
    if [ "$RC" = 0 ]; then pass; else failure "$what: exit $RC: $ERR"; fi
}
sql() { sqlite3 -batch -bail "$@"; }

# fresh NAME: a copy of the prepared ledger (database and key files) in $T/NAME; prints its db path.
fresh() {
    local dir="$T/$1"
    mkdir "$dir"
    cp -p "$BASE"/l.db* "$dir"/
    echo "$dir/l.db"
}

# expect_ok DESCRIPTION DB [VERIFY ARGS...]
expect_ok() {
    local what=$1 db=$2
    shift 2
    cli "$db" --json verify "$@"
    check_equal "$what: verify exit" 0 "$RC"
    [ "$RC" = 0 ] || echo "  $OUT $ERR" >&2
    check_equal "$what: ok" true "$(jq -r .ok <<<"$OUT" 2>/dev/null)"
}
# expect_bad DESCRIPTION DB FIRST_BAD_SEQ TABLE KEY_SUBSTRING [VERIFY ARGS...]
# FIRST_BAD_SEQ "null" for a table mismatch; TABLE/KEY_SUBSTRING "" when not expected.
expect_bad() {
    local what=$1 db=$2 seq=$3 table=$4 key=$5
    shift 5
    cli "$db" --json verify "$@"
    check_equal "$what: verify exit" 7 "$RC"
    check_equal "$what: ok" false "$(jq -r .ok <<<"$OUT" 2>/dev/null)"
    check_equal "$what: first_bad_seq" "$seq" "$(jq -r .first_bad_seq <<<"$OUT" 2>/dev/null)"
    if [ -n "$table" ]; then
        check_equal "$what: table" "$table" "$(jq -r .table <<<"$OUT" 2>/dev/null)"
    fi
    if [ -n "$key" ]; then
        check_contains "$what: key names the row" "$key" "$(jq -r .key <<<"$OUT" 2>/dev/null)"
    fi
    check_equal "$what: a reason is given" true "$(jq -r '.reason | type == "string" and length > 0' <<<"$OUT" 2>/dev/null)"
    check_equal "$what: exactly one JSON object on stdout" 1 "$(jq -s length <<<"$OUT" 2>/dev/null)"
}
count() { sql "$1" "SELECT COUNT(*) FROM $2"; }

# --- the prepared ledger -------------------------------------------------------------
DB="$BASE/l.db"
step "init" "$DB" --json init
step "key public (genesis key)" "$DB" key public
printf '%s\n' "$OUT" >"$T/original.pub"
for m in M1 M2 M3; do step "member add $m" "$DB" --json member add "$m"; done
step "award M1" "$DB" --json award M1 --ref o1 --amount 12999
SEQ_O1=$(jq -r .audit_seq <<<"$OUT")
step "award M2" "$DB" --json award M2 --ref o2 --amount 4550
SEQ_O2=$(jq -r .audit_seq <<<"$OUT")
TX_O2=$(jq -r .tx <<<"$OUT")
step "bonus M3" "$DB" --json award M3 --ref b3 --points 300 --reason bonus
SEQ_B3=$(jq -r .audit_seq <<<"$OUT")
step "redeem M1" "$DB" --json redeem M1 --ref r1 --points 29
step "adjust M2" "$DB" --json adjust M2 --ref a2 --points 5 --reason goodwill --note 'late delivery'
step "reverse M2's purchase" "$DB" --json reverse "$TX_O2" --ref v2 --reason returned
printf '{"currency":"EUR","minor_per_unit":100,"points_per_unit":3}\n' >"$T/program.json"
step "program load" "$DB" --json program load "$T/program.json"
step "key rotate" "$DB" --json key rotate
step "award after rotation" "$DB" --json award M3 --ref o3 --amount 1000
step "key rotate again" "$DB" --json key rotate
step "member add M4" "$DB" --json member add M4
step "the last award" "$DB" --json award M1 --ref last --points 25
SEQ_LAST=$(jq -r .audit_seq <<<"$OUT")
TX_LAST=$(jq -r .tx <<<"$OUT")
step "checkpoint after the last award" "$DB" audit checkpoint
printf '%s\n' "$OUT" >"$T/cp.txt"
step "key public (current key)" "$DB" key public
printf '%s\n' "$OUT" >"$T/current.pub"
sql "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
HEAD=$(sql "$DB" 'SELECT MAX(seq) FROM audit')
check_equal "the last award is the head" "$HEAD" "$SEQ_LAST"

# --- untouched ------------------------------------------------------------------------
D=$(fresh untouched)
expect_ok "untouched ledger (after two rotations)" "$D"
check_equal "untouched: entries" "$HEAD" "$(jq -r .entries <<<"$OUT")"
check_equal "untouched: head_seq" "$HEAD" "$(jq -r .head_seq <<<"$OUT")"
check_equal "untouched: head_hash" "$(sql "$D" "SELECT lower(hex(hash)) FROM audit WHERE seq = $HEAD")" \
    "$(jq -r .head_hash <<<"$OUT")"
expect_ok "untouched, trusting the genesis key" "$D" --pubkey "$T/original.pub"
expect_ok "untouched, trusting the current key" "$D" --pubkey "$T/current.pub"
expect_ok "untouched, with the checkpoint" "$D" --checkpoint "$T/cp.txt"
cli "$D" verify
check_equal "untouched: text verify exits 0" 0 "$RC"

# --- the audit chain --------------------------------------------------------------------
D=$(fresh payload)
sql "$D" "UPDATE audit SET payload = replace(payload, '\"points\":129', '\"points\":139') WHERE seq = $SEQ_O1"
check_equal "payload tamper changed one row" 1 "$(sql "$D" "SELECT COUNT(*) FROM audit WHERE payload LIKE '%\"points\":139%'")"
expect_bad "one byte of a payload" "$D" "$SEQ_O1" "" ""

D=$(fresh actor)
sql "$D" "UPDATE audit SET actor = 'mallory' WHERE seq = $SEQ_O2"
expect_bad "the actor of an entry" "$D" "$SEQ_O2" "" ""
# A copy of the genesis numbered 0 sorts before the real one.
D=$(fresh seq-zero)
sql "$D" "INSERT INTO audit SELECT 0, ts_us, actor, action, payload, prev_hash, hash, key_id, sig
          FROM audit WHERE seq = 1"
expect_bad "an entry numbered 0 before the genesis" "$D" 1 "" ""
check_contains "the entry numbered 0 is named" "numbered 0" "$(jq -r .reason <<<"$OUT")"
# A NUL byte and more after a text column's value: C strings would stop at the NUL.
for column in actor action key_id; do
    D=$(fresh "nul-$column")
    sql "$D" "UPDATE audit SET $column = CAST($column || x'0078' AS TEXT) WHERE seq = $SEQ_O2"
    expect_bad "a NUL byte inside the $column of an entry" "$D" "$SEQ_O2" "" ""
done

D=$(fresh delete)
DEL=$((SEQ_O1 + 2))
sql "$D" "DELETE FROM audit WHERE seq = $DEL"
expect_bad "an audit row deleted from the middle" "$D" "$DEL" "" ""

D=$(fresh forged-random)
sql "$D" "INSERT INTO audit (seq, ts_us, actor, action, payload, prev_hash, hash, key_id, sig)
          SELECT seq + 1, ts_us + 1, 'mallory', 'member_add', '{\"member\":\"EVIL\"}', hash, randomblob(32),
                 key_id, randomblob(64) FROM audit WHERE seq = $HEAD"
expect_bad "a forged row at the end (random hash and signature)" "$D" "$((HEAD + 1))" "" ""

# a forged row whose hash is right (computed from the documented format) but whose signature is garbage
D=$(fresh forged-hash)
"$PY" - "$D" <<'EOF'
import hashlib, sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
seq, ts, prev, key_id = db.execute("SELECT seq, ts_us, hash, key_id FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
seq, ts = seq + 1, ts + 1
actor, action, payload = "mallory", "member_add", '{"member":"EVIL"}'
lp = lambda b: struct.pack(">I", len(b)) + b
msg = (b"loyalty-audit-v1\0" + struct.pack(">Q", seq) + struct.pack(">q", ts) + lp(actor.encode())
       + lp(action.encode()) + lp(payload.encode()) + prev)
h = hashlib.blake2b(msg, digest_size=32).digest()
db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
           (seq, ts, actor, action, payload, prev, h, key_id, b"\x01" * 64))
db.execute("INSERT INTO members (external_id, created_us) VALUES ('EVIL', ?)", (ts,))
db.commit()
EOF
expect_bad "a forged row at the end (right hash, garbage signature)" "$D" "$((HEAD + 1))" "" ""
check_contains "forged row: the reason is the signature" "signature" "$(jq -r .reason <<<"$OUT")"

D=$(fresh swap)
A=$SEQ_O1
B=$SEQ_O2
sql "$D" "CREATE TEMP TABLE s AS SELECT seq, payload, hash FROM audit WHERE seq IN ($A, $B);
          UPDATE audit SET payload = (SELECT payload FROM s WHERE s.seq = $B), hash = (SELECT hash FROM s WHERE s.seq = $B) WHERE seq = $A;
          UPDATE audit SET payload = (SELECT payload FROM s WHERE s.seq = $A), hash = (SELECT hash FROM s WHERE s.seq = $A) WHERE seq = $B;"
expect_bad "two rows reordered (payload and hash swapped)" "$D" "$A" "" ""

D=$(fresh swap-all)
sql "$D" "CREATE TEMP TABLE s AS SELECT * FROM audit WHERE seq IN ($SEQ_O2, $SEQ_B3);
          DELETE FROM audit WHERE seq IN ($SEQ_O2, $SEQ_B3);
          INSERT INTO audit SELECT CASE seq WHEN $SEQ_O2 THEN $SEQ_B3 ELSE $SEQ_O2 END, ts_us, actor, action,
                 payload, prev_hash, hash, key_id, sig FROM s;"
expect_bad "two whole rows reordered" "$D" "$SEQ_O2" "" ""

# --- the state tables ----------------------------------------------------------------------
D=$(fresh balance)
sql "$D" "UPDATE members SET balance = balance + 100 WHERE external_id = 'M2'"
expect_bad "a member's balance" "$D" null members "M2"

D=$(fresh journal)
sql "$D" "UPDATE journal SET points = points + 1 WHERE tx = (SELECT MIN(tx) FROM journal)"
expect_bad "a journal points value" "$D" null journal ""

D=$(fresh journal-balance)
sql "$D" "UPDATE journal SET points = points + 7, balance_after = balance_after + 7 WHERE tx = $TX_LAST;
          UPDATE members SET balance = balance + 7 WHERE external_id = 'M1';
          UPDATE lots SET points = points + 7, remaining = remaining + 7 WHERE tx = $TX_LAST;"
expect_bad "a journal amount changed consistently in every state table" "$D" null journal ""

D=$(fresh request-hash)
sql "$D" "UPDATE journal SET request_hash = randomblob(16) WHERE tx = $TX_O2"
expect_bad "a journal request fingerprint (a binary column)" "$D" null journal ""

D=$(fresh status)
sql "$D" "UPDATE members SET status = 'frozen' WHERE external_id = 'M3'"
expect_bad "a member's status" "$D" null members "M3"

D=$(fresh program)
sql "$D" "UPDATE program SET points_per_unit = 10 WHERE version = (SELECT MAX(version) FROM program)"
expect_bad "the program in force" "$D" null program ""

D=$(fresh lots)
sql "$D" "DELETE FROM lots WHERE id = (SELECT MAX(id) FROM lots)"
expect_bad "a deleted lot" "$D" null lots ""

# A row removed from the middle is named by its own key, not blamed on the next row.
D=$(fresh journal-middle)
sql "$D" "DELETE FROM journal WHERE tx = $TX_O2"
expect_bad "a journal row deleted from the middle" "$D" null journal "tx=$TX_O2"
check_contains "the deleted journal row is reported missing" "missing" "$(jq -r .reason <<<"$OUT")"
D=$(fresh member-middle)
sql "$D" "DELETE FROM members WHERE external_id = 'M2'"
expect_bad "a member deleted from the middle" "$D" null members "M2"
check_contains "the deleted member is reported missing" "missing" "$(jq -r .reason <<<"$OUT")"

D=$(fresh keys)
sql "$D" "UPDATE signing_keys SET public_key = randomblob(32) WHERE from_seq = 1"
expect_bad "a signing key row" "$D" null signing_keys ""

# --- the schema: what the rows mean, changed without changing a row ----------------------------
# schema_edit NAME OBJECT WHAT SQL: on a fresh copy, verify names OBJECT in sqlite_schema.
schema_edit() {
    local d
    d=$(fresh "schema-$1")
    sql "$d" "$4"
    expect_bad "$3" "$d" null sqlite_schema "$2"
}
# Swapping two columns' names swaps what every reader takes them for.
schema_edit swap members "two member columns' names swapped" \
    "ALTER TABLE members RENAME COLUMN balance TO swapped;
     ALTER TABLE members RENAME COLUMN debt TO balance;
     ALTER TABLE members RENAME COLUMN swapped TO debt;"
schema_edit trigger drop_audit "a trigger that drops every later audit entry" \
    "CREATE TRIGGER drop_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(IGNORE); END;"
schema_edit view balances "an added view" "CREATE VIEW balances AS SELECT external_id, balance FROM members;"
schema_edit drop-index journal_reverses "a dropped unique index" "DROP INDEX journal_reverses;"
schema_edit add-index members_balance "an added index" "CREATE INDEX members_balance ON members (balance);"
schema_edit hidden-table sqlitex_hidden "a table named like SQLite's own" "CREATE TABLE sqlitex_hidden (x);"
schema_edit analyze sqlite_stat "statistics tables added by ANALYZE" "ANALYZE;"
schema_edit audit-column audit "a column added to the audit table" \
    "ALTER TABLE audit ADD COLUMN junk TEXT DEFAULT 'x';"
schema_edit audit-rename audit "an audit column renamed" "ALTER TABLE audit RENAME COLUMN actor TO who;"
schema_edit strict members "STRICT removed from a table's definition" \
    "PRAGMA writable_schema = ON;
     UPDATE sqlite_schema SET sql = replace(sql, ') STRICT', ')') WHERE name = 'members';"

# --- a truncated tail: invisible to the chain, caught by a checkpoint ------------------------
D=$(fresh truncate)
sql "$D" "DELETE FROM audit WHERE seq = $SEQ_LAST;
          DELETE FROM lots WHERE tx = $TX_LAST;
          UPDATE members SET balance = balance - 25, lots_remaining = lots_remaining - 25,
              last_journal_tx = (SELECT member_prev_tx FROM journal WHERE tx = $TX_LAST),
              lots_available = lots_available - 25,
              lots_at_us = (SELECT p.ts_us FROM journal p WHERE p.tx =
                  (SELECT member_prev_tx FROM journal WHERE tx = $TX_LAST))
              WHERE external_id = 'M1';
          DELETE FROM journal WHERE tx = $TX_LAST;"
expect_ok "a consistently truncated tail passes plain verify" "$D"
check_equal "truncated: one entry fewer" "$((HEAD - 1))" "$(jq -r .head_seq <<<"$OUT")"
expect_bad "a consistently truncated tail, with the checkpoint taken before" "$D" "$SEQ_LAST" "" "" \
    --checkpoint "$T/cp.txt"

# --- a chain re-signed with keys of the attacker's own --------------------------------------
D=$(fresh resign)
"$PY" "$TOOLS/resign.py" "$D" --pubkey-out "$T/attacker.pub" >/dev/null
expect_ok "a re-signed chain is consistent in itself" "$D"
expect_ok "a re-signed chain verifies under the attacker's key" "$D" --pubkey "$T/attacker.pub"
expect_bad "a re-signed chain, trusting the genesis key" "$D" 1 "" "" --pubkey "$T/original.pub"
cli "$D" --json verify --pubkey "$T/current.pub"
check_equal "a re-signed chain, trusting the current key: verify exit" 7 "$RC"
cli "$D" --json verify --checkpoint "$T/cp.txt"
check_equal "a re-signed chain, with the checkpoint: verify exit" 7 "$RC"

# The attacker appends a rotation that merely names the original key: the trusted key then
# appears in the chain, but it never signed anything, so it must not be accepted.
D=$(fresh resign-rotation)
"$PY" "$TOOLS/resign.py" "$D" --append-rotation-to "$(grep -v '^#' "$T/original.pub")" >/dev/null
expect_ok "re-signed + rotation naming the original key: consistent in itself" "$D"
cli "$D" --json verify --pubkey "$T/original.pub"
check_equal "re-signed + rotation naming the original key, trusting it: verify exit" 7 "$RC"
[ "$RC" = 7 ] || echo "  $OUT" >&2

# --- a failure half-way through an operation leaves nothing ---------------------------------
state_of() { # DB: audit count, journal count, lot count, M1's balance
    echo "$(count "$1" audit) $(count "$1" journal) $(count "$1" lots)" \
        "$(sql "$1" "SELECT balance FROM members WHERE external_id = 'M1'")"
}

D=$(fresh insecure-key)
before=$(state_of "$D")
chmod 644 "$D.key"
cli "$D" --json award M1 --ref insecure --points 10
check_equal "award with a world-readable key file: exit" 6 "$RC"
check_contains "the error says why" "group or others" "$ERR"
check_equal "award with a world-readable key file: nothing changed" "$before" "$(state_of "$D")"
chmod 600 "$D.key"
step "the same award once the key file is private" "$D" --json award M1 --ref insecure --points 10
check_equal "it was applied now (not a replay)" false "$(jq -r .replayed <<<"$OUT")"
expect_ok "after the refused award" "$D"

D=$(fresh failing-audit)
before=$(state_of "$D")
sql "$D" "CREATE TRIGGER fail_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
cli "$D" --json award M1 --ref half --amount 5000
check_equal "award whose audit append fails: exit" 1 "$RC"
check_equal "award whose audit append fails: no journal row, lot, balance or entry" "$before" "$(state_of "$D")"
check_equal "no journal row for the failed reference" 0 "$(sql "$D" "SELECT COUNT(*) FROM journal WHERE ref = 'half'")"
cli "$D" --json adjust M1 --ref half-adj --points -3 --reason test
check_equal "adjust whose audit append fails: exit" 1 "$RC"
cli "$D" --json member add NEWBIE
check_equal "member add whose audit append fails: exit" 1 "$RC"
check_equal "no member row for the failed member add" 0 "$(sql "$D" "SELECT COUNT(*) FROM members WHERE external_id = 'NEWBIE'")"
check_equal "after the failed adjust and member add: nothing changed" "$before" "$(state_of "$D")"
files_of() { find "$(dirname "$1")" -mindepth 1 ! -name '*-wal' ! -name '*-shm' -printf '%f\n' | sort; }
files_of "$D" >"$T/files-before"
key_sum=$(sha256sum <"$D.key")
cli "$D" --json key rotate
check_equal "key rotate whose audit append fails: exit" 1 "$RC"
check_equal "key rotate failed: the key file is unchanged" "$key_sum" "$(sha256sum <"$D.key")"
check_equal "key rotate failed: no key file added or left behind" "$(cat "$T/files-before")" \
    "$(files_of "$D")"
check_equal "key rotate failed: no signing key recorded" 3 "$(count "$D" signing_keys)"
sql "$D" "DROP TRIGGER fail_audit"
expect_ok "after the failed operations" "$D"
step "the failed award succeeds once the fault is gone" "$D" --json award M1 --ref half --amount 5000
check_equal "it was applied now (not a replay)" false "$(jq -r .replayed <<<"$OUT")"
step "key rotate once the fault is gone" "$D" --json key rotate
expect_ok "after the recovered operations" "$D"

D=$(fresh failing-balance)
before=$(state_of "$D")
sql "$D" "CREATE TRIGGER fail_balance BEFORE UPDATE OF balance ON members BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
cli "$D" --json redeem M1 --ref half-redeem --points 10
check_equal "redeem whose balance update fails: exit" 1 "$RC"
check_equal "redeem whose balance update fails: nothing changed" "$before" "$(state_of "$D")"
sql "$D" "DROP TRIGGER fail_balance"
expect_ok "after the failed redemption" "$D"

echo "e2e-tamper: $passed passed, $failed failed"
[ "$failed" = 0 ]
