#!/usr/bin/env bash
# concurrency_soak.sh - the concurrency soak through the command-line tool:
# 8 writer loops and 8 reader loops of `loyalty` processes on one ledger for
# a few seconds (SOAK_SECONDS, default 5), one writer reference in five
# shared by every writer (same parameters, derived from its number). The
# library-level soak with the full figures is tests/crash/concurrency.c
# (`make crash-short`, `make torture`).
#
# Pass: no process prints "database is locked" or exits 1 (busy or
# storage); every writer call exits 0, or 4 for a redemption short of
# points; every reference is applied once (for a shared one, exactly one
# call answers replayed=false); each reader's history is a running sum that
# ends at its newest balance, and the statistics always add up; at the end
# the ledger verifies and every balance is the sum of its audited deltas.
#
# The loops run the binary directly, not under LOYALTY_WRAPPER: a soak
# under valgrind would measure valgrind.
source "$(dirname "$0")/lib.bash"
e2e_begin concurrency_soak

SECONDS_TO_RUN=${SOAK_SECONDS:-5}
WRITERS=8
READERS=8
MEMBERS=(s-0 s-1 s-2 s-3)

expect_exit 0 "init" loyalty init
for member in "${MEMBERS[@]}"; do
    expect_exit 0 "member add $member" loyalty member add "$member"
    expect_exit 0 "seed award $member" loyalty award "$member" --ref "seed-$member" --points 200
done
for i in $(seq 1 $WRITERS); do
    add_operator "writer-$i" checkout
done
for i in $(seq 1 $READERS); do
    add_operator "reader-$i" auditor
done

deadline=$(($(date +%s) + SECONDS_TO_RUN))

# writer W: until the deadline, an award or a redemption per call; every fifth a shared award.
writer() {
    local w=$1 n=0 shared=0 rc out ref member points
    while [[ $(date +%s) -lt $deadline ]]; do
        n=$((n + 1))
        if ((RANDOM % 5 == 0)); then
            ref="dup-$shared"
            member=${MEMBERS[$((shared % ${#MEMBERS[@]}))]}
            points=$((1 + shared % 37))
            shared=$((shared + 1))
            out=$("$LOYALTY_BIN" --db "$DB" --json --actor "writer-$w" award "$member" --ref "$ref" \
                --points "$points" 2>>"$TMP/writer-$w.err")
            rc=$?
        elif ((RANDOM % 3 == 0)); then
            ref="w$w-$n"
            member=${MEMBERS[$((RANDOM % ${#MEMBERS[@]}))]}
            out=$("$LOYALTY_BIN" --db "$DB" --json --actor "writer-$w" redeem "$member" --ref "$ref" \
                --points $((1 + RANDOM % 40)) 2>>"$TMP/writer-$w.err")
            rc=$?
            [[ $rc == 4 ]] && continue
        else
            ref="w$w-$n"
            member=${MEMBERS[$((RANDOM % ${#MEMBERS[@]}))]}
            out=$("$LOYALTY_BIN" --db "$DB" --json --actor "writer-$w" award "$member" --ref "$ref" \
                --points $((1 + RANDOM % 50)) 2>>"$TMP/writer-$w.err")
            rc=$?
        fi
        if [[ $rc != 0 ]]; then
            echo "writer $w: $ref exited $rc" >>"$TMP/problems"
            continue
        fi
        jq -c --arg ref "$ref" '{ref: $ref, replayed, tx}' <<<"$out" >>"$TMP/outcomes"
    done
}

# reader R: until the deadline, a history or the statistics, checked as read.
reader() {
    local r=$1 out member
    while [[ $(date +%s) -lt $deadline ]]; do
        member=${MEMBERS[$((RANDOM % ${#MEMBERS[@]}))]}
        if ((RANDOM % 2)); then
            out=$("$LOYALTY_BIN" --db "$DB" --json --actor "reader-$r" history "$member" --limit 1000 \
                2>>"$TMP/reader-$r.err") || { echo "reader $r: history exited $?" >>"$TMP/problems"; continue; }
            jq -e '.entries as $e | ($e | length) == 0 or
                   (([$e[].points] | add) == $e[0].balance_after and
                    ([range(0; ($e | length) - 1) as $i
                      | $e[$i].balance_after - $e[$i].points == $e[$i + 1].balance_after] | all))' \
                <<<"$out" >/dev/null || echo "reader $r: $member's history is not a running sum" >>"$TMP/problems"
        else
            out=$("$LOYALTY_BIN" --db "$DB" --json --actor "reader-$r" stats 2>>"$TMP/reader-$r.err") ||
                { echo "reader $r: stats exited $?" >>"$TMP/problems"; continue; }
            jq -e '.outstanding == .issued - .redeemed - .expired - .clawed_back - .forfeited + .adjusted + .reversed' \
                <<<"$out" >/dev/null || echo "reader $r: the statistics do not add up" >>"$TMP/problems"
        fi
        echo x >>"$TMP/reads.$r"
    done
}

: >"$TMP/outcomes"
: >"$TMP/problems"
pids=()
for i in $(seq 1 $WRITERS); do
    writer "$i" &
    pids+=($!)
done
for i in $(seq 1 $READERS); do
    reader "$i" &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid"
done

check_equal "no process reported a problem" "" "$(head -5 "$TMP/problems")"
check_equal "no error message reached a caller" "" "$(cat "$TMP"/writer-*.err "$TMP"/reader-*.err | head -5)"
check_equal "nobody saw a locked database" 0 "$(cat "$TMP"/*.err | grep -ci 'locked')"
calls=$(wc -l <"$TMP/outcomes")
reads=$(cat "$TMP"/reads.* 2>/dev/null | wc -l)
check_true "the writers made calls ($calls)" test "$calls" -gt 0
check_true "the readers made reads ($reads)" test "$reads" -gt 0
check_equal "each reference applied by exactly one call" 0 \
    "$(jq -s 'group_by(.ref) | map(select(map(select(.replayed == false)) | length != 1)) | length' "$TMP/outcomes")"
check_equal "each shared reference answered with one transaction" 0 \
    "$(jq -s 'group_by(.ref) | map(select(map(.tx) | unique | length != 1)) | length' "$TMP/outcomes")"
contested=$(jq -s '[group_by(.ref)[] | select(length > 1)] | length' "$TMP/outcomes")
applied=$(jq -s '[.[] | select(.replayed == false)] | length' "$TMP/outcomes")
expect_exit 0 "stats" loyalty --json stats
check_field "one journal entry per applied reference" '.transactions' $((applied + ${#MEMBERS[@]}))
check_invariants "after the soak" "${MEMBERS[@]}"
echo "concurrency_soak: $calls writer calls ($applied applied, $contested shared references contested), $reads reads in ${SECONDS_TO_RUN} s" >&2

e2e_end
