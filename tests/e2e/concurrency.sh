#!/usr/bin/env bash
# concurrency.sh - many processes on one ledger at once: 16 processes race
# on one award reference (exactly one applies, the others answer replayed),
# then 8 processes each post 25 awards with distinct references to one
# member (the final balance is the exact sum and every award is journalled
# and audited once). Every process acts as its own registered checkout
# operator.
source "$(dirname "$0")/lib.bash"
e2e_begin concurrency

RACERS=16
WRITERS=8
AWARDS_PER_WRITER=25

expect_exit 0 "init" loyalty init
# Every process acts as its own checkout operator.
for i in $(seq 1 $RACERS); do
    add_operator "racer-$i" checkout
done
for w in $(seq 1 $WRITERS); do
    add_operator "writer-$w" checkout
done
expect_exit 0 "member add racer" loyalty member add racer
expect_exit 0 "member add busy" loyalty member add busy
audit_start=$(audit_lines)

# --- 16 processes, one reference -------------------------------------------------------
pids=()
for i in $(seq 1 $RACERS); do
    loyalty --json --actor "racer-$i" award racer --ref race-1 --points 77 \
        >"$TMP/race.$i.out" 2>"$TMP/race.$i.err" &
    pids+=($!)
done
race_failures=0
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || {
        race_failures=$((race_failures + 1))
        echo "racer $((i + 1)) failed: $(cat "$TMP/race.$((i + 1)).err")" >&2
    }
done
check_equal "every racer exits 0" 0 "$race_failures"
applied=$(cat "$TMP"/race.*.out | jq -s 'map(select(.replayed == false)) | length')
replayed=$(cat "$TMP"/race.*.out | jq -s 'map(select(.replayed == true)) | length')
check_equal "exactly one racer applies the award" 1 "$applied"
check_equal "the other racers are replays" $((RACERS - 1)) "$replayed"
check_equal "every racer reports the same tx" 1 "$(cat "$TMP"/race.*.out | jq -s 'map(.tx) | unique | length')"
expect_exit 0 "racer balance" loyalty --json balance racer
check_field "the award counts once" '.balance' 77
check_equal "one audit entry for the race" $((audit_start + 1)) "$(audit_lines)"

# --- 8 processes, 25 distinct references each ----------------------------------------------
# Writer w posts points w*100 + k for k = 1..25, so that every award differs.
writer() {
    local w=$1 k
    for k in $(seq 1 $AWARDS_PER_WRITER); do
        loyalty --json --actor "writer-$w" award busy --ref "w$w-$k" --points $((w * 100 + k)) \
            >>"$TMP/writer.$w.out" 2>>"$TMP/writer.$w.err" || echo "award w$w-$k failed" >&2
    done
}
expected=0
for w in $(seq 1 $WRITERS); do
    for k in $(seq 1 $AWARDS_PER_WRITER); do
        expected=$((expected + w * 100 + k))
    done
done
stats_before=$(loyalty --json stats | jq .transactions)
pids=()
for w in $(seq 1 $WRITERS); do
    writer "$w" 2>"$TMP/writer.$w.fail" &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid"
done
check_equal "no award failed" "" "$(cat "$TMP"/writer.*.fail "$TMP"/writer.*.err)"
total=$((WRITERS * AWARDS_PER_WRITER))
check_equal "every award applied once" "$total" \
    "$(cat "$TMP"/writer.*.out | jq -s 'map(select(.replayed == false)) | length')"
expect_exit 0 "busy balance" loyalty --json balance busy
check_field "the balance is the exact sum" '.balance' "$expected"
check_field "all of it is available" '.available' "$expected"
expect_exit 0 "busy history" loyalty --json history busy --limit 1000
check_field "one journal entry per award" '.entries | length' "$total"
check_field "distinct references" '[.entries[].ref] | unique | length' "$total"
check_field "history sums to the balance" '[.entries[].points] | add' "$expected"
check_equal "stats count every award" $((stats_before + total)) "$(loyalty --json stats | jq .transactions)"
check_equal "one audit entry per award" $((audit_start + 1 + total)) "$(audit_lines)"
expect_exit 0 "the chain verifies after the race" loyalty --json verify
check_field "verify" '.ok' true

e2e_end
