#!/usr/bin/env bash
# test_roundtrip.sh — a real ringkvd answers what redis-cli and the ringkv CLI send: the
# commands of issue 3, the handshake commands real clients use, and refusals with reasons.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
start_node n1 "$port" --engine lmdb --sync batch || exit 1
cli() { redis-cli -p "$port" "$@" 2>&1; }

check_eq "PING" "PONG" "$(cli ping)"
check_eq "ECHO" "hello" "$(cli echo hello)"
check_eq "SET" "OK" "$(cli set cart:alice book)"
check_eq "GET" "book" "$(cli get cart:alice)"
check_eq "GET missing is nil" "" "$(cli get nosuchkey)"
check_eq "binary-safe value" "a b
c" "$(printf 'a b\nc' | cli -x set bin >/dev/null; cli get bin)"
check_eq "MGET" "book

a b
c" "$(cli mget cart:alice nosuch bin)"
check_eq "EXISTS counts" "2" "$(cli exists cart:alice bin nosuch)"
check_eq "DEL many" "2" "$(cli del cart:alice bin nosuch)"
check_eq "DEL again" "0" "$(cli del cart:alice)"
check_eq "GET after DEL" "" "$(cli get cart:alice)"
check_eq "DBSIZE" "0" "$(cli dbsize)"
check_contains "unknown command" "ERR unknown command 'frobnicate'" "$(cli frobnicate x)"
check_contains "wrong arity" "wrong number of arguments for 'get'" "$(cli get)"
check_contains "SET NX refused with the reason" "no compare-and-set" "$(cli set k v nx)"
check_contains "SET EX refused with the reason" "no expiry" "$(cli set k v ex 10)"
check_eq "nothing was written by refused SETs" "" "$(cli get k)"
check_eq "SELECT 0" "OK" "$(cli select 0)"
check_contains "SELECT 1 refused" "out of range" "$(cli select 1)"
check_eq "CLIENT SETNAME/GETNAME on one connection" "OK
me" "$(printf 'CLIENT SETNAME me\nCLIENT GETNAME\n' | cli)"
id=$(cli client id)
[[ "$id" =~ ^[1-9][0-9]*$ ]] && log "ok: CLIENT ID is a positive integer" || fail "CLIENT ID: [$id]"
check_contains "CONFIG GET save" "save" "$(cli config get save)"
check_eq "COMMAND COUNT matches COMMAND LIST" "$(cli command list | wc -l)" "$(cli command count)"
check_contains "HELLO 3 answers a map" "proto" "$(cli -3 hello 3)"
check_contains "RESP3 null after HELLO 3" "_" \
    "$(raw_exchange "$port" 'HELLO 3\r\nGET nosuchkey\r\nQUIT\r\n' | tr -d '\r' | tail -2 | head -1)"
check_eq "RESP2 null" '$-1' "$(raw_exchange "$port" 'GET nosuchkey\r\nQUIT\r\n' | tr -d '\r' | head -1)"
check_contains "INFO server has process_id" "process_id:$NODE_PID" "$(cli info server | tr -d '\r')"
check_contains "bare INFO has the server section" "# Server" "$(cli info)"
check_contains "INFO stats has latency percentiles" "latency_read_p99_us" "$(cli info stats)"
check_contains "INFO keyspace" "# Keyspace" "$(cli info keyspace)"

# The ringkv CLI and its library.
check_eq "ringkv set" "OK" "$("$RINGKV" --port "$port" set cli:k hello 2>&1)"
check_eq "ringkv get" "hello" "$("$RINGKV" --port "$port" get cli:k 2>&1)"
check_eq "redis-cli sees it" "hello" "$(cli get cli:k)"
check_eq "ringkv del" "1" "$("$RINGKV" --port "$port" del cli:k 2>&1 | tr -dc '0-9')"

# Pipelining: 1,000 commands in one write come back in order.
out=$(for i in $(seq 1 1000); do printf 'SET p%d v%d\r\nGET p%d\r\n' "$i" "$i" "$i"; done |
      redis-cli -p "$port" 2>&1 | awk 'NR % 2 == 0' | tail -1)
check_eq "pipelined replies in order" "v1000" "$out"

# redis-benchmark speaks to it (the bench/ script measures; this only checks it works).
bench=$(redis-benchmark -p "$port" -t set,get -n 2000 -c 10 -q 2>&1 | tr '\r' '\n' | grep -c 'requests per second')
check_eq "redis-benchmark runs set and get" "2" "$bench"

# The Dynamo API on a cluster of one: siblings, contexts, max-siblings.
check_eq "RK.BUCKET SET" "1" "$(cli rk.bucket set cart policy siblings)"
out=$(cli rk.get cart:none)
check_eq "absent key: no values" "" "$(tail -n +2 <<<"$out")"
[ -n "$(head -1 <<<"$out")" ] && log "ok: absent key: a context" || fail "absent key: no context"
cli rk.put cart:bob '' a >/dev/null
cli rk.put cart:bob '' b >/dev/null
check_eq "two blind puts are two siblings" "a b " "$(cli rk.get cart:bob | tail -n +2 | sort | tr '\n' ' ')"
ctx=$(cli rk.get cart:bob | head -1)
cli rk.put cart:bob "$ctx" ab >/dev/null
check_eq "a put with the context replaces them" "ab" "$(cli rk.get cart:bob | tail -n +2)"
cli set cart:own 1 >/dev/null
cli set cart:own 2 >/dev/null
check_eq "a client's own SET x 1; SET x 2 never conflicts on a siblings bucket" "2" "$(cli get cart:own)"
cli rk.put cart:two '' x >/dev/null
cli rk.put cart:two '' y >/dev/null
check_contains "a plain GET of two versions answers -CONFLICT" "CONFLICT" "$(cli get cart:two)"
check_contains "in MGET that element is the error" "CONFLICT" "$(cli mget cart:own cart:two)"
check_eq "plain DEL really deletes both" "1" "$(cli del cart:two)"
check_eq "nothing left" "" "$(cli get cart:two)"
ctx=$(cli rk.get cart:bob | head -1)
out=$(cli rk.del cart:bob "$ctx")
check_eq "RK.DEL answers the new context and 1 acknowledgement" "1" "$(tail -1 <<<"$out")"
[ "$(head -1 <<<"$out")" != "$ctx" ] && log "ok: the new context differs" || fail "same context"
check_eq "deleted: no values" "" "$(cli rk.get cart:bob | tail -n +2)"
check_contains "a bad context is refused" "context is not a token" "$(cli rk.put cart:bob zzz v)"
out=$(for i in $(seq 1 101); do printf 'RK.PUT cart:many "" v%d\n' "$i"; done | cli)
check_eq "100 siblings accepted" "100" "$(grep -c '^1$' <<<"$out")"
check_contains "the 101st is refused with the reason" "too many siblings: max-siblings is 100" "$out"
check_eq "INFO counts it" "1" "$(info_field "$port" siblings_refused)"
check_eq "INFO says n shrinks to the member count" "1" "$(info_field "$port" effective_n)"

stop_node "$NODE_PID" TERM
check_contains "SIGTERM stops cleanly" "stopped cleanly" "$(cat "$TEST_TMP/n1.log")"
finish
