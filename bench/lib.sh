# bench/lib.sh — what the cluster benchmarks share (cart-ops.sh, cluster-bench.sh, set-cost.sh):
# a free port, waiting for a node to answer, a node's CPU time, stopping what a script started.
# The sourcing script sets BENCH_NAME (its messages' prefix), TMP (where node logs are) and the
# array PIDS (what it started).

free_port() {
    local port
    for _ in $(seq 1 200); do
        # Below the kernel's ephemeral range (32768+), where outgoing connections take ports.
        port=$((10000 + RANDOM % 20000))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo "$port"; return 0; fi
    done
    return 1
}

# wait_ping PORT: until redis-cli gets PONG (10 s), else print the logs' tails and fail.
wait_ping() {
    for _ in $(seq 1 200); do
        [ "$(redis-cli -p "$1" ping 2>/dev/null)" == "PONG" ] && return 0
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

# stop_all: SIGTERM what PIDS holds, wait for it, and empty PIDS.
stop_all() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}

# bench_cleanup: the scripts' EXIT trap: kill -9 what PIDS holds, wait, remove TMP.
bench_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}

# start_three ENGINE [ringkvd flags...]: a 3-node cluster (N=3 R=2 W=2, the defaults) of
# $RINGKVD on free ports, data in $TMP/ENGINE-ID, logs in $TMP/ENGINE-ID.log; the client ports
# go to cp[1..3] and the pids to PIDS. Returns once every node answers, node 1 sees all three and
# every node learned its epoch (a new store takes writes only then: docs/cluster.md).
# NODE1_WRAP, if set, is a command that node 1 runs under (instr.sh: valgrind's callgrind).
start_three() {
    local engine=$1 id members=""
    shift
    declare -ga cp=() kp=()
    for id in 1 2 3; do
        cp[$id]=$(free_port)
        kp[$id]=$(free_port)
        members+="${members:+,}$id=127.0.0.1:${cp[$id]}:${kp[$id]}"
    done
    for id in 1 2 3; do
        local wrap=""
        [ "$id" = 1 ] && wrap=${NODE1_WRAP:-}
        # shellcheck disable=SC2086 # NODE1_WRAP is a command and its arguments
        $wrap "$RINGKVD" --node-id "$id" --port "${cp[$id]}" --cluster-port "${kp[$id]}" \
            --members "$members" --engine "$engine" --data-dir "$TMP/$engine-$id" \
            --log-level warn "$@" >"$TMP/$engine-$id.log" 2>&1 &
        PIDS+=($!)
    done
    for id in 1 2 3; do wait_ping "${cp[$id]}" || return 1; done
    for _ in $(seq 1 200); do
        [ "$(redis-cli -p "${cp[1]}" rk.members | grep -cE '^(self|up)$')" -ge 3 ] && break
        sleep 0.05
    done
    for id in 1 2 3; do
        for _ in $(seq 1 800); do
            redis-cli -p "${cp[$id]}" info server | grep -q '^epoch_learning:0' && break
            sleep 0.05
        done
    done
}
