#!/usr/bin/env bash
# operators.sh - operators and roles through the CLI: every role against
# every command, table-driven (allowed: it works and its audit entry names
# the operator; not allowed: exit 6, the message names the role, and nothing
# changes); an unknown operator and a disabled one (exit 6, nothing
# changes); the operator commands themselves (add, replay, conflicts, bad
# roles, list, disable, an admin disabling themselves).
source "$(dirname "$0")/lib.bash"
e2e_begin operators

ADMIN=$LOYALTY_ACTOR # init registers the acting operator as the first admin
ROLES=(checkout support supervisor auditor admin)
COMMANDS=(member_add award redeem hold capture release refund claim adjust reverse freeze
    tier_set approve operator_add program_load key_rotate expire tier_evaluate audit_export
    verify balance)

# What each role may do (the permission table of the README); every role reads.
declare -A ALLOWED=(
    [checkout]="member_add award redeem hold capture release refund claim verify balance"
    [support]="member_add adjust reverse freeze tier_set verify balance"
    [supervisor]="member_add adjust reverse freeze tier_set approve verify balance"
    [auditor]="audit_export verify balance"
    [admin]="${COMMANDS[*]}"
)
# Commands that write exactly one audit entry when they work (expire and tier evaluate
# write one per member or hold they touch: here none; the reads write nothing).
WRITES=" member_add award redeem hold capture release refund claim adjust reverse freeze "
WRITES+=" tier_set approve operator_add program_load key_rotate "

cat >"$TMP/program.json" <<'EOF'
{"approval_threshold": 1000,
 "tiers": [{"code": "base", "name": "Base", "threshold": 0, "multiplier_permille": 1000,
            "benefits": ["coffee"]},
           {"code": "silver", "name": "Silver", "threshold": 1000, "multiplier_permille": 1500,
            "benefits": ["coffee"]}],
 "benefits": [{"code": "coffee", "name": "Free coffee"}]}
EOF
export LOYALTY_NOW="2026-06-01T12:00:00Z"
expect_exit 0 "init" loyalty --json init --program "$TMP/program.json"
expect_exit 0 "operator list after init" loyalty --json operator list
check_one_json "operator list"
check_field "init registered its actor as admin" \
    '.operators | map("\(.name):\(.role):\(.status):\(.created_by)") | join(",")' \
    "$ADMIN:admin:active:$ADMIN"
check_field "created is the clock" '.operators[0].created' "2026-06-01T12:00:00Z"

# --- the operator commands -------------------------------------------------------------
for role in "${ROLES[@]}"; do
    expect_exit 0 "operator add op-$role" loyalty --json operator add "op-$role" --role "$role"
    check_one_json "operator add"
    check_field "operator add op-$role" '[.operator, .role, .replayed] | join(",")' "op-$role,$role,false"
done
add_operator requester support # asks for the approvals that each role then tries to approve
UNCHANGED_MEMBERS=()
expect_unchanged 0 "operator add again with the same role" loyalty --json operator add op-checkout --role checkout
check_field "operator add again" '[.operator, .role, .replayed] | join(",")' "op-checkout,checkout,true"
expect_unchanged 5 "operator add again with another role" loyalty operator add op-checkout --role admin
check_error_line "operator role conflict"
for bad in cashier Admin "" root; do
    expect_unchanged 2 "operator add with role '$bad'" loyalty operator add someone --role "$bad"
done
for bad in "has space" "a/b" "$(printf 'x%.0s' {1..65})" ""; do
    expect_unchanged 2 "operator add named '$bad'" loyalty operator add "$bad" --role checkout
done
expect_unchanged 2 "operator add without --role" loyalty operator add someone
expect_exit 0 "operator list" loyalty --json operator list
check_field "every operator, by name" '[.operators[].name] | join(",")' \
    "$(printf '%s\n' "$ADMIN" op-admin op-auditor op-checkout op-supervisor op-support requester | sort | paste -sd,)"
check_field "roles" '.operators | map(select(.name | startswith("op-"))) | map("\(.name)=\(.role)") | join(",")' \
    "op-admin=admin,op-auditor=auditor,op-checkout=checkout,op-supervisor=supervisor,op-support=support"
check_field "all active, added by the admin" \
    "[.operators[] | select(.status == \"active\" and .created_by == \"$ADMIN\")] | length" 7
expect_exit 0 "operator list (text)" loyalty operator list
check_line "text table heading" '^NAME +ROLE +STATUS +CREATED +CREATED_BY$'
check_line "text table row" '^op-auditor +auditor +active +2026-06-01T12:00:00Z +'

