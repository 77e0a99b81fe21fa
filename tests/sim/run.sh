#!/usr/bin/env bash
# The simulator suite (issue 5; docs/simulator.md), run by scripts/test-all.sh and `make test`.
#
#   1. every regression seed of tests/sim/seeds.txt;
#   2. fresh seeds across configurations: N=3 R=2 W=2 on 5 nodes, --faults none, crash,
#      partition and all, policies siblings and lww, sync batch and always (the sloppy quorum
#      on), plus strict quorums (--no-sloppy) and R=W=1, both under --faults all;
#   3. determinism: one seed twice gives byte-identical output;
#   4. proofs that the checkers can fail: R=W=1 under partitions shows stale reads, lww under
#      clock skew shows lww_dropped, and the test-only --break-sibling-merge is caught as lost
#      acknowledged writes.
# Each run is one test; a failing one prints its replay command. Closes with
# `sim: N passed, N failed` and exits non-zero if any failed.
#
# Env: SIM (build/ringkv-sim), SEEDS per configuration (25), OPS per run (1500), JOBS (2),
# SEED_BASE (derived from the date, printed; set it to replay a whole suite run).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

SIM=${SIM:-build/ringkv-sim}
SEEDS=${SEEDS:-25}
OPS=${OPS:-1500}
JOBS=${JOBS:-2}
SEED_BASE=${SEED_BASE:-$(( $(date +%Y%m%d) * 1000 ))}
export SIM

if [[ ! -x $SIM ]]; then
  echo "sim: $SIM was not built"; echo "sim: 0 passed, 1 failed"; exit 1
fi
echo "sim: $SIM, seed base $SEED_BASE, $SEEDS seeds per configuration, $OPS ops each"

passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# One run per line of arguments on stdin, JOBS at a time; prints PASS/FAIL lines.
run_many() {
  xargs -P "$JOBS" -I{} bash -c 'if out=$($SIM {} 2>&1); then echo "PASS {}"; else
    echo "FAIL $SIM {}"; echo "$out" | grep -E "^(lost|resurrected|stale|converged)|replay" |
    sed "s/^/    /"; fi'
}
tally() {
  local line
  while IFS= read -r line; do
    case $line in
      PASS*) pass ;;
      FAIL*) failed=$((failed + 1)); echo "$line" ;;
      *) echo "$line" ;;
    esac
  done
}

# 1. Regression seeds: each line holds the arguments of one run (comments start with #).
if [[ -f tests/sim/seeds.txt ]]; then
  grep -vE '^\s*(#|$)' tests/sim/seeds.txt | run_many > /tmp/rk-sim-$$.out
  tally < /tmp/rk-sim-$$.out
fi

# 2. Fresh seeds across configurations.
configs=()
for faults in none crash partition all; do
  for policy in siblings lww; do
    for sync in batch always; do
      configs+=("--nodes 5 --n 3 --r 2 --w 2 --ops $OPS --faults $faults --policy $policy --sync $sync")
    done
  done
done
# Strict quorums (no sloppy quorum) keep their own promises too; R = W = 1 under every fault.
configs+=("--nodes 5 --n 3 --r 2 --w 2 --ops $OPS --faults all --policy siblings --no-sloppy")
configs+=("--nodes 5 --n 3 --r 1 --w 1 --ops $OPS --faults all --policy siblings")
i=0
for cfg in "${configs[@]}"; do
  for ((s = 0; s < SEEDS; s++)); do
    echo "--seed $((SEED_BASE + i * 1000 + s)) $cfg"
  done
  i=$((i + 1))
done | run_many > /tmp/rk-sim-$$.out
tally < /tmp/rk-sim-$$.out
rm -f /tmp/rk-sim-$$.out

# 3. Determinism: the same seed and options give the same output, byte for byte.
det="--seed $SEED_BASE --nodes 5 --n 3 --r 2 --w 2 --ops $OPS --faults all"
if cmp -s <($SIM $det 2>&1) <($SIM $det 2>&1); then pass; else fail "determinism: $SIM $det"; fi

# 4. The checkers can fail. Sum a checker over seeds; expect it above zero.
sum_over_seeds() { # checker count args...
  local name=$1 count=$2 total=0 v s; shift 2
  for ((s = 0; s < count; s++)); do
    v=$($SIM --seed $((SEED_BASE + 900000 + s)) "$@" 2>/dev/null | sed -n "s/^$name: //p")
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
proof() { # label checker count args...
  local label=$1 name=$2 count=$3; shift 3
  local total; total=$(sum_over_seeds "$name" "$count" "$@")
  if ((total > 0)); then pass; echo "proof: $label: $name = $total over $count seeds"
  else fail "proof: $label: $name stayed 0 over $count seeds ($SIM $*)"; fi
}
proof "R=W=1 under partitions" stale_reads 10 \
  --nodes 5 --n 3 --r 1 --w 1 --ops $OPS --faults partition
proof "lww under clock skew" lww_dropped 10 \
  --nodes 5 --n 3 --r 1 --w 1 --ops $OPS --faults skew,loss --policy lww
proof "replicas that drop siblings" lost_acked_writes 10 \
  --nodes 5 --n 3 --r 2 --w 2 --ops $OPS --faults none --break-sibling-merge

echo "sim: $passed passed, $failed failed"
((failed == 0))
