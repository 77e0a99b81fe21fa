#!/usr/bin/env bash
# bench/collections.sh — does a set's SADD cost grow with the set's size? (issue 14)
#
# A 3-node cluster of BUILD/ringkvd (lmdb, --sync batch, on 127.0.0.1 ports PORT_MIN-PORT_MAX)
# gets a bucket with `RK.BUCKET SET <bucket> policy set n 3`, and three kinds of set are
# preloaded through node 1 by SADDs of BATCH members each, pipelined (python3 + redis-py):
# small (SMALL members, 10), mid (MID, 10000) and large (LARGE, 1000000). small and mid get a
# fresh key per round, so the members one round adds (OPS) do not turn the small set into a mid
# one; large is one key (OPS x ROUNDS is small next to LARGE). Then ROUNDS times, in the order
# small, mid, large:
#   redis-benchmark -p <node 1> -n OPS -c CLIENTS -r RANGE sadd <bucket>:<key> m:__rand_int__
# (RANGE 100000000: members new to the set; for small SMALL_RANGE [SMALL], so it stays small)
# recording requests/s and p99 (its "Latency by percentile distribution"), and `bytes_sent`
# from INFO cluster on all three nodes before and after (what each node wrote to its peers):
# bytes per SADD = the sum of the three deltas / OPS. Heartbeats and anti-entropy are in that
# sum too; their rate on the idle cluster after the preload is printed as "background".
# Printed: per size the medians (min-max) of SADD/s, p99 ms and bytes per SADD; the ratios
# mid/small and large/small; the issue's targets (mid SADD/s >= 0.5 x small; bytes per SADD
# independent of size, taken as within BYTES_TOL x small) as "target met"/"not met". A missed
# target does not change the exit status: this is a benchmark, not a test.
#
#   bash bench/collections.sh [BUILD_DIR=build]
#   LARGE=50000 OPS=2000 ROUNDS=1 bash bench/collections.sh build        # a quick look
#   OLD=/path/to/old/build bash bench/collections.sh build               # old beside new
#
# With OLD, a second cluster of OLD/ringkvd runs beside the first, gets the same preload, and
# every benchmark run is made on both (new then old, old then new in the next round), so the
# new/old ratios are from one run. A build whose `ringkvd --help` lists
# --max-collection-members gets --max-collection-members MAX_MEMBERS (2000000). A preload that
# fails (a limit on members, say) prints the error; that size is skipped and the rest run.
# Environment [defaults]: SMALL [10], MID [10000], LARGE [1000000], ROUNDS [3], OPS [5000],
# CLIENTS [20], BATCH [1000], DEPTH [8] (SADDs in flight in the preload), BUCKET [coll],
# BYTES_TOL [1.5], SMALL_RANGE [SMALL], PORT_MIN/PORT_MAX [7600/7699], RUN_TIMEOUT_S [900], OUT_DIR [bench/out].
# Raw numbers: OUT_DIR/collections-<time>.csv; node logs only while it runs (a mktemp dir).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build}
BENCH_NAME=collections
SMALL=${SMALL:-10} MID=${MID:-10000} LARGE=${LARGE:-1000000}
ROUNDS=${ROUNDS:-3} OPS=${OPS:-5000} CLIENTS=${CLIENTS:-20}
BATCH=${BATCH:-1000} DEPTH=${DEPTH:-8} BUCKET=${BUCKET:-coll} BYTES_TOL=${BYTES_TOL:-1.5}
SMALL_RANGE=${SMALL_RANGE:-$SMALL}
MAX_MEMBERS=${MAX_MEMBERS:-2000000} RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-900}
export PORT_MIN=${PORT_MIN:-7600} PORT_MAX=${PORT_MAX:-7699}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
TMP=$(mktemp -d /tmp/rk-bench-collections.XXXXXX)
TMPROOT=$TMP
PIDS=()
TAKEN_PORTS=()
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
trap bench_cleanup EXIT

PY=""
for p in /usr/bin/python3 python3; do
    command -v "$p" >/dev/null && "$p" -c 'import redis' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || { echo "collections: needs python3 with redis-py (python3-redis)" >&2; exit 2; }
