#!/usr/bin/env bash
# lifecycle.sh - the time rules of the points lifecycle through the CLI, walking
# the clock with LOYALTY_NOW: purchase points pending until exactly pending_days
# later (bonuses at once), debits consuming lots first-expiring-first, points
# unspendable from the exact moment they expire (before any sweep), and the
# `expire` sweep: one entry per member, its figures, a second run that changes
# nothing, the progress bar only on a terminal. Holds, refunds and member
# status are in lifecycle_holds.sh, lifecycle_refunds.sh and lifecycle_status.sh.
source "$(dirname "$0")/lib.bash"
e2e_begin lifecycle

# new_ledger NAME PROGRAM_JSON: a fresh ledger in $TMP/NAME.db with that program.
new_ledger() {
    DB="$TMP/$1.db"
    printf '%s\n' "$2" >"$TMP/$1.json"
    unset LOYALTY_NOW
    expect_exit 0 "$1: init" loyalty --json init --program "$TMP/$1.json"
}

# --- pending ------------------------------------------------------------------------
new_ledger pending '{"pending_days":14}'
expect_exit 0 "program show has pending_days" loyalty --json program show
check_field "program fields" '[.pending_days, .expiry_days, .hold_ttl_seconds] | join(",")' "14,0,900"
expect_exit 0 "member p-1" loyalty member add p-1
UNCHANGED_MEMBERS=(p-1)

export LOYALTY_NOW="2026-03-01T10:00:00Z"
expect_exit 0 "purchase award" loyalty --json award p-1 --ref order-1 --amount 25000
check_field "purchase is pending" '[.points, .balance, .available] | join(",")' "250,250,0"
expect_exit 0 "balance after the purchase" loyalty --json balance p-1
check_field "pending, not available" '[.balance, .available, .pending, .held, .expired, .debt] | join(",")' \
    "250,0,250,0,0,0"
check_field "no expiry without expiry_days" '.next_expiry' null
expect_exit 0 "bonus award" loyalty --json award p-1 --ref bonus-1 --points 40
check_field "a bonus is available at once" '[.points, .balance, .available] | join(",")' "40,290,40"
expect_unchanged 4 "redeem pending points" loyalty redeem p-1 --ref r-early --points 41
expect_unchanged 4 "hold pending points" loyalty hold p-1 --ref h-early --points 41

export LOYALTY_NOW="2026-03-15T09:59:59.999999Z" # one microsecond before the 14 days are up
expect_exit 0 "balance just before maturity" loyalty --json balance p-1
check_field "still pending" '[.balance, .available, .pending] | join(",")' "290,40,250"
expect_unchanged 4 "redeem just before maturity" loyalty redeem p-1 --ref r-early --points 41

export LOYALTY_NOW="2026-03-15T10:00:00Z" # exactly 14 days later: no job needed
expect_exit 0 "balance at maturity" loyalty --json balance p-1
check_field "matured" '[.balance, .available, .pending] | join(",")' "290,290,0"
expect_exit 0 "balance at maturity (text)" loyalty balance p-1
check_line "text shows pending" '^pending: +0$'
check_line "text shows no next expiry" '^next_expiry: +-$'
expect_exit 0 "redeem everything at maturity" loyalty --json redeem p-1 --ref r-1 --points 290
check_field "redeemed all" '[.points, .balance, .available] | join(",")' "-290,0,0"
check_invariants "pending" p-1

# --- first-expiring-first -------------------------------------------------------------
# Lots (earned, expires): A 100 (01-01, 01-31), B 200 (01-11, 02-10), C 300 (01-21,
# 03-22 under a 60-day program), D 50 (01-22, 02-01 under a 10-day program). Earned
# order is A B C D; expiry order is A D B C, and debits must follow the latter.
new_ledger fifo '{"expiry_days":30}'
expect_exit 0 "member f-1" loyalty member add f-1
UNCHANGED_MEMBERS=(f-1)
export LOYALTY_NOW="2026-01-01T00:00:00Z"
expect_exit 0 "lot A" loyalty --json award f-1 --ref lot-a --points 100
expect_exit 0 "next expiry after A" loyalty --json balance f-1
check_field "next expiry is A" '.next_expiry | [.points, .at] | join(",")' "100,2026-01-31T00:00:00Z"
export LOYALTY_NOW="2026-01-11T00:00:00Z"
expect_exit 0 "lot B" loyalty award f-1 --ref lot-b --points 200
export LOYALTY_NOW="2026-01-21T00:00:00Z"
printf '{"expiry_days":60}\n' >"$TMP/fifo60.json"
expect_exit 0 "60-day program" loyalty program load "$TMP/fifo60.json"
expect_exit 0 "lot C" loyalty award f-1 --ref lot-c --points 300
export LOYALTY_NOW="2026-01-22T00:00:00Z"
printf '{"expiry_days":10}\n' >"$TMP/fifo10.json"
expect_exit 0 "10-day program" loyalty program load "$TMP/fifo10.json"
expect_exit 0 "lot D" loyalty award f-1 --ref lot-d --points 50

