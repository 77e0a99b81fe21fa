#!/usr/bin/env bash
# run.sh — run every tests/cluster/test_*.sh (real ringkvd processes on 127.0.0.1; lib.sh and
# netns.sh are helpers they source), then the variants below, and print one closing line
# "N passed, N failed". A test script exits 0 when all its checks held. scripts/test-all.sh runs
# it twice: plain and ASan+UBSan ringkvd. RK_CLUSTER_ONLY=TEXT runs only the tests whose name
# holds TEXT (a variant goes by its own name).
set -u
cd "$(dirname "$0")"
passed=0
failed=0
failed_names=()

# run_test NAME SCRIPT [VAR=VALUE...]: bash SCRIPT with the variables set, reported as NAME.
run_test() {
    local name=$1 script=$2 start
    shift 2
    [ -n "${RK_CLUSTER_ONLY:-}" ] && [[ "$name" != *"$RK_CLUSTER_ONLY"* ]] && return
    echo "== $name"
    start=$(date +%s)
    if env "$@" timeout 600 bash "$script"; then
        passed=$((passed + 1))
        echo "== $name: passed ($(( $(date +%s) - start )) s)"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "== $name: FAILED ($(( $(date +%s) - start )) s)"
    fi
}

for t in test_*.sh; do
    run_test "$t" "$t"
done
# Variants: a test run again with other settings.
run_test test_cart_partition_large test_cart_partition.sh CART_PRELOAD=5000  # 5000-member carts

[ "$failed" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "cluster: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
