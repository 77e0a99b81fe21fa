#!/usr/bin/env bash
# resp-bench.sh — requests per second of SET and GET over RESP, ringkvd against Redis, measured
# by one redis-benchmark binary in one run:
#
#   redis          redis-server, no persistence (--save '' --appendonly no)
#   redis-aof      redis-server --appendonly yes --appendfsync always (fsync per write; reference
#                  for a store that acknowledges only durable writes)
#   ringkvd-mem    build/ringkvd --engine mem --sync none
#   ringkvd-lmdb   build/ringkvd --engine lmdb --sync batch (group commit)
#   ringkvd-lmdb-wal  the same with --wal yes (acknowledged after a redo-log append; not in
#                  the default SERVERS, name it to compare)
#   ringkvd-rocksdb  build/ringkvd --engine rocksdb --sync batch (group commit on RocksDB's WAL;
#                  not in the default SERVERS, name it to compare)
#
# Each server is started by this script on its own free port of 127.0.0.1 with its data in a
# mktemp directory, waited for with `redis-cli ping`, measured alone (two cores do not leave
# room for two servers and a client), then stopped by pid. redis-benchmark runs with CLIENTS
# connections and REQUESTS requests per test, once without pipelining and once with -P
# PIPELINE. The table and the ringkvd/redis ratios go to stdout; the raw CSV of every run to
# bench/out/resp-bench-<time>.csv. If build/ringkvd is missing its rows are skipped.
#
# Usage: bench/resp-bench.sh [-h]
# Environment (defaults in brackets): REQUESTS [200000], CLIENTS [50], PIPELINE [16],
#   KEYSPACE [100000] (-r: random keys, not one hot key), DATA_BYTES [3] (-d, redis-benchmark's
#   default), SERVERS ["redis redis-aof ringkvd-mem ringkvd-lmdb"], RINGKVD [build/ringkvd],
#   PORT_BASE [7390], RUN_TIMEOUT_S [600] (per redis-benchmark run; it hangs when a server
#   dies), OUT_DIR [bench/out].
# Needs redis-server, redis-cli, redis-benchmark (Debian redis-server and redis-tools: make
# deps-bench), awk. No python.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUESTS=${REQUESTS:-200000}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-16}
KEYSPACE=${KEYSPACE:-100000}
DATA_BYTES=${DATA_BYTES:-3}
SERVERS=${SERVERS:-"redis redis-aof ringkvd-mem ringkvd-lmdb"}
RINGKVD=${RINGKVD:-$ROOT/build/ringkvd}
PORT_BASE=${PORT_BASE:-7390}
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-600}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
TESTS="SET GET"
START_WAIT_S=10        # a server that does not answer PING by then has failed to start
STOP_WAIT_S=10         # then SIGKILL

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
if [[ $# -gt 0 ]]; then
  case "$1" in
    -h|--help) usage; exit 0 ;;
    *) echo "resp-bench: unknown argument \"$1\"" >&2; usage >&2; exit 2 ;;
  esac
fi

for tool in redis-server redis-cli redis-benchmark awk timeout mktemp; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "resp-bench: $tool not found; install with: make deps-bench" >&2
    exit 2
  fi
done
for n in "$REQUESTS" "$CLIENTS" "$PIPELINE" "$KEYSPACE" "$DATA_BYTES" "$PORT_BASE"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "resp-bench: \"$n\" is not a positive integer" >&2; exit 2; }
done

# --- what this script starts, and undoes on any exit ----------------------------------------
TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/resp-bench.XXXXXX")
SERVER_PID=""
BENCH_PID=""
cleanup() {
  if [[ -n $BENCH_PID ]]; then
    kill -TERM "$BENCH_PID" 2>/dev/null || true    # timeout passes it on to redis-benchmark
    wait "$BENCH_PID" 2>/dev/null || true
  fi
  if [[ -n $SERVER_PID ]]; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local port=$1
  while port_in_use "$port"; do
    port=$((port + 1))
    if ((port > PORT_BASE + 200)); then
      echo "resp-bench: no free port in $PORT_BASE..$port" >&2
      return 1
    fi
  done
  echo "$port"
}

