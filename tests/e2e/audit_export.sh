#!/usr/bin/env bash
# audit_export.sh - the audit log seen from outside: a real ledger built
# through the CLI (members, purchase and bonus awards, redemptions,
# adjustments, reversals down to a negative balance, a program change, two key
# rotations) is exported and checked by the independent verifier
# tests/tools/verify_export.py (written from docs/AUDIT_FORMAT.md only), whose
# recomputed balances must equal `loyalty balance`; the checkpoint, the public
# key and the known-answer example of docs/AUDIT_FORMAT.md are checked too, and
# the verifier is shown to reject doctored exports, including entries re-signed with the
# ledger's own keys that break the operator rules (init registers its actor as the first admin,
# entry 3).
#
#   LOYALTY_BIN=$PWD/build/loyalty bash tests/e2e/audit_export.sh
set -euo pipefail

: "${LOYALTY_BIN:?set LOYALTY_BIN to the absolute path of the loyalty binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
VERIFIER="$HERE/../tools/verify_export.py"
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
DB="$T/l.db"

passed=0
failed=0
pass() { passed=$((passed + 1)); }
failure() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# loyalty ARGS...: runs the CLI on the test ledger; sets RC, OUT, ERR (never aborts).
loyalty() {
    RC=0
    "$LOYALTY_BIN" --db "$DB" --actor tester "$@" >"$T/out" 2>"$T/err" || RC=$?
    OUT=$(cat "$T/out")
    ERR=$(cat "$T/err")
}
# step DESCRIPTION ARGS...: a CLI call that must exit 0.
step() {
    local what=$1
    shift
    loyalty "$@"
    if [ "$RC" = 0 ]; then pass; else failure "$what: exit $RC: $ERR"; fi
}
check_equal() { # DESCRIPTION EXPECTED ACTUAL
    if [ "$2" == "$3" ]; then pass; else failure "$1: expected [$2], got [$3]"; fi
}
check_true() { # DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then pass; else failure "$what"; fi
}
check_contains() { # DESCRIPTION NEEDLE HAYSTACK
    if [[ "$3" == *"$2"* ]]; then pass; else failure "$1: [$2] not in [$3]"; fi
}
check_false() { # DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then failure "$what (unexpectedly succeeded)"; else pass; fi
}
# verifier ARGS...: runs the independent verifier; sets VRC and VOUT.
verifier() {
    VRC=0
    VOUT=$("$PY" "$VERIFIER" "$@" 2>"$T/verr") || VRC=$?
}
tx_of() { jq -r '.tx' <<<"$OUT"; }

# --- build a ledger through the CLI -------------------------------------------------
step "init" --json init
step "genesis public key" key public
GENESIS_KEY=$OUT
printf '# genesis key of the test ledger\n%s\n' "$GENESIS_KEY" >"$T/genesis.pub"

for m in M1 M2 M3:x M4; do step "member add $m" --json member add "$m"; done
step "purchase award" --json award M1 --ref o1 --amount 12999
check_equal "purchase award points" 129 "$(jq -r .points <<<"$OUT")"
step "purchase worth 0 points" --json award M2 --ref o2 --amount 5
check_equal "zero-point purchase" 0 "$(jq -r .points <<<"$OUT")"
step "bonus award with a non-ASCII reason" --json award M1 --ref b1 --points 500 --reason 'welcome bonus – café ☕'
step "bonus award" --json award M2 --ref b2 --points 40
TX_B2=$(tx_of)
step "redeem" --json redeem M1 --ref r1 --points 100
TX_R1=$(tx_of)
step "negative adjustment with quotes and a backslash in the note" \
    --json adjust M1 --ref a1 --points -20 --reason typo --note 'wrong "amount" \ fixed'
