#!/usr/bin/env bash
# Start one ringkv node in the foreground on 127.0.0.1:7001 (data in
# ./run-data/node1). `make run` builds first, then runs this. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PORT=${PORT:-7001}
DATA=./run-data/node1
BIN=build/ringkvd
[[ -x $BIN ]] || { echo "run-local: $BIN is not built; run 'make' first" >&2; exit 1; }
mkdir -p "$DATA"

cat <<MSG
ringkv: starting one node on 127.0.0.1:$PORT (data in $DATA). Connect with:
  redis-cli -p $PORT                  then e.g. SET k v, GET k, DEL k, INFO
  build/ringkv --port $PORT set k v   (the ringkv CLI)
Stop it with Ctrl-C.
MSG
exec "$BIN" --port "$PORT" --bind 127.0.0.1 --data-dir "$DATA"
