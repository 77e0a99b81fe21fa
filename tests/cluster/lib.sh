# lib.sh — helpers for process tests: start real build/ringkvd nodes on free loopback ports,
# talk to them with redis-cli or raw bytes over bash's /dev/tcp, stop them by pid. Every test
# script sources this; whatever a test starts, the EXIT trap stops.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RINGKVD=${RINGKVD:-$ROOT/build/ringkvd}
RINGKV=${RINGKV:-$ROOT/build/ringkv}
TEST_TMP=$(mktemp -d /tmp/ringkv-test.XXXXXX)
declare -a NODE_PIDS=()
CHECKS_FAILED=0

cleanup() {
    local pid status=$?
    for pid in "${NODE_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    # Nodes built with sanitizers (make test runs this suite on build-asan too) report there.
    if grep -l "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" \
            "$TEST_TMP"/*.log >/dev/null 2>&1; then
        echo "  FAIL: a node reported a sanitizer error:"
        grep -h -A 8 "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" \
            "$TEST_TMP"/*.log | head -40
        status=1
    fi
    # RK_KEEP_LOGS=DIR keeps a failed test's node logs and data for a look afterwards.
    if [ "$status" -ne 0 ] && [ -n "${RK_KEEP_LOGS:-}" ]; then
        mkdir -p "$RK_KEEP_LOGS" && cp -r "$TEST_TMP" "$RK_KEEP_LOGS/" 2>/dev/null
    fi
    rm -rf "$TEST_TMP"
    exit "$status"
}
trap cleanup EXIT

log() { printf '  %s\n' "$*"; }

fail() {
    printf '  FAIL: %s\n' "$*"
    CHECKS_FAILED=$((CHECKS_FAILED + 1))
}

# check DESCRIPTION EXPECTED ACTUAL
check_eq() {
    if [ "$2" == "$3" ]; then
        log "ok: $1"
    else
        fail "$1: expected [$2], got [$3]"
    fi
}

# check_contains DESCRIPTION NEEDLE HAYSTACK
check_contains() {
    case "$3" in
        *"$2"*) log "ok: $1" ;;
        *) fail "$1: [$3] lacks [$2]" ;;
    esac
}

# check_positive DESCRIPTION VALUE: VALUE is a number above 0 (a counter read from INFO, say).
check_positive() {
    [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ] && log "ok: $1: $2" ||
        fail "$1: expected > 0, got [$2]"
}

# A port nothing listens on: tests run alone, so a quick probe is enough. Ports come from
# 10000..22699, so the port and port + 10000 (ringkvd's default cluster port) stay below the
# kernel's ephemeral range (32768..): a probe cannot see an outgoing connection's local port,
# and binding one fails with "address already in use".
free_port() {
    local port taken="$TEST_TMP/ports-taken"
    for _ in $(seq 1 200); do
        port=$((10000 + RANDOM % 12700))
        # Not one this test handed out already: start_cluster picks every port before any
        # node binds one, and two picks of the same port failed a run now and then.
        grep -qxE "$port|$((port + 10000))|$((port - 10000))" "$taken" 2>/dev/null && continue
        if ! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null &&
            ! (exec 3<>/dev/tcp/127.0.0.1/$((port + 10000))) 2>/dev/null; then
            echo "$port" >>"$taken"
            echo "$port"
            return 0
        fi
    done
    return 1
}

# free_port_range COUNT: a port P with P .. P+COUNT-1 all free (and each + 10000, as
# free_port checks), for tools that number their ports from a base (ringkv dev-cluster).
free_port_range() {
    local count=$1 base i ok
    for _ in $(seq 1 200); do
        base=$((10000 + RANDOM % (12700 - count)))
        ok=1
        for i in $(seq 0 $((count - 1))); do
            if (exec 3<>/dev/tcp/127.0.0.1/$((base + i))) 2>/dev/null ||
                (exec 3<>/dev/tcp/127.0.0.1/$((base + i + 10000))) 2>/dev/null; then
                ok=0
                break
            fi
        done
        if [ "$ok" -eq 1 ]; then
            echo "$base"
            return 0
        fi
    done
    return 1
}

# start_node NAME PORT [ringkvd flags...]: starts in the background, waits until it answers
# PING, records its pid in NODE_PID and NODE_PIDS. Log goes to $TEST_TMP/NAME.log.
start_node() {
    local name=$1 port=$2
    shift 2
    "$RINGKVD" --port "$port" --bind 127.0.0.1 --data-dir "$TEST_TMP/$name" "$@" \
        >>"$TEST_TMP/$name.log" 2>&1 &
    NODE_PID=$!
    NODE_PIDS+=("$NODE_PID")
    for _ in $(seq 1 200); do
        if [ "$(redis-cli -p "$port" ping 2>/dev/null)" == "PONG" ]; then
            return 0
        fi
        if ! kill -0 "$NODE_PID" 2>/dev/null; then
            echo "ringkvd $name exited at start:"
            cat "$TEST_TMP/$name.log"
            return 1
        fi
        sleep 0.05
    done
    echo "ringkvd $name did not answer on port $port"
    return 1
}

# stop_node PID [SIGNAL]: signal and wait for the process to end (at most 20 s).
stop_node() {
    local pid=$1 sig=${2:-TERM}
    kill -s "$sig" "$pid" 2>/dev/null
    for _ in $(seq 1 400); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            return 0
        fi
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 1
}

# raw_exchange PORT BYTES [SECONDS]: send raw bytes (printf format) on one connection and print
# what comes back until the server closes or the time passes.
raw_exchange() {
    local port=$1 bytes=$2 secs=${3:-2}
    (
        exec 3<>/dev/tcp/127.0.0.1/"$port" || exit 1
        printf "$bytes" >&3
        timeout "$secs" cat <&3
    ) 2>/dev/null
}

info_field() {
    redis-cli -p "$1" info "${3:-all}" | tr -d '\r' | awk -F: -v f="$2" '$1 == f {print $2}'
}

# redis_py: print a python3 that imports redis-py (Debian's python3-redis serves
# /usr/bin/python3; a python3 earlier on PATH, a virtualenv or pyenv, may lack it), or nothing.
redis_py() {
    local py
    for py in /usr/bin/python3 python3; do
        if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import redis' 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

finish() {
    if [ "$CHECKS_FAILED" -eq 0 ]; then
        exit 0
    fi
    exit 1
}

# start_cluster COUNT [ringkvd flags...]: COUNT nodes with ids 1..COUNT on free client and
# cluster ports, all named in --members. Sets CLIENT_PORT[id], CLUSTER_PORT[id], PID_OF[id] and
# MEMBERS (the --members text), and keeps the extra flags in CLUSTER_FLAGS for restart_member.
declare -a CLIENT_PORT=() CLUSTER_PORT=() PID_OF=() CLUSTER_FLAGS=()
MEMBERS=""
start_cluster() {
    local count=$1 id
    shift
    CLUSTER_FLAGS=("$@")
    MEMBERS=""
    for id in $(seq 1 "$count"); do
        CLIENT_PORT[$id]=$(free_port)
        CLUSTER_PORT[$id]=$(free_port)
        MEMBERS+="${MEMBERS:+,}$id=127.0.0.1:${CLIENT_PORT[$id]}:${CLUSTER_PORT[$id]}"
    done
    for id in $(seq 1 "$count"); do
        launch_member "$id" || return 1
    done
    # A new store learns its epoch from the others before it takes writes (cluster.md): all
    # must be running for any to finish.
    for id in $(seq 1 "$count"); do
        wait_learned "${CLIENT_PORT[$id]}" || return 1
    done
}

# launch_member ID: (re)start member ID of the cluster start_cluster made, same data dir; returns
# once it answers PING, maybe still learning its epoch.
launch_member() {
    local id=$1
    start_node "node$id" "${CLIENT_PORT[$id]}" --node-id "$id" \
        --cluster-port "${CLUSTER_PORT[$id]}" --members "$MEMBERS" "${CLUSTER_FLAGS[@]}" || return 1
    PID_OF[$id]=$NODE_PID
}

# restart_member ID: launch_member, then wait until it takes writes (wait_learned).
restart_member() {
    launch_member "$1" && wait_learned "${CLIENT_PORT[$1]}"
}

# wait_learned PORT [SECONDS]: until the node on PORT is done learning its epoch (INFO server
# epoch_learning:0; a node whose store is not new never learns). 40 s by default: above the
# 30 s epoch-learn-ms-max after which a majority of answers will do.
wait_learned() {
    local port=$1 limit=${2:-40} i
    for i in $(seq 1 $((limit * 20))); do
        [ "$(info_field "$port" epoch_learning server 2>/dev/null)" == "0" ] && return 0
        sleep 0.05
    done
    echo "ringkvd on port $port still learning its epoch after ${limit} s"
    return 1
}

# member_state PORT ID: how the node on PORT sees member ID in RK.MEMBERS (self, up,
# connecting, down); redis-cli prints each entry's six fields on six lines.
member_state() {
    timeout 10 redis-cli -p "$1" rk.members | paste -d' ' - - - - - - |
        awk -v id="$2" '$1 == id {print $4}'
}

# wait_member_state PORT ID STATE: poll until it is so (at most 10 s).
wait_member_state() {
    for _ in $(seq 1 200); do
        [ "$(member_state "$1" "$2")" == "$3" ] && return 0
        sleep 0.05
    done
    return 1
}

# wait_cluster_up COUNT: until each of members 1..COUNT of start_cluster sees all COUNT up; a
# check fails for each that does not.
wait_cluster_up() {
    local count=$1 id
    for id in $(seq 1 "$count"); do
        wait_members_up "${CLIENT_PORT[$id]}" "$count" ||
            fail "node $id does not see $count members up"
    done
}

# wait_members_up PORT COUNT: until the node on PORT sees COUNT members self-or-up (10 s).
wait_members_up() {
    local port=$1 want=$2 got
    for _ in $(seq 1 200); do
        got=$(redis-cli -p "$port" rk.members 2>/dev/null | grep -cE '^(self|up)$')
        [ "$got" -ge "$want" ] && return 0
        sleep 0.05
    done
    return 1
}

# Member helpers for tests that run a start_cluster cluster (test_aae.sh, test_reap.sh).
# member_cli ID ARGS...: redis-cli against member ID. member_field ID NAME: its INFO field.
member_cli() { local id=$1; shift; timeout 30 redis-cli -p "${CLIENT_PORT[$id]}" "$@" 2>&1; }
member_field() { info_field "${CLIENT_PORT[$1]}" "$2"; }
now_s() { date +%s.%N; }
# elapsed START: seconds since START (a now_s value), one decimal.
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN {printf "%.1f", b - a}'; }

# wait_dbsize ID COUNT SECONDS: poll member ID's DBSIZE until it is COUNT (a progress line every
# 30 s); 1 if it never was.
wait_dbsize() {
    local id=$1 want=$2 limit=$3 started got="" next_log=30
    started=$(date +%s)
    while [ $(( $(date +%s) - started )) -lt "$limit" ]; do
        got=$(member_cli "$id" dbsize)
        [ "$got" == "$want" ] && return 0
        if [ $(( $(date +%s) - started )) -ge "$next_log" ]; then
            log "node $id: DBSIZE $got of $want after $next_log s"
            next_log=$((next_log + 30))
        fi
        sleep 0.25
    done
    log "node $id: DBSIZE $got, expected $want"
    return 1
}

# sum_field NAME ID...: the INFO field NAME added up over the members.
sum_field() {
    local name=$1 id total=0 value
    shift
    for id in "$@"; do
        value=$(member_field "$id" "$name")
        total=$((total + ${value:-0}))
    done
    echo "$total"
}
