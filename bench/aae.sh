#!/usr/bin/env bash
# aae.sh — what anti-entropy costs clients (issue 17), measured side by side in one run:
#
#  1. tree updates: a 3-node cluster (N=3 R=2 W=2) started with --aae on against one started
#     with --aae off, fresh data directories each time, ROUNDS rounds alternating which goes
#     first (on off, off on, ...): redis-benchmark SET against node 1, -P 1 and -P PIPELINE,
#     requests/s, p99 and the three nodes' CPU time per request (user + system from
#     /proc/<pid>/stat, which others' work on the machine disturbs less than requests/s).
#     Target: on/off requests/s at least 0.90.
#  2. p99 idle against during a full exchange, on one lmdb cluster with --aae on preloaded with
#     PRELOAD keys (key:000000000000 ..., redis-benchmark's own key names, so GETs hit):
#     "wipe": node 3 killed with -9, its data directory deleted, restarted empty; the periodic
#     exchanges (--aae-interval-ms AAE_INTERVAL_MS) then copy every key back while
#     redis-benchmark SET and GET run against node 1. "idle": the same runs on the converged
#     cluster. The rounds go idle wipe, wipe idle, ... (a wipe after a wipe needs no
#     convergence between them; an idle after a wipe waits until node 3 holds as many keys as
#     node 1 and nothing has been repaired for 3 s). "repair": `RK.REPAIR all` sent to every
#     node of the converged cluster just before each run (every tree rebuilt from the store,
#     then every partition compared with each other primary: a full exchange that finds
#     nothing), against idle runs, alternating. Target: during/idle p99 at most 1.5.
#     Each run records the keys repaired during it (the sum over the three nodes of INFO aae's
#     aae_keys_repaired: an exchange counts its repairs on the node that started it, whichever
#     side was missing the key) and whether exchanges were still queued when it ended.
#
# Usage: bench/aae.sh
# Environment: ROUNDS [5] (part 1), REQUESTS [100000] (part 1, per run), CLIENTS [50],
#   KEYSPACE [100000], DATA_BYTES [3], PIPELINE [16] (part 1 also runs -P PIPELINE; 1 skips
#   it), ENGINES ["lmdb"] (part 1; "lmdb mem" adds the in-memory engine), PARTS ["trees wipe
#   repair"], EXCHANGE_ROUNDS [2] (part 2, rounds of one idle and one wipe window each; every
#   second round waits for a full convergence: 21 s in the run below, over 3 minutes in a
#   try without client writes),
#   REPAIR_ROUNDS [5], PRELOAD [100000], WINDOW_REQUESTS [30000] (part 2, per SET or GET run:
#   short enough to end inside the exchange), AAE_INTERVAL_MS [1000], CONVERGE_TIMEOUT_S [900],
#   RINGKVD [build/ringkvd; a Release build, cmake -DCMAKE_BUILD_TYPE=Release, measures what
#   users run: the default RelWithDebInfo compiles O(n) RK_ASSERT_SLOW checks in],
#   OUT_DIR [bench/out]. Writes OUT_DIR/aae-<time>.csv (one row per redis-benchmark run) and
#   aae-<time>.txt (the tables and the summary). Needs redis-benchmark and redis-cli.
set -euo pipefail
BENCH_NAME=aae
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
DATA_BYTES=${DATA_BYTES:-3}
PIPELINE=${PIPELINE:-16}
ENGINES=${ENGINES:-lmdb}
PARTS=${PARTS:-"trees wipe repair"}
EXCHANGE_ROUNDS=${EXCHANGE_ROUNDS:-2}
REPAIR_ROUNDS=${REPAIR_ROUNDS:-5}
PRELOAD=${PRELOAD:-100000}
WINDOW_REQUESTS=${WINDOW_REQUESTS:-30000}
AAE_INTERVAL_MS=${AAE_INTERVAL_MS:-1000}
CONVERGE_TIMEOUT_S=${CONVERGE_TIMEOUT_S:-900}
RINGKVD=${RINGKVD:-$ROOT/build/ringkvd}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
TMP=$(mktemp -d /tmp/ringkv-aae.XXXXXX)
declare -a PIDS=()
trap bench_cleanup EXIT

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
if [[ $# -gt 0 ]]; then usage; [[ $1 == -h || $1 == --help ]] && exit 0; exit 2; fi
for v in ROUNDS REQUESTS CLIENTS KEYSPACE DATA_BYTES PIPELINE EXCHANGE_ROUNDS REPAIR_ROUNDS \
         PRELOAD WINDOW_REQUESTS AAE_INTERVAL_MS CONVERGE_TIMEOUT_S; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "aae: $v=\"${!v}\" is not a positive integer" >&2
                                      exit 2; }
done
[[ -x $RINGKVD ]] || { echo "aae: $RINGKVD not found; run 'make' first" >&2; exit 2; }
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$(dirname "$RINGKVD")/CMakeCache.txt" \
             2>/dev/null || true)
[[ $build_type == Release ]] ||
    echo "aae: $RINGKVD is a ${build_type:-unknown} build, not Release: slow asserts may be in" >&2

# bench_run PORT TEST N P: one redis-benchmark run; prints "rps p50 p99" (--csv's columns:
# "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
# "p99_latency_ms","max_latency_ms"). An error reply fails it: errors are answered faster
# than writes and would flatter the numbers.
bench_run() {
    local out
    out=$(timeout 600 redis-benchmark -p "$1" -t "$2" -n "$3" -c "$CLIENTS" -r "$KEYSPACE" \
          -d "$DATA_BYTES" -P "$4" --csv </dev/null 2>&1) || {
        echo "aae: redis-benchmark $2 failed: $out" >&2
        return 1
    }
    if grep -qi "error" <<<"$out"; then
        echo "aae: redis-benchmark $2 -P $4 got error replies:" >&2
        grep -i "error" <<<"$out" | head -3 >&2
        return 1
    fi
    awk -F'","' 'NF >= 8 && $2 ~ /^[0-9.]+$/ { print $2, $5, $7; found = 1 }
                 END { exit !found }' <<<"$out" || {
        echo "aae: no result line from redis-benchmark $2: $out" >&2
        return 1
    }
}

