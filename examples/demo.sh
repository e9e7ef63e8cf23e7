#!/bin/sh
# demo.sh - a short tour of the `loyalty` command on a fresh demo ledger:
# a program, its operators (an admin, a checkout till, a support agent, a
# supervisor, an auditor), a few members, a feed of orders, a bonus, a redemption, a
# support correction, a large correction approved by a second person, the
# reversal of a mistake, a replayed order, a refused over-redemption and a
# refused action outside a role; then the points lifecycle (pending points,
# a checkout hold and its capture, a partial refund, the expiry sweep a year
# later); a bulk import; tiers and benefits; balances, one member's
# history, stats and verification.
#
# The clock is fixed with LOYALTY_NOW so that the walk through the year, and
# the output, are the same on every run.
#
#   sh examples/demo.sh /absolute/path/to/build/loyalty
#
# The ledger is created next to the binary, in demo/ (removed first).
set -eu

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: sh examples/demo.sh /path/to/loyalty" >&2
    exit 2
fi
bin=$1
demo_dir=$(cd "$(dirname "$bin")" && pwd)/demo
rm -rf "$demo_dir"
mkdir -p "$demo_dir"
db="$demo_dir/demo.db"
unset LOYALTY_DB LOYALTY_KEY
LOYALTY_ACTOR=admin-1
LOYALTY_NOW=2026-03-02T09:00:00Z
export LOYALTY_ACTOR LOYALTY_NOW

# show_command ARGS...: echoes a command line, quoting arguments with blanks.
show_command() {
    line="\$ loyalty"
    for argument in "$@"; do
        case $argument in
        *" "*) line="$line \"$argument\"" ;;
        *) line="$line $argument" ;;
        esac
    done
    echo "$line"
}

# loyalty ARGS...: the command on the demo ledger, echoed first; errors on stdout
# too, so that they show in order when the output is piped.
loyalty() {
    show_command "$@"
    "$bin" --db "$db" "$@" 2>&1
}

heading() {
    printf '\n== %s\n' "$1"
}

# at TIME: moves the demo's clock.
at() {
    LOYALTY_NOW=$1
    echo "(the clock is now $LOYALTY_NOW)"
}

# as ACTOR: the commands that follow act as ACTOR.
as() {
    LOYALTY_ACTOR=$1
    echo "(acting as $LOYALTY_ACTOR)"
}

heading "A program: EUR, 2 points per 1.00 spent; corrections above 1000 points need approval"
cat >"$demo_dir/program.json" <<'EOF'
{"currency": "EUR", "minor_per_unit": 100, "points_per_unit": 2, "approval_threshold": 1000}
EOF
cat "$demo_dir/program.json"
loyalty init --program "$demo_dir/program.json"

heading "Operators: init made admin-1 the first admin; the admin registers the others"
loyalty operator add checkout-1 --role checkout
loyalty operator add support-7 --role support
loyalty operator add supervisor-2 --role supervisor
loyalty operator add auditor-3 --role auditor
loyalty operator list
as checkout-1

heading "Members (opaque ids, no personal data)"
for member in m-1001 m-1002 m-1003; do
    loyalty member add "$member"
done

heading "A feed of orders (amounts in cents)"
loyalty award m-1001 --ref order-5001 --amount 12999
loyalty award m-1002 --ref order-5002 --amount 4550
loyalty award m-1001 --ref order-5003 --amount 23000
loyalty award m-1003 --ref order-5004 --amount 8999

heading "A welcome bonus"
loyalty award m-1002 --ref bonus-m-1002 --points 500 --reason "welcome bonus"

heading "A redemption"
loyalty redeem m-1001 --ref redeem-7001 --points 300

heading "A support correction (small: applied at once)"
loyalty --actor support-7 adjust m-1003 --ref ticket-88 --points +25 --reason goodwill \
    --note "late delivery"

heading "A large correction waits for a second pair of eyes"
loyalty --actor support-7 adjust m-1003 --ref ticket-91 --points +5000 --reason migration \
    --note "points from the old card system"
loyalty approvals
status=0
loyalty --actor support-7 approve 1 || status=$?
echo "(exit $status: support may not approve, not even their own request)"
loyalty --actor supervisor-2 approve 1
loyalty approvals --all

heading "A till cannot make corrections (exit 6), and nothing changes"
status=0
loyalty adjust m-1003 --ref ticket-92 --points +10 --reason goodwill || status=$?
echo "(exit $status)"

heading "A mistake (order 5005 credited to the wrong member) and its reversal"
mistake=$(loyalty award m-1003 --ref order-5005 --amount 15000)
echo "$mistake"
mistake_tx=$(echo "$mistake" | sed -n 's/^tx: *//p')
loyalty --actor support-7 reverse "$mistake_tx" --ref fix-order-5005 --reason wrong-member
loyalty award m-1002 --ref order-5005-fixed --amount 15000

