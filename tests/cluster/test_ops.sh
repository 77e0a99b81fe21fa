#!/usr/bin/env bash
# test_ops.sh — writes given as operations through the bucket's policy table (Groundwork II):
# APPEND and GETDEL on an lww bucket, coordinated by a primary and forwarded from a node
# outside the key's preference list (the forwarded write carries the operation, its answer the
# reply, a value included); APPEND refused on a siblings bucket with the reason, forwarded
# too. (WRONGTYPE, for objects of another type, is tested in tests/unit/test_node.c: no client
# command writes a second type yet.)
source "$(dirname "$0")/lib.sh"

start_cluster 4 --engine mem || exit 1
for id in 1 2 3 4; do
    wait_members_up "${CLIENT_PORT[$id]}" 4 || fail "node $id does not see all members up"
done
cli() { local id=$1; shift; redis-cli -p "${CLIENT_PORT[$id]}" "$@" 2>&1; }

# A key whose preference list (N = 3 of 4) leaves one node out: that node forwards.
key="" outside=""
for k in $(seq 1 50); do
    pref=" $(cli 1 rk.preflist "log:$k" | head -3 | tr '\n' ' ')"
    for id in 1 2 3 4; do
        if [[ $pref != *" $id "* ]]; then key="log:$k"; outside=$id; break 2; fi
    done
done
[ -n "$key" ] || fail "no key with a node outside its preference list"
primary=$(cli 1 rk.preflist "$key" | head -1)
log "key $key: primary $primary, node $outside outside its preference list"

check_eq "APPEND to an absent key: the new length" "5" "$(cli "$primary" append "$key" hello)"
check_eq "APPEND forwarded from outside: the new length" "11" \
    "$(cli "$outside" append "$key" ' world')"
check_eq "GET sees both" "hello world" "$(cli "$outside" get "$key")"
check_eq "APPEND of nothing answers the length" "11" "$(cli "$primary" append "$key" '')"
check_eq "SET then APPEND" "3" "$(cli "$primary" set "$key" ab >/dev/null; cli "$outside" append "$key" c)"
check_eq "DEL then APPEND starts over" "1" "$(cli "$primary" del "$key" >/dev/null; cli "$primary" append "$key" z)"
check_contains "APPEND takes two arguments" "wrong number of arguments" "$(cli 1 append "$key")"

# GETDEL answers a value: the forwarded write's answer carries it back.
cli "$primary" set "$key" 'the value' >/dev/null
check_eq "GETDEL forwarded from outside answers the value it deleted" "the value" \
    "$(cli "$outside" getdel "$key")"
check_eq "it is gone" "" "$(cli "$primary" get "$key")"
check_eq "GETDEL of nothing answers nil" "" "$(cli "$outside" getdel "$key")"
check_eq "DEL of it now deletes nothing" "0" "$(cli "$primary" del "$key")"

check_eq "bucket notes set to siblings on all 4" "4" "$(cli 1 rk.bucket set notes policy siblings)"
check_contains "APPEND on a siblings bucket is refused with the reason" \
    "APPEND needs a bucket whose policy is lww" "$(cli 2 append notes:1 x)"
check_contains "forwarded too" "APPEND needs a bucket whose policy is lww" \
    "$(cli "$outside" append notes:1 x)"
check_eq "nothing was written" "" "$(cli 1 get notes:1)"

for id in 1 2 3 4; do stop_node "${PID_OF[$id]}" TERM; done
finish
