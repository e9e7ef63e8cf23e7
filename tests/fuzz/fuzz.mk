# tests/fuzz/fuzz.mk - the fuzz targets of tests/fuzz/, included by the Makefile.
#
#   make fuzz-replay   build every target with the ordinary compiler and
#                      tests/fuzz/replay_main.c, and feed it each file of its
#                      corpus, tests/fuzz/corpus/<target>/ (seconds; part of
#                      `make test`, and of `make test SANITIZE=1` with ASan
#                      and UBSan)
#   make fuzz          the long form: build every target with clang and
#                      libFuzzer (-fsanitize=fuzzer,address,undefined, the
#                      library instrumented too), run each FUZZ_SECONDS (60)
#                      seconds from its corpus, then merge the inputs that
#                      reached new code into tests/fuzz/corpus/<target>/.
#                      Logs and findings go to build/libfuzzer/.
#   make fuzz FUZZ_TARGETS=fuzz_import FUZZ_SECONDS=600   one target, longer
#
# `make test` needs no clang: only the long form does, and installs
# clang-14 and its fuzzer runtime through apt-get when they are missing.

FUZZ_TARGETS  ?= fuzz_program fuzz_import fuzz_checkpoint fuzz_cli_args fuzz_verify_db
FUZZ_SECONDS  ?= 60
FUZZ_DIR       = tests/fuzz
FUZZ_HEADERS   = $(FUZZ_DIR)/fuzz_common.h include/loyalty.h
FUZZ_CLI_OBJ   = $(filter-out $(BUILD)/cli/main.o,$(CLI_OBJ))

