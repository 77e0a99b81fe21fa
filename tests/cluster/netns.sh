# netns.sh — five ringkvd processes in a private network namespace, and a real partition
# between them, for the tests that cut the network (test_partition.sh, test_cart_partition.sh,
# test_counter_partition.sh).
# Sourced after lib.sh. The nodes bind 127.0.0.11 .. 127.0.0.15, all on the same ports (the
# addresses differ, the namespace is private); outgoing cluster links leave from the bind
# address, so nftables in the namespace can drop every packet between the majority {1,2,3} and
# the minority {4,5} in both directions while the clients' packets (from 127.0.0.1) pass.
# Whatever happens, the EXIT trap kills the nodes by pid and removes the namespace before
# lib.sh's cleanup. Needs root (ip netns, nft): netns_setup says "skipped" and exits 0 without.
#
#   netns_setup              the namespace, or skip
#   netns_start_all [FLAGS]  the five nodes (FLAGS go to every ringkvd), all seeing all up
#   netns_cut / netns_heal   install / remove the partition and wait until every node sees it
#   netns_stop_all           SIGTERM each node and wait for it
# and cli, cli_batch, wait_for, hint_sum, hint_each to talk to the nodes and poll them.

NS=rkpart-$$
NS_MADE=0
PORT=7001
CPORT=17001
MAJ="1 2 3"
MIN="4 5"
ALL="1 2 3 4 5"
MAJ_SET="{ 127.0.0.11, 127.0.0.12, 127.0.0.13 }"
MIN_SET="{ 127.0.0.14, 127.0.0.15 }"

# Kill the nodes (by pid) and remove the namespace whatever happened, then lib.sh's cleanup
# (sanitizer reports in $TEST_TMP/*.log, temp dir, exit status).
netns_cleanup() {
    local status=$? pid
    for pid in "${NODE_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$NS_MADE" -eq 1 ]; then
        # Anything left inside the namespace was started by this test.
        for pid in $(ip netns pids "$NS" 2>/dev/null); do
            kill -9 "$pid" 2>/dev/null
        done
        if ! ip netns del "$NS" 2>/dev/null; then
            echo "  FAIL: could not remove network namespace $NS"
            status=1
        fi
    fi
    return "$status"
}
trap 'netns_cleanup; cleanup' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs_since() { awk -v ms=$(( $(now_ms) - $1 )) 'BEGIN {printf "%.1f", ms / 1000}'; }
nsx() { ip netns exec "$NS" "$@"; }
# cli ID ARGS...: redis-cli to node ID, inside the namespace.
cli() {
    local id=$1
    shift
    timeout 10 ip netns exec "$NS" redis-cli -h "127.0.0.1$id" -p "$PORT" "$@" 2>&1
}
# cli_batch ID [FLAGS...]: the same, commands on stdin, one connection.
cli_batch() {
    local id=$1
    shift
    timeout 60 ip netns exec "$NS" redis-cli -h "127.0.0.1$id" -p "$PORT" "$@" 2>&1
}

# netns_setup: the namespace with its loopback up and nftables usable, or "skipped" and exit 0.
netns_setup() {
    local tool
    for tool in ip nft redis-cli; do
        command -v "$tool" >/dev/null 2>&1 || { echo "  skipped: $tool is not installed"; exit 0; }
    done
    if ! ip netns add "$NS" 2>"$TEST_TMP/netns.err"; then
        echo "  skipped: cannot create a network namespace (ip netns add: $(tr '\n' ' ' \
            <"$TEST_TMP/netns.err")); this test needs root"
        exit 0
    fi
    NS_MADE=1
    if ! nsx ip link set lo up 2>"$TEST_TMP/netns.err" ||
        ! nsx nft list tables >/dev/null 2>>"$TEST_TMP/netns.err"; then
        echo "  skipped: no loopback or nftables in the namespace:" \
            "$(tr '\n' ' ' <"$TEST_TMP/netns.err")"
        exit 0
    fi
    MEMBERS=""
    for id in $ALL; do
        MEMBERS+="${MEMBERS:+,}$id=127.0.0.1$id:$PORT:$CPORT"
    done
}

# start_member ID [FLAGS...]: ringkvd for member ID in the namespace; log in
# $TEST_TMP/nodeID.log.
start_member() {
    local id=$1
    shift
    # ip netns exec directly, not through nsx: a function in the background would run in a
    # subshell and $! would not be ringkvd's pid.
    ip netns exec "$NS" "$RINGKVD" --bind "127.0.0.1$id" --port "$PORT" --cluster-port "$CPORT" \
        --node-id "$id" --members "$MEMBERS" --data-dir "$TEST_TMP/node$id" --engine lmdb \
        --request-timeout-ms 2000 "$@" >>"$TEST_TMP/node$id.log" 2>&1 &
    PID_OF[$id]=$!     # ip netns exec execs ringkvd: this is its pid
    NODE_PIDS+=("$!")
}

# wait_ping ID: until node ID answers PING (20 s; a sanitizer build starts slower).
wait_ping() {
    for _ in $(seq 1 200); do
        [ "$(cli "$1" ping)" == "PONG" ] && return 0
        if ! kill -0 "${PID_OF[$1]}" 2>/dev/null; then
            echo "  ringkvd $1 exited at start:"
            cat "$TEST_TMP/node$1.log"
            return 1
        fi
        sleep 0.1
    done
    echo "  ringkvd $1 did not answer on 127.0.0.1$1:$PORT"
    return 1
}

