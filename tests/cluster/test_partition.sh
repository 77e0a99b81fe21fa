#!/usr/bin/env bash
# test_partition.sh — the CAP trade-off on a real network partition (Dynamo 4.6, sloppy quorum;
# N = 3, R = W = 2). Five ringkvd processes run in a private network namespace bound to
# 127.0.0.11 .. 127.0.0.15; outgoing cluster links leave from the bind address, so nftables in
# the namespace can cut every packet between the majority {1,2,3} and the minority {4,5} in
# both directions (the clients' packets leave from 127.0.0.1 and pass). While cut:
#   AP: bucket cart (siblings) takes 100 SETs on each side, all acknowledged; the minority meets
#       W = 2 with its two nodes, fallbacks keep hinted copies (INFO hints fallback_writes).
#   CP: bucket bank (sloppy false) on the minority refuses (UNAVAILABLE) every write whose
#       primaries hold at most one minority node, and takes those with both minority nodes.
#   one key, cart:shared, is written blind on both sides (apple on node 1, pear on node 4).
# After the heal the hints drain, every cart key reads with R = 3 exactly its value, cart:shared
# answers both siblings (no lost update), and the bank writes taken during the cut read with
# R = 3. Every wait is a poll with a generous limit, never a timing assertion; durations are
# only logged. Needs root (ip netns, nft): without it the test says "skipped" and passes.
source "$(dirname "$0")/lib.sh"

NS=rkpart-$$
NS_MADE=0
PORT=7001      # every node the same ports: the addresses differ, the namespace is private
CPORT=17001
MAJ="1 2 3"
MIN="4 5"
ALL="1 2 3 4 5"

# Kill the nodes (by pid) and remove the namespace whatever happened, then lib.sh's cleanup
# (sanitizer reports in $TEST_TMP/*.log, temp dir, exit status).
part_cleanup() {
    local status=$? pid
    for pid in "${NODE_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$NS_MADE" -eq 1 ]; then
        # Anything left inside the namespace was started by this test.
        for pid in $(ip netns pids "$NS" 2>/dev/null); do
            kill -9 "$pid" 2>/dev/null
        done
        if ! ip netns del "$NS" 2>/dev/null; then
            echo "  FAIL: could not remove network namespace $NS"
            status=1
        fi
    fi
    return "$status"
}
trap 'part_cleanup; cleanup' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs_since() { awk -v ms=$(( $(now_ms) - $1 )) 'BEGIN {printf "%.1f", ms / 1000}'; }
nsx() { ip netns exec "$NS" "$@"; }
# cli ID ARGS...: redis-cli to node ID, inside the namespace.
cli() {
    local id=$1
    shift
    timeout 10 ip netns exec "$NS" redis-cli -h "127.0.0.1$id" -p "$PORT" "$@" 2>&1
}
# cli_batch ID [FLAGS...]: the same, commands on stdin, one connection.
cli_batch() {
    local id=$1
    shift
    timeout 60 ip netns exec "$NS" redis-cli -h "127.0.0.1$id" -p "$PORT" "$@" 2>&1
}

# ---- setup: namespace, or skip ------------------------------------------------------------
for tool in ip nft redis-cli; do
    command -v "$tool" >/dev/null 2>&1 || { echo "  skipped: $tool is not installed"; exit 0; }
done
if ! ip netns add "$NS" 2>"$TEST_TMP/netns.err"; then
    echo "  skipped: cannot create a network namespace (ip netns add: $(tr '\n' ' ' \
        <"$TEST_TMP/netns.err")); this test needs root"
    exit 0
fi
NS_MADE=1
if ! nsx ip link set lo up 2>"$TEST_TMP/netns.err" ||
    ! nsx nft list tables >/dev/null 2>>"$TEST_TMP/netns.err"; then
    echo "  skipped: no loopback or nftables in the namespace:" \
        "$(tr '\n' ' ' <"$TEST_TMP/netns.err")"
    exit 0
fi

MEMBERS=""
for id in $ALL; do
    MEMBERS+="${MEMBERS:+,}$id=127.0.0.1$id:$PORT:$CPORT"
done

# start_member ID: ringkvd for member ID in the namespace; log in $TEST_TMP/nodeID.log.
start_member() {
    local id=$1
    # ip netns exec directly, not through nsx: a function in the background would run in a
    # subshell and $! would not be ringkvd's pid.
    ip netns exec "$NS" "$RINGKVD" --bind "127.0.0.1$id" --port "$PORT" --cluster-port "$CPORT" \
        --node-id "$id" --members "$MEMBERS" --data-dir "$TEST_TMP/node$id" --engine lmdb \
        --request-timeout-ms 2000 >>"$TEST_TMP/node$id.log" 2>&1 &
    PID_OF[$id]=$!     # ip netns exec execs ringkvd: this is its pid
    NODE_PIDS+=("$!")
}

