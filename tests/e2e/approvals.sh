#!/usr/bin/env bash
# approvals.sh - four-eyes approval of large corrections through the CLI,
# under a program with approval_threshold 1000: a support person's +5000 is
# recorded as pending (balance unchanged) and listed; a retry answers the
# request; self-approval, approval by a checkout, a support person or an
# auditor are refused (exit 6, nothing changes); a supervisor's approval
# applies it (the journal entry names the approver); approving again or a
# rejected request is a wrong state (exit 5); rejection and withdrawal; a
# debit that can no longer be covered (exit 4). Every step's audit entry
# names its actor, and verify passes.
source "$(dirname "$0")/lib.bash"
e2e_begin approvals

printf '{"approval_threshold": 1000}\n' >"$TMP/program.json"
export LOYALTY_NOW="2026-09-01T10:00:00Z"
expect_exit 0 "init" loyalty init --program "$TMP/program.json"
add_operator sam support
add_operator sue support
add_operator cat checkout
add_operator aud auditor
add_operator vic supervisor
add_operator ada admin
expect_exit 0 "member m-1" loyalty member add m-1
expect_exit 0 "m-1 earns 3000" loyalty award m-1 --ref seed-1 --points 3000
UNCHANGED_MEMBERS=(m-1)

# --- at and below the threshold: applied at once ------------------------------------------
expect_exit 0 "adjust of exactly the threshold" loyalty --json --actor sam adjust m-1 --ref small-1 \
    --points 1000 --reason goodwill
check_one_json "adjust"
check_field "applied at once" '[.status, .points, .balance, (.tx | type), has("approval")] | join(",")' \
    "applied,1000,4000,number,false"
expect_exit 0 "a debit of exactly the threshold" loyalty --json --actor sam adjust m-1 --ref small-2 \
    --points -1000 --reason correction
check_field "applied at once" '[.status, .points, .balance] | join(",")' "applied,-1000,3000"

# --- above it: pending ------------------------------------------------------------------------
audit_before=$(audit_lines)
expect_exit 0 "support asks for +5000" loyalty --json --actor sam adjust m-1 --ref big-1 --points +5000 \
    --reason migration --note "old card system"
check_one_json "pending adjust"
check_field "pending" '[.status, .replayed, .points, .balance, .available] | join(",")' \
    "pending_approval,false,0,3000,3000"
