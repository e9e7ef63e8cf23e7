#!/usr/bin/env bash
# import.sh - `loyalty import` of JSON Lines through the CLI: a file with
# good, duplicate and broken lines (bad JSON, unknown op, unknown field,
# unknown member, insufficient points, a conflicting reference, an action
# outside the operator's role, an over-long line, a NUL byte) gets one
# result per non-empty line, numbered and in order, and a summary; run
# twice, every line applied the first time answers replayed and nothing
# changes. --results FILE, '-' for standard input, --json (the summary is
# the last line), --batch sizes giving the same results, exit codes,
# pending approvals, a failure of a whole batch, the progress bar on a
# terminal, and an order feed of 20000 awards (timed) imported and then
# re-imported as all replayed. verify passes after each part.
source "$(dirname "$0")/lib.bash"
e2e_begin import

FEED_LINES=${IMPORT_FEED_LINES:-20000}
FEED_MEMBERS=${IMPORT_FEED_MEMBERS:-1000}

export LOYALTY_NOW="2026-05-04T08:00:00Z"
printf '{"approval_threshold": 1000}\n' >"$TMP/program.json"
expect_exit 0 "init" loyalty init --program "$TMP/program.json"
add_operator feeder checkout
add_operator backoffice support

# --- one file with good, duplicate and broken lines ----------------------------------------
long_line="{\"op\":\"award\",\"member\":\"i-1\",\"ref\":\"long\",\"reason\":\"$(printf 'x%.0s' {1..5000})\"}"
{
    echo '{"op":"member_add","member":"i-1"}'                                       # 1
    echo '{"op":"member_add","member":"i-2"}'                                       # 2
    echo '{"op":"award","member":"i-1","ref":"order-1","amount":12999}'             # 3
    echo ''                                                                         # 4 skipped
    echo '{"op":"award","member":"i-1","ref":"order-1","amount":12999}'             # 5 duplicate
    echo '{"op":"award","member":"i-2","ref":"bonus-2","points":500,"reason":"welcome"}' # 6
    echo '{"op":"award","member":"i-2",'                                            # 7 bad JSON
    echo '{"op":"teleport","member":"i-1"}'                                         # 8 unknown op
    echo '{"op":"award","member":"i-1","ref":"order-9","amount":100,"colour":"red"}' # 9 unknown field
    echo '{"op":"award","member":"ghost","ref":"order-10","points":5}'              # 10 unknown member
    echo '{"op":"redeem","member":"i-1","ref":"spend-11","points":100000}'          # 11 insufficient
    echo '{"op":"redeem","member":"i-2","ref":"spend-12","points":200}'             # 12
    echo '{"op":"award","member":"i-1","ref":"order-1","amount":99}'                # 13 conflict
    echo '{"op":"hold","member":"i-2","ref":"hold-14","points":50}'                 # 14
    echo '{"op":"refund","member":"i-1","ref":"refund-15","order":"order-1","amount":6000}' # 15
    echo '{"op":"adjust","member":"i-1","ref":"adj-16","points":5,"reason":"fix"}' # 16 not a till's
    echo '   '                                                                      # 17 skipped
    echo '[1,2]'                                                                    # 18 not an object
    echo "$long_line"                                                               # 19 too long
    printf '{"op":"member_add","member":"nul"}\0\n'                                 # 20 NUL byte
    printf '{"op":"member_add","member":"i-3"}\r\n'                                 # 21 CRLF
    printf '{"op":"award","member":"i-3","ref":"order-22","amount":2500}'           # 22 no newline
} >"$TMP/mixed.jsonl"
LINES="1,2,3,5,6,7,8,9,10,11,12,13,14,15,16,18,19,20,21,22"
FIRST="applied,applied,applied,replayed,applied,error,error,error,error,error,applied,error,applied,applied,error,error,error,error,applied,applied"
SECOND="replayed,replayed,replayed,replayed,replayed,error,error,error,error,error,replayed,error,replayed,replayed,error,error,error,error,replayed,replayed"
CODES="invalid_input,invalid_input,invalid_input,not_found,insufficient_points,conflict,not_permitted,invalid_input,invalid_input,invalid_input"
UNCHANGED_MEMBERS=(i-1 i-2 i-3)

