#!/usr/bin/env bash
# test_aae.sh — issue 17: active anti-entropy on real processes. Three nodes on the lmdb engine
# (N = 3), exchanges every 200 ms (--aae-interval-ms) and --test-hooks yes:
#   1. AAE_KEYS keys (100,000; 10,000 against the ASan build, whose nodes run several times
#      slower) loaded with redis-cli --pipe; node 3 killed with -9, its data directory deleted,
#      restarted empty. With no client reads at all, node 3's DBSIZE reaches AAE_KEYS, then
#      RK.LOCAL on node 3 (its own copy, no read repair) answers every key with its value; INFO
#      read_repairs is 0 on every node and aae_keys_repaired grew: anti-entropy restored it.
#      The restore time is logged ("restored N keys in S s").
#   2. A copy damaged on node 2's disk (RK.DEBUG DAMAGE flips a byte, checksum untouched) reads
#      as missing there (RK.LOCAL nil) while nodes 1 and 3 answer the value; `ringkv repair all`
#      on node 2 exits 0, node 2 answers the value again and counts aae_damaged_objects, and the
#      copies on nodes 1 and 3 are byte for byte what they were: the damage never spread.
#   3. A node started with --aae off answers RK.REPAIR with an error naming --aae off and keeps
#      no trees (aae_trees_ready 0); without --test-hooks, RK.DEBUG is an error.
# Everything polls with generous limits; nothing asserts a time.
source "$(dirname "$0")/lib.sh"

case "$RINGKVD" in
    *build-asan*) AAE_KEYS=${AAE_KEYS:-10000} ;;
    *) AAE_KEYS=${AAE_KEYS:-100000} ;;
esac
RESTORE_LIMIT_S=420 # run.sh gives a test 600 s in all

cli() { member_cli "$@"; }
field() { member_field "$@"; }



# check_local_all ID: RK.LOCAL of every key on node ID, pipelined through one connection;
# prints "ok" or how many keys were missing or wrong, with the first few.
check_local_all() {
    "$PY" - "${CLIENT_PORT[$1]}" "$AAE_KEYS" <<'EOF'
import sys
import redis
port, count = int(sys.argv[1]), int(sys.argv[2])
r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
bad = []
for start in range(0, count, 1000):
    p = r.pipeline(transaction=False)
    keys = range(start, min(start + 1000, count))
    for i in keys:
        p.execute_command("RK.LOCAL", "aae:%06d" % i)
    for i, reply in zip(keys, p.execute()):
        want = b"value-%06d" % i
        if reply is None or len(reply) != 2 or list(reply[1]) != [want]:
            bad.append("aae:%06d=%r" % (i, reply))
print("ok" if not bad else "%d bad: %s" % (len(bad), " ".join(bad[:5])))
EOF
}

PY=$(redis_py) || { fail "no python3 with redis-py (python3-redis) to check the keys"; finish; }

# ---- 1. a wiped node refilled by anti-entropy alone ---------------------------------------------
start_cluster 3 --engine lmdb --aae-interval-ms 200 --test-hooks yes || exit 1
wait_cluster_up 3
log "loading $AAE_KEYS keys"
awk -v n="$AAE_KEYS" 'BEGIN {
    for (i = 0; i < n; i++) {
        k = sprintf("aae:%06d", i); v = sprintf("value-%06d", i)
        printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
    }
}' >"$TEST_TMP/load.resp"
out=$(redis-cli -p "${CLIENT_PORT[1]}" --pipe <"$TEST_TMP/load.resp" 2>&1)
check_contains "load: every SET answered without an error" "errors: 0, replies: $AAE_KEYS" "$out"
for id in 1 2 3; do
    wait_dbsize "$id" "$AAE_KEYS" 120 || fail "node $id does not hold the $AAE_KEYS keys loaded"
done
repaired_before=$(sum_field aae_keys_repaired 1 2)

{ kill -9 "${PID_OF[3]}" && wait "${PID_OF[3]}"; } 2>/dev/null # no "Killed" line from bash
rm -rf "$TEST_TMP/node3"
restarted=$(now_s)
restart_member 3 || exit 1
# No client reads from here until node 3 holds every key: only DBSIZE and INFO.
if wait_dbsize 3 "$AAE_KEYS" "$RESTORE_LIMIT_S"; then
    log "restored $AAE_KEYS keys in $(elapsed "$restarted") s" \
        "(${RINGKVD#"$ROOT"/}, --aae-interval-ms 200)"