declare -A BIN=([new]=$(realpath "$BUILD/ringkvd"))
BUILDS=(new)
if [ -n "${OLD:-}" ]; then BIN[old]=$(realpath "$OLD/ringkvd"); BUILDS+=(old); fi
SIZES=(small mid large)
declare -A COUNT=([small]=$SMALL [mid]=$MID [large]=$LARGE)
mkdir -p "$OUT_DIR"
CSV=$OUT_DIR/collections-$(date +%Y%m%d-%H%M%S).csv
echo "build,round,size,key,members_before,ops,rps,p50_ms,p99_ms,p999_ms,bytes_sent,bytes_per_sadd,errors,loadavg" >"$CSV"
say() { echo "collections: $*" >&2; }

# bytes_sum PORT...: the nodes' bytes_sent (INFO cluster) added up.
bytes_sum() {
    local port sum=0 v
    for port in "$@"; do
        v=$(redis-cli -p "$port" info cluster | tr -d '\r' | awk -F: '$1 == "bytes_sent" { print $2 }')
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

# preload PORT KEY COUNT: SADD COUNT members p:0 .. p:COUNT-1, BATCH per SADD, DEPTH SADDs in
# flight; prints the seconds it took, or the first error (on stderr) and fails.
preload() {
    "$PY" - "$1" "$BUCKET:$2" "$3" "$BATCH" "$DEPTH" <<'EOF'
import sys, time, redis
port, key, count, batch, depth = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r = redis.Redis(port=port, socket_timeout=600)
t0 = time.time(); i = 0
while i < count:
    p = r.pipeline(transaction=False); starts = []
    for _ in range(depth):
        if i >= count: break
        p.sadd(key, *["p:%d" % j for j in range(i, min(i + batch, count))])
        starts.append(i); i += batch
    for start, res in zip(starts, p.execute(raise_on_error=False)):
        if isinstance(res, Exception):
            sys.stderr.write("SADD %s of members %d.. (of %d) failed: %s\n" % (key, start, count, res)); sys.exit(1)
print("%.2f" % (time.time() - t0))
EOF
}

# Clusters: ports of build B's node i in CP[B,i]; start_three sets cp[] for the last started.
declare -A CP=() EXTRA=()
for b in "${BUILDS[@]}"; do
    RINGKVD=${BIN[$b]}
    flags=(--sync batch --request-timeout-ms 30000)
    if "$RINGKVD" --help 2>&1 | grep -q -- --max-collection-members; then
        flags+=(--max-collection-members "$MAX_MEMBERS")
        EXTRA[$b]="--max-collection-members $MAX_MEMBERS"
    fi
    say "starting 3 nodes of $RINGKVD (${EXTRA[$b]:-no member limit flag})"
    TMP=$TMPROOT/$b  # start_three's data dirs and logs, one directory per build
    mkdir -p "$TMP"
    start_three lmdb "${flags[@]}" || { say "cluster of $b did not start"; exit 1; }
    TMP=$TMPROOT
    for i in 1 2 3; do CP[$b,$i]=${cp[$i]}; done
    redis-cli -p "${cp[1]}" rk.bucket set "$BUCKET" policy set n 3 >/dev/null
done

# Preload: small and mid once per round (keys small-R, mid-R), large once (key large).
declare -A KEYOK=()
keys_of() { if [ "$1" = large ]; then echo large; else for r in $(seq 1 "$ROUNDS"); do echo "$1-$r"; done; fi; }
for b in "${BUILDS[@]}"; do
    for s in "${SIZES[@]}"; do
        total=0 n=0 t0=$(date +%s.%N)
        for k in $(keys_of "$s"); do
            if preload "${CP[$b,1]}" "$k" "${COUNT[$s]}" >/dev/null 2>"$TMP/preload.err"; then
                KEYOK[$b,$k]=1
                n=$((n + 1))
            else
                say "$b: preload of $s ($k, ${COUNT[$s]} members) failed: $(tail -n 3 "$TMP/preload.err")"
                break
            fi
        done
        total=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        say "$b: preloaded $n key(s) of $s (${COUNT[$s]} members each) in $total s$( [ "$n" -gt 0 ] && awk -v t="$total" -v n="$n" -v c="${COUNT[$s]}" 'BEGIN { printf ", %.0f members/s", n * c / t }')"
        echo "preload $b $s $n $total" >>"$TMP/preloads"
    done
    b0=$(bytes_sum "${CP[$b,1]}" "${CP[$b,2]}" "${CP[$b,3]}"); sleep 3
    b1=$(bytes_sum "${CP[$b,1]}" "${CP[$b,2]}" "${CP[$b,3]}")
    echo "background $b $(((b1 - b0) / 3))" >>"$TMP/preloads"
done

# run B ROUND SIZE: one redis-benchmark run on build B's node 1, a CSV row.
run() {
    local b=$1 r=$2 s=$3 k before bytes0 bytes1 out rps p50 p99 p999 errs
    k=$s-$r
    [ "$s" = large ] && k=large
    if [ -z "${KEYOK[$b,$k]:-}" ]; then say "round $r $b $s: skipped (no preload)"; return 0; fi
    before=$(redis-cli -p "${CP[$b,1]}" scard "$BUCKET:$k" 2>&1 | head -n 1)
    # SCARD reads the whole set: past one frame (about 400,000 members) it fails (merge.md).
    [[ "$before" =~ ^[0-9]+$ ]] || before="?"
    bytes0=$(bytes_sum "${CP[$b,1]}" "${CP[$b,2]}" "${CP[$b,3]}")
    # The small set draws from SMALL_RANGE members, so it stays about SMALL large (its SADDs
    # re-add as often as they add); the others add members new to them.
    local range=100000000
    [ "$s" = small ] && range=$SMALL_RANGE
    out=$(timeout "$RUN_TIMEOUT_S" redis-benchmark -p "${CP[$b,1]}" -n "$OPS" -c "$CLIENTS" \
        -r "$range" sadd "$BUCKET:$k" 'm:__rand_int__' 2>"$TMP/bench.err" | tee "$TMP/bench.out" | bench_parse) || true
    bytes1=$(bytes_sum "${CP[$b,1]}" "${CP[$b,2]}" "${CP[$b,3]}")
    errs=$({ grep -c -i 'error' "$TMP/bench.err" "$TMP/bench.out" || true; } | awk -F: '{ n += $NF } END { print n + 0 }')
    read -r _ rps p50 p99 p999 <<<"${out:-x 0 nan nan nan}"
    [ "$errs" -gt 0 ] && say "round $r $b $s: redis-benchmark reported errors: $(grep -h -i -m 2 error "$TMP/bench.err" "$TMP/bench.out" | tr '\r' ' ' | cut -c1-200)"
    echo "$b,$r,$s,$k,$before,$OPS,$rps,$p50,$p99,$p999,$((bytes1 - bytes0)),$(((bytes1 - bytes0) / OPS)),$errs,$(cut -d' ' -f1 /proc/loadavg)" >>"$CSV"
    say "round $r $b $s ($before members): $rps SADD/s, p99 $p99 ms, $(((bytes1 - bytes0) / OPS)) bytes/SADD"
}

for r in $(seq 1 "$ROUNDS"); do
    order=("${BUILDS[@]}")
    # Old then new every other round, so drift in the machine's load weighs on both alike.
    [ "${#BUILDS[@]}" = 2 ] && [ $((r % 2)) = 0 ] && order=(old new)
    for s in "${SIZES[@]}"; do
        for b in "${order[@]}"; do run "$b" "$r" "$s"; done
    done
done

# The report, from the CSV (and the preload lines).
awk -F, -v tol="$BYTES_TOL" -v pre="$TMP/preloads" -v counts="$SMALL $MID $LARGE" \
    -v ops="$OPS" -v clients="$CLIENTS" -v rounds="$ROUNDS" -v extra_new="${EXTRA[new]:-}" -v extra_old="${EXTRA[old]:-}" '
function med(b, s, f,   n, i, j, t, v) {
    n = 0
    for (i = 1; i <= nr; i++) if (B[i] == b && S[i] == s && V[i, f] == V[i, f] + 0) v[++n] = V[i, f] + 0
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    N[b, s, f] = n; LO[b, s, f] = v[1]; HI[b, s, f] = v[n]
    if (n == 0) return "n/a"
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function cell(b, s, f, fmt,   m) {
    m = M[b, s, f]
    if (m == "n/a") return "n/a"
    return sprintf(fmt " (" fmt "-" fmt ")", m, LO[b, s, f], HI[b, s, f])
}
function ratio(x, y) { return (x == "n/a" || y == "n/a" || y == 0) ? "n/a" : sprintf("%.2f", x / y) }
function verdict(ok, x) { return x == "n/a" ? "n/a" : (ok ? "target met" : "not met") }
NR > 1 { nr++; B[nr] = $1; S[nr] = $3; V[nr, "rps"] = $7; V[nr, "p99"] = $9; V[nr, "bps"] = $12; seen[$1] = 1 }
END {
    split("small mid large", sz, " "); split(counts, cnt, " ")
    while ((getline line < pre) > 0) {
        split(line, w, " ")
        if (w[1] == "preload") PRE[w[2], w[3]] = w[4] " key(s) in " w[5] " s"
        else BG[w[2]] = w[3]
    }
    nb = 0
    if ("new" in seen || ("new", "small") in PRE) bl[++nb] = "new"
    if ("old" in seen || ("old", "small") in PRE) bl[++nb] = "old"
    printf "\nSADD of one new member, %d per run, %d clients, %d round(s); median (min-max)\n", ops, clients, rounds
    for (k = 1; k <= nb; k++) {
        b = bl[k]
        x = (b == "new") ? extra_new : extra_old
        printf "\n%s build%s (background %s bytes/s on the idle cluster)\n", b, (x != "" ? ", " x : ""), BG[b]
        printf "| set | members | preload | SADD/s | p99 ms | bytes per SADD |\n|---|---|---|---|---|---|\n"
        for (i = 1; i <= 3; i++) {
            s = sz[i]
            M[b, s, "rps"] = med(b, s, "rps"); M[b, s, "p99"] = med(b, s, "p99"); M[b, s, "bps"] = med(b, s, "bps")
            printf "| %s | %d | %s | %s | %s | %s |\n", s, cnt[i], PRE[b, s], cell(b, s, "rps", "%.0f"),
                cell(b, s, "p99", "%.2f"), cell(b, s, "bps", "%.0f")
        }
        rm = ratio(M[b, "mid", "rps"], M[b, "small", "rps"]); rl = ratio(M[b, "large", "rps"], M[b, "small", "rps"])
        bm = ratio(M[b, "mid", "bps"], M[b, "small", "bps"]); bg = ratio(M[b, "large", "bps"], M[b, "small", "bps"])
        printf "throughput mid/small %s (target >= 0.5: %s), large/small %s\n", rm, verdict(rm >= 0.5, rm), rl
        printf "bytes per SADD mid/small %s (%s), large/small %s (%s); target: within %sx of small\n",
            bm, verdict(bm <= tol && bm >= 1 / tol, bm), bg, verdict(bg <= tol && bg >= 1 / tol, bg), tol
        lm = ratio(M[b, "large", "bps"], M[b, "mid", "bps"])
        printf "bytes per SADD large/mid %s (%s): both written by deltas (a set under 256 members is written whole, merge.md)\n",
            lm, verdict(lm <= tol && lm >= 1 / tol, lm)
    }
    if (nb == 2) {
        printf "\nnew/old, ratio of medians: "
        for (i = 1; i <= 3; i++) {
            s = sz[i]
            printf "%s SADD/s %s, bytes per SADD %s%s", s, ratio(M["new", s, "rps"], M["old", s, "rps"]),
                ratio(M["new", s, "bps"], M["old", s, "bps"]), (i < 3 ? "; " : "\n")
        }
    }
}' "$CSV"
echo "raw numbers: $CSV"
