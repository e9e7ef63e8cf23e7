#!/usr/bin/env bash
# lifecycle_refunds.sh - refunds through the CLI: partial refunds of an order
# claw back points in proportion, rounded down over the cumulative amount, so
# that parts adding up to the order take back exactly what it earned; more than
# is left is exit 5, an unknown order exit 3; the order's own lot goes first
# (even while pending); a refund of points already spent leaves a debt that
# later credits repay first; refunds replay by reference.
source "$(dirname "$0")/lib.bash"
e2e_begin lifecycle_refunds

expect_exit 0 "init (1 point per 1.00)" loyalty init
for member in r-1 r-2 r-3 r-4; do
    expect_exit 0 "member $member" loyalty member add "$member"
done
UNCHANGED_MEMBERS=(r-1 r-2 r-3 r-4)
export LOYALTY_NOW="2026-07-01T09:00:00Z"

# --- parts adding up to the whole ---------------------------------------------------------
expect_exit 0 "order of 100.00" loyalty --json award r-1 --ref order-1 --amount 10000
check_field "order earns 100" '.points' 100
order_tx=$(field .tx)
expect_exit 0 "a bonus" loyalty award r-1 --ref bonus-1 --points 10

expect_exit 0 "refund 33.33" loyalty --json refund r-1 --ref refund-1 --order order-1 --amount 3333
check_one_json "refund"
check_field "refund 33.33" '[.member, .order, .amount, .points, .replayed, .balance, .available] | join(",")' \
    "r-1,order-1,3333,-33,false,77,77"
refund_tx=$(field .tx)
refund_seq=$(field .audit_seq)
check_true "refund has an audit seq" test "$refund_seq" -gt 0
expect_unchanged 0 "refund replay" loyalty --json refund r-1 --ref refund-1 --order order-1 --amount 3333
check_field "refund replay" '[.tx, .points, .replayed, .audit_seq] | join(",")' "$refund_tx,-33,true,$refund_seq"
expect_unchanged 5 "refund ref with another amount" loyalty refund r-1 --ref refund-1 --order order-1 --amount 3334
expect_unchanged 5 "refund ref with another order" loyalty refund r-1 --ref refund-1 --order bonus-1 --amount 3333

expect_exit 0 "refund 33.33 again" loyalty --json refund r-1 --ref refund-2 --order order-1 --amount 3333
check_field "second part" '[.points, .balance] | join(",")' "-33,44"
expect_unchanged 5 "refund more than is left" loyalty --json refund r-1 --ref refund-3 --order order-1 --amount 3335
check_contains "more than is left: error code" '"code":"wrong_state"' "$ERR"
expect_exit 0 "refund the last 33.34" loyalty --json refund r-1 --ref refund-3 --order order-1 --amount 3334
check_field "last part takes the rest" '[.points, .balance, .available] | join(",")' "-34,10,10"
expect_unchanged 5 "refund after a full refund" loyalty refund r-1 --ref refund-4 --order order-1 --amount 1
expect_unchanged 3 "refund of an unknown order" loyalty --json refund r-1 --ref refund-5 --order no-such-order --amount 100
check_contains "unknown order: error code" '"code":"not_found"' "$ERR"
expect_unchanged 3 "refund of a bonus (not a purchase)" loyalty refund r-1 --ref refund-6 --order bonus-1 --amount 1
expect_unchanged 3 "refund of another member's order" loyalty refund r-2 --ref refund-7 --order order-1 --amount 1
expect_unchanged 3 "refund for an unknown member" loyalty refund nobody --ref refund-8 --order order-1 --amount 1
expect_unchanged 2 "refund of zero" loyalty refund r-1 --ref refund-9 --order order-1 --amount 0
expect_unchanged 2 "refund without --order" loyalty refund r-1 --ref refund-9 --amount 10

