#!/usr/bin/env bash
# bench/membership.sh — how fast a join moves data, and what it costs the load (issue 15).
#
# A 3-node cluster (default store) is loaded with KEYS keys of SIZE bytes; then, ROUNDS times:
# redis-benchmark SETs through node 1 without a membership change ("before"), then a fresh node
# joins (ringkv cluster join, commit) while the same benchmark runs ("during"), and the script
# waits until every node reports the plan done. Printed per round: keys and MB the joiner
# received, the transfer's wall time, keys/s and MB/s, and the benchmark's requests/s and p99 in
# both phases; last, the medians over rounds with their min-max. Each round's joiner leaves
# again before the next round (a leave moves the same amount back), so rounds start alike.
#
#   KEYS=100000 SIZE=1024 ROUNDS=3 THROTTLE=1000000 bash bench/membership.sh [build-dir]
#
# THROTTLE is RK.CLUSTER THROTTLE (objects per second per receiver; the default 20000 applies
# when unset). The load is BENCH_N SETs (-c 20 -P 1, 100-byte values) per phase.
set -euo pipefail
BUILD=${1:-build}
RINGKVD=$(realpath "$BUILD/ringkvd")
RINGKV=$(realpath "$BUILD/ringkv")
BENCH_NAME=membership
KEYS=${KEYS:-100000}
SIZE=${SIZE:-1024}
ROUNDS=${ROUNDS:-3}
BENCH_N=${BENCH_N:-100000}
THROTTLE=${THROTTLE:-}
TMP=$(mktemp -d /tmp/rk-bench-membership.XXXXXX)
PIDS=()
TAKEN_PORTS=()
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT

# The sum of one INFO membership field over the given client ports.
info_sum() {
    local field=$1 sum=0 port v
    shift
    for port in "$@"; do
        v=$(redis-cli -p "$port" info membership | tr -d '\r' | awk -F: -v f="$field" '$1 == f { print $2 }')
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

# Wait until no node has transfers pending and all report one ring version; print the time.
wait_settled() {
    local port versions pending
    for _ in $(seq 1 6000); do
        pending=$(info_sum transfers_pending "$@")
        versions=$(for port in "$@"; do redis-cli -p "$port" info membership | tr -d '\r' |
            awk -F: '$1 == "ring_version" { print $2 }'; done | sort -u | wc -l)
        if [ "$pending" = 0 ] && [ "$versions" = 1 ] &&
            ! "$RINGKV" --port "$1" cluster status | grep -qE 'running|waiting|stalled'; then
            date +%s.%N
            return 0
        fi
        sleep 0.05
    done
    echo "membership: transfers did not settle" >&2
    return 1
}

median_of() { sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f (%.1f-%.1f)", m, v[1], v[NR] }'; }

# A generous request timeout: a loaded two-core machine can hold a durable write past 5 s, and
# redis-benchmark stops at the first error.
start_three default --request-timeout-ms 30000
echo "membership: loading $KEYS keys of $SIZE bytes" >&2
redis-benchmark -p "${cp[1]}" -t set -n "$KEYS" -r 1000000000 -d "$SIZE" -c 10 -P 4 -q >/dev/null
: >"$TMP/rounds"
for round in $(seq 1 "$ROUNDS"); do
    id=$((3 + round))
    port=$(free_port)
    TAKEN_PORTS+=("$port")
    kport=$(free_port)
    TAKEN_PORTS+=("$kport")
    "$RINGKVD" --node-id "$id" --port "$port" --cluster-port "$kport" --data-dir "$TMP/n$id" \
        --request-timeout-ms 30000 --log-level warn >"$TMP/n$id.log" 2>&1 &
    PIDS+=($!)
    wait_ping "$port" "$!"
    [ -n "$THROTTLE" ] && for p in "${cp[@]}" "$port"; do redis-cli -p "$p" rk.cluster throttle "$THROTTLE" >/dev/null; done
    before=$(redis-benchmark -p "${cp[1]}" -t set -n "$BENCH_N" -r 1000000 -d 100 -c 20 | bench_parse)
    got0=$(info_sum transfer_keys_received "${cp[@]}" "$port")
    bytes0=$(info_sum transfer_bytes_received "${cp[@]}" "$port")
    "$RINGKV" --port "$port" cluster join "127.0.0.1:${cp[1]}" >/dev/null
    t0=$(date +%s.%N)
    "$RINGKV" --port "${cp[1]}" cluster commit >/dev/null
    redis-benchmark -p "${cp[1]}" -t set -n "$BENCH_N" -r 1000000 -d 100 -c 20 | bench_parse >"$TMP/during" &
    load=$!
    t1=$(wait_settled "${cp[@]}" "$port")
    tload=$(date +%s.%N)
    wait "$load"
    during=$(cat "$TMP/during")
    got=$(($(info_sum transfer_keys_received "${cp[@]}" "$port") - got0))
    bytes=$(($(info_sum transfer_bytes_received "${cp[@]}" "$port") - bytes0))
    secs=$(echo "$t1 - $t0" | bc -l)
    read -r _ rps_b _ p99_b _ <<<"$before"
    read -r _ rps_d _ p99_d _ <<<"$during"
    printf 'round %d: received %d keys %.1f MB in %.2f s = %.0f keys/s %.2f MB/s; load before %s req/s p99 %s ms, during %s req/s p99 %s ms (load ran %.1f s past the transfer)\n' \
        "$round" "$got" "$(echo "$bytes / 1048576" | bc -l)" "$secs" "$(echo "$got / $secs" | bc -l)" \
        "$(echo "$bytes / 1048576 / $secs" | bc -l)" "$rps_b" "$p99_b" "$rps_d" "$p99_d" \
        "$(echo "$(date +%s.%N) - $tload" | bc -l)"
    echo "$(echo "$got / $secs" | bc -l) $(echo "$bytes / 1048576 / $secs" | bc -l) $p99_b $p99_d" >>"$TMP/rounds"
    # The joiner leaves again, so the next round starts from three nodes.
    "$RINGKV" --port "${cp[1]}" cluster leave "$id" >/dev/null
    "$RINGKV" --port "${cp[1]}" cluster commit >/dev/null
    wait_settled "${cp[@]}" >/dev/null
    for _ in $(seq 1 600); do
        [ "$(info_sum members "${cp[1]}")" = 3 ] && break
        sleep 0.05
    done
done
echo "medians over $ROUNDS rounds (min-max): keys/s $(awk '{ print $1 }' "$TMP/rounds" | median_of)," \
    "MB/s $(awk '{ print $2 }' "$TMP/rounds" | median_of)," \
    "SET p99 before $(awk '{ print $3 }' "$TMP/rounds" | median_of) ms," \
    "during $(awk '{ print $4 }' "$TMP/rounds" | median_of) ms"