audit_before=$(audit_lines)
expect_exit 2 "import with broken lines (exit 2: some lines are invalid input)" \
    loyalty --actor feeder import "$TMP/mixed.jsonl"
check_equal "one result per non-empty line, numbered, in order" "$LINES" "$(jq -r .line <<<"$OUT" | paste -sd,)"
check_equal "statuses" "$FIRST" "$(jq -r .status <<<"$OUT" | paste -sd,)"
check_equal "error codes" "$CODES" "$(jq -r 'select(.status == "error") | .code' <<<"$OUT" | paste -sd,)"
check_equal "every error has a message" 10 "$(jq -r 'select(.status == "error" and (.message | length) > 0) | .line' <<<"$OUT" | wc -l)"
check_equal "human summary on stderr" "imported: 20 lines, 9 applied, 1 replayed, 0 pending, 10 errors" "$ERR"
check_equal "one audit entry per applied line" $((audit_before + 9)) "$(audit_lines)"
first_out=$OUT
line() { jq -c "select(.line == $1)" <<<"$first_out"; }
check_equal "an award's result" '{"line":3,"status":"applied","tx":1,"points":129,"balance":129}' "$(line 3)"
check_equal "the duplicate answers the same tx" '{"line":5,"status":"replayed","tx":1,"points":129,"balance":129}' "$(line 5)"
check_equal "member_add has no figures" '{"line":1,"status":"applied"}' "$(line 1)"
check_equal "a hold: no transaction" '{"line":14,"status":"applied","tx":null,"points":0,"balance":300}' "$(line 14)"
check_equal "a refund" '{"line":15,"status":"applied","tx":4,"points":-59,"balance":70}' "$(line 15)"
check_contains "bad JSON is explained" "not valid JSON" "$(line 7)"
check_contains "the unknown op is named" "teleport" "$(line 8)"
check_contains "the unknown field is named" "colour" "$(line 9)"
check_contains "the over-long line" "longer than 4096 bytes" "$(line 19)"
check_contains "the NUL byte" "NUL" "$(line 20)"
check_contains "the role" "may not adjust" "$(line 16)"
expect_exit 0 "balances after the import" loyalty --json balance i-2
check_field "i-2" '[.balance, .available, .held] | join(",")' "300,250,50"
check_invariants "first import" i-1 i-2 i-3

# --- run twice: every applied line answers replayed, nothing changes ------------------------------
expect_unchanged 2 "the same file again" loyalty --actor feeder import "$TMP/mixed.jsonl"
check_equal "statuses of the second run" "$SECOND" "$(jq -r .status <<<"$OUT" | paste -sd,)"
check_equal "the same figures" "$(jq -c 'select(.status != "error") | [.line, .tx, .points]' <<<"$first_out" | grep -v '^\[5,' | paste -sd,)" \
    "$(jq -c 'select(.status != "error") | [.line, .tx, .points]' <<<"$OUT" | grep -v '^\[5,' | paste -sd,)"
check_equal "the same errors" "$CODES" "$(jq -r 'select(.status == "error") | .code' <<<"$OUT" | paste -sd,)"
check_equal "second summary" "imported: 20 lines, 0 applied, 10 replayed, 0 pending, 10 errors" "$ERR"
second_out=$OUT

# --- --results, standard input, --json, --batch ------------------------------------------------------
expect_unchanged 2 "--results FILE" loyalty --actor feeder import "$TMP/mixed.jsonl" --results "$TMP/results.jsonl"
check_equal "nothing on stdout" "" "$OUT"
check_equal "the results are in the file" "$second_out" "$(cat "$TMP/results.jsonl")"
check_contains "the summary on stderr" "imported: 20 lines" "$ERR"
expect_unchanged 2 "standard input" loyalty_input "$TMP/mixed.jsonl" --actor feeder import -
check_equal "stdin gives the same results" "$second_out" "$OUT"
expect_unchanged 2 "--json" loyalty --json --actor feeder import "$TMP/mixed.jsonl"
check_equal "the results, then the summary" "$second_out" "$(head -n -1 <<<"$OUT")"
check_equal "the summary is the last line" \
    '{"summary":{"lines":20,"applied":0,"replayed":10,"pending_approval":0,"errors":10}}' "$(tail -n 1 <<<"$OUT")"
