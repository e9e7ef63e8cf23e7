# bench/bench.mk - the performance harness of issue 7 (included by the Makefile).
#
#   make bench        the full run: baselines and ours side by side, on a fresh
#                     ledger and on a cached 2M-entry one (bench/cache/, built
#                     on first use: minutes); table on stdout, bench/results.json
#   make bench-cache  only build the cached large ledger (minutes), measure nothing
#   make bench-ceiling  how fast batches could be at 2M without the indexes an
#                     award writes at random (a bound, not a figure of the
#                     library); table on stdout, bench/ceiling.json
#   make bench-smoke  the same program on tiny sizes (seconds), asserting only
#                     that every figure is measured and the JSON is written,
#                     the ceiling's included; part of `make test`

BENCH_BIN   = $(BUILD)/bench/bench
BENCH_CACHE = bench/cache
BENCH_GIT   = $(shell git describe --always --dirty 2>/dev/null || echo unknown)

.PHONY: bench bench-cache bench-ceiling bench-smoke

$(BENCH_BIN): bench/bench.c include/loyalty.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DBENCH_GIT='"$(BENCH_GIT)"' -o $@ bench/bench.c $(LIB_A) \
	  $(LDLIBS_ALL) -lpthread -lm

bench: $(BENCH_BIN) $(CLI)
	$(BENCH_BIN) --git "$(BENCH_GIT)" --cli $(CLI) --cache $(BENCH_CACHE) --json bench/results.json

# Builds (or refreshes) only the cached large ledger, so a later `make bench` measures at once.
bench-cache: $(BENCH_BIN) $(CLI)
	$(BENCH_BIN) --build-only --cli $(CLI) --cache $(BENCH_CACHE) --json bench/results.json

bench-ceiling: $(BENCH_BIN) $(CLI)
	$(BENCH_BIN) --ceiling --git "$(BENCH_GIT)" --cli $(CLI) --cache $(BENCH_CACHE) --json bench/ceiling.json

bench-smoke: $(BENCH_BIN) $(CLI)
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/loyalty-bench.XXXXXX") || exit 1; \
	$(BENCH_BIN) --smoke --cli $(CLI) --cache "$$tmp" --json "$$tmp/results.json" >"$$tmp/out.txt" 2>&1 && \
	$(BENCH_BIN) --smoke --ceiling --cli $(CLI) --cache "$$tmp" --json "$$tmp/ceiling.json" >>"$$tmp/out.txt" 2>&1; \
	rc=$$?; \
	if [ $$rc = 0 ] && ! grep -q '"figures"' "$$tmp/results.json" 2>/dev/null; then rc=1; fi; \
	if [ $$rc = 0 ] && [ "$$(grep -c '"name": "ceiling' "$$tmp/ceiling.json")" != 6 ]; then rc=1; fi; \
	if [ $$rc = 0 ]; then echo "bench-smoke: $$(grep -c '"name"' "$$tmp/results.json") figures measured, and the ceiling's 6"; \
	else cat "$$tmp/out.txt"; echo "bench-smoke: FAILED" >&2; fi; \
	rm -rf "$$tmp"; exit $$rc

EXTRA_TESTS += bench-smoke
