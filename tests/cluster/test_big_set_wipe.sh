#!/usr/bin/env bash
# test_big_set_wipe.sh — issue 14: a large collection survives the loss of a replica's disk.
# Three real processes on the lmdb engine (--request-timeout-ms 30000: each write carries the
# whole set); bucket big with policy set, N = 3 (R = W = 2). One set, big:s, loaded with MEMBERS
# members (100,000; 10,000 against the ASan build: there a SADD of 1000 to a 20,000-member set
# took up to 20 s), 1000 per SADD (big_set.py, redis-py). SCARD through every node and every node's own copy
# (RK.LOCAL) hold all of them. Then node 3 is killed with -9, its data
# directory deleted, and it is restarted empty with the same id and flags, three times:
#   1. read repair: the nodes run with --aae off, so nothing but a read can bring the set back.
#      Node 3's own copy is empty after the restart; an SCARD through node 1 (sent again every
#      10 s while the copy is short) reads all three replicas and repairs node 3's.
#   1b. chunks: one SADD through node 1 sends node 3 a delta it cannot merge (its clock is
#      empty); it answers RK_ENOTREADY and node 1 streams it the whole set in chunks.
#   2. anti-entropy: every node restarted with --aae-interval-ms 200, node 3 wiped again; no
#      client reads at all until node 3's own copy is whole.
# Each time, the seconds from the restart until node 3's own copy (RK.LOCAL, polled every 0.5 s,
# 300 s at most) holds every member are printed:
#   "big set back on the wiped node: 100000 members in X s (via read repair)"
# and the copy is compared member by member (sorted lists) with what was loaded. Last, a few
# SADD and SREM through different nodes after the recovery reach every node's own copy and every node's SCARD / SMISMEMBER. Nothing
# asserts a time; a wrong count fails.
# MEMBERS=N picks the size (read before lib.sh, which uses MEMBERS for --members).
WANT_MEMBERS=${MEMBERS:-}
source "$(dirname "$0")/lib.sh"

case "$RINGKVD" in
    *build-asan*) WANT_MEMBERS=${WANT_MEMBERS:-10000} ;;
    *) WANT_MEMBERS=${WANT_MEMBERS:-100000} ;;
esac
KEY=big:s
RESTORE_LIMIT_S=300
HELPER=$(dirname "$0")/big_set.py

cli() { member_cli "$@"; }
field() { member_field "$@"; }
PY=$(redis_py) || { fail "no python3 with redis-py (python3-redis) to load the set"; finish; }
big() { "$PY" "$HELPER" "$@"; }

# local_count ID: members in node ID's own copy of the set.
local_count() { big local "${CLIENT_PORT[$1]}" "$KEY"; }

# wait_all_local COUNT CHANGES...: until every node's own copy is m0 .. m(COUNT-1) with CHANGES
# (+m / -m, big_set.py check_local) applied (30 s: the third replica lands after W = 2 answered);
# a check per node.
wait_all_local() {
    local count=$1 id out
    shift
    for id in 1 2 3; do
        for _ in $(seq 1 60); do
            out=$(big check_local "${CLIENT_PORT[$id]}" "$KEY" "$count" "$@" 2>&1)
            [ "$out" == "ok" ] && break
            sleep 0.5
        done
        check_eq "node $id: its own copy holds exactly the members expected" "ok" "$out"
    done
}

# wipe_and_restart_3: kill -9 node 3, delete its data directory, start it again with the same
# id and flags (it learns its epoch from the others). Sets RESTARTED (now_s before the launch).
wipe_and_restart_3() {
    { kill -9 "${PID_OF[3]}" && wait "${PID_OF[3]}"; } 2>/dev/null # no "Killed" line from bash
    rm -rf "$TEST_TMP/node3"
    [ -e "$TEST_TMP/node3" ] && fail "node 3's data directory is still there"
    RESTARTED=$(now_s)
    restart_member 3 || exit 1
}

# wait_restored HOW [POKE_ID]: poll node 3's own copy until it holds every member (with
# POKE_ID, SCARD through that node now and every 10 s); prints the measured line; 0 if restored.
wait_restored() {
    local how=$1 poke=() out last
    [ -n "${2:-}" ] && poke=("${CLIENT_PORT[$2]}" 10)
    out=$(big wait_local "${CLIENT_PORT[3]}" "$KEY" "$WANT_MEMBERS" "$RESTORE_LIMIT_S" \
        "$RESTARTED" "${poke[@]}")
    printf '%s\n' "$out" | grep -v '^done\|^timeout'
    last=$(printf '%s\n' "$out" | tail -1)
    read -r state have secs pokes <<<"$last"
    if [ "$state" == "done" ]; then
        log "big set back on the wiped node: $have members in $secs s (via $how)" \
            "(${RINGKVD#"$ROOT"/}${2:+, $pokes SCARD through node $2})"
        return 0
    fi
    fail "node 3's own copy holds [$have] of $WANT_MEMBERS members $secs s after the restart" \
        "(via $how${2:+, $pokes SCARD through node $2})"
    return 1
}

# ---- 0. three nodes, a set bucket, one set of WANT_MEMBERS members ---------------------------
test_start=$(now_s)
# A set's write carries the whole object (3 MB at 100,000 members) to every replica: on a busy
# machine the default 5 s request timeout answered a W = 2 SADD with TIMEOUT.
start_cluster 3 --engine lmdb --aae off --request-timeout-ms 30000 || exit 1
wait_cluster_up 3
check_eq "bucket big set to policy set, N 3 on all 3" "3" \
    "$(cli 1 rk.bucket set big policy set n 3)"
