#!/usr/bin/env bash
# disk_limits.sh - the CLI against real storage limits, not simulated ones:
# a small file-size limit (ulimit -f, with SIGXFSZ ignored so that the
# write fails with EFBIG instead of killing the process), a nearly full
# small filesystem (a tmpfs mounted for the test; skipped when mounting is
# not allowed), a read-only database file and directory, a database path
# that is a directory, and a missing parent directory.
#
# Each failure must exit with its documented code (1 storage, 3 no ledger),
# say why in one line, change nothing, and leave a ledger that verifies and
# takes the same operation again, exactly once, when the limit is lifted.
#
# A key file that cannot be written for want of space or of a directory is a
# storage failure (exit 1) like any other write (B6 in docs/TESTING.md, fixed).
source "$(dirname "$0")/lib.bash"
e2e_begin disk_limits

MOUNTED=""
trap '[[ -n "$MOUNTED" ]] && umount "$MOUNTED" 2>/dev/null; rm -rf "$TMP"' EXIT

# The one-line reason a storage failure must give.
STORAGE_WORDS='I/O error|disk is full|No space left|too large|read-only|readonly|Read-only|Permission denied|No such file|directory'

# check_storage_failure WHAT: the last run exited 1 with one clear line.
check_storage_failure() {
    check_equal "$1: exit status" 1 "$RC"
    check_error_line "$1"
    check_match "$1: the message says why" "$STORAGE_WORDS" "$ERR"
}

# limited KB COMMAND...: runs COMMAND with files limited to KB kilobytes, SIGXFSZ ignored.
limited() {
    local kb=$1
    shift
    (
        trap '' XFSZ
        ulimit -f "$kb"
        "$@"
    )
}

# award_lines N PREFIX: an import file of N awards to m-1 of 1..N points.
award_lines() {
    local i
    for i in $(seq 1 "$1"); do
        printf '{"op":"award","member":"m-1","ref":"%s-%d","points":%d}\n' "$2" "$i" "$i"
    done
}

# --- a file-size limit ---------------------------------------------------------------------
expect_exit 0 "init" loyalty init
expect_exit 0 "member add" loyalty member add m-1
expect_exit 0 "a first award" loyalty award m-1 --ref first --points 10
UNCHANGED_MEMBERS=(m-1)
before=$(fingerprint m-1)

# 24 KB is less than the WAL's shared-memory file (32 KB): not even the first write fits.
run limited 24 "$LOYALTY_BIN" --db "$DB" award m-1 --ref limited-1 --points 5
check_storage_failure "an award under ulimit -f 24"
run limited 24 "$LOYALTY_BIN" --db "$DB" --json award m-1 --ref limited-1 --points 5
check_equal "with --json the error is storage" storage "$(jq -r .error.code <<<"$ERR")"
# 64 KB holds a few awards' WAL frames but not an import of 300 in one transaction.
award_lines 300 batch >"$TMP/batch.jsonl"
run limited 64 "$LOYALTY_BIN" --db "$DB" import "$TMP/batch.jsonl"
check_equal "an import past ulimit -f 64: exit status" 1 "$RC"
check_match "an import past ulimit -f 64: the message says why" "$STORAGE_WORDS" "$ERR"
check_equal "nothing of the failed writes was applied" "$before" "$(fingerprint m-1)"
check_invariants "after the file-size limit" m-1
expect_exit 0 "the award again without the limit" loyalty --json award m-1 --ref limited-1 --points 5
check_field "it applies now, once" '.replayed' false
expect_exit 0 "the import again without the limit" loyalty import "$TMP/batch.jsonl"
expect_exit 0 "balance" loyalty --json balance m-1
check_field "every award counted once" '.balance' $((10 + 5 + 300 * 301 / 2))
check_invariants "after the retries" m-1

# init under the limit leaves no database behind, so that init works once the limit is gone.
run limited 16 "$LOYALTY_BIN" --db "$TMP/limited.db" init
check_storage_failure "init under ulimit -f 16"
check_true "no database file is left behind" test ! -s "$TMP/limited.db"
expect_exit 0 "init without the limit" loyalty_bare --db "$TMP/limited.db" init
expect_exit 0 "that ledger verifies" loyalty_bare --db "$TMP/limited.db" verify

