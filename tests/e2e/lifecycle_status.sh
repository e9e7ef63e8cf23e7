#!/usr/bin/env bash
# lifecycle_status.sh - member status through the CLI: a frozen member still
# earns but cannot redeem, hold or capture (exit 6); unfreezing restores them;
# closing releases open holds and forfeits the remaining points in an audited
# `forfeit` entry, after which nothing is permitted (exit 6); repeating a status
# change answers replayed and changes nothing.
source "$(dirname "$0")/lib.bash"
e2e_begin lifecycle_status

expect_exit 0 "init" loyalty init
for member in s-1 s-2; do
    expect_exit 0 "member $member" loyalty member add "$member"
done
UNCHANGED_MEMBERS=(s-1 s-2)
export LOYALTY_NOW="2026-09-01T10:00:00Z"
expect_exit 0 "award s-1" loyalty award s-1 --ref order-1 --amount 30000
expect_exit 0 "a hold before the freeze" loyalty hold s-1 --ref cart-1 --points 50
expect_exit 0 "another hold before the freeze" loyalty hold s-1 --ref cart-2 --points 20

# --- freeze ------------------------------------------------------------------------------
expect_exit 0 "freeze" loyalty --json member freeze s-1 --reason fraud-check
check_one_json "freeze"
check_field "freeze" '[.member, .status, .replayed] | join(",")' "s-1,frozen,false"
expect_unchanged 0 "freeze again" loyalty --json member freeze s-1 --reason fraud-check
check_field "freeze again" '[.status, .replayed] | join(",")' "frozen,true"
expect_exit 0 "member show frozen" loyalty --json member show s-1
check_field "frozen member" '[.status, .balance, .available, .held] | join(",")' "frozen,300,230,70"

expect_exit 0 "a frozen member still earns" loyalty --json award s-1 --ref bonus-1 --points 20
check_field "earned while frozen" '[.points, .balance] | join(",")' "20,320"
expect_unchanged 6 "a frozen member cannot redeem" loyalty --json redeem s-1 --ref spend-1 --points 10
check_contains "frozen: error code" '"code":"not_permitted"' "$ERR"
expect_unchanged 6 "a frozen member cannot hold" loyalty hold s-1 --ref cart-3 --points 10
expect_unchanged 6 "a frozen member's hold cannot be captured" loyalty capture cart-1
expect_exit 0 "a frozen member's hold can be released" loyalty --json release cart-2
check_field "released while frozen" '[.status, .held] | join(",")' "released,50"

# --- unfreeze ------------------------------------------------------------------------------
expect_exit 0 "unfreeze (default reason)" loyalty --json member unfreeze s-1
check_field "unfreeze" '[.member, .status, .replayed] | join(",")' "s-1,active,false"
check_equal "unfreeze is audited with the default reason" "unfreeze" \
    "$(loyalty audit export | jq -r 'select(.action == "member_unfreeze") | .payload | fromjson | .reason')"
check_equal "freeze is audited with its reason" "fraud-check" \
    "$(loyalty audit export | jq -r 'select(.action == "member_freeze") | .payload | fromjson | .reason')"
expect_unchanged 0 "unfreeze an active member" loyalty --json member unfreeze s-1 --reason again
check_field "unfreeze again" '[.status, .replayed] | join(",")' "active,true"
expect_exit 0 "redeem after unfreeze" loyalty --json redeem s-1 --ref spend-1 --points 10
check_field "redeemed" '.balance' 310
expect_exit 0 "capture after unfreeze" loyalty --json capture cart-1 --points 30
check_field "captured" '[.captured, .balance, .available, .held] | join(",")' "30,280,280,0"
expect_exit 0 "a new hold (open at close)" loyalty hold s-1 --ref cart-4 --points 40
check_invariants "freeze and unfreeze" s-1 s-2

# --- close ---------------------------------------------------------------------------------
expect_exit 0 "close" loyalty --json member close s-1 --reason account-closed
check_one_json "close"
check_field "close" '[.member, .status, .replayed, .forfeited] | join(",")' "s-1,closed,false,280"
expect_exit 0 "balance after close" loyalty --json balance s-1
check_field "closed: nothing left, nothing held" '[.status, .balance, .available, .pending, .held] | join(",")' \
    "closed,0,0,0,0"
expect_exit 0 "history after close" loyalty --json history s-1
check_field "forfeit entry" '.entries[0] | [.kind, .points, .balance_after, .reason] | join(",")' \
    "forfeit,-280,0,account-closed"
check_equal "close is audited with the forfeited points" "s-1:-280" \
    "$(loyalty audit export | jq -r 'select(.action == "member_close") | .payload | fromjson | "\(.member):\(.points)"')"
expect_exit 0 "stats after close" loyalty --json stats
check_field "stats forfeited" '[.forfeited, .outstanding] | join(",")' "280,0"

expect_unchanged 6 "a closed member cannot earn" loyalty award s-1 --ref bonus-2 --points 5
expect_unchanged 6 "a closed member cannot redeem" loyalty redeem s-1 --ref spend-2 --points 1
expect_unchanged 6 "a closed member cannot be adjusted" loyalty adjust s-1 --ref fix-1 --points +5 --reason goodwill
expect_unchanged 6 "a closed member cannot hold" loyalty hold s-1 --ref cart-5 --points 1
expect_unchanged 6 "a closed member cannot be refunded" loyalty refund s-1 --ref refund-1 --order order-1 --amount 100
expect_unchanged 6 "a closed member cannot be frozen" loyalty member freeze s-1 --reason fraud
expect_unchanged 6 "a closed member cannot be unfreezed" loyalty member unfreeze s-1
expect_unchanged 5 "the hold open at close was released" loyalty capture cart-4
expect_unchanged 0 "close again" loyalty --json member close s-1 --reason account-closed
check_field "close again" '[.status, .replayed, .forfeited] | join(",")' "closed,true,0"
expect_unchanged 0 "a replayed award still answers" loyalty --json award s-1 --ref order-1 --amount 30000
check_field "replayed award after close" '.replayed' true
check_invariants "close" s-1 s-2

# --- closing a member with nothing, and errors -----------------------------------------------------
expect_exit 0 "close an empty member" loyalty --json member close s-2 --reason duplicate
check_field "nothing to forfeit" '[.status, .forfeited] | join(",")' "closed,0"
expect_exit 0 "history of the empty member" loyalty --json history s-2
check_field "no forfeit entry for nothing" '.entries | length' 0
expect_unchanged 3 "freeze an unknown member" loyalty member freeze nobody --reason fraud
expect_unchanged 2 "freeze without a reason" loyalty member freeze s-1
expect_unchanged 2 "close without a reason" loyalty member close s-1
expect_unchanged 2 "a bad reason code" loyalty member freeze s-1 --reason "not a code"
for command in freeze unfreeze close; do
    expect_exit 0 "member $command --help" loyalty member "$command" --help
    check_contains "member $command help" "usage: loyalty member $command" "$OUT"
done
expect_exit 0 "member close (text)" loyalty member close s-2 --reason duplicate
check_line "text close" '^forfeited: +0$'
check_invariants "end" s-1 s-2

e2e_end
