#!/usr/bin/env bash
# Start a local 3-node ringkv cluster in the foreground: node i (1..3) listens for clients on
# 127.0.0.1:700i and for its peers on 127.0.0.1:1700i, data in ./run-data/node<i>, log in
# ./run-data/node<i>.log. `make run` builds first, then runs this. Ctrl-C (or SIGTERM) stops
# all three; if one node exits on its own, the others keep running and this script says so.
# Env: ENGINE (lmdb), SYNC (batch).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=build/ringkvd
NODES=3
ENGINE=${ENGINE:-lmdb}
SYNC=${SYNC:-batch}
[[ -x $BIN ]] || { echo "run-local: $BIN is not built; run 'make' first" >&2; exit 1; }

members=""
for i in $(seq 1 $NODES); do
    members+="${members:+,}$i=127.0.0.1:$((7000 + i)):$((17000 + i))"
done

declare -a pids=()
stop_all() {
    trap - INT TERM
    echo
    echo "ringkv: stopping ${#pids[@]} nodes (pids ${pids[*]})"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    echo "ringkv: stopped"
    exit 0
}
trap stop_all INT TERM

mkdir -p run-data
for i in $(seq 1 $NODES); do
    mkdir -p "run-data/node$i"
    "$BIN" --node-id "$i" --bind 127.0.0.1 --port $((7000 + i)) --cluster-port $((17000 + i)) \
        --members "$members" --data-dir "run-data/node$i" --engine "$ENGINE" --sync "$SYNC" \
        >>"run-data/node$i.log" 2>&1 &
    pids+=($!)
    echo "node $i: pid ${pids[-1]}, client port $((7000 + i)), cluster port $((17000 + i)), data run-data/node$i, log run-data/node$i.log"
done

cat <<MSG
ringkv: a 3-node cluster on 127.0.0.1 (members $members). Connect to any node:
  redis-cli -p 7001                   then e.g. SET cart:alice book, GET cart:alice, INFO cluster
  redis-cli -p 7002 GET cart:alice    the same key through another node
  redis-cli -p 7001 RK.MEMBERS        each member and whether this node sees it up
  redis-cli -p 7001 RK.PREFLIST cart:alice   the nodes that hold the key (N=3)
  redis-cli -p 7003 RK.LOCAL cart:alice      what node 3 itself stores for it
  redis-cli -p 7001 RK.GET cart:alice        context and every sibling
  redis-cli -p 7001 RK.PUT cart:alice <context> book2   a write superseding that context
  build/ringkv --port 7001 set k v    (the ringkv CLI)
Stop all three with Ctrl-C.
MSG

# Wait for the nodes; one that exits on its own is reported and the others keep running.
while [ "${#pids[@]}" -gt 0 ]; do
    if wait -n "${pids[@]}"; then status=0; else status=$?; fi
    alive=()
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            alive+=("$pid")
        else
            echo "ringkv: node pid $pid exited (status $status); ${#pids[@]} were running (see run-data/node*.log)"
        fi
    done
    pids=("${alive[@]}")
done
echo "ringkv: every node has exited"
