#!/usr/bin/env bash
# routing.sh — what client-driven coordination (Dynamo 6.4) buys: a 5-node ringkv cluster
# (N=3 R=2 W=2) measured three ways, all starting from node 1:
#
#   redis-bench   redis-benchmark through node 1 (it coordinates reads and forwards each write
#                 whose key it is no primary of, 2 in 5 here, to a primary)
#   ringkv-off    `ringkv bench --routing off`: the same load from libringkv, all to node 1
#   ringkv-on     `ringkv bench --routing on`: each client holds a connection per node and sends
#                 each request to the first primary of its key (RK.RING ROUTE), so no write is
#                 forwarded and reads are coordinated by a replica that holds the key
#
# SET and GET, CLIENTS clients, each at -P 1 and -P 16 (PIPELINES), ROUNDS rounds; each round
# runs the three in a rotated order (round 1: redis-bench, off, on; round 2: off, on,
# redis-bench; ...) so that drift of a shared machine does not always favour the same one.
# Prints, per test, pipeline and way: the median requests/s with the min-max spread over the
# rounds, the median p50 and p99 latency, and the writes the cluster forwarded per request;
# then the on/off and on/redis-bench ratios of the medians. Raw CSV (one line per round, way,
# pipeline and test) goes to bench/out/routing-<time>.csv.
#
# Usage: bench/routing.sh [-h]
# Environment (defaults in brackets): ENGINE [mem] (lmdb runs with --sync batch), ROUNDS [3],
#   REQUESTS [50000] per test, CLIENTS [50], KEYSPACE [100000], DATA_BYTES [3],
#   PIPELINES ["1 16"], PORT_BASE [21500] (client ports PORT_BASE..+4, cluster ports +10..+14,
#   on 127.0.0.1), RINGKVD [build/ringkvd], RINGKV [build/ringkv], RUN_TIMEOUT_S [600],
#   OUT_DIR [bench/out].
# Needs redis-cli, redis-benchmark, awk, sort.
set -euo pipefail
BENCH_NAME=routing
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENGINE=${ENGINE:-mem}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-50000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
DATA_BYTES=${DATA_BYTES:-3}
PIPELINES=${PIPELINES:-"1 16"}
PORT_BASE=${PORT_BASE:-21500}
RINGKVD=${RINGKVD:-$ROOT/build/ringkvd}
RINGKV=${RINGKV:-$ROOT/build/ringkv}
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-600}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
NODES=5
WAYS=(redis-bench ringkv-off ringkv-on)

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
if [[ $# -gt 0 ]]; then
    case "$1" in
        -h|--help) usage; exit 0 ;;
        *) echo "routing: unknown argument \"$1\"" >&2; usage >&2; exit 2 ;;
    esac
fi
for tool in redis-cli redis-benchmark awk sort timeout; do
    command -v "$tool" >/dev/null 2>&1 || { echo "routing: $tool not found (make deps-bench)" >&2; exit 2; }
done
for f in "$RINGKVD" "$RINGKV"; do
    [[ -x $f ]] || { echo "routing: $f not built (make build)" >&2; exit 2; }
done
case "$ENGINE" in
    mem) ENGINE_FLAGS=(--engine mem --sync none) ;;
    lmdb) ENGINE_FLAGS=(--engine lmdb --sync batch) ;;
    *) echo "routing: ENGINE is mem or lmdb, not \"$ENGINE\"" >&2; exit 2 ;;
esac
for n in "$ROUNDS" "$REQUESTS" "$CLIENTS" "$KEYSPACE" "$PORT_BASE"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "routing: \"$n\" is not a positive integer" >&2; exit 2; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringkv-routing.XXXXXX")
declare -a PIDS=()
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the cluster ------------------------------------------------------------------------------
declare -a cp=() kp=()
members=""
for id in $(seq 1 $NODES); do
    cp[$id]=$((PORT_BASE + id - 1))
    kp[$id]=$((PORT_BASE + 10 + id - 1))
    for port in "${cp[$id]}" "${kp[$id]}"; do
        if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
            echo "routing: port $port is in use; set PORT_BASE" >&2
            exit 2
        fi
    done
    members+="${members:+,}$id=127.0.0.1:${cp[$id]}:${kp[$id]}"
done
for id in $(seq 1 $NODES); do
    "$RINGKVD" --node-id "$id" --bind 127.0.0.1 --port "${cp[$id]}" --cluster-port "${kp[$id]}" \
        --http-port 0 --members "$members" "${ENGINE_FLAGS[@]}" --data-dir "$TMP/n$id" \
        --log-level warn >"$TMP/n$id.log" 2>&1 &
    PIDS+=($!)
done
for id in $(seq 1 $NODES); do wait_ping "${cp[$id]}"; done
for id in $(seq 1 $NODES); do
    for _ in $(seq 1 800); do
        redis-cli -p "${cp[$id]}" info server | grep -q '^epoch_learning:0' && break
        sleep 0.05
    done
