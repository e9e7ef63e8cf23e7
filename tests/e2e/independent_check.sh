#!/usr/bin/env bash
# independent_check.sh - an outside check of the ledger. It drives only the
# CLI, reads only the JSON field names promised by the specification
# (tx, member, points, replayed, balance, available; balance for `balance`;
# outstanding for `stats`), and keeps its own books in bash: a random but
# repeatable scenario (fixed seed) of awards, redemptions, adjustments,
# reversals, replays, conflicting references and bad input, comparing every
# balance and exit code with what the rules say.
#
# The rules it assumes: the default program earns floor(amount / 100) points;
# a debit needs that many available points (exit 4); a reversal posts the
# opposite delta, may leave a negative balance (a debt), and is refused (exit
# 5) for a reversal or an already reversed transaction; the same reference
# with the same parameters is a replay (same tx, nothing changes), with other
# parameters a conflict (exit 5); available = max(balance, 0) when nothing is
# pending or held.
source "$(dirname "$0")/lib.bash"
e2e_begin independent

SEED=${INDEPENDENT_SEED:-20261125}
STEPS=${INDEPENDENT_STEPS:-150}
MEMBERS=(c-01 c-02 c-03 c-04 c-05)
RANDOM=$SEED

declare -A balance        # member -> expected balance
declare -A ref_kind       # ref -> amount | points | redeem | adjust | reverse
declare -A ref_member     # ref -> member (for reverse: the reversed tx's member)
declare -A ref_value      # ref -> amount, points or tx
declare -A ref_tx         # ref -> tx it created
declare -A tx_member tx_delta tx_state  # tx -> member, delta, open | reversed | reversal
refs=()                   # applied references, in order
txs=()                    # transactions, in order
counter=0

expect_exit 0 "init" loyalty init
for member in "${MEMBERS[@]}"; do
    expect_exit 0 "member add $member" loyalty member add "$member"
    balance[$member]=0
done

available_of() { local b=${balance[$1]}; echo $((b > 0 ? b : 0)); }
# pick_member: sets PICKED (no subshell, so that the seeded RANDOM sequence is the parent's).
pick_member() { PICKED=${MEMBERS[RANDOM % ${#MEMBERS[@]}]}; }

# post KIND MEMBER VALUE REF: the CLI call for one kind of operation.
post() {
    local kind=$1 member=$2 value=$3 ref=$4
    case $kind in
    amount) loyalty --json award "$member" --ref "$ref" --amount "$value" ;;
    points) loyalty --json award "$member" --ref "$ref" --points "$value" ;;
    redeem) loyalty --json redeem "$member" --ref "$ref" --points "$value" ;;
    adjust) loyalty --json adjust "$member" --ref "$ref" --points "$value" --reason check ;;
    reverse) loyalty --json reverse "$value" --ref "$ref" --reason check ;;
    esac
}

# check_posting WHAT MEMBER DELTA: the posting printed and the member's balance as kept here.
check_posting() {
    local what=$1 member=$2 delta=$3
    check_field "$what" '[.member, .points, .replayed, .balance, .available] | join(",")' \
        "$member,$delta,false,${balance[$member]},$(available_of "$member")"
}

# apply KIND MEMBER VALUE DELTA: a posting expected to succeed.
apply() {
    local kind=$1 member=$2 value=$3 delta=$4 ref
    counter=$((counter + 1))
    ref="$kind-$counter"
    expect_exit 0 "$kind $member $value" post "$kind" "$member" "$value" "$ref" || return
    balance[$member]=$((balance[$member] + delta))
    check_posting "$kind $member $value" "$member" "$delta"
    local tx
    tx=$(field .tx)
    ref_kind[$ref]=$kind ref_member[$ref]=$member ref_value[$ref]=$value ref_tx[$ref]=$tx
    tx_member[$tx]=$member tx_delta[$tx]=$delta tx_state[$tx]=open
    refs+=("$ref")
    txs+=("$tx")
}

# refuse CODE KIND MEMBER VALUE: a posting expected to fail and change nothing.
refuse() {
    local code=$1 kind=$2 member=$3 value=$4
    counter=$((counter + 1))
    expect_exit "$code" "$kind $member $value refused" post "$kind" "$member" "$value" "$kind-$counter"
    check_balance "$member"
}