export LOYALTY_NOW="2026-01-25T00:00:00Z"
expect_exit 0 "balance of four lots" loyalty --json balance f-1
check_field "four lots" '[.balance, .available, .expired] | join(",")' "650,650,0"
check_field "next expiry is still A" '.next_expiry | [.points, .at] | join(",")' "100,2026-01-31T00:00:00Z"
expect_exit 0 "redeem 120" loyalty --json redeem f-1 --ref spend-1 --points 120
check_field "redeem 120" '[.balance, .available] | join(",")' "530,530"
expect_exit 0 "balance after 120" loyalty --json balance f-1
check_field "A gone, D (not B) gave 20" '.next_expiry | [.points, .at] | join(",")' "30,2026-02-01T00:00:00Z"
expect_exit 0 "redeem 100" loyalty --json redeem f-1 --ref spend-2 --points 100
expect_exit 0 "balance after 100 more" loyalty --json balance f-1
check_field "D gone, B gave 70" '.next_expiry | [.points, .at] | join(",")' "130,2026-02-10T00:00:00Z"
check_field "after the FIFO debits" '[.balance, .available] | join(",")' "430,430"

export LOYALTY_NOW="2026-02-09T23:59:59.999999Z"
expect_exit 0 "balance just before B expires" loyalty --json balance f-1
check_field "B still spendable" '[.balance, .available, .expired] | join(",")' "430,430,0"
export LOYALTY_NOW="2026-02-10T00:00:00Z"
expect_exit 0 "balance when B expires" loyalty --json balance f-1
check_field "B expired, not yet swept" '[.balance, .available, .expired] | join(",")' "430,300,130"
check_field "next expiry is C" '.next_expiry | [.points, .at] | join(",")' "300,2026-03-22T00:00:00Z"
expect_unchanged 4 "expired points cannot be spent" loyalty redeem f-1 --ref spend-3 --points 301
check_invariants "fifo" f-1

# --- expiry and the sweep -----------------------------------------------------------------
# x-1: 100 (01-01, expires 01-31) and 60 (01-10, expires 02-09); x-2: a purchase of 50
# (01-05, expires 02-04); x-3: 70 (01-20, expires 02-19).
new_ledger expiry '{"expiry_days":30}'
for member in x-1 x-2 x-3; do
    expect_exit 0 "member $member" loyalty member add "$member"
done
UNCHANGED_MEMBERS=(x-1 x-2 x-3)
export LOYALTY_NOW="2026-01-01T00:00:00Z"
expect_exit 0 "x-1 first lot" loyalty award x-1 --ref x1-a --points 100
export LOYALTY_NOW="2026-01-05T00:00:00Z"
expect_exit 0 "x-2 purchase" loyalty --json award x-2 --ref x2-order --amount 5000
check_field "x-2 purchase" '.points' 50
export LOYALTY_NOW="2026-01-10T00:00:00Z"
expect_exit 0 "x-1 second lot" loyalty award x-1 --ref x1-b --points 60
export LOYALTY_NOW="2026-01-20T00:00:00Z"
expect_exit 0 "x-3 lot" loyalty award x-3 --ref x3-a --points 70

export LOYALTY_NOW="2026-01-30T23:59:59.999999Z"
expect_exit 0 "x-1 just before expiry" loyalty --json balance x-1
check_field "x-1 all spendable" '[.balance, .available, .expired] | join(",")' "160,160,0"
export LOYALTY_NOW="2026-01-31T00:00:00Z"
expect_exit 0 "x-1 at expiry" loyalty --json balance x-1
check_field "x-1 at the boundary, before the sweep" '[.balance, .available, .expired] | join(",")' "160,60,100"
check_field "x-1 next expiry" '.next_expiry | [.points, .at] | join(",")' "60,2026-02-09T00:00:00Z"
expect_exit 0 "member show has the same figures" loyalty --json member show x-1
check_field "member show" '[.balance, .available, .expired, .debt, .next_expiry.points] | join(",")' "160,60,100,0,60"
expect_unchanged 4 "redeem expired points" loyalty redeem x-1 --ref x1-spend --points 61
expect_unchanged 4 "hold expired points" loyalty hold x-1 --ref x1-hold --points 61
expect_unchanged 4 "adjust away expired points" loyalty adjust x-1 --ref x1-fix --points -61 --reason correction
expect_exit 0 "x-1 text balance" loyalty balance x-1
check_line "text shows the next expiry" '^next_expiry: +points 60, at 2026-02-09T00:00:00Z$'
check_line "text shows expired" '^expired: +100$'

