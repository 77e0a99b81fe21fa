#!/usr/bin/env bash
# sim-sloppy.sh — the availability the sloppy quorum buys (issue 6), measured in the simulator:
# the same SEEDS seeds (default 1000) of
#   build/ringkv-sim --nodes 5 --n 3 --r R --w W --ops 2000 --faults all --policy POLICY
# once with the sloppy quorum (the default) and once with --no-sloppy (strict quorums), side by
# side. Prints per mode: seeds failing a promised checker, lost acknowledged writes, seeds not
# converged, hints or hinted copies left after the heal, the mean unavailable share of writes
# and reads, and writes acknowledged / indeterminate / refused. Raw lines go to
# bench/out/sim-sloppy-<time>.csv.
#
# Usage: bench/sim-sloppy.sh [-h]
# Env: SIM (build/ringkv-sim), SEEDS (1000), R (2), W (2), POLICY (siblings), SYNC (batch),
#      JOBS (2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ ${1:-} == -h ]] && { sed -n '2,13p' "$0"; exit 0; }

SIM=${SIM:-build/ringkv-sim}
SEEDS=${SEEDS:-1000}
R=${R:-2}
W=${W:-2}
POLICY=${POLICY:-siblings}
SYNC=${SYNC:-batch}
JOBS=${JOBS:-2}
[[ -x $SIM ]] || { echo "sim-sloppy: $SIM not built (make build)" >&2; exit 1; }
mkdir -p bench/out
csv=bench/out/sim-sloppy-$(date +%Y%m%d-%H%M%S).csv

# one_seed MODE SEED: one csv line.
one_seed() {
  local mode=$1 seed=$2 flag=""
  [[ $mode == strict ]] && flag=--no-sloppy
  $SIM --seed "$seed" --nodes 5 --n 3 --r "$R" --w "$W" --ops 2000 --faults all \
      --policy "$POLICY" --sync "$SYNC" $flag 2>/dev/null |
    awk -v mode="$mode" -v seed="$seed" -F': ' '
      { v[$1] = $2 }
      END {
        ok = (v["result"] == "ok") ? 1 : 0
        printf "%s,%s,%d,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", mode, seed, ok, v["lost_acked_writes"],
          v["converged"], v["hints_left"], v["hinted_copies_left"], v["unavailable_writes"],
          v["unavailable_reads"], v["acked_writes"], v["indeterminate_writes"],
          v["refused_writes"]
      }'
}
export -f one_seed
export SIM R W POLICY SYNC

echo "mode,seed,ok,lost,converged,hints_left,copies_left,unavail_w,unavail_r,acked,indet,refused" \
  > "$csv"
for mode in sloppy strict; do
  seq 1 "$SEEDS" | xargs -P "$JOBS" -I{} bash -c "one_seed $mode {}" >> "$csv"
done

echo "sim-sloppy: $SEEDS seeds, 5 nodes, N=3 R=$R W=$W, --faults all, policy $POLICY, sync $SYNC"
awk -F, 'NR > 1 {
    m = $1; n[m]++; fail[m] += 1 - $3; lost[m] += $4; nc[m] += ($5 != "yes")
    left[m] += ($6 > 0 || $7 > 0); uw[m] += $8; ur[m] += $9; a[m] += $10; i[m] += $11; r[m] += $12
  }
  END {
    printf "%-7s %6s %6s %5s %8s %9s %9s %10s %8s %8s\n", "mode", "seeds", "failed", "lost",
      "diverged", "unavail_w", "unavail_r", "acked", "indeterm", "refused"
    for (m in n)
      printf "%-7s %6d %6d %5d %8d %9.4f %9.4f %10d %8d %8d   (hints left in %d seeds)\n", m, n[m],
        fail[m], lost[m], nc[m], uw[m] / n[m], ur[m] / n[m], a[m], i[m], r[m], left[m]
  }' "$csv"
echo "raw: $csv"
