# Makefile for loyalty: the library (static and shared), the CLI, the tests.
#
#   make            build build/libloyalty.a, build/libloyalty.so, build/loyalty
#   make run        install missing dependencies, build, run the demo ledger
#   make test       install missing dependencies, build, run every test
#   make test SANITIZE=1   the same under ASan + UBSan (separate build dir)
#   make valgrind   unit tests under valgrind (leak check)
#   make install PREFIX=/usr/local DESTDIR=...   binary, libraries, header,
#                   loyalty.pc and the man page; `make uninstall` removes them

VERSION      = 0.1.0
SOVERSION    = 0
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
MANDIR      ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CC          ?= cc
CFLAGS      ?= -O2 -g
PKGS         = sqlite3 libsodium jansson
WARN         = -std=c11 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes \
               -Wmissing-prototypes -Wformat=2 -Wvla
DEFS         = -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64

ifeq ($(SANITIZE),1)
BUILD       ?= build/san
SANFLAGS     = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD       ?= build
SANFLAGS     =
endif

PKG_CFLAGS   = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS     = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS   = $(WARN) $(DEFS) $(CFLAGS) $(SANFLAGS) -Iinclude -Iledger -I$(BUILD)/gen $(PKG_CFLAGS)
LDLIBS_ALL   = $(PKG_LIBS) -lpthread

