#!/usr/bin/env bash
# boundaries.sh - the tool at and just past every bound (issue 8, item 6):
# every number option at 1, the limit, the limit + 1, INT64_MAX - 1,
# INT64_MAX and INT64_MIN; free text of 256 and 257 bytes, empty, with
# malformed UTF-8 or control characters; actors of 64 and 65 characters;
# LOYALTY_NOW on leap days that exist and ones that do not; import lines
# carrying the same values. A refused value exits 2 with one clear
# "loyalty: ..." line naming what was wrong, and changes nothing; a value
# at a limit is applied exactly. (tests/e2e/errors.sh covers the malformed
# numbers and ids; this file covers the limits.)
source "$(dirname "$0")/lib.bash"
e2e_begin boundaries

LIMIT=1000000000000            # 10^12 points
AMOUNT_LIMIT=1000000000000000  # 10^15 minor units
INT64_MAX=9223372036854775807
INT64_MAX_1=9223372036854775806
INT64_MIN=-9223372036854775808
TEXT_64=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
TEXT_256=$TEXT_64$TEXT_64$TEXT_64$TEXT_64

expect_exit 0 "init" loyalty init
expect_exit 0 "member add" loyalty member add m-1
expect_exit 0 "fund the member" loyalty --json award m-1 --ref fund --points $LIMIT
expect_exit 0 "a purchase to refund" loyalty --json award m-1 --ref order --amount 10000
expect_exit 0 "a hold to capture" loyalty --json hold m-1 --ref held --points 10
UNCHANGED_MEMBERS=(m-1)

# refused VALUE WHAT NEEDLE COMMAND...: exit 2, nothing changed, one error line mentioning NEEDLE.
refused() {
    local what=$1 needle=$2
    shift 2
    expect_unchanged 2 "$what" "$@"
    check_error_line "$what"
    check_contains "$what: the message says what is wrong" "$needle" "$ERR"
}

# --- numbers at and past the limits ------------------------------------------------------------
for bad in $((LIMIT + 1)) $INT64_MAX_1 $INT64_MAX; do
    refused "award --points $bad" "points must be between 1 and $LIMIT" \
        loyalty award m-1 --ref b-1 --points "$bad"
    refused "redeem --points $bad" "points must be between 1 and $LIMIT" \
        loyalty redeem m-1 --ref b-2 --points "$bad"
    refused "hold --points $bad" "points must be between 1 and $LIMIT" \
        loyalty hold m-1 --ref b-3 --points "$bad"
    refused "capture --points $bad" "capture must be between 1 and the 10 points held" \
        loyalty capture held --points "$bad"
    refused "adjust --points $bad" "at most $LIMIT either way" \
        loyalty adjust m-1 --ref b-4 --points "$bad" --reason fix
    refused "adjust --points -$bad" "at most $LIMIT either way" \
        loyalty adjust m-1 --ref b-5 --points "-$bad" --reason fix
done
refused "adjust --points INT64_MIN" "at most $LIMIT either way" \
    loyalty adjust m-1 --ref b-6 --points "$INT64_MIN" --reason fix
for bad in $INT64_MIN -1; do
    refused "award --points $bad" "--points" loyalty award m-1 --ref b-7 --points "$bad"
    refused "hold --points $bad" "--points" loyalty hold m-1 --ref b-8 --points "$bad"
    refused "capture --points $bad" "--points" loyalty capture held --points "$bad"
    refused "award --amount $bad" "--amount" loyalty award m-1 --ref b-9 --amount "$bad"
    refused "refund --amount $bad" "--amount" loyalty refund m-1 --ref b-10 --order order --amount "$bad"
    refused "reverse $bad" "TX" loyalty reverse --ref b-11 --reason x -- "$bad"
done
for bad in $((AMOUNT_LIMIT + 1)) $INT64_MAX_1 $INT64_MAX; do
    refused "award --amount $bad" "amount must be between 1 and $AMOUNT_LIMIT" \
        loyalty award m-1 --ref b-12 --amount "$bad"
    refused "refund --amount $bad" "amount must be between 1 and $AMOUNT_LIMIT" \
        loyalty refund m-1 --ref b-13 --order order --amount "$bad"
done
refused "one past INT64_MAX" "out of range" loyalty award m-1 --ref b-14 --points 9223372036854775808
refused "one past INT64_MIN" "out of range" \
    loyalty adjust m-1 --ref b-15 --points -9223372036854775809 --reason fix
refused "history --limit INT64_MAX" "limit must be between 1 and 1000" \
    loyalty history m-1 --limit $INT64_MAX