check_balance() {
    [[ -n "${balance[$1]:-}" ]] || return 0
    check_equal "balance of $1" "${balance[$1]}" "$(loyalty --json balance "$1" | jq -r .balance)"
}

step_debit() {
    local kind=$1 member points available
    pick_member
    member=$PICKED
    available=$(available_of "$member")
    points=$((1 + RANDOM % (available + 40)))
    [[ $kind == adjust ]] && points=$((-points))
    if ((${points#-} > available)); then
        refuse 4 "$kind" "$member" "$points"
    else
        apply "$kind" "$member" "$points" $((-${points#-}))
    fi
}

step_reverse() {
    ((${#txs[@]} > 0)) || return 0
    local tx=${txs[RANDOM % ${#txs[@]}]}
    local member=${tx_member[$tx]}
    if [[ ${tx_state[$tx]} != open ]]; then
        refuse 5 reverse "$member" "$tx"
        return
    fi
    apply reverse "$member" "$tx" $((-tx_delta[$tx])) || return
    tx_state[$tx]=reversed
    tx_state[${txs[-1]}]=reversal
}

step_replay() {
    ((${#refs[@]} > 0)) || return 0
    local ref=${refs[RANDOM % ${#refs[@]}]}
    local member=${ref_member[$ref]}
    expect_exit 0 "replay $ref" post "${ref_kind[$ref]}" "$member" "${ref_value[$ref]}" "$ref" || return
    check_field "replay $ref" '[.tx, .replayed] | join(",")' "${ref_tx[$ref]},true"
    check_balance "$member"
}

step_conflict() {
    ((${#refs[@]} > 0)) || return 0
    local ref=${refs[RANDOM % ${#refs[@]}]}
    local kind=${ref_kind[$ref]} member=${ref_member[$ref]} value=${ref_value[$ref]}
    case $kind in
    amount) value=$((value + 100)) ;;
    points | redeem) value=$((value + 1)) ;;
    adjust) value=$((value * 2)) ;;
    reverse) value=${txs[0]}; [[ $value == "${ref_value[$ref]}" ]] && value=${txs[1]} ;;
    esac
    expect_exit 5 "conflict on $ref" post "$kind" "$member" "$value" "$ref"
    check_balance "$member"
}

step_bad_input() {
    local bad=(0 -7 abc 12x 99999999999999999999 "")
    local value=${bad[RANDOM % ${#bad[@]}]}
    pick_member
    refuse 2 points "$PICKED" "$value"
}

# A fixed prelude: a reversed award whose points were already spent leaves a
# debt (negative balance, nothing available) that later credits repay.
apply points c-05 100 100
debt_award_tx=${txs[-1]}
apply redeem c-05 80 -80
apply reverse c-05 "$debt_award_tx" -100 && tx_state[$debt_award_tx]=reversed && tx_state[${txs[-1]}]=reversal
check_equal "a debt is a negative balance" -80 "${balance[c-05]}"
refuse 4 redeem c-05 1
apply points c-05 50 50
apply points c-05 100 100

for step in $(seq 1 "$STEPS"); do
    pick_member
    member=$PICKED
    case $((RANDOM % 10)) in
    0 | 1) amount=$((100 + RANDOM % 20000)); apply amount "$member" "$amount" $((amount / 100)) ;;
    2) points=$((1 + RANDOM % 500)); apply points "$member" "$points" "$points" ;;
    3) step_debit redeem ;;
    4) if ((RANDOM % 2)); then points=$((1 + RANDOM % 100)); apply adjust "$member" "$points" "$points"
       else step_debit adjust; fi ;;
    5) step_reverse ;;
    6) step_replay ;;
    7) step_conflict ;;
    8) refuse 3 points "nobody-$step" 10 ;;
    9) step_bad_input ;;
    esac
done

# --- the whole books ------------------------------------------------------------------------
sum=0
for member in "${MEMBERS[@]}"; do
    check_balance "$member"
    sum=$((sum + balance[$member]))
done
check_equal "outstanding is the sum of the balances" "$sum" "$(loyalty --json stats | jq .outstanding)"
check_equal "members" "${#MEMBERS[@]}" "$(loyalty --json stats | jq .members)"
check_equal "transactions" "${#txs[@]}" "$(loyalty --json stats | jq .transactions)"

e2e_end