step "positive adjustment" --json adjust M2 --ref a2 --points 15 --reason goodwill
step "reverse an award" --json reverse "$TX_B2" --ref v1 --reason mistake
step "reverse a redemption" --json reverse "$TX_R1" --ref v2 --reason refund
step "award to M3" --json award M3:x --ref o3 --points 30
TX_M3=$(tx_of)
step "M3 spends it" --json redeem M3:x --ref r3 --points 30
step "claw back M3's spent award" --json reverse "$TX_M3" --ref v3 --reason fraud
step "replayed award" --json award M1 --ref o1 --amount 12999
check_equal "replayed award is flagged" true "$(jq -r .replayed <<<"$OUT")"
printf '{"currency":"USD","minor_per_unit":100,"points_per_unit":2}\n' >"$T/program.json"
step "program load" --json program load "$T/program.json"
step "first key rotation" --json key rotate
step "award after the first rotation" --json award M1 --ref o4 --amount 1000
check_equal "award at the new program's rate" 20 "$(jq -r .points <<<"$OUT")"
step "second key rotation" --json key rotate
step "award after the second rotation" --json award M2 --ref o5 --amount 250
step "redeem after the second rotation" --json redeem M1 --ref r5 --points 7
check_equal "old keys are kept under <key>.<key id>" 2 "$(find "$T" -maxdepth 1 -name 'l.db.key.*' | wc -l)"

# --- export ---------------------------------------------------------------------
step "audit export" audit export
printf '%s\n' "$OUT" >"$T/export.jsonl"
ENTRIES=$(wc -l <"$T/export.jsonl")
# 1 genesis + 1 program + 1 operator (init's first admin) + 4 members + 15 postings + 1 program
# + 2 rotations = 25
check_equal "one line per change (the replayed award wrote none)" 25 "$ENTRIES"
check_true "every line is a JSON object with the documented fields in order" \
    jq -e -s 'all(.[]; keys_unsorted == ["seq","ts_us","actor","action","payload","prev","hash","key","sig"])' \
    "$T/export.jsonl"
check_equal "actions in order" \
    "genesis program_load operator_add member_add member_add member_add member_add award award award award redeem adjust adjust reverse reverse award redeem reverse program_load key_rotate award key_rotate award redeem" \
    "$(jq -r .action "$T/export.jsonl" | tr '\n' ' ' | sed 's/ $//')"
check_equal "seq runs 1..N" "$(seq 1 "$ENTRIES" | tr '\n' ' ')" "$(jq -r .seq "$T/export.jsonl" | tr '\n' ' ')"

step "audit export --from 20" audit export --from 20
check_equal "export --from is the tail of the full export" "$(tail -n +20 "$T/export.jsonl")" "$OUT"

# --- the independent verifier ----------------------------------------------------------
verifier "$T/export.jsonl"
check_equal "independent verifier accepts the export: $VOUT" 0 "$VRC"
check_equal "verifier counts every entry" "$ENTRIES" "$(jq -r .entries <<<"$VOUT")"
VERIFIED=$VOUT

echo '{}' >"$T/balances.json"
for m in M1 M2 M3:x M4; do
    step "balance $m" --json balance "$m"
    cli_balance=$(jq -r .balance <<<"$OUT")
    check_equal "balance of $m recomputed from the log equals loyalty balance" \
        "$cli_balance" "$(jq -r --arg m "$m" '.balances[$m]' <<<"$VERIFIED")"
    jq --arg m "$m" --argjson b "$cli_balance" '.[$m] = $b' "$T/balances.json" >"$T/balances.json.tmp"
    mv "$T/balances.json.tmp" "$T/balances.json"
done
# M1: 129 + 500 - 100 - 20 + 100 + 20 - 7; M2: 0 + 40 + 15 - 40 + 5; M3: 30 - 30 - 30; M4: 0
check_equal "expected balances" '{"M1":622,"M2":20,"M3:x":-30,"M4":0}' "$(jq -c -S . "$T/balances.json")"
verifier "$T/export.jsonl" --balances "$T/balances.json"
check_equal "verifier agrees with loyalty balance for every member" 0 "$VRC"
jq '.M1 += 1' "$T/balances.json" >"$T/wrong-balances.json"
verifier "$T/export.jsonl" --balances "$T/wrong-balances.json"
check_equal "verifier notices a wrong expected balance" 1 "$VRC"

step "stats" --json stats
check_equal "outstanding equals the sum of recomputed balances" "$(jq -r .outstanding <<<"$OUT")" \
    "$(jq '[.balances[]] | add' <<<"$VERIFIED")"

step "loyalty verify" --json verify
check_equal "loyalty verify ok" true "$(jq -r .ok <<<"$OUT")"
check_equal "loyalty verify and the export agree on the number of entries" "$ENTRIES" "$(jq -r .entries <<<"$OUT")"
check_equal "loyalty verify and the independent verifier agree on the head hash" \
    "$(jq -r .head_hash <<<"$VERIFIED")" "$(jq -r .head_hash <<<"$OUT")"