# aae_field PORT NAME: a field of the node's INFO aae.
aae_field() {
    redis-cli -p "$1" info aae | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

# repaired_sum: aae_keys_repaired summed over the three nodes.
repaired_sum() {
    local id sum=0
    for id in 1 2 3; do sum=$((sum + $(aae_field "${cp[$id]}" aae_keys_repaired))); done
    echo "$sum"
}

# pending_sum: aae_repair_pending summed over the three nodes (RK.REPAIR exchanges not started).
pending_sum() {
    local id sum=0
    for id in 1 2 3; do sum=$((sum + $(aae_field "${cp[$id]}" aae_repair_pending))); done
    echo "$sum"
}

# fresh_three ENGINE FLAGS...: start_three on empty data directories.
fresh_three() {
    local engine=$1
    rm -rf "$TMP/$engine-1" "$TMP/$engine-2" "$TMP/$engine-3"
    start_three "$@"
}

# record PART ENGINE CONFIG ROUND P TEST N RPS P50 P99 CPU_US REPAIRED PENDING_END LOAD1
record() {
    local IFS=,
    echo "$*" >>"$CSV"
}

# trees_round ENGINE CONFIG ROUND: one cluster with --aae CONFIG, SET at -P 1 (and -P PIPELINE).
trees_round() {
    local engine=$1 config=$2 round=$3 p load1 cpu0 cpu1 rps p50 p99 pipelines=1
    [[ $PIPELINE == 1 ]] || pipelines="1 $PIPELINE"
    fresh_three "$engine" --aae "$config" || return 1
    for p in $pipelines; do
        load1=$(cut -d' ' -f1 /proc/loadavg)
        echo "aae: trees $engine round $round/$ROUNDS --aae $config -P $p," \
             "$((SECONDS - started)) s in, load average $load1" >&2
        cpu0=$(node_cpu_ms "${PIDS[@]}")
        read -r rps p50 p99 < <(bench_run "${cp[1]}" set "$REQUESTS" "$p") || return 1
        [[ -n ${rps:-} ]] || return 1
        cpu1=$(node_cpu_ms "${PIDS[@]}")
        record trees "$engine" "$config" "$round" "$p" SET "$REQUESTS" "$rps" "$p50" "$p99" \
            $(((cpu1 - cpu0) * 1000 / REQUESTS)) "" "" "$load1"
    done
    stop_all
}

# window PART CONFIG ROUND: SET then GET, WINDOW_REQUESTS each, against node 1, one row each.
window() {
    local part=$1 config=$2 round=$3 t load1 r0 r1 rps p50 p99 cpu0 cpu1 pend
    for t in set get; do
        if [[ $config == repair ]]; then
            for id in 1 2 3; do
                redis-cli -p "${cp[$id]}" rk.repair all >/dev/null
            done
        fi
        load1=$(cut -d' ' -f1 /proc/loadavg)
        r0=$(repaired_sum)
        cpu0=$(node_cpu_ms "${PIDS[@]}")
        read -r rps p50 p99 < <(bench_run "${cp[1]}" "$t" "$WINDOW_REQUESTS" 1) || return 1
        [[ -n ${rps:-} ]] || return 1
        cpu1=$(node_cpu_ms "${PIDS[@]}")
        r1=$(repaired_sum)
        pend=$(pending_sum)
        echo "aae: $part round $round, $config ${t^^}: $rps/s p99 $p99 ms, $((r1 - r0)) keys" \
             "repaired, $pend exchanges still queued, load average $load1" >&2
        record "$part" lmdb "$config" "$round" 1 "${t^^}" "$WINDOW_REQUESTS" "$rps" "$p50" \
            "$p99" $(((cpu1 - cpu0) * 1000 / WINDOW_REQUESTS)) $((r1 - r0)) "$pend" "$load1"
    done
}

# preload: PRELOAD keys with redis-benchmark's key names, through node 1, pipelined.
preload() {
    local out
    awk -v n="$PRELOAD" 'BEGIN { for (i = 0; i < n; i++) printf "SET key:%012d xyz\r\n", i }' |
        redis-cli -p "${cp[1]}" --pipe >"$TMP/preload.out" 2>&1 || {
        echo "aae: preload failed: $(tail -3 "$TMP/preload.out")" >&2
        return 1
    }
    grep -q "errors: 0," "$TMP/preload.out" || {
        echo "aae: preload got errors: $(tail -3 "$TMP/preload.out")" >&2
        return 1
    }
}

# wipe_node3: kill -9 node 3, delete its data directory, restart it empty on the same ports,
# and wait until node 1 sees it up and it takes writes (a wiped node answers -BUSY until it
# has learnt its epoch from its peers).
wipe_node3() {
    local members="" id got
    for id in 1 2 3; do members+="${members:+,}$id=127.0.0.1:${cp[$id]}:${kp[$id]}"; done
    kill -9 "${PIDS[2]}"
    wait "${PIDS[2]}" 2>/dev/null || true
    rm -rf "$TMP/lmdb-3"
    "$RINGKVD" --node-id 3 --port "${cp[3]}" --cluster-port "${kp[3]}" --members "$members" \
        --engine lmdb --data-dir "$TMP/lmdb-3" --log-level warn --aae on \
        --aae-interval-ms "$AAE_INTERVAL_MS" >>"$TMP/lmdb-3.log" 2>&1 &
    PIDS[2]=$!
    wait_ping "${cp[3]}" || return 1
    for _ in $(seq 1 400); do
        got=$(redis-cli -p "${cp[3]}" set aae-bench-probe x 2>&1)
        if [[ $got == OK &&
              $(redis-cli -p "${cp[1]}" rk.members | grep -cE '^(self|up)$') -ge 3 ]]; then
            return 0
        fi
        sleep 0.05
    done
    echo "aae: node 3 takes no writes after its restart: [$got]" >&2
    return 1
}

# converge: until node 3 holds as many keys as node 1 and nothing was repaired for 3 s.
converge() {
    local t0=$SECONDS last=-1 now still=0 k1 k3
    while ((SECONDS - t0 < CONVERGE_TIMEOUT_S)); do
        now=$(repaired_sum)
        k1=$(redis-cli -p "${cp[1]}" dbsize)
        k3=$(redis-cli -p "${cp[3]}" dbsize)
        if [[ $now == "$last" && $k1 == "$k3" ]]; then
            still=$((still + 1))
            if ((still >= 3)); then
                echo "aae: converged in $((SECONDS - t0)) s ($k3 keys on node 3)" >&2
                echo "$((SECONDS - t0))" >>"$TMP/converge_s"
                return 0
            fi
        else
            still=0
        fi
        last=$now
        sleep 1
    done
    echo "aae: no convergence in $CONVERGE_TIMEOUT_S s: node 1 $k1 keys, node 3 $k3" >&2
    return 1
}

# exchange_part: the wipe and repair parts on one preloaded cluster.
exchange_part() {
    local round
    fresh_three lmdb --aae on --aae-interval-ms "$AAE_INTERVAL_MS" || return 1
    preload || return 1
    converge || return 1
    if [[ " $PARTS " == *" wipe "* ]]; then
        # idle wipe | wipe idle | ...: consecutive wipes need no convergence between them.
        for ((round = 1; round <= EXCHANGE_ROUNDS; round++)); do
            echo "aae: wipe round $round/$EXCHANGE_ROUNDS, $((SECONDS - started)) s in" >&2
            if ((round % 2 == 1)); then
                window wipe idle "$round" || return 1
                wipe_node3 || return 1
                window wipe during "$round" || return 1
            else
                wipe_node3 || return 1
                window wipe during "$round" || return 1
                converge || return 1
                window wipe idle "$round" || return 1
            fi
        done
        ((EXCHANGE_ROUNDS % 2 == 0)) || converge || return 1
    fi
    if [[ " $PARTS " == *" repair "* ]]; then
        for ((round = 1; round <= REPAIR_ROUNDS; round++)); do
            echo "aae: repair round $round/$REPAIR_ROUNDS, $((SECONDS - started)) s in" >&2
            if ((round % 2 == 1)); then
                window repair idle "$round" || return 1
                window repair repair "$round" || return 1
            else
                window repair repair "$round" || return 1
                # Let the queued exchanges finish, so the idle run is idle.
                for _ in $(seq 1 600); do [[ $(pending_sum) == 0 ]] && break; sleep 0.5; done
                sleep 2
                window repair idle "$round" || return 1
            fi
            for _ in $(seq 1 600); do [[ $(pending_sum) == 0 ]] && break; sleep 0.5; done
            sleep 2
        done
    fi
    stop_all
}

mkdir -p "$OUT_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
CSV=$OUT_DIR/aae-$stamp.csv
TXT=$OUT_DIR/aae-$stamp.txt
echo "part,engine,config,round,pipeline,test,requests,rps,p50_ms,p99_ms,cpu_us_per_request,keys_repaired,exchanges_queued_at_end,load1" >"$CSV"
started=$SECONDS
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

if [[ " $PARTS " == *" trees "* ]]; then
    for engine in $ENGINES; do
        for ((round = 1; round <= ROUNDS; round++)); do
            if ((round % 2 == 1)); then order="on off"; else order="off on"; fi
            for config in $order; do
                trees_round "$engine" "$config" "$round" || exit 1
            done
        done
    done
fi
if [[ " $PARTS " == *" wipe "* || " $PARTS " == *" repair "* ]]; then
    exchange_part || exit 1
fi

{
echo "aae: $((SECONDS - started)) s; $(nproc) CPUs; load average at start $load_start, at end" \
     "$(cut -d' ' -f1-3 /proc/loadavg); ringkvd: $RINGKVD (${build_type:-unknown} build)"
echo "3 nodes N=3 R=2 W=2 (--sync batch), redis-benchmark -c $CLIENTS -r $KEYSPACE -d" \
     "$DATA_BYTES against node 1; trees: $ROUNDS rounds x $REQUESTS SETs; wipe/repair:" \
     "$WINDOW_REQUESTS requests per run, PRELOAD=$PRELOAD, --aae-interval-ms $AAE_INTERVAL_MS"
if [[ -s $TMP/converge_s ]]; then
    echo "convergence after a wipe (or the preload), s: $(paste -sd' ' "$TMP/converge_s")"
fi
awk -F, '
    NR == 1 { next }
    # median of a[k, 1..count], sorted in place; sets lo and hi.
    function median(a, k, count,    i, j, t) {
        for (i = 2; i <= count; i++) {
            for (j = i; j > 1 && a[k, j - 1] > a[k, j]; j--) {
                t = a[k, j]; a[k, j] = a[k, j - 1]; a[k, j - 1] = t
            }
        }
        lo = a[k, 1]; hi = a[k, count]
        if (count % 2) { return a[k, (count + 1) / 2] }
        return (a[k, count / 2] + a[k, count / 2 + 1]) / 2
    }
    {
        w = $1 SUBSEP $2 SUBSEP $5 SUBSEP $6     # part, engine, pipeline, test
        if (!(w in seen)) { seen[w] = 1; order[++nw] = w }
        k = w SUBSEP $3
        n = ++cnt[k]
        rps[k, n] = $8; p99[k, n] = $10; cpu[k, n] = $11; rep[k, n] = $12
        by_round_rps[k, $4] = $8; by_round_p99[k, $4] = $10; rounds[w, $4] = 1
        # The wipe runs must overlap repairs; the repair runs must end before their exchanges.
        if (($3 == "during" && $12 > 0) || ($3 == "repair" && $13 > 0)) { inside[k]++ }
    }
    END {
        printf "%-7s %-5s %-3s %-4s %-7s %9s %15s %8s %13s %7s %8s\n", "part", "eng", "P", \
            "test", "config", "median/s", "min-max", "p99 ms", "p99 min-max", "CPU us", \
            "repaired"
        for (i = 1; i <= nw; i++) {
            w = order[i]; split(w, f, SUBSEP)
            if (f[1] == "trees") { a = "on"; b = "off" } else { a = (f[1] == "wipe") ? "during" : "repair"; b = "idle" }
            cfg[1] = b; cfg[2] = a
            for (c = 1; c <= 2; c++) {
                k = w SUBSEP cfg[c]; n = cnt[k]
                if (n == 0) { continue }
                mr = median(rps, k, n); rl = lo; rh = hi
                mp = median(p99, k, n); pl = lo; ph = hi
                mc = median(cpu, k, n)
                mk = (f[1] == "trees") ? "" : median(rep, k, n)
                printf "%-7s %-5s %-3s %-4s %-7s %9.0f %7.0f-%-7.0f %8.2f %6.2f-%-6.2f %7.1f %8s\n", \
                    f[1], f[2], f[3], f[4], cfg[c], mr, rl, rh, mp, pl, ph, mc, mk
                med_rps[w, cfg[c]] = mr; med_p99[w, cfg[c]] = mp; med_cpu[w, cfg[c]] = mc
            }
        }
        print ""
        print "ratios (of the medians; paired: median and range of the per-round ratios):"
        for (i = 1; i <= nw; i++) {
            w = order[i]; split(w, f, SUBSEP)
            if (f[1] == "trees") { a = "on"; b = "off" } else { a = (f[1] == "wipe") ? "during" : "repair"; b = "idle" }
            if (!cnt[w, a] || !cnt[w, b]) { continue }
            np = 0
            for (r = 1; r <= 100; r++) {
                if (!((w, r) in rounds) || !((w SUBSEP a, r) in by_round_rps) || \
                    !((w SUBSEP b, r) in by_round_rps)) { continue }
                np++
                prr[w, np] = by_round_rps[w SUBSEP a, r] / by_round_rps[w SUBSEP b, r]
                prp[w, np] = by_round_p99[w SUBSEP a, r] / by_round_p99[w SUBSEP b, r]
            }
            mrr = median(prr, w, np); rrl = lo; rrh = hi
            mpp = median(prp, w, np); ppl = lo; pph = hi
            label = sprintf("%s %s -P %s %s %s/%s", f[1], f[2], f[3], f[4], a, b)
            printf "  %-30s rps %.3f (paired %.3f, %.3f-%.3f)  p99 %.3f (paired %.3f, %.3f-%.3f)", \
                label, med_rps[w, a] / med_rps[w, b], mrr, rrl, rrh, \
                med_p99[w, a] / med_p99[w, b], mpp, ppl, pph
            if (med_cpu[w, b] > 0) { printf "  CPU/req %.3f", med_cpu[w, a] / med_cpu[w, b] }
            if (f[1] == "wipe") { printf "  runs that repaired keys %d/%d", inside[w, a], cnt[w, a] }
            if (f[1] == "repair") { printf "  runs ended with exchanges queued %d/%d", inside[w, a], cnt[w, a] }
            printf "\n"
        }
    }' "$CSV"
echo
echo "targets: trees on/off requests/s >= 0.90 (at most 10% lost); during/idle p99 <= 1.5"
echo "reproduce: ROUNDS=$ROUNDS REQUESTS=$REQUESTS PIPELINE=$PIPELINE ENGINES=\"$ENGINES\"" \
     "PARTS=\"$PARTS\" EXCHANGE_ROUNDS=$EXCHANGE_ROUNDS REPAIR_ROUNDS=$REPAIR_ROUNDS" \
     "PRELOAD=$PRELOAD WINDOW_REQUESTS=$WINDOW_REQUESTS bash bench/aae.sh"
echo "raw: $CSV"
} | tee "$TXT"
