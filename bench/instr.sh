#!/usr/bin/env bash
# instr.sh — instructions the coordinating node executes per request, counted by valgrind's
# callgrind: a number that other work on the machine does not move (requests/s on a shared
# two-core machine moves 2x between runs; an instruction count stays within a few percent).
# For each build dir given, a 3-node cluster (N=3 R=2 W=2, lib.sh start_three) with node 1
# under callgrind; redis-benchmark sends REQUESTS SETs and then REQUESTS GETs to node 1 (-c 50,
# random keys over KEYSPACE, -d DATA_BYTES, -P PIPELINE); callgrind's counters are zeroed before
# and dumped after each test, so start-up is not counted. Prints instructions per request per
# build and the new/old ratio. Instructions are not time (cache misses, syscalls and the other
# nodes are not in them), so this tells whether a change cut work on the hot path, and
# bench/compare.sh whether it made the cluster faster.
#
# Usage: bench/instr.sh BUILD_DIR [BUILD_DIR...]   (each holds ringkvd; the first is "old";
#   configure them alike: make builds with -DRK_SLOW_ASSERTS=OFF, a bare cmake turns it on)
# Environment: ENGINE [mem], REQUESTS [20000], PIPELINE [16], KEYSPACE [100000],
#   DATA_BYTES [3], OUT_DIR [bench/out] (gets each run's callgrind dump, instr-<time>-<build
#   number>-<test>.callgrind: callgrind_annotate shows where the instructions go). Needs valgrind (callgrind_control), redis-benchmark, redis-cli.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENGINE=${ENGINE:-mem}
REQUESTS=${REQUESTS:-20000}
PIPELINE=${PIPELINE:-16}
KEYSPACE=${KEYSPACE:-100000}
DATA_BYTES=${DATA_BYTES:-3}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
STAMP=$(date +%Y%m%d-%H%M%S)
BENCH_NAME=instr
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 2
fi
for tool in valgrind callgrind_control redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || { echo "instr: $tool not found" >&2; exit 2; }
done
TMP=$(mktemp -d)
PIDS=()
trap bench_cleanup EXIT

# count OUT_FILE: the Ir total of the last dump in OUT_FILE's family.
count() { awk '/^totals:/ { s = $2 } END { print s + 0 }' "$1"; }

declare -A RESULT
i=0
for dir in "$@"; do
    i=$((i + 1))
    RINGKVD=$dir/ringkvd
    [ -x "$RINGKVD" ] || { echo "instr: $RINGKVD missing" >&2; exit 2; }
    out=$TMP/cg.out
    NODE1_WRAP="valgrind --tool=callgrind --callgrind-out-file=$out.%p --dump-instr=no" \
        start_three "$ENGINE"
    node1=${PIDS[0]}
    redis-cli -p "${cp[1]}" set warm up >/dev/null
    for t in set get; do
        callgrind_control -z "$node1" >/dev/null
        redis-benchmark -p "${cp[1]}" -t "$t" -n "$REQUESTS" -c 50 -r "$KEYSPACE" \
            -d "$DATA_BYTES" -P "$PIPELINE" -q >/dev/null 2>&1
        rm -f "$out".*
        callgrind_control -d "$node1" >/dev/null 2>&1
        dump=""
        for _ in $(seq 1 100); do
            dump=$(ls "$out".* 2>/dev/null | head -1)
            [ -n "$dump" ] && grep -q '^totals:' "$dump" && break
            sleep 0.1
        done
        [ -n "$dump" ] || { echo "instr: no callgrind dump from node 1" >&2; exit 1; }
        RESULT[$i,$t]=$(( $(count "$dump") / REQUESTS ))
        mkdir -p "$OUT_DIR" && cp "$dump" "$OUT_DIR/instr-$STAMP-$i-$t.callgrind"
    done
    stop_all
done
printf '%-10s' "test"
for dir in "$@"; do printf ' %14s' "$(basename "$(dirname "$dir")")/$(basename "$dir")"; done
printf ' %8s\n' "last/1st"
for t in set get; do
    printf '%-10s' "$t P$PIPELINE"
    for i in $(seq 1 $#); do printf ' %14s' "${RESULT[$i,$t]}"; done
    awk -v a="${RESULT[1,$t]}" -v b="${RESULT[$#,$t]}" 'BEGIN { printf " %8.3f\n", b / a }'
done
echo "instructions per request on the coordinating node (callgrind Ir), engine $ENGINE," \
     "$REQUESTS requests per test; dumps: $OUT_DIR/instr-$STAMP-*.callgrind"
