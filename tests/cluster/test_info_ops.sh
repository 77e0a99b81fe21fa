#!/usr/bin/env bash
# test_info_ops.sh — INFO stats ops_get, ops_put and ops_del count the client commands a node
# received, exactly: one per GET, MGET or RK.GET (whatever the key count), per SET or RK.PUT,
# per DEL or RK.DEL, refused ones included once they reach their command (SET NX); never
# EXISTS, a wrong-arity call, INFO itself, or what a node does as a replica for another's
# client. A 3-node cluster on the mem engine; the commands go to node 1.
source "$(dirname "$0")/lib.sh"

start_cluster 3 --engine mem || exit 1
wait_cluster_up 3
p1=${CLIENT_PORT[1]}
cli() { redis-cli -p "$p1" "$@" 2>&1; }

# ops ID: "get put del" as INFO stats on node ID shows them.
ops() {
    local port=${CLIENT_PORT[$1]} f out=""
    for f in ops_get ops_put ops_del; do
        out+="${out:+ }$(info_field "$port" "$f" stats)"
    done
    echo "$out"
}

read -r get0 put0 del0 <<<"$(ops 1)"
check_eq "a fresh node has counted nothing" "0 0 0" "$get0 $put0 $del0"

check_eq "SET" "OK" "$(cli set ops:a 1)"
check_eq "SET" "OK" "$(cli set ops:b 2)"
check_contains "SET NX refused" "not supported" "$(cli set ops:c 3 nx)"
check_eq "blind RK.PUT" "OK" "$(cli rk.put ops:d '' 4 >/dev/null && echo OK)"
check_eq "GET" "1" "$(cli get ops:a)"
check_eq "GET" "2" "$(cli get ops:b)"
check_eq "GET missing" "" "$(cli get ops:none)"
check_eq "MGET of three keys" "3" "$(cli mget ops:a ops:b ops:none | wc -l)"
check_contains "RK.GET" "4" "$(cli rk.get ops:d)"
check_eq "EXISTS (not counted)" "2" "$(cli exists ops:a ops:b)"
check_contains "GET with wrong arity (not counted)" "wrong number of arguments" "$(cli get)"
check_eq "DEL of two keys" "2" "$(cli del ops:a ops:b)"
ctx=$(cli rk.get ops:d | head -1)
check_eq "RK.DEL" "OK" "$(cli rk.del ops:d "$ctx" >/dev/null && echo OK)"

# get: 3 GET + 1 MGET + 2 RK.GET; put: 2 SET + 1 refused SET NX + 1 RK.PUT; del: DEL + RK.DEL.
check_eq "node 1 counts each command once" "6 4 2" "$(ops 1)"
check_eq "INFO does not count itself" "6 4 2" "$(ops 1)"
for id in 2 3; do
    check_eq "node $id, a replica only, counted no client command" "0 0 0" "$(ops "$id")"
done
replicated=$(( $(info_field "${CLIENT_PORT[2]}" replica_puts stats) + \
               $(info_field "${CLIENT_PORT[3]}" replica_puts stats) ))
[ "$replicated" -gt 0 ] && log "ok: the replicas did work ($replicated replica_puts)" ||
    fail "no replica_puts on nodes 2 and 3"

finish