check_field "no transaction yet" '.tx' null
check_field "an approval id" '.approval | type' number
big1=$(field .approval)
check_equal "the request is one audit entry" $((audit_before + 1)) "$(audit_lines)"
check_equal "adjust_request by sam" "adjust_request:sam:m-1:0" \
    "$(loyalty audit export | tail -n 1 | jq -r '"\(.action):\(.actor):\(.payload | fromjson | .member):\(.payload | fromjson | .points // 0)"')"
expect_exit 0 "balance unchanged" loyalty --json balance m-1
check_field "balance unchanged" '[.balance, .available] | join(",")' "3000,3000"
expect_exit 0 "no journal entry yet" loyalty --json history m-1
check_field "history has no big-1" '[.entries[] | select(.ref == "big-1")] | length' 0
expect_exit 0 "pending adjust (text)" loyalty --actor sam adjust m-1 --ref big-1 --points +5000 \
    --reason migration --note "old card system"
check_line "text status" '^status: +pending_approval$'
check_line "text approval" "^approval: +$big1\$"

expect_unchanged 0 "a retry answers the request" loyalty --json --actor sam adjust m-1 --ref big-1 \
    --points +5000 --reason migration --note "old card system"
check_field "replayed request" '[.status, .replayed, .approval] | join(",")' "pending_approval,true,$big1"
expect_unchanged 5 "the same ref with other points" loyalty --actor sam adjust m-1 --ref big-1 \
    --points +6000 --reason migration --note "old card system"
expect_exit 0 "a debit above the threshold is pending too" loyalty --json --actor sue adjust m-1 \
    --ref big-2 --points -1001 --reason correction
check_field "debit pending" '.status' pending_approval
big2=$(field .approval)

expect_exit 0 "approvals" loyalty --json approvals
check_one_json "approvals"
check_field "two pending, oldest first" '[.approvals[].id] | join(",")' "$big1,$big2"
check_field "the request's fields" \
    ".approvals[0] | [.id, .member, .ref, .points, .reason, .note, .status, .requested_by, .requested, (.decided_by | tostring)] | join(\",\")" \
    "$big1,m-1,big-1,5000,migration,old card system,pending,sam,2026-09-01T10:00:00Z,null"
check_field "no note is null" '.approvals[1].note' null
expect_exit 0 "approvals (text)" loyalty approvals
check_line "text heading" '^ID +MEMBER +REF +POINTS +REASON +STATUS +REQUESTED +REQUESTED_BY +DECIDED_BY +NOTE$'
check_line "text row" "^ +$big1 +m-1 +big-1 +5000 +migration +pending +2026-09-01T10:00:00Z +sam +- +old card system\$"
expect_exit 0 "every role reads the approvals" loyalty --json --actor cat approvals
check_field "a checkout sees them" '.approvals | length' 2

# --- who may approve ---------------------------------------------------------------------------
expect_unchanged 6 "support cannot approve its own request" loyalty --actor sam approve "$big1"
expect_unchanged 6 "another support person cannot approve" loyalty --actor sue approve "$big1"
expect_unchanged 6 "a checkout cannot approve" loyalty --json --actor cat approve "$big1"
check_equal "not permitted" not_permitted "$(jq -r .error.code <<<"$ERR")"
expect_unchanged 6 "an auditor cannot approve" loyalty --actor aud approve "$big1"
expect_unchanged 6 "an unknown operator cannot approve" loyalty --actor ghost approve "$big1"
expect_exit 0 "a supervisor asks for +2000" loyalty --json --actor vic adjust m-1 --ref big-3 \
    --points 2000 --reason goodwill
big3=$(field .approval)
expect_unchanged 6 "a supervisor cannot approve their own request" loyalty --actor vic approve "$big3"
check_contains "self-approval is named" "cannot approve" "$ERR"
expect_unchanged 3 "approve an unknown request" loyalty --actor vic approve 999
for bad in 0 -1 abc ""; do
    expect_unchanged 2 "approve '$bad'" loyalty --actor vic approve "$bad"
done

audit_before=$(audit_lines)
expect_exit 0 "the supervisor approves" loyalty --json --actor vic approve "$big1"
check_one_json "approve"
check_field "applied" '[.status, .member, .points, .replayed, .balance, .available] | join(",")' \
    "applied,m-1,5000,false,8000,8000"
big1_tx=$(field .tx)
check_true "approve has a transaction" test "$big1_tx" -gt 0
check_equal "the approval is one audit entry" $((audit_before + 1)) "$(audit_lines)"
check_equal "approve by vic, with the points" "approve:vic:m-1:5000" \
    "$(loyalty audit export | tail -n 1 | jq -r '"\(.action):\(.actor):\(.payload | fromjson | .member):\(.payload | fromjson | .points)"')"
expect_exit 0 "history" loyalty --json history m-1
check_field "the adjust entry names the approver" \
    ".entries[] | select(.tx == $big1_tx) | [.kind, .ref, .points, .actor, .reason, .note] | join(\",\")" \
    "adjust,big-1,5000,vic,migration,old card system"
expect_exit 0 "balance after the approval" loyalty --json balance m-1
check_field "balance changed" '[.balance, .available] | join(",")' "8000,8000"

expect_unchanged 5 "approving again" loyalty --actor vic approve "$big1"
check_contains "already approved" "approved" "$ERR"
expect_unchanged 5 "approving again as admin" loyalty --actor ada approve "$big1"
expect_unchanged 0 "a retried adjust answers the posting" loyalty --json --actor sam adjust m-1 --ref big-1 \
    --points +5000 --reason migration --note "old card system"
check_field "retry after approval" '[.status, .replayed, .tx, .points] | join(",")' "applied,true,$big1_tx,5000"
expect_exit 0 "an admin approves the supervisor's request" loyalty --json --actor ada approve "$big3"
check_field "admin approval" '[.status, .points, .balance] | join(",")' "applied,2000,10000"

# --- reject and withdraw ----------------------------------------------------------------------
expect_unchanged 6 "a checkout cannot reject" loyalty --actor cat reject "$big2" --reason no
expect_unchanged 6 "another support person cannot reject" loyalty --actor sam reject "$big2" --reason no
expect_unchanged 2 "reject needs --reason" loyalty --actor vic reject "$big2"
expect_unchanged 2 "reject with a bad reason code" loyalty --actor vic reject "$big2" --reason "not a code"
audit_before=$(audit_lines)
expect_exit 0 "the supervisor rejects" loyalty --json --actor vic reject "$big2" --reason not-justified
check_one_json "reject"
check_field "rejected" '[.approval, .status] | join(",")' "$big2,rejected"
check_equal "reject by vic" "reject:vic:$big2:not-justified" \
    "$(loyalty audit export | tail -n 1 | jq -r '"\(.action):\(.actor):\(.payload | fromjson | .approval):\(.payload | fromjson | .reason)"')"
check_equal "the rejection is one audit entry" $((audit_before + 1)) "$(audit_lines)"
expect_unchanged 5 "approve a rejected request" loyalty --actor vic approve "$big2"
check_contains "already rejected" "rejected" "$ERR"
expect_unchanged 5 "reject it again" loyalty --actor vic reject "$big2" --reason again
expect_unchanged 5 "retry the rejected adjust" loyalty --actor sue adjust m-1 --ref big-2 --points -1001 \
    --reason correction
expect_exit 0 "balance after the rejection" loyalty --json balance m-1
check_field "nothing applied" '.balance' 10000

expect_exit 0 "support asks for another" loyalty --json --actor sam adjust m-1 --ref big-4 --points 4000 \
    --reason goodwill
big4=$(field .approval)
expect_exit 0 "the requester withdraws their own" loyalty --json --actor sam reject "$big4" --reason withdrawn
check_field "withdrawn" '.status' rejected

# --- a debit that can no longer be covered ------------------------------------------------------
expect_exit 0 "support asks for -9500" loyalty --json --actor sam adjust m-1 --ref big-5 --points -9500 \
    --reason correction
big5=$(field .approval)
expect_exit 0 "m-1 spends meanwhile" loyalty --actor cat redeem m-1 --ref spend-1 --points 1000
expect_unchanged 4 "the debit is no longer covered" loyalty --actor vic approve "$big5"
expect_exit 0 "approvals still lists it" loyalty --json approvals
check_field "pending" '[.approvals[] | "\(.id):\(.status)"] | join(",")' "$big5:pending"

# --- the record ---------------------------------------------------------------------------------
expect_exit 0 "approvals --all" loyalty --json approvals --all
check_field "every request with its decision" \
    '[.approvals[] | "\(.ref):\(.status):\(.requested_by):\(.decided_by // "-")"] | join(",")' \
    "big-1:approved:sam:vic,big-2:rejected:sue:vic,big-3:approved:vic:ada,big-4:rejected:sam:sam,big-5:pending:sam:-"
expect_unchanged 2 "--all takes no value" loyalty approvals --all=yes
expect_unchanged 2 "approvals takes no argument" loyalty approvals pending
check_equal "each step names its actor" \
    "adjust:sam,adjust:sam,adjust_request:sam,adjust_request:sue,adjust_request:vic,approve:vic,approve:ada,reject:vic,adjust_request:sam,reject:sam,adjust_request:sam,redeem:cat" \
    "$(loyalty audit export | jq -r 'select(.action | test("adjust|approve|reject|redeem")) | "\(.action):\(.actor)"' | paste -sd,)"
check_invariants "approvals" m-1

for words in approvals approve reject adjust; do
    expect_exit 0 "$words --help" loyalty "$words" --help
    check_contains "$words help" "usage: loyalty $words" "$OUT"
done
check_contains "adjust --help explains approvals" "pending_approval" "$OUT"

e2e_end
