#!/usr/bin/env bash
# audit.sh - the signed audit log through the CLI: key public, the export's
# fields and gap-free sequence, member balances recomputed from the exported
# payloads, checkpoints, key rotation, verify with a trusted key and a
# checkpoint, and tampering (made with sqlite3 on copies) caught with exit 7.
source "$(dirname "$0")/lib.bash"
e2e_begin audit

expect_exit 0 "init" loyalty --json init
genesis_key=$(field .public_key)
genesis_key_id=$(field .key_id)
for member in a-1 a-2; do
    expect_exit 0 "member add $member" loyalty member add "$member"
done
expect_exit 0 "award a-1" loyalty award a-1 --ref o-1 --amount 25000
expect_exit 0 "award a-2" loyalty --json award a-2 --ref o-2 --points 40
a2_award_tx=$(field .tx)
expect_exit 0 "redeem a-1" loyalty redeem a-1 --ref r-1 --points 20
expect_exit 0 "adjust a-2" loyalty adjust a-2 --ref f-1 --points -15 --reason correction
expect_exit 0 "reverse a-2's award" loyalty reverse "$a2_award_tx" --ref v-1 --reason mistake

# --- key public ----------------------------------------------------------------------------
expect_exit 0 "key public --json" loyalty --json key public
check_field "key public" '[.public_key, .key_id] | join(",")' "$genesis_key,$genesis_key_id"
expect_exit 0 "key public (text)" loyalty key public
check_equal "key public is one hex line" "$genesis_key" "$OUT"
{ echo "# the genesis key of the e2e ledger"; echo "$OUT"; } >"$TMP/genesis.pub"

# --- export ----------------------------------------------------------------------------------
expect_exit 0 "audit export" loyalty audit export
printf '%s\n' "$OUT" >"$TMP/export.jsonl"
entries=$(wc -l <"$TMP/export.jsonl")
check_equal "every line has the documented fields" "$entries" \
    "$(jq -c 'select(has("seq") and has("ts_us") and has("actor") and has("action") and has("payload") and has("prev") and has("hash") and has("key") and has("sig"))' "$TMP/export.jsonl" | wc -l)"
check_equal "seq is gap-free from 1" "$(seq 1 "$entries" | paste -sd,)" "$(jq -r .seq "$TMP/export.jsonl" | paste -sd,)"
check_equal "each entry links its predecessor" true \
    "$(jq -s '[range(1; length) as $i | .[$i].prev == .[$i - 1].hash] | all' "$TMP/export.jsonl")"
check_equal "seq 1 is the genesis" genesis "$(head -n 1 "$TMP/export.jsonl" | jq -r .action)"
check_equal "the genesis names the public key" true \
    "$(head -n 1 "$TMP/export.jsonl" | jq --arg k "$genesis_key" '.payload | contains($k)')"
for member in a-1 a-2; do
    from_payloads=$(jq -s --arg m "$member" \
        'map(.payload | fromjson | select(.member == $m and has("points")) | .points) | add // 0' \
        "$TMP/export.jsonl")
    check_equal "balance of $member recomputed from the payloads" \
        "$(loyalty --json balance "$member" | jq .balance)" "$from_payloads"
done
expect_exit 0 "audit export --from 3" loyalty --json audit export --from 3
check_equal "--from 3 starts at seq 3" "3" "$(head -n 1 <<<"$OUT" | jq .seq)"
check_equal "--from 3 (lines, even with --json)" $((entries - 2)) "$(wc -l <<<"$OUT")"
expect_exit 0 "audit export past the head" loyalty audit export --from $((entries + 1))
check_equal "nothing past the head" "" "$OUT"

# --- checkpoint and verify ------------------------------------------------------------------
expect_exit 0 "audit checkpoint" loyalty audit checkpoint
printf '%s\n' "$OUT" >"$TMP/checkpoint.txt"
expect_exit 0 "audit checkpoint --json" loyalty --json audit checkpoint
check_field "checkpoint JSON" '.checkpoint | length > 0' true
expect_exit 0 "verify" loyalty --json verify
check_one_json "verify"
check_field "verify" '[.ok, .entries, .head_seq] | join(",")' "true,$entries,$entries"
check_field "verify head hash" '.head_hash' "$(tail -n 1 "$TMP/export.jsonl" | jq -r .hash)"
expect_exit 0 "verify (text)" loyalty verify
check_contains "verify text" "ok: $entries entries" "$OUT"
expect_exit 0 "verify --pubkey --checkpoint" loyalty verify --pubkey "$TMP/genesis.pub" --checkpoint "$TMP/checkpoint.txt"
printf 'not a key\n' >"$TMP/bad.pub"
expect_exit 2 "verify --pubkey with a malformed key file" loyalty verify --pubkey "$TMP/bad.pub"
expect_exit 2 "verify --pubkey with a missing file" loyalty verify --pubkey "$TMP/none.pub"

