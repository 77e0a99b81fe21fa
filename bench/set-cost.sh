#!/usr/bin/env bash
# set-cost.sh — what one SET costs inside a 3-node cluster (N=3 R=2 W=2), counted rather than
# timed, for an OLD and a NEW build side by side (Groundwork I): heap allocations, copies of
# the value and hashes of the key, on the coordinator and on each of the two other replicas.
#
# How: every ringkvd runs under bench/set-cost-shim.c (LD_PRELOAD, built here with cc), which
# counts malloc/calloc/realloc/posix_memalign/aligned_alloc, memcpy/memmove/mempcpy calls of
# exactly VALUE_BYTES (4099: no header, frame or key is that long) and of at least VALUE_BYTES
# (the value inside a larger frame or record), and XXH3_64bits/XXH3_64bits_withSeed/XXH64
# calls on exactly KEY_BYTES (29) — rk_hash_key (src/core/hash.c) calls XXH3_64bits in
# libxxhash.so, so the shim sees it. Per build and engine: start the cluster, pick keys whose
# preference list (RK.PREFLIST on node 1) starts with node 1, so node 1 coordinates and stores
# and nodes 2 and 3 are the replicas; send WARMUP SETs, then snapshot all three nodes' counters
# (SIGUSR2), send SETS SETs one after the other on one redis-cli connection to node 1, wait
# SETTLE_S for the third replica's write, snapshot, stay idle for as long as that interval took,
# snapshot again. Per SET = (busy interval - idle interval) / SETS: heartbeats, failure
# detection and handoff ticks allocate too, and the idle interval takes them off.
#
# Usage: bench/set-cost.sh OLD_BUILD_DIR NEW_BUILD_DIR   (each holds ringkvd; may be the same)
# Environment: SETS [1000], WARMUP [200], OVERWRITE [no; yes: the measured SETs replace values
#   the warm-up wrote to the same keys], ENGINES ["mem lmdb"] (lmdb runs with --sync batch),
#   VALUE_BYTES [4099], KEY_BYTES [29], SETTLE_S [0.5], CC [cc], OUT_DIR [bench/out].
# Needs redis-cli, cc, nm, awk. Raw counter deltas go to OUT_DIR/set-cost-<time>.csv.
#
# What it showed at 96b942a (SETS=1000; A/A, the same build twice; lmdb varies by +-0.2
# allocations with how writes fall into group commits, mem by +-0.01):
#
#                      allocations   value copies (= / >= value)   key hashes
#   mem  coordinator      12.0            2 / 7                        3
#   mem  replica          12.0            3 / 5                        2
#   lmdb coordinator      14.0            2 / 8                        3
#   lmdb replica          14.0            3 / 6                        2
#
# Where they come from (gdb breakpoints on one SET, src/ at 96b942a):
# - Coordinator copies, 7 with mem: the dvvset takes its own copy of the value
#   (dvvset_bytes_dup, exact length), rk_dvvset_encode writes it into the stored object
#   (exact), the mem store copies the object (value + ~50 bytes), and per peer (2) protobuf-c
#   copies the object into the Put message and the packed Put into the envelope (+4). lmdb
#   replaces the mem store's copy with two: its write batch (lmdb.c) and mdb_put into the page.
#   That matches the issue's "about 7". Not seen: the kernel's copies in read()/write(), and
#   glibc's own copy when realloc moves a grown buffer (gdb caught rk_wire_encode's
#   wire_out_reserve doing so on a young connection; warm, the coordinator's one realloc per
#   SET is the reply buffer's, so such moves are rare). RESP arguments point into the read
#   buffer, so the client's value is not copied there.
# - Replica copies, 5 with mem: protobuf-c unpacks the object (exact), rk_dvvset_decode
#   duplicates the value (exact), rk_dvvset_sync copies it again (exact), encode, store.
# - Key hashes: 3 on the coordinator as the issue says: rk_coord_start (preference list),
#   then node_skey twice, for the local read (node_local_read) and the local write
#   (node_local_write). 2 on a replica: node_skey for its read and its write. Each node also
#   makes one or two XXH3_64bits calls over other lengths per SET (the encoded object's
#   checksum in rk_dvvset_encode/decode): "hashes_all" in the CSV. A hinted write would hash
#   the key once more (handoff.c hint id); no node is down here.
# - Allocations, counted as calls (a realloc is one, whatever it does). Coordinator, 12 with
#   mem: the RESP command (1), the coordinator (1), rk_dvvset_update (3: the set, its dots,
#   the value), the mem store (2), the deadline timer (1), the reply buffer (1 realloc), and
#   protobuf-c unpacking the two replicas' acks (2 each); lmdb adds its write batch and
#   pending-write node (14). The issue's "about 13" is this. Replica, 12 with mem: unpacking
#   the Put (protobuf-c, one per nested message and field), rk_dvvset_decode (2),
#   rk_dvvset_sync (4: two sets, dots, the value again), the store (2); 14 with lmdb. The
#   issue's "about 16" on a replica is the overwrite case (OVERWRITE=yes: 17 at 96b942a,
#   where the replica also reads, decodes and copies the old object). A count from a debugger
#   or ltrace comes out higher: it also sees the malloc glibc makes inside realloc(NULL, n),
#   and heartbeats (16-19 allocations per second per node, subtracted here) land between the
#   breakpoints of one slowed-down SET. The per-second background is printed below the table.
# - Counts are per SET with one request in flight; pipelined or concurrent SETs share read
#   buffers and group commits, so their per-SET counts can differ (not measured here).
set -euo pipefail
BENCH_NAME=set-cost
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SETS=${SETS:-1000}
WARMUP=${WARMUP:-200}
OVERWRITE=${OVERWRITE:-no}
ENGINES=${ENGINES:-"mem lmdb"}
VALUE_BYTES=${VALUE_BYTES:-4099}
KEY_BYTES=${KEY_BYTES:-29}
SETTLE_S=${SETTLE_S:-0.5}
CC=${CC:-cc}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
if [[ $# -eq 1 && ($1 == -h || $1 == --help) ]]; then usage; exit 0; fi
if [[ $# -ne 2 ]]; then usage >&2; exit 2; fi
declare -A BUILD=([old]=$1 [new]=$2)
for b in old new; do
    if [[ ! -x ${BUILD[$b]}/ringkvd ]]; then
        echo "set-cost: ${BUILD[$b]}/ringkvd not found" >&2
        exit 2
    fi
    # grep without -q reads to the end: nm killed by SIGPIPE would fail the pipe (pipefail).
    if ! nm -D "${BUILD[$b]}/ringkvd" 2>/dev/null | grep ' U XXH3_64bits$' >/dev/null; then
        echo "set-cost: ${BUILD[$b]}/ringkvd does not call XXH3_64bits in libxxhash.so;" \
             "its key hashes will show as n/a (count them with gdb: break rk_hash_key)" >&2
    fi
done
for tool in redis-cli "$CC" nm awk; do
    if ! command -v "$tool" >/dev/null; then
        echo "set-cost: $tool not found (make deps-bench)" >&2
        exit 2
    fi
done
for n in "$SETS" "$WARMUP" "$VALUE_BYTES" "$KEY_BYTES"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "set-cost: \"$n\" is not a positive integer" >&2; exit 2; }
done
if ((KEY_BYTES < 8 || KEY_BYTES >= VALUE_BYTES)); then
    echo "set-cost: KEY_BYTES must be 8..VALUE_BYTES-1 so keys and values are told apart" >&2
    exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringkv-setcost.XXXXXX")
declare -a PIDS=()
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SHIM=$TMP/set-cost-shim.so
"$CC" -O2 -shared -fPIC -fno-builtin -fno-tree-loop-distribute-patterns \
    -o "$SHIM" "$ROOT/bench/set-cost-shim.c" -ldl

PORTS_TAKEN=" "

# snapshot TAG: every node dumps its counters to $TMP/n<id>.<TAG>.
snapshot() {
    local tag=$1 id
    for id in 1 2 3; do
        rm -f "$TMP/n$id.counts"
        kill -USR2 "${PIDS[$((id - 1))]}"
    done
    for id in 1 2 3; do
        for _ in $(seq 1 200); do
            [[ -f $TMP/n$id.counts ]] && break
            sleep 0.01
        done
        [[ -f $TMP/n$id.counts ]] || { echo "set-cost: node $id wrote no counters" >&2; return 1; }
        mv "$TMP/n$id.counts" "$TMP/n$id.$tag"
    done
}

# set_commands FIRST COUNT: SET lines for keys FIRST.. of $TMP/keys, one per line.
set_commands() {
    local value
    value=$(head -c "$VALUE_BYTES" /dev/zero | tr '\0' v)
    sed -n "$1,$(($1 + $2 - 1))p" "$TMP/keys" | awk -v v="$value" '{ print "SET " $1 " " v }'
}

# pick_keys PORT NEED: write NEED keys of KEY_BYTES whose first primary is node 1 to $TMP/keys.
pick_keys() {
    local port=$1 need=$2 start=1 batch
    : >"$TMP/keys"
    while (($(wc -l <"$TMP/keys") < need)); do
        batch=$((need * 4))
        seq "$start" $((start + batch - 1)) |
            awk -v w=$((KEY_BYTES - 2)) '{ printf "k-%0" w "d\n", $1 }' >"$TMP/cand"
        awk '{ print "RK.PREFLIST " $1 }' "$TMP/cand" | redis-cli -p "$port" >"$TMP/pl"
        # Three primaries per key (N=3, all up): one line each.
        if (($(wc -l <"$TMP/pl") != 3 * batch)); then
            echo "set-cost: RK.PREFLIST did not answer 3 nodes per key:" >&2
            head -n 6 "$TMP/pl" >&2
            return 1
        fi
        awk 'NR == FNR { key[FNR] = $1; next }
             (FNR - 1) % 3 == 0 && $1 == 1 { print key[(FNR - 1) / 3 + 1] }' \
            "$TMP/cand" "$TMP/pl" >>"$TMP/keys"
        start=$((start + batch))
    done
    head -n "$need" "$TMP/keys" >"$TMP/keys.tmp" && mv "$TMP/keys.tmp" "$TMP/keys"
}

# run_one BUILD ENGINE: one cluster, three snapshots, per-node deltas appended to $CSV.
run_one() {
    local build=$1 engine=$2 dir=${BUILD[$1]} members="" id
    declare -a cp=() kp=()
    for id in 1 2 3; do
        cp[$id]=$(free_port)
        TAKEN_PORTS+=("${cp[$id]}")
        kp[$id]=$(free_port)
        TAKEN_PORTS+=("${kp[$id]}")
        members+="${members:+,}$id=127.0.0.1:${cp[$id]}:${kp[$id]}"
    done
    for id in 1 2 3; do
        RK_SHIM_OUT="$TMP/n$id.counts" RK_SHIM_VALUE_BYTES=$VALUE_BYTES \
            RK_SHIM_KEY_BYTES=$KEY_BYTES LD_PRELOAD=$SHIM "$dir/ringkvd" --node-id "$id" \
            --port "${cp[$id]}" --cluster-port "${kp[$id]}" --members "$members" \
            --engine "$engine" --sync batch --data-dir "$TMP/$build-$engine-$id" --log-level warn \
            >"$TMP/$build-$engine-$id.log" 2>&1 &
        PIDS+=($!)
    done
    for id in 1 2 3; do wait_ping "${cp[$id]}"; done
    for _ in $(seq 1 100); do
        [[ $(redis-cli -p "${cp[1]}" rk.members | grep -cE '^(self|up)$') -ge 3 ]] && break
        sleep 0.05
    done
    if [[ $OVERWRITE == yes ]]; then
        # Every measured SET replaces a value the warm-up wrote: a read, a merge and an
        # old value to drop on every node.
        pick_keys "${cp[1]}" "$SETS"
        set_commands 1 "$SETS" | redis-cli -p "${cp[1]}" >"$TMP/warmup.out"
        set_commands 1 "$SETS" >"$TMP/sets"
    else
        pick_keys "${cp[1]}" $((WARMUP + SETS))
        set_commands 1 "$WARMUP" | redis-cli -p "${cp[1]}" >"$TMP/warmup.out"
        set_commands $((WARMUP + 1)) "$SETS" >"$TMP/sets"
    fi
    sleep "$SETTLE_S"

    local t0 t1 t2 ok
    t0=$(date +%s%N)
    snapshot a
    redis-cli -p "${cp[1]}" <"$TMP/sets" >"$TMP/sets.out"
    sleep "$SETTLE_S"
    snapshot b
    t1=$(date +%s%N)
    # The idle interval lasts as long as the busy one, so background work cancels out.
    sleep "$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }')"
    snapshot c
    t2=$(date +%s%N)
    ok=$(grep -c '^OK$' "$TMP/sets.out" || true)
    if ((ok != SETS)); then
        echo "set-cost: $build/$engine: $ok of $SETS SETs answered OK:" >&2
        grep -v '^OK$' "$TMP/sets.out" | head -n 3 >&2
        return 1
    fi
    for id in 1 2 3; do
        awk -v build="$build" -v engine="$engine" -v node="$id" -v busy_ns=$((t1 - t0)) \
            -v idle_ns=$((t2 - t1)) '
            FILENAME ~ /\.a$/ { a[$1] = $2 } FILENAME ~ /\.b$/ { b[$1] = $2 }
            FILENAME ~ /\.c$/ { c[$1] = $2; names[++n] = $1 }
            END {
                for (i = 1; i <= n; i++) {
                    k = names[i]
                    printf "%s,%s,%s,%s,%d,%d,%d,%d\n", build, engine, node, k, \
                        b[k] - a[k], c[k] - b[k], busy_ns / 1e6, idle_ns / 1e6
                }
            }' "$TMP/n$id.a" "$TMP/n$id.b" "$TMP/n$id.c" >>"$CSV"
    done
    stop_all
}

mkdir -p "$OUT_DIR"
CSV=$OUT_DIR/set-cost-$(date +%Y%m%d-%H%M%S).csv
echo "build,engine,node,counter,busy,idle,busy_ms,idle_ms" >"$CSV"
for engine in $ENGINES; do
    for build in old new; do
        echo "set-cost: $build (${BUILD[$build]}) engine $engine" >&2
        run_one "$build" "$engine"
    done
done

echo "set-cost: $SETS SETs of $VALUE_BYTES-byte values, $KEY_BYTES-byte keys, one at a time to" \
     "node 1 (first primary: coordinates and stores); nodes 2, 3 are the other replicas."
echo "OLD=${BUILD[old]} NEW=${BUILD[new]}; per SET, after subtracting an idle interval as long."
awk -F, -v sets="$SETS" '
    NR == 1 { next }
    {
        d = ($5 - $6) / sets
        k = $1 "," $2 "," $3
        if ($4 ~ /^(malloc|calloc|realloc|memalign)$/) { alloc[k] += d; bg[k] += $6 }
        else if ($4 == "free") { frees[k] = d }
        else if ($4 == "copies_eq") { eq[k] = d }
        else if ($4 == "copies_ge") { ge[k] = d }
        else if ($4 == "hashes_key") { hk[k] = d }
        else if ($4 == "hashes_all") { ha[k] = $5 }
        idle_ms[k] = $8
        if (!($2 in seen)) { seen[$2] = 1; engines[++ne] = $2 }
    }
    function cell(a, b, k) { return sprintf("%7.2f %7.2f", a["old," k], a["new," k]) }
    # No XXH3_64bits call at all while busy: the build hashes without libxxhash.so (inlined or
    # static), and the shim cannot see it.
    function hash_cell(k,    o, n) {
        o = ha["old," k] > 0 ? sprintf("%7.2f", hk["old," k]) : sprintf("%7s", "n/a")
        n = ha["new," k] > 0 ? sprintf("%7.2f", hk["new," k]) : sprintf("%7s", "n/a")
        return o " " n
    }
    function ratio(a, k) {
        return a["old," k] > 0 ? sprintf("%5.2f", a["new," k] / a["old," k]) : "  n/a"
    }
    END {
        for (e = 1; e <= ne; e++) {
            printf "\nengine %s\n", engines[e]
            printf "%-16s %15s %6s %15s %15s %15s %15s\n", "", "allocations", "", \
                "value copies", "copies >=value", "key hashes", "frees"
            printf "%-16s %7s %7s %6s %7s %7s %7s %7s %7s %7s %7s %7s\n", "node", "old", "new", \
                "new/old", "old", "new", "old", "new", "old", "new", "old", "new"
            for (n = 1; n <= 3; n++) {
                k = engines[e] "," n
                role = n == 1 ? "coordinator n1" : "replica n" n
                printf "%-16s %s %6s %s %s %s %s\n", role, cell(alloc, 0, k), ratio(alloc, k), \
                    cell(eq, 0, k), cell(ge, 0, k), hash_cell(k), cell(frees, 0, k)
            }
            printf "background subtracted (allocations per idle second):"
            for (n = 1; n <= 3; n++) {
                k = engines[e] "," n
                printf " n%d %.0f/%.0f", n, bg["old," k] / (idle_ms["old," k] / 1000), \
                    bg["new," k] / (idle_ms["new," k] / 1000)
            }
            printf " (old/new)\n"
        }
    }' "$CSV"
echo
echo "raw: $CSV"
