#!/usr/bin/env bash
# test_bench_routing.sh — client-driven coordination (Dynamo 6.4) end to end: `ringkv bench`
# against node 1 of a 5-node mem cluster (N=3), once with --routing on (libringkv's router
# reads RK.RING ROUTE and RK.MEMBERS and sends each SET to the first primary of its key) and
# once with --routing off (everything to node 1). INFO's `forwarded` counter (stats section:
# writes a node sent to a primary to coordinate) must stay (almost) flat on every node with
# routing on, and grow on node 1 by its share of keys it is no primary of (2 of 5, so about
# 40% of the writes) with routing off. Every written key must read back (bench GET reports
# no nil), through the router and through one node; error replies (SET into a `set` bucket)
# are counted and give exit 1; with node 5 killed, routed SETs skip it and still all succeed;
# a port nobody listens on must give exit 2 with one line on stderr. No timing is asserted: the numbers bench prints are not checked.
source "$(dirname "$0")/lib.sh"

WRITES=3000

start_cluster 5 --engine mem || exit 1
wait_cluster_up 5
p1=${CLIENT_PORT[1]}

# forwarded_all: node i's forwarded counter, for i = 1..5, on one line.
forwarded_all() {
    local id out=""
    for id in 1 2 3 4 5; do
        out+="$(member_field "$id" forwarded) "
    done
    echo "$out"
}
# delta BEFORE AFTER INDEX: AFTER's field INDEX (1-based) minus BEFORE's.
delta() { echo $(( $(echo "$2" | cut -d' ' -f"$3") - $(echo "$1" | cut -d' ' -f"$3") )); }
sum_delta() {
    local total=0 i
    for i in 1 2 3 4 5; do total=$((total + $(delta "$1" "$2" "$i"))); done
    echo "$total"
}
bench() { "$RINGKV" bench -p "$p1" -c 8 -P 4 -n "$WRITES" -r "$WRITES" --sequential "$@"; }

check_contains "RK.RING ROUTE answers version, n and the ring" "3" \
    "$(redis-cli -p "$p1" rk.ring route | sed -n 2p)"
check_contains "RK.RING with a bad argument is refused" "ERR syntax" \
    "$(redis-cli -p "$p1" rk.ring nonsense 2>&1)"

# ---- routing on: writes go to a primary, nobody forwards ----
before=$(forwarded_all)
out=$(bench -t set --routing on --key-prefix on: 2>&1)
check_eq "bench --routing on: exit 0" 0 $?
check_contains "bench --routing on: all SETs answered" "$WRITES requests completed" "$out"
check_contains "bench --routing on: no error replies" "errors: 0," "$out"
after=$(forwarded_all)
forwarded_on=$(sum_delta "$before" "$after")
log "routing on: forwarded per node $(for i in 1 2 3 4 5; do printf '%s ' "$(delta "$before" "$after" "$i")"; done)"
if [ "$forwarded_on" -le $((WRITES / 100)) ]; then
    log "ok: routing on: the nodes forwarded $forwarded_on of $WRITES writes"
else
    fail "routing on: the nodes forwarded $forwarded_on of $WRITES writes (at most 1% expected)"
fi

# ---- routing off: node 1 forwards the writes of keys it is no primary of ----
before=$(forwarded_all)
out=$(bench -t set --routing off --key-prefix off: 2>&1)
check_eq "bench --routing off: exit 0" 0 $?
check_contains "bench --routing off: no error replies" "errors: 0," "$out"
after=$(forwarded_all)
forwarded_node1=$(delta "$before" "$after" 1)
forwarded_others=$(( $(sum_delta "$before" "$after") - forwarded_node1 ))
log "routing off: node 1 forwarded $forwarded_node1, the others $forwarded_others"
# Node 1 is a primary of 3 of 5 keys: it forwards about 2 in 5 writes. A quarter leaves room
# for an uneven ring, and still fails if the writes did not go through node 1.
if [ "$forwarded_node1" -ge $((WRITES / 4)) ]; then
    log "ok: routing off: node 1 forwarded $forwarded_node1 of $WRITES writes"