refused "import --batch INT64_MAX" "--batch" loyalty import /dev/null --batch $INT64_MAX
refused "import --batch 10001" "--batch" loyalty import /dev/null --batch 10001
expect_unchanged 3 "reverse tx INT64_MAX is simply not found" loyalty reverse $INT64_MAX --ref b-16 --reason x
expect_unchanged 0 "history before INT64_MAX lists everything" loyalty history m-1 --before $INT64_MAX
expect_unchanged 0 "audit export from INT64_MAX is empty" loyalty audit export --from $INT64_MAX
check_equal "audit export from INT64_MAX prints nothing" "" "$OUT"

# --- the limits themselves are applied exactly --------------------------------------------------
expect_exit 0 "award exactly the limit" loyalty --json award m-1 --ref max-1 --points $LIMIT
check_field "award exactly the limit" .points $LIMIT
expect_exit 0 "adjust by minus the limit" loyalty --json adjust m-1 --ref max-2 --points -$LIMIT --reason fix
check_field "adjust by minus the limit" .points -$LIMIT
expect_exit 0 "adjust by plus the limit" loyalty --json adjust m-1 --ref max-3 --points +$LIMIT --reason fix
check_field "adjust by plus the limit" .points $LIMIT
expect_exit 0 "hold exactly the limit" loyalty --json hold m-1 --ref max-4 --points $LIMIT
expect_exit 0 "capture exactly the limit" loyalty --json capture max-4 --points $LIMIT
check_field "capture exactly the limit" .captured $LIMIT
expect_exit 0 "redeem exactly the limit" loyalty --json redeem m-1 --ref max-5 --points $LIMIT
refused "a purchase earning more than the points limit" "out of range" \
    loyalty award m-1 --ref max-6 --amount $AMOUNT_LIMIT
expect_exit 0 "a purchase earning exactly the points limit" \
    loyalty --json award m-1 --ref max-6 --amount $((LIMIT * 100))
check_field "10^14 minor units at 1 point per 100" .points $LIMIT
expect_exit 0 "refund of one minor unit" loyalty --json refund m-1 --ref max-7 --order max-6 --amount 1
check_field "refund of one minor unit claws back floor(10^12 / 10^14)" .points 0
expect_exit 0 "refund of the rest" loyalty --json refund m-1 --ref max-9 --order max-6 --amount $((LIMIT * 100 - 1))
check_field "refund of the rest claws back exactly what it earned" .points -$LIMIT
expect_exit 0 "program of the richest rate" loyalty program load <(echo '{"minor_per_unit":1000,"points_per_unit":1}')
expect_exit 0 "purchase of exactly the amount limit" loyalty --json award m-1 --ref max-10 --amount $AMOUNT_LIMIT
check_field "10^15 minor units at 1 point per 1000" .points $LIMIT
expect_exit 0 "a purchase of one minor unit earns nothing, and is recorded" \
    loyalty --json award m-1 --ref max-8 --amount 1
check_field "one minor unit" .points 0
check_invariants "after the limits" m-1

# --- text ----------------------------------------------------------------------------------------
expect_exit 0 "a reason of 256 bytes" loyalty --json award m-1 --ref t-1 --points 1 --reason "$TEXT_256"
expect_exit 0 "a note of 256 bytes with a 2-byte character at the end" \
    loyalty --json adjust m-1 --ref t-2 --points 1 --reason fix --note "${TEXT_256:0:254}é"
expect_exit 0 "a 4-byte character" loyalty --json award m-1 --ref t-3 --points 1 --reason "gift 🎁"
run loyalty --json history m-1 --limit 3
check_field "the 4-byte character is kept" '.entries[0].reason' "gift 🎁"
check_field "the 256-byte note is kept" '.entries[1].note' "${TEXT_256:0:254}é"
check_field "the 256-byte reason is kept" '.entries[2].reason' "$TEXT_256"
for bad in "${TEXT_256}x" "${TEXT_256:0:255}é" "" $'tab\there' $'line\nbreak' $'cr\rhere' $'del\x7f' \
    $'esc\x1b[0m' $'\xff' $'\xc0\x80' $'\xed\xa0\x80' $'\xf4\x90\x80\x80' $'cut \xe2\x82'; do
    shown=$(printf '%q' "$bad")
    refused "award --reason ${shown:0:40}" "reason must be 1 to 256 bytes of UTF-8 text" \
        loyalty award m-1 --ref t-4 --points 1 --reason "$bad"
    refused "adjust --note ${shown:0:40}" "note must be 1 to 256 bytes of UTF-8 text" \
        loyalty adjust m-1 --ref t-5 --points 1 --reason fix --note "$bad"