check_equal "--json: nothing on stderr" "" "$ERR"
expect_unchanged 2 "--json with --results" loyalty --json --actor feeder import "$TMP/mixed.jsonl" \
    --results "$TMP/results2.jsonl"
check_equal "only the summary on stdout" 1 "$(wc -l <<<"$OUT")"
check_field "summary" '.summary.lines' 20
check_equal "the file holds the results" "$second_out" "$(cat "$TMP/results2.jsonl")"
for batch in 1 3 10000; do
    expect_unchanged 2 "--batch $batch" loyalty --actor feeder import "$TMP/mixed.jsonl" --batch "$batch"
    check_equal "--batch $batch gives the same results" "$second_out" "$OUT"
done
for bad in 0 10001 -5 abc ""; do
    expect_unchanged 2 "--batch '$bad'" loyalty --actor feeder import "$TMP/mixed.jsonl" --batch "$bad"
done
expect_unchanged 2 "a missing file" loyalty --actor feeder import "$TMP/nothing.jsonl"
check_error_line "missing file"
expect_unchanged 2 "no file" loyalty --actor feeder import
expect_unchanged 2 "an unwritable results file" loyalty --actor feeder import "$TMP/mixed.jsonl" \
    --results "$TMP/no/such/dir/r.jsonl"
# --results never writes over the ledger's own files or the file being read.
cp "$TMP/mixed.jsonl" "$TMP/input-copy.jsonl"
ln -s "$DB" "$TMP/db-link"
ledger_files_sum() { sha256sum "$DB" "$DB.key" "$TMP/input-copy.jsonl"; }
files_before=$(ledger_files_sum)
for target in "$DB" "$DB.key" "$DB-wal" "$DB-shm" "$DB-journal" "$TMP/db-link" \
    "$TMP/input-copy.jsonl" "$TMP/./input-copy.jsonl" "$DB.key.0123456789abcdef"; do
    expect_unchanged 2 "--results ${target#"$TMP"/}" \
        loyalty --actor feeder import "$TMP/input-copy.jsonl" --results "$target"
    check_error_line "--results ${target#"$TMP"/}"
    check_contains "--results ${target#"$TMP"/}: says why" "refusing to write over it" "$ERR"
done
expect_unchanged 2 "--results naming the file on standard input" \
    loyalty_input "$TMP/input-copy.jsonl" --actor feeder import - --results "$TMP/input-copy.jsonl"
check_equal "the database, the key and the input are untouched" "$files_before" "$(ledger_files_sum)"
check_true "no kept-key name was created" test ! -e "$DB.key.0123456789abcdef"
expect_exit 0 "the ledger still verifies" loyalty verify
expect_exit 3 "no ledger" loyalty_bare --db "$TMP/none.db" import "$TMP/mixed.jsonl"
check_true "no ledger is created" test ! -e "$TMP/none.db"

# --- exit codes ---------------------------------------------------------------------------------------
printf '{"op":"award","member":"i-1","ref":"order-30","points":10}\n' >"$TMP/good.jsonl"
expect_exit 0 "every line applied: exit 0" loyalty --actor feeder import "$TMP/good.jsonl"
expect_unchanged 0 "every line replayed: exit 0" loyalty --actor feeder import "$TMP/good.jsonl"
check_equal "replayed" '{"line":1,"status":"replayed","tx":6,"points":10,"balance":80}' "$OUT"
printf '\n\n' >"$TMP/empty.jsonl"
expect_unchanged 0 "only empty lines" loyalty --json --actor feeder import "$TMP/empty.jsonl"
check_equal "nothing imported" '{"summary":{"lines":0,"applied":0,"replayed":0,"pending_approval":0,"errors":0}}' "$OUT"
printf '%s\n' '{"op":"award","member":"ghost","ref":"g-1","points":1}' \
    '{"op":"redeem","member":"i-1","ref":"r-1","points":1000000}' >"$TMP/notfound.jsonl"
