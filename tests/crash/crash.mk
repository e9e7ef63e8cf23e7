# tests/crash/crash.mk - the reliability suites of issue 8, items 1 to 4
# (included by the Makefile; see docs/TESTING.md).
#
#   make crash-short  kill -9 at random moments, 50 times (a fresh ledger
#                     every 25), checking the ledger after every kill
#                     (crash-kill); then 8 writer and 8 reader processes
#                     for 10 s on one ledger (concurrency-soak). In `make test`.
#   make faults       failing allocators and a failing VFS at call N of each
#                     operation, N = 1..8 then ~24 values up to the call
#                     count. In `make test`.
#   make torture      the long forms: 1000 kills (a fresh ledger every 100),
#                     60 s of concurrency, every N of the fault loops;
#                     figures appended to $(BUILD)/torture.jsonl
#
# Knobs: CRASH_KILLS, CRASH_SEED, SOAK_SECONDS override the short forms.

CRASH_WRITER = $(BUILD)/tests/crash_writer
CRASH_DRIVER = $(BUILD)/tests/crash_driver
SOAK_BIN     = $(BUILD)/tests/concurrency
FAULTS_BIN   = $(BUILD)/tests/faults
CRASH_CFLAGS = $(ALL_CFLAGS) -Itests/crash
CRASH_KILLS ?= 50
SOAK_SECONDS ?= 10
CRASH_SEED  ?= $(shell date +%s)
# The fault harness fails the library's own allocations too (see tests/faults/faults.c).
FAULTS_WRAP  = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup

.PHONY: crash-short crash-kill concurrency-soak faults torture

$(CRASH_WRITER): tests/crash/writer.c tests/crash/crash_common.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CRASH_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS_ALL)

$(CRASH_DRIVER): tests/crash/driver.c tests/crash/crash_common.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CRASH_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS_ALL)

$(SOAK_BIN): tests/crash/concurrency.c tests/crash/crash_common.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CRASH_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS_ALL)

$(FAULTS_BIN): tests/faults/faults.c tests/unit/support.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka 2>/dev/null) -o $@ $< $(LIB_A) \
	  $(FAULTS_WRAP) $(shell pkg-config --libs cmocka 2>/dev/null) $(LDLIBS_ALL)

crash-kill: $(CRASH_WRITER) $(CRASH_DRIVER)
	$(CRASH_DRIVER) --writer $(CRASH_WRITER) --kills $(CRASH_KILLS) --seed $(CRASH_SEED) --generation 25

concurrency-soak: $(SOAK_BIN)
	$(SOAK_BIN) --seconds $(SOAK_SECONDS)

crash-short: crash-kill concurrency-soak

faults: $(FAULTS_BIN)
	$(FAULTS_BIN) --quick

torture: $(CRASH_WRITER) $(CRASH_DRIVER) $(SOAK_BIN) $(FAULTS_BIN)
	$(CRASH_DRIVER) --writer $(CRASH_WRITER) --kills 1000 --seed $(CRASH_SEED) \
	  --report $(BUILD)/torture.jsonl
	$(SOAK_BIN) --seconds 60 --report $(BUILD)/torture.jsonl
	$(FAULTS_BIN) --report $(BUILD)/torture.jsonl

EXTRA_TESTS += crash-short faults