# --- public keys --------------------------------------------------------------------
step "key public" key public
CURRENT_KEY=$OUT
check_true "key public prints 64 lower-case hex" grep -qxE '[0-9a-f]{64}' <<<"$CURRENT_KEY"
check_false "the key in force is no longer the genesis key" test "$CURRENT_KEY" = "$GENESIS_KEY"
step "key public --json" --json key public
check_equal "key public --json public_key" "$CURRENT_KEY" "$(jq -r .public_key <<<"$OUT")"
check_equal "key id = first 8 bytes of BLAKE2b-256(public key)" \
    "$("$PY" -c 'import hashlib,sys; print(hashlib.blake2b(bytes.fromhex(sys.argv[1]), digest_size=32).hexdigest()[:16])' "$CURRENT_KEY")" \
    "$(jq -r .key_id <<<"$OUT")"
check_equal "the key in force is the one named by the last rotation" "$CURRENT_KEY" \
    "$(jq -r 'select(.action == "key_rotate") | .payload | fromjson | .public_key' "$T/export.jsonl" | tail -1)"
check_equal "the genesis entry names the genesis key" "$GENESIS_KEY" \
    "$(head -1 "$T/export.jsonl" | jq -r '.payload | fromjson | .public_key')"
printf '%s\n' "$CURRENT_KEY" >"$T/current.pub"
verifier "$T/export.jsonl" --pubkey "$T/genesis.pub"
check_equal "verifier accepts the genesis key as trusted key" 0 "$VRC"
verifier "$T/export.jsonl" --pubkey "$T/current.pub"
check_equal "verifier accepts the current key as trusted key" 0 "$VRC"
"$PY" -c 'import nacl.signing; print(bytes(nacl.signing.SigningKey.generate().verify_key).hex())' >"$T/stranger.pub"
verifier "$T/export.jsonl" --pubkey "$T/stranger.pub"
check_equal "verifier rejects a trusted key that is not the chain's" 1 "$VRC"
step "loyalty verify --pubkey (genesis key)" --json verify --pubkey "$T/genesis.pub"
loyalty --json verify --pubkey "$T/stranger.pub"
check_equal "loyalty verify rejects a stranger's key" 7 "$RC"

# --- checkpoint -----------------------------------------------------------------------
step "audit checkpoint" audit checkpoint
printf '%s\n' "$OUT" >"$T/cp.txt"
check_equal "checkpoint has six lines" 6 "$(wc -l <"$T/cp.txt")"
check_equal "checkpoint first line" loyalty-checkpoint-v1 "$(head -1 "$T/cp.txt")"
check_equal "checkpoint names the head" "seq $ENTRIES" "$(sed -n 2p "$T/cp.txt")"
check_equal "checkpoint hash is the head hash" "hash $(jq -r .head_hash <<<"$VERIFIED")" "$(sed -n 4p "$T/cp.txt")"
verifier "$T/export.jsonl" --checkpoint "$T/cp.txt" --pubkey "$T/genesis.pub" --balances "$T/balances.json"
check_equal "verifier accepts the checkpoint: $VOUT" 0 "$VRC"
step "loyalty verify --checkpoint" --json verify --checkpoint "$T/cp.txt"
step "audit checkpoint --json" --json audit checkpoint
check_equal "checkpoint --json carries the same text" "$(cat "$T/cp.txt")" "$(jq -r .checkpoint <<<"$OUT" | sed '/^$/d')"

# a checkpoint taken right after a rotation is signed by the new key
step "third key rotation" --json key rotate
step "audit checkpoint after a rotation" audit checkpoint
printf '%s\n' "$OUT" >"$T/cp-rot.txt"
step "audit export after the rotation" audit export
printf '%s\n' "$OUT" >"$T/export-rot.jsonl"
verifier "$T/export-rot.jsonl" --checkpoint "$T/cp-rot.txt"
check_equal "verifier accepts a checkpoint at a rotation (signed by the new key)" 0 "$VRC"
step "loyalty verify accepts the checkpoint at a rotation" --json verify --checkpoint "$T/cp-rot.txt"
verifier "$T/export-rot.jsonl" --checkpoint "$T/cp.txt"
check_equal "an earlier checkpoint still holds on the longer chain" 0 "$VRC"
verifier "$T/export.jsonl" --checkpoint "$T/cp-rot.txt"
check_equal "a later checkpoint exposes the shorter (truncated) export" 1 "$VRC"
check_equal "the truncation is located after the old head" "$((ENTRIES + 1))" "$(jq -r .first_bad_seq <<<"$VOUT")"