# start_server NAME PORT DIR: start it in the background, set SERVER_PID.
start_server() {
  local name=$1 port=$2 dir=$3
  local -a cmd
  case "$name" in
    redis)
      cmd=(redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no
           --daemonize no) ;;
    redis-aof)
      cmd=(redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save ''
           --appendonly yes --appendfsync always --daemonize no) ;;
    ringkvd-mem)
      cmd=("$RINGKVD" --port "$port" --bind 127.0.0.1 --data-dir "$dir" --engine mem
           --sync none) ;;
    ringkvd-lmdb)
      cmd=("$RINGKVD" --port "$port" --bind 127.0.0.1 --data-dir "$dir" --engine lmdb
           --sync batch) ;;
    ringkvd-lmdb-wal)
      cmd=("$RINGKVD" --port "$port" --bind 127.0.0.1 --data-dir "$dir" --engine lmdb
           --sync batch --wal yes) ;;
    ringkvd-rocksdb)
      cmd=("$RINGKVD" --port "$port" --bind 127.0.0.1 --data-dir "$dir" --engine rocksdb
           --sync batch) ;;
    *) echo "resp-bench: unknown server \"$name\" in SERVERS" >&2; return 1 ;;
  esac
  echo "  start: ${cmd[*]}" >>"$TMP_ROOT/commands.log"
  "${cmd[@]}" >"$dir.log" 2>&1 &
  SERVER_PID=$!
}

# Wait until the server answers PING; fail early if it exited.
wait_ready() {
  local port=$1 log=$2 deadline=$((SECONDS + START_WAIT_S))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "resp-bench: server exited during start; its log:" >&2
      tail -n 20 "$log" >&2
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=""
      return 1
    fi
    if [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; then
      return 0
    fi
    sleep 0.1
  done
  echo "resp-bench: no PONG on port $port within ${START_WAIT_S}s; its log:" >&2
  tail -n 20 "$log" >&2
  return 1
}

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_WAIT_S))
  while kill -0 "$SERVER_PID" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# bench_one NAME PORT PIPELINE: one redis-benchmark run; its CSV rows go to $CSV prefixed with
# the server and pipeline depth.
bench_one() {
  local name=$1 port=$2 pipeline=$3 raw="$TMP_ROOT/$1-P$3.csv"
  # In the background and waited for, so that SIGTERM reaches the trap at once rather than
  # after the run.
  timeout "$RUN_TIMEOUT_S" redis-benchmark -h 127.0.0.1 -p "$port" -t set,get \
      -n "$REQUESTS" -c "$CLIENTS" -P "$pipeline" -r "$KEYSPACE" -d "$DATA_BYTES" --csv \
      >"$raw" 2>"$raw.err" &
  BENCH_PID=$!
  local status=0
  wait "$BENCH_PID" || status=$?
  BENCH_PID=""
  if ((status != 0)); then
    echo "resp-bench: redis-benchmark against $name -P $pipeline failed or timed out:" >&2
    tail -n 5 "$raw.err" >&2
    return 1
  fi
  # "SET","98765.43","0.263",... -> name,pipeline,SET,98765.43,0.263,...
  awk -v name="$name" -v p="$pipeline" 'NR > 1 && NF { gsub(/"/, ""); print name "," p "," $0 }' \
      "$raw" >>"$CSV"
  if ! grep -q '^"SET"' "$raw" || ! grep -q '^"GET"' "$raw"; then
    echo "resp-bench: redis-benchmark against $name -P $pipeline printed no SET/GET rows:" >&2
    cat "$raw" "$raw.err" >&2
    return 1
  fi
}

# --- run ----------------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
CSV="$OUT_DIR/resp-bench-$(date +%Y%m%d-%H%M%S).csv"
CSV_COLUMNS="server,pipeline,test,rps,avg_latency_ms,min_latency_ms,p50_latency_ms"
CSV_COLUMNS="$CSV_COLUMNS,p95_latency_ms,p99_latency_ms,max_latency_ms"
echo "$CSV_COLUMNS" >"$CSV"

redis_version=$(redis-server --version | awk '{sub(/^v=/, "", $3); print $3}')
echo "resp-bench: redis-benchmark -t set,get -n $REQUESTS -c $CLIENTS -r $KEYSPACE" \
     "-d $DATA_BYTES, -P 1 and -P $PIPELINE; $(nproc) CPUs; redis $redis_version"
