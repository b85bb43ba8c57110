# archbench: the front door. `make test` and `make bench` do their own set-up on Debian 12:
# missing packages are installed with apt-get (through sudo when not root), then CMake
# configures and builds into $(BUILD), programs in $(BUILD)/bin.
BUILD ?= build
CMAKE_BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
# Tests run in parallel, as many at once as the machine has cores (the suites are written to hold
# under that load: their deadlines scale, nothing they measure is a benchmark). CTEST_JOBS=1
# runs them one at a time.
CTEST_JOBS ?= $(JOBS)

DEBIAN_PACKAGES := cmake make g++ pkg-config libboost-dev libboost-context-dev libevent-dev liburing-dev \
                   libbenchmark-dev libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev \
                   libtomlplusplus-dev golang-go python3 python3-matplotlib chromium linux-perf \
                   openssh-server openssh-client haproxy wrk nginx-light curl
# Debian's interpreter: it sees Debian's python3-* packages (the machine's default python3 may not).
PYTHON := $(firstword $(wildcard /usr/bin/python3) python3)

# make bench [QUICK=1] [ARCH=epoll,asio] [WORKLOAD=persistent] [CONNECTIONS=1,64] [EXPERIMENT=file]
#            [SEED=N] (the run order's seed; meta.json records the one used)
BENCH_FLAGS = $(if $(filter-out 0,$(QUICK)),--quick) $(if $(ARCH),--arch $(ARCH)) \
              $(if $(WORKLOAD),--workload $(WORKLOAD)) $(if $(CONNECTIONS),--connections $(CONNECTIONS)) \
              $(if $(EXPERIMENT),--experiment $(EXPERIMENT)) $(if $(SEED),--seed $(SEED)) \
              --build $(BUILD)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# make plots [RUN=results/<id>]   make compare A=results/<a> B=results/<b>   make report-check [RUN=...]
RUN ?= results/latest

.PHONY: all help build deps test test-asan test-tsan fuzz fuzz-deps bench plots compare report-check microbench clean

all: build

# Installs only what is missing, so that a machine already set up never touches apt.
install_missing = @missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing missing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps:
	$(call install_missing,$(DEBIAN_PACKAGES))

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# ARCHBENCH_REQUIRE_ALL=1: deps installed everything the tests need (chromium, make), so a Python
# test that skips for want of one fails instead (tests/run_unittest.py).
test: build
	ARCHBENCH_REQUIRE_ALL=1 ctest --test-dir $(BUILD) --output-on-failure -j $(CTEST_JOBS)

# make test-asan, make test-tsan: the C++ suites again, every target (the servers the conformance
# tests start included) built with AddressSanitizer + UndefinedBehaviorSanitizer, or with
# ThreadSanitizer, each in a build folder of its own. Suites are chosen by CTest label; the
# Python ones are not run, and the C++ suites test the architectures built from C++ here, not the
# external programs, whose code no sanitizer sees (tests/support/architectures.cpp). Any report
# fails: the sanitizers halt on the first error and exit non-zero, a server's leak at exit makes
# its exit status non-zero, and the test support fails a test whose server wrote a report
# (tests/support/server_process.cpp).
SANITIZER_LABELS := ^(unit|conformance|abuse|loadgen|fuzz)$$
# The abuse suite's flood under the sanitizers: an instrumented process holds about 28 MB of its
# own, and inetd's 2000 exec'd children would take more memory than the machine's 24 GB.
SANITIZED_FLOOD := 300
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:check_initialization_order=1:strict_init_order=1 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ARCHBENCH_TIME_SCALE=3 \
            ARCHBENCH_FLOOD_CLIENTS=$(SANITIZED_FLOOD)
# die_after_fork=0: forked and preforked children start the lingering-close thread, which glibc
# allows (the parent holds no lock across fork()) but ThreadSanitizer refuses by default.
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:die_after_fork=0 ARCHBENCH_TIME_SCALE=6 \
            ARCHBENCH_FLOOD_CLIENTS=$(SANITIZED_FLOOD)