# wait_ping ID: until node ID answers PING (20 s; a sanitizer build starts slower).
wait_ping() {
    for _ in $(seq 1 200); do
        [ "$(cli "$1" ping)" == "PONG" ] && return 0
        if ! kill -0 "${PID_OF[$1]}" 2>/dev/null; then
            echo "  ringkvd $1 exited at start:"
            cat "$TEST_TMP/node$1.log"
            return 1
        fi
        sleep 0.1
    done
    echo "  ringkvd $1 did not answer on 127.0.0.1$1:$PORT"
    return 1
}

# states ID: how node ID sees the members, "1:self 2:up 3:down ...".
states() { cli "$1" rk.members | paste -d' ' - - - - - | awk '{printf "%s:%s ", $1, $4}'; }

# all_see "IDS" "OTHERS" REGEX: every node of IDS sees every member of OTHERS in a state
# matching REGEX.
all_see() {
    local id other st re
    for id in $1; do
        st=" $(states "$id")"
        for other in $2; do
            re=" $other:($3) "
            [[ "$st" =~ $re ]] || return 1
        done
    done
}

# wait_for LIMIT_S DESCRIPTION COMMAND...: poll COMMAND every 0.1 s until it succeeds; logs
# how long that took. Fails (returns 1) after LIMIT_S seconds.
wait_for() {
    local limit=$1 what=$2 start
    shift 2
    start=$(now_ms)
    until "$@"; do
        if [ $(( $(now_ms) - start )) -ge $((limit * 1000)) ]; then
            fail "$what: not within $limit s"
            return 1
        fi
        sleep 0.1
    done
    log "ok: $what ($(secs_since "$start") s)"
}

log_states() {
    local id
    for id in $ALL; do log "node $id sees: $(states "$id")"; done
}

# hint_sum FIELD ID...: INFO hints FIELD summed over the nodes; "none" if one lacks it.
hint_sum() {
    local field=$1 id v sum=0
    shift
    for id in "$@"; do
        v=$(cli "$id" info hints | tr -d '\r' | awk -F: -v f="$field" '$1 == f {print $2}')
        [[ "$v" =~ ^[0-9]+$ ]] || { echo none; return; }
        sum=$((sum + v))
    done
    echo "$sum"
}

hint_each() {
    local id out=""
    for id in $ALL; do out+="$(hint_sum "$1" "$id") "; done
    echo "${out% }"
}

no_hint_pending() { [ "$(hint_each hints_pending)" == "0 0 0 0 0" ]; }

check_positive() {
    [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ] && log "ok: $1: $2" ||
        fail "$1: expected > 0, got [$2]"
}

# set_keys NAME PREFIX COUNT "IDS": SET PREFIX<i> to the key without its bucket (cart:a7 gets
# a7), spread over the nodes IDS, one redis-cli per node. Answers in $TEST_TMP/set.NAME.
set_keys() {
    local name=$1 prefix=$2 count=$3 ids=($4) k
    for k in "${!ids[@]}"; do
        seq $((k + 1)) "${#ids[@]}" "$count" |
            awk -v p="$prefix" '{k = p $1; sub(/^[^:]*:/, "", k); print "set " p $1 " " k}' |
            cli_batch "${ids[$k]}"
    done >"$TEST_TMP/set.$name"
}

# answered_other NAME: the replies that were not OK (redis-cli prints a blank line after an
# error).
answered_other() {
    grep -vxE 'OK|' "$TEST_TMP/set.$1" | sort | uniq -c | sort -rn | head -3 |
        while read -r line; do log "answered: $line"; done
}

# read_errors PREFIX COUNT: keys PREFIX<i> whose RK.GET .. R 3 (through the five nodes in turn)
# is not exactly the one value SET by set_keys. Logs the first few.
read_errors() {
    local prefix=$1 count=$2 ids=($ALL) i
    for i in "${!ids[@]}"; do
        seq $((i + 1)) "${#ids[@]}" "$count" |
            awk -v p="$prefix" '{print "rk.get " p $1 " R 3"}' |
            cli_batch "${ids[$i]}" --csv | paste <(seq $((i + 1)) "${#ids[@]}" "$count") -
    done | awk -F'\t' -v p="$prefix" '
        {
            want = p $1; sub(/^[^:]*:/, "", want)
            if ($2 !~ "^\"[^\",]*\",\"" want "\"$") {
                bad++
                if (bad <= 3) printf "  %s%d read %s\n", p, $1, $2 > "/dev/stderr"
            }
        }
        END { print bad + 0 }'
}