# --- the verifier is not vacuous: doctored exports ----------------------------------------
doctor() { # NAME JQ-SLURP-FILTER: writes $T/NAME.jsonl from the export through the filter
    jq -c -s "$2 | .[]" "$T/export.jsonl" >"$T/$1.jsonl"
}
expect_rejected() { # DESCRIPTION FILE FIRST_BAD_SEQ
    verifier "$2"
    check_equal "verifier rejects $1" 1 "$VRC"
    check_equal "verifier locates $1" "$3" "$(jq -r .first_bad_seq <<<"$VOUT")"
}
doctor points '(.[] | select(.seq == 8) | .payload) |= sub("\"points\":129"; "\"points\":1290")'
check_false "the changed payload differs" cmp -s "$T/export.jsonl" "$T/points.jsonl"
expect_rejected "a changed payload" "$T/points.jsonl" 8
doctor reserialised '(.[] | select(.seq == 10) | .payload) |= (fromjson | tojson | sub(":"; ": "))'
expect_rejected "a re-serialised payload" "$T/reserialised.jsonl" 10
doctor dropped 'del(.[11])'
expect_rejected "a dropped entry" "$T/dropped.jsonl" 12
doctor swapped '.[:10] + [.[11], .[10]] + .[12:]'
expect_rejected "two swapped entries" "$T/swapped.jsonl" 11
doctor badsig '(.[] | select(.seq == 15) | .sig) |= (.[0:10] + (if .[10:11] == "0" then "1" else "0" end) + .[11:])'
expect_rejected "a bad signature" "$T/badsig.jsonl" 15
doctor wrongkey '(.[] | select(.seq == 25) | .key) |= "0000000000000000"'
expect_rejected "an entry claiming another key" "$T/wrongkey.jsonl" 25
doctor forged '. + [(.[-1] | .seq += 1 | .prev = .hash)]'
expect_rejected "an appended forged entry" "$T/forged.jsonl" "$((ENTRIES + 1))"
: >"$T/empty.jsonl"
expect_rejected "an empty export" "$T/empty.jsonl" 1
head -c -1 "$T/export.jsonl" >"$T/nonewline.jsonl"
verifier "$T/nonewline.jsonl"
check_equal "verifier rejects a cut-off last line" 1 "$VRC"
# Entries rewritten and re-signed with the ledger's own keys (the holder of the key files):
# the chain is then consistent, and only the operator rules of the format can reject them.
resigned() { # NAME SEQ JQ-FILTER-ON-THAT-ENTRY: $T/NAME.jsonl, re-hashed and re-signed from SEQ on
    jq -c -s --argjson seq "$2" "map(if .seq == \$seq then $3 else . end) | .[]" "$T/export.jsonl" |
        "$PY" -c '
import glob, hashlib, json, struct, sys
import nacl.signing
keys = {}
for path in glob.glob(sys.argv[1] + "*"):
    seed = [w for w in open(path).read().split() if len(w) == 64][0]
    k = nacl.signing.SigningKey(bytes.fromhex(seed))
    keys[hashlib.blake2b(bytes(k.verify_key), digest_size=32).hexdigest()[:16]] = k
lp = lambda b: struct.pack(">I", len(b)) + b
prev = None
for line in sys.stdin:
    e = json.loads(line)
    if e["seq"] >= int(sys.argv[2]):
        e["prev"] = prev
        msg = (b"loyalty-audit-v1\0" + struct.pack(">Q", e["seq"]) + struct.pack(">q", e["ts_us"])
               + lp(e["actor"].encode()) + lp(e["action"].encode()) + lp(e["payload"].encode())
               + bytes.fromhex(prev))
        h = hashlib.blake2b(msg, digest_size=32).digest()
        e["hash"], e["sig"] = h.hex(), keys[e["key"]].sign(h).signature.hex()
    prev = e["hash"]
    print(json.dumps(e, separators=(",", ":"), ensure_ascii=False))
' "$DB.key" "$2" >"$T/$1.jsonl"
}
resigned same 3 .
check_true "re-signing an unchanged export gives it back byte for byte" cmp -s "$T/export.jsonl" "$T/same.jsonl"
check_equal "entry 3 registers init's actor as the first admin" 'tester operator_add {"operator":"tester","role":"admin"}' \
    "$(jq -r 'select(.seq == 3) | "\(.actor) \(.action) \(.payload)"' "$T/export.jsonl")"
