# lib.bash - helpers shared by the end-to-end tests in tests/e2e/*.sh.
#
# Each test sources this file, calls e2e_begin NAME, runs assertions, and ends
# with e2e_end, which prints "e2e-NAME: P passed, F failed" and exits non-zero
# when anything failed. Every test works in its own temporary directory on
# its own database ($DB) and removes it on exit.
#
# Environment:
#   LOYALTY_BIN      absolute path of the built `loyalty` (required)
#   LOYALTY_WRAPPER  optional command to run it under, e.g.
#                    "valgrind -q --leak-check=full --error-exitcode=99"

set -u -o pipefail

if [[ -z "${LOYALTY_BIN:-}" || ! -x "$LOYALTY_BIN" ]]; then
    echo "LOYALTY_BIN must name the built loyalty binary (got '${LOYALTY_BIN:-}')" >&2
    exit 2
fi
if ! command -v jq >/dev/null 2>&1; then
    echo "these tests need jq" >&2
    exit 2
fi

E2E_NAME=""
E2E_PASSED=0
E2E_FAILED=0
RC=0       # exit code of the last `run`
OUT=""     # its stdout
ERR=""     # its stderr

# e2e_begin NAME: a fresh temporary directory ($TMP) and database path ($DB).
e2e_begin() {
    E2E_NAME=$1
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/loyalty-e2e-$1.XXXXXX") || exit 2
    trap 'rm -rf "$TMP"' EXIT
    DB="$TMP/l.db"
    unset LOYALTY_DB LOYALTY_KEY LOYALTY_NOW
    export LOYALTY_ACTOR="e2e-tester"
}

# e2e_end: the summary line; exit 1 when any assertion failed.
e2e_end() {
    echo "e2e-$E2E_NAME: $E2E_PASSED passed, $E2E_FAILED failed"
    [[ $E2E_FAILED -eq 0 ]] || exit 1
    exit 0
}

pass() { E2E_PASSED=$((E2E_PASSED + 1)); }

# fail MESSAGE: records a failed assertion and says which, with the last run's output.
fail() {
    E2E_FAILED=$((E2E_FAILED + 1))
    {
        echo "FAIL [$E2E_NAME]: $1"
        [[ -n "$OUT" ]] && echo "  stdout: ${OUT:0:600}"
        [[ -n "$ERR" ]] && echo "  stderr: ${ERR:0:600}"
    } >&2
}

# loyalty ARGS...: the CLI on this test's database.
loyalty() {
    ${LOYALTY_WRAPPER:-} "$LOYALTY_BIN" --db "$DB" "$@"
}

# loyalty_bare ARGS...: the CLI with no --db.
loyalty_bare() {
    ${LOYALTY_WRAPPER:-} "$LOYALTY_BIN" "$@"
}

# loyalty_input FILE ARGS...: the CLI on this test's database, reading FILE on stdin.
loyalty_input() {
    local input=$1
    shift
    loyalty "$@" <"$input"
}

# run COMMAND...: runs it, keeping RC, OUT and ERR.
run() {
    "$@" >"$TMP/.out" 2>"$TMP/.err" </dev/null
    RC=$?
    OUT=$(cat "$TMP/.out")
    ERR=$(cat "$TMP/.err")
}

# expect_exit CODE WHAT COMMAND...: runs it and checks its exit code.
expect_exit() {
    local code=$1 what=$2
    shift 2
    run "$@"
    if [[ "$RC" == "$code" ]]; then
        pass
        return 0
    fi
    fail "$what: expected exit $code, got $RC"
    return 1
}

# check_equal WHAT EXPECTED ACTUAL
check_equal() {
    if [[ "$2" == "$3" ]]; then
        pass
        return 0
    fi
    fail "$1: expected '$2', got '$3'"
    return 1
}

# check_true WHAT COMMAND...: passes when the command succeeds.
check_true() {
    local what=$1
    shift
    if "$@"; then
        pass
        return 0
    fi
    fail "$what"
    return 1
}

# check_match WHAT REGEX VALUE: VALUE matches the extended regular expression.
check_match() {
    if [[ "$3" =~ $2 ]]; then
        pass
        return 0
    fi
    fail "$1: '$3' does not match $2"
    return 1
}

# check_line WHAT REGEX: some line of the last run's stdout matches (grep -E).
check_line() {
    if grep -Eq -- "$2" <<<"$OUT"; then
        pass
        return 0
    fi
    fail "$1: no line matches $2"
    return 1
}