skipped=""
failed=""
for name in $SERVERS; do
  if [[ $name == ringkvd-* && ! -x $RINGKVD ]]; then
    echo "resp-bench: $RINGKVD not found (build it with: make build); skipping $name" >&2
    skipped="$skipped $name"
    continue
  fi
  port=$(free_port "$PORT_BASE")
  dir="$TMP_ROOT/$name"
  mkdir -p "$dir"
  echo "resp-bench: $name on 127.0.0.1:$port" >&2
  start_server "$name" "$port" "$dir"
  if ! wait_ready "$port" "$dir.log"; then
    stop_server
    failed="$failed $name"
    continue
  fi
  for pipeline in 1 "$PIPELINE"; do
    if ! bench_one "$name" "$port" "$pipeline"; then
      failed="$failed $name-P$pipeline"
    fi
  done
  stop_server
done

# --- report -------------------------------------------------------------------------------
# The table and ratios come from the CSV alone, so a saved CSV can be re-read by this awk.
awk -F, -v pl="$PIPELINE" '
  NR == 1 { next }
  {
    rps[$1 "," $2 "," $3] = $4
    if (!($1 in seen)) { seen[$1] = 1; order[++servers] = $1 }
  }
  function cell(key) { return (key in rps) ? sprintf("%12.0f", rps[key]) : sprintf("%12s", "-") }
  function ratio(a, b) {
    if (!(a in rps) || !(b in rps) || rps[b] == 0) { return sprintf("%8s", "n/a") }
    return sprintf("%8.2f", rps[a] / rps[b])
  }
  function ratio_line(label, a, pa, b, pb) {
    printf "  %-56s SET %s   GET %s\n", label, \
      ratio(a "," pa ",SET", b "," pb ",SET"), ratio(a "," pa ",GET", b "," pb ",GET")
  }
  END {
    printf "\n%-16s %12s %12s %12s %12s\n", "requests/s", "SET", "GET", "SET -P" pl, "GET -P" pl
    for (i = 1; i <= servers; i++) {
      s = order[i]
      printf "%-16s %s %s %s %s\n", s, cell(s ",1,SET"), cell(s ",1,GET"), \
        cell(s "," pl ",SET"), cell(s "," pl ",GET")
    }
    printf "\nratios (ringkvd / redis; above 1 is faster than redis):\n"
    ratio_line("ringkvd-mem / redis, no pipelining", "ringkvd-mem", 1, "redis", 1)
    ratio_line("ringkvd-mem / redis, -P" pl, "ringkvd-mem", pl, "redis", pl)
    ratio_line("ringkvd-lmdb / redis, no pipelining", "ringkvd-lmdb", 1, "redis", 1)
    ratio_line("ringkvd-lmdb / redis-aof (fsync always), no pipelining", "ringkvd-lmdb", 1, \
               "redis-aof", 1)
    ratio_line("ringkvd-lmdb / redis-aof (fsync always), -P" pl, "ringkvd-lmdb", pl, \
               "redis-aof", pl)
    ratio_line("ringkvd-lmdb-wal / redis, no pipelining", "ringkvd-lmdb-wal", 1, "redis", 1)
    ratio_line("ringkvd-lmdb-wal / redis-aof (fsync always), no pipelining", \
               "ringkvd-lmdb-wal", 1, "redis-aof", 1)
    ratio_line("ringkvd-rocksdb / redis-aof (fsync always), no pipelining", \
               "ringkvd-rocksdb", 1, "redis-aof", 1)
    ratio_line("ringkvd-rocksdb / ringkvd-lmdb, no pipelining", "ringkvd-rocksdb", 1, \
               "ringkvd-lmdb", 1)
    ratio_line("ringkvd-rocksdb / ringkvd-lmdb, -P" pl, "ringkvd-rocksdb", pl, \
               "ringkvd-lmdb", pl)
  }' "$CSV"

echo
echo "raw CSV: $CSV"
if [[ -n $skipped ]]; then
  echo "skipped (not built):$skipped"
fi
if [[ -n $failed ]]; then
  echo "FAILED:$failed (messages above)" >&2
  exit 1
fi
