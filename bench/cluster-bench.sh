#!/usr/bin/env bash
# cluster-bench.sh — a 3-node ringkv cluster (N=3 R=2 W=2: every key written to 3 replicas)
# against one redis-server, measured by one redis-benchmark binary in one run (issue 4):
# SET and GET, CLIENTS connections, without pipelining and with -P PIPELINE, requests/s and
# p99 / p99.9 latency (from redis-benchmark's percentile distribution). The benchmark talks to
# node 1, which coordinates reads and forwards writes to a primary as any client's node would.
# Each server set runs alone; everything started here is stopped by pid on exit.
#
# Usage: bench/cluster-bench.sh
# Environment: REQUESTS [100000], CLIENTS [50], PIPELINE [16], KEYSPACE [100000],
#   CLUSTERS ["mem lmdb"] (the nodes' engine; lmdb runs with --sync batch), RINGKVD
#   [build/ringkvd], REDIS [yes] (no: skip the redis-server run and the ratios to it, as
#   bench/ab-cluster.sh does), NODE_CPU [no] (yes: also print the CPU time the three nodes
#   used over each cluster's run, from /proc/<pid>/stat, for bench/ab-cluster.sh).
# Needs redis-server, redis-cli, redis-benchmark, awk.
set -euo pipefail
BENCH_NAME=cluster-bench
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-16}
KEYSPACE=${KEYSPACE:-100000}
CLUSTERS=${CLUSTERS:-"mem lmdb"}
RINGKVD=${RINGKVD:-$ROOT/build/ringkvd}
REDIS=${REDIS:-yes}
NODE_CPU=${NODE_CPU:-no}
TMP=$(mktemp -d /tmp/ringkv-cbench.XXXXXX)
declare -a PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT


# measure NAME PORT: one line per (test, pipeline): name test pipeline rps p99 p999
measure() {
    local name=$1 port=$2 p
    for p in 1 "$PIPELINE"; do
        timeout 600 redis-benchmark -p "$port" -t set,get -n "$REQUESTS" -c "$CLIENTS" </dev/null \
            -r "$KEYSPACE" -P "$p" 2>&1 | bench_parse |
            awk -v name="$name" -v p="$p" '{ print name, $1, p, $2, $4, $5 }'
    done
}

results="$TMP/results"
node_cpu=""
: > "$results"

if [[ $REDIS == yes ]]; then
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
        >"$TMP/redis.log" 2>&1 &
    PIDS+=($!)
    wait_ping "$port"
    measure redis "$port" >> "$results"
    stop_all
fi

for engine in $CLUSTERS; do
    start_three "$engine" --sync batch || exit 1
    measure "ringkv-3-$engine" "${cp[1]}" >> "$results"
    if [[ $NODE_CPU == yes ]]; then
        node_cpu+="node-cpu ringkv-3-$engine $(node_cpu_ms "${PIDS[@]}") ms"
        node_cpu+=" for $((4 * REQUESTS)) requests"$'\n'
    fi
    stop_all
done

echo "requests=$REQUESTS clients=$CLIENTS keyspace=$KEYSPACE; ringkv: 3 nodes, N=3 R=2 W=2"
printf '%-16s %-4s %-3s %12s %9s %9s\n' server test P "requests/s" "p99 ms" "p99.9 ms"
awk '{ printf "%-16s %-4s %-3s %12s %9s %9s\n", $1, $2, $3, $4, $5, $6 }' "$results"
if [[ $NODE_CPU == yes ]]; then
    printf '%s' "$node_cpu"
fi
if [[ $REDIS == yes ]]; then
    echo "ratios to redis-server (requests/s):"
    awk '$1 == "redis" { base[$2 " " $3] = $4 }
         $1 != "redis" { printf "  %-16s %-4s P=%-3s %.2f\n", $1, $2, $3, $4 / base[$2 " " $3] }' \
        "$results"
fi
