#!/usr/bin/env bash
# http-vs-resp.sh — the HTTP API's throughput beside RESP's, on one node, in one run.
#
# One ringkvd (engine mem, sync none: the protocol and request path, not the disk) with both
# listeners; bench/http-load.c (built here with cc) drives each in turn with the same threads,
# keys and values, one request in flight per connection (no pipelining):
#   HTTP PUT /keys/k<n> and GET /keys/k<n>   (a blind RK.PUT and an RK.GET at the node)
#   RESP RK.PUT k<n> "" v and RK.GET k<n>    (the same node requests)
#   RESP SET and GET                         (the plain commands, for reference)
# Env: THREADS (16), SECONDS_EACH (5), KEYS (10000), VALUE_BYTES (100).
# Writes bench/out/http-vs-resp-<time>.txt and prints a table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RINGKVD=${RINGKVD:-$ROOT/build/ringkvd}
THREADS=${THREADS:-16}
SECONDS_EACH=${SECONDS_EACH:-5}
KEYS=${KEYS:-10000}
VALUE_BYTES=${VALUE_BYTES:-100}
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

cc -O2 -pthread -o "$tmp/http-load" "$ROOT/bench/http-load.c"
port=7390
while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null ||
    (exec 3<>/dev/tcp/127.0.0.1/$((port + 1))) 2>/dev/null; do port=$((port + 2)); done
http=$((port + 1))
"$RINGKVD" --port "$port" --http-port "$http" --cluster-port $((port + 10000)) --engine mem \
    --sync none --data-dir "$tmp/data" >"$tmp/ringkvd.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" == "PONG" ] && break
    sleep 0.05
done

mkdir -p "$ROOT/bench/out"
out="$ROOT/bench/out/http-vs-resp-$(date -u +%Y%m%dT%H%M%SZ).txt"
echo "# threads=$THREADS seconds=$SECONDS_EACH keys=$KEYS value_bytes=$VALUE_BYTES" >"$out"
run() { "$tmp/http-load" "$1" "$2" "$3" "$THREADS" "$SECONDS_EACH" "$KEYS" "$VALUE_BYTES" |
    tee -a "$out"; }
run http put "$http"
run resp put "$port"
run http get "$http"
run resp get "$port"
run resp set "$port"
run resp sget "$port"
echo "results in $out"