heading "The checkout retries order 5001: replayed, nothing changes"
loyalty award m-1001 --ref order-5001 --amount 12999

heading "An over-redemption is refused (exit 4) and the demo goes on"
status=0
loyalty redeem m-1002 --ref redeem-7002 --points 100000 || status=$?
echo "(exit $status)"

heading "Points lifecycle: purchase points pending 14 days, lots expiring after 365"
cat >"$demo_dir/program-2.json" <<'EOF'
{"currency": "EUR", "minor_per_unit": 100, "points_per_unit": 2, "approval_threshold": 1000,
 "pending_days": 14, "expiry_days": 365}
EOF
cat "$demo_dir/program-2.json"
loyalty --actor admin-1 program load "$demo_dir/program-2.json"
loyalty member add m-1004
loyalty award m-1004 --ref order-6001 --amount 20000
loyalty balance m-1004

heading "Three weeks later the points have matured: a checkout holds 150, captures 120"
at 2026-03-23T15:00:00Z
loyalty hold m-1004 --ref checkout-9001 --points 150
loyalty capture checkout-9001 --points 120

heading "Half of order 6001 is returned: the refund claws back its share of the points"
loyalty refund m-1004 --ref refund-6001-1 --order order-6001 --amount 10000
loyalty balance m-1004

heading "A year on, the expiry sweep (an admin's batch job) removes what was never spent"
at 2027-03-05T00:00:00Z
loyalty --actor admin-1 expire
loyalty history m-1004

heading "A bulk import of an order feed: one result per line, a bad line does not stop it"
cat >"$demo_dir/feed.jsonl" <<'EOF'
{"op":"member_add","member":"m-1005"}
{"op":"award","member":"m-1005","ref":"order-7001","amount":25000}
{"op":"award","member":"m-1001","ref":"order-7002","amount":9900}
{"op":"award","member":"m-9999","ref":"order-7003","amount":1000}
{"op":"redeem","member":"m-1005","ref":"redeem-7004","points":100}
EOF
cat "$demo_dir/feed.jsonl"
status=0
loyalty import "$demo_dir/feed.jsonl" || status=$?
echo "(exit $status: line 4 names an unknown member)"
echo "Importing the same feed again applies nothing twice:"
status=0
loyalty import "$demo_dir/feed.jsonl" || status=$?
echo "(exit $status)"

heading "Tiers: silver from 1000 qualifying points (x1.5), gold from 3000 (x2, with a lounge)"
cat >"$demo_dir/program-3.json" <<'EOF'
{"currency": "EUR", "minor_per_unit": 100, "points_per_unit": 2, "approval_threshold": 1000,
 "pending_days": 14, "expiry_days": 365, "tier_window_days": 365,
 "tiers": [{"code": "member", "name": "Member", "threshold": 0, "multiplier_permille": 1000},
           {"code": "silver", "name": "Silver", "threshold": 1000, "multiplier_permille": 1500},
           {"code": "gold", "name": "Gold", "threshold": 3000, "multiplier_permille": 2000,
            "benefits": ["lounge"]}],
 "benefits": [{"code": "lounge", "name": "Airport lounge", "limit": 2, "period": "month"}]}
EOF
cat "$demo_dir/program-3.json"
loyalty --actor admin-1 program load "$demo_dir/program-3.json"
loyalty --actor admin-1 tier evaluate
echo "m-1005 has 500 qualifying points; each crossing award earns at the old rate:"
loyalty award m-1005 --ref order-7005 --amount 80000
loyalty award m-1005 --ref order-7006 --amount 40000
loyalty award m-1005 --ref order-7007 --amount 10000
loyalty tiers
loyalty tier history m-1005
loyalty benefits m-1005
loyalty benefit claim m-1005 lounge --ref lounge-visit-1

heading "Balances"
for member in m-1001 m-1002 m-1003 m-1004 m-1005; do
    loyalty balance "$member"
done

heading "History of m-1003"
loyalty history m-1003

heading "Program-wide figures"
loyalty stats

heading "Audit: the public key, who did what, and a full verification"
as auditor-3
loyalty key public
echo "The audit log (seq, actor, action), without the awards, member sign-ups and tier moves:"
"$bin" --db "$db" audit export | sed -n 's/^{"seq":\([0-9]*\),"ts_us":[0-9]*,"actor":"\([^"]*\)","action":"\([^"]*\)".*/\1 \2 \3/p' |
    grep -Ev ' (award|member_add|tier_change)$'
loyalty verify

printf '\nThe demo ledger is in %s\n' "$demo_dir"
