#!/usr/bin/env bash
# ab-cluster.sh — an OLD and a NEW ringkvd build side by side in one run (Groundwork I):
# bench/cluster-bench.sh (3 nodes, N=3 R=2 W=2, redis-benchmark against node 1; SET and GET,
# without pipelining and with -P PIPELINE, engines mem and lmdb --sync batch) ROUNDS times with
# each build, alternating in ABBA order (old new, new old, ...) so that a machine that slows
# down or speeds up during the run weighs on both builds alike. redis-server is not run
# (cluster-bench's REDIS=no). Prints per workload (engine, test, pipeline) the median
# requests/s of each build, its spread (min-max, and (max-min)/median in percent), the new/old
# ratio of the medians, the median and range of the per-round ratios (each round runs the two
# builds back to back, so drift in the machine's load cancels more there), and the median p99
# latencies. Per engine it also prints the three nodes' CPU time per request (user + system,
# from /proc; cluster-bench's NODE_CPU=yes), which other processes on the machine move much
# less than requests/s: on a shared machine it is the number to compare first.
#
# Throughput on a shared two-core machine is noisy: two A/A runs (the same directory twice)
# at 96b942a, with the load average at 1.6-5.9 from other work, put the two medians of one
# workload 0.69-1.48x apart and single workloads' spreads at 19-166%; CPU per request stayed
# within 1.03x (spread 8-19%); see README.md. Run an A/A comparison first to see this
# machine's noise before trusting a new/old ratio; the load average at each run's start goes
# into the CSV.
#
# Usage: bench/ab-cluster.sh OLD_BUILD_DIR NEW_BUILD_DIR [ROUNDS=5]  (each dir holds ringkvd)
# Environment, passed on to cluster-bench.sh: REQUESTS [100000] (per test and pipeline depth;
#   5 rounds took 5.5-7.5 minutes on a busy two-core machine, REQUESTS=20000 about 1.5),
#   CLIENTS [50], PIPELINE [16], KEYSPACE [100000], CLUSTERS ["mem lmdb"]. OUT_DIR [bench/out]
#   gets the raw lines as ab-cluster-<time>.csv. Needs what cluster-bench.sh needs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REQUESTS=${REQUESTS:-100000}
export CLIENTS=${CLIENTS:-50}
export PIPELINE=${PIPELINE:-16}
export KEYSPACE=${KEYSPACE:-100000}
export CLUSTERS=${CLUSTERS:-"mem lmdb"}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
if [[ $# -eq 1 && ($1 == -h || $1 == --help) ]]; then usage; exit 0; fi
if [[ $# -lt 2 || $# -gt 3 ]]; then usage >&2; exit 2; fi
declare -A BUILD=([old]=$1 [new]=$2)
ROUNDS=${3:-5}
if [[ ! $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
    echo "ab-cluster: ROUNDS \"$ROUNDS\" is not a positive integer" >&2
    exit 2
fi
for b in old new; do
    if [[ ! -x ${BUILD[$b]}/ringkvd ]]; then
        echo "ab-cluster: ${BUILD[$b]}/ringkvd not found" >&2
        exit 2
    fi
done

mkdir -p "$OUT_DIR"
CSV=$OUT_DIR/ab-cluster-$(date +%Y%m%d-%H%M%S).csv
# test "cpu": the three nodes' user + system CPU microseconds per request over the cluster's
# whole run (SET and GET, both pipeline depths); value in the rps column.
echo "round,build,server,test,pipeline,rps,p99_ms,p999_ms,load1" >"$CSV"
started=$SECONDS
for ((round = 1; round <= ROUNDS; round++)); do
    order="old new"
    ((round % 2 == 0)) && order="new old"
    for build in $order; do
        load1=$(cut -d' ' -f1 /proc/loadavg)
        echo "ab-cluster: round $round/$ROUNDS, $build (${BUILD[$build]})," \
             "$((SECONDS - started)) s in, load average $load1" >&2
        out=$(REDIS=no NODE_CPU=yes RINGKVD="${BUILD[$build]}/ringkvd" \
              bash "$ROOT/bench/cluster-bench.sh") || {
            echo "ab-cluster: cluster-bench.sh failed for $build in round $round:" >&2
            echo "$out" >&2
            exit 1
        }
        # The table's rows (server test P requests/s p99 p99.9) and the node-cpu lines.
        rows=$(awk -v r="$round" -v b="$build" -v load1="$load1" '
            NF == 6 && $1 ~ /^ringkv-3-/ && $3 ~ /^[0-9]+$/ {
                printf "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", r, b, $1, $2, $3, $4, $5, $6, load1 }
            $1 == "node-cpu" {
                printf "%s,%s,%s,cpu,all,%.2f,,,%s\n", r, b, $2, $3 * 1000 / $6, load1 }' <<<"$out")
        if ! grep -q ',cpu,' <<<"$rows" || ! grep -q ',SET,' <<<"$rows"; then
            echo "ab-cluster: no result rows from cluster-bench.sh:" >&2
            echo "$out" >&2
            exit 1
        fi
        echo "$rows" >>"$CSV"
    done
done

echo "ab-cluster: $ROUNDS rounds per build in $((SECONDS - started)) s; REQUESTS=$REQUESTS" \
     "CLIENTS=$CLIENTS KEYSPACE=$KEYSPACE; 3 nodes N=3 R=2 W=2, redis-benchmark to node 1"
echo "OLD=${BUILD[old]}  NEW=${BUILD[new]}"
awk -F, -v cores="$(nproc)" '
    NR == 1 { next }
    {
        w = ($4 == "cpu") ? $3 " CPU us/req" : $3 " " $4 " P" $5
        if (!(w in seen)) { seen[w] = 1; order[++nw] = w }
        k = w SUBSEP $2
        n[k]++; val[k, n[k]] = $6; p99[k, n[k]] = $7
        by_round[w, $2, $1] = $6
        load_max = ($9 > load_max) ? $9 : load_max
    }
    # median of a[k, 1..count], sorting them in place; sets lo and hi.
    function median(a, k, count,    i, j, t) {
        for (i = 2; i <= count; i++) {
            for (j = i; j > 1 && a[k, j - 1] > a[k, j]; j--) {
                t = a[k, j]; a[k, j] = a[k, j - 1]; a[k, j - 1] = t
            }
        }
        lo = a[k, 1]; hi = a[k, count]
        if (count % 2) {
            return a[k, (count + 1) / 2]
        }
        return (a[k, count / 2] + a[k, count / 2 + 1]) / 2
    }
    function spread(m) { return m > 0 ? 100 * (hi - lo) / m : 0 }
    END {
        printf "%-26s %9s %17s %6s %9s %17s %6s %7s  %-16s %8s %8s\n", "workload (requests/s)", \
            "old med", "old min-max", "spread", "new med", "new min-max", "spread", "new/old", \
            "paired med range", "p99 old", "p99 new"
        for (i = 1; i <= nw; i++) {
            w = order[i]; ko = w SUBSEP "old"; kn = w SUBSEP "new"
            mo = median(val, ko, n[ko]); lo_o = lo; hi_o = hi; so = spread(mo)
            mn = median(val, kn, n[kn]); lo_n = lo; hi_n = hi; sn = spread(mn)
            # Each round ran old and new back to back: their ratio is less moved by drift.
            np = 0
            for (r = 1; r <= n[ko]; r++) {
                if (by_round[w, "old", r] > 0 && (w, "new", r) in by_round) {
                    pr[w, ++np] = by_round[w, "new", r] / by_round[w, "old", r]
                }
            }
            mp = np > 0 ? median(pr, w, np) : 0; lo_p = lo; hi_p = hi
            p99o = ""; p99n = ""
            if (w !~ /CPU/) {
                p99o = sprintf("%8.3f", median(p99, ko, n[ko]))
                p99n = sprintf("%8.3f", median(p99, kn, n[kn]))
            }
            fmt = "%-26s %9.1f %8.1f-%-8.1f %5.1f%% %9.1f %8.1f-%-8.1f %5.1f%%"
            fmt = fmt " %7.3f  %5.3f %4.2f-%-4.2f %8s %8s\n"
            printf fmt, \
                w, mo, lo_o, hi_o, so, mn, lo_n, hi_n, sn, (mo > 0 ? mn / mo : 0), mp, lo_p, hi_p, \
                p99o, p99n
        }
        printf "CPU us/req: the three nodes'"'"' user+system CPU per request (lower is better);\n"
        printf "it moves less than requests/s when other work shares the machine. Highest load\n"
        printf "average seen "
        printf "at a run'"'"'s start: %s on %d CPUs%s\n", load_max, cores, \
            (load_max > cores / 2 ? " -- the machine was busy; expect wide spreads" : "")
    }' "$CSV"
echo "raw: $CSV"
