#!/usr/bin/env bash
# compare.sh — ringkv beside Redis in one run: requests/s of SET and GET (-P 1 and -P PIPELINE)
# of each system as a ratio to one redis-server without persistence measured in the same run,
# with the CPU time the servers spend per request and the p99.9 latency without pipelining.
#
#   redis         redis-server --save '' --appendonly no: the baseline every ratio divides by
#   redis-aof     redis-server --appendonly yes --appendfsync always (fsync per write)
#   rk1-mem       one ringkvd --engine mem (--sync left at ringkvd's default)
#   rk1-default   one ringkvd with no --engine or --sync: whatever the binary's defaults are
#   rk3-mem       three ringkvd on 127.0.0.1, N=3 R=2 W=2 (the bucket defaults), --engine mem
#   rk3-default   the same with the binary's default engine and sync
#   rk1-lmdb-wal, rk3-lmdb-wal    --engine lmdb --wal yes (not in the default SYSTEMS)
#   rk1-lmdb-plain, rk3-lmdb-plain  --engine lmdb --wal no: group commit straight into LMDB,
#                 the default before issue 20 (not in the default SYSTEMS)
#   rk1-rocksdb,  rk3-rocksdb     --engine rocksdb (not in the default SYSTEMS; a binary without
#                 that engine fails to start and the system is skipped with its log's tail)
#
# ROUNDS rounds; in each round, per value size, every system is started fresh on empty data
# directories, measured alone and stopped, in an order rotated by one place each round, so that
# a machine that slows down or speeds up weighs on every system alike. A measurement is four
# redis-benchmark runs (-t set, then -t get, at -P 1, then again at -P PIPELINE), each with
# -n REQUESTS -c CLIENTS -r KEYSPACE -d SIZE, against node 1 for a cluster. Per cell the table
# shows the median of the per-round ratios (that round's system / that round's redis) and their
# min-max. CPU per request is the user + system time of all the system's server processes
# (/proc/PID/stat) over one redis-benchmark run, divided by its requests. Every measurement is
# a row of bench/out/compare-<time>.csv; the Markdown tables go to stdout.
#
# Usage: bench/compare.sh [-h]
# Environment (defaults in brackets): SIZES ["3 1024 16384"] (-d, a table per size), ROUNDS
#   [5], REQUESTS [100000] (per redis-benchmark run), CLIENTS [50], PIPELINE [16], KEYSPACE
#   [100000], SYSTEMS ["redis redis-aof rk1-mem rk1-default rk3-mem rk3-default"] (redis is
#   added if missing), RINGKVD [build/ringkvd], PORT_MIN/PORT_MAX [22000/22999],
#   RUN_TIMEOUT_S [600] (per redis-benchmark run: it hangs when its server dies), OUT_DIR
#   [bench/out], TMPDIR [/tmp] (data directories: put it on the disk you care about), REPORT
#   (a compare-<time>.csv: print its tables again instead of running).
# Needs redis-server, redis-cli, redis-benchmark (7.x: its percentile output), awk, timeout.
set -euo pipefail
BENCH_NAME=compare
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${SIZES:=3 1024 16384}" "${ROUNDS:=5}" "${REQUESTS:=100000}" "${CLIENTS:=50}" \
  "${PIPELINE:=16}" "${KEYSPACE:=100000}" "${RINGKVD:=$ROOT/build/ringkvd}" \
  "${SYSTEMS:=redis redis-aof rk1-mem rk1-default rk3-mem rk3-default}" \
  "${PORT_MIN:=22000}" "${PORT_MAX:=22999}" "${RUN_TIMEOUT_S:=600}" "${OUT_DIR:=$ROOT/bench/out}"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
if [[ $# -gt 0 ]]; then
    case "$1" in
        -h|--help) usage; exit 0 ;;
        *) echo "compare: unknown argument \"$1\"" >&2; usage >&2; exit 2 ;;
    esac
fi
for tool in redis-server redis-cli redis-benchmark awk timeout; do
    command -v "$tool" >/dev/null || { echo "compare: $tool not found (make deps-bench)" >&2; exit 2; }