# --- a nearly full filesystem ----------------------------------------------------------------
small="$TMP/small"
mkdir "$small"
if mount -t tmpfs -o size=768k tmpfs "$small" 2>"$TMP/mount.err"; then
    MOUNTED=$small
    DB="$small/l.db"
    expect_exit 0 "init on a 768 KB filesystem" loyalty init
    expect_exit 0 "member add" loyalty member add m-1
    expect_exit 0 "award" loyalty award m-1 --ref before-full --points 7
    # Fill the filesystem, then give back 96 KB: room for a few awards, not many.
    dd if=/dev/zero of="$small/filler" bs=4k 2>/dev/null
    truncate -s "-96K" "$small/filler"
    applied=0
    failed_ref=""
    for i in $(seq 1 200); do
        run loyalty award m-1 --ref "full-$i" --points 1
        if [[ "$RC" != 0 ]]; then
            failed_ref="full-$i"
            break
        fi
        applied=$((applied + 1))
    done
    check_true "the disk filled up within 200 awards" test -n "$failed_ref"
    check_storage_failure "an award on a full disk"
    check_contains "SQLite says the disk is full" "disk is full" "$ERR"
    before=$(fingerprint m-1)
    award_lines 50 full-batch >"$TMP/full.jsonl"
    run loyalty import "$TMP/full.jsonl"
    check_equal "an import on a full disk: exit status" 1 "$RC"
    # A rotation writes little (a key file and two small rows): take the last free block too.
    dd if=/dev/zero of="$small/filler-rest" bs=1k 2>/dev/null
    run loyalty key rotate
    check_storage_failure "a key rotation on a full disk"
    rm -f "$small/filler-rest" # back to a few free blocks: SQLite needs them to open at all
    check_equal "nothing was applied on the full disk" "$before" "$(fingerprint m-1)"
    expect_exit 0 "reading works on a full disk" loyalty --json balance m-1
    check_field "the balance holds what was acknowledged" '.balance' $((7 + applied))
    check_invariants "on the full disk" m-1
    rm -f "$small/filler"
    expect_exit 0 "the failed award again, with space" loyalty --json award m-1 --ref "$failed_ref" --points 1
    check_field "it applies once" '.replayed' false
    expect_exit 0 "the import again" loyalty import "$TMP/full.jsonl"
    expect_exit 0 "the key rotation again" loyalty key rotate
    expect_exit 0 "a write with the new key" loyalty award m-1 --ref after-rotation --points 2
    expect_exit 0 "balance" loyalty --json balance m-1
    check_field "every acknowledged award counted once" '.balance' \
        $((7 + applied + 1 + 50 * 51 / 2 + 2))
    check_invariants "with space again" m-1
    umount "$small" && MOUNTED=""
else
    echo "skip [$E2E_NAME]: cannot mount a small tmpfs here: $(head -1 "$TMP/mount.err")" >&2
fi

# --- read-only directory and file ------------------------------------------------------------
# Root ignores file modes, so as root the CLI runs as nobody (setpriv).
if [[ $(id -u) == 0 ]]; then
    if command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
        AS_USER=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups)
    else
        AS_USER=()
    fi
else
    AS_USER=(env)
fi
if [[ ${#AS_USER[@]} -gt 0 ]]; then
    chmod 755 "$TMP"
    ro="$TMP/ro"
    mkdir "$ro"
    [[ $(id -u) == 0 ]] && chown "$(id -u nobody):$(id -g nobody)" "$ro"
    bin="$TMP/loyalty-copy"
    cp "$LOYALTY_BIN" "$bin" && chmod 755 "$bin"
    user() { "${AS_USER[@]}" ${LOYALTY_WRAPPER:-} "$bin" --db "$ro/l.db" "$@"; }
    expect_exit 0 "init as an ordinary user" user init
    expect_exit 0 "member add" user member add m-1
    expect_exit 0 "award" user award m-1 --ref ro-1 --points 4

    # SQLite cannot open a WAL database whose -wal and -shm files it may not create, not
    # even to read it: in a read-only directory reads fail too, with exit 1 and a line.
    chmod 555 "$ro"
    run user award m-1 --ref ro-2 --points 1
    check_storage_failure "an award in a read-only directory"
    run user balance m-1
    check_storage_failure "a read in a read-only directory"
    chmod 755 "$ro"
    expect_exit 0 "verify once the directory is writable" user --json verify
    check_field "it verifies" '.ok' true
    expect_exit 0 "the award once the directory is writable" user --json award m-1 --ref ro-2 --points 1
    check_field "it applies once" '.replayed' false

    chmod 444 "$ro/l.db"
    run user award m-1 --ref ro-3 --points 1
    check_storage_failure "an award on a read-only database file"
    check_contains "the message names the file" "read-only" "$ERR"
    expect_exit 0 "reading a read-only database file" user --json balance m-1
    check_field "the balance" '.balance' 5
    expect_exit 0 "verify on a read-only database file" user --json verify
    check_field "it verifies" '.ok' true
    chmod 644 "$ro/l.db"
    # SQLite gave the WAL index it made for the read-only reader the file's mode (0444);
    # while it stays, writes fail. It is removed here as an operator would (no process has
    # the ledger open); see docs/TESTING.md.
    rm -f "$ro/l.db-shm" "$ro/l.db-wal"
    expect_exit 0 "the award once the file is writable" user --json award m-1 --ref ro-3 --points 1
    check_field "it applies once" '.replayed' false
    expect_exit 0 "verify" user --json verify
    check_field "it verifies" '.ok' true
else
    echo "skip [$E2E_NAME]: running as root without setpriv: file modes cannot be tested" >&2
fi

# --- a directory as the database, a missing parent directory ----------------------------------
mkdir "$TMP/dir.db"
expect_exit 3 "balance on a directory" loyalty_bare --db "$TMP/dir.db" balance m-1
check_error_line "a directory as database"
check_contains "it says so" "not a regular file" "$ERR"
expect_exit 3 "award on a directory" loyalty_bare --db "$TMP/dir.db" award m-1 --ref d --points 1
run loyalty_bare --db "$TMP/dir.db" init
check_storage_failure "init on a directory"
check_contains "it says so" "is a directory" "$ERR"
check_true "the directory is left alone" test -d "$TMP/dir.db"

expect_exit 3 "balance under a missing directory" loyalty_bare --db "$TMP/missing/l.db" balance m-1
check_error_line "a missing parent directory"
check_contains "it says so" "No such file or directory" "$ERR"
expect_exit 3 "award under a missing directory" loyalty_bare --db "$TMP/missing/l.db" award m-1 --ref m --points 1
run loyalty_bare --db "$TMP/missing/l.db" init
check_storage_failure "init under a missing directory"
check_true "the directory is not created" test ! -e "$TMP/missing"

e2e_end
