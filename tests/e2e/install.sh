#!/usr/bin/env bash
# install.sh - end-to-end test of `make install` and `make uninstall`: installs
# the tree at the repository root into a temporary DESTDIR with
# PREFIX=/usr/local, checks every installed file and its mode, the shared
# library's soname and exported symbols, the pkg-config file, the man page
# (that it renders, and names every command and option of `loyalty --help`),
# the installed binary; builds examples/award.c against the installed library
# through pkg-config, shared and static, and runs it; installs once more under
# another PREFIX to check that loyalty.pc follows it; then uninstalls and
# checks that nothing installed is left.
#
# It uses the normal build (build/), whatever the calling make was given:
# under `make test SANITIZE=1` the nested `make install` would otherwise
# install the sanitizer build, which a plain program cannot link against.
#
# A program built against a DESTDIR-staged library must be told where the
# stage is, since loyalty.pc names the final prefix. The clean way is to
# override its prefix: libdir and includedir are written relative to it, so
#     pkg-config --define-variable=prefix="$DESTDIR/usr/local" --cflags --libs loyalty
# points at the stage. The binary then finds libloyalty.so.0 by an rpath.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD

tmp=$(mktemp -d "${TMPDIR:-/tmp}/loyalty-e2e-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); }
# fail MESSAGE [FILE]: records a failed check, with FILE's contents when given.
fail() {
    failed=$((failed + 1))
    echo "FAIL [install]: $1" >&2
    if [[ $# -gt 1 && -s "$2" ]]; then sed -n '1,30s/^/  | /p' "$2" >&2; fi
}
# check MESSAGE COMMAND...: passes when COMMAND succeeds; its output is shown when it fails.
check() {
    local message=$1
    shift
    if "$@" >"$tmp/check.log" 2>&1; then pass; else fail "$message" "$tmp/check.log"; fi
}
# equal MESSAGE EXPECTED ACTUAL
equal() {
    if [[ "$2" == "$3" ]]; then pass; else fail "$1: expected '$2', got '$3'"; fi
}

# run_make ARGS...: the repository's Makefile with the normal build and none of the
# calling make's variables or flags.
run_make() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u SANITIZE -u BUILD \
        -u LDCONFIG -u PREFIX -u DESTDIR -u BINDIR -u LIBDIR -u INCLUDEDIR -u MANDIR -u PKGCONFIGDIR \
        make -s -C "$root" "$@"
}

version=$(sed -n 's/^VERSION *= *//p' Makefile)
dest="$tmp/stage"
prefix=/usr/local
stage="$dest$prefix"
libdir="$stage/lib"
cc=${CC:-cc}
warnings=(-std=c11 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes
          -Wmissing-prototypes -Wformat=2 -Wvla)

# --- install ----------------------------------------------------------------
if ! run_make install DESTDIR="$dest" PREFIX="$prefix" >"$tmp/make.log" 2>&1; then
    fail "make install DESTDIR=... PREFIX=$prefix" "$tmp/make.log"
    echo "e2e-install: $passed passed, $failed failed"
    exit 1
fi
pass
if [[ -s "$tmp/make.log" ]]; then fail "make -s install is not silent" "$tmp/make.log"; else pass; fi

# mode PATH: "0755 file", "symlink TARGET" or "missing".
mode() {
    if [[ -L "$1" ]]; then echo "symlink $(readlink "$1")"
    elif [[ -f "$1" ]]; then echo "$(stat -c %04a "$1") file"
    else echo missing
    fi
}
expected_files=(
    "bin/loyalty|0755 file"
    "lib/libloyalty.a|0644 file"
    "lib/libloyalty.so.$version|0755 file"
    "lib/libloyalty.so.0|symlink libloyalty.so.$version"
    "lib/libloyalty.so|symlink libloyalty.so.$version"
    "include/loyalty.h|0644 file"
    "lib/pkgconfig/loyalty.pc|0644 file"
    "share/man/man1/loyalty.1|0644 file"
)
for entry in "${expected_files[@]}"; do
    equal "installed $prefix/${entry%%|*}" "${entry#*|}" "$(mode "$stage/${entry%%|*}")"
done
installed=$(cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\./|/|' | sort)
listed=$(for entry in "${expected_files[@]}"; do echo "$prefix/${entry%%|*}"; done | sort)
equal "exactly the expected files are installed" "$listed" "$installed"
check "installed header is include/loyalty.h" cmp include/loyalty.h "$stage/include/loyalty.h"
check "installed man page is docs/loyalty.1" cmp docs/loyalty.1 "$stage/share/man/man1/loyalty.1"

# --- shared library -----------------------------------------------------------
soname=$(readelf -d "$libdir/libloyalty.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
equal "soname of libloyalty.so.$version" "libloyalty.so.0" "$soname"
# Only the header's loyalty_* functions are exported (-fvisibility=hidden).
foreign=$(nm -D --defined-only "$libdir/libloyalty.so.$version" | awk '$2 ~ /^[TDBRV]$/ {print $3}' \
    | grep -v '^loyalty_' || true)
equal "exported symbols all start with loyalty_" "" "$foreign"
exported=$(nm -D --defined-only "$libdir/libloyalty.so.$version" | awk '$2 == "T" {print $3}' | sort)
declared=$(sed -n 's/.*LOYALTY_API[^(]*[ *]\(loyalty_[a-z_0-9]*\)(.*/\1/p' include/loyalty.h | sort -u)
equal "exported functions are those declared in loyalty.h" "$declared" "$exported"

# --- pkg-config ---------------------------------------------------------------
export PKG_CONFIG_PATH="$libdir/pkgconfig"
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
check "pkg-config --validate loyalty" pkg-config --validate loyalty
equal "pkg-config --modversion" "$version" "$(pkg-config --modversion loyalty)"
equal "loyalty.pc prefix" "$prefix" "$(pkg-config --variable=prefix loyalty)"
equal "loyalty.pc libdir" "$prefix/lib" "$(pkg-config --variable=libdir loyalty)"
equal "loyalty.pc includedir" "$prefix/include" "$(pkg-config --variable=includedir loyalty)"
equal "loyalty.pc Requires.private" "sqlite3 libsodium jansson" \
    "$(pkg-config --print-requires-private loyalty | tr '\n' ' ' | sed 's/ $//')"
flags=$(pkg-config --cflags --libs loyalty | sed 's/ *$//')
equal "pkg-config --cflags --libs loyalty" "-I$prefix/include -L$prefix/lib -lloyalty" "$flags"
pc=(pkg-config --define-variable=prefix="$stage")
flags=$("${pc[@]}" --cflags --libs loyalty | sed 's/ *$//')
equal "pkg-config --cflags --libs loyalty, prefix moved to the stage" \
    "-I$stage/include -L$libdir -lloyalty" "$flags"

# --- man page -----------------------------------------------------------------
page="$stage/share/man/man1/loyalty.1"
if command -v man >/dev/null 2>&1; then
    if MANWIDTH=80 man -l "$page" >"$tmp/man.txt" 2>"$tmp/man.err" && [[ ! -s "$tmp/man.err" ]]; then
        pass
    else
        fail "man -l renders the page without complaint" "$tmp/man.err"
    fi
    found=$(MANPATH="$stage/share/man" man -w loyalty 2>&1 || true)
    equal "man finds the installed page through MANPATH" "$page" "$found"
elif command -v groff >/dev/null 2>&1; then
    if groff -man -Tutf8 "$page" >"$tmp/man.txt" 2>"$tmp/man.err" && [[ ! -s "$tmp/man.err" ]]; then
        pass
    else
        fail "groff renders the page" "$tmp/man.err"
    fi
else
    echo "note [install]: neither man nor groff installed; the page is not rendered" >&2
    cp "$page" "$tmp/man.txt"
fi
if command -v groff >/dev/null 2>&1; then
    if groff -man -Tutf8 -ww -z "$page" >"$tmp/groff.err" 2>&1 && [[ ! -s "$tmp/groff.err" ]]; then
        pass
    else
        fail "groff -ww finds nothing to warn about" "$tmp/groff.err"
    fi
fi
if command -v mandoc >/dev/null 2>&1; then
    check "mandoc -Tlint finds nothing" mandoc -Tlint "$page"
fi
check "man page title names version $version" grep -q "^\\.TH LOYALTY 1 .* \"loyalty $version\"" "$page"
for section in NAME SYNOPSIS DESCRIPTION "GLOBAL OPTIONS" COMMANDS ROLES "EXIT STATUS" \
    ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
    check "man page has a $section section" grep -q "^\\.SH \"\\?$section\"\\?\$" "$page"
done
for variable in LOYALTY_DB LOYALTY_KEY LOYALTY_ACTOR LOYALTY_NOW; do
    check "man page documents $variable" grep -q "^\\.B $variable\$" "$page"
done
for code in 0 1 2 3 4 5 6 7; do
    # shellcheck disable=SC2016 # an awk program
    check "man page documents exit status $code" \
        awk -v c="$code" 'f && $0 == ".B " c {ok = 1} /^\.SH EXIT STATUS/ {f = 1} END {exit !ok}' "$page"
done
# Every command and option the installed binary's help lists has its entry.
help=$("$stage/bin/loyalty" --help)
while read -r command; do
    check "man page documents 'loyalty $command'" grep -q "^\\.B loyalty $command\\( \\|\$\\)" "$page"
done < <(sed -n 's/^  loyalty \([a-z]\+\( [a-z]\+\)\?\)\( [A-Z(\[].*\)\?$/\1/p' <<<"$help" | sort -u)
while read -r option; do
    check "man page documents $option" grep -q -- "\\\\-\\\\-${option#--}\\b" "$page"
done < <(grep -o -- '--[a-z][a-z-]*' <<<"$help" | sort -u)

# --- installed binary ---------------------------------------------------------
equal "installed loyalty --version" "loyalty $version" "$("$stage/bin/loyalty" --version)"
if [[ -n "${LOYALTY_BIN:-}" ]]; then
    equal "\$LOYALTY_BIN --version" "loyalty $version" "$("$LOYALTY_BIN" --version)"
fi

# --- the example, against the installed library -------------------------------
mkdir -p "$tmp/run"
# shellcheck disable=SC2046 # pkg-config output is a list of words
if "$cc" "${warnings[@]}" -O2 -o "$tmp/award" examples/award.c \
    $("${pc[@]}" --cflags --libs loyalty) -Wl,-rpath,"$libdir" >"$tmp/cc.log" 2>&1; then
    pass
else
    fail "examples/award.c builds against the installed shared library" "$tmp/cc.log"
fi
if [[ -x "$tmp/award" ]]; then
    check "award links libloyalty.so.0" \
        sh -c "readelf -d '$tmp/award' | grep -q 'NEEDED.*\\[libloyalty\\.so\\.0\\]'"
    if out=$(cd "$tmp/run" && TMPDIR="$tmp/run" LOYALTY_ACTOR=shop-admin "$tmp/award" 2>&1); then
        pass
    else
        fail "award runs: $out"
    fi
    db=$(sed -n 's/^new ledger: \(.*\) (actor.*/\1/p' <<<"$out")
    check "award created its ledger under TMPDIR" test -f "$db"
    check "award awarded 129 points for a 129.99 order" grep -q "M1001: +129 points for order-1" <<<"$out"
    if out=$(LOYALTY_ACTOR=shop-admin "$tmp/award" "$db" 2>&1); then pass; else fail "award runs again: $out"; fi
    check "the same order again is a replay" grep -q "replayed" <<<"$out"
    loyalty=("$stage/bin/loyalty" --db "$db" --actor shop-admin)
    equal "installed loyalty reads award's balance" "129" \
        "$("${loyalty[@]}" --json balance M1001 | jq -r .balance)"
    check "installed loyalty verifies award's ledger" "${loyalty[@]}" verify
    out=$("$tmp/award" -a nobody -o order-9 "$db" 2>&1) && rc=0 || rc=$?
    equal "award by an unknown operator fails" 1 "$rc"
    check "and explains with loyalty_strerror and loyalty_errmsg" \
        grep -q "not permitted (not_permitted): .*nobody" <<<"$out"
fi

# A static build: pkg-config --static brings in sqlite3, libsodium and jansson.
static_libs=$("${pc[@]}" --static --libs loyalty)
static_libs=${static_libs/-lloyalty/$libdir/libloyalty.a}
# shellcheck disable=SC2046,SC2086 # lists of words
if "$cc" "${warnings[@]}" -O2 -o "$tmp/award-static" examples/award.c \
    $("${pc[@]}" --cflags loyalty) $static_libs >"$tmp/cc.log" 2>&1; then
    pass
    check "the static award does not need libloyalty.so" \
        sh -c "! readelf -d '$tmp/award-static' | grep -q 'NEEDED.*libloyalty'"
    if [[ -n "${db:-}" ]]; then
        if out=$(LOYALTY_ACTOR=shop-admin "$tmp/award-static" -m M2002 -o order-2 -p 5000 "$db" 2>&1)
        then pass; else fail "the static award runs: $out"; fi
        check "the static award awarded 50 points" grep -q "M2002: +50 points for order-2" <<<"$out"
    fi
else
    fail "examples/award.c builds statically against libloyalty.a" "$tmp/cc.log"
fi

# --- another prefix: loyalty.pc follows PREFIX ---------------------------------
other="$tmp/opt/loyalty"
# LDCONFIG=: a test has no business refreshing the system's linker cache.
if run_make install PREFIX="$other" LDCONFIG= >"$tmp/make.log" 2>&1; then
    pass
    equal "pkg-config under PREFIX=$other" "-I$other/include -L$other/lib -lloyalty" \
        "$(PKG_CONFIG_PATH="$other/lib/pkgconfig" pkg-config --cflags --libs loyalty | sed 's/ *$//')"
    check "make uninstall PREFIX=$other" run_make uninstall PREFIX="$other"
    equal "nothing left under $other" "" "$(find "$other" \( -type f -o -type l \) 2>&1)"
else
    fail "make install PREFIX=$other" "$tmp/make.log"
fi

# --- uninstall ------------------------------------------------------------------
check "make uninstall DESTDIR=... PREFIX=$prefix" run_make uninstall DESTDIR="$dest" PREFIX="$prefix"
equal "nothing installed is left" "" "$(find "$dest" \( -type f -o -type l \) 2>&1)"

echo "e2e-install: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