# GCC 12's ThreadSanitizer cannot place its shadow memory when the kernel randomizes addresses
# with more than 28 bits (vm.mmap_rnd_bits, 32 on some newer kernels): there the tests run with
# address randomization off (setarch -R), which the programs they start inherit.
TSAN_RUN = $(shell [ "$$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)" -gt 28 ] && echo setarch $$(uname -m) -R)

build-asan/CMakeCache.txt: | deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DARCHBENCH_SANITIZE=address,undefined
build-tsan/CMakeCache.txt: | deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DARCHBENCH_SANITIZE=thread

test-asan: deps build-asan/CMakeCache.txt
	cmake --build build-asan -j $(JOBS)
	$(ASAN_ENV) ctest --test-dir build-asan --output-on-failure -j $(CTEST_JOBS) -L '$(SANITIZER_LABELS)'

test-tsan: deps build-tsan/CMakeCache.txt
	cmake --build build-tsan -j $(JOBS)
	$(TSAN_ENV) $(TSAN_RUN) ctest --test-dir build-tsan --output-on-failure -j $(CTEST_JOBS) -L '$(SANITIZER_LABELS)'

# make fuzz [FUZZ_SECONDS=60]: each libFuzzer target in fuzz/ for FUZZ_SECONDS, one after the
# other, built with clang++ (-fsanitize=fuzzer,address,undefined) into build-fuzz/, which
# fuzz-deps installs first. Each starts from its committed seeds (fuzz/corpus/TARGET) and saved
# regressions (fuzz/regressions/TARGET), adds what it discovers to build-fuzz/corpus/TARGET
# (kept between runs), and writes an input that breaks an invariant to build-fuzz/crashes/TARGET/:
# then the run fails and says where the input is.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := conversation answers http_requests http_responses
FUZZ_PACKAGES := clang libclang-rt-14-dev llvm-14  # llvm-14: llvm-symbolizer, for readable reports
FUZZ_FLAGS := -std=c++20 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -I. \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SOURCES_conversation := fuzz/conversation.cpp protocol/zen.cpp protocol/http.cpp
FUZZ_SOURCES_answers := fuzz/answers.cpp loadgen/connection.cpp protocol/zen.cpp protocol/http.cpp
FUZZ_SOURCES_http_requests := fuzz/http_requests.cpp protocol/zen.cpp protocol/http.cpp
FUZZ_SOURCES_http_responses := fuzz/http_responses.cpp loadgen/connection.cpp protocol/zen.cpp protocol/http.cpp

fuzz-deps:
	$(call install_missing,$(FUZZ_PACKAGES))

build-fuzz/fuzz-%: fuzz/%.cpp fuzz/fuzz_input.hpp protocol/zen.cpp protocol/zen.hpp protocol/http.cpp protocol/http.hpp \
                   loadgen/connection.cpp loadgen/connection.hpp loadgen/net.hpp | fuzz-deps
	@mkdir -p build-fuzz
	clang++ $(FUZZ_FLAGS) $(FUZZ_SOURCES_$*) -o $@

fuzz: $(FUZZ_TARGETS:%=build-fuzz/fuzz-%)
	@for target in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$target build-fuzz/crashes/$$target; \
	  echo "fuzz $$target for $(FUZZ_SECONDS) s (log: build-fuzz/$$target.log)"; \
	  build-fuzz/fuzz-$$target -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 \
	    -dict=fuzz/zen.dict -artifact_prefix=build-fuzz/crashes/$$target/ -print_final_stats=1 \
	    build-fuzz/corpus/$$target fuzz/corpus/$$target $$(ls -d fuzz/regressions/$$target 2>/dev/null) \
	    > build-fuzz/$$target.log 2>&1; \
	  status=$$?; \
	  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' build-fuzz/$$target.log; \
	  if [ $$status -ne 0 ]; then \
	    tail -n 60 build-fuzz/$$target.log; \
	    echo "fuzz $$target: an input broke an invariant: $$(ls build-fuzz/crashes/$$target/)"; \
	    echo "keep it as a regression: copy it into fuzz/regressions/$$target/ and fix the bug"; \
	    exit 1; \
	  fi; \
	done

