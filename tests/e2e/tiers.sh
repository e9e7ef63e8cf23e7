#!/usr/bin/env bash
# tiers.sh - membership tiers and benefits through the CLI with --json,
# walking the clock with LOYALTY_NOW: the upgrade on the crossing award
# (which earns at the old multiplier, the next one at the new); skipping
# tiers; bonuses and adjustments not qualifying; the rolling window running
# out, with the downgrade only at `tier evaluate` (idempotent, progress bar
# on a terminal only); refunds lowering qualification; benefit limits at the
# last instant of a month and the first of the next; claims replayed,
# refused when not granted, used up or frozen; manual tier changes and the
# causes in the history; the ladder with member counts; invalid ladders
# (exit 2 naming the culprit). verify passes after each scenario, and fails
# (exit 7) on a tampered members.tier, tier_changes or benefit_claims row.
source "$(dirname "$0")/lib.bash"
e2e_begin tiers

# base 0 (x1) / silver 100 (x1.5, lounge) / gold 500 (x2, lounge, suite) /
# platinum 2000 (x3, lounge, suite, butler); a 30-day window.
cat >"$TMP/program.json" <<'EOF'
{"tier_window_days": 30,
 "tiers": [{"code": "base", "name": "Base", "threshold": 0, "multiplier_permille": 1000},
           {"code": "silver", "name": "Silver", "threshold": 100, "multiplier_permille": 1500,
            "benefits": ["lounge"]},
           {"code": "gold", "name": "Gold", "threshold": 500, "multiplier_permille": 2000,
            "benefits": ["lounge", "suite"]},
           {"code": "platinum", "name": "Platinum", "threshold": 2000, "multiplier_permille": 3000,
            "benefits": ["lounge", "suite", "butler"]}],
 "benefits": [{"code": "lounge", "name": "Airport lounge", "limit": 2, "period": "month"},
              {"code": "suite", "name": "Suite upgrade"},
              {"code": "butler", "name": "Butler", "limit": 1, "period": "week"}]}
EOF
export LOYALTY_NOW="2026-01-10T10:00:00Z"
expect_exit 0 "init" loyalty init --program "$TMP/program.json"
add_operator till checkout
add_operator help support
ADMIN=$LOYALTY_ACTOR

# till ARGS...: the command as the checkout till; help ARGS...: as the support desk.
till() { loyalty --json --actor till "$@"; }
help() { loyalty --json --actor help "$@"; }

expect_exit 0 "tiers" loyalty --json tiers
check_one_json "tiers"
check_field "the ladder" \
    '[.tiers[] | "\(.code):\(.name):\(.position):\(.threshold):\(.multiplier_permille):\(.benefits | join("+")):\(.members)"] | join(",")' \
    "base:Base:0:0:1000::0,silver:Silver:1:100:1500:lounge:0,gold:Gold:2:500:2000:lounge+suite:0,platinum:Platinum:3:2000:3000:butler+lounge+suite:0"
expect_exit 0 "tiers (text)" loyalty tiers
check_line "text heading" '^CODE +NAME +POSITION +THRESHOLD +MULTIPLIER_PERMILLE +BENEFITS +MEMBERS$'
check_line "text row" '^gold +Gold +2 +500 +2000 +lounge,suite +0$'

# --- upgrade on the crossing award ----------------------------------------------------
expect_exit 0 "member u-1" till member add u-1
expect_exit 0 "u-1 starts in the default tier" loyalty --json member show u-1
check_field "default tier" '[.tier, .qualifying] | join(",")' "base,0"
expect_exit 0 "u-1 buys for 50.00" till award u-1 --ref order-1 --amount 5000
check_field "below silver: x1" '[.points, .multiplier_permille] | join(",")' "50,1000"
expect_exit 0 "u-1 balance" loyalty --json balance u-1
check_field "still base" '[.tier, .qualifying] | join(",")' "base,50"
expect_exit 0 "u-1 crosses 100" till award u-1 --ref order-2 --amount 6000
check_field "the crossing award earns at the old rate" '[.points, .multiplier_permille] | join(",")' "60,1000"
crossing_seq=$(field .audit_seq)
expect_exit 0 "u-1 after the crossing" loyalty --json balance u-1
check_field "silver at once" '[.tier, .qualifying] | join(",")' "silver,110"
expect_exit 0 "u-1 buys again" till award u-1 --ref order-3 --amount 10000
check_field "the next award earns at the new rate" '[.points, .multiplier_permille] | join(",")' "150,1500"
expect_exit 0 "a bonus" till award u-1 --ref bonus-1 --points 1000
expect_exit 0 "an adjustment" help adjust u-1 --ref fix-1 --points 600 --reason goodwill
expect_exit 0 "u-1 after bonus and adjustment" loyalty --json member show u-1
check_field "bonuses and adjustments do not qualify" '[.tier, .qualifying, .balance] | join(",")' \
    "silver,260,1860"
