# bench/lib.sh — what the cluster benchmarks share (cart-ops.sh, cluster-bench.sh, set-cost.sh,
# compare.sh): a free port, waiting for a node to answer, a node's CPU time, stopping what a
# script started, reading redis-benchmark's output. The sourcing script sets BENCH_NAME (its
# messages' prefix), TMP (where node logs are) and the array PIDS (what it started); PORT_MIN and
# PORT_MAX (default 10000-29999) bound the ports free_port picks from; free_port skips the array
# TAKEN_PORTS (ports handed out whose servers may not be listening yet; start_three fills it).

free_port() {
    local port
    for _ in $(seq 1 200); do
        # Below the kernel's ephemeral range (32768+), where outgoing connections take ports.
        port=$((${PORT_MIN:-10000} + RANDOM % (${PORT_MAX:-29999} - ${PORT_MIN:-10000} + 1)))
        # Not one handed out already for a server that has not bound it yet.
        [[ " ${TAKEN_PORTS[*]:-} " == *" $port "* ]] && continue
        if ! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo "$port"; return 0; fi
    done
    return 1
}

# wait_ping PORT [PID]: until redis-cli gets PONG (10 s), else print the logs' tails and fail;
# at once if the server PID has exited (a flag it rejects, say).
wait_ping() {
    for _ in $(seq 1 200); do
        [ "$(redis-cli -p "$1" ping 2>/dev/null)" == "PONG" ] && return 0
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
            echo "${BENCH_NAME:-bench}: the server for port $1 exited; logs:" >&2
            tail -n 5 "$TMP"/*.log >&2 2>/dev/null || true
            return 1
        fi
        sleep 0.05
    done
    echo "${BENCH_NAME:-bench}: nothing answers on port $1; logs:" >&2
    tail -n 5 "$TMP"/*.log >&2 2>/dev/null || true
    return 1
}

# node_cpu_ms PID...: user + system CPU time the processes have used, in milliseconds.
node_cpu_ms() {
    local p ticks=0 hz
    hz=$(getconf CLK_TCK)
    for p in "$@"; do
        # Fields 14 and 15 of /proc/<pid>/stat, counted after the ")" that ends the name.
        ticks=$((ticks + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
    done
    echo $((ticks * 1000 / hz))
}

# stop_all: SIGTERM what PIDS holds, wait for it, and empty PIDS (and TAKEN_PORTS: their
# servers are gone).
stop_all() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
    TAKEN_PORTS=()
}

# bench_cleanup: the scripts' EXIT trap: kill -9 what PIDS holds, wait, remove TMP.
bench_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}

# wait_epoch PORT: until the node has learned its epoch (40 s at most; a new store takes writes
# only then: docs/cluster.md).
wait_epoch() {
    for _ in $(seq 1 800); do
        redis-cli -p "$1" info server | grep -q '^epoch_learning:0' && return 0
        sleep 0.05
    done
}

# start_three ENGINE [ringkvd flags...]: a 3-node cluster (N=3 R=2 W=2, the defaults) of
# $RINGKVD on free ports, data in $TMP/ENGINE-ID, logs in $TMP/ENGINE-ID.log; the client ports
# go to cp[1..3] and the pids to PIDS. ENGINE "default" passes no --engine (ringkvd's default).
# Returns once every node answers, node 1 sees all three and every node learned its epoch.
# NODE1_WRAP, if set, is a command that node 1 runs under (instr.sh: valgrind's callgrind).
start_three() {
    local engine=$1 id members="" first=${#PIDS[@]}
    local -a engine_flag=(--engine "$engine")
    [ "$engine" == default ] && engine_flag=()
    shift
    declare -ga cp=() kp=()
    for id in 1 2 3; do
        cp[$id]=$(free_port)
        TAKEN_PORTS+=("${cp[$id]}")
        kp[$id]=$(free_port)
        TAKEN_PORTS+=("${kp[$id]}")
        members+="${members:+,}$id=127.0.0.1:${cp[$id]}:${kp[$id]}"
    done
    for id in 1 2 3; do
        local wrap=""
        [ "$id" = 1 ] && wrap=${NODE1_WRAP:-}
        # shellcheck disable=SC2086 # NODE1_WRAP is a command and its arguments
        $wrap "$RINGKVD" --node-id "$id" --port "${cp[$id]}" --cluster-port "${kp[$id]}" \
            --members "$members" "${engine_flag[@]}" --data-dir "$TMP/$engine-$id" \
            --log-level warn "$@" >"$TMP/$engine-$id.log" 2>&1 &
        PIDS+=($!)
    done
    for id in 1 2 3; do wait_ping "${cp[$id]}" "${PIDS[$((first + id - 1))]}" || return 1; done
    for _ in $(seq 1 200); do
        [ "$(redis-cli -p "${cp[1]}" rk.members | grep -cE '^(self|up)$')" -ge 3 ] && break
        sleep 0.05
    done
    for id in 1 2 3; do wait_epoch "${cp[$id]}"; done
}

# bench_parse: redis-benchmark's plain (not --csv) output on stdin, carriage returns and all;
# one line per test: TEST RPS P50_MS P99_MS P999_MS, the percentiles from its "Latency by
# percentile distribution" (the first step at or above each percentile).
bench_parse() {
    tr '\r' '\n' | awk '
        /^====== / { test = $2; inpct = 0; p50 = ""; p99 = ""; p999 = "" }
        /Latency by percentile distribution/ { inpct = 1; next }
        /Cumulative distribution of latencies/ { inpct = 0 }
        inpct && /%/ {
            v = $1; sub(/%/, "", v); v += 0
            if (p50 == "" && v >= 50.0) p50 = $3
            if (p99 == "" && v >= 99.0) p99 = $3
            if (p999 == "" && v >= 99.9) p999 = $3
        }
        /throughput summary:/ { print test, $3, p50, p99, p999 }'
}
