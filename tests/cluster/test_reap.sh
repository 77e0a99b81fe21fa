#!/usr/bin/env bash
# test_reap.sh — issue 18: tombstones reaped on real processes without letting the dead come back.
# Three nodes on the lmdb engine (N = 3) with plain group commit (--wal no: step 4 reads LMDB's
# page reuse off data.mdb, which the redo log would defer to its checkpoints), --aae-interval-ms
# 50, --tombstone-grace-ms 3000:
#   1. REAP_KEYS keys (10,000; 1,500 against the ASan build, whose nodes run several times slower)
#      loaded with redis-cli --pipe; node 3 killed with -9; every key deleted through node 1 (every
#      DEL acknowledged: W = 2 is met by nodes 1 and 2; with three members there is no fallback,
#      so node 1 keeps hints for node 3). Past the grace, with node 3 still down, nothing is
#      reaped on nodes 1 and 2 (a member is down, hints are held). Node 3 restarts; it gets the
#      tombstones (hinted handoff, anti-entropy), then every node reaps: tombstones_reaped summed
#      over the nodes reaches 3 x REAP_KEYS, tombstones_pending and DBSIZE are 0 everywhere. GET of
#      every key through each node answers nil, RK.LOCAL of a sample answers nil on each node.
#      The stored objects (live keys + tombstones_pending) and data.mdb's size per node are logged
#      before and after; LMDB never shrinks its file but reuses freed pages, so loading REAP_KEYS
#      new keys afterwards grows data.mdb by less than the first load did.
#   2. One key set, deleted, reaped on all three nodes, set again: GET answers the new value
#      through every node and RK.LOCAL holds it on all three (the new write was not taken for
#      one already seen: the dot floor).
# Everything polls with generous limits; nothing asserts a time.
source "$(dirname "$0")/lib.sh"

case "$RINGKVD" in
    *build-asan*) REAP_KEYS=${REAP_KEYS:-1500} ;;
    *) REAP_KEYS=${REAP_KEYS:-10000} ;;
esac
GRACE_MS=3000
REAP_LIMIT_S=300 # run.sh gives a test 600 s in all

cli() { member_cli "$@"; }
field() { member_field "$@"; }
mdb_bytes() { du -b "$TEST_TMP/node$1/data.mdb" 2>/dev/null | cut -f1; }
# stored ID: the objects node ID holds, live keys plus the tombstones its passes counted.
stored() { echo $(( $(cli "$1" dbsize) + $(field "$1" tombstones_pending) )); }



# pipe_file COMMAND PREFIX COUNT FILE: COUNT commands "COMMAND PREFIX%06d [value-%06d]" in RESP.
pipe_file() {
    awk -v cmd="$1" -v prefix="$2" -v n="$3" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = sprintf("%s%06d", prefix, i); v = sprintf("value-%06d", i)
            if (cmd == "SET")
                printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
            else
                printf "*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(cmd), cmd, length(k), k
        }
    }' >"$4"
}

# check_absent ID COMMAND STEP: COMMAND (GET or RK.LOCAL) of every STEP-th key through node ID,
# pipelined on one connection; prints "ok" or how many answered something, with the first few.
check_absent() {
    "$PY" - "${CLIENT_PORT[$1]}" "$REAP_KEYS" "$2" "$3" <<'EOF'
import sys
import redis
port, count, command, step = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
keys = ["reap:%06d" % i for i in range(0, count, step)]
bad = []
for start in range(0, len(keys), 1000):
    p = r.pipeline(transaction=False)
    chunk = keys[start:start + 1000]
    for k in chunk:
        p.execute_command(command, k)
    for k, reply in zip(chunk, p.execute(raise_on_error=False)):
        if reply is not None:
            bad.append("%s=%r" % (k, reply))
print("ok %d" % len(keys) if not bad else "%d bad: %s" % (len(bad), " ".join(bad[:5])))
EOF
}

PY=$(redis_py) || { fail "no python3 with redis-py (python3-redis) to check the keys"; finish; }

# ---- 1. deletes while a replica is down, reaped once it is back --------------------------------
start_cluster 3 --engine lmdb --wal no --aae-interval-ms 50 --tombstone-grace-ms "$GRACE_MS" || exit 1
wait_cluster_up 3
mdb_empty=()
for id in 1 2 3; do mdb_empty[$id]=$(mdb_bytes "$id"); done
log "loading $REAP_KEYS keys"
pipe_file SET reap: "$REAP_KEYS" "$TEST_TMP/load.resp"
out=$(redis-cli -p "${CLIENT_PORT[1]}" --pipe <"$TEST_TMP/load.resp" 2>&1)
check_contains "load: every SET answered without an error" "errors: 0, replies: $REAP_KEYS" "$out"
for id in 1 2 3; do
    wait_dbsize "$id" "$REAP_KEYS" 120 || fail "node $id does not hold the $REAP_KEYS keys loaded"
