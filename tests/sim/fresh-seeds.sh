#!/usr/bin/env bash
# fresh-seeds.sh — COUNT fresh simulator seeds under every fault (Groundwork I's figure: "1,000
# fresh simulator seeds with --faults all report 0 lost acknowledged writes and converge").
# 5 nodes, N=3 R=2 W=2, sync batch, lww and siblings alternating, OPS ops each. Prints each
# failing seed's replay command, then one line with the totals; exits 1 if any seed failed,
# lost an acknowledged write or did not converge. Not part of `make test` (about 10 minutes
# for 1000 seeds on the ASan build); `make soak` runs the configurations of run.sh instead.
#
# Env: SIM (build-asan/ringkv-sim), COUNT (1000), OPS (1500), SEED_BASE (from the date), EXTRA
# (more ringkv-sim flags: EXTRA=--break-sibling-merge shows the script failing).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

SIM=${SIM:-build-asan/ringkv-sim}
COUNT=${COUNT:-1000}
OPS=${OPS:-1500}
SEED_BASE=${SEED_BASE:-$(( $(date +%Y%m%d) * 10000 ))}
[[ -x $SIM ]] || { echo "fresh-seeds: $SIM was not built"; exit 1; }
echo "fresh-seeds: $SIM, $COUNT seeds from $SEED_BASE, $OPS ops, --faults all"

failed=0 lost=0 diverged=0
for ((i = 1; i <= COUNT; i++)); do
  seed=$((SEED_BASE + i))
  policy=siblings; ((i % 2)) && policy=lww
  args=(--seed "$seed" --nodes 5 --n 3 --r 2 --w 2 --ops "$OPS" --faults all
        --policy "$policy" --sync batch ${EXTRA:-})
  out=$("$SIM" "${args[@]}" 2>&1)
  rc=$?
  l=$(sed -n 's/^lost_acked_writes: \([0-9]*\)$/\1/p' <<<"$out")
  lost=$((lost + ${l:-0}))
  grep -qx 'converged: yes' <<<"$out" || diverged=$((diverged + 1))
  if ((rc != 0)) || [[ ${l:-x} != 0 ]] || ! grep -qx 'converged: yes' <<<"$out"; then
    failed=$((failed + 1))
    echo "FAIL (exit $rc): $SIM ${args[*]}"
  fi
done
echo "fresh-seeds: $COUNT seeds, $failed failed, lost_acked_writes $lost, not converged $diverged"
((failed == 0))
