#!/usr/bin/env bash
# lifecycle_holds.sh - checkout holds through the CLI: a hold reduces available
# and shows in held, is idempotent by reference, cannot exceed what is available;
# capture of part debits only that and frees the rest; release frees all; a hold
# past hold_ttl_seconds lapses by time (before any sweep) and the sweep counts
# it; a retried capture or release replays; any other call on a captured, released or
# lapsed hold is refused (exit 5);
# an unknown hold is exit 3. Every refusal leaves the ledger unchanged.
source "$(dirname "$0")/lib.bash"
e2e_begin lifecycle_holds

printf '{"hold_ttl_seconds":600}\n' >"$TMP/program.json"
expect_exit 0 "init" loyalty init --program "$TMP/program.json"
expect_exit 0 "program show" loyalty --json program show
check_field "hold ttl" '.hold_ttl_seconds' 600
expect_exit 0 "member h-1" loyalty member add h-1
expect_exit 0 "member h-2" loyalty member add h-2
UNCHANGED_MEMBERS=(h-1 h-2)

export LOYALTY_NOW="2026-05-01T12:00:00Z"
expect_exit 0 "award h-1" loyalty award h-1 --ref bonus-1 --points 500
expect_exit 0 "award h-2" loyalty award h-2 --ref bonus-2 --points 100

# --- hold ------------------------------------------------------------------------------
expect_exit 0 "hold" loyalty --json hold h-1 --ref cart-1 --points 200
check_one_json "hold"
check_field "hold" '[.ref, .member, .status, .points, .expires, .replayed] | join(",")' \
    "cart-1,h-1,open,200,2026-05-01T12:10:00Z,false"
check_field "hold figures" '[.balance, .available, .held] | join(",")' "500,300,200"
hold_seq=$(field .audit_seq)
expect_exit 0 "balance with a hold" loyalty --json balance h-1
check_field "held points leave available" '[.balance, .available, .held] | join(",")' "500,300,200"

expect_unchanged 0 "hold replay" loyalty --json hold h-1 --ref cart-1 --points 200
check_field "hold replay" '[.replayed, .status, .points, .audit_seq] | join(",")' "true,open,200,$hold_seq"
expect_unchanged 5 "hold ref with other points" loyalty hold h-1 --ref cart-1 --points 150
expect_unchanged 5 "hold ref for another member" loyalty hold h-2 --ref cart-1 --points 200
expect_unchanged 4 "over-hold" loyalty --json hold h-1 --ref cart-2 --points 301
check_contains "over-hold error code" '"code":"insufficient_points"' "$ERR"
expect_unchanged 4 "redeem held points" loyalty redeem h-1 --ref spend-1 --points 301
expect_unchanged 2 "hold of zero points" loyalty hold h-1 --ref cart-2 --points 0
expect_unchanged 2 "hold without --ref" loyalty hold h-1 --points 10
expect_unchanged 3 "hold for an unknown member" loyalty hold nobody --ref cart-2 --points 1

# --- capture part ----------------------------------------------------------------------------
expect_exit 0 "capture part" loyalty --json capture cart-1 --points 120
check_one_json "capture"
check_field "capture" '[.ref, .member, .status, .points, .captured, .replayed] | join(",")' \
    "cart-1,h-1,captured,200,120,false"
check_field "capture debits only what it took" '[.balance, .available, .held] | join(",")' "380,380,0"
capture_tx=$(field .tx)
check_true "capture has a transaction" test "$capture_tx" -gt 0
expect_exit 0 "history after capture" loyalty --json history h-1
check_field "capture entry" '.entries[0] | [.tx, .kind, .ref, .points, .balance_after] | join(",")' \
    "$capture_tx,capture,cart-1,-120,380"
expect_unchanged 0 "the same capture again is a retry" loyalty --json capture cart-1 --points 120
check_field "retried capture replays the first" '[.replayed, .tx, .captured] | join(",")' \
    "true,$capture_tx,120"
expect_unchanged 5 "capture again (all)" loyalty capture cart-1
expect_unchanged 5 "capture again with other points" loyalty capture cart-1 --points 80
expect_unchanged 5 "release a captured hold" loyalty release cart-1
expect_exit 0 "stats after capture" loyalty --json stats
check_field "a capture counts as redeemed" '.redeemed' 120

# --- more than held, release -------------------------------------------------------------------
expect_exit 0 "hold cart-3" loyalty --json hold h-1 --ref cart-3 --points 100
check_field "cart-3" '[.available, .held] | join(",")' "280,100"
expect_unchanged 2 "capture more than held" loyalty capture cart-3 --points 101
expect_exit 0 "release" loyalty --json release cart-3
check_field "release" '[.ref, .status, .points, .replayed] | join(",")' "cart-3,released,100,false"
check_field "release frees all" '[.balance, .available, .held] | join(",")' "380,380,0"
expect_unchanged 0 "release again is a retry" loyalty --json release cart-3
check_field "retried release replays" '[.replayed, .status] | join(",")' "true,released"
expect_unchanged 5 "capture a released hold" loyalty capture cart-3
expect_unchanged 0 "hold replay of a released hold" loyalty --json hold h-1 --ref cart-3 --points 100
check_field "replay reports it released" '[.replayed, .status] | join(",")' "true,released"

