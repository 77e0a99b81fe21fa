#!/usr/bin/env bash
# cart-ops.sh — what the cart's merge types cost beside a plain SET, on a 3-node cluster, in one
# run (issue 13): requests/s of
#   SET     set kv:<key> v                 bucket kv, unconfigured: the default, lww
#   INCR    incr ctr:<key>                 bucket ctr, policy counter
#   HINCRBY hincrby hm:<key> item<i> 1     bucket hm, policy map, FIELDS items per key
#   SADD    sadd st:<key> item<i>          bucket st, policy set, FIELDS members per key
# sent by redis-benchmark (its arbitrary-command mode: __rand_int__ becomes a 12-digit key in
# 0..KEYSPACE-1) with CLIENTS connections to node 1, which forwards each write to a primary of
# the key as any node would. Every bucket is N=3 R=2 W=2 (the defaults), so a SET is a write at
# W and the other three are a read at R, then a write at W (docs/merge.md). Each workload is
# FIELDS runs of REQUESTS/FIELDS requests, run i naming item<i> (for SET and INCR the runs are
# alike), so a map holds FIELDS fields and a set FIELDS members, as a small cart would.
#
# ROUNDS rounds on one cluster per engine, the four workloads in a rotated order each round
# (round r starts with workload r, so each takes each position once in four rounds and drift in
# the machine's load falls on all of them). Per workload and engine it prints the median
# requests/s, min-max and spread ((max-min)/median), the ratio of its median to SET's median,
# the median and range of the per-round ratios to the same round's SET, the median p50 and p99
# latency of its runs, and the three nodes' CPU time per request (user + system from
# /proc/<pid>/stat over the workload's runs), which other work on the machine moves far less
# than requests/s (bench/README.md, ab-cluster.sh).
#
# After the rounds it checks the sums: every counter and every map field was incremented by 1
# per request, so the counters (GET) and the fields (HGETALL) through node 1 must add up to
# ROUNDS x the requests sent, and no set may hold more than FIELDS members. A server error
# reply (redis-benchmark prints "Error from server") or a wrong sum fails the run: an error
# is answered faster than a write and would flatter the numbers.
#
# Usage: bench/cart-ops.sh
# Environment: REQUESTS [40000] (per workload and round), CLIENTS [50], KEYSPACE [10000],
#   FIELDS [4], ROUNDS [5], PIPELINE [1] (a merge-type write holds its connection's later
#   commands until answered, docs/protocol.md, so -P measures something else for them),
#   ENGINES ["lmdb"] (the default store with --sync batch, as `make run` starts it; "lmdb mem"
#   adds the in-memory engine), RINGKVD [build/ringkvd], OUT_DIR [bench/out]. Writes
#   OUT_DIR/cart-ops-<time>.csv (one row per redis-benchmark run) and cart-ops-<time>.txt (the
#   table). Needs redis-benchmark and redis-cli.
set -euo pipefail
BENCH_NAME=cart-ops
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUESTS=${REQUESTS:-40000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-10000}
FIELDS=${FIELDS:-4}
ROUNDS=${ROUNDS:-5}
PIPELINE=${PIPELINE:-1}
ENGINES=${ENGINES:-lmdb}
RINGKVD=${RINGKVD:-$ROOT/build/ringkvd}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
WORKLOADS=(SET INCR HINCRBY SADD)
TMP=$(mktemp -d /tmp/ringkv-cartops.XXXXXX)
declare -a PIDS=()
trap bench_cleanup EXIT

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
if [[ $# -gt 0 ]]; then usage; [[ $1 == -h || $1 == --help ]] && exit 0; exit 2; fi
for v in REQUESTS CLIENTS KEYSPACE FIELDS ROUNDS PIPELINE; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "cart-ops: $v=\"${!v}\" is not a positive integer" >&2
                                      exit 2; }
done
[[ -x $RINGKVD ]] || { echo "cart-ops: $RINGKVD not found; run 'make' first" >&2; exit 2; }
RUN_REQUESTS=$((REQUESTS / FIELDS))          # per redis-benchmark run
[[ $RUN_REQUESTS -gt 0 ]] || { echo "cart-ops: REQUESTS below FIELDS" >&2; exit 2; }


# command_of WORKLOAD I: the command redis-benchmark sends in run I (1..FIELDS).
command_of() {
    case "$1" in
        SET) echo "set kv:__rand_int__ v" ;;
        INCR) echo "incr ctr:__rand_int__" ;;
        HINCRBY) echo "hincrby hm:__rand_int__ item$2 1" ;;
        SADD) echo "sadd st:__rand_int__ item$2" ;;
    esac
}

# probe PORT WORKLOAD WANT: the workload's command, once through redis-cli on a key outside the
# benchmark's keyspace, answers WANT (a regex): the benchmark measures the command, not an error.
probe() {
    local got
    got=$(redis-cli -p "$1" $(command_of "$2" 1 | sed 's/__rand_int__/probe/') 2>&1)
    if [[ ! $got =~ $3 ]]; then
        echo "cart-ops: $2 probe answered [$got], expected /$3/" >&2
        return 1
    fi
}