done
for n in $SIZES "$ROUNDS" "$REQUESTS" "$CLIENTS" "$PIPELINE" "$KEYSPACE" "$RUN_TIMEOUT_S"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "compare: \"$n\" is not a positive integer" >&2; exit 2; }
done
declare -a SYS=()
[[ " $SYSTEMS " == *" redis "* ]] || SYS=(redis)
for name in $SYSTEMS; do
    if [[ ! $name =~ ^(redis|redis-aof|rk[13]-(mem|default|lmdb-wal|lmdb-plain|rocksdb))$ ]]; then
        echo "compare: unknown system \"$name\" in SYSTEMS (see -h)" >&2
        exit 2
    fi
    if [[ $name == rk* && ! -x $RINGKVD ]]; then
        echo "compare: $RINGKVD not found (make build); skipping $name" >&2
        continue
    fi
    SYS+=("$name")
done
DEFAULTS="n/a"
if [[ -x $RINGKVD ]]; then
    # "--engine  storage engine: ... [lmdb]" -> lmdb; the same for --sync.
    DEFAULTS=$("$RINGKVD" --help 2>&1 | awk '$1 == "--engine" || $1 == "--wal" || $1 == "--sync" {
        d = $NF; gsub(/[][]/, "", d); out = out (out == "" ? "" : ", ") $1 " " d } END { print out }')
fi

# --- what this script starts, and undoes on any exit -----------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringkv-compare.XXXXXX")
declare -a PIDS=() TAKEN_PORTS=()
BENCH_PID=""
cleanup() {
    if [[ -n $BENCH_PID ]]; then
        kill -TERM "$BENCH_PID" 2>/dev/null || true    # timeout passes it on to redis-benchmark
        wait "$BENCH_PID" 2>/dev/null || true
    fi
    bench_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# rk_flags NAME: the engine flags of a ringkvd system, its name's part after "rk1-"/"rk3-".
rk_flags() {
    case "${1#rk?-}" in
        mem) echo "--engine mem" ;;
        default) echo "" ;;
        lmdb-wal) echo "--engine lmdb --wal yes" ;;
        lmdb-plain) echo "--engine lmdb --wal no" ;;
        rocksdb) echo "--engine rocksdb" ;;
    esac
}

# map_size_flag SIZE: an LMDB map large enough for the keys the runs write (above the 1g default
# only for large values): keys * (value + a page of overhead) * 2, in GiB.
map_size_flag() {
    local keys=$((2 * REQUESTS < KEYSPACE ? 2 * REQUESTS : KEYSPACE))
    local gib=$(((keys * ($1 * 5 / 4 + 4096) * 2 >> 30) + 1))
    ((gib > 1)) && echo "--map-size ${gib}g"
    return 0
}