done
mdb_loaded=()
for id in 1 2 3; do
    mdb_loaded[$id]=$(mdb_bytes "$id")
    log "node $id after the load: $(stored "$id") objects stored, data.mdb" \
        "${mdb_empty[$id]} -> ${mdb_loaded[$id]} bytes"
done

{ kill -9 "${PID_OF[3]}" && wait "${PID_OF[3]}"; } 2>/dev/null # no "Killed" line from bash
wait_member_state "${CLIENT_PORT[1]}" 3 down || log "node 1 does not see node 3 down yet"
pipe_file DEL reap: "$REAP_KEYS" "$TEST_TMP/del.resp"
out=$(redis-cli -p "${CLIENT_PORT[1]}" --pipe <"$TEST_TMP/del.resp" 2>&1)
check_contains "node 3 down: every DEL through node 1 acknowledged" \
    "errors: 0, replies: $REAP_KEYS" "$out"
deleted=$(now_s)
for id in 1 2; do
    wait_dbsize "$id" 0 60 || fail "node $id still holds live keys after the deletes"
done
log "after the deletes: hints_pending node 1 $(field 1 hints_pending), node 2" \
    "$(field 2 hints_pending)"

# Past the grace with node 3 down: no reap, whatever the passes see.
sleep $((GRACE_MS / 1000 * 2 + 2))
for id in 1 2; do
    check_eq "node 3 down, past the grace: node $id reaped nothing" 0 \
        "$(field "$id" tombstones_reaped)"
done
# A full sweep (64 partitions, one per 50 ms pass) has counted every tombstone by now; poll.
for _ in $(seq 1 240); do
    [ "$(field 1 tombstones_pending)" == "$REAP_KEYS" ] &&
        [ "$(field 2 tombstones_pending)" == "$REAP_KEYS" ] && break
    sleep 0.25
done
stored_before=()
for id in 1 2; do
    check_eq "node $id: tombstones_pending while node 3 is down" "$REAP_KEYS" \
        "$(field "$id" tombstones_pending)"
    stored_before[$id]=$(stored "$id")
    log "node $id before the reap: $(cli "$id" dbsize) live keys + $(field "$id" \
        tombstones_pending) tombstones = ${stored_before[$id]} objects, data.mdb $(mdb_bytes "$id")" \
        "bytes"
done

restarted=$(now_s)
restart_member 3 || exit 1
wait_cluster_up 3
want=$((3 * REAP_KEYS))
started=$(date +%s)
next_log=30
reaped=0
while [ $(( $(date +%s) - started )) -lt "$REAP_LIMIT_S" ]; do
    reaped=$(sum_field tombstones_reaped 1 2 3)
    [ "$reaped" -ge "$want" ] && break
    if [ $(( $(date +%s) - started )) -ge "$next_log" ]; then
        log "after $next_log s: tombstones_reaped $(field 1 tombstones_reaped)" \
            "$(field 2 tombstones_reaped) $(field 3 tombstones_reaped), hints_pending" \
            "$(field 1 hints_pending) $(field 2 hints_pending) $(field 3 hints_pending)"
        next_log=$((next_log + 30))
    fi
    sleep 0.25
done
if [ "$reaped" -ge "$want" ]; then
    log "reaped $REAP_KEYS tombstones on 3 nodes ($reaped removals) in $(elapsed "$restarted") s" \
        "after node 3's restart, $(elapsed "$deleted") s after the deletes" \
        "(${RINGKVD#"$ROOT"/}, grace $GRACE_MS ms, --aae-interval-ms 50)"
else
    fail "tombstones_reaped summed $reaped of $want within $REAP_LIMIT_S s"
fi
check_eq "tombstones_reaped summed over the nodes" "$want" "$(sum_field tombstones_reaped 1 2 3)"
for id in 1 2 3; do
    check_eq "node $id: tombstones_reaped" "$REAP_KEYS" "$(field "$id" tombstones_reaped)"
done
# tombstones_pending is what each node's last pass over a partition counted: poll a sweep.
for _ in $(seq 1 240); do
    [ "$(sum_field tombstones_pending 1 2 3)" == 0 ] && break
    sleep 0.25
