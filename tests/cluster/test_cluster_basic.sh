#!/usr/bin/env bash
# test_cluster_basic.sh — three real ringkvd processes form one cluster over their cluster
# ports (src/io/peer.c): each sees the others up, a write through one node is read through
# the others and held by every node of the key's preference list, a node started with another
# cluster name is refused (both logs say why) and never counts as a member, and garbage sent
# to a cluster port costs that connection only.
source "$(dirname "$0")/lib.sh"

start_cluster 3 --engine mem || exit 1
for id in 1 2 3; do
    if wait_members_up "${CLIENT_PORT[$id]}" 3; then
        log "ok: node $id sees all 3 members self or up"
    else
        fail "node $id: members not up: $(redis-cli -p "${CLIENT_PORT[$id]}" rk.members | tr '\n' ' ')"
    fi
done
check_eq "INFO cluster members_up on node 1" "3" "$(info_field "${CLIENT_PORT[1]}" members_up cluster)"

# A write through node 1 is read through nodes 2 and 3 (N=3, R=2, W=2 by default).
check_eq "SET through node 1" "OK" "$(redis-cli -p "${CLIENT_PORT[1]}" set cart:alice book)"
check_eq "GET through node 2" "book" "$(redis-cli -p "${CLIENT_PORT[2]}" get cart:alice)"
check_eq "GET through node 3" "book" "$(redis-cli -p "${CLIENT_PORT[3]}" get cart:alice)"

# Every node of the preference list holds it (W=2 answered; the third may land a moment later).
preflist=$(redis-cli -p "${CLIENT_PORT[1]}" rk.preflist cart:alice)
check_eq "preference list names 3 nodes" "3" "$(echo "$preflist" | grep -c .)"
for id in $preflist; do
    held=""
    for _ in $(seq 1 100); do
        held=$(redis-cli -p "${CLIENT_PORT[$id]}" rk.local cart:alice | grep -x book)
        [ -n "$held" ] && break
        sleep 0.05
    done
    check_eq "RK.LOCAL on preflist node $id holds the value" "book" "$held"
done

# Many writes through each node, read back through another: forwarding and replication both
# carry real traffic, and the frames go out coalesced.
for id in 1 2 3; do
    for i in $(seq 1 200); do printf 'SET k%d:%d v%d\r\n' "$id" "$i" "$i"; done |
        redis-cli -p "${CLIENT_PORT[$id]}" >/dev/null
done
check_eq "pipelined write through node 2 read through node 3" "v200" \
    "$(redis-cli -p "${CLIENT_PORT[3]}" get k2:200)"
check_eq "pipelined write through node 3 read through node 1" "v77" \
    "$(redis-cli -p "${CLIENT_PORT[1]}" get k3:77)"
check_eq "no message dropped on node 1" "0" "$(info_field "${CLIENT_PORT[1]}" dropped_queue_full cluster)"

# A fourth node named as a member but with another cluster name is refused by every member.
stranger_port=$(free_port)
stranger_cluster_port=$(free_port)
members4="$MEMBERS,4=127.0.0.1:$stranger_port:$stranger_cluster_port"
start_node stranger "$stranger_port" --engine mem --node-id 4 --cluster-name other \
    --cluster-port "$stranger_cluster_port" --members "$members4" || exit 1
refused=0
for _ in $(seq 1 100); do
    refused=$(info_field "${CLIENT_PORT[1]}" handshake_refusals_sent cluster)
    [ "${refused:-0}" -gt 0 ] && break
    sleep 0.05
done
[ "${refused:-0}" -gt 0 ] && log "ok: node 1 counts the refusal in INFO cluster" ||
    fail "node 1 refused nothing (handshake_refusals_sent=$refused)"
check_contains "node 1's log says why" "cluster name 'other' != 'ringkv'" "$(cat "$TEST_TMP/node1.log")"
check_contains "the stranger's log says why it refused the members" \
    "cluster name 'ringkv' != 'other'" "$(cat "$TEST_TMP/stranger.log")"
