#!/usr/bin/env bash
# lifecycle_sweep.sh - an expiry sweep larger than one batch (the library commits
# 256 members per transaction): 260 members with expired points and 3 lapsed
# holds are all swept exactly once, the figures add up, the progress bar on a
# terminal moves through the batches and is wiped, nothing shows off a
# terminal, and a second sweep changes nothing.
source "$(dirname "$0")/lib.bash"
e2e_begin lifecycle_sweep

MEMBERS=260
printf '{"expiry_days":1}\n' >"$TMP/program.json"
expect_exit 0 "init" loyalty init --program "$TMP/program.json"
export LOYALTY_NOW="2026-01-01T00:00:00Z"
setup_failures=0
for i in $(seq 1 $MEMBERS); do
    loyalty member add "w-$i" >/dev/null 2>&1 || setup_failures=$((setup_failures + 1))
    loyalty award "w-$i" --ref "bonus-$i" --points "$i" >/dev/null 2>&1 || setup_failures=$((setup_failures + 1))
done
check_equal "$MEMBERS members with points" 0 "$setup_failures"
for i in 1 2 3; do
    expect_exit 0 "hold of w-$i" loyalty hold "w-$i" --ref "cart-$i" --points 1
done
UNCHANGED_MEMBERS=(w-1 w-130 w-260)

export LOYALTY_NOW="2026-01-02T00:00:00Z" # every lot expired, every hold lapsed
expect_exit 0 "stats before" loyalty --json stats
check_field "nothing swept yet" '[.outstanding, .expired] | join(",")' "$((MEMBERS * (MEMBERS + 1) / 2)),0"
audit_before=$(audit_lines)

if command -v script >/dev/null 2>&1; then
    terminal=$(script -qec "'$LOYALTY_BIN' --db '$DB' --json expire" /dev/null </dev/null)
    check_equal "expire on a terminal exits 0" 0 "$?"
    check_contains "the bar after the first batch" "256/263" "$terminal"
    check_contains "the bar at the end" "100% 263/263" "$terminal"
    check_match "the bar is wiped before the figures" $'\r +\r\\{' "$terminal"
    figures=$(tr -d '\r' <<<"$terminal" | grep -o '{.*}')
    OUT=$figures
else
    echo "lifecycle_sweep: 'script' is missing; the bar is not checked" >&2
    expect_exit 0 "expire" loyalty --json expire
    check_equal "no bar off a terminal" "" "$ERR"
fi
check_field "every member and hold swept once" '[.expired_points, .members, .holds_lapsed] | join(",")' \
    "$((MEMBERS * (MEMBERS + 1) / 2)),$MEMBERS,3"
check_equal "one entry per member and per hold" "$((audit_before + MEMBERS + 3))" "$(audit_lines)"
check_equal "every member has one expire entry" "$MEMBERS,$MEMBERS" \
    "$(loyalty audit export | jq -s '[.[] | select(.action == "expire") | .payload | fromjson | .member] | "\(length),\(unique | length)"' -r)"
expect_exit 0 "stats after" loyalty --json stats
check_field "all expired" '[.outstanding, .expired] | join(",")' "0,$((MEMBERS * (MEMBERS + 1) / 2))"
expect_exit 0 "w-260 after the sweep" loyalty --json history w-260
check_field "w-260 expire entry" '.entries[0] | [.kind, .points, .balance_after] | join(",")' "expire,-260,0"

expect_unchanged 0 "expire again" loyalty --json expire
check_field "nothing left" '[.expired_points, .members, .holds_lapsed] | join(",")' "0,0,0"
check_equal "no bar off a terminal" "" "$ERR"
check_invariants "sweep" w-1 w-2 w-3 w-256 w-257 w-260

e2e_end