export LOYALTY_NOW="2026-02-05T00:00:00Z"
audit_before=$(audit_lines)
expect_exit 0 "expire" loyalty --json expire
check_one_json "expire"
check_field "expire figures" '[.expired_points, .members, .holds_lapsed] | join(",")' "150,2,0"
check_equal "expire wrote one entry per member" $((audit_before + 2)) "$(audit_lines)"
check_equal "expire printed nothing on stderr off a terminal" "" "$ERR"
expect_exit 0 "x-1 history" loyalty --json history x-1
check_field "x-1 expire entry" '.entries[0] | [.kind, .points, .balance_after] | join(",")' "expire,-100,60"
expect_exit 0 "x-1 after the sweep" loyalty --json balance x-1
check_field "x-1 swept" '[.balance, .available, .expired] | join(",")' "60,60,0"
expect_exit 0 "x-2 history" loyalty --json history x-2
check_field "x-2 expire entry" '.entries[0] | [.kind, .points, .balance_after] | join(",")' "expire,-50,0"
expect_exit 0 "x-3 untouched" loyalty --json balance x-3
check_field "x-3" '[.balance, .available, .expired] | join(",")' "70,70,0"
check_equal "audit expire entries" "expire:x-1:-100,expire:x-2:-50" \
    "$(loyalty audit export | jq -r 'select(.action == "expire") | .payload | fromjson | "expire:\(.member):\(.points)"' | paste -sd,)"
expect_exit 0 "stats after the sweep" loyalty --json stats
check_field "stats expired" '[.outstanding, .issued, .expired] | join(",")' "130,280,150"

expect_unchanged 0 "expire again" loyalty --json expire
check_field "a second sweep finds nothing" '[.expired_points, .members, .holds_lapsed] | join(",")' "0,0,0"
check_invariants "expiry sweep" x-1 x-2 x-3

export LOYALTY_NOW="2026-02-09T00:00:00Z"
expect_exit 0 "expire x-1's second lot" loyalty --json expire
check_field "second sweep" '[.expired_points, .members, .holds_lapsed] | join(",")' "60,1,0"
expect_exit 0 "expire (text)" loyalty expire
check_line "text figures" '^expired_points: +0$'
expect_exit 0 "stats (text)" loyalty stats
check_line "stats text shows expired" '^expired: +210$'
check_invariants "second sweep" x-1 x-2 x-3

# --- the progress bar: on a terminal only -------------------------------------------------
if command -v script >/dev/null 2>&1; then
    export LOYALTY_NOW="2026-02-19T00:00:00Z"
    terminal=$(script -qec "'$LOYALTY_BIN' --db '$DB' --json expire" /dev/null </dev/null)
    check_equal "expire on a terminal exits 0" 0 "$?"
    check_contains "a progress bar on the terminal" $'\rexpire [' "$terminal"
    check_contains "the bar reaches the end" "100% 1/1" "$terminal"
    check_contains "the figures follow the bar" '{"expired_points":70,"members":1,"holds_lapsed":0}' "$terminal"
    check_invariants "terminal sweep" x-1 x-2 x-3
else
    echo "lifecycle: 'script' is missing; progress bar on a terminal not checked" >&2
fi

# --- program fields are validated ----------------------------------------------------------
UNCHANGED_MEMBERS=(x-1)
for bad in '{"pending_days":-1}' '{"pending_days":3651}' '{"expiry_days":"30"}' \
    '{"expiry_days":36501}' '{"hold_ttl_seconds":59}' '{"hold_ttl_seconds":2592001}'; do
    printf '%s\n' "$bad" >"$TMP/bad.json"
    expect_unchanged 2 "program $bad" loyalty program load "$TMP/bad.json"
done
check_contains "the field is named" "hold_ttl_seconds" "$ERR"

# --- usage ---------------------------------------------------------------------------------
expect_exit 0 "loyalty --help" loyalty --help
for words in "refund ID" "hold ID" "capture REF" "release REF" "expire" "member freeze ID" \
    "member unfreeze ID" "member close ID"; do
    check_contains "--help lists $words" "loyalty $words" "$OUT"
done
expect_exit 0 "expire --help" loyalty expire --help
check_contains "expire help" "usage: loyalty expire" "$OUT"
expect_unchanged 2 "expire takes no argument" loyalty expire now

e2e_end
