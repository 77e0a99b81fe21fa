#!/usr/bin/env bash
# test_dynamo.sh — the Dynamo core on five real processes (N = 3, issue 4): every key lives on
# exactly the three nodes of its preference list; two blind RK.PUTs through different nodes
# become two siblings and an RK.PUT with their context collapses them; with one node killed
# (kill -9), SET/GET with W = 2 / R = 2 keep succeeding for every key; read repair restores the
# copy a restarted node missed.
source "$(dirname "$0")/lib.sh"

start_cluster 5 --engine lmdb --sync batch --request-timeout-ms 2000 || exit 1
for id in 1 2 3 4 5; do
    wait_members_up "${CLIENT_PORT[$id]}" 5 || fail "node $id does not see all members up"
done
cli() { local id=$1; shift; redis-cli -p "${CLIENT_PORT[$id]}" "$@" 2>&1; }

# 1. Placement: 30 keys, each written through a rotating node, held by exactly its preflist.
bad=0
for k in $(seq 1 30); do
    via=$(( k % 5 + 1 ))
    [ "$(cli "$via" set "place:$k" "v$k")" == "OK" ] || { bad=$((bad + 1)); continue; }
done
check_eq "30 SETs through rotating nodes acknowledged" "0" "$bad"
sleep 0.5   # W = 2 answers before the third replica wrote; give it a moment
misplaced=0
for k in $(seq 1 30); do
    pref=$(cli 1 rk.preflist "place:$k" | sort -n | tr '\n' ' ')
    holders=""
    for id in 1 2 3 4 5; do
        [ -n "$(cli "$id" rk.local "place:$k")" ] && holders+="$id "
    done
    [ "$pref" == "$holders" ] || { misplaced=$((misplaced + 1)); log "place:$k preflist [$pref] holders [$holders]"; }
done
check_eq "every key held by exactly the 3 nodes of its preference list" "0" "$misplaced"

check_eq "the empty key, as Redis allows it" "OK" "$(cli 1 set '' empty)"
check_eq "read back through another node" "empty" "$(cli 4 get '')"

# 2. Siblings: two blind writes through different nodes, then a write with their context.
check_eq "bucket cart set to siblings on all 5" "5" "$(cli 2 rk.bucket set cart policy siblings)"
# RK.PUT answers [new context, replicas that acknowledged]: at least W = 2.
acks() { tail -1 <<<"$1"; }
check_eq "blind put through node 1 acknowledged by 2 or 3" "yes" \
    "$(a=$(acks "$(cli 1 rk.put cart:alice '' book)"); [ "$a" -ge 2 ] && echo yes || echo "$a")"
check_eq "blind put through node 4 acknowledged by 2 or 3" "yes" \
    "$(a=$(acks "$(cli 4 rk.put cart:alice '' pen)"); [ "$a" -ge 2 ] && echo yes || echo "$a")"
got=$(cli 3 rk.get cart:alice R 3 | tail -n +2 | sort | tr '\n' ' ')
check_eq "two siblings" "book pen " "$got"
check_contains "a plain GET of two versions answers -CONFLICT" "CONFLICT" "$(cli 2 get cart:alice)"
ctx=$(cli 5 rk.get cart:alice R 3 | head -1)
out=$(cli 2 rk.put cart:alice "$ctx" 'book,pen')
[ -n "$(head -1 <<<"$out")" ] && [ "$(acks "$out")" -ge 2 ] && log "ok: put with the context" \
    || fail "put with the context: [$out]"
got=$(cli 1 rk.get cart:alice R 3 | tail -n +2 | tr '\n' ' ')
check_eq "collapsed into one" "book,pen " "$got"

# 3. One node killed: every key still takes SET and GET with W = 2, R = 2.
victim=3
kill -9 "${PID_OF[$victim]}"
wait "${PID_OF[$victim]}" 2>/dev/null
sleep 0.3
failed_ops=0
for k in $(seq 1 30); do
    via=$(( (k % 4) + 1 )); [ "$via" -ge "$victim" ] && via=$((via + 1))
    [ "$(cli "$via" set "place:$k" "w$k")" == "OK" ] || failed_ops=$((failed_ops + 1))
    [ "$(cli "$via" get "place:$k")" == "w$k" ] || failed_ops=$((failed_ops + 1))
done
check_eq "with node $victim killed, 30 SETs and 30 GETs succeed" "0" "$failed_ops"

# 4. Read repair: node 3 missed those writes; after a restart a read repairs its copy.
restart_member "$victim" || exit 1
for id in 1 2 4 5; do wait_members_up "${CLIENT_PORT[$id]}" 5; done
stale=""
for k in $(seq 1 30); do
    if cli 1 rk.preflist "place:$k" | grep -qx "$victim"; then stale="place:$k"; break; fi
done
if [ -z "$stale" ]; then
    fail "no key of the 30 has node $victim in its preference list"
else
    before=$(cli "$victim" rk.local "$stale" | tail -1)
    log "node $victim's copy of $stale before the read: $before"
    check_eq "a read answers with the newest value" "w${stale#place:}" "$(cli 1 get "$stale")"
    sleep 0.5
    after=$(cli "$victim" rk.local "$stale" | tail -1)
    check_eq "read repair gave node $victim the newest value" "w${stale#place:}" "$after"
fi
for id in 1 2 3 4 5; do stop_node "${PID_OF[$id]}" TERM; done
finish