# --- every role against every command ----------------------------------------------------
# prep_COMMAND TAG: what the command needs, made by the admin; sets ARG when the command
# needs a value made here (a transaction, an approval id).
# run_COMMAND ACTOR TAG: the command, acting as ACTOR.
ARG=""
prep_member_add() { :; }
run_member_add() { loyalty --json --actor "$1" member add "new-$2"; }
prep_award() { :; }
run_award() { loyalty --json --actor "$1" award "m-$2" --ref "aw-$2" --points 100; }
prep_redeem() { :; }
run_redeem() { loyalty --json --actor "$1" redeem "m-$2" --ref "rd-$2" --points 10; }
prep_hold() { :; }
run_hold() { loyalty --json --actor "$1" hold "m-$2" --ref "h-$2" --points 10; }
prep_capture() { expect_exit 0 "prep capture $1" loyalty hold "m-$1" --ref "hc-$1" --points 10; }
run_capture() { loyalty --json --actor "$1" capture "hc-$2"; }
prep_release() { expect_exit 0 "prep release $1" loyalty hold "m-$1" --ref "hr-$1" --points 10; }
run_release() { loyalty --json --actor "$1" release "hr-$2"; }
prep_refund() { expect_exit 0 "prep refund $1" loyalty award "m-$1" --ref "ord-$1" --amount 10000; }
run_refund() { loyalty --json --actor "$1" refund "m-$2" --ref "rf-$2" --order "ord-$2" --amount 5000; }
prep_claim() { :; }
run_claim() { loyalty --json --actor "$1" benefit claim "m-$2" coffee --ref "cl-$2"; }
prep_adjust() { :; }
run_adjust() { loyalty --json --actor "$1" adjust "m-$2" --ref "ad-$2" --points 5 --reason fix; }
prep_reverse() {
    expect_exit 0 "prep reverse $1" loyalty --json award "m-$1" --ref "rv-src-$1" --points 7
    ARG=$(field .tx)
}
run_reverse() { loyalty --json --actor "$1" reverse "$ARG" --ref "rv-$2" --reason mistake; }
prep_freeze() { expect_exit 0 "prep freeze $1" loyalty member add "f-$1"; }
run_freeze() { loyalty --json --actor "$1" member freeze "f-$2" --reason fraud; }
prep_tier_set() { :; }
run_tier_set() { loyalty --json --actor "$1" tier set "m-$2" silver --reason vip; }
prep_approve() {
    expect_exit 0 "prep approve $1" loyalty --json --actor requester adjust "m-$1" --ref "big-$1" \
        --points 5000 --reason migration
    ARG=$(field .approval)
}
run_approve() { loyalty --json --actor "$1" approve "$ARG"; }
prep_operator_add() { :; }
run_operator_add() { loyalty --json --actor "$1" operator add "new-op-$2" --role checkout; }
prep_program_load() { :; }
run_program_load() { loyalty --json --actor "$1" program load "$TMP/program.json"; }
prep_key_rotate() { :; }
run_key_rotate() { loyalty --json --actor "$1" key rotate; }
prep_expire() { :; }
run_expire() { loyalty --json --actor "$1" expire; }
prep_tier_evaluate() { :; }
run_tier_evaluate() { loyalty --json --actor "$1" tier evaluate; }
prep_audit_export() { :; }
run_audit_export() { loyalty --actor "$1" audit export; }
prep_verify() { :; }
run_verify() { loyalty --json --actor "$1" verify; }
prep_balance() { :; }
run_balance() { loyalty --json --actor "$1" balance "m-$2"; }

last_audit_actor() { loyalty audit export | tail -n 1 | jq -r .actor; }

allowed=0 refused=0
for role in "${ROLES[@]}"; do
    actor="op-$role"
    expect_exit 0 "member m-$role" loyalty member add "m-$role"
    expect_exit 0 "points for m-$role" loyalty award "m-$role" --ref "seed-$role" --points 1000
    UNCHANGED_MEMBERS=("m-$role")
    for command in "${COMMANDS[@]}"; do
        ARG=""
        "prep_$command" "$role"
        what="$role $command"
        if [[ " ${ALLOWED[$role]} " == *" $command "* ]]; then
            allowed=$((allowed + 1))
            before=$(audit_lines)
            expect_exit 0 "$what is allowed" "run_$command" "$actor" "$role"
            if [[ "$WRITES" == *" $command "* ]]; then
                check_equal "$what wrote one audit entry" $((before + 1)) "$(audit_lines)"
                check_equal "$what: the entry names the operator" "$actor" "$(last_audit_actor)"
            elif [[ $command != expire && $command != tier_evaluate ]]; then
                check_equal "$what wrote nothing" "$before" "$(audit_lines)"
            fi
        else
            refused=$((refused + 1))
            expect_unchanged 6 "$what is refused" "run_$command" "$actor" "$role"
            check_contains "$what: the message names the role" "(role $role) may not" "$ERR"
            check_equal "$what: nothing on stdout" "" "$OUT"
        fi
    done
