#!/bin/sh
# demo.sh - a short tour of the `loyalty` command on a fresh demo ledger:
# a program, a few members, a feed of orders, a bonus, a redemption, a
# support correction, the reversal of a mistake, a replayed order, a refused
# over-redemption; then the points lifecycle (pending points, a checkout hold
# and its capture, a partial refund, the expiry sweep a year later);
# balances, one member's history, stats and verification.
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
LOYALTY_ACTOR=checkout-1
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

heading "A program: EUR, 2 points per 1.00 spent"
cat >"$demo_dir/program.json" <<'EOF'
{"currency": "EUR", "minor_per_unit": 100, "points_per_unit": 2}
EOF
cat "$demo_dir/program.json"
loyalty init --program "$demo_dir/program.json"

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

heading "A support correction"
loyalty --actor support-7 adjust m-1003 --ref ticket-88 --points +25 --reason goodwill \
    --note "late delivery"

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
{"currency": "EUR", "minor_per_unit": 100, "points_per_unit": 2, "pending_days": 14, "expiry_days": 365}
EOF
cat "$demo_dir/program-2.json"
loyalty program load "$demo_dir/program-2.json"
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

heading "A year on, the expiry sweep removes what was never spent"
at 2027-03-05T00:00:00Z
loyalty expire
loyalty history m-1004

heading "Balances"
for member in m-1001 m-1002 m-1003 m-1004; do
    loyalty balance "$member"
done

heading "History of m-1003"
loyalty history m-1003

heading "Program-wide figures"
loyalty stats

heading "Audit: the public key, and a full verification"
loyalty key public
loyalty verify

printf '\nThe demo ledger is in %s\n' "$demo_dir"