expect_exit 0 "u-1 tier history" loyalty --json tier history u-1
check_one_json "tier history"
check_field "one upgrade" \
    '[.changes[] | "\(.from)>\(.to):\(.cause):\(.qualifying):\(.ts):\(.actor):\(.audit_seq)"] | join(",")' \
    "base>silver:upgrade:110:2026-01-10T10:00:00Z:till:$crossing_seq"
check_field "no reason on an upgrade" '.changes[0] | has("reason")' false
check_field "the member" '.member' u-1
check_invariants "upgrade" u-1

# --- skipping tiers --------------------------------------------------------------------------
expect_exit 0 "member s-1" till member add s-1
expect_exit 0 "s-1 buys for 2500.00" till award s-1 --ref order-s1 --amount 250000
check_field "at the old rate" '[.points, .multiplier_permille] | join(",")' "2500,1000"
expect_exit 0 "s-1 balance" loyalty --json balance s-1
check_field "platinum at once" '[.tier, .qualifying] | join(",")' "platinum,2500"
expect_exit 0 "s-1 history" loyalty --json tier history s-1
check_field "silver and gold skipped" '[.changes[] | "\(.from)>\(.to):\(.cause)"] | join(",")' \
    "base>platinum:upgrade"
expect_exit 0 "s-1 buys again" till award s-1 --ref order-s2 --amount 1000
check_field "x3" '[.points, .multiplier_permille] | join(",")' "30,3000"
expect_exit 0 "tiers count members" loyalty --json tiers
check_field "members per tier" '[.tiers[] | "\(.code)=\(.members)"] | join(",")' \
    "base=0,silver=1,gold=0,platinum=1"
check_invariants "skipping tiers" u-1 s-1

# --- the window runs out: down only at evaluation ---------------------------------------------------
export LOYALTY_NOW="2026-02-09T09:59:59.999999Z" # the last microsecond of the 30-day window
expect_exit 0 "u-1 at the end of the window" loyalty --json balance u-1
check_field "still qualifying" '[.tier, .qualifying] | join(",")' "silver,260"
export LOYALTY_NOW="2026-02-09T10:00:00Z"
expect_exit 0 "u-1 after the window" loyalty --json balance u-1
check_field "qualifying gone, tier kept" '[.tier, .qualifying] | join(",")' "silver,0"
expect_exit 0 "u-1 buys after the window" till award u-1 --ref order-4 --amount 2000
check_field "still earns at silver until the evaluation" '[.points, .multiplier_permille] | join(",")' "30,1500"
expect_exit 0 "s-1 after the window" loyalty --json balance s-1
check_field "s-1 keeps platinum" '[.tier, .qualifying] | join(",")' "platinum,0"
UNCHANGED_MEMBERS=(u-1 s-1)
expect_unchanged 6 "a checkout cannot evaluate" till tier evaluate
expect_unchanged 6 "a support person cannot evaluate" help tier evaluate
audit_before=$(audit_lines)
expect_exit 0 "tier evaluate" loyalty --json tier evaluate
check_one_json "tier evaluate"
check_field "both move down" '[.members, .upgraded, .downgraded, .placed] | join(",")' "2,0,2,0"
check_equal "evaluate printed nothing on stderr off a terminal" "" "$ERR"
check_equal "one audit entry per move" $((audit_before + 2)) "$(audit_lines)"
expect_exit 0 "u-1 after the evaluation" loyalty --json balance u-1
check_field "u-1 is base" '[.tier, .qualifying] | join(",")' "base,30"
expect_exit 0 "s-1 after the evaluation" loyalty --json balance s-1
check_field "s-1 is base" '[.tier, .qualifying] | join(",")' "base,0"
expect_exit 0 "u-1 history" loyalty --json tier history u-1
check_field "the downgrade" '.changes[-1] | "\(.from)>\(.to):\(.cause):\(.qualifying):\(.ts):\(.actor)"' \
    "silver>base:evaluate:30:2026-02-09T10:00:00Z:$ADMIN"