log "loading $WANT_MEMBERS members into $KEY, 1000 per SADD, through node 1"
out=$(big load "${CLIENT_PORT[1]}" "$KEY" "$WANT_MEMBERS" 1000 2>&1)
log "load: $out"
check_contains "every member added once (the SADD replies sum up)" "added $WANT_MEMBERS in" "$out"
for id in 1 2 3; do
    check_eq "node $id: SCARD $KEY" "$WANT_MEMBERS" "$(cli "$id" scard "$KEY")"
done
wait_all_local "$WANT_MEMBERS"
log "loaded and checked at $(elapsed "$test_start") s"

# ---- 1. node 3 wiped, the set brought back by read repair (anti-entropy off) -----------------
wipe_and_restart_3
check_eq "node 3: its own copy is empty after the wipe" "0" "$(local_count 3)"
wait_member_state "${CLIENT_PORT[1]}" 3 up || fail "node 1 does not see node 3 up again"
repairs_before=$(field 1 read_repairs)
if wait_restored "read repair" 1; then
    check_eq "node 3: the repaired copy is every member loaded (sorted lists)" "ok" \
        "$(big check_local "${CLIENT_PORT[3]}" "$KEY" "$WANT_MEMBERS")"
fi
repairs_after=$(field 1 read_repairs)
if [ "${repairs_after:-0}" -gt "${repairs_before:-0}" ]; then
    log "ok: node 1's read_repairs grew from $repairs_before to $repairs_after"
else
    fail "node 1's read_repairs did not grow: [$repairs_before] -> [$repairs_after]"
fi
check_eq "node 3: SCARD $KEY after the read repair" "$WANT_MEMBERS" "$(cli 3 scard "$KEY")"

log "phase 1 done at $(elapsed "$test_start") s"

# ---- 1b. node 3 wiped again, the set brought back in chunks after a delta it cannot merge ----
# A SADD of a member already there still mints a dot: its delta leaves a gap in node 3's empty
# clock, node 3 answers RK_ENOTREADY, and node 1 streams it the whole set in chunks that each
# fit a frame (merge.md, "Large sets").
wipe_and_restart_3
wait_learned "${CLIENT_PORT[3]}" || fail "node 3 did not learn its epoch after the wipe"
wait_cluster_up 3
resends_before=$(field 1 set_full_resends)
RESTARTED=$(now_s)
check_eq "SADD of a member already there through node 1" "0" "$(cli 1 sadd "$KEY" m0000005)"
if wait_restored "a not-ready delta, the whole set resent in chunks"; then
    check_eq "node 3: the copy the chunks restored is every member loaded (sorted lists)" "ok" \
        "$(big check_local "${CLIENT_PORT[3]}" "$KEY" "$WANT_MEMBERS")"
fi
check_positive "node 3: set_deltas_not_ready" "$(field 3 set_deltas_not_ready)"
check_positive "node 1: set_full_resends grew by" \
    "$(( $(field 1 set_full_resends) - resends_before ))"

# ---- 2. node 3 wiped again, the set brought back by anti-entropy alone ----------------------
for id in 1 2; do
    stop_node "${PID_OF[$id]}" TERM || fail "node $id did not stop on SIGTERM"
done
CLUSTER_FLAGS=(--engine lmdb --aae-interval-ms 200 --request-timeout-ms 30000)
for id in 1 2; do restart_member "$id" || exit 1; done
wipe_and_restart_3
check_eq "node 3: its own copy is empty after the second wipe" "0" "$(local_count 3)"
# No client reads from here until node 3's copy is whole: only RK.LOCAL on node 3 and INFO.
if wait_restored "anti-entropy"; then
    check_eq "node 3: the copy anti-entropy restored is every member loaded (sorted lists)" "ok" \
        "$(big check_local "${CLIENT_PORT[3]}" "$KEY" "$WANT_MEMBERS")"
fi
for id in 1 2 3; do
    check_eq "node $id: read_repairs (no read since the restart)" "0" "$(field "$id" read_repairs)"
done
check_positive "aae_keys_repaired summed over the nodes" "$(sum_field aae_keys_repaired 1 2 3)"

log "phase 2 done at $(elapsed "$test_start") s"

# ---- 3. writes after the recovery reach every node -------------------------------------------
wait_cluster_up 3
# Removes first, then adds: the count stays at MEMBERS.
check_eq "SREM through node 2 after the recovery" "2" "$(cli 2 srem "$KEY" m0000000 m0000001)"
check_eq "SADD through node 3 after the recovery" "2" "$(cli 3 sadd "$KEY" after-a after-b)"
check_eq "SREM through node 3 after the recovery" "1" "$(cli 3 srem "$KEY" after-b)"
check_eq "SADD through node 1 after the recovery" "1" "$(cli 1 sadd "$KEY" after-c m0000002)"
wait_all_local "$WANT_MEMBERS" +after-a +after-c -m0000000 -m0000001
for id in 1 2 3; do
    check_eq "node $id: SCARD $KEY after the writes" "$WANT_MEMBERS" \
        "$(cli "$id" scard "$KEY")"
    check_eq "node $id: SMISMEMBER after-a after-b after-c m0000000 m0000002" "1 0 1 0 1" \
        "$(cli "$id" smismember "$KEY" after-a after-b after-c m0000000 m0000002 | tr '\n' ' ' |
            sed 's/ $//')"
done

for id in 1 2 3; do
    stop_node "${PID_OF[$id]}" TERM || fail "node $id did not stop on SIGTERM"
done
log "test took $(elapsed "$test_start") s"
finish