check_eq "the stranger sees no member up" "0" \
    "$(redis-cli -p "$stranger_port" rk.members | grep -cx up)"
check_eq "node 1 still lists 3 members" "3" "$(redis-cli -p "${CLIENT_PORT[1]}" rk.members | grep -cE '^(self|up|down)$')"
check_eq "node 1 still sees 3 members up" "3" "$(info_field "${CLIENT_PORT[1]}" members_up cluster)"
stop_node "$NODE_PID"

# Garbage on a cluster port: a bad header closes that connection; the cluster keeps working.
raw_exchange "${CLUSTER_PORT[2]}" 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' 1 >/dev/null
raw_exchange "${CLUSTER_PORT[2]}" '\x00\x00\x00\x05\x01\x00\xff\xff\xff' 1 >/dev/null
errors=$(info_field "${CLIENT_PORT[2]}" framing_errors cluster)
[ "${errors:-0}" -ge 1 ] && log "ok: node 2 counted the bad frame header ($errors)" ||
    fail "node 2 framing_errors=$errors"
check_contains "node 2's log names the bad frame" "frame is 1195725860 bytes" "$(cat "$TEST_TMP/node2.log")"
check_eq "SET through node 2 after garbage" "OK" "$(redis-cli -p "${CLIENT_PORT[2]}" set after:garbage yes)"
check_eq "GET through node 1 after garbage" "yes" "$(redis-cli -p "${CLIENT_PORT[1]}" get after:garbage)"
check_eq "node 2 still sees 3 members up" "3" "$(info_field "${CLIENT_PORT[2]}" members_up cluster)"

# Garbage after a valid handshake (a protocol-5 Hello claiming node 2, no secret: the proof is not
# security, docs/wire.md): that frame is dropped and counted, the connection stays, and the
# real node 2, whose connection the impostor replaced, reconnects.
hello='\x00\x00\x00\x10\x01\x00\x0a\x0c\x08\x05\x12\x06ringkv\x18\x02'
raw_exchange "${CLUSTER_PORT[1]}" "$hello"'\x00\x00\x00\x05\x01\x00\xff\xff\xff' 1 >/dev/null
garbage=$(info_field "${CLIENT_PORT[1]}" garbage_frames cluster)
[ "${garbage:-0}" -ge 1 ] && log "ok: node 1 dropped and counted the garbage frame ($garbage)" ||
    fail "node 1 garbage_frames=$garbage"
check_contains "node 1's log names the garbage once" "sent a frame this node cannot use" \
    "$(cat "$TEST_TMP/node1.log")"
ok=""
for _ in $(seq 1 100); do
    ok=$(redis-cli -p "${CLIENT_PORT[2]}" set after:impostor yes 2>&1)
    [ "$ok" == "OK" ] && [ "$(redis-cli -p "${CLIENT_PORT[1]}" get after:impostor)" == "yes" ] && break
    sleep 0.05
done
check_eq "node 2 writes and node 1 reads after the impostor left" "yes" \
    "$(redis-cli -p "${CLIENT_PORT[1]}" get after:impostor)"

# A member that stops is seen down, and comes back up when restarted.
stop_node "${PID_OF[3]}"
for _ in $(seq 1 100); do
    [ "$(redis-cli -p "${CLIENT_PORT[1]}" rk.members | grep -cx down)" == "1" ] && break
    sleep 0.05
done
check_eq "node 1 sees node 3 down after it stopped" "1" \
    "$(redis-cli -p "${CLIENT_PORT[1]}" rk.members | grep -cx down)"
check_eq "SET with W=2 still succeeds with 2 of 3 up" "OK" \
    "$(redis-cli -p "${CLIENT_PORT[1]}" set while:down yes)"
restart_member 3 || exit 1
wait_members_up "${CLIENT_PORT[1]}" 3 && log "ok: node 3 is back up on node 1" ||
    fail "node 3 did not come back: $(redis-cli -p "${CLIENT_PORT[1]}" rk.members | tr '\n' ' ')"

finish