expect_unchanged 0 "tier evaluate again" loyalty --json tier evaluate
check_field "idempotent" '[.members, .upgraded, .downgraded, .placed] | join(",")' "2,0,0,0"
expect_exit 0 "u-1 earns x1 again" till award u-1 --ref order-5 --amount 2000
check_field "x1" '[.points, .multiplier_permille] | join(",")' "20,1000"
expect_exit 0 "tier evaluate (text)" loyalty tier evaluate
check_line "text figures" '^downgraded: +0$'
if command -v script >/dev/null 2>&1; then
    terminal=$(script -qec "'$LOYALTY_BIN' --db '$DB' --json tier evaluate" /dev/null </dev/null)
    check_equal "tier evaluate on a terminal exits 0" 0 "$?"
    check_contains "a progress bar on the terminal" $'\rtier evaluate [' "$terminal"
    check_contains "the figures follow the bar" '{"members":2,"upgraded":0,"downgraded":0,"placed":0}' "$terminal"
else
    echo "tiers: 'script' is missing; progress bar on a terminal not checked" >&2
fi
check_invariants "window and evaluation" u-1 s-1

# --- refunds lower qualification ------------------------------------------------------------
export LOYALTY_NOW="2026-03-01T12:00:00Z"
expect_exit 0 "member r-1" till member add r-1
expect_exit 0 "r-1 buys for 600.00" till award r-1 --ref order-r1 --amount 60000
expect_exit 0 "r-1 balance" loyalty --json balance r-1
check_field "gold, silver skipped" '[.tier, .qualifying] | join(",")' "gold,600"
expect_exit 0 "half of it is refunded" till refund r-1 --ref refund-r1 --order order-r1 --amount 30000
check_field "the refund claws back 300" '.points' -300
expect_exit 0 "r-1 after the refund" loyalty --json balance r-1
check_field "qualifying lowered, tier kept until evaluation" '[.tier, .qualifying] | join(",")' "gold,300"
expect_exit 0 "tier evaluate after the refund" loyalty --json tier evaluate
check_field "r-1 moves down" '[.members, .upgraded, .downgraded, .placed] | join(",")' "3,0,1,0"
expect_exit 0 "r-1 after the evaluation" loyalty --json balance r-1
check_field "silver" '[.tier, .qualifying] | join(",")' "silver,300"
expect_exit 0 "the rest is refunded" till refund r-1 --ref refund-r2 --order order-r1 --amount 30000
expect_exit 0 "r-1 after the full refund" loyalty --json balance r-1
check_field "nothing qualifies" '[.tier, .qualifying, .balance] | join(",")' "silver,0,0"
expect_exit 0 "r-1 history" loyalty --json tier history r-1
check_field "causes" '[.changes[] | "\(.from)>\(.to):\(.cause):\(.qualifying)"] | join(",")' \
    "base>gold:upgrade:600,gold>silver:evaluate:300"
check_invariants "refunds" r-1

# --- benefits and their periods ------------------------------------------------------------------
export LOYALTY_NOW="2026-03-31T20:00:00Z"
expect_exit 0 "member b-1" till member add b-1
expect_exit 0 "b-1 reaches gold" till award b-1 --ref order-b1 --amount 50000
expect_exit 0 "b-1 benefits" loyalty --json benefits b-1
check_one_json "benefits"
check_field "gold grants lounge and suite" '[.member, .tier, ([.benefits[].code] | join("+"))] | join(",")' \
    "b-1,gold,lounge+suite"
check_field "the lounge: 2 a month" \
    '.benefits[] | select(.code == "lounge") | [.name, .limit, .period, .used, .remaining, .period_start, .period_end] | join(",")' \
    "Airport lounge,2,month,0,2,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z"
check_field "the suite: unlimited" \
    '.benefits[] | select(.code == "suite") | [.limit, .period, .used, .remaining, .period_start, .period_end] | map(tostring) | join(",")' \
    "null,null,0,null,null,null"
expect_exit 0 "benefits (text)" loyalty benefits b-1
check_line "text heading" '^CODE +NAME +LIMIT +PERIOD +USED +REMAINING +PERIOD_START +PERIOD_END$'