# learned ID: node ID is done learning its epoch (INFO server epoch_learning:0; cluster.md).
learned() {
    [ "$(cli "$1" info server | tr -d '\r' | awk -F: '$1 == "epoch_learning" {print $2}')" == "0" ]
}
all_learned() {
    local id
    for id in $ALL; do learned "$id" || return 1; done
}

# states ID: how node ID sees the members, "1:self 2:up 3:down ...".
states() { cli "$1" rk.members | paste -d' ' - - - - - - | awk '{printf "%s:%s ", $1, $4}'; }

# all_see "IDS" "OTHERS" REGEX: every node of IDS sees every member of OTHERS in a state
# matching REGEX.
all_see() {
    local id other st re
    for id in $1; do
        st=" $(states "$id")"
        for other in $2; do
            re=" $other:($3) "
            [[ "$st" =~ $re ]] || return 1
        done
    done
}

# wait_for LIMIT_S DESCRIPTION COMMAND...: poll COMMAND every 0.1 s until it succeeds; logs
# how long that took. Fails (returns 1) after LIMIT_S seconds.
wait_for() {
    local limit=$1 what=$2 start
    shift 2
    start=$(now_ms)
    until "$@"; do
        if [ $(( $(now_ms) - start )) -ge $((limit * 1000)) ]; then
            fail "$what: not within $limit s"
            return 1
        fi
        sleep 0.1
    done
    log "ok: $what ($(secs_since "$start") s)"
}

log_states() {
    local id
    for id in $ALL; do log "node $id sees: $(states "$id")"; done
}

# hint_sum FIELD ID...: INFO hints FIELD summed over the nodes; "none" if one lacks it.
hint_sum() {
    local field=$1 id v sum=0
    shift
    for id in "$@"; do
        v=$(cli "$id" info hints | tr -d '\r' | awk -F: -v f="$field" '$1 == f {print $2}')
        [[ "$v" =~ ^[0-9]+$ ]] || { echo none; return; }
        sum=$((sum + v))
    done
    echo "$sum"
}

hint_each() {
    local id out=""
    for id in $ALL; do out+="$(hint_sum "$1" "$id") "; done
    echo "${out% }"
}

no_hint_pending() { [ "$(hint_each hints_pending)" == "0 0 0 0 0" ]; }

# netns_start_all [FLAGS...]: start the five, check the pids the cleanup kills are the nodes
# themselves, wait until every node sees all five up. Exits the test if one does not start.
netns_start_all() {
    local id
    for id in $ALL; do start_member "$id" "$@"; done
    for id in $ALL; do wait_ping "$id" || exit 1; done
    # New stores learn their epochs from each other before taking writes (cluster.md).
    wait_for 40 "every node learned its epoch" all_learned || exit 1
    for id in $ALL; do
        [ "$(cat "/proc/${PID_OF[$id]}/comm" 2>/dev/null)" == "ringkvd" ] ||
            fail "pid ${PID_OF[$id]} of node $id is not ringkvd"
    done
    wait_for 20 "every node sees all 5 members up" all_see "$ALL" "$ALL" 'self|up' ||
        { log_states; exit 1; }
}

# netns_cut: drop every packet between {1,2,3} and {4,5}, then wait until each side sees the
# other down and itself up. Sets PART_START (ms). Exits the test if nftables refuses.
netns_cut() {
    if ! { nsx nft add table inet rkpart &&
        nsx nft add chain inet rkpart out '{ type filter hook output priority 0; }' &&
        nsx nft add rule inet rkpart out ip saddr "$MAJ_SET" ip daddr "$MIN_SET" drop &&
        nsx nft add rule inet rkpart out ip saddr "$MIN_SET" ip daddr "$MAJ_SET" drop; }; then
        fail "could not install the nftables partition"
        exit 1
    fi
    PART_START=$(now_ms)
    log "partition {1,2,3} | {4,5} installed"
    wait_for 20 "the majority sees 4 and 5 down" all_see "$MAJ" "$MIN" down || log_states
    wait_for 20 "the minority sees 1, 2 and 3 down" all_see "$MIN" "$MAJ" down || log_states
    wait_for 5 "the majority sees itself up" all_see "$MAJ" "$MAJ" 'self|up' || log_states
    wait_for 5 "the minority sees itself up" all_see "$MIN" "$MIN" 'self|up' || log_states
}

# netns_heal: remove the partition, wait until every node sees all five up and no hint is
# pending anywhere (the hints written during the cut handed to their owners).
netns_heal() {
    local heal
    log "partition held $(secs_since "$PART_START") s"
    nsx nft delete table inet rkpart || fail "could not delete the nftables table"
    heal=$(now_ms)
    log "partition healed"
    wait_for 30 "every node sees all 5 members up after the heal" \
        all_see "$ALL" "$ALL" 'self|up' || log_states
    if wait_for 30 "no hint pending on any node" no_hint_pending; then
        log "hints drained $(secs_since "$heal") s after the heal"
    else
        log "hints pending (nodes 1-5): $(hint_each hints_pending)"
    fi
}

netns_stop_all() {
    local id
    for id in $ALL; do
        stop_node "${PID_OF[$id]}" TERM || fail "node $id did not stop within 20 s of SIGTERM"
    done
}