# --- rotation ---------------------------------------------------------------------------------
expect_exit 0 "key rotate" loyalty --json key rotate
new_key=$(field .public_key)
check_true "the new key differs" test "$new_key" != "$genesis_key"
check_match "the new key is 64 hex" '^[0-9a-f]{64}$' "$new_key"
check_true "the old secret key is kept" test -f "$DB.key.$genesis_key_id"
check_equal "kept key file mode" 600 "$(stat -c %a "$DB.key.$genesis_key_id")"
expect_exit 0 "key public after rotation" loyalty key public
check_equal "key public after rotation" "$new_key" "$OUT"
expect_exit 0 "award after rotation" loyalty award a-1 --ref o-3 --points 5
expect_exit 0 "verify after rotation" loyalty --json verify
check_field "verify after rotation" '.ok' true
expect_exit 0 "verify from the genesis key follows the rotation" \
    loyalty verify --pubkey "$TMP/genesis.pub" --checkpoint "$TMP/checkpoint.txt"

# --- another ledger's key ---------------------------------------------------------------------
expect_exit 0 "init another ledger" loyalty_bare --db "$TMP/other.db" --json init
field .public_key >"$TMP/other.pub"
expect_exit 7 "verify against another ledger's key" loyalty --json verify --pubkey "$TMP/other.pub"
check_field "wrong key" '[.ok, .first_bad_seq] | join(",")' "false,1"
check_field "a reason is given" '.reason | length > 0' true

# --- tampering (each on a fresh copy) -----------------------------------------------------------
if command -v sqlite3 >/dev/null 2>&1; then
    tampered="$TMP/tampered.db"
    # tamper WHAT SQL: copies the ledger, runs SQL on the copy, expects verify to fail.
    tamper() {
        rm -f "$tampered" "$tampered-wal" "$tampered-shm"
        sqlite3 "$DB" ".backup '$tampered'"
        sqlite3 "$tampered" "$2"
        expect_exit 7 "verify catches: $1" loyalty_bare --db "$tampered" --json verify
        check_field "$1: not ok" '.ok' false
    }
    tamper "a changed payload byte" "UPDATE audit SET payload = replace(payload, '\"points\":5', '\"points\":6') WHERE seq = (SELECT max(seq) FROM audit)"
    check_field "payload: first bad seq" '.first_bad_seq' "$(loyalty audit export | wc -l)"
    tamper "a changed balance" "UPDATE members SET balance = balance + 1 WHERE external_id = 'a-1'"
    check_field "balance: the table is named" '.table' members
    tamper "a changed journal amount" "UPDATE journal SET points = points + 1 WHERE tx = $a2_award_tx"
    tamper "a deleted middle entry" "DELETE FROM audit WHERE seq = 4"
    check_field "deleted: first bad seq" '.first_bad_seq' 4
    tamper "a changed signature" "UPDATE audit SET sig = zeroblob(64) WHERE seq = 5"
    check_field "signature: first bad seq" '.first_bad_seq' 5
    # verify checks signatures on as many threads as the process may use cores:
    # allowed one CPU, it must still check every one of them.
    if command -v taskset >/dev/null 2>&1; then
        expect_exit 7 "verify on one CPU catches the changed signature" \
            taskset -c 0 "$LOYALTY_BIN" --db "$tampered" --json verify
        check_field "one CPU: first bad seq" '.first_bad_seq' 5
    fi

    # A tail removed from both the log and the state is consistent; only a
    # checkpoint taken before can tell.
    expect_exit 0 "member add a-3" loyalty member add a-3
    expect_exit 0 "checkpoint with a-3" loyalty audit checkpoint
    printf '%s\n' "$OUT" >"$TMP/checkpoint-a3.txt"
    rm -f "$tampered" "$tampered-wal" "$tampered-shm"
    sqlite3 "$DB" ".backup '$tampered'"
    sqlite3 "$tampered" "DELETE FROM members WHERE external_id = 'a-3'; DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)"
    expect_exit 0 "a consistent truncation passes without a checkpoint" loyalty_bare --db "$tampered" verify
    expect_exit 7 "a consistent truncation fails with the checkpoint" \
        loyalty_bare --db "$tampered" verify --checkpoint "$TMP/checkpoint-a3.txt"
else
    echo "audit: sqlite3 not installed, tamper checks skipped" >&2
fi

expect_exit 0 "the real ledger still verifies" loyalty verify --checkpoint "$TMP/checkpoint.txt"
e2e_end