export LOYALTY_NOW="2026-03-31T23:59:59Z"
expect_exit 0 "the first lounge visit" till benefit claim b-1 lounge --ref lounge-1
check_one_json "benefit claim"
check_field "first claim" '[.member, .benefit, .ref, .replayed, .used, .remaining, .period_start] | join(",")' \
    "b-1,lounge,lounge-1,false,1,1,2026-03-01T00:00:00Z"
claim_seq=$(field .audit_seq)
check_equal "the claim's audit entry" "benefit_claim:till" \
    "$(loyalty audit export --from "$claim_seq" | head -n 1 | jq -r '"\(.action):\(.actor)"')"
export LOYALTY_NOW="2026-03-31T23:59:59.999999Z" # the last instant of March
expect_exit 0 "the second lounge visit" till benefit claim b-1 lounge --ref lounge-2
check_field "used up" '[.used, .remaining] | join(",")' "2,0"
UNCHANGED_MEMBERS=(b-1)
expect_unchanged 4 "a third in March" till benefit claim b-1 lounge --ref lounge-3
check_contains "used up names the benefit" "lounge" "$ERR"
expect_unchanged 0 "a retried claim" till benefit claim b-1 lounge --ref lounge-1
check_field "replayed" '[.replayed, .used, .period_start] | join(",")' "true,1,2026-03-01T00:00:00Z"
expect_unchanged 5 "a claim ref reused for another benefit" till benefit claim b-1 suite --ref lounge-1
export LOYALTY_NOW="2026-04-01T00:00:00Z" # the first instant of April
expect_exit 0 "April's first lounge visit" till benefit claim b-1 lounge --ref lounge-3
check_field "a new period" '[.used, .remaining, .period_start] | join(",")' "1,1,2026-04-01T00:00:00Z"
expect_exit 0 "b-1 benefits in April" loyalty --json benefits b-1
check_field "April's usage" \
    '.benefits[] | select(.code == "lounge") | [.used, .remaining, .period_start, .period_end] | join(",")' \
    "1,1,2026-04-01T00:00:00Z,2026-05-01T00:00:00Z"
expect_unchanged 0 "the March claim replays in April" till benefit claim b-1 lounge --ref lounge-2
check_field "replayed in its own period" '[.replayed, .used, .period_start] | join(",")' "true,2,2026-03-01T00:00:00Z"
for i in 1 2 3; do
    expect_exit 0 "suite claim $i" till benefit claim b-1 suite --ref suite-$i
done
check_field "unlimited" '[.used, (.remaining | tostring), (.period_start | tostring)] | join(",")' "3,null,null"
expect_unchanged 6 "gold does not grant the butler" till benefit claim b-1 butler --ref butler-1
expect_unchanged 6 "base grants nothing" till benefit claim u-1 lounge --ref u-lounge
expect_unchanged 3 "an unknown benefit" till benefit claim b-1 spa --ref spa-1
expect_unchanged 3 "an unknown member" till benefit claim nobody lounge --ref nobody-1
expect_unchanged 2 "claim without --ref" till benefit claim b-1 lounge
expect_unchanged 6 "support cannot claim" help benefit claim b-1 lounge --ref help-1
expect_exit 0 "b-1 is frozen" help member freeze b-1 --reason fraud
expect_unchanged 6 "a frozen member cannot claim" till benefit claim b-1 lounge --ref lounge-4
expect_exit 0 "b-1 is unfrozen" help member unfreeze b-1
expect_exit 0 "then may claim again" till benefit claim b-1 lounge --ref lounge-4
check_field "second in April" '[.used, .remaining] | join(",")' "2,0"
expect_unchanged 3 "benefits of an unknown member" loyalty benefits nobody
check_invariants "benefits" b-1