done
refused "a reason code of 65 characters" "reason" \
    loyalty adjust m-1 --ref t-6 --points 1 --reason "${TEXT_64}x"
expect_exit 0 "a reason code of 64 characters" loyalty adjust m-1 --ref t-7 --points 1 --reason "$TEXT_64"

# --- actors ----------------------------------------------------------------------------------------
expect_exit 0 "an operator name of 64 characters" loyalty operator add "$TEXT_64" --role checkout
expect_exit 0 "acting as a 64-character actor" loyalty --actor "$TEXT_64" award m-1 --ref a-1 --points 1
refused "an actor of 65 characters" "actor" loyalty --actor "${TEXT_64}x" award m-1 --ref a-2 --points 1
refused "an empty actor" "actor" loyalty --actor "" award m-1 --ref a-3 --points 1
refused "a non-ASCII actor" "actor" loyalty --actor "rené" award m-1 --ref a-4 --points 1

# --- leap days ---------------------------------------------------------------------------------------
for bad_now in 2027-02-29T00:00:00Z 2100-02-29T00:00:00Z 2028-02-30T00:00:00Z 2028-02-29T24:00:00Z; do
    refused "LOYALTY_NOW=$bad_now" "LOYALTY_NOW" \
        env LOYALTY_NOW="$bad_now" "$LOYALTY_BIN" --db "$DB" award m-1 --ref l-0 --points 1
done
expect_exit 0 "the program with expiry" loyalty program load <(echo '{"expiry_days":365}')
expect_exit 0 "an award at the last microsecond of a leap day" \
    env LOYALTY_NOW=2028-02-29T23:59:59.999999Z "$LOYALTY_BIN" --db "$DB" --json award m-1 --ref l-1 --points 5
expect_exit 0 "balance" env LOYALTY_NOW=2028-03-01T00:00:00Z "$LOYALTY_BIN" --db "$DB" --json balance m-1
check_field "365 days after the leap day's last microsecond" .next_expiry.at "2029-02-28T23:59:59.999999Z"
check_field "the lot that expires then" .next_expiry.points 5
expect_exit 0 "2000-02-29 exists (divisible by 400)" \
    env LOYALTY_NOW=2000-02-29T12:00:00Z "$LOYALTY_BIN" --db "$DB" --json stats
expect_exit 0 "one microsecond before expiry" \
    env LOYALTY_NOW=2029-02-28T23:59:59.999998Z "$LOYALTY_BIN" --db "$DB" --json balance m-1
check_field "still there one microsecond before" .expired 0
expect_exit 0 "at the expiry instant" \
    env LOYALTY_NOW=2029-02-28T23:59:59.999999Z "$LOYALTY_BIN" --db "$DB" --json balance m-1
check_field "expired at the instant" .expired 5

# --- import lines at the limits ----------------------------------------------------------------------
lines="$TMP/boundaries.jsonl"
{
    echo "{\"op\":\"award\",\"member\":\"m-1\",\"ref\":\"i-1\",\"points\":$INT64_MAX}"
    echo "{\"op\":\"award\",\"member\":\"m-1\",\"ref\":\"i-2\",\"points\":$((LIMIT + 1))}"
    echo "{\"op\":\"adjust\",\"member\":\"m-1\",\"ref\":\"i-3\",\"points\":$INT64_MIN,\"reason\":\"r\"}"
    echo "{\"op\":\"award\",\"member\":\"m-1\",\"ref\":\"i-4\",\"amount\":$((AMOUNT_LIMIT + 1))}"
    echo "{\"op\":\"redeem\",\"member\":\"m-1\",\"ref\":\"i-5\",\"points\":0}"
    echo "{\"op\":\"award\",\"member\":\"m-1\",\"ref\":\"i-6\",\"points\":9223372036854775808}"
    echo "{\"op\":\"award\",\"member\":\"m-1\",\"ref\":\"i-7\",\"points\":1.0}"
    echo "{\"op\":\"award\",\"member\":\"${TEXT_64}x\",\"ref\":\"i-8\",\"points\":1}"
} >"$lines"
expect_unchanged 2 "an import of out-of-range lines" loyalty import "$lines"
check_equal "one result per line" 8 "$(grep -c '"status":"error"' <<<"$OUT")"
check_equal "no line applied" 0 "$(grep -c '"status":"applied"' <<<"$OUT")"

check_invariants "at the end" m-1
e2e_end