# bench_run PORT WORKLOAD I: one redis-benchmark run; prints "rps p50 p99" (--csv's columns).
bench_run() {
    local out
    # shellcheck disable=SC2046  # the command's words are separate arguments
    out=$(timeout 600 redis-benchmark -p "$1" -n "$RUN_REQUESTS" -c "$CLIENTS" -r "$KEYSPACE" \
          -P "$PIPELINE" --csv $(command_of "$2" "$3") </dev/null 2>&1) || {
        echo "cart-ops: redis-benchmark failed for $2: $out" >&2
        return 1
    }
    if grep -q "Error from server" <<<"$out"; then
        echo "cart-ops: $2 run $3 got error replies:" >&2
        grep "Error from server" <<<"$out" | head -3 >&2
        return 1
    fi
    # "name","rps","avg","min","p50","p95","p99","max"
    awk -F'","' 'NF >= 8 && $2 ~ /^[0-9.]+$/ { print $2, $5, $7; found = 1 }
                 END { exit !found }' <<<"$out" || {
        echo "cart-ops: no result line from redis-benchmark for $2: $out" >&2
        return 1
    }
}

# verify PORT ENGINE: the sums described above; prints one line per check, returns 1 on a miss.
verify() {
    local port=$1 engine=$2 want=$((ROUNDS * RUN_REQUESTS * FIELDS)) i key ok=0
    local ctr_sum hm_sum st_max st_sum
    for ((i = 0; i < KEYSPACE; i++)); do printf 'get ctr:%012d\n' "$i"; done |
        redis-cli -p "$port" >"$TMP/ctr.out"
    ctr_sum=$(awk '/^-?[0-9]+$/ { s += $1; next } NF { bad++ } END { print bad ? "bad" : s + 0 }' \
              "$TMP/ctr.out")
    for ((i = 0; i < KEYSPACE; i++)); do printf 'hgetall hm:%012d\n' "$i"; done |
        redis-cli -p "$port" >"$TMP/hm.out"
    # HGETALL lines alternate field, value; the values are the lines after an "item<i>" line.
    hm_sum=$(awk 'prev ~ /^item[0-9]+$/ && /^-?[0-9]+$/ { s += $1 } { prev = $0 }
                  END { print s + 0 }' "$TMP/hm.out")
    for ((i = 0; i < KEYSPACE; i++)); do printf 'scard st:%012d\n' "$i"; done |
        redis-cli -p "$port" >"$TMP/st.out"
    st_max=$(awk '/^[0-9]+$/ && $1 > m { m = $1 } END { print m + 0 }' "$TMP/st.out")
    st_sum=$(awk '/^[0-9]+$/ { s += $1 } END { print s + 0 }' "$TMP/st.out")
    echo "verify $engine: INCR counters sum to $ctr_sum, requests sent $want"
    [[ $ctr_sum == "$want" ]] || ok=1
    echo "verify $engine: HINCRBY fields sum to $hm_sum, requests sent $want"
    [[ $hm_sum == "$want" ]] || ok=1
    echo "verify $engine: SADD sets hold $st_sum members, at most $st_max per key (FIELDS $FIELDS)"
    [[ $st_max -le $FIELDS && $st_sum -gt 0 ]] || ok=1
    [[ $ok -eq 0 ]] && echo "verify $engine: ok" || echo "verify $engine: FAILED"
    return "$ok"
}

mkdir -p "$OUT_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
CSV=$OUT_DIR/cart-ops-$stamp.csv
TXT=$OUT_DIR/cart-ops-$stamp.txt
echo "engine,round,position,workload,run,requests,rps,p50_ms,p99_ms,load1" >"$CSV"
# CPU rows: engine,round,position,workload,cpu,requests,cpu_us_per_request,,,load1
started=$SECONDS
failed=0
for engine in $ENGINES; do
    start_three "$engine" || exit 1
    port=${cp[1]}
    for spec in "ctr counter" "hm map" "st set"; do
        set -- $spec
        got=$(redis-cli -p "$port" rk.bucket set "$1" policy "$2" 2>&1)
        [[ $got == 3 ]] || { echo "cart-ops: RK.BUCKET SET $1 policy $2: [$got]" >&2; exit 1; }
    done
    probe "$port" SET '^OK$'
    probe "$port" INCR '^1$'
    probe "$port" HINCRBY '^1$'
    probe "$port" SADD '^1$'

    for ((round = 1; round <= ROUNDS; round++)); do
        for ((pos = 0; pos < ${#WORKLOADS[@]}; pos++)); do
            w=${WORKLOADS[$(((round - 1 + pos) % ${#WORKLOADS[@]}))]}
            load1=$(cut -d' ' -f1 /proc/loadavg)
            echo "cart-ops: $engine round $round/$ROUNDS, $w, $((SECONDS - started)) s in," \
                 "load average $load1" >&2
            cpu0=$(node_cpu_ms "${PIDS[@]}")
            for ((i = 1; i <= FIELDS; i++)); do
                read -r rps p50 p99 < <(bench_run "$port" "$w" "$i") || exit 1
                [[ -n ${rps:-} ]] || exit 1
                echo "$engine,$round,$((pos + 1)),$w,$i,$RUN_REQUESTS,$rps,$p50,$p99,$load1" \
                    >>"$CSV"
            done
            cpu1=$(node_cpu_ms "${PIDS[@]}")
            awk -v us=$(((cpu1 - cpu0) * 1000)) -v n=$((RUN_REQUESTS * FIELDS)) \
                -v pre="$engine,$round,$((pos + 1)),$w,cpu,$((RUN_REQUESTS * FIELDS))" \
                -v load1="$load1" 'BEGIN { printf "%s,%.2f,,,%s\n", pre, us / n, load1 }' >>"$CSV"
        done
    done
    verify "$port" "$engine" >>"$TMP/verify" || failed=1
    stop_all
done

{
echo "cart-ops: $ROUNDS rounds in $((SECONDS - started)) s; per workload and round $FIELDS runs" \
     "of $RUN_REQUESTS requests; CLIENTS=$CLIENTS KEYSPACE=$KEYSPACE PIPELINE=$PIPELINE;" \
     "3 nodes N=3 R=2 W=2, redis-benchmark to node 1; $(nproc) CPUs"
awk -F, '
    NR == 1 { next }
    $5 == "cpu" { cpu[$1, $4, ++ncpu[$1, $4]] = $7; next }
    {
        if (!(($1) in seen_engine)) { seen_engine[$1] = 1; engines[++ne] = $1 }
        # A workload round is FIELDS runs: its requests/s is requests over the summed run times.
        k = $1 SUBSEP $4 SUBSEP $2
        req[k] += $6; secs[k] += $6 / $7
        lat50[$1, $4, ++nlat[$1, $4]] = $8; lat99[$1, $4, nlat[$1, $4]] = $9
        rounds[$1, $4] = ($2 > rounds[$1, $4]) ? $2 : rounds[$1, $4]
        load_max = ($10 > load_max) ? $10 : load_max
    }
    # median of a[k1, k2, 1..count], sorting them in place; sets lo and hi.
    function median(a, k1, k2, count,    i, j, t) {
        for (i = 2; i <= count; i++) {
            for (j = i; j > 1 && a[k1, k2, j - 1] > a[k1, k2, j]; j--) {
                t = a[k1, k2, j]; a[k1, k2, j] = a[k1, k2, j - 1]; a[k1, k2, j - 1] = t
            }
        }
        lo = a[k1, k2, 1]; hi = a[k1, k2, count]
        if (count % 2) {
            return a[k1, k2, (count + 1) / 2]
        }
        return (a[k1, k2, count / 2] + a[k1, k2, count / 2 + 1]) / 2
    }
    END {
        split("SET INCR HINCRBY SADD", wl, " ")
        printf "%-6s %-8s %9s %17s %6s %7s %17s %7s %7s %8s\n", "engine", "workload", \
            "median/s", "min-max", "spread", "/SET", "paired med range", "p50 ms", "p99 ms", \
            "CPU us/r"
        for (e = 1; e <= ne; e++) {
            en = engines[e]
            for (i = 1; i <= 4; i++) {
                w = wl[i]; nr = rounds[en, w]
                for (r = 1; r <= nr; r++) {
                    v = req[en, w, r] / secs[en, w, r]
                    val[en, w, r] = v; by_round[en, w, r] = v
                }
                med[w] = median(val, en, w, nr); lo_w[w] = lo; hi_w[w] = hi
            }
            for (i = 1; i <= 4; i++) {
                w = wl[i]; nr = rounds[en, w]
                for (r = 1; r <= nr; r++) {
                    pr[en, w, r] = by_round[en, w, r] / by_round[en, "SET", r]
                }
                mp = median(pr, en, w, nr); lo_p = lo; hi_p = hi
                m50 = median(lat50, en, w, nlat[en, w])
                m99 = median(lat99, en, w, nlat[en, w])
                mc = median(cpu, en, w, ncpu[en, w])
                fmt = "%-6s %-8s %9.0f %8.0f-%-8.0f %5.1f%% %7.2f %5.2f %4.2f-%-4.2f"
                printf fmt " %7.3f %7.3f %8.1f\n", \
                    en, w, med[w], lo_w[w], hi_w[w], 100 * (hi_w[w] - lo_w[w]) / med[w], \
                    med[w] / med["SET"], mp, lo_p, hi_p, m50, m99, mc
            }
        }
        printf "/SET: ratio of the medians; paired: the per-round ratio to that round'"'"'s SET.\n"
        printf "CPU us/r: the three nodes'"'"' user+system CPU per request (median over rounds).\n"
        printf "Highest load average at a workload'"'"'s start: %s\n", load_max
    }' "$CSV"
cat "$TMP/verify" 2>/dev/null || true
echo "raw: $CSV"
} | tee "$TXT"
exit "$failed"