# --- manual tier changes ---------------------------------------------------------------------------
export LOYALTY_NOW="2026-04-02T09:00:00Z"
expect_exit 0 "support sets u-1 to gold" help tier set u-1 gold --reason vip-guest
check_one_json "tier set"
check_field "the member with the new tier" '[.member, .tier, .qualifying, .status] | join(",")' "u-1,gold,0,active"
manual_seq=$(loyalty audit export | tail -n 1 | jq -r .seq)
expect_exit 0 "u-1 may now use the suite" till benefit claim u-1 suite --ref u-suite-1
UNCHANGED_MEMBERS=(u-1)
expect_unchanged 6 "a checkout cannot set tiers" till tier set u-1 platinum --reason vip
expect_unchanged 3 "an unknown tier" help tier set u-1 diamond --reason vip
expect_unchanged 3 "an unknown member" help tier set nobody gold --reason vip
expect_unchanged 2 "tier set needs --reason" help tier set u-1 gold
expect_unchanged 2 "tier set with a bad reason" help tier set u-1 gold --reason "no spaces"
expect_exit 0 "the next evaluation moves u-1 again" loyalty --json tier evaluate
check_field "u-1 and r-1 (whose purchase was refunded) move down" '.downgraded' 2
expect_exit 0 "r-1 after the evaluation" loyalty --json balance r-1
check_field "r-1 is base" '[.tier, .qualifying] | join(",")' "base,0"
expect_exit 0 "u-1 history" loyalty --json tier history u-1
check_field "every cause" '[.changes[] | "\(.from)>\(.to):\(.cause):\(.actor)"] | join(",")' \
    "base>silver:upgrade:till,silver>base:evaluate:$ADMIN,base>gold:manual:help,gold>base:evaluate:$ADMIN"
check_field "the manual change's reason and entry" \
    '.changes[2] | [.reason, .ts, .audit_seq] | join(",")' "vip-guest,2026-04-02T09:00:00Z,$manual_seq"
expect_exit 0 "tier history (text)" loyalty tier history u-1
check_line "text heading" '^TS +FROM +TO +CAUSE +QUALIFYING +ACTOR +AUDIT_SEQ +REASON$'
check_line "text manual row" "^2026-04-02T09:00:00Z +base +gold +manual +0 +help +$manual_seq +vip-guest\$"
expect_exit 0 "member c-1" till member add c-1
expect_exit 0 "c-1 is closed" help member close c-1 --reason left
UNCHANGED_MEMBERS=(c-1)
expect_unchanged 6 "a closed member's tier cannot be set" help tier set c-1 gold --reason vip
expect_unchanged 3 "tier history of an unknown member" loyalty tier history nobody
expect_exit 0 "tier history of a member without changes" loyalty --json tier history c-1
check_field "no changes" '.changes | length' 0
check_invariants "manual" u-1 c-1

# --- a new program: members keep their history; evaluation places them ---------------------------------
cat >"$TMP/program-2.json" <<'EOF'
{"tier_window_days": 60,
 "tiers": [{"code": "member", "name": "Member", "threshold": 0, "multiplier_permille": 1000},
           {"code": "gold", "name": "Gold", "threshold": 400, "multiplier_permille": 2500}]}
EOF
# base, silver and platinum are gone; gold stays (with another threshold).
expect_exit 0 "a new ladder" loyalty program load "$TMP/program-2.json"
expect_exit 0 "tiers after the new program" loyalty --json tiers
check_field "the new ladder: b-1 is still gold" '[.tiers[] | "\(.code):\(.members)"] | join(",")' "member:0,gold:1"
expect_exit 0 "evaluate places the others" loyalty --json tier evaluate
check_field "u-1, s-1 and r-1 placed; the closed c-1 left alone" '[.members, .placed] | join(",")' "4,3"
expect_exit 0 "tiers after the placement" loyalty --json tiers
check_field "every open member in the ladder" '[.tiers[] | "\(.code):\(.members)"] | join(",")' "member:3,gold:1"
expect_exit 0 "b-1 placed by its qualifying points" loyalty --json balance b-1
check_field "b-1" '[.tier, .qualifying] | join(",")' "gold,500"
expect_exit 0 "u-1 keeps its history" loyalty --json tier history u-1
check_field "history kept, placement added" '[.changes[] | .cause] | join(",")' \
    "upgrade,evaluate,manual,evaluate,evaluate"
check_field "the placement" '.changes[-1] | "\(.from)>\(.to)"' "base>member"
check_invariants "new program" u-1 s-1 r-1 b-1 c-1

# --- invalid ladders: exit 2, naming the culprit ---------------------------------------------------
tier() { printf '{"code":"%s","name":"%s","threshold":%s,"multiplier_permille":1000,"benefits":[%s]}' \
    "$1" "$1" "$2" "${3:-}"; }