else
    fail "node 3 was not refilled within $RESTORE_LIMIT_S s"
fi
check_eq "node 3: RK.LOCAL answers every key with its value" "ok" "$(check_local_all 3)"
for id in 1 2 3; do
    check_eq "node $id: read_repairs (nothing was read-repaired)" "0" "$(field "$id" read_repairs)"
done
repaired_after=$(sum_field aae_keys_repaired 1 2 3)
if [ "$repaired_after" -ge $((repaired_before + AAE_KEYS)) ]; then
    log "ok: aae_keys_repaired grew from $repaired_before to $repaired_after"
else
    fail "aae_keys_repaired grew from $repaired_before to $repaired_after only"
fi

# ---- 2. a damaged copy is repaired, and the damage never spreads ------------------------------
KEY=aae:damaged
cli 1 set "$KEY" "good-value" >/dev/null
for _ in $(seq 1 200); do
    [ "$(cli 1 rk.local "$KEY" | tail -1)$(cli 2 rk.local "$KEY" | tail -1)$(cli 3 rk.local \
        "$KEY" | tail -1)" == "good-valuegood-valuegood-value" ] && break
    sleep 0.05
done
check_eq "RK.DEBUG DAMAGE on node 2" "OK" "$(cli 2 rk.debug damage "$KEY")"
check_eq "node 2: the damaged copy reads as missing" "" "$(cli 2 rk.local "$KEY")"
before1=$(cli 1 rk.local "$KEY")
before3=$(cli 3 rk.local "$KEY")
check_eq "node 1 still answers the value" "good-value" "$(printf '%s\n' "$before1" | tail -1)"
check_eq "node 3 still answers the value" "good-value" "$(printf '%s\n' "$before3" | tail -1)"
out=$("$RINGKV" --port "${CLIENT_PORT[2]}" repair all 2>&1)
check_eq "ringkv repair all on node 2: exit 0" 0 $?
check_contains "ringkv repair all says it is done" "repair: done:" "$out"
log "$(printf '%s\n' "$out" | tail -1)"
# The repair's last exchange may end just after the CLI's counters say done (admin_repair.c).
waited=0
while [ "$(cli 2 rk.local "$KEY" | tail -1)" != "good-value" ] && [ "$waited" -lt 100 ]; do
    sleep 0.1
    waited=$((waited + 1))
done
log "node 2's copy read back $waited polls after repair said done; aae_keys_repaired" \
    "$(field 1 aae_keys_repaired) $(field 2 aae_keys_repaired) $(field 3 aae_keys_repaired)"
check_eq "node 2: the damaged copy was repaired" "good-value" "$(cli 2 rk.local "$KEY" | tail -1)"
check_positive "node 2: aae_damaged_objects" "$(field 2 aae_damaged_objects)"
check_eq "node 1: its copy is what it was" "$before1" "$(cli 1 rk.local "$KEY")"
check_eq "node 3: its copy is what it was" "$before3" "$(cli 3 rk.local "$KEY")"
for id in 1 2 3; do
    check_eq "node $id: still no read repairs" "0" "$(field "$id" read_repairs)"
done
for id in 1 2 3; do
    stop_node "${PID_OF[$id]}" TERM || fail "node $id did not stop on SIGTERM"
done

# ---- 3. --aae off, and RK.DEBUG without --test-hooks ----------------------------------------------
port=$(free_port)
start_node off "$port" --aae off || exit 1
off_pid=$NODE_PID
check_contains "--aae off: RK.REPAIR is an error naming the flag" "--aae off" \
    "$(redis-cli -p "$port" rk.repair all 2>&1)"
out=$("$RINGKV" --port "$port" repair all 2>&1)
check_eq "--aae off: ringkv repair exits 1" 1 $?
check_contains "--aae off: ringkv repair prints the node's error" "--aae off" "$out"
check_contains "without --test-hooks: RK.DEBUG is an error" "ERR" \
    "$(redis-cli -p "$port" rk.debug damage somekey 2>&1)"
redis-cli -p "$port" set some key >/dev/null
sleep 0.5 # a node with anti-entropy on builds a tree per 50 ms tick; this one must not
check_eq "--aae off: aae_trees_ready stays 0" "0" "$(info_field "$port" aae_trees_ready)"
stop_node "$off_pid" TERM
finish
