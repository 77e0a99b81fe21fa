#!/usr/bin/env bash
# Start a local 3-node ringkv cluster in the foreground through `ringkv dev-cluster` (tools/
# dev_cluster.c): node i (1..3) has node id i, listens for clients on 127.0.0.1:700i and for
# its peers on 127.0.0.1:700(i+3), keeps its data in ./run-data/n<i> and logs to
# ./run-data/n<i>.log. `make run` builds first, then runs this. Ctrl-C (or SIGTERM) stops all
# three; if one node exits on its own, the others keep running and dev-cluster says so.
# Env: ENGINE (ringkvd's default, lmdb), SYNC (ringkvd's default, batch).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=build/ringkv
[[ -x $BIN && -x build/ringkvd ]] || { echo "run-local: build/ringkv or build/ringkvd is not built; run 'make' first" >&2; exit 1; }

args=(dev-cluster --nodes 3 --base-port 7001)
[[ -n ${ENGINE:-} ]] && args+=(--engine "$ENGINE")
[[ -n ${SYNC:-} ]] && args+=(-- --sync "$SYNC")

cat <<MSG
ringkv: starting a 3-node cluster on 127.0.0.1, client ports 7001-7003. Connect to any node:
  redis-cli -p 7001                   then e.g. SET cart:alice book, GET cart:alice, INFO cluster
  redis-cli -p 7002 GET cart:alice    the same key through another node
  redis-cli -p 7001 RK.MEMBERS        each member: id, addresses, state seen from node 1
  redis-cli -p 7001 RK.PREFLIST cart:alice   the nodes that hold the key (N=3)
  redis-cli -p 7003 RK.LOCAL cart:alice      what node 3 itself stores for it
  redis-cli -p 7001 RK.GET cart:alice        context and every sibling
  redis-cli -p 7001 RK.PUT cart:alice <context> book2   a write superseding that context
  build/ringkv --port 7001 set k v    (the ringkv CLI)
Stop all three with Ctrl-C. Other sizes: build/ringkv dev-cluster --help
MSG
exec "$BIN" "${args[@]}"