bad_programs=(
    "{\"tiers\":[$(tier entry 5)]}|'entry'"
    "{\"tiers\":[$(tier a 0),$(tier b 100),$(tier c 100)]}|'c'"
    "{\"tiers\":[$(tier a 0),$(tier b 100),$(tier c 50)]}|'c'"
    "{\"tiers\":[$(tier a 0),$(tier b 100),$(tier a 200)]}|duplicate tier code 'a'"
    "{\"tiers\":[$(tier a 0 '"x"')],\"benefits\":[{\"code\":\"x\",\"name\":\"X\"},{\"code\":\"x\",\"name\":\"Y\"}]}|duplicate benefit code 'x'"
    "{\"tiers\":[$(tier a 0 '"x"'),$(tier b 10 '"x","ghost"')],\"benefits\":[{\"code\":\"x\",\"name\":\"X\"}]}|'ghost'"
    "{\"tiers\":[$(tier a 0 '"x"')],\"benefits\":[{\"code\":\"x\",\"name\":\"X\"},{\"code\":\"orphan\",\"name\":\"O\"}]}|'orphan'"
    "{\"tiers\":[$(tier a 0 '"x"')],\"benefits\":[{\"code\":\"x\",\"name\":\"X\",\"limit\":2,\"period\":\"fortnight\"}]}|benefits[0].period"
    "{\"tiers\":[$(tier a 0 '"x"')],\"benefits\":[{\"code\":\"x\",\"name\":\"X\",\"limit\":0,\"period\":\"day\"}]}|benefits[0].limit"
    "{\"tiers\":[{\"code\":\"a\",\"name\":\"A\",\"threshold\":0,\"multiplier_permille\":1000,\"colour\":\"red\"}]}|tiers[0].colour"
    "{\"tier_window_days\":0}|tier_window_days"
)
UNCHANGED_MEMBERS=(u-1 b-1)
for entry in "${bad_programs[@]}"; do
    program=${entry%|*} culprit=${entry##*|}
    printf '%s\n' "$program" >"$TMP/bad.json"
    expect_unchanged 2 "ladder naming $culprit" loyalty program load "$TMP/bad.json"
    check_contains "the message names $culprit" "$culprit" "$ERR"
done
expect_exit 2 "init with an invalid ladder" loyalty_bare --db "$TMP/other.db" init --program "$TMP/bad.json"
check_invariants "after the invalid ladders" u-1 b-1

# --- verify catches tampered tier and benefit rows ---------------------------------------------------
# tampered NAME SQL: a copy of the ledger with SQL applied must fail verification, naming the table.
tampered() {
    local copy="$TMP/tampered-$1.db"
    sqlite3 "$DB" ".backup '$copy'"
    sqlite3 "$copy" "$2"
    run loyalty_bare --db "$copy" --json verify
    check_equal "verify catches $1 (exit)" 7 "$RC"
    check_field "verify catches $1" '.ok' false
    check_field "verify names the table for $1" '.table' "$3"
}
if command -v sqlite3 >/dev/null 2>&1; then
    tampered tier "UPDATE members SET tier = 'member' WHERE external_id = 'b-1'" members
    tampered claim "DELETE FROM benefit_claims WHERE ref = 'lounge-3'" benefit_claims
    tampered claim-period "UPDATE benefit_claims SET period_start_us = period_start_us + 1 WHERE ref = 'lounge-1'" \
        benefit_claims
    tampered change "UPDATE tier_changes SET cause = 'manual' WHERE cause = 'upgrade' AND to_tier = 'platinum'" \
        tier_changes
    run loyalty --json verify
    check_field "the original still verifies" '.ok' true
else
    echo "tiers: sqlite3 is missing; tampering not checked" >&2
fi

# --- usage ----------------------------------------------------------------------------------------
for words in tiers "tier set" "tier history" "tier evaluate" benefits "benefit claim"; do
    # shellcheck disable=SC2086
    expect_exit 0 "$words --help" loyalty $words --help
    check_contains "$words help" "usage: loyalty $words" "$OUT"
done
expect_exit 0 "tier --help" loyalty tier --help
check_contains "tier group help" "loyalty tier evaluate" "$OUT"
expect_unchanged 2 "tiers takes no argument" loyalty tiers extra
expect_unchanged 2 "tier set needs a tier" help tier set u-1 --reason vip

e2e_end
