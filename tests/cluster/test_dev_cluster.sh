#!/usr/bin/env bash
# test_dev_cluster.sh — `ringkv dev-cluster` (tools/dev_cluster.c, what `make run` uses):
# three ringkvd processes on consecutive ports that see each other (RK.MEMBERS names every
# member's addresses and state), a write through node 1 read through node 3, a node killed
# with kill -9 is logged while dev-cluster and the other nodes keep running, and SIGTERM to
# dev-cluster stops every node it started (checked by the pids it printed).
source "$(dirname "$0")/lib.sh"

check_eq "dev-cluster --help exits 0" "0" "$("$RINGKV" dev-cluster --help >/dev/null; echo $?)"
check_eq "dev-cluster without --nodes is a usage error" "2" \
    "$("$RINGKV" dev-cluster --base-port 7001 2>/dev/null; echo $?)"
check_eq "dev-cluster with ports past 65535 is a usage error" "2" \
    "$("$RINGKV" dev-cluster --nodes 3 --base-port 65531 2>/dev/null; echo $?)"
check_contains "ringkv --help lists dev-cluster" "dev-cluster" "$("$RINGKV" --help)"

base=$(free_port_range 9) || { echo "no 9 free ports"; exit 1; }
out="$TEST_TMP/dev-cluster.out"
"$RINGKV" dev-cluster --nodes 3 --base-port "$base" --data-dir "$TEST_TMP/dc" --engine mem \
    --ringkvd "$RINGKVD" >"$out" 2>&1 &
dc_pid=$!
NODE_PIDS+=("$dc_pid")

# One line per node: "node <id>: pid <pid>, client port <p>, cluster port <p>, ...".
declare -a pid_of=()
for _ in $(seq 1 200); do
    [ "$(grep -c '^node [0-9]*: pid' "$out")" -ge 3 ] && break
    sleep 0.05
done
for id in 1 2 3; do
    line=$(grep "^node $id: pid" "$out")
    pid_of[$id]=$(echo "$line" | awk '{print $4}' | tr -d ,)
    NODE_PIDS+=("${pid_of[$id]}")
    check_contains "node $id's line names its ports" \
        "client port $((base + id - 1)), cluster port $((base + 3 + id - 1)), http port $((base + 6 + id - 1))" "$line"
    check_eq "node $id answers HTTP on its http port" "OK" \
        "$(curl -s --retry 20 --retry-connrefused --retry-delay 0 "http://127.0.0.1:$((base + 6 + id - 1))/ping")"
    [ -d "$TEST_TMP/dc/n$id" ] && log "ok: node $id's data is in dc/n$id" ||
        fail "no data directory dc/n$id"
done

for id in 1 2 3; do
    if wait_members_up $((base + id - 1)) 3; then
        log "ok: node $id sees all 3 members self or up"
    else
        fail "node $id: $(redis-cli -p $((base + id - 1)) rk.members | tr '\n' ' ')"
    fi
    wait_learned $((base + id - 1)) || fail "node $id still learning its epoch"
done
# RK.MEMBERS: [id, client address, cluster address, state, ms since heard, zone] per member.
members=$(redis-cli -p "$base" rk.members | paste -d' ' - - - - - -)
check_contains "RK.MEMBERS on node 1: itself" \
    "1 127.0.0.1:$base 127.0.0.1:$((base + 3)) self 0" "$members"
check_contains "RK.MEMBERS on node 1: node 2 up" \
    "2 127.0.0.1:$((base + 1)) 127.0.0.1:$((base + 4)) up" "$members"
check_contains "RK.MEMBERS on node 1: node 3 up" \
    "3 127.0.0.1:$((base + 2)) 127.0.0.1:$((base + 5)) up" "$members"
heard=$(echo "$members" | awk '$1 == 2 {print $5}')
[ "${heard:--1}" -ge 0 ] && log "ok: node 1 has heard from node 2 (${heard} ms ago)" ||
    fail "node 1 never heard from node 2: $members"

check_eq "SET through node 1" "OK" "$(redis-cli -p "$base" set dev:key hello)"
check_eq "GET through node 3" "hello" "$(redis-cli -p $((base + 2)) get dev:key)"

# kill -9 node 2: dev-cluster says so, does not restart it, and everything else runs on.
kill -9 "${pid_of[2]}"
for _ in $(seq 1 200); do
    grep -q "node 2 (pid ${pid_of[2]}) was killed by signal 9" "$out" && break
    sleep 0.05
done
check_contains "dev-cluster logs node 2's exit" \
    "node 2 (pid ${pid_of[2]}) was killed by signal 9" "$(cat "$out")"
kill -0 "$dc_pid" 2>/dev/null && log "ok: dev-cluster still runs" || fail "dev-cluster exited"
for id in 1 3; do
    kill -0 "${pid_of[$id]}" 2>/dev/null && log "ok: node $id still runs" ||
        fail "node $id exited after node 2 was killed"
done
for _ in $(seq 1 200); do
    [ "$(redis-cli -p "$base" rk.members | grep -cx down)" == "1" ] && break
    sleep 0.05
done
check_eq "node 1 sees node 2 down" "1" "$(redis-cli -p "$base" rk.members | grep -cx down)"
check_eq "SET through node 3 with node 2 gone" "OK" "$(redis-cli -p $((base + 2)) set dev:after yes)"
check_eq "GET through node 1 with node 2 gone" "yes" "$(redis-cli -p "$base" get dev:after)"
check_eq "node 2 was not restarted" "1" "$(grep -c '^node 2: pid' "$out")"

# SIGTERM to dev-cluster: every node stops, gracefully (no SIGKILL needed), and it exits 0.
kill -TERM "$dc_pid"
for _ in $(seq 1 300); do
    kill -0 "$dc_pid" 2>/dev/null || break
    sleep 0.05
done
if kill -0 "$dc_pid" 2>/dev/null; then
    fail "dev-cluster still runs 15 s after SIGTERM"
else
    wait "$dc_pid"
    check_eq "dev-cluster exit status after SIGTERM" "0" "$?"
fi
for id in 1 3; do
    kill -0 "${pid_of[$id]}" 2>/dev/null && fail "node $id (pid ${pid_of[$id]}) still runs" ||
        log "ok: node $id (pid ${pid_of[$id]}) is gone"
done
check_contains "dev-cluster says every node stopped" "every node has stopped" "$(cat "$out")"
if grep -q SIGKILL "$out"; then
    fail "a node needed SIGKILL: $(cat "$out")"
else
    log "ok: every node stopped on SIGTERM"
fi

finish
