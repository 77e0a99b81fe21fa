#!/usr/bin/env bash
# test_zones.sh — zones on real processes (issue 16 item 3): a preference list takes N distinct
# zones first when the members span at least N zones, so a whole zone can stop and every key
# still has replicas in the others; `ringkv cluster plan` warns when a layout makes a node hold
# far more replicas than the mean. The default bucket (N = 3, R = W = 2), the mem engine.
#
# (a) Six nodes in zones a, a, b, b, c, c (`--zone` per node, the zone as the 4th field of each
#     `--members` entry): `ringkv members` shows the zones; RK.PREFLIST of 300 keys names 3
#     nodes in 3 distinct zones. Zone c is frozen (SIGSTOP of both its nodes): 100 plain SETs
#     (W = 2) and GETs (R = 2) through nodes of zones a and b succeed — each retried until it
#     does, within generous limits, while the failure detector notices — and so do 100 of a
#     bucket with sloppy quorum off, whose writes and reads count only the 2 primaries left:
#     without the zone spread some lists would hold both nodes of zone c. Then SIGCONT, and
#     all 100 plain keys read back through the nodes of zone c.
# (b) Three nodes in zone a and one in zone b span 2 zones (< N: distinct nodes only); a fifth
#     node in zone c joins (`ringkv cluster join`), so after the plan the members span 3 zones
#     and nodes 4 and 5, alone in theirs, are in every preference list: each holds all 64
#     partitions' replicas, 1.67 times the mean of 38.4. `cluster plan` lists each node's
#     share and prints a `warning:` line naming each; exit 0 (a warning is not an error).
# No timing is asserted; waits are polls with limits.
source "$(dirname "$0")/lib.sh"

NODE_FLAGS=(--engine mem --request-timeout-ms 2000)
KEYS_PREFLIST=300
KEYS_FROZEN=100
declare -a ZONE_OF=()

rk() { local id=$1; shift; timeout 30 "$RINGKV" --port "${CLIENT_PORT[$id]}" "$@" 2>&1; }

# start_zoned NAME ZONE...: one node per ZONE, ids 1.., each with --zone and all in --members
# with their zones (lib.sh's start_cluster gives every node the same flags). Data dirs NAME1...
start_zoned() {
    local name=$1 id count
    shift
    count=$#
    ZONE_OF=("" "$@")
    MEMBERS=""
    for id in $(seq 1 "$count"); do
        CLIENT_PORT[$id]=$(free_port)
        CLUSTER_PORT[$id]=$(free_port)
        MEMBERS+="${MEMBERS:+,}$id=127.0.0.1:${CLIENT_PORT[$id]}:${CLUSTER_PORT[$id]}:${ZONE_OF[$id]}"
    done
    for id in $(seq 1 "$count"); do
        start_node "$name$id" "${CLIENT_PORT[$id]}" --node-id "$id" \
            --cluster-port "${CLUSTER_PORT[$id]}" --members "$MEMBERS" --zone "${ZONE_OF[$id]}" \
            "${NODE_FLAGS[@]}" || return 1
        PID_OF[$id]=$NODE_PID
    done
    for id in $(seq 1 "$count"); do
        wait_learned "${CLIENT_PORT[$id]}" || return 1
    done
}

# stop_all ID...: SIGTERM and wait, by pid.
stop_all() {
    local id
    for id in "$@"; do
        stop_node "${PID_OF[$id]}" TERM || fail "node $id did not stop within 20 s of SIGTERM"
    done
}

# zone_spread PORT KEYS: RK.PREFLIST of keys zk:1..KEYS on PORT; prints "GOOD BAD": lists of
# 3 nodes in 3 distinct zones (ZONE_OF), and the others (a line each on stderr).
zone_spread() {
    local port=$1 keys=$2 i
    for i in $(seq 1 "$keys"); do echo "RK.PREFLIST zk:$i"; done |
        timeout 60 redis-cli -p "$port" 2>&1 |
        awk -v zones="${ZONE_OF[*]:1}" '
            BEGIN { split(zones, zone, " "); good = 0; bad = 0 }
            { id[(NR - 1) % 3] = $1 }
            (NR - 1) % 3 == 2 {
                a = zone[id[0]]; b = zone[id[1]]; c = zone[id[2]]
                if (a != "" && b != "" && c != "" && a != b && b != c && a != c) {
                    good++
                } else {
                    bad++
                    printf "    preflist %s %s %s: zones %s %s %s\n", id[0], id[1], id[2],
                        a, b, c > "/dev/stderr"
                }
            }
            END { if (NR % 3 != 0) bad++; print good, bad }'
}