# The report is drawn after a run that finished or was interrupted (Ctrl-C: the shell waits
# for bench.py, which exits 130), never after a usage error, when results/latest would still
# be an older run.
bench: build
	@trap : INT; $(PYTHON) harness/bench.py $(BENCH_FLAGS); status=$$?; \
	if [ $$status -eq 0 ] || [ $$status -eq 130 ]; then \
	  $(PYTHON) plots/report.py results/latest || exit $$?; \
	fi; exit $$status

plots: deps
	$(PYTHON) plots/report.py $(RUN)

# Checked before anything runs: one line, exit 2.
ifneq ($(filter compare,$(MAKECMDGOALS)),)
ifeq ($(and $(A),$(B)),)
$(error give both runs: make compare A=results/<a> B=results/<b>)
endif
endif
compare: deps
	$(PYTHON) plots/compare.py $(A) $(B)

# Renders RUN/report.html in headless Chromium, checks every image loads, saves a screenshot.
report-check: deps
	$(PYTHON) plots/check_report.py $(RUN) --screenshot $(RUN)/report-screenshot.png --hide-family auto

# Every Google Benchmark program, 5 repetitions each (medians reported), JSON into the run
# folder RUN (default: results/latest) as RUN/microbench/, then RUN's report is redrawn with
# the microbenchmarks' charts; when RUN is not a run folder (no points.csv), into
# results/microbench-<UTC timestamp>/ with the charts in its plots/.
microbench: build
	@if [ -f "$(RUN)/points.csv" ]; then out="$(RUN)/microbench"; \
	else out="results/microbench-$$(date -u +%Y%m%dT%H%M%SZ)"; fi; \
	mkdir -p "$$out" || exit 1; \
	for program in $(BUILD)/bin/microbench-*; do \
	  name=$${program##*/microbench-}; echo "== $$name"; \
	  $$program --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
	    --benchmark_out="$$out/$$name.json" --benchmark_out_format=json || exit 1; \
	done; \
	echo "microbenchmarks: $$out"; \
	if [ -f "$(RUN)/points.csv" ]; then $(PYTHON) plots/report.py "$(RUN)"; \
	else $(PYTHON) plots/microbench_charts.py "$$out"; fi

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz

# make help: every target, one line each.
help:
	@echo "make                 build everything (same as make build)"
	@echo "make build           install missing Debian packages, configure and build into $(BUILD)/"
	@echo "make deps            install the missing Debian packages only"
	@echo "make test            build, then run every test (unit, conformance, abuse, loadgen, harness, plots, docs)"
	@echo "make test-asan       the C++ suites under AddressSanitizer + UBSan (build-asan/)"
	@echo "make test-tsan       the C++ suites under ThreadSanitizer (build-tsan/)"
	@echo "make fuzz            each libFuzzer target for FUZZ_SECONDS (default 60) (build-fuzz/)"
	@echo "make fuzz-deps       install clang and its runtime for make fuzz"
	@echo "make bench           run harness/experiments/default.toml and draw the report [QUICK=1 ARCH= WORKLOAD= CONNECTIONS= EXPERIMENT=]"
	@echo "make plots           redraw the charts and report.html of RUN (default results/latest)"
	@echo "make compare         draw runs A and B on the same axes with a table of ratios B/A (A=results/<a> B=results/<b>)"
	@echo "make report-check    open RUN/report.html in headless Chromium, check its images, save a screenshot"
	@echo "make microbench      run the Google Benchmark programs into RUN/microbench/ and redraw its report"
	@echo "make clean           remove the build folders"
	@echo "make help            this list"
