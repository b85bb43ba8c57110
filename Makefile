# archbench: the front door. `make test` and `make bench` do their own set-up on Debian 12:
# missing packages are installed with apt-get (through sudo when not root), then CMake
# configures and builds into $(BUILD), programs in $(BUILD)/bin.
BUILD ?= build
CMAKE_BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)

DEBIAN_PACKAGES := cmake make g++ pkg-config libboost-dev libevent-dev liburing-dev \
                   libbenchmark-dev libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev \
                   python3 python3-matplotlib chromium
# Debian's interpreter: it sees Debian's python3-* packages (the machine's default python3 may not).
PYTHON := $(firstword $(wildcard /usr/bin/python3) python3)

# make bench [QUICK=1] [ARCH=epoll,asio] [WORKLOAD=persistent] [CONNECTIONS=1,64] [EXPERIMENT=file]
BENCH_FLAGS = $(if $(filter-out 0,$(QUICK)),--quick) $(if $(ARCH),--arch $(ARCH)) \
              $(if $(WORKLOAD),--workload $(WORKLOAD)) $(if $(CONNECTIONS),--connections $(CONNECTIONS)) \
              $(if $(EXPERIMENT),--experiment $(EXPERIMENT)) --build $(BUILD)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# make plots [RUN=results/<id>]   make compare A=results/<a> B=results/<b>   make report-check [RUN=...]
RUN ?= results/latest

.PHONY: all build deps test bench plots compare report-check microbench clean

all: build

# Installs only what is missing, so that a machine already set up never touches apt.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing missing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure

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
	$(PYTHON) plots/check_report.py $(RUN) --screenshot $(RUN)/report-screenshot.png

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
	rm -rf $(BUILD)
