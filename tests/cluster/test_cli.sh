#!/usr/bin/env bash
# test_cli.sh — the admin subcommands of build/ringkv (issue 19 part 3) against a 3-node
# cluster on the mem engine: status, members, ring, preflist, bucket get|set, top --once and
# repair (issue 17), each as a table (the ids and fields people look for) and with --json (one
# document that python3's json module parses, with the keys scripts use), then every exit
# status: 1 for an error reply, 2 for bad usage (one line on stderr), 3 for a port nobody
# listens on, for a node that accepts but never answers, and for a repair that waits past
# --timeout-ms on a replica that is down.
source "$(dirname "$0")/lib.sh"

start_cluster 3 --engine mem || exit 1
wait_cluster_up 3
p1=${CLIENT_PORT[1]}
rkv() { "$RINGKV" --port "$p1" "$@"; }

# json_check DESCRIPTION PYTHON-EXPRESSION (of d, the parsed document) JSON-TEXT: the text
# parses as one JSON document and the expression holds.
json_check() {
    local got
    got=$(printf '%s' "$3" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("yes" if ('"$2"') else "no: " + json.dumps(d)[:300])' 2>&1)
    check_eq "$1" "yes" "$got"
}

for i in 1 2 3 4 5 6; do
    redis-cli -p "$p1" set "cli:$i" "v$i" >/dev/null
done

# ---- tables ----
out=$(rkv members)
check_eq "members: exit 0" 0 $?
check_contains "members table has a header" "ID  CLIENT" "$out"
for id in 1 2 3; do
    check_contains "members table lists node $id" "127.0.0.1:${CLIENT_PORT[$id]}" "$out"
done
check_eq "members table: 3 rows and a header" 4 "$(printf '%s\n' "$out" | wc -l)"
check_contains "members table: node 1 is self" "self" "$(printf '%s\n' "$out" | grep "^1 ")"

out=$(rkv status)
check_eq "status: exit 0" 0 $?
check_contains "status names the node and cluster" "node 1 of cluster" "$out"
check_contains "status counts members" "members: 3, 3 up, 0 down" "$out"
check_contains "status has the per-member columns" "HINTS_PENDING" "$out"
check_contains "status shows epochs" "EPOCH" "$out"

out=$(rkv ring)
check_eq "ring: exit 0" 0 $?
check_contains "ring counts partitions" "64 partitions" "$out"
check_eq "ring: the shares add up to 64" 64 \
    "$(printf '%s\n' "$out" | awk '$1 ~ /^[123]$/ && NF == 3 {s += $2} END {print s}')"

out=$(rkv preflist cli:1)
check_eq "preflist: exit 0" 0 $?
check_eq "preflist: 3 nodes and a header" 4 "$(printf '%s\n' "$out" | wc -l)"
check_eq "preflist table agrees with RK.PREFLIST" \
    "$(redis-cli -p "$p1" rk.preflist cli:1 | tr '\n' ' ')" \
    "$(printf '%s\n' "$out" | awk 'NR > 1 {printf "%s ", $2}')"

out=$(rkv bucket set carts policy siblings n 2)
check_eq "bucket set: exit 0" 0 $?
check_contains "bucket set says where it was stored" "stored on 3 members" "$out"
out=$(rkv bucket get carts)
check_eq "bucket get: exit 0" 0 $?
check_contains "bucket get shows the policy set" "siblings" "$(printf '%s\n' "$out" | grep '^policy')"
check_eq "bucket get shows n" "2" "$(printf '%s\n' "$out" | awk '$1 == "n" {print $2}')"

out=$(rkv top --once --interval-ms 200)
check_eq "top --once: exit 0" 0 $?
check_contains "top has ops/s and p99 columns" "OPS/S" "$out"
check_contains "top has p99 columns" "WRITE_P99_US" "$out"
check_eq "top: a row per node and a header" 4 "$(printf '%s\n' "$out" | wc -l)"

# repair (issue 17): RK.REPAIR, followed in INFO aae until the exchanges it queued are over.
out=$(rkv repair 0)
check_eq "repair 0: exit 0" 0 $?
check_contains "repair 0: says how many it queued" "repair: 2 exchanges queued" "$out"
check_contains "repair 0: says it is done" "repair: done: 2 exchanges" "$out"
out=$(rkv repair)
check_eq "repair (all by default): exit 0" 0 $?
check_contains "repair: every partition with both other replicas" "128 exchanges queued" "$out"

# ---- --json ----
json_check "members --json lists 3 members" \
    'len(d["members"]) == 3 and sorted(m["id"] for m in d["members"]) == [1, 2, 3] and
     all(set(m) >= {"client", "cluster", "state", "heard_ms_ago"} for m in d["members"])' \
    "$(rkv members --json)"
json_check "status --json: node, members up and per-member numbers" \
    'd["node"]["node_id"] == 1 and d["members_up"] == 3 and d["members_down"] == 0 and
     sum(m["keys"] for m in d["members"]) >= 6 and d["members"][0]["ops_put"] >= 6 and
     all("hints_pending" in m and "epoch" in m for m in d["members"])' \
    "$(rkv status --json)"
json_check "ring --json: 64 owners among 1..3" \
    'd["partitions"] == 64 and len(d["owners"]) == 64 and set(d["owners"]) == {1, 2, 3}' \
    "$(rkv ring --json)"
json_check "preflist --json: 3 distinct nodes, the key kept" \
    'd["key"] == "cli:1" and len({p["id"] for p in d["preflist"]}) == 3' \
    "$(rkv preflist cli:1 --json)"
json_check "preflist --json escapes a key with quotes, control bytes and non-UTF-8" \
    'd["key"] == "a\"b\\c\n\x01\ufffd\u00e9"' \
    "$(rkv preflist "$(printf 'a"b\\c\n\001\377\303\251')" --json)"
json_check "bucket get --json: typed props" \
    'd["bucket"] == "carts" and d["props"]["policy"] == "siblings" and d["props"]["n"] == 2 and
     d["props"]["sloppy"] in (True, False)' \
    "$(rkv bucket get carts --json)"
json_check "bucket set --json" 'd["members_stored"] == 3' \
    "$(rkv bucket set carts r 1 --json)"
json_check "top --once --json: a rate and p99s per node" \
    'len(d["nodes"]) == 3 and all(n["reachable"] and n["ops_per_s"] >= 0 and
     "read_p99_us" in n and "write_p99_us" in n for n in d["nodes"])' \
    "$(rkv top --once --json --interval-ms=200)"
