#!/usr/bin/env bash
# Every test suite of ringkv, run by `make test` (after install-deps.sh test).
#
# Suites, in order; each one's result is its real exit status:
#   ctest build        unit tests, RelWithDebInfo build in build/
#   ctest build-asan   the same tests under ASan+UBSan (build-asan/, -DRK_SANITIZE=ON)
#   fuzz               each tests/fuzz/fuzz_* libFuzzer target for FUZZ_TIME s (build-fuzz/, clang)
#   sim                tests/sim/run.sh: seeds of the deterministic simulator
#                      (build-asan/ringkv-sim: slow assertions, ASan and UBSan on)
#   cluster            tests/cluster/run.sh: real ringkvd processes
#   cluster-asan       the same against the ASan+UBSan ringkvd (build-asan/)
# A build that fails fails the suites that need it (the tests that did build
# still run, to show what works). A suite with nothing to run
# yet (no unit test, no fuzzer, no cluster script) is reported as skipped.
# Closes with one line `N passed, N failed` and exits non-zero if any failed.
#
#   scripts/test-all.sh              all suites
#   scripts/test-all.sh --fuzz-only  build and run only the fuzzers (make fuzz)
# Env: JOBS (2), BUILD_TYPE (RelWithDebInfo), FUZZ_TIME (15 s per fuzzer).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS=${JOBS:-2}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
FUZZ_TIME=${FUZZ_TIME:-15}
fuzz_only=0
[[ ${1:-} == --fuzz-only ]] && fuzz_only=1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=() failed=() skipped=()
note() { printf '\n=== %s ===\n' "$*"; }
result() { # name rc seconds
  if [[ $2 -eq 0 ]]; then passed+=("$1"); echo "--- $1: PASS ($3 s)"
  else failed+=("$1"); echo "--- $1: FAIL (exit $2, $3 s)"; fi
}
skip() { skipped+=("$1"); echo "--- $1: skipped ($2)"; }

# configure+build DIR [cmake args...] [-- targets...]
build_dir() {
  local dir=$1; shift
  local args=() targets=()
  while (($#)); do [[ $1 == -- ]] && { shift; targets=("$@"); break; }; args+=("$1"); shift; done
  note "build $dir"
  # Configure every time (a second or two): a failed or older configure never sticks.
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${args[@]}" || return
  local t=()
  for x in "${targets[@]}"; do t+=(--target "$x"); done
  # Keep going past a broken file, so every test that can build still runs.
  local keep=(-k)
  [[ -f $dir/build.ninja ]] && keep=(-k 0)
  cmake --build "$dir" -j"$JOBS" "${t[@]}" -- "${keep[@]}"
}

# run_ctest NAME DIR BUILD_RC
run_ctest() {
  local name=$1 dir=$2 brc=$3 s=$SECONDS rc
  note "$name"
  if ! ctest --test-dir "$dir" -N 2>/dev/null | grep -qE '^Total Tests: [1-9]'; then
    if [[ $brc -ne 0 ]]; then echo "build of $dir failed (exit $brc)"; result "$name" "$brc" 0
    else skip "$name" "no unit tests yet"; fi
    return
  fi
  # Run what did build even if some of it did not; the suite fails either way.
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS"
  rc=$?
  if [[ $brc -ne 0 ]]; then echo "build of $dir failed (exit $brc)"; rc=$brc; fi
  result "$name" "$rc" $((SECONDS - s))
}

run_fuzzers() {
  local s=$SECONDS rc=0 brc f name corpus log
  note "fuzz (${FUZZ_TIME}s per fuzzer)"
  local fuzzers=()
  for f in tests/fuzz/fuzz_*.c; do [[ -f $f ]] && fuzzers+=("$(basename "$f" .c)"); done
  if ((${#fuzzers[@]} == 0)); then skip fuzz "no tests/fuzz/fuzz_*.c yet"; return; fi
  build_dir build-fuzz -DCMAKE_C_COMPILER=clang -DRK_FUZZ=ON -- "${fuzzers[@]}"
  brc=$?
  if [[ $brc -ne 0 ]]; then echo "build of build-fuzz failed (exit $brc)"; result fuzz "$brc" $((SECONDS - s)); return; fi
  mkdir -p build-fuzz/artifacts
  for name in "${fuzzers[@]}"; do
    # Run on a copy of the committed seed corpus: new inputs stay out of git.
    corpus=tests/fuzz/corpus-run/$name
    mkdir -p "$corpus"
    [[ -d tests/fuzz/corpus/$name ]] && cp -r "tests/fuzz/corpus/$name/." "$corpus/"
    local extra=()
    [[ -f tests/fuzz/$name.dict ]] && extra+=("-dict=tests/fuzz/$name.dict")
    log=build-fuzz/$name.log
    echo "$name: $FUZZ_TIME s on $corpus (log $log)"
    if ./build-fuzz/"$name" -max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 \
         -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/"$name"- "${extra[@]}" "$corpus" \
         >"$log" 2>&1; then
      grep -E '^(Done|stat::number_of_executed_units)' "$log" | sed "s/^/  /"
    else
      rc=1
      echo "$name: FAILED; last lines of $log:"; tail -n 40 "$log"
    fi
  done
  result fuzz "$rc" $((SECONDS - s))
}

if ((fuzz_only)); then
  run_fuzzers
else
  build_dir build -DRK_SLOW_ASSERTS=OFF; build_rc=$?
  build_dir build-asan -DRK_SANITIZE=ON; asan_rc=$?
  run_ctest "ctest build" build "$build_rc"
  run_ctest "ctest build-asan" build-asan "$asan_rc"
  run_fuzzers
  note sim
  if [[ ! -f tests/sim/run.sh ]]; then
    skip sim "no tests/sim/run.sh yet"
  elif [[ ! -x build-asan/ringkv-sim ]]; then
    echo "build-asan/ringkv-sim was not built (build exit $asan_rc)"; result sim 1 0
  else
    # The simulator runs with slow assertions, ASan and UBSan: it is where they find most.
    s=$SECONDS; SIM=build-asan/ringkv-sim JOBS=$JOBS bash tests/sim/run.sh
    result sim $? $((SECONDS - s))
  fi
  note cluster
  if [[ ! -f tests/cluster/run.sh ]]; then
    skip cluster "no tests/cluster/run.sh yet"
  elif [[ ! -x build/ringkvd ]]; then
    echo "build/ringkvd was not built (build exit $build_rc)"; result cluster 1 0
  else
    s=$SECONDS; bash tests/cluster/run.sh; result cluster $? $((SECONDS - s))
  fi
  # The same real-process tests on the ASan+UBSan daemon: bad input and kill -9 paths are where
  # memory errors hide, and a node that trips a sanitizer fails the test that started it.
  note cluster-asan
  if [[ -f tests/cluster/run.sh && -x build-asan/ringkvd ]]; then
    s=$SECONDS
    RINGKVD=$PWD/build-asan/ringkvd RINGKV=$PWD/build-asan/ringkv bash tests/cluster/run.sh
    result cluster-asan $? $((SECONDS - s))
  else
    echo "build-asan/ringkvd was not built (build exit $asan_rc)"; result cluster-asan 1 0
  fi
fi

echo
echo "suites passed: ${passed[*]:-none}"
((${#failed[@]}))  && echo "suites FAILED: ${failed[*]}"
((${#skipped[@]})) && echo "suites skipped: ${skipped[*]}"
line="${#passed[@]} passed, ${#failed[@]} failed"
((${#skipped[@]})) && line+=", ${#skipped[@]} skipped"
echo "$line"
((${#failed[@]} == 0))