expect_unchanged 3 "no invalid line: the first failure's exit code (not found)" \
    loyalty --actor feeder import "$TMP/notfound.jsonl"
printf '%s\n' '{"op":"redeem","member":"i-1","ref":"r-1","points":1000000}' \
    '{"op":"award","member":"ghost","ref":"g-1","points":1}' >"$TMP/insufficient.jsonl"
expect_unchanged 4 "no invalid line: the first failure's exit code (insufficient)" \
    loyalty --actor feeder import "$TMP/insufficient.jsonl"
expect_unchanged 6 "an unknown operator: every line refused" loyalty --actor ghost import "$TMP/good.jsonl"
check_equal "refused line" "not_permitted" "$(jq -r .code <<<"$OUT")"

# --- pending approvals --------------------------------------------------------------------------------
printf '%s\n' '{"op":"adjust","member":"i-2","ref":"mig-1","points":5000,"reason":"migration","note":"old system"}' \
    '{"op":"adjust","member":"i-2","ref":"mig-2","points":10,"reason":"migration"}' >"$TMP/adjust.jsonl"
expect_exit 0 "support imports corrections" loyalty --json --actor backoffice import "$TMP/adjust.jsonl"
approval=$(head -n 1 <<<"$OUT" | jq -r .approval)
check_equal "the large one waits" "{\"line\":1,\"status\":\"pending_approval\",\"approval\":$approval,\"replayed\":false}" \
    "$(head -n 1 <<<"$OUT")"
check_equal "the small one applies" "applied:10" "$(sed -n 2p <<<"$OUT" | jq -r '"\(.status):\(.points)"')"
check_equal "summary" '{"summary":{"lines":2,"applied":1,"replayed":0,"pending_approval":1,"errors":0}}' \
    "$(tail -n 1 <<<"$OUT")"
expect_exit 0 "approvals lists it" loyalty --json approvals
check_field "pending from the import" '[.approvals[] | "\(.id):\(.ref):\(.requested_by)"] | join(",")' \
    "$approval:mig-1:backoffice"
expect_unchanged 0 "re-import: the request answers again" loyalty --json --actor backoffice import "$TMP/adjust.jsonl"
check_equal "replayed request" "{\"line\":1,\"status\":\"pending_approval\",\"approval\":$approval,\"replayed\":true}" \
    "$(head -n 1 <<<"$OUT")"
check_invariants "pending approvals" i-1 i-2 i-3

# --- a failure of a whole batch stops the import ----------------------------------------------------------
printf '%s\n' '{"op":"award","member":"i-1","ref":"kb-1","points":1}' \
    '{"op":"award","member":"i-1","ref":"kb-2","points":1}' \
    '{"op":"award","member":"i-1","ref":"kb-3","points":1}' >"$TMP/keyfail.jsonl"
chmod 0644 "$DB.key"
expect_unchanged 6 "an insecure key file fails the batch" loyalty --json --actor feeder import "$TMP/keyfail.jsonl" --batch 2
chmod 0600 "$DB.key"
check_equal "the batch's lines are reported as errors" "1:error:key_error,2:error:key_error" \
    "$(head -n -1 <<<"$OUT" | jq -r '"\(.line):\(.status):\(.code)"' | paste -sd,)"
check_equal "and the import stopped" '{"summary":{"lines":2,"applied":0,"replayed":0,"pending_approval":0,"errors":2}}' \
    "$(tail -n 1 <<<"$OUT")"
check_equal "the failure on stderr" key_error "$(jq -r .error.code <<<"$ERR")"

# --- the progress bar: on a terminal only ---------------------------------------------------------------
if command -v script >/dev/null 2>&1; then
    terminal=$(script -qec "'$LOYALTY_BIN' --db '$DB' --actor feeder --json import '$TMP/good.jsonl'" /dev/null </dev/null)
    check_equal "import on a terminal exits 0" 0 "$?"
    check_contains "a progress bar on the terminal" $'\rimport [' "$terminal"
    check_contains "the summary follows" '"replayed":1' "$terminal"
