# ringkv — top-level entry points. On a fresh Debian 12, as root:
#   make run    install what is missing, build, start 3 nodes on 127.0.0.1:7001-7003
#               (build/ringkv dev-cluster --nodes 3 --base-port 7001; Ctrl-C stops them)
#   make test   install what is missing, build (plain, ASan+UBSan, libFuzzer), run every suite
# Other targets: make (build into build/), make soak, make fuzz, make bench, make clean.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
MAKEFLAGS += --no-print-directory

BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= 2
CMAKE_ARGS ?=

.PHONY: all build run test soak fuzz bench clean deps-build deps-test deps-bench

all: build

deps-build:
	@bash scripts/install-deps.sh build
deps-test:
	@bash scripts/install-deps.sh test
deps-bench:
	@bash scripts/install-deps.sh bench

# Configuring every time costs a second and means a failed configure never sticks.
build: deps-build
	cmake -S . -B build -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DRK_SLOW_ASSERTS=OFF $(CMAKE_ARGS)
	cmake --build build -j$(JOBS)

run: build
	exec bash scripts/run-local.sh

# The suites (builds, ctest plain and sanitized, fuzzers, cluster tests) and the
# closing `N passed, N failed` line are in scripts/test-all.sh.
test: deps-test
	JOBS=$(JOBS) BUILD_TYPE=$(BUILD_TYPE) bash scripts/test-all.sh

# Many more simulator seeds than make test runs (tests/sim/run.sh; SEEDS per configuration).
soak: build
	SEEDS=$${SEEDS:-250} OPS=$${OPS:-2000} JOBS=$(JOBS) bash tests/sim/run.sh

fuzz: deps-test
	JOBS=$(JOBS) FUZZ_TIME=$${FUZZ_TIME:-600} bash scripts/test-all.sh --fuzz-only

bench: deps-bench build
	@test -f bench/resp-bench.sh || { echo "bench/resp-bench.sh does not exist yet" >&2; exit 1; }
	bash bench/resp-bench.sh

clean:
	rm -rf build build-asan build-fuzz tests/fuzz/corpus-run