# lists_naming PORT KEYS ID: how many of RK.PREFLIST zk:1..KEYS on PORT name node ID.
lists_naming() {
    local port=$1 keys=$2 id=$3 i
    for i in $(seq 1 "$keys"); do echo "RK.PREFLIST zk:$i"; done |
        timeout 60 redis-cli -p "$port" 2>&1 |
        awk -v id="$id" '$1 == id { n++ } END { print n + 0 }'
}

# retry_until DEADLINE WANT CMD...: run CMD (a redis-cli) until it prints WANT or the clock
# passes DEADLINE (date +%s; one try at least); 0 when it did. One deadline per phase bounds
# the phase, however many keys fail.
retry_until() {
    local deadline=$1 want=$2
    shift 2
    while :; do
        [ "$(timeout 10 "$@" 2>&1)" == "$want" ] && return 0
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

# ---- (a) three zones of two; zone c frozen --------------------------------------------------

start_zoned za a a b b c c || { fail "the 6 zoned nodes did not start"; finish; }
wait_cluster_up 6

out=$(rk 1 members)
check_eq "members: exit 0" 0 $?
check_contains "members: a ZONE column" "ZONE" "$(printf '%s\n' "$out" | head -1)"
for id in 1 2 3 4 5 6; do
    printf '%s\n' "$out" | grep -qE "^$id +[^ ]+ +[^ ]+ +${ZONE_OF[$id]} +" &&
        log "ok: members: node $id in zone ${ZONE_OF[$id]}" ||
        fail "members: node $id not shown in zone ${ZONE_OF[$id]}: $out"
done
out=$(rk 1 --json members)
check_eq "members --json: node 5 in zone c" 1 \
    "$(printf '%s' "$out" | grep -oE '"id":5,[^}]*"zone":"c"' | wc -l)"
check_eq "members --json: a zone per member" 6 "$(printf '%s' "$out" | grep -oE '"zone":"[abc]"' |
    wc -l)"

set -- $(zone_spread "${CLIENT_PORT[1]}" "$KEYS_PREFLIST")
check_eq "RK.PREFLIST of $KEYS_PREFLIST keys: 3 nodes in 3 distinct zones" \
    "$KEYS_PREFLIST 0" "$1 $2"

# Bucket "strict" counts primaries only (no sloppy quorum, whose fallbacks would hide a list
# with two nodes of the frozen zone): its writes and reads below need the zone spread.
check_eq "bucket strict: sloppy off on all 6" 6 \
    "$(timeout 10 redis-cli -p "${CLIENT_PORT[1]}" rk.bucket set strict sloppy false)"

kill -STOP "${PID_OF[5]}" "${PID_OF[6]}"
log "zone c frozen (SIGSTOP nodes 5 and 6)"
coordinators=(1 2 3 4)
written=0
written_strict=0
deadline=$(($(date +%s) + 120))
for i in $(seq 1 "$KEYS_FROZEN"); do
    id=${coordinators[$((i % 4))]}
    retry_until "$deadline" OK redis-cli -p "${CLIENT_PORT[$id]}" set "frozen:$i" "v$i" &&
        written=$((written + 1))
    retry_until "$deadline" OK redis-cli -p "${CLIENT_PORT[$id]}" set "strict:$i" "s$i" &&
        written_strict=$((written_strict + 1))
done
check_eq "zone c frozen: $KEYS_FROZEN SETs (W = 2) through zones a and b succeed" \
    "$KEYS_FROZEN" "$written"
check_eq "zone c frozen: $KEYS_FROZEN SETs of bucket strict (2 primaries of 3) succeed" \
    "$KEYS_FROZEN" "$written_strict"
read_ok=0
read_strict=0
deadline=$(($(date +%s) + 120))
for i in $(seq 1 "$KEYS_FROZEN"); do
    id=${coordinators[$(((i + 1) % 4))]}
    retry_until "$deadline" "v$i" redis-cli -p "${CLIENT_PORT[$id]}" get "frozen:$i" &&
        read_ok=$((read_ok + 1))
    retry_until "$deadline" "s$i" redis-cli -p "${CLIENT_PORT[$id]}" get "strict:$i" &&
        read_strict=$((read_strict + 1))
done
check_eq "zone c frozen: $KEYS_FROZEN GETs (R = 2) answer the value written" \
    "$KEYS_FROZEN" "$read_ok"
check_eq "zone c frozen: $KEYS_FROZEN GETs of bucket strict answer the value written" \
    "$KEYS_FROZEN" "$read_strict"