# --- capture of all (no --points) -------------------------------------------------------------
expect_exit 0 "hold cart-5" loyalty hold h-1 --ref cart-5 --points 50
expect_exit 0 "capture all" loyalty --json capture cart-5
check_field "capture all" '[.status, .captured, .balance, .available, .held] | join(",")' \
    "captured,50,330,330,0"
check_invariants "capture and release" h-1 h-2

# --- unknown holds ------------------------------------------------------------------------------
expect_unchanged 3 "capture an unknown hold" loyalty capture no-such-cart
expect_unchanged 3 "release an unknown hold" loyalty --json release no-such-cart
check_contains "unknown hold error code" '"code":"not_found"' "$ERR"

# --- lapse by time ------------------------------------------------------------------------------
export LOYALTY_NOW="2026-05-02T08:00:00Z"
expect_exit 0 "hold cart-4" loyalty --json hold h-1 --ref cart-4 --points 100
check_field "cart-4" '[.expires, .available, .held] | join(",")' "2026-05-02T08:10:00Z,230,100"
expect_exit 0 "hold cart-6 (h-2)" loyalty hold h-2 --ref cart-6 --points 100
export LOYALTY_NOW="2026-05-02T08:09:59.999999Z"
expect_exit 0 "balance just before the lapse" loyalty --json balance h-1
check_field "still held" '[.balance, .available, .held] | join(",")' "330,230,100"
export LOYALTY_NOW="2026-05-02T08:10:00Z"
expect_exit 0 "balance at the lapse" loyalty --json balance h-1
check_field "lapsed by time, before the sweep" '[.balance, .available, .held] | join(",")' "330,330,0"
expect_unchanged 5 "capture a lapsed hold" loyalty --json capture cart-4
check_contains "lapsed hold" "lapsed" "$ERR"
expect_unchanged 5 "release a lapsed hold" loyalty release cart-4
expect_unchanged 0 "hold replay of a lapsed hold" loyalty --json hold h-1 --ref cart-4 --points 100
check_field "replay reports it lapsed" '[.replayed, .status, .held] | join(",")' "true,lapsed,0"
audit_before=$(audit_lines)
expect_exit 0 "expire lapses the holds" loyalty --json expire
check_field "sweep counts the lapsed holds" '[.expired_points, .members, .holds_lapsed] | join(",")' "0,0,2"
check_equal "one hold_lapse entry per hold" "$((audit_before + 2))" "$(audit_lines)"
check_equal "hold_lapse entries" "cart-4,cart-6" \
    "$(loyalty audit export | jq -r 'select(.action == "hold_lapse") | .payload | fromjson | .ref' | sort | paste -sd,)"
expect_unchanged 0 "expire again" loyalty --json expire
check_field "nothing left to lapse" '[.expired_points, .members, .holds_lapsed] | join(",")' "0,0,0"
expect_unchanged 5 "capture after the sweep" loyalty capture cart-4
expect_exit 0 "balances after the lapse" loyalty --json balance h-2
check_field "h-2 available again" '[.balance, .available, .held] | join(",")' "100,100,0"
check_invariants "lapse" h-1 h-2

# --- usage ------------------------------------------------------------------------------------------
for command in hold capture release; do
    expect_exit 0 "$command --help" loyalty "$command" --help
    check_contains "$command help" "usage: loyalty $command" "$OUT"
done
expect_unchanged 2 "capture without a ref" loyalty capture
expect_unchanged 2 "capture with bad points" loyalty capture cart-1 --points -5
expect_exit 0 "hold (text)" loyalty hold h-1 --ref cart-7 --points 10
check_line "text hold" '^status: +open$'
check_invariants "end" h-1 h-2

# --- held points that expire, or are clawed back, cannot be captured ---------------------------
DB="$TMP/expiring.db"
printf '{"expiry_days":1,"hold_ttl_seconds":7200}\n' >"$TMP/expiring.json"
unset LOYALTY_NOW
expect_exit 0 "init (1-day expiry)" loyalty init --program "$TMP/expiring.json"
expect_exit 0 "member e-1" loyalty member add e-1
expect_exit 0 "member e-2" loyalty member add e-2
UNCHANGED_MEMBERS=(e-1 e-2)
export LOYALTY_NOW="2026-06-01T00:00:00Z"
expect_exit 0 "points expiring tomorrow" loyalty award e-1 --ref bonus-e1 --points 100
export LOYALTY_NOW="2026-06-01T23:30:00Z"
expect_exit 0 "hold them half an hour before" loyalty --json hold e-1 --ref cart-e1 --points 100
check_field "hold outlives the points" '.expires' "2026-06-02T01:30:00Z"
export LOYALTY_NOW="2026-06-02T00:00:00Z"
expect_unchanged 4 "capture of held points that expired" loyalty capture cart-e1
expect_exit 0 "release them" loyalty --json release cart-e1
check_field "released" '[.status, .balance, .available, .held] | join(",")' "released,100,0,0"
expect_exit 0 "a purchase for e-2" loyalty award e-2 --ref order-e2 --amount 10000
expect_exit 0 "hold all of it" loyalty hold e-2 --ref cart-e2 --points 100
expect_exit 0 "refund the order under the hold" loyalty --json refund e-2 --ref refund-e2 --order order-e2 --amount 10000
check_field "clawed back under the hold" '[.points, .balance, .available] | join(",")' "-100,0,0"
expect_unchanged 4 "capture of held points clawed back" loyalty capture cart-e2
check_invariants "expiring holds" e-1 e-2

e2e_end