LIB_SRC      = $(sort $(wildcard ledger/*.c))
LIB_OBJ      = $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/schema_sql.o
CLI_SRC      = $(sort $(wildcard cli/*.c))
CLI_OBJ      = $(CLI_SRC:%.c=$(BUILD)/%.o)
SCHEMA       = $(sort $(wildcard schema/*.sql))
UNIT_SRC     = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN     = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
E2E          = $(sort $(wildcard tests/e2e/*.sh))

LIB_A        = $(BUILD)/libloyalty.a
LIB_SO       = $(BUILD)/libloyalty.so.$(VERSION)
CLI          = $(BUILD)/loyalty

.PHONY: all deps run test unit e2e valgrind install uninstall clean FORCE

all: $(LIB_A) $(LIB_SO) $(BUILD)/libloyalty.so $(CLI)

# --- dependencies -----------------------------------------------------------
# Installs the Debian packages whose pkg-config module (or tool) is missing:
# as root directly, otherwise through sudo.
DEB_PKGS = sqlite3:libsqlite3-dev libsodium:libsodium-dev jansson:libjansson-dev cmocka:libcmocka-dev
deps:
	@missing=""; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	for pair in $(DEB_PKGS); do \
	  mod=$${pair%%:*}; deb=$${pair#*:}; \
	  pkg-config --exists $$mod 2>/dev/null || missing="$$missing $$deb"; \
	done; \
	command -v jq >/dev/null 2>&1 || missing="$$missing jq"; \
	command -v sqlite3 >/dev/null 2>&1 || missing="$$missing sqlite3"; \
	/usr/bin/python3 -c 'import nacl' >/dev/null 2>&1 || missing="$$missing python3-nacl"; \
	if [ -n "$$missing" ]; then \
	  echo "installing missing packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || \
	  { echo "could not install:$$missing" >&2; exit 1; }; \
	fi

# --- library ----------------------------------------------------------------
$(BUILD)/gen/schema_sql.c: $(SCHEMA) schema/embed.sh
	@mkdir -p $(dir $@)
	sh schema/embed.sh $(SCHEMA) > $@

$(BUILD)/gen/schema_sql.o: $(BUILD)/gen/schema_sql.c
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(BUILD)/ledger/%.o: ledger/%.c include/loyalty.h $(wildcard ledger/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DLOYALTY_BUILDING -fPIC -fvisibility=hidden -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	$(CC) $(CFLAGS) $(SANFLAGS) -shared -Wl,-soname,libloyalty.so.$(SOVERSION) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/libloyalty.so: $(LIB_SO)
	ln -sf libloyalty.so.$(VERSION) $(BUILD)/libloyalty.so.$(SOVERSION)
	ln -sf libloyalty.so.$(VERSION) $@

# --- command-line tool ------------------------------------------------------
$(BUILD)/cli/%.o: cli/%.c include/loyalty.h $(wildcard cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(CLI): $(CLI_OBJ) $(LIB_A)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(CLI_OBJ) $(LIB_A) $(LDLIBS_ALL)

# --- tests ------------------------------------------------------------------
$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka 2>/dev/null) -o $@ $< $(LIB_A) \
	  $(shell pkg-config --libs cmocka 2>/dev/null) $(LDLIBS_ALL)

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do \
	  echo "== $$t"; $$t || fail=1; \
	done; exit $$fail

e2e: $(CLI)
	@pass=0; fail=0; for t in $(E2E); do \
	  if LOYALTY_BIN=$(CURDIR)/$(CLI) bash $$t; then pass=$$((pass+1)); echo "ok   $$t"; \
	  else fail=$$((fail+1)); echo "FAIL $$t"; fi; \
	done; echo "e2e: $$pass passed, $$fail failed"; [ $$fail = 0 ]

# Suites that live with their own makefile fragments add themselves here
# (bench/bench.mk: the bench's short form; tests/fuzz/fuzz.mk: corpus replays).
EXTRA_TESTS =
-include bench/bench.mk
-include tests/fuzz/fuzz.mk
-include tests/crash/crash.mk

test: deps
	$(MAKE) all unit e2e $(EXTRA_TESTS)

valgrind: deps
	$(MAKE) $(UNIT_BIN)
	@for t in $(UNIT_BIN); do \
	  valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=9 $$t >/dev/null || exit 1; \
	done; echo "valgrind: no leaks, no errors"

run: deps
	$(MAKE) all
	sh examples/demo.sh $(CURDIR)/$(CLI)

# --- install ----------------------------------------------------------------
# Every path is under $(DESTDIR), so that a package build can stage the files.
# loyalty.pc is filled in from ledger/loyalty.pc.in; libdir and includedir are
# written relative to ${prefix} when they lie under it, so that
# `pkg-config --define-variable=prefix=...` relocates the whole package.
# A real install (no DESTDIR) by root ends by refreshing the dynamic linker's
# cache, so that programs find libloyalty.so.0 at once; LDCONFIG= skips that.
LDCONFIG    ?= ldconfig
pc_path      = $(patsubst $(PREFIX)/%,$${prefix}/%,$(patsubst $(PREFIX),$${prefix},$(1)))
INSTALLED    = $(BINDIR)/loyalty $(LIBDIR)/libloyalty.a $(LIBDIR)/libloyalty.so.$(VERSION) \
               $(LIBDIR)/libloyalty.so.$(SOVERSION) $(LIBDIR)/libloyalty.so \
               $(INCLUDEDIR)/loyalty.h $(PKGCONFIGDIR)/loyalty.pc $(MANDIR)/man1/loyalty.1

$(BUILD)/loyalty.pc: ledger/loyalty.pc.in FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(call pc_path,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|g' \
	    -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@REQUIRES_PRIVATE@|$(PKGS)|g' ledger/loyalty.pc.in > $@

install: all $(BUILD)/loyalty.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/loyalty
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libloyalty.a
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libloyalty.so.$(VERSION)
	ln -sf libloyalty.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libloyalty.so.$(SOVERSION)
	ln -sf libloyalty.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libloyalty.so
	install -m 0644 include/loyalty.h $(DESTDIR)$(INCLUDEDIR)/loyalty.h
	install -m 0644 $(BUILD)/loyalty.pc $(DESTDIR)$(PKGCONFIGDIR)/loyalty.pc
	install -m 0644 docs/loyalty.1 $(DESTDIR)$(MANDIR)/man1/loyalty.1
	@if [ -z "$(DESTDIR)" ] && [ -n "$(LDCONFIG)" ] && [ "$$(id -u)" = 0 ]; then \
	  $(or $(LDCONFIG),:) || echo "run ldconfig so that programs find libloyalty.so.0" >&2; fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

FORCE:

clean:
	rm -rf build
