#!/usr/bin/env bash
# errors.sh - bad input through the CLI: each case must exit with the
# documented code, print a one-line error, and change nothing. Numbers,
# ids, unknown members and commands, missing or broken databases, reused
# references, key file permissions, LOYALTY_NOW, --help and --version.
source "$(dirname "$0")/lib.bash"
e2e_begin errors

# --- no ledger yet -------------------------------------------------------------------
missing="$TMP/missing.db"
expect_exit 3 "balance on a missing database" loyalty_bare --db "$missing" balance m-1
check_error_line "missing database"
expect_exit 3 "award on a missing database" loyalty_bare --db "$missing" award m-1 --ref r --points 1
check_true "a missing database is not created" test ! -e "$missing"
check_true "no key file is created either" test ! -e "$missing.key"
check_true "no WAL file is created either" test ! -e "$missing-wal"

mkdir "$TMP/dir.db"
run loyalty_bare --db "$TMP/dir.db" balance m-1
check_true "a directory as database fails (exit $RC)" test "$RC" != 0
head -c 4096 /dev/urandom >"$TMP/garbage.db"
garbage_sum=$(sha256sum <"$TMP/garbage.db")
run loyalty_bare --db "$TMP/garbage.db" balance m-1
check_true "a garbage file as database fails (exit $RC)" test "$RC" != 0
run loyalty_bare --db "$TMP/garbage.db" award m-1 --ref r --points 1
check_true "award on a garbage file fails (exit $RC)" test "$RC" != 0
check_equal "the garbage file is untouched" "$garbage_sum" "$(sha256sum <"$TMP/garbage.db")"
: >"$TMP/empty.db"
expect_exit 3 "an empty file is not a ledger" loyalty_bare --db "$TMP/empty.db" stats
check_equal "the empty file stays empty" 0 "$(stat -c %s "$TMP/empty.db")"

# --- a ledger with one member ---------------------------------------------------------
expect_exit 0 "init" loyalty init
add_operator form-tester checkout
expect_exit 0 "member add" loyalty member add m-1
expect_exit 0 "award" loyalty --json award m-1 --ref order-1 --points 100
award_tx=$(field .tx)
UNCHANGED_MEMBERS=(m-1)

# --- numbers -----------------------------------------------------------------------------
for bad in abc -5 0 -0 +0 99999999999999999999 -99999999999999999999 1e3 12.5 " 5" "5 " "" 0x10 5abc "--"; do
    expect_unchanged 2 "award --amount '$bad'" loyalty award m-1 --ref n-1 --amount "$bad"
    check_contains "award --amount '$bad' names the option" "--amount" "$ERR"
    expect_unchanged 2 "award --points '$bad'" loyalty award m-1 --ref n-2 --points "$bad"
    expect_unchanged 2 "redeem --points '$bad'" loyalty redeem m-1 --ref n-3 --points "$bad"
done
for bad in abc 0 -0 99999999999999999999 1.5 ""; do
    expect_unchanged 2 "adjust --points '$bad'" loyalty adjust m-1 --ref n-4 --points "$bad" --reason x
done
expect_unchanged 2 "amount above the library's bound" loyalty award m-1 --ref n-5 --amount 10000000000000000
expect_unchanged 2 "points above the library's bound" loyalty award m-1 --ref n-6 --points 1000000000001
expect_unchanged 2 "redeem above the library's bound" loyalty redeem m-1 --ref n-7 --points 1000000000001
expect_unchanged 2 "both --amount and --points" loyalty award m-1 --ref n-8 --amount 100 --points 1
expect_unchanged 2 "neither --amount nor --points" loyalty award m-1 --ref n-9
check_error_line "neither --amount nor --points"
expect_unchanged 2 "reverse a non-numeric tx" loyalty reverse abc --ref n-10 --reason x
expect_unchanged 2 "reverse tx 0" loyalty reverse 0 --ref n-11 --reason x
expect_unchanged 2 "history --limit 0" loyalty history m-1 --limit 0
expect_unchanged 2 "history --limit 1001" loyalty history m-1 --limit 1001
expect_unchanged 2 "history --before -1" loyalty history m-1 --before -1
expect_unchanged 2 "audit export --from 0" loyalty audit export --from 0

