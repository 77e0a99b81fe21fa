#!/usr/bin/env bash
# run.sh — run every tests/cluster/test_*.sh (real ringkvd processes on 127.0.0.1; lib.sh and
# netns.sh are helpers they source) and print one closing line "N passed, N failed". A test script
# exits 0 when all its checks held. scripts/test-all.sh runs it twice: plain and ASan+UBSan ringkvd.
set -u
cd "$(dirname "$0")"
passed=0
failed=0
failed_names=()
for t in test_*.sh; do
    [ -n "${RK_CLUSTER_ONLY:-}" ] && [[ "$t" != *"$RK_CLUSTER_ONLY"* ]] && continue
    echo "== $t"
    start=$(date +%s)
    if timeout 600 bash "$t"; then
        passed=$((passed + 1))
        echo "== $t: passed ($(( $(date +%s) - start )) s)"
    else
        failed=$((failed + 1))
        failed_names+=("$t")
        echo "== $t: FAILED ($(( $(date +%s) - start )) s)"
    fi
done
[ "$failed" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "cluster: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