resigned intruder 8 '.actor = "intruder"'
expect_rejected "an award made by an actor who is no operator" "$T/intruder.jsonl" 8
check_contains "the reason names the operator rule" "not a registered operator" "$(jq -r .error <<<"$VOUT")"
resigned checkout 3 '.payload = "{\"operator\":\"tester\",\"role\":\"checkout\"}"'
# with tester a mere checkout operator, their first adjustment (entry 13) was not theirs to make
expect_rejected "an adjustment by an operator whose role is checkout" "$T/checkout.jsonl" 13
check_contains "the reason names the role" "(role checkout) may not adjust" "$(jq -r .error <<<"$VOUT")"

awk '/^sig / { c = substr($2, 1, 1); $2 = (c == "0" ? "1" : "0") substr($2, 2) } { print }' \
    "$T/cp.txt" >"$T/cp-bad.txt"
check_false "the doctored checkpoint differs" cmp -s "$T/cp.txt" "$T/cp-bad.txt"
verifier "$T/export.jsonl" --checkpoint "$T/cp-bad.txt"
check_equal "verifier rejects a checkpoint with a bad signature" 1 "$VRC"

# --- the known-answer example of docs/AUDIT_FORMAT.md ------------------------------------
mkdir "$T/kat"
printf '# example key\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n' >"$T/kat/k.key"
chmod 600 "$T/kat/k.key"
KAT=("$LOYALTY_BIN" --db "$T/kat/l.db" --key "$T/kat/k.key" --actor alice)
if LOYALTY_NOW=2024-01-01T00:00:00Z "${KAT[@]}" init >/dev/null 2>"$T/err"; then pass; else failure "known-answer init: $(cat "$T/err")"; fi
"${KAT[@]}" audit export >"$T/kat/export.jsonl" 2>/dev/null || true
check_equal "known answer: entry 1 hash" 1cf9d735792b95514671f5e01d291037f8e0fcd1844de465ee59d060836a6518 \
    "$(jq -r 'select(.seq == 1) | .hash' "$T/kat/export.jsonl")"
check_equal "known answer: entry 1 signature" \
    97710fc0fd248f6fcfff1eabe8530acd78222df833a6514e1c39e8d4f4643dd74f5fda06d3119fc162952dd9bf82e9a72a1f719f578626276a20a34b10dc280d \
    "$(jq -r 'select(.seq == 1) | .sig' "$T/kat/export.jsonl")"
check_equal "known answer: entry 2 hash" fdd491e9f5ade7d742128a5eb4cfbd2b6105e8d026d47457c5b6cc373f3623ab \
    "$(jq -r 'select(.seq == 2) | .hash' "$T/kat/export.jsonl")"
check_equal "known answer: entry 3 (init's first admin) hash" 4b485ac60d2c4bfa21d3ff92ae2b7d4bbbf3a42f872baa854f9da1b60504958f \
    "$(jq -r 'select(.seq == 3) | .hash' "$T/kat/export.jsonl")"
check_equal "known answer: init writes three entries" 3 "$(wc -l <"$T/kat/export.jsonl")"
check_equal "known answer: key id" 9d24e2eeaf27c2a0 "$("${KAT[@]}" --json key public | jq -r .key_id)"
"${KAT[@]}" audit checkpoint >"$T/kat/cp.txt" 2>/dev/null || true
check_equal "known answer: checkpoint signature" \
    "sig f438db6fb8dfb332a478505bc334048c6e9d83d9ddd22251fc4ffe874e53a99ac95e5ba7677a38a588fb7f7e1d3b270ddf72ac73a2aebd9f88789e4963da9a08" \
    "$(sed -n 6p "$T/kat/cp.txt")"
verifier "$T/kat/export.jsonl" --checkpoint "$T/kat/cp.txt"
check_equal "verifier accepts the known-answer ledger" 0 "$VRC"

echo "e2e-audit-export: $passed passed, $failed failed"
[ "$failed" = 0 ]