json_check "repair all --json: what it queued, what ended, keys repaired" \
    'd["queued"] == 128 and d["exchanges"] >= 128 and d["keys_repaired"] >= 0 and d["done"]' \
    "$(rkv repair all --json)"

# A member that is down shows as such; the command still succeeds.
stop_node "${PID_OF[3]}" KILL
wait_member_state "$p1" 3 down || fail "node 1 does not count node 3 down"
json_check "status --json with node 3 killed" \
    'd["members_down"] == 1 and [m["reachable"] for m in d["members"]] == [True, True, False]' \
    "$(rkv status --json)"
out=$(rkv top --once --interval-ms 100)
check_eq "top with node 3 killed: exit 0" 0 $?
check_contains "top shows node 3 unreachable" "unreachable" "$(printf '%s\n' "$out" | grep '^3 ')"
# Exchanges with node 3 wait for it to come back: repair gives up after --timeout-ms, exit 3.
err=$("$RINGKV" --port "$p1" --timeout-ms 1500 repair 5 2>&1 >/dev/null)
check_eq "repair with a replica down: exit 3 after --timeout-ms" 3 $?
check_contains "repair with a replica down: says it gave up" "gave up after 1500 ms" "$err"

# ---- exit statuses ----
err=$(rkv bucket set carts n 99 2>&1 >/dev/null)
check_eq "an error reply: exit 1" 1 $?
check_contains "an error reply: the server's text" "ERR" "$err"
err=$(rkv repair 64 2>&1 >/dev/null)
check_eq "repair of a partition past the ring: exit 1" 1 $?
check_contains "repair of a partition past the ring: the server's text" "from 0 to 63" "$err"
for args in "frobnicate" "members --bogus" "preflist" "preflist a b" "bucket get" \
        "bucket set carts n" "bucket drop carts" "top --interval-ms 0" "ring extra" \
        "--json get cli:1" "repair bogus" "repair 1 2" "repair -1"; do
    # shellcheck disable=SC2086
    err=$(rkv $args 2>&1 >/dev/null)
    check_eq "usage ($args): exit 2" 2 $?
    check_eq "usage ($args): one line on stderr" 1 "$(printf '%s\n' "$err" | wc -l)"
done
check_contains "--help lists the admin commands" "top [--once]" "$("$RINGKV" --help)"
check_contains "--help lists exit status 3" "3 the node is unreachable" "$("$RINGKV" --help)"

nobody=$(free_port)
for args in members status "top --once" "--json ring" "repair all"; do
    # shellcheck disable=SC2086
    "$RINGKV" --port "$nobody" $args >/dev/null 2>&1
    check_eq "nobody on port $nobody ($args): exit 3" 3 $?
done

# A node that accepts the connection and never answers: the reply timeout is exit 3 too.
silent=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); c = s.accept(); time.sleep(30)' \
    "$silent" &
NODE_PIDS+=($!)
disown $!  # the EXIT trap kills it by pid; no "Killed" line from the shell
for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$silent") 2>/dev/null && break
    sleep 0.05
done
"$RINGKV" --port "$silent" --timeout-ms 300 members >/dev/null 2>&1
check_eq "a node that never answers: exit 3" 3 $?

finish