done
mdb_reaped=()
for id in 1 2 3; do
    check_eq "node $id: tombstones_pending" 0 "$(field "$id" tombstones_pending)"
    check_eq "node $id: DBSIZE" 0 "$(cli "$id" dbsize)"
    mdb_reaped[$id]=$(mdb_bytes "$id")
    before=${stored_before[$id]:-"none counted: node 3 was down"}
    log "node $id after the reap: $(stored "$id") objects stored (before: $before), data.mdb" \
        "${mdb_reaped[$id]} bytes (LMDB never shrinks its file; the freed pages are reused by" \
        "later writes)"
done
for id in 1 2 3; do
    check_eq "node $id: GET of every deleted key answers nil" "ok $REAP_KEYS" \
        "$(check_absent "$id" GET 1)"
    check_eq "node $id: RK.LOCAL of every 10th deleted key answers nil" \
        "ok $(( (REAP_KEYS + 9) / 10 ))" "$(check_absent "$id" RK.LOCAL 10)"
done

# The pages the reap freed are reused: as many new keys grow data.mdb less than the first load.
pipe_file SET again: "$REAP_KEYS" "$TEST_TMP/again.resp"
out=$(redis-cli -p "${CLIENT_PORT[1]}" --pipe <"$TEST_TMP/again.resp" 2>&1)
check_contains "second load: every SET answered without an error" \
    "errors: 0, replies: $REAP_KEYS" "$out"
for id in 1 2 3; do
    wait_dbsize "$id" "$REAP_KEYS" 120 || fail "node $id does not hold the second load"
done
for id in 1 2 3; do
    first=$(( mdb_loaded[id] - mdb_empty[id] ))
    second=$(( $(mdb_bytes "$id") - mdb_reaped[id] ))
    log "node $id: data.mdb grew $first bytes for the first $REAP_KEYS keys, $second bytes" \
        "for $REAP_KEYS new keys after the reap (freed pages reused)"
    if [ "$second" -lt "$first" ]; then
        log "ok: node $id: the second load grew data.mdb less than the first"
    else
        fail "node $id: the second load grew data.mdb by $second bytes, the first by $first"
    fi
done

# ---- 2. a key deleted, reaped, and created again ------------------------------------------------
KEY=reap:again
check_eq "SET $KEY" OK "$(cli 1 set "$KEY" first-life)"
for _ in $(seq 1 200); do
    [ "$(cli 1 rk.local "$KEY" | tail -1)$(cli 2 rk.local "$KEY" | tail -1)$(cli 3 rk.local \
        "$KEY" | tail -1)" == "first-lifefirst-lifefirst-life" ] && break
    sleep 0.05
done
reaped_before=()
for id in 1 2 3; do reaped_before[$id]=$(field "$id" tombstones_reaped); done
check_eq "DEL $KEY" 1 "$(cli 1 del "$KEY")"
started=$(date +%s)
while [ $(( $(date +%s) - started )) -lt "$REAP_LIMIT_S" ]; do
    done_count=0
    for id in 1 2 3; do
        [ "$(field "$id" tombstones_reaped)" -gt "${reaped_before[$id]}" ] &&
            done_count=$((done_count + 1))
    done
    [ "$done_count" -eq 3 ] && break
    sleep 0.25
done
for id in 1 2 3; do
    check_eq "node $id: the tombstone of $KEY was reaped" 1 \
        "$(( $(field "$id" tombstones_reaped) - reaped_before[id] ))"
    check_eq "node $id: RK.LOCAL $KEY is nil after the reap" "" "$(cli "$id" rk.local "$KEY")"
done
check_eq "SET $KEY again" OK "$(cli 2 set "$KEY" second-life)"
for _ in $(seq 1 200); do
    [ "$(cli 1 rk.local "$KEY" | tail -1)$(cli 2 rk.local "$KEY" | tail -1)$(cli 3 rk.local \
        "$KEY" | tail -1)" == "second-lifesecond-lifesecond-life" ] && break
    sleep 0.05
done
for id in 1 2 3; do
    check_eq "node $id: GET $KEY answers the new value" second-life "$(cli "$id" get "$KEY")"
    check_eq "node $id: RK.LOCAL holds the new value" second-life \
        "$(cli "$id" rk.local "$KEY" | tail -1)"
done
for id in 1 2 3; do
    stop_node "${PID_OF[$id]}" TERM || fail "node $id did not stop on SIGTERM"
done
finish
