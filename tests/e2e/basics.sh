#!/usr/bin/env bash
# basics.sh - the life of a small ledger through the CLI: init (and init
# again), the default program, program load/show and bad programs, members,
# awards by amount and by points, redemption, adjustments, reversals,
# balance, paginated history with fixed timestamps, and stats that add up.
source "$(dirname "$0")/lib.bash"
e2e_begin basics

# --- init ---------------------------------------------------------------------
expect_exit 0 "init" loyalty --json init
check_one_json "init"
check_field "init" '.db' "$DB"
check_field "init" '.program_version' 1
check_field "init public key is 64 hex" '.public_key | test("^[0-9a-f]{64}$")' true
check_field "init key id is 16 hex" '.key_id | test("^[0-9a-f]{16}$")' true
public_key=$(field .public_key)
check_true "init makes the key file" test -f "$DB.key"
check_equal "key file mode" 600 "$(stat -c %a "$DB.key")"

expect_exit 0 "key public" loyalty key public
check_equal "key public prints the init key" "$public_key" "$OUT"

db_sum=$(sha256sum <"$DB")
key_sum=$(sha256sum <"$DB.key")
expect_unchanged 5 "init on an existing ledger" loyalty init
check_error_line "init again"
check_equal "init again: database bytes" "$db_sum" "$(sha256sum <"$DB")"
check_equal "init again: key file bytes" "$key_sum" "$(sha256sum <"$DB.key")"

# --- program --------------------------------------------------------------------
expect_exit 0 "program show" loyalty --json program show
check_one_json "program show"
check_field "default program" '[.currency, .minor_per_unit, .points_per_unit, .version] | join(",")' "EUR,100,1,1"
expect_exit 0 "program show (text)" loyalty program show
check_contains "program show text is indented JSON" '  "minor_per_unit": 100' "$OUT"

printf '{"currency":"EUR","minor_per_unit":100,"points_per_unit":1,"bogus_field":1}\n' >"$TMP/unknown.json"
expect_unchanged 2 "program with an unknown field" loyalty program load "$TMP/unknown.json"
check_contains "unknown field is named" "bogus_field" "$ERR"
printf '{"minor_per_unit":"100"}\n' >"$TMP/wrongtype.json"
expect_unchanged 2 "program with a wrong type" loyalty program load "$TMP/wrongtype.json"
check_contains "ill-typed field is named" "minor_per_unit" "$ERR"
printf '{"currency":"EUR",' >"$TMP/broken.json"
expect_unchanged 2 "program that is not JSON" loyalty program load "$TMP/broken.json"
expect_unchanged 2 "program file missing" loyalty program load "$TMP/nothing.json"

printf '{"currency":"EUR","minor_per_unit":100,"points_per_unit":1}\n' >"$TMP/same.json"
expect_exit 0 "program load from stdin" loyalty_input "$TMP/same.json" --json program load -
check_field "program load" '.version' 2
expect_exit 0 "program show after load" loyalty --json program show
check_field "program version" '.version' 2

# --- members -------------------------------------------------------------------
expect_exit 0 "member add" loyalty --json member add m-1
check_one_json "member add"
check_field "member add" '[.member, .status, .replayed] | join(",")' "m-1,active,false"
created=$(field .created)
check_match "member created is ISO 8601 UTC" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]{6})?Z$' "$created"
expect_unchanged 0 "member add again" loyalty --json member add m-1
check_field "member add again" '.replayed' true
check_field "member add again keeps created" '.created' "$created"
expect_exit 0 "member add m-2" loyalty member add m-2
UNCHANGED_MEMBERS=(m-1 m-2)

expect_exit 0 "member show" loyalty --json member show m-1
check_field "member show" '[.member, .balance, .available, .pending, .held, (.tier|tostring), .status, .created] | join(",")' \
    "m-1,0,0,0,0,null,active,$created"

# --- awards, redeem, adjust ------------------------------------------------------
export LOYALTY_NOW="2026-11-25T12:00:00Z"
expect_exit 0 "award by amount" loyalty --json award m-1 --ref order-1 --amount 12999
check_one_json "award"
check_field "award 129.99 at 1 point per 1.00" '[.member, .points, .replayed, .balance, .available, .multiplier_permille] | join(",")' \
    "m-1,129,false,129,129,1000"
award_tx=$(field .tx)
award_seq=$(field .audit_seq)
check_true "award audit_seq is positive" test "$award_seq" -gt 0

expect_unchanged 0 "award replay" loyalty --json award m-1 --ref order-1 --amount 12999
check_field "award replay" '[.tx, .points, .replayed] | join(",")' "$award_tx,129,true"

export LOYALTY_NOW="2026-11-25T12:30:00.250Z"
expect_exit 0 "bonus award" loyalty --json award m-1 --ref bonus-1 --points 500 --reason "welcome bonus"
check_field "bonus" '[.points, .balance] | join(",")' "500,629"
bonus_tx=$(field .tx)
unset LOYALTY_NOW

expect_exit 0 "redeem" loyalty --json redeem m-1 --ref redeem-1 --points 100
check_field "redeem" '[.points, .balance, .available, .replayed] | join(",")' "-100,529,529,false"
redeem_tx=$(field .tx)
expect_unchanged 4 "over-redeem" loyalty --json redeem m-1 --ref redeem-2 --points 530
check_contains "over-redeem JSON error code" '"code":"insufficient_points"' "$ERR"

