#!/usr/bin/env bash
# test_wipe_epoch.sh — issue 17: a node restarted without its data directory must not mint a dot
# it minted before. Three real processes on the lmdb engine (N = 3, W = 2); keys written through
# node 1; node 1 killed with kill -9, its data directory deleted, and started again while node 3
# is frozen with SIGSTOP, so node 1 cannot hear every member (and a majority is accepted only
# after epoch-learn-ms-max, 30 s). Meanwhile INFO says epoch_learning:1, a write through node 1
# gets -BUSY node starting, and a read through it is served. After SIGCONT node 1 finishes
# learning: its INFO epoch is above the epoch it had before the wipe, not a partial learning,
# and a new write through node 1 to a key it wrote before is the value every node reads (not
# dropped by the replicas as a dot they had already seen).
source "$(dirname "$0")/lib.sh"

KEYS=20

cli() { local id=$1; shift; timeout 10 redis-cli -p "${CLIENT_PORT[$id]}" "$@" 2>&1; }
info_of() { info_field "${CLIENT_PORT[$1]}" "$2" server; }

start_cluster 3 --engine lmdb || exit 1
wait_cluster_up 3
for id in 1 2 3; do
    check_eq "node $id: a fresh cluster is done learning once started" "0" \
        "$(info_of "$id" epoch_learning)"
done
failed=0
for i in $(seq 1 "$KEYS"); do
    [ "$(cli 1 set "key$i" "old$i")" == "OK" ] || failed=$((failed + 1))
done
check_eq "$KEYS writes through node 1" "0" "$failed"
epoch_before=$(info_of 1 epoch)
log "node 1's epoch before the wipe: $epoch_before"

kill -9 "${PID_OF[1]}"
wait "${PID_OF[1]}" 2>/dev/null
rm -rf "$TEST_TMP/node1"
kill -STOP "${PID_OF[3]}"
launch_member 1 || { kill -CONT "${PID_OF[3]}"; exit 1; }

check_eq "node 1: learning its epoch while node 3 is frozen" "1" "$(info_of 1 epoch_learning)"
# Node 2 answers node 1 over its own link to node 1, which went down with the kill and comes
# back on its retry; a read before that times out (rightly: R=2 is not met), so wait for it.
wait_member_state "${CLIENT_PORT[2]}" 1 up || fail "node 2 does not see node 1 up again"
check_contains "a write through node 1 is refused while it learns" "BUSY node starting" \
    "$(cli 1 set key1 early)"
check_eq "a read through node 1 is served while it learns" "old2" "$(cli 1 get key2)"
check_eq "node 1 is still learning after the refused write" "1" "$(info_of 1 epoch_learning)"

kill -CONT "${PID_OF[3]}"
if wait_learned "${CLIENT_PORT[1]}" 60; then
    log "ok: node 1 learned its epoch once node 3 answered"
else
    fail "node 1 did not finish learning"
fi
epoch_after=$(info_of 1 epoch)
log "node 1's epoch after learning: $epoch_after"
if [ -n "$epoch_after" ] && [ -n "$epoch_before" ] && [ "$epoch_after" -gt "$epoch_before" ]; then
    log "ok: the learned epoch $epoch_after is above the epoch before the wipe $epoch_before"
else
    fail "learned epoch [$epoch_after] is not above the epoch before the wipe [$epoch_before]"
fi
check_eq "node 1 heard every member (not a majority after the bound)" "0" \
    "$(info_of 1 epoch_learned_partial)"

out=""
for _ in $(seq 1 200); do
    out=$(cli 1 set key1 new1)
    [ "$out" == "OK" ] && break
    sleep 0.05
done
check_eq "a new write through node 1 to a key it wrote before" "OK" "$out"
for id in 1 2 3; do
    check_eq "node $id reads the new value" "new1" "$(cli "$id" get key1)"
done
for id in 2 3; do
    local_copy=$(cli "$id" rk.local key1)
    check_contains "node $id's own copy holds the new value" "new1" "$local_copy"
    if [[ "$local_copy" == *old1* ]]; then
        fail "node $id's own copy still holds old1: $local_copy"
    fi
done
for id in 1 2 3; do
    stop_node "${PID_OF[$id]}" TERM
done
finish
