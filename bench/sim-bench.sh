#!/usr/bin/env bash
# sim-bench.sh — how fast the deterministic simulator explores schedules (issue 5's target: a
# 5-node, 2,000-operation --faults all seed in under 0.1 s of wall time on one core).
#
# Runs SEEDS seeds (default 100) of
#   build/ringkv-sim --nodes 5 --n 3 --r 2 --w 2 --ops 2000 --faults all
# one after the other on one core (no parallelism: the number is per core), and prints wall
# time per seed, simulated operations per second of wall time, simulated events per second,
# and simulated time per wall time. Raw numbers go to bench/out/sim-bench-<time>.csv.
#
# Usage: bench/sim-bench.sh [-h]   Env: SIM (build/ringkv-sim), SEEDS (100), OPS (2000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ ${1:-} == -h ]] && { sed -n '2,11p' "$0"; exit 0; }

SIM=${SIM:-build/ringkv-sim}
SEEDS=${SEEDS:-100}
OPS=${OPS:-2000}
[[ -x $SIM ]] || { echo "sim-bench: $SIM not built (make build)" >&2; exit 1; }
mkdir -p bench/out
csv=bench/out/sim-bench-$(date +%Y%m%d-%H%M%S).csv
echo "seed,wall_ns,ops,events,simulated_ms" > "$csv"

total_ns=0 total_ops=0 total_events=0 total_sim_ms=0 max_ns=0
for ((s = 1; s <= SEEDS; s++)); do
  t0=$(date +%s%N)
  out=$($SIM --seed "$s" --nodes 5 --n 3 --r 2 --w 2 --ops "$OPS" --faults all) || {
    echo "sim-bench: seed $s failed a checker (see ringkv-sim's replay line)" >&2; }
  t1=$(date +%s%N)
  ns=$((t1 - t0))
  ops=$(sed -n 's/^ops: //p' <<<"$out")
  events=$(sed -n 's/^events: //p' <<<"$out")
  sim_ms=$(sed -n 's/^simulated_ms: //p' <<<"$out")
  echo "$s,$ns,$ops,$events,$sim_ms" >> "$csv"
  total_ns=$((total_ns + ns)); total_ops=$((total_ops + ops))
  total_events=$((total_events + events)); total_sim_ms=$((total_sim_ms + sim_ms))
  ((ns > max_ns)) && max_ns=$ns
done

awk -v n="$SEEDS" -v ns="$total_ns" -v ops="$total_ops" -v ev="$total_events" \
    -v sim="$total_sim_ms" -v max="$max_ns" 'BEGIN {
  printf "sim-bench: %d seeds, 5 nodes, N=3 R=2 W=2, --faults all, process start included\n", n
  printf "wall per seed:        %.4f s (max %.4f s; target < 0.1 s)\n", ns / n / 1e9, max / 1e9
  printf "ops per second:       %.0f simulated client ops per wall second\n", ops / (ns / 1e9)
  printf "events per second:    %.0f\n", ev / (ns / 1e9)
  printf "simulated/wall time:  %.0fx\n", sim / (ns / 1e6)
  printf "1,000 seeds:          %.0f s on one core\n", ns / n / 1e9 * 1000
}'
echo "raw: $csv"