# --- replay: the short form ---------------------------------------------------
FUZZ_REPLAY_BIN = $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/%: $(FUZZ_DIR)/%.c $(FUZZ_DIR)/replay_main.c $(FUZZ_HEADERS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(FUZZ_DIR)/replay_main.c $(LIB_A) $(LDLIBS_ALL)

# The argument fuzzer links the tool's own files (cli/main.c is included by the target).
$(BUILD)/fuzz/fuzz_cli_args: $(FUZZ_DIR)/fuzz_cli_args.c $(FUZZ_DIR)/replay_main.c $(FUZZ_HEADERS) \
                             cli/main.c $(wildcard cli/*.h) $(FUZZ_CLI_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(FUZZ_DIR)/replay_main.c $(FUZZ_CLI_OBJ) $(LIB_A) $(LDLIBS_ALL)

.PHONY: fuzz-replay fuzz fuzz-deps
fuzz-replay: $(FUZZ_REPLAY_BIN)
	@for t in $(FUZZ_TARGETS); do \
	  $(BUILD)/fuzz/$$t $(FUZZ_DIR)/corpus/$$t || { echo "FAIL fuzz replay $$t"; exit 1; }; \
	done

EXTRA_TESTS += fuzz-replay

# --- libFuzzer: the long form ---------------------------------------------------
FUZZ_CC       ?= $(shell command -v clang-14 2>/dev/null || command -v clang 2>/dev/null || echo clang-14)
FUZZ_BUILD    ?= build/libfuzzer
FUZZ_FLAGS     = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                 -fno-sanitize-recover=undefined
FUZZ_CFLAGS    = $(filter-out -Werror,$(WARN)) $(DEFS) $(FUZZ_FLAGS) -Iinclude -Iledger -I$(FUZZ_BUILD)/gen $(PKG_CFLAGS)
FUZZ_LIB_OBJ   = $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_BUILD)/gen/schema_sql.o
FUZZ_CLI_SRC   = $(filter-out cli/main.c,$(CLI_SRC))
FUZZ_CLI_FOBJ  = $(FUZZ_CLI_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_TMP      ?= $(if $(wildcard /dev/shm),/dev/shm,$(or $(TMPDIR),/tmp))

# clang and the libFuzzer runtime (Debian: clang-14, libclang-rt-14-dev / libfuzzer-14-dev).
fuzz-deps:
	@if ! command -v $(FUZZ_CC) >/dev/null 2>&1 || \
	    ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}' | \
	      $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then \
	  echo "installing clang-14 and libFuzzer"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    clang-14 libclang-rt-14-dev libfuzzer-14-dev >/dev/null || \
	    { echo "could not install clang-14 and libFuzzer" >&2; exit 1; }; \
	fi

$(FUZZ_BUILD)/gen/schema_sql.c: $(SCHEMA) schema/embed.sh
	@mkdir -p $(dir $@)
	sh schema/embed.sh $(SCHEMA) > $@

$(FUZZ_BUILD)/gen/schema_sql.o: $(FUZZ_BUILD)/gen/schema_sql.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/ledger/%.o: ledger/%.c include/loyalty.h $(wildcard ledger/*.h) $(FUZZ_BUILD)/gen/schema_sql.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DLOYALTY_BUILDING -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/cli/%.o: cli/%.c include/loyalty.h $(wildcard cli/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/%: $(FUZZ_DIR)/%.c $(FUZZ_HEADERS) $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(LDLIBS_ALL)

$(FUZZ_BUILD)/fuzz_cli_args: $(FUZZ_DIR)/fuzz_cli_args.c $(FUZZ_HEADERS) cli/main.c $(wildcard cli/*.h) \
                             $(FUZZ_CLI_FOBJ) $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_CLI_FOBJ) $(FUZZ_LIB_OBJ) $(LDLIBS_ALL)

# Per target: run from (a scratch copy of) its corpus, then merge what reached
# new code back into the committed corpus. Figures land in $(FUZZ_BUILD)/<t>.log
# and a one-line summary per target in $(FUZZ_BUILD)/summary.txt.
fuzz: deps fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
	@mkdir -p $(FUZZ_BUILD)/artifacts; : > $(FUZZ_BUILD)/summary.txt; status=0; \
	for t in $(FUZZ_TARGETS); do \
	  work=$(FUZZ_BUILD)/work/$$t; rm -rf $$work; mkdir -p $$work; \
	  rm -f $(FUZZ_BUILD)/artifacts/$$t-*; \
	  cp $(FUZZ_DIR)/corpus/$$t/* $$work/ 2>/dev/null; \
	  before=$$(ls $(FUZZ_DIR)/corpus/$$t | wc -l); \
	  dict=""; [ -f $(FUZZ_DIR)/$$t.dict ] && dict="-dict=$(FUZZ_DIR)/$$t.dict"; \
	  maxlen=""; [ $$t = fuzz_verify_db ] && maxlen="-max_len=512"; \
	  echo "== $$t: $(FUZZ_SECONDS) s"; \
	  TMPDIR=$(FUZZ_TMP) $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=30 \
	    -print_final_stats=1 $$dict $$maxlen -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- \
	    $$work > $(FUZZ_BUILD)/$$t.log 2>&1; rc=$$?; \
	  TMPDIR=$(FUZZ_TMP) $(FUZZ_BUILD)/$$t -merge=1 $$maxlen $(FUZZ_DIR)/corpus/$$t $$work \
	    > $(FUZZ_BUILD)/$$t.merge.log 2>&1; \
	  after=$$(ls $(FUZZ_DIR)/corpus/$$t | wc -l); \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_BUILD)/$$t.log); \
	  cov=$$(grep -o 'cov: [0-9]*' $(FUZZ_BUILD)/$$t.log | tail -1); \
	  found=$$(ls $(FUZZ_BUILD)/artifacts/ 2>/dev/null | grep -c "^$$t-"); \
	  line="$$t: $${execs:-?} execs, $$cov, corpus $$before -> $$after, findings $$found (exit $$rc)"; \
	  echo "$$line" | tee -a $(FUZZ_BUILD)/summary.txt; \
	  [ $$rc = 0 ] || status=1; \
	done; exit $$status