else
    echo "import: 'script' is missing; progress bar on a terminal not checked" >&2
fi

# --- an order feed ----------------------------------------------------------------------------------------
awk -v n="$FEED_MEMBERS" 'BEGIN { for (m = 1; m <= n; m++) printf "{\"op\":\"member_add\",\"member\":\"c-%d\"}\n", m }' \
    >"$TMP/members.jsonl"
awk -v lines="$FEED_LINES" -v n="$FEED_MEMBERS" 'BEGIN {
    for (i = 1; i <= lines; i++)
        printf "{\"op\":\"award\",\"member\":\"c-%d\",\"ref\":\"feed-%d\",\"amount\":%d}\n", (i % n) + 1, i, 1000 + (i % 9000)
}' >"$TMP/feed.jsonl"
expect_exit 0 "the feed's members" loyalty --json --actor feeder import "$TMP/members.jsonl"
check_equal "members" "{\"summary\":{\"lines\":$FEED_MEMBERS,\"applied\":$FEED_MEMBERS,\"replayed\":0,\"pending_approval\":0,\"errors\":0}}" \
    "$(tail -n 1 <<<"$OUT")"
expected_points=$(awk -v lines="$FEED_LINES" 'BEGIN { s = 0; for (i = 1; i <= lines; i++) s += int((1000 + (i % 9000)) / 100); print s }')
outstanding_before=$(loyalty --json stats | jq .outstanding)
# elapsed_ms START_NS: milliseconds since START_NS (at least 1).
elapsed_ms() { local ms=$((($(date +%s%N) - $1) / 1000000)); echo $((ms > 0 ? ms : 1)); }
start=$(date +%s%N)
expect_exit 0 "import $FEED_LINES awards" loyalty --json --actor feeder import "$TMP/feed.jsonl" --results "$TMP/feed-results.jsonl"
ms=$(elapsed_ms "$start")
echo "import: $FEED_LINES award lines in ${ms} ms ($((FEED_LINES * 1000 / ms)) lines/s)"
check_equal "all applied" "{\"summary\":{\"lines\":$FEED_LINES,\"applied\":$FEED_LINES,\"replayed\":0,\"pending_approval\":0,\"errors\":0}}" "$OUT"
check_equal "one result per line" "$FEED_LINES" "$(wc -l <"$TMP/feed-results.jsonl")"
check_equal "results in order" "$(seq 1 "$FEED_LINES" | paste -sd,)" "$(jq -r .line "$TMP/feed-results.jsonl" | paste -sd,)"
check_equal "every point counted" $((outstanding_before + expected_points)) "$(loyalty --json stats | jq .outstanding)"
before=$(fingerprint c-1 c-2)
start=$(date +%s%N)
expect_exit 0 "re-import the feed" loyalty --json --actor feeder import "$TMP/feed.jsonl" --results "$TMP/feed-results2.jsonl"
ms=$(elapsed_ms "$start")
saved_out=$OUT
check_equal "re-import changed nothing" "$before" "$(fingerprint c-1 c-2)"
OUT=$saved_out
echo "import: re-import of $FEED_LINES lines (all replayed) in ${ms} ms ($((FEED_LINES * 1000 / ms)) lines/s)"
check_equal "all replayed" "{\"summary\":{\"lines\":$FEED_LINES,\"applied\":0,\"replayed\":$FEED_LINES,\"pending_approval\":0,\"errors\":0}}" "$OUT"
check_equal "the replays answer the same transactions" \
    "$(jq -r .tx "$TMP/feed-results.jsonl" | sha256sum)" "$(jq -r .tx "$TMP/feed-results2.jsonl" | sha256sum)"
check_invariants "order feed" c-1 c-500 "c-$FEED_MEMBERS"

# --- usage ------------------------------------------------------------------------------------------------
expect_exit 0 "import --help" loyalty import --help
check_contains "import help" "usage: loyalty import FILE" "$OUT"
check_contains "import help documents the exit codes" "Exit 0 when no line failed" "$OUT"

e2e_end