# start_system NAME SIZE: start it on empty data directories in TMP; PORT gets the port to
# measure. Fails (after printing the log's tail) if it does not answer.
start_system() {
    local name=$1 dir=$TMP/$1 cport
    local -a flags
    read -r -a flags <<<"$(rk_flags "$name") $(map_size_flag "$2")"
    case "$name" in
        redis|redis-aof)
            PORT=$(free_port)
            local -a persist=(--appendonly no)
            [[ $name == redis-aof ]] && persist=(--appendonly yes --appendfsync always)
            mkdir -p "$dir"
            redis-server --port "$PORT" --bind 127.0.0.1 --dir "$dir" --save '' "${persist[@]}" \
                >"$dir.log" 2>&1 &
            PIDS+=($!)
            wait_ping "$PORT" "$!" ;;
        rk1-*)
            PORT=$(free_port)
            TAKEN_PORTS+=("$PORT")
            cport=$(free_port)
            "$RINGKVD" --port "$PORT" --cluster-port "$cport" --data-dir "$dir" --log-level warn \
                "${flags[@]}" >"$dir.log" 2>&1 &
            PIDS+=($!)
            wait_ping "$PORT" "$!" && wait_epoch "$PORT" ;;
        rk3-*)
            # start_three's first word is the engine ("default": no --engine).
            if [[ ${#flags[@]} -gt 0 && ${flags[0]} == --engine ]]; then
                flags=("${flags[@]:1}")
            else
                flags=(default "${flags[@]}")
            fi
            start_three "${flags[@]}" && PORT=${cp[1]} ;;
    esac
}

# measure ROUND SIZE NAME TEST PIPELINE: one redis-benchmark run against PORT, a row of CSV.
measure() {
    local round=$1 size=$2 name=$3 test=$4 p=$5 out=$TMP/bench.out cpu0 cpu1 status=0 row
    cpu0=$(node_cpu_ms "${PIDS[@]}" 2>/dev/null) || cpu0=""
    # In the background and waited for, so that a signal reaches the trap at once.
    timeout "$RUN_TIMEOUT_S" redis-benchmark -h 127.0.0.1 -p "$PORT" -t "$test" -n "$REQUESTS" \
        -c "$CLIENTS" -P "$p" -r "$KEYSPACE" -d "$size" </dev/null >"$out" 2>&1 &
    BENCH_PID=$!
    wait "$BENCH_PID" || status=$?
    BENCH_PID=""
    cpu1=$(node_cpu_ms "${PIDS[@]}" 2>/dev/null) || cpu1=""
    row=$(bench_parse <"$out")
    if ((status != 0)) || [[ -z $row ]]; then
        echo "compare: redis-benchmark -t $test -P $p against $name failed (status $status):" >&2
        tr '\r' '\n' <"$out" | grep -v '^ *$' | tail -n 5 >&2
        return 1
    fi
    local cpu_ms=""
    [[ -n $cpu0 && -n $cpu1 ]] && cpu_ms=$((cpu1 - cpu0))
    # bench_parse: TEST RPS P50 P99 P999
    awk -v pre="$(date -u +%H:%M:%S),$round,$size,$name" -v p="$p" -v n="$REQUESTS" \
        -v cpu="$cpu_ms" -v load1="$(cut -d' ' -f1 /proc/loadavg)" \
        '{ print pre "," $1 "," p "," n "," $2 "," $3 "," $4 "," $5 "," cpu "," load1 }' \
        <<<"$row" >>"$CSV"
}

# --- run (unless REPORT names a CSV of an earlier run to print again) ---------------------------
declare -A skipped=()
failed=""
elapsed="n/a"
if [[ -n ${REPORT:-} ]]; then
    CSV=$REPORT
    ROUNDS=$(awk -F, 'NR > 1 && $2 > r { r = $2 } END { print r + 0 }' "$CSV")
else
mkdir -p "$OUT_DIR"
CSV=$OUT_DIR/compare-$(date -u +%Y%m%d-%H%M%S).csv
echo "time,round,size,system,test,pipeline,requests,rps,p50_ms,p99_ms,p999_ms,cpu_ms,load1" >"$CSV"
started=$SECONDS
n=${#SYS[@]}
for ((round = 1; round <= ROUNDS; round++)); do
    for size in $SIZES; do
        for ((i = 0; i < n; i++)); do
            name=${SYS[(i + round - 1) % n]}
            [[ -z ${skipped[$name]:-} ]] || continue
            echo "compare: round $round/$ROUNDS, -d $size, $name, $((SECONDS - started)) s in," \
                 "load average $(cut -d' ' -f1 /proc/loadavg)" >&2
            if ! start_system "$name" "$size"; then
                stop_all
                [[ $name == redis ]] && { echo "compare: the baseline did not start" >&2; exit 1; }
                echo "compare: $name did not start; skipping it from here on" >&2
                skipped[$name]="did not start in round $round (log tail above)"
                rm -rf "${TMP:?}/$name"* "$TMP"/*-[123] "$TMP"/*-[123].log
                continue
            fi
            for p in 1 "$PIPELINE"; do
                for test in set get; do
                    measure "$round" "$size" "$name" "$test" "$p" ||
                        failed+=" round$round/$size/$name/$test-P$p"
                done
            done
            stop_all
            # Fresh data directories for the next start.
            rm -rf "${TMP:?}/$name"* "$TMP"/*-[123] "$TMP"/*-[123].log
        done
    done
done
elapsed=$((SECONDS - started))
fi

# --- report ---------------------------------------------------------------------------------
# Everything below reads the CSV alone.
echo "## bench/compare.sh: ringkv against redis-server, $ROUNDS rounds, $elapsed s"
echo
if [[ -z ${REPORT:-} ]]; then
    echo "redis-benchmark -n $REQUESTS -c $CLIENTS -r $KEYSPACE, -P 1 and -P $PIPELINE;" \
         "$(nproc) CPUs, load average now $(cut -d' ' -f1-3 /proc/loadavg);" \
         "$(redis-server --version | awk '{ print $1, $3 }'); RINGKVD=$RINGKVD ($DEFAULTS)"
else
    echo "Printed again from $CSV (its requests column says -n; -c, -r and -P as it was run)."
fi
awk -F, -v pl="$PIPELINE" -v defaults="$DEFAULTS" '
    NR == 1 { next }
    {
        if (!($3 in seen_size)) { seen_size[$3] = 1; sizes[++nsizes] = $3 }
        if (!($4 in seen_sys)) { seen_sys[$4] = 1; systems[++nsys] = $4 }
        if ($2 > rounds) rounds = $2
        k = $3 SUBSEP $4 SUBSEP $5 SUBSEP $6 SUBSEP $2
        rps[k] = $8; p999[k] = $11
        if ($12 != "") cpu[k] = $12 * 1000 / $7
    }
    function label(s,    nodes) {
        if (s == "redis") return "redis-server, no persistence"
        if (s == "redis-aof") return "redis-server, appendfsync always"
        nodes = substr(s, 3, 1) == "1" ? "ringkv 1 node" : "ringkv 3 nodes N=3 R=W=2"
        s = substr(s, 5)
        if (s == "default") s = "default engine (" defaults ")"
        if (s == "lmdb-wal") s = "lmdb --wal yes"
        if (s == "lmdb-plain") s = "lmdb --wal no"
        return nodes ", " s
    }
    # med(list): the median of the space-separated numbers; sets lo and hi.
    function med(list,    v, c, i, j, t) {
        c = split(list, v, " ")
        if (c == 0) return ""
        for (i = 2; i <= c; i++)
            for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        lo = v[1]; hi = v[c]
        return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
    }
    # values(a, size, sys, cell): that cell of a over the rounds; ratios(a, ...): each round
    # divided by the same round of redis.
    function values(a, z, s, c,    r, l) {
        for (r = 1; r <= rounds; r++) if ((z, s, c, r) in a) l = l " " a[z, s, c, r]
        return l
    }
    function ratios(a, z, s, c,    r, l, b) {
        for (r = 1; r <= rounds; r++) {
            b = z SUBSEP "redis" SUBSEP c SUBSEP r
            if ((z, s, c, r) in a && b in a && a[b] > 0) l = l " " a[z, s, c, r] / a[b]
        }
        return l
    }
    function ratio_cell(list,    m) {
        m = med(list)
        return m == "" ? "n/a" : sprintf("%.2f (%.2f-%.2f)", m, lo, hi)
    }
    # table(z, title, cells, nc, fmt, a, with_value): one Markdown table for size z; the redis-server
    # row holds its median (printf fmt), every other row the ratio to it, after their own median
    # when with_value is set.
    function table(z, title, cells, nc, fmt, a, with_value,    i, j, s, row, c, m) {
        printf "\n### %s, -d %s (median (min-max) of %d rounds)\n\n| system |", title, z, rounds
        for (j = 1; j <= nc; j++) { c = cells[j]; sub(/ /, " P", c); printf " %s |", c }
        printf "\n|---|"
        for (j = 1; j <= nc; j++) printf "---|"
        printf "\n"
        for (i = 1; i <= nsys; i++) {
            s = systems[i]; row = "| " label(s) " |"
            for (j = 1; j <= nc; j++) {
                c = cells[j]; sub(/ /, SUBSEP, c)
                m = med(values(a, z, s, c))
                if (s == "redis") row = row " " (m == "" ? "n/a" : sprintf(fmt, m)) " |"
                else if (with_value) row = row " " (m == "" ? "n/a" : sprintf(fmt, m)) " x " \
                    ratio_cell(ratios(a, z, s, c)) " |"
                else row = row " " ratio_cell(ratios(a, z, s, c)) " |"
            }
            print row
        }
    }
    END {
        split("SET 1,SET " pl ",GET 1,GET " pl, all, ",")
        split("SET 1,GET 1", p1, ",")
        for (zi = 1; zi <= nsizes; zi++) {
            z = sizes[zi]
            table(z, "requests/s: ratio to redis-server without persistence", all, 4, "%.0f/s", \
                rps, 0)
            table(z, "CPU us per request (user+system of the server processes): median x ratio" \
                " to redis", all, 4, "%.1f", cpu, 1)
            table(z, "p99.9 latency ms without pipelining: median x ratio to redis", p1, 2, \
                "%.3f", p999, 1)
        }
    }' "$CSV"
echo
echo "Cells other than redis-server's are ratios to it: requests/s above 1 is faster than redis,"
echo "CPU and latency above 1 cost more. Raw rows: $CSV"
[[ -n ${REPORT:-} ]] || echo "Again: SIZES=\"$SIZES\" ROUNDS=$ROUNDS REQUESTS=$REQUESTS CLIENTS=$CLIENTS PIPELINE=$PIPELINE" \
     "KEYSPACE=$KEYSPACE SYSTEMS=\"${SYS[*]}\" RINGKVD=$RINGKVD bash bench/compare.sh"
for name in "${!skipped[@]}"; do echo "skipped: $name: ${skipped[$name]}"; done
if [[ -n $failed ]]; then
    echo "FAILED runs (messages above):$failed" >&2
    exit 1
fi