# field FILTER: a jq filter applied to the last run's stdout (raw output).
field() {
    jq -r "$1" <<<"$OUT"
}

# check_field WHAT FILTER EXPECTED: a field of the last run's JSON output.
check_field() {
    local actual
    actual=$(jq -r "$2" <<<"$OUT" 2>/dev/null) || actual="<not JSON: $OUT>"
    check_equal "$1 ($2)" "$3" "$actual"
}

# check_one_json WHAT: stdout is exactly one JSON object.
check_one_json() {
    local count
    count=$(jq -s 'map(select(type == "object")) | length' <<<"$OUT" 2>/dev/null) || count="invalid"
    check_equal "$1: stdout is one JSON object" "1" "$count"
}

# check_error_line WHAT: stderr is one line "loyalty: ...".
check_error_line() {
    local lines
    lines=$(printf '%s\n' "$ERR" | wc -l)
    if [[ "$lines" -eq 1 && "$ERR" == "loyalty: "* ]]; then
        pass
    else
        fail "$1: stderr should be one 'loyalty: ...' line"
    fi
}

# check_contains WHAT NEEDLE HAYSTACK
check_contains() {
    if [[ "$3" == *"$2"* ]]; then
        pass
        return 0
    fi
    fail "$1: '$2' not found"
    return 1
}

# fingerprint [MEMBER...]: the whole observable state: stats, the audit log, balances.
fingerprint() {
    local member
    loyalty --json stats 2>&1
    loyalty audit export 2>&1 | sha256sum
    loyalty audit export 2>/dev/null | wc -l
    for member in "$@"; do
        loyalty --json balance "$member" 2>&1
    done
}

# expect_unchanged CODE WHAT COMMAND...: exits with CODE and changes nothing.
# The members whose balances are compared are in the UNCHANGED_MEMBERS array.
UNCHANGED_MEMBERS=()
expect_unchanged() {
    local code=$1 what=$2 before after
    shift 2
    before=$(fingerprint "${UNCHANGED_MEMBERS[@]}")
    expect_exit "$code" "$what" "$@"
    local saved_rc=$RC saved_out=$OUT saved_err=$ERR
    after=$(fingerprint "${UNCHANGED_MEMBERS[@]}")
    RC=$saved_rc OUT=$saved_out ERR=$saved_err
    check_equal "$what: ledger unchanged" "$before" "$after"
}

# add_operator NAME ROLE: registers an operator, acting as the ledger's first admin
# ($LOYALTY_ACTOR, whom init registered).
add_operator() {
    expect_exit 0 "operator add $1 --role $2" loyalty operator add "$1" --role "$2"
}

# audit_lines: how many entries the audit log holds.
audit_lines() {
    loyalty audit export | wc -l
}

# audit_points MEMBER: the sum of the signed `points` of the audit payloads that name MEMBER.
audit_points() {
    loyalty audit export | jq -s --arg member "$1" \
        '[.[] | .payload | fromjson | select(.member == $member) | .points // 0] | add // 0'
}

# check_invariants WHAT MEMBER...: the ledger verifies (exit 0, ok: true); the stats add
# up (outstanding = issued - redeemed - expired - clawed_back - forfeited + adjusted +
# reversed, and = the sum of every audited points delta); and each MEMBER's balance is the
# sum of the points of the audit entries naming them. Keeps RC, OUT and ERR.
check_invariants() {
    local what=$1 member balance audited
    shift
    local saved_rc=$RC saved_out=$OUT saved_err=$ERR
    run loyalty --json verify
    check_equal "$what: verify exits 0" 0 "$RC"
    check_field "$what: verify" '.ok' true
    run loyalty --json stats
    check_field "$what: stats add up" \
        '.outstanding == .issued - .redeemed - .expired - .clawed_back - .forfeited + .adjusted + .reversed' true
    audited=$(loyalty audit export | jq -s '[.[] | .payload | fromjson | select(has("member")) | .points // 0] | add // 0')
    check_field "$what: outstanding is the sum of the audited deltas" '.outstanding' "$audited"
    for member in "$@"; do
        balance=$(loyalty --json balance "$member" | jq -r .balance)
        audited=$(audit_points "$member")
        check_equal "$what: balance of $member is the sum of its audited deltas" "$audited" "$balance"
    done
    RC=$saved_rc OUT=$saved_out ERR=$saved_err
}