done
for _ in $(seq 1 200); do
    [ "$(redis-cli -p "${cp[1]}" rk.members | grep -cE '^(self|up)$')" -ge $NODES ] && break
    sleep 0.05
done

# forwarded_total: INFO forwarded summed over the nodes.
forwarded_total() {
    local id total=0 v
    for id in $(seq 1 $NODES); do
        v=$(redis-cli -p "${cp[$id]}" info stats | tr -d '\r' | awk -F: '$1 == "forwarded" {print $2}')
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# run WAY P: the CSV lines ("test","rps","avg",...) of one run of SET then GET.
run() {
    local way=$1 p=$2
    local common=(-p "${cp[1]}" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -d "$DATA_BYTES"
                  -P "$p" -t set,get --csv)
    case "$way" in
        redis-bench) timeout "$RUN_TIMEOUT_S" redis-benchmark "${common[@]}" </dev/null ;;
        ringkv-off) timeout "$RUN_TIMEOUT_S" "$RINGKV" bench "${common[@]}" --routing off ;;
        ringkv-on) timeout "$RUN_TIMEOUT_S" "$RINGKV" bench "${common[@]}" --routing on ;;
    esac
}

mkdir -p "$OUT_DIR"
csv="$OUT_DIR/routing-$(date +%Y%m%d-%H%M%S).csv"
echo "round,way,pipeline,test,rps,avg_ms,p50_ms,p99_ms,forwarded_per_request" > "$csv"
for round in $(seq 1 "$ROUNDS"); do
    for p in $PIPELINES; do
        for k in 0 1 2; do
            way=${WAYS[$(( (round - 1 + k) % 3 ))]}
            before=$(forwarded_total)
            if ! out=$(run "$way" "$p" 2>"$TMP/err"); then
                echo "routing: $way -P $p failed: $(head -1 "$TMP/err")" >&2
                exit 1
            fi
            # Only SETs are ever forwarded (a node coordinates reads itself).
            fwd=$(( $(forwarded_total) - before ))
            printf '%s\n' "$out" | tr -d '\r' | awk -F'","' -v r="$round" -v w="$way" -v p="$p" \
                -v fwd="$fwd" -v n="$REQUESTS" '
                /^"(SET|GET)"/ {
                    gsub(/"/, "", $0); split($0, f, ",")
                    # redis-benchmark has no p99.9 column: p99 is the 7th field in both.
                    printf "%s,%s,%s,%s,%s,%s,%s,%s,%.3f\n", r, w, p, f[1], f[2], f[3], f[5], f[7],
                        (f[1] == "SET" ? fwd / n : 0)
                }' >> "$csv"
            echo "round $round: $way -P $p done" >&2
        done
    done
done

# median_of FIELD TEST P WAY: the median of a column over the rounds; spread_of: min-max.
column_of() { awk -F, -v t="$2" -v p="$3" -v w="$4" -v c="$1" \
    'NR > 1 && $4 == t && $3 == p && $2 == w {print $c}' "$csv" | sort -g; }
median_of() { column_of "$@" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
spread_of() { column_of "$@" | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f-%.0f", lo, hi}'; }

echo
echo "5 nodes ($ENGINE), N=3 R=2 W=2; $CLIENTS clients, $REQUESTS requests per test, keyspace" \
     "$KEYSPACE, $DATA_BYTES-byte values, $ROUNDS rounds (median, min-max)"
printf '%-4s %-3s %-12s %12s %15s %8s %8s %9s\n' test P way "requests/s" "min-max" "p50 ms" \
    "p99 ms" "fwd/req"
for t in SET GET; do
    for p in $PIPELINES; do
        for way in "${WAYS[@]}"; do
            printf '%-4s %-3s %-12s %12.0f %15s %8.3f %8.3f %9.2f\n' "$t" "$p" "$way" \
                "$(median_of 5 "$t" "$p" "$way")" "$(spread_of 5 "$t" "$p" "$way")" \
                "$(median_of 7 "$t" "$p" "$way")" "$(median_of 8 "$t" "$p" "$way")" \
                "$(median_of 9 "$t" "$p" "$way")"
        done
    done
done
echo "ratios of median requests/s:"
for t in SET GET; do
    for p in $PIPELINES; do
        on=$(median_of 5 "$t" "$p" ringkv-on)
        off=$(median_of 5 "$t" "$p" ringkv-off)
        rb=$(median_of 5 "$t" "$p" redis-bench)
        awk -v t="$t" -v p="$p" -v on="$on" -v off="$off" -v rb="$rb" \
            'BEGIN {printf "  %-4s P=%-3s on/off %.2f  on/redis-bench %.2f  off/redis-bench %.2f\n", t, p, on / off, on / rb, off / rb}'
    done
done
echo "raw: $csv"
