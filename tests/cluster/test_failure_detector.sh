#!/usr/bin/env bash
# test_failure_detector.sh — a frozen member is counted down by silence (issue 6 item 1,
# src/io/peer.c): its kernel still holds the TCP connections open and accepts bytes, but no
# frame (heartbeats every 250 ms) comes from it, so past failure-timeout-ms (2 s by default)
# node 1's RK.MEMBERS says down, INFO cluster counts it in suspected_silent, a W=3 write is
# refused at once as unavailable (the coordinator does not wait out its request timeout) and a
# W=2 write succeeds on the other two. After SIGCONT its frames arrive again and it is counted
# up without a reconnect being needed. Every wait is a poll with a generous limit, not a timing
# assertion; the request timeout is set long so that "at once" is plain from `timeout`.
source "$(dirname "$0")/lib.sh"

start_cluster 3 --engine mem --request-timeout-ms 30000 || exit 1
p1=${CLIENT_PORT[1]}
for id in 1 2 3; do
    wait_members_up "${CLIENT_PORT[$id]}" 3 || fail "node $id: members not all up at start"
done
check_eq "a W=3 write is acknowledged by 3 replicas while all run" "3" \
    "$(redis-cli -p "$p1" rk.put fd:before "" v W 3 | tail -1)"
check_eq "no silence suspected while all run" "0" "$(info_field "$p1" suspected_silent cluster)"

peer_field() {
    info_field "$1" "peer_$2" cluster | tr ',' '\n' | awk -F= -v f="$3" '$1 == f {print $2}'
}
connects_before=$(peer_field "$p1" 3 connects)

kill -STOP "${PID_OF[3]}"
wait_member_state "$p1" 3 down && log "ok: node 1 counts frozen node 3 down" ||
    fail "node 3 not down on node 1: $(redis-cli -p "$p1" rk.members | tr '\n' ' ')"
# Node 2 judges for itself: W=3 through node 1 may be coordinated there.
wait_member_state "${CLIENT_PORT[2]}" 3 down ||
    fail "node 3 not down on node 2: $(redis-cli -p "${CLIENT_PORT[2]}" rk.members | tr '\n' ' ')"
check_eq "the frozen node's link stays connected (TCP is not a sign of life)" "up" \
    "$(peer_field "$p1" 3 state)"
check_eq "node 1 counted one silence" "1" "$(info_field "$p1" suspected_silent cluster)"
check_contains "per-peer silence count in INFO cluster" "suspected_silent=1" \
    "$(info_field "$p1" peer_3 cluster)"
check_contains "node 1's log says why" "nothing heard for" "$(cat "$TEST_TMP/node1.log")"

# Refused at once: with a 30 s request timeout, an answer within 5 s was not a timeout.
check_contains "a W=3 write is unavailable at once with node 3 frozen" "UNAVAILABLE" \
    "$(timeout 5 redis-cli -p "$p1" rk.put fd:w3 "" v W 3 2>&1)"
check_eq "a W=2 write succeeds with node 3 frozen" "OK" \
    "$(timeout 5 redis-cli -p "$p1" set fd:w2 v 2>&1)"
check_eq "a GET through node 1 reads it" "v" "$(timeout 5 redis-cli -p "$p1" get fd:w2 2>&1)"

kill -CONT "${PID_OF[3]}"
wait_member_state "$p1" 3 up && log "ok: node 1 counts node 3 up again after SIGCONT" ||
    fail "node 3 not up again on node 1: $(redis-cli -p "$p1" rk.members | tr '\n' ' ')"
wait_member_state "${CLIENT_PORT[2]}" 3 up ||
    fail "node 3 not up again on node 2: $(redis-cli -p "${CLIENT_PORT[2]}" rk.members | tr '\n' ' ')"
wait_members_up "${CLIENT_PORT[3]}" 3 || fail "node 3 does not see the others up after SIGCONT"
ok=""
for _ in $(seq 1 100); do
    ok=$(timeout 5 redis-cli -p "$p1" rk.put fd:after "" v W 3 2>&1 | tail -1)
    [ "$ok" == "3" ] && break
    sleep 0.1
done
check_eq "a W=3 write is acknowledged by 3 replicas after SIGCONT" "3" "$ok"
check_eq "node 1 never reconnected to node 3" "$connects_before" "$(peer_field "$p1" 3 connects)"

finish