done
check_equal "the table covers every role and command" $((${#ROLES[@]} * ${#COMMANDS[@]})) $((allowed + refused))
check_equal "refusals in the table" 56 "$refused"

# Spot checks that the allowed commands did their work.
expect_exit 0 "m-support's tier history" loyalty --json tier history m-support
check_field "set by hand by support, moved back by the admin's evaluation" \
    '[.changes[] | "\(.from)>\(.to):\(.cause):\(.actor)"] | join(",")' \
    "base>silver:manual:op-support,silver>base:evaluate:op-admin"
expect_exit 0 "the supervisor's approval applied" loyalty --json approvals --all
check_field "approvals decided" '[.approvals[] | "\(.member):\(.status):\(.decided_by // "-")"] | join(",")' \
    "m-checkout:pending:-,m-support:pending:-,m-supervisor:approved:op-supervisor,m-auditor:pending:-,m-admin:approved:op-admin"
check_equal "one key rotation, by op-admin" "op-admin" \
    "$(loyalty audit export | jq -r 'select(.action == "key_rotate") | .actor')"
check_invariants "after the role table" m-checkout m-support m-supervisor m-auditor m-admin

# --- unknown and disabled operators -------------------------------------------------------
UNCHANGED_MEMBERS=(m-admin)
expect_unchanged 6 "an unknown operator cannot award" loyalty --actor ghost award m-admin --ref g-1 --points 1
check_contains "unknown operator message" "ghost" "$ERR"
check_error_line "unknown operator"
expect_unchanged 6 "an unknown operator cannot read" loyalty --actor ghost balance m-admin
expect_unchanged 6 "an unknown operator cannot add members" loyalty --actor ghost member add g-2
expect_unchanged 6 "an unknown operator cannot register itself" loyalty --actor ghost operator add ghost --role admin
expect_unchanged 6 "an unknown operator: JSON error" loyalty --json --actor ghost award m-admin --ref g-1 --points 1
check_equal "not permitted error code" not_permitted "$(jq -r .error.code <<<"$ERR")"

add_operator leaver checkout
expect_exit 0 "leaver awards while active" loyalty --json --actor leaver award m-admin --ref l-1 --points 3
expect_exit 0 "operator disable" loyalty --json operator disable leaver
check_one_json "operator disable"
check_field "operator disable" '[.operator, .status, .replayed] | join(",")' "leaver,disabled,false"
expect_unchanged 0 "operator disable again" loyalty --json operator disable leaver
check_field "operator disable again" '.replayed' true
expect_unchanged 6 "a disabled operator cannot award" loyalty --actor leaver award m-admin --ref l-2 --points 3
check_contains "disabled operator message" "disabled" "$ERR"
expect_unchanged 6 "a disabled operator cannot replay their own award" \
    loyalty --actor leaver award m-admin --ref l-1 --points 3
expect_unchanged 6 "a disabled operator cannot read" loyalty --actor leaver balance m-admin
expect_unchanged 5 "a disabled operator cannot come back" loyalty operator add leaver --role checkout
expect_exit 0 "operator list shows the disabled one" loyalty --json operator list
check_field "leaver is disabled" '.operators[] | select(.name == "leaver") | .status' disabled
expect_unchanged 3 "disable an unknown operator" loyalty operator disable nobody
expect_unchanged 6 "an admin cannot disable themselves" loyalty operator disable "$ADMIN"
expect_unchanged 6 "a supervisor cannot disable operators" loyalty --actor op-supervisor operator disable op-checkout
expect_unchanged 0 "every role reads the operator list" loyalty --actor op-auditor operator list
expect_exit 0 "another admin may disable the first" loyalty --json --actor op-admin operator disable "$ADMIN"
check_field "first admin disabled" '.status' disabled
expect_unchanged 6 "the disabled first admin is locked out" loyalty operator add x --role checkout
export LOYALTY_ACTOR=op-admin
check_invariants "after disabling" m-admin

# --- usage ------------------------------------------------------------------------------------
for words in "operator add" "operator list" "operator disable"; do
    # shellcheck disable=SC2086
    expect_exit 0 "$words --help" loyalty $words --help
    check_contains "$words help" "usage: loyalty $words" "$OUT"
done
expect_exit 0 "operator add --help names the roles" loyalty operator add --help
for role in "${ROLES[@]}"; do
    check_contains "operator add --help: $role" "$role" "$OUT"
done
expect_unchanged 2 "operator list takes no argument" loyalty operator list extra
expect_unchanged 2 "operator group without a subcommand" loyalty operator

e2e_end