# ---- 1. five nodes, buckets ---------------------------------------------------------------
test_start=$(now_ms)
for id in $ALL; do start_member "$id"; done
for id in $ALL; do wait_ping "$id" || exit 1; done
for id in $ALL; do    # the pids the cleanup kills are the nodes themselves
    [ "$(cat "/proc/${PID_OF[$id]}/comm" 2>/dev/null)" == "ringkvd" ] ||
        fail "pid ${PID_OF[$id]} of node $id is not ringkvd"
done
wait_for 20 "every node sees all 5 members up" all_see "$ALL" "$ALL" 'self|up' ||
    { log_states; exit 1; }
check_eq "bucket cart set to policy siblings on all 5" "5" \
    "$(cli 1 rk.bucket set cart policy siblings)"
check_eq "bucket bank set to sloppy false on all 5" "5" "$(cli 1 rk.bucket set bank sloppy false)"
check_eq "no hint pending at start" "0 0 0 0 0" "$(hint_each hints_pending)"

# Primaries of bank:1..50 and cart:shared, asked while all run (the ring is the same
# everywhere): $TEST_TMP/pref.bank line i "a,b,c".
BANK=50
seq 1 "$BANK" | sed 's/^/rk.preflist bank:/' | cli_batch 1 --csv >"$TEST_TMP/pref.bank"
check_eq "$BANK preference lists of 3 nodes for bank:*" "$BANK" \
    "$(grep -cE '^[1-5],[1-5],[1-5]$' "$TEST_TMP/pref.bank")"
shared_pref=$(cli 1 rk.preflist cart:shared | tr '\n' ' ')
log "cart:shared primaries: ${shared_pref% }"

# ---- 2. partition {1,2,3} | {4,5} ----------------------------------------------------------
MAJ_SET="{ 127.0.0.11, 127.0.0.12, 127.0.0.13 }"
MIN_SET="{ 127.0.0.14, 127.0.0.15 }"
if ! { nsx nft add table inet rkpart &&
    nsx nft add chain inet rkpart out '{ type filter hook output priority 0; }' &&
    nsx nft add rule inet rkpart out ip saddr "$MAJ_SET" ip daddr "$MIN_SET" drop &&
    nsx nft add rule inet rkpart out ip saddr "$MIN_SET" ip daddr "$MAJ_SET" drop; }; then
    fail "could not install the nftables partition"
    exit 1
fi
part_start=$(now_ms)
log "partition {1,2,3} | {4,5} installed"
wait_for 20 "the majority sees 4 and 5 down" all_see "$MAJ" "$MIN" down || log_states
wait_for 20 "the minority sees 1, 2 and 3 down" all_see "$MIN" "$MAJ" down || log_states
wait_for 5 "the majority sees itself up" all_see "$MAJ" "$MAJ" 'self|up' || log_states
wait_for 5 "the minority sees itself up" all_see "$MIN" "$MIN" 'self|up' || log_states

# ---- 3. availability: both sides take writes to cart ---------------------------------------
set_keys a cart:a 100 "$MAJ"
check_eq "100 SETs cart:a* through the majority (nodes 1-3) acknowledged" "100" \
    "$(grep -cx OK "$TEST_TMP/set.a")"
answered_other a
set_keys b cart:b 100 "$MIN"
check_eq "100 SETs cart:b* through the minority (nodes 4-5) acknowledged" "100" \
    "$(grep -cx OK "$TEST_TMP/set.b")"
answered_other b
check_positive "writes the minority coordinated with a fallback (fallback_writes)" \
    "$(hint_sum fallback_writes $MIN)"
log "hints pending during the partition (nodes 1-5): $(hint_each hints_pending)"