expect_exit 0 "adjust +" loyalty --json adjust m-1 --ref fix-1 --points +50 --reason goodwill --note "ticket 17"
check_field "adjust +50" '[.points, .balance] | join(",")' "50,579"
adjust_tx=$(field .tx)
expect_exit 0 "adjust -" loyalty --json adjust m-1 --ref fix-2 --points -30 --reason correction
check_field "adjust -30" '[.points, .balance] | join(",")' "-30,549"
expect_unchanged 4 "adjust below available" loyalty adjust m-1 --ref fix-3 --points -550 --reason correction

# --- reverse -------------------------------------------------------------------------
expect_exit 0 "reverse the bonus" loyalty --json reverse "$bonus_tx" --ref rev-1 --reason mistake
check_field "reverse" '[.points, .balance, .reversed_tx, .replayed] | join(",")' "-500,49,$bonus_tx,false"
reversal_tx=$(field .tx)
expect_unchanged 0 "reverse replay" loyalty --json reverse "$bonus_tx" --ref rev-1 --reason mistake
check_field "reverse replay" '[.tx, .replayed] | join(",")' "$reversal_tx,true"
expect_unchanged 5 "reverse twice" loyalty reverse "$bonus_tx" --ref rev-2 --reason mistake
expect_unchanged 5 "reverse a reversal" loyalty reverse "$reversal_tx" --ref rev-3 --reason mistake
expect_unchanged 3 "reverse an unknown tx" loyalty reverse 999999 --ref rev-4 --reason mistake
expect_exit 0 "reverse the redemption" loyalty --json reverse "$redeem_tx" --ref rev-5 --reason refund
check_field "reverse a redemption credits" '[.points, .balance] | join(",")' "100,149"

# --- balance -----------------------------------------------------------------------
expect_exit 0 "balance" loyalty --json balance m-1
check_one_json "balance"
check_field "balance" '[.member, .balance, .available, .pending, .held, (.tier|tostring), .status] | join(",")' \
    "m-1,149,149,0,0,null,active"
expect_exit 0 "balance (text)" loyalty balance m-1
check_line "balance text is aligned key: value" '^balance: +149$'

# --- history -------------------------------------------------------------------------
# m-1 has 7 journal entries: award, bonus, redeem, adjust, adjust, reverse, reverse.
expect_exit 0 "history" loyalty --json history m-1
check_one_json "history"
check_field "history entries" '.entries | length' 7
check_field "history is newest first" '[.entries[].tx] == ([.entries[].tx] | sort | reverse)' true
check_field "history last page" '.next_before' null
check_field "history kinds" '[.entries[].kind] | join(",")' "reverse,reverse,adjust,adjust,redeem,award,award"
check_field "history award entry" ".entries[] | select(.tx == $award_tx) | [.ref, .points, .balance_after, .ts, .actor, .amount] | join(\",\")" \
    "order-1,129,129,2026-11-25T12:00:00Z,e2e-tester,12999"
check_field "history bonus entry" ".entries[] | select(.tx == $bonus_tx) | [.ts, .reason, .reversed_by] | join(\",\")" \
    "2026-11-25T12:30:00.250000Z,welcome bonus,$reversal_tx"
check_field "history reversal entry" ".entries[] | select(.tx == $reversal_tx) | [.reversed_tx, .reason] | join(\",\")" \
    "$bonus_tx,mistake"
check_field "history adjust note" ".entries[] | select(.tx == $adjust_tx) | .note" "ticket 17"
check_field "balance_after of the newest is the balance" '.entries[0].balance_after' 149

pages=0 seen=0 before=""
while :; do
    if [[ -n "$before" ]]; then
        run loyalty --json history m-1 --limit 3 --before "$before"
    else
        run loyalty --json history m-1 --limit 3
    fi
    [[ "$RC" == 0 ]] || { fail "history page $pages: exit $RC"; break; }
    pages=$((pages + 1))
    seen=$((seen + $(field '.entries | length')))
    before=$(field '.next_before')
    [[ "$before" == null || $pages -gt 5 ]] && break
done
check_equal "history pages of 3" "3,7" "$pages,$seen"
expect_exit 0 "history page 1" loyalty --json history m-1 --limit 3
check_field "first page has next_before" '.next_before | type' number
expect_exit 0 "history of a member with none" loyalty --json history m-2
check_field "empty history" '[(.entries | length), (.next_before | tostring)] | join(",")' "0,null"
expect_exit 0 "history (text)" loyalty history m-1
check_contains "history text has the award" "order-1" "$OUT"

# --- stats ------------------------------------------------------------------------------
expect_exit 0 "stats" loyalty --json stats
check_one_json "stats"
check_field "stats figures" '[.members, .outstanding, .issued, .redeemed, .adjusted, .reversed, .transactions] | join(",")' \
    "2,149,629,100,20,-400,7"
check_field "stats add up" '.outstanding == .issued - .redeemed + .adjusted + .reversed' true
expect_exit 0 "stats (text)" loyalty stats
check_contains "stats text" "outstanding:" "$OUT"

# --- the audit log recorded every change --------------------------------------------------
# genesis, program (init), the first operator (init), program load, 2 members, 7 postings.
check_equal "audit entries" 13 "$(audit_lines)"
check_equal "init wrote genesis, program_load, operator_add" "genesis,program_load,operator_add" \
    "$(loyalty audit export | head -3 | jq -r .action | paste -sd,)"
expect_exit 0 "verify" loyalty --json verify
check_field "verify" '[.ok, .entries] | join(",")' "true,13"

e2e_end