# --- ids and references ---------------------------------------------------------------------
long_id=$(printf 'a%.0s' {1..65})
ok_id=$(printf 'b%.0s' {1..64})
for bad in "$long_id" "has space" "a/b" "" "é" "semi;colon" 'quote"s' "new
line"; do
    expect_unchanged 2 "member add '$bad'" loyalty member add "$bad"
    expect_unchanged 2 "award to member '$bad'" loyalty award "$bad" --ref id-1 --points 1
    expect_unchanged 2 "award with ref '$bad'" loyalty award m-1 --ref "$bad" --points 1
done
expect_exit 0 "a 64-character id is fine" loyalty member add "$ok_id"
UNCHANGED_MEMBERS=(m-1 "$ok_id")
expect_unchanged 2 "adjust with a bad reason code" loyalty adjust m-1 --ref id-2 --points 5 --reason "not a code"
expect_unchanged 2 "a bad actor" loyalty --actor "bad actor!" award m-1 --ref id-3 --points 1

# --- unknown members and transactions ----------------------------------------------------------
expect_unchanged 3 "award to an unknown member" loyalty award nobody --ref u-1 --points 1
expect_unchanged 3 "redeem by an unknown member" loyalty redeem nobody --ref u-2 --points 1
expect_unchanged 3 "adjust an unknown member" loyalty adjust nobody --ref u-3 --points 1 --reason x
expect_unchanged 3 "balance of an unknown member" loyalty balance nobody
expect_unchanged 3 "member show of an unknown member" loyalty member show nobody
expect_unchanged 3 "history of an unknown member" loyalty history nobody
expect_unchanged 3 "reverse an unknown tx" loyalty reverse 424242 --ref u-4 --reason x

# --- references reused with other parameters ---------------------------------------------------
expect_unchanged 5 "award ref reused with other points" loyalty award m-1 --ref order-1 --points 101
expect_unchanged 5 "award ref reused as a purchase" loyalty award m-1 --ref order-1 --amount 10000
expect_exit 0 "member add m-2" loyalty member add m-2
UNCHANGED_MEMBERS=(m-1 m-2)
expect_unchanged 5 "award ref reused for another member" loyalty award m-2 --ref order-1 --points 100
expect_exit 0 "redeem" loyalty redeem m-1 --ref spend-1 --points 10
expect_unchanged 5 "redeem ref reused with other points" loyalty redeem m-1 --ref spend-1 --points 11
expect_exit 0 "adjust" loyalty --json adjust m-1 --ref adj-1 --points 5 --reason goodwill
adjust_tx=$(field .tx)
expect_unchanged 5 "adjust ref reused with other points" loyalty adjust m-1 --ref adj-1 --points -5 --reason goodwill
expect_exit 0 "reverse" loyalty reverse "$adjust_tx" --ref rev-1 --reason mistake
expect_unchanged 5 "reverse ref reused for another tx" loyalty --json reverse "$award_tx" --ref rev-1 --reason mistake
check_contains "conflict JSON error" '"code":"conflict"' "$ERR"

# --- usage errors ----------------------------------------------------------------------------
expect_unchanged 2 "unknown command" loyalty frobnicate
check_error_line "unknown command"
expect_unchanged 2 "unknown subcommand" loyalty member frobnicate m-1
expect_unchanged 2 "unknown option" loyalty award m-1 --ref o-1 --points 1 --bogus
check_contains "unknown option is named" "--bogus" "$ERR"
expect_unchanged 2 "unknown global option" loyalty --bogus stats
expect_unchanged 2 "missing --ref" loyalty award m-1 --points 1
check_contains "missing option is named" "--ref" "$ERR"
expect_unchanged 2 "missing member id" loyalty balance
expect_unchanged 2 "extra argument" loyalty balance m-1 m-2
# An echoed argument cannot break the one-line error or reach the terminal as a control sequence.
expect_unchanged 2 "extra argument with a newline and an escape" loyalty balance m-1 $'x\ny\e[2J'
check_error_line "newline in an echoed argument"
check_equal "no control byte reaches stderr" "" "$(tr -d '\n' <<<"$ERR" | tr -d '[:print:]')"
expect_unchanged 2 "unknown command with a newline" loyalty $'frob\nnicate'
check_error_line "newline in an unknown command"
expect_unchanged 2 "option without its value" loyalty award m-1 --points 1 --ref
expect_unchanged 2 "option given twice" loyalty award m-1 --ref o-2 --ref o-3 --points 1
expect_unchanged 2 "a group without subcommand" loyalty member
expect_exit 2 "no command at all" loyalty_bare
check_contains "no command prints the usage on stderr" "usage:" "$ERR"
check_equal "no command prints nothing on stdout" "" "$OUT"
expect_unchanged 2 "malformed LOYALTY_NOW" env LOYALTY_NOW=yesterday "$LOYALTY_BIN" --db "$DB" award m-1 --ref t-1 --points 1
for bad_now in 2026-13-01T00:00:00Z 2026-02-30T00:00:00Z 2026-11-25T12:00:00 2026-11-25T24:00:00Z \
    2026-11-25T12:00:00.1234567Z 2026-11-25T12:00:00+01:00 1969-12-31T23:59:59Z; do
    expect_exit 2 "LOYALTY_NOW=$bad_now" env LOYALTY_NOW="$bad_now" "$LOYALTY_BIN" --db "$DB" stats