# ---- 4. consistency: bucket bank refuses what the minority cannot place on primaries --------
refused=0
acked=0
acked_weak=0       # acknowledged though at most one primary is on the minority side
refused_strong=0   # refused though both minority nodes are primaries
other=0
: >"$TEST_TMP/bank.acked"
: >"$TEST_TMP/bank.refused"
for i in $(seq 1 "$BANK"); do
    pref=$(sed -n "${i}p" "$TEST_TMP/pref.bank")
    m=$(echo "$pref" | tr ',' '\n' | grep -cE '^(4|5)$')
    via=$((4 + i % 2))
    reply=$(cli "$via" set "bank:$i" "b$i" | head -1)
    case "$reply" in
        OK)
            acked=$((acked + 1))
            echo "$i" >>"$TEST_TMP/bank.acked"
            if [ "$m" -lt 2 ]; then
                acked_weak=$((acked_weak + 1))
                log "bank:$i (primaries $pref) acknowledged on the minority"
            fi
            ;;
        UNAVAILABLE*)
            refused=$((refused + 1))
            echo "$i" >>"$TEST_TMP/bank.refused"
            if [ "$m" -ge 2 ]; then
                refused_strong=$((refused_strong + 1))
                log "bank:$i (primaries $pref) refused: $reply"
            fi
            ;;
        *)
            other=$((other + 1))
            log "bank:$i (primaries $pref) answered: $reply"
            ;;
    esac
done
log "bank:1..$BANK on the minority: $acked acknowledged, $refused refused (UNAVAILABLE)"
check_positive "bank writes refused on the minority" "$refused"
check_positive "bank writes acknowledged on the minority (both minority nodes primaries)" "$acked"
check_eq "every acknowledged bank write has both minority nodes among its primaries" "0" \
    "$acked_weak"
check_eq "every bank write with both minority nodes as primaries acknowledged" "0" \
    "$refused_strong"
check_eq "every bank write answered OK or UNAVAILABLE" "0" "$other"

# ---- 5. one key written on both sides ------------------------------------------------------
put1=$(cli 1 rk.put cart:shared "" apple)
put4=$(cli 4 rk.put cart:shared "" pear)
[[ "$(echo "$put1" | sed -n 2p)" =~ ^[2-9]$ ]] &&
    log "ok: RK.PUT cart:shared apple on node 1 acknowledged by $(echo "$put1" | sed -n 2p)" ||
    fail "RK.PUT cart:shared apple on node 1: [$(echo "$put1" | tr '\n' ' ')]"
[[ "$(echo "$put4" | sed -n 2p)" =~ ^[2-9]$ ]] &&
    log "ok: RK.PUT cart:shared pear on node 4 acknowledged by $(echo "$put4" | sed -n 2p)" ||
    fail "RK.PUT cart:shared pear on node 4: [$(echo "$put4" | tr '\n' ' ')]"
log "partition held $(secs_since "$part_start") s"

# ---- 6. heal ----------------------------------------------------------------------------------
nsx nft delete table inet rkpart || fail "could not delete the nftables table"
heal=$(now_ms)
log "partition healed"
wait_for 30 "every node sees all 5 members up after the heal" all_see "$ALL" "$ALL" 'self|up' ||
    log_states
if wait_for 30 "no hint pending on any node" no_hint_pending; then
    log "hints drained $(secs_since "$heal") s after the heal"
else
    log "hints pending (nodes 1-5): $(hint_each hints_pending)"
fi
check_positive "hints delivered" "$(hint_sum hints_delivered $ALL)"

check_eq "every cart:a* (majority) reads with R 3 exactly its value" "0" \
    "$(read_errors cart:a 100)"
check_eq "every cart:b* (minority) reads with R 3 exactly its value" "0" \
    "$(read_errors cart:b 100)"
for id in 2 5; do
    check_eq "cart:shared read with R 3 through node $id answers both siblings" "apple pear" \
        "$(cli "$id" rk.get cart:shared R 3 | tail -n +2 | sort | tr '\n' ' ' | sed 's/ $//')"
done
# bank_read I: RK.GET bank:I R 3 through one of the five, as --csv ("context","value",...).
bank_read() { cli $((1 + $1 % 5)) --csv rk.get "bank:$1" R 3; }
bad=0
for i in $(cat "$TEST_TMP/bank.acked"); do
    got=$(bank_read "$i")
    [[ "$got" =~ ^\"[^\",]*\",\"b$i\"$ ]] || { bad=$((bad + 1)); log "bank:$i read [$got]"; }
done
check_eq "every bank write acknowledged during the partition reads with R 3 ($acked)" "0" "$bad"
# Not asserted (a refused write could have reached a primary): how many refused ones read a
# value now. A key never written reads as a context without values: "context",
seen=0
for i in $(cat "$TEST_TMP/bank.refused"); do
    got=$(bank_read "$i")
    [[ "$got" =~ ^\"[^\",]*\",$ ]] || { seen=$((seen + 1)); log "refused bank:$i reads [$got]"; }
done
log "of the $refused refused bank writes, $seen read a value after the heal"

for id in $ALL; do
    stop_node "${PID_OF[$id]}" TERM || fail "node $id did not stop within 20 s of SIGTERM"
done
log "test took $(secs_since "$test_start") s"
finish