kill -CONT "${PID_OF[5]}" "${PID_OF[6]}"
log "zone c thawed (SIGCONT)"
wait_cluster_up 6
read_ok=0
deadline=$(($(date +%s) + 120))
for i in $(seq 1 "$KEYS_FROZEN"); do
    id=$((5 + i % 2))
    retry_until "$deadline" "v$i" redis-cli -p "${CLIENT_PORT[$id]}" get "frozen:$i" &&
        read_ok=$((read_ok + 1))
done
check_eq "zone c back: all $KEYS_FROZEN keys read back through nodes 5 and 6" \
    "$KEYS_FROZEN" "$read_ok"
stop_all 1 2 3 4 5 6

# ---- (b) zones a, a, a, b and a join in zone c: the plan warns --------------------------------

start_zoned zb a a a b || { fail "the 4 zoned nodes did not start"; finish; }
wait_cluster_up 4
CLIENT_PORT[5]=$(free_port)
CLUSTER_PORT[5]=$(free_port)
ZONE_OF[5]=c
start_node zb5 "${CLIENT_PORT[5]}" --node-id 5 --cluster-port "${CLUSTER_PORT[5]}" --zone c \
    "${NODE_FLAGS[@]}" || { fail "node 5 did not start"; finish; }
PID_OF[5]=$NODE_PID

# Zone-first would put node 4, alone in zone b, in every list; distinct nodes only put each of
# the 4 nodes in about 3 of 4.
naming=$(lists_naming "${CLIENT_PORT[1]}" 60 4)
[ "$naming" -lt 60 ] && log "ok: zones a and b only (< N): node 4 in $naming of 60 lists" ||
    fail "zones a and b only (< N): node 4 (zone b) is in all 60 preference lists"

out=$(rk 5 cluster join "127.0.0.1:${CLIENT_PORT[1]}")
check_eq "node 5 (zone c) joins through node 1 ($out)" 0 $?
# The plan is read on node 1 once it knows node 5's zone (staged there, or gossiped).
for _ in $(seq 1 100); do
    out=$(rk 1 cluster plan)
    rc=$?
    printf '%s\n' "$out" | grep -qE '^warning: .*node 5 \(zone c\)' && break
    sleep 0.2
done
check_eq "cluster plan with warnings: exit 0" 0 "$rc"
check_contains "cluster plan: a share table" "ID  ZONE  REPLICAS_NOW  REPLICAS_AFTER" "$out"
printf '%s\n' "$out" | grep -qE '^5 +c +0 +64$' &&
    log "ok: cluster plan: node 5 (zone c) holds 0 replicas now, 64 after" ||
    fail "cluster plan: no share row [5 c 0 64]: $out"
printf '%s\n' "$out" | grep -qE '^4 +b +[0-9]+ +64$' &&
    log "ok: cluster plan: node 4 (zone b) holds 64 replicas after" ||
    fail "cluster plan: no share row [4 b ... 64]: $out"
for id in 4 5; do
    printf '%s\n' "$out" | grep -qE "^warning: .*node $id \\(zone ${ZONE_OF[$id]}\\)" &&
        log "ok: cluster plan warns of node $id: $(printf '%s\n' "$out" |
            grep -E "^warning: .*node $id ")" ||
        fail "cluster plan: no warning naming node $id: $out"
done
check_eq "cluster plan: no warning for the nodes of zone a" 0 \
    "$(printf '%s\n' "$out" | grep -cE '^warning: .*node [123] ')"
# The warnings come after the moves and the share table.
last=$(printf '%s\n' "$out" | grep -vE '^$' | tail -1)
check_contains "cluster plan: warnings come last" "warning: " "$last"

out=$(rk 1 --json cluster plan)
check_eq "cluster plan --json: exit 0" 0 $?
check_contains "cluster plan --json: node 5's share" \
    '{"id":5,"zone":"c","replicas_now":0,"replicas_after":64}' "$out"
check_contains "cluster plan --json: the warnings" '"warnings":["node ' "$out"
check_contains "cluster plan --json: node 5 warned" 'node 5 (zone c)' "$out"

# Committed, the ring does what the plan said: nodes 4 and 5 in every list, 3 zones each.
out=$(rk 1 cluster commit)
check_eq "cluster commit: exit 0 ($out)" 0 $?
for _ in $(seq 1 300); do
    set -- $(zone_spread "${CLIENT_PORT[1]}" 60 2>/dev/null)
    [ "$1" == 60 ] && break
    sleep 0.2
done
check_eq "after the commit: RK.PREFLIST of 60 keys names 3 distinct zones" "60 0" "$1 $2"
check_eq "after the commit: node 5 (zone c) in every list" 60 \
    "$(lists_naming "${CLIENT_PORT[1]}" 60 5)"

stop_all 1 2 3 4 5
finish