done
expect_exit 0 "LOYALTY_NOW with fractional seconds" env LOYALTY_NOW=2026-11-25T12:00:00.5Z "$LOYALTY_BIN" --db "$DB" stats

# --- JSON errors --------------------------------------------------------------------------
expect_unchanged 3 "JSON error" loyalty balance nobody --json
check_equal "JSON error on stderr" "not_found" "$(jq -r .error.code <<<"$ERR")"
check_true "JSON error has a message" test -n "$(jq -r .error.message <<<"$ERR")"
check_equal "nothing on stdout on error" "" "$OUT"
expect_exit 2 "JSON usage error" loyalty --json award m-1 --bogus
check_equal "JSON usage error code" "invalid_input" "$(jq -r .error.code <<<"$ERR")"
expect_exit 2 "--json and no command" loyalty --json
check_equal "--json and no command: one JSON error line" "invalid_input" "$(jq -r .error.code <<<"$ERR")"
check_equal "--json and no command: nothing on stdout" "" "$OUT"
expect_exit 2 "--json and a group without subcommand" loyalty --json member
check_equal "--json and a group: one JSON error line" "invalid_input" "$(jq -r .error.code <<<"$ERR")"

# --- option forms ---------------------------------------------------------------------------
expect_exit 0 "--opt=VALUE and global options after the command" \
    loyalty_bare award m-1 --ref=form-1 --points=7 --db="$DB" --json --actor=form-tester
check_field "--opt=VALUE" '[.points, .replayed] | join(",")' "7,false"
expect_exit 0 "LOYALTY_DB" env LOYALTY_DB="$DB" "$LOYALTY_BIN" --json balance m-1
check_field "LOYALTY_DB" '.member' m-1
expect_exit 0 "history records --actor" loyalty --json history m-1 --limit 1
check_field "history actor" '.entries[0].actor' form-tester

# --- key file permissions -------------------------------------------------------------------
chmod 0644 "$DB.key"
expect_unchanged 6 "a world-readable key file is refused" loyalty award m-1 --ref k-1 --points 1
chmod 0600 "$DB.key"
mv "$DB.key" "$TMP/elsewhere.key"
run loyalty award m-1 --ref k-2 --points 1
check_true "a missing key file refuses writes (exit $RC)" test "$RC" = 6
expect_exit 0 "--key names the key file" loyalty --key "$TMP/elsewhere.key" award m-1 --ref k-3 --points 1
expect_exit 0 "LOYALTY_KEY names the key file" env LOYALTY_KEY="$TMP/elsewhere.key" \
    "$LOYALTY_BIN" --db "$DB" award m-1 --ref k-4 --points 1
mv "$TMP/elsewhere.key" "$DB.key"

# --- help and version --------------------------------------------------------------------------
for command in init "program load" "program show" "member add" "member show" award redeem adjust \
    reverse balance history stats "key public" "key rotate" "audit export" "audit checkpoint" verify \
    tiers "tier set" "tier history" "tier evaluate" benefits "benefit claim" "operator add" \
    "operator list" "operator disable" approvals approve reject import; do
    # shellcheck disable=SC2086
    expect_exit 0 "$command --help" loyalty $command --help
    check_contains "$command --help prints its usage" "usage: loyalty $command" "$OUT"
done
for group in program member key audit tier benefit operator; do
    expect_exit 0 "$group --help" loyalty "$group" --help
done
expect_exit 0 "--help" loyalty_bare --help
check_contains "--help lists the exit codes" "Exit codes:" "$OUT"
expect_exit 0 "-h" loyalty_bare -h
expect_exit 0 "--version" loyalty_bare --version
check_equal "--version" "loyalty 0.1.0" "$OUT"
expect_exit 0 "help after the other options" loyalty award m-1 --ref h-1 --bogus --help

check_equal "nothing above changed the ledger: balance" 99 "$(loyalty --json balance m-1 | jq .balance)"
e2e_end
