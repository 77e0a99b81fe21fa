#!/usr/bin/env bash
# test_peer_connecting.sh — peers count as up from the start (issue 4 item 8, src/io/peer.c):
# while a link's first connection is being set up, RK.MEMBERS says "connecting" and a write
# that needs that peer waits for the handshake (its messages queue on the link and reach the
# peer once it answers) instead of being refused as unavailable. Node 2 is started, then frozen
# with SIGSTOP: its kernel still accepts node 1's connection, but no Hello comes back until
# SIGCONT. Node 1 starts on a store it used before: a new one would wait for node 2.
source "$(dirname "$0")/lib.sh"

p1=$(free_port); c1=$(free_port); p2=$(free_port); c2=$(free_port)
members="1=127.0.0.1:$p1:$c1,2=127.0.0.1:$p2:$c2"
# Two members: N is 2, and W=2 needs both nodes. Node 1 keeps its store (lmdb) from a first
# run with node 2: a new store would learn its epoch from node 2 before taking any write
# (cluster.md), and node 2 is to be frozen from the start.
start_node node1 "$p1" --node-id 1 --cluster-port "$c1" --members "$members" || exit 1
pid1=$NODE_PID
start_node node2 "$p2" --engine mem --node-id 2 --cluster-port "$c2" --members "$members" || exit 1
pid2=$NODE_PID
wait_learned "$p1" && wait_learned "$p2" || fail "the first run did not learn its epochs"
stop_node "$pid1"
stop_node "$pid2"
start_node node2 "$p2" --engine mem --node-id 2 --cluster-port "$c2" --members "$members" || exit 1
pid2=$NODE_PID
kill -STOP "$pid2"
start_node node1 "$p1" --node-id 1 --cluster-port "$c1" --members "$members" || exit 1

state=$(redis-cli -p "$p1" rk.members | paste -d' ' - - - - - - | awk '$1 == 2 {print $4, $5}')
check_eq "node 1 sees frozen node 2 connecting, never heard" "connecting -1" "$state"

# Keys node 1 coordinates itself (first in their preference list), so what reaches node 2 is
# node 1's replication, queued on the link being set up.
keys=()
for i in $(seq 1 200); do
    [ "$(redis-cli -p "$p1" rk.preflist "k$i" | head -1)" == "1" ] && keys+=("k$i")
    [ "${#keys[@]}" -ge 2 ] && break
done
check_eq "two keys whose first primary is node 1" "2" "${#keys[@]}"
# W=1: node 1 answers at once; the copy for node 2 waits on the link instead of being dropped.
check_contains "RK.PUT W 1 while node 2 is connecting" "1" \
    "$(redis-cli -p "$p1" rk.put "${keys[0]}" "" queued W 1 | tail -1)"
# W=2 needs node 2: the write waits for the link (OK, or a timeout if node 2 answered too late),
# it is not refused up front as it would be for a member counted down.
redis-cli -p "$p1" set "${keys[1]}" v >"$TEST_TMP/set.out" 2>&1 &
set_pid=$!
sleep 0.3
kill -CONT "$pid2"
wait "$set_pid"
case "$(cat "$TEST_TMP/set.out")" in
    *UNAVAILABLE*) fail "SET during connecting was refused: $(cat "$TEST_TMP/set.out")" ;;
    *) log "ok: SET during connecting waited for the link: $(cat "$TEST_TMP/set.out")" ;;
esac
held=""
for _ in $(seq 1 200); do
    held=$(redis-cli -p "$p2" rk.local "${keys[0]}" | grep -x queued)
    [ -n "$held" ] && break
    sleep 0.05
done
check_eq "node 2 holds the write queued while it was connecting" "queued" "$held"
wait_members_up "$p1" 2 && log "ok: node 1 sees node 2 up" ||
    fail "node 2 not up: $(redis-cli -p "$p1" rk.members | tr '\n' ' ')"
check_eq "nothing was dropped toward node 2" "0" "$(info_field "$p1" dropped_down cluster)"

# A member whose connection attempt fails counts down: writes needing it are refused at once.
stop_node "$pid2"
for _ in $(seq 1 200); do
    [ "$(redis-cli -p "$p1" rk.members | grep -cx down)" == "1" ] && break
    sleep 0.05
done
check_eq "node 1 sees node 2 down once it stopped" "1" "$(redis-cli -p "$p1" rk.members | grep -cx down)"
check_contains "a W=2 write is unavailable with node 2 down" "UNAVAILABLE" \
    "$(redis-cli -p "$p1" set down:key v 2>&1)"

finish