expect_exit 0 "history of r-1" loyalty --json history r-1
check_field "refunds name their order" \
    '[.entries[] | select(.kind == "refund") | "\(.points):\(.amount):\(.order_tx)"] | join(",")' \
    "-34:3334:$order_tx,-33:3333:$order_tx,-33:3333:$order_tx"
check_field "other entries have no order_tx" '[.entries[] | select(.kind != "refund") | has("order_tx")] | any' false
expect_exit 0 "history (text)" loyalty history r-1
check_contains "text names the refunded tx" "refunds tx $order_tx" "$OUT"
expect_exit 0 "stats" loyalty --json stats
check_field "clawed back exactly the order's points" '[.issued, .clawed_back, .outstanding] | join(",")' "110,100,10"
check_invariants "partial refunds" r-1

# --- a refund of spent points: debt, repaid by later credits -------------------------------
expect_exit 0 "order of 200.00" loyalty award r-2 --ref order-2 --amount 20000
expect_exit 0 "spend 150" loyalty redeem r-2 --ref spend-2 --points 150
expect_exit 0 "full refund after spending" loyalty --json refund r-2 --ref refund-r2 --order order-2 --amount 20000
check_field "balance goes negative" '[.points, .balance, .available] | join(",")' "-200,-150,0"
expect_exit 0 "balance in debt" loyalty --json balance r-2
check_field "debt recorded" '[.balance, .available, .debt] | join(",")' "-150,0,150"
expect_unchanged 4 "nothing to spend in debt" loyalty redeem r-2 --ref spend-3 --points 1
expect_exit 0 "a credit repays the debt first" loyalty --json award r-2 --ref bonus-2 --points 100
check_field "still in debt" '[.balance, .available] | join(",")' "-50,0"
expect_exit 0 "balance still in debt" loyalty --json balance r-2
check_field "debt 50" '[.balance, .available, .debt] | join(",")' "-50,0,50"
expect_exit 0 "a purchase repays the rest" loyalty --json award r-2 --ref order-3 --amount 8000
check_field "out of debt" '[.points, .balance, .available] | join(",")' "80,30,30"
expect_exit 0 "balance out of debt" loyalty --json balance r-2
check_field "debt 0" '[.balance, .available, .debt] | join(",")' "30,30,0"
check_invariants "debt" r-1 r-2

# --- the order's own lot goes first, even while pending -------------------------------------
printf '{"pending_days":10}\n' >"$TMP/pending.json"
expect_exit 0 "10 pending days" loyalty program load "$TMP/pending.json"
expect_exit 0 "a bonus (spendable)" loyalty award r-3 --ref bonus-3 --points 100
expect_exit 0 "an order (pending)" loyalty --json award r-3 --ref order-4 --amount 10000
check_field "order pending" '[.balance, .available] | join(",")' "200,100"
expect_exit 0 "refund half of the pending order" loyalty --json refund r-3 --ref refund-r3 --order order-4 --amount 5000
check_field "refund half" '[.points, .balance, .available] | join(",")' "-50,150,100"
expect_exit 0 "balance after refunding a pending order" loyalty --json balance r-3
check_field "taken from the pending lot, not the bonus" '[.balance, .available, .pending] | join(",")' "150,100,50"

# --- a reversed order cannot be refunded ---------------------------------------------------
expect_exit 0 "order r-4" loyalty --json award r-4 --ref order-5 --amount 5000
order5_tx=$(field .tx)
expect_exit 0 "reverse it" loyalty reverse "$order5_tx" --ref undo-5 --reason mistake
expect_unchanged 5 "refund of a reversed order" loyalty refund r-4 --ref refund-r4 --order order-5 --amount 100
check_invariants "end" r-1 r-2 r-3 r-4

expect_exit 0 "refund --help" loyalty refund --help
check_contains "refund help" "usage: loyalty refund ID --ref REF --order ORDER_REF --amount MINOR" "$OUT"
expect_exit 0 "refund (text)" loyalty refund r-3 --ref refund-r3 --order order-4 --amount 5000
check_line "text refund replay" '^replayed: +true$'

e2e_end
