# encore — one Makefile. `make demo` and `make test` are the two commands that matter.
#   make            build build/encore
#   make test       install missing Debian packages, build, run unit + integration tests
#   make test-asan  the same suite built with ASan + UBSan (clang)
#   make fuzz       libFuzzer harnesses, each for FUZZ_SECONDS (default 60)
#   make fuzz-smoke the same, each for FUZZ_SMOKE_SECONDS (default 20): what CI runs
#   make demo       generate ~1M events, run the pipeline into demo/music.db, print charts
#   make bench      benchmark workloads, one table (bench/README.md); BENCH_QUICK=1 for a smoke run
#   make bench-compare  the end-to-end job, encore against DuckDB (1 and 2 threads)

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
WERROR  ?= -Werror
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Wshadow -Wstrict-prototypes $(WERROR) \
           -Wno-unused-parameter -Isrc $(EXTRA_CFLAGS)
LDLIBS  += -lsqlite3 -lz -lpthread -lm
LDFLAGS += $(EXTRA_LDFLAGS)

LIB_SRC  := $(filter-out src/main.c src/cmd_%.c,$(wildcard src/*.c))
CLI_SRC  := src/main.c $(wildcard src/cmd_*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)

LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:src/%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps test test-asan unit asan fuzz fuzz-build fuzz-smoke demo bench bench-build bench-compare clean format
all: $(BUILD)/encore

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libencore.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/encore: $(CLI_OBJ) $(BUILD)/libencore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libencore.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libencore.a $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/libencore.a $(LDLIBS)

unit: $(UNIT_BIN)

deps:
	@bash scripts/deps.sh build

test: deps
	$(MAKE) all unit
	bash tests/run.sh $(BUILD)

# Sanitizer build of the whole suite: clang, ASan + UBSan, halt on the first report.
# ENCORE_SANITIZED=1 lets long tests (the crash torture) scale their data down.
test-asan: deps
	$(MAKE) BUILD=build-asan CC=clang OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" all unit
	ENCORE_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  bash tests/run.sh build-asan

FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz-build: deps
	@mkdir -p build-fuzz/obj
	@for f in $(LIB_SRC); do o=build-fuzz/obj/$$(basename $$f .c).o; \
	  [ $$o -nt $$f ] || clang $(FUZZ_CFLAGS) -c $$f -o $$o || exit 1; done
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $$f build-fuzz/obj/*.o -o build-fuzz/$$n $(LDLIBS) || exit 1; done

fuzz: fuzz-build
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); c=fuzz/corpus/$${n#fuzz_}; \
	  mkdir -p build-fuzz/corpus/$$n; echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  build-fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build-fuzz/corpus/$$n $$c || exit 1; done

# CI's short run of every fuzzer (the long runs are `make fuzz FUZZ_SECONDS=N`).
FUZZ_SMOKE_SECONDS ?= 20
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

demo: deps
	$(MAKE) all
	bash scripts/demo.sh $(BUILD)/encore

# Benchmarks (bench/README.md): one optimised build, reused by both targets. -O3 -march=native
# is deliberate: the figures are for this machine (bench/RESULTS.md records its CPU).
BENCH_OPT ?= -O3 -march=native -DNDEBUG
$(BUILD)/bench_parse: bench/bench_parse.c $(BUILD)/libencore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libencore.a $(LDLIBS)

$(BUILD)/bench_drop: bench/bench_drop.c $(BUILD)/libencore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libencore.a $(LDLIBS)

$(BUILD)/bench_sql: bench/bench_sql.c $(BUILD)/libencore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libencore.a $(LDLIBS)

bench-build: deps
	@bash scripts/deps.sh bench
	$(MAKE) BUILD=build-bench OPT="$(BENCH_OPT)" all build-bench/bench_parse build-bench/bench_drop build-bench/bench_sql

bench: bench-build
	bash bench/run.sh build-bench

bench-compare: bench-build
	bash bench/compare.sh build-bench

format:
	clang-format -i src/*.c src/*.h tests/unit/*.c fuzz/*.c

clean:
	rm -rf build build-asan build-fuzz build-bench