else
    fail "routing off: node 1 forwarded $forwarded_node1 of $WRITES writes (a quarter expected)"
fi
check_eq "routing off: only node 1 forwarded" 0 "$forwarded_others"

# ---- every key reads back ----
for prefix in on: off:; do
    for routing in on off; do
        out=$(bench -t get --routing "$routing" --key-prefix "$prefix" 2>&1)
        check_eq "GET $prefix keys, routing $routing: exit 0" 0 $?
        check_contains "GET $prefix keys, routing $routing: every key found" \
            "errors: 0, misses (nil): 0" "$out"
    done
done
check_eq "a key written with routing on reads back through node 5" "xxx" \
    "$(redis-cli -p "${CLIENT_PORT[5]}" get on:000000001234)"
check_eq "a key never written is a miss" "misses (nil): 5" \
    "$(bench -t get -n 5 --key-prefix never: 2>&1 | grep -o 'misses (nil): [0-9]*')"

# ---- --csv: a header and one line per test ----
out=$(bench -t set,get -n 200 --routing on --csv --key-prefix csv:)
check_eq "--csv: exit 0" 0 $?
check_eq "--csv: header and two lines" 3 "$(printf '%s\n' "$out" | wc -l)"
check_contains "--csv: the header" '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","p999_latency_ms","max_latency_ms"' "$out"
check_eq "--csv: SET then GET lines" '"SET" "GET"' \
    "$(printf '%s\n' "$out" | sed -n '2,3p' | cut -d, -f1 | tr '\n' ' ' | sed 's/ $//')"

# ---- error replies: counted, reported, exit 1 ----
redis-cli -p "$p1" rk.bucket set tags policy set >/dev/null
for routing in on off; do
    err=$(bench -t set -n 40 -r 10 --routing "$routing" --key-prefix tags: 2>&1 >/dev/null)
    check_eq "SET into a set bucket, routing $routing: exit 1" 1 \
        "$(bench -t set -n 40 -r 10 --routing "$routing" --key-prefix tags: >/dev/null 2>&1; echo $?)"
    check_contains "SET into a set bucket, routing $routing: errors counted" \
        "40 error replies; first: WRONGTYPE" "$err"
done

# ---- a member down: routed requests skip it, nothing fails ----
stop_node "${PID_OF[5]}" KILL
bench -t set --routing on --key-prefix down: >"$TEST_TMP/down.out" 2>"$TEST_TMP/down.err"
check_eq "node 5 down, bench --routing on: exit 0" 0 $?
err=$(cat "$TEST_TMP/down.err")
check_contains "node 5 down: no error replies" "errors: 0," "$(cat "$TEST_TMP/down.out")"
check_contains "node 5 down: bench says it left node 5 out" \
    "127.0.0.1:${CLIENT_PORT[5]}" "$err"
check_contains "node 5 down: the report counts it" "members unreachable, left out: 1" \
    "$(cat "$TEST_TMP/down.out")"
check_contains "node 5 down: every key reads back" "errors: 0, misses (nil): 0" \
    "$(bench -t get --routing on --key-prefix down: 2>/dev/null)"

# ---- errors: one line and exit 2 ----
dead=$(free_port)
for routing in on off; do
    err=$("$RINGKV" bench -p "$dead" -n 10 --routing "$routing" 2>&1 >/dev/null)
    check_eq "bench to a closed port, routing $routing: exit 2" 2 \
        "$("$RINGKV" bench -p "$dead" -n 10 --routing "$routing" >/dev/null 2>&1; echo $?)"
    check_eq "bench to a closed port, routing $routing: one line on stderr" 1 \
        "$(printf '%s\n' "$err" | wc -l)"
    check_contains "bench to a closed port, routing $routing: says so" "$dead" "$err"
done
check_eq "bench with a bad flag: exit 2" 2 \
    "$("$RINGKV" bench -p "$p1" -t del >/dev/null 2>&1; echo $?)"

finish
