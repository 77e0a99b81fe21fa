#!/usr/bin/env bash
# test_set_delta.sh — large sets written by delta (issue 14) on three real processes, N = 3,
# R = W = 2 (the defaults). A set of >= 256 members takes SADD/SREM by reading only the named
# members and sending the replicas a delta; a replica for which the delta is not causally ready
# answers RK_ENOTREADY and the coordinator resends the whole set.
#   a. 3,000 members preloaded (redis-py, 500 per SADD); 200 single SADDs and 50 SREMs through
#      node 1 each answer right; set_deltas_sent grows on node 1, set_deltas_merged on 2 and 3;
#      the three RK.LOCAL copies end byte-identical; SCARD and SMEMBERS right through every node.
#   b. node 3 killed -9 and its data directory wiped, restarted: the next SADDs find it not
#      ready (set_deltas_not_ready), node 1 streams it the whole set (set_full_resends), and
#      node 3's copy ends equal to node 1's.
#   c. 200 SADDs acknowledged while node 2 is killed -9 after ~100 of them: after its restart
#      every acknowledged member is in SMEMBERS read through each node.
#   e. a 600-byte member (longer than an LMDB key holds inline) in a large and a small set:
#      SADD, SISMEMBER through every node, SREM.
#   d. --max-collection-members: 1000 (a small set refused on the whole-state path, a set at
#      1000 refused on the delta path) and 300 (a set above 256, delta path): members up to the
#      limit are taken, the next new one is refused naming the flag and the limit, SCARD stays,
#      an existing member still answers 0, set_members_refused counts the refusals.
# Every wait polls with a generous limit; phase times are only logged.
source "$(dirname "$0")/lib.sh"

PY=$(redis_py) || { fail "no python3 with redis-py (scripts/install-deps.sh test installs it)"; finish; }
CLIENT="$(dirname "$0")/set_delta_client.py"
case "$RINGKVD" in
    *build-asan*) PRELOAD=${PRELOAD:-1000} ;;
    *) PRELOAD=${PRELOAD:-3000} ;;
esac
KEY=s:cart

cli() { member_cli "$@"; }
field() { local v; v=$(member_field "$@"); echo "${v:-0}"; }
local_copy() { "$PY" "$CLIENT" local "${CLIENT_PORT[$1]}" "$2" 2>&1; }

# copies_equal KEY SECONDS IDS...: poll until RK.LOCAL KEY is byte-identical on every node IDS;
# logs the copies when it never is.
copies_equal() {
    local key=$1 limit=$2 id first same started
    shift 2
    started=$(date +%s)
    while :; do
        first=$(local_copy "$1" "$key")
        same=1
        for id in "$@"; do
            [ "$(local_copy "$id" "$key")" == "$first" ] || same=0
        done
        [ "$same" -eq 1 ] && [ "$first" != "nil" ] && return 0
        [ $(( $(date +%s) - started )) -ge "$limit" ] && break
        sleep 0.25
    done
    for id in "$@"; do log "node $id RK.LOCAL $key: $(local_copy "$id" "$key")"; done
    return 1
}

# replies_of FILE: the replies of a redis-cli fed one command a line, one a line.
# expect_replies DESCRIPTION EXPECTED_FILE ACTUAL_FILE: line by line equal, else the first few
# differences logged.
expect_replies() {
    local bad
    bad=$(paste -d'|' "$2" "$3" | awk -F'|' '$1 != $2' | wc -l)
    check_eq "$1" "0 wrong" "$bad wrong"
    paste -d'|' "$2" "$3" | awk -F'|' '$1 != $2 {print NR ": expected " $1 ", got " $2}' |
        head -5 | while read -r line; do log "  $line"; done
}

# smembers_sorted ID KEY: SMEMBERS KEY read through node ID, sorted.
smembers_sorted() { cli "$1" smembers "$2" | sort; }

# wait_has_all ID KEY FILE SECONDS: poll until SMEMBERS KEY through node ID holds every member
# listed in FILE (sorted); prints how many are missing at the end.
wait_has_all() {
    local id=$1 key=$2 want=$3 limit=$4 started missing
    started=$(date +%s)
    while :; do
        missing=$(smembers_sorted "$id" "$key" | comm -23 "$want" - | wc -l)
        [ "$missing" -eq 0 ] && break
        [ $(( $(date +%s) - started )) -ge "$limit" ] && break
        sleep 0.5
    done
    echo "$missing"
}

# wait_not_ready ID FIELD SECONDS: poll until INFO FIELD of node ID is above 0; prints it.
wait_positive() {
    local id=$1 name=$2 limit=$3 started v
    started=$(date +%s)
    while :; do
        v=$(field "$id" "$name")
        [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ] && break
        [ $(( $(date +%s) - started )) -ge "$limit" ] && break
        sleep 0.25
    done
    echo "$v"
}

start_cluster 3 --request-timeout-ms 2000 || exit 1
wait_cluster_up 3
check_eq "RK.BUCKET SET s policy set on all 3" "3" "$(cli 1 rk.bucket set s policy set)"
bucket=$(cli 1 rk.bucket get s | tr '\n' ' ')
log "bucket s: $bucket"

# ---- a. preload, single SADDs and SREMs, replies, counters, identical copies
t=$(now_s)
check_eq "preload: $PRELOAD members added through redis-py, 500 per SADD" "$PRELOAD" \
    "$("$PY" "$CLIENT" preload "${CLIENT_PORT[1]}" "$KEY" p- "$PRELOAD")"
log "phase a: preload of $PRELOAD members: $(elapsed "$t") s"
copies_equal "$KEY" 30 1 2 3 || fail "the preloaded copies differ between nodes"
sent0=$(field 1 set_deltas_sent)
merged2=$(field 2 set_deltas_merged)
merged3=$(field 3 set_deltas_merged)
t=$(now_s)
# 200 SADDs: odd i a new member (1), even i a preloaded one (0). 50 SREMs: 40 preloaded
# members (1) and 10 never added (0).
: >"$TEST_TMP/a.cmds"
: >"$TEST_TMP/a.want"
for i in $(seq 1 200); do
    if [ $((i % 2)) -eq 1 ]; then
        echo "sadd $KEY n-$i" >>"$TEST_TMP/a.cmds"; echo 1 >>"$TEST_TMP/a.want"
    else
        echo "sadd $KEY p-$i" >>"$TEST_TMP/a.cmds"; echo 0 >>"$TEST_TMP/a.want"
    fi
done
for i in $(seq 1 40); do
    echo "srem $KEY p-$((500 + i))" >>"$TEST_TMP/a.cmds"; echo 1 >>"$TEST_TMP/a.want"
done
for i in $(seq 1 10); do
    echo "srem $KEY never-$i" >>"$TEST_TMP/a.cmds"; echo 0 >>"$TEST_TMP/a.want"
done
timeout 120 redis-cli -p "${CLIENT_PORT[1]}" <"$TEST_TMP/a.cmds" >"$TEST_TMP/a.got" 2>&1
log "phase a: 200 SADDs and 50 SREMs, one per command: $(elapsed "$t") s"
expect_replies "200 SADDs and 50 SREMs through node 1 answer 1 / 0 as they should" \
    "$TEST_TMP/a.want" "$TEST_TMP/a.got"
sent=$(( $(field 1 set_deltas_sent) - sent0 ))
check_positive "set_deltas_sent grew on node 1 over the 250 writes" "$sent"
check_positive "set_deltas_merged grew on node 2" "$(( $(field 2 set_deltas_merged) - merged2 ))"
check_positive "set_deltas_merged grew on node 3" "$(( $(field 3 set_deltas_merged) - merged3 ))"
{
    seq 1 "$PRELOAD" | sed 's/^/p-/' | grep -vxE "p-(50[1-9]|5[1-3][0-9]|540)"
    seq 1 2 200 | sed 's/^/n-/'
} | sort >"$TEST_TMP/a.members"
want_card=$(wc -l <"$TEST_TMP/a.members")
t=$(now_s)
copies_equal "$KEY" 30 1 2 3 && log "ok: RK.LOCAL $KEY byte-identical on nodes 1, 2, 3" ||
    fail "RK.LOCAL $KEY differs between the nodes after 30 s"
log "phase a: copies equal after $(elapsed "$t") s"
for id in 1 2 3; do
    check_eq "SCARD $KEY through node $id" "$want_card" "$(cli "$id" scard "$KEY")"
    check_eq "SMEMBERS $KEY through node $id: members differing from the expected" "0" \
        "$(smembers_sorted "$id" "$KEY" | diff - "$TEST_TMP/a.members" | grep -c '^[<>]')"
done

# ---- b. a replica that lost the set: RK_ENOTREADY, then the whole set in chunks
# A replica merely down gets what it missed by hinted handoff within a tick of coming back, so
# its next delta is ready. A wiped one holds nothing and no hint covers the writes it had
# acknowledged: the next delta leaves a gap in its (empty) clock, it answers RK_ENOTREADY, and
# node 1 streams it the whole set (set_full_resends).
t=$(now_s)
kill -9 "${PID_OF[3]}"
wait "${PID_OF[3]}" 2>/dev/null
rm -rf "$TEST_TMP/node3"
restart_member 3 || exit 1
wait_learned "${CLIENT_PORT[3]}" || fail "node 3 did not learn its epoch after the wipe"
for id in 1 2 3; do
    wait_members_up "${CLIENT_PORT[$id]}" 3 || fail "node $id does not see all 3 up"
done
log "phase b: node 3 wiped and back: $(elapsed "$t") s"
t=$(now_s)
seq 1 5 | sed "s/^/sadd $KEY bx/" | timeout 60 redis-cli -p "${CLIENT_PORT[1]}" >"$TEST_TMP/b2.got" 2>&1
check_eq "5 SADDs through node 1 after node 3's wipe answer 1" "1 1 1 1 1" \
    "$(tr '\n' ' ' <"$TEST_TMP/b2.got" | sed 's/ $//')"
check_positive "set_deltas_not_ready on node 3" "$(wait_positive 3 set_deltas_not_ready 20)"
check_positive "set_full_resends on node 1" "$(wait_positive 1 set_full_resends 20)"
copies_equal "$KEY" 60 1 2 3 && log "ok: node 3's RK.LOCAL $KEY equals node 1's (and node 2's)" ||
    fail "node 3's RK.LOCAL $KEY still differs from node 1's after 60 s"
log "phase b: whole set back on node 3: $(elapsed "$t") s"
for id in 1 2 3; do
    check_eq "SCARD $KEY through node $id after phase b" "$(cli 1 scard "$KEY")" \
        "$(cli "$id" scard "$KEY")"
done

# ---- c. acknowledged deltas survive a replica's kill -9 in the middle of the writes
t=$(now_s)
: >"$TEST_TMP/c.progress"
(
    for _ in $(seq 1 3000); do
        [ "$(cat "$TEST_TMP/c.progress" 2>/dev/null)" -ge 100 ] 2>/dev/null && break
        sleep 0.01
    done
    kill -9 "${PID_OF[2]}"
    echo "killed node 2 after $(cat "$TEST_TMP/c.progress") SADDs" >"$TEST_TMP/c.killed"
) &
killer=$!
"$PY" "$CLIENT" sadds "${CLIENT_PORT[1]}" "$KEY" c- 1 200 0.02 "$TEST_TMP/c.progress" \
    >"$TEST_TMP/c.got" 2>&1
wait "$killer"
wait "${PID_OF[2]}" 2>/dev/null
log "phase c: $(cat "$TEST_TMP/c.killed" 2>/dev/null || echo "node 2 not killed?")"
awk '$2 == "1" {print $1}' "$TEST_TMP/c.got" | sort >"$TEST_TMP/c.acked"
acked=$(wc -l <"$TEST_TMP/c.acked")
log "phase c: $acked of 200 SADDs acknowledged ($(elapsed "$t") s);" \
    "others: $(awk '$2 != "1"' "$TEST_TMP/c.got" | cut -d' ' -f2- | sort | uniq -c | head -3 |
               tr '\n' ';')"
[ "$acked" -ge 100 ] && log "ok: at least 100 of 200 SADDs acknowledged with node 2 killed" ||
    fail "only $acked of 200 SADDs acknowledged with node 2 killed (W=2 with nodes 1 and 3)"
t=$(now_s)
restart_member 2 || exit 1
for id in 1 2 3; do
    wait_members_up "${CLIENT_PORT[$id]}" 3 || fail "node $id does not see all 3 up after restart"
done
log "phase c: node 2 restarted and seen up: $(elapsed "$t") s"
t=$(now_s)
for id in 1 2 3; do
    check_eq "every acknowledged member in SMEMBERS through node $id (missing)" "0" \
        "$(wait_has_all "$id" "$KEY" "$TEST_TMP/c.acked" 90)"
done
log "phase c: acknowledged members read through every node: $(elapsed "$t") s"
copies_equal "$KEY" 90 1 2 3 && log "ok: RK.LOCAL $KEY byte-identical on all 3 after node 2's restart" ||
    fail "RK.LOCAL $KEY differs between the nodes 90 s after node 2's restart"
log "phase c: copies equal: $(elapsed "$t") s"

# ---- e. a member longer than an LMDB key holds inline (600 bytes), large and small set
t=$(now_s)
long=$(printf 'L%.0s' $(seq 1 599))x
check_eq "the long member is 600 bytes" "600" "${#long}"
check_eq "SADD s:tiny (small set) one member" "1" "$(cli 1 sadd s:tiny a)"
for key in "$KEY" s:tiny; do
    check_eq "SADD $key of a 600-byte member" "1" "$(cli 1 sadd "$key" "$long")"
    check_eq "SADD $key of the 600-byte member again" "0" "$(cli 2 sadd "$key" "$long")"
    for id in 1 2 3; do
        check_eq "SISMEMBER $key of the 600-byte member through node $id" "1" \
            "$(cli "$id" sismember "$key" "$long")"
    done
    check_eq "SMEMBERS $key holds the 600-byte member once" "1" \
        "$(cli 3 smembers "$key" | grep -cx "$long")"
    check_eq "SREM $key of the 600-byte member" "1" "$(cli 3 srem "$key" "$long")"
    for id in 1 2 3; do
        check_eq "SISMEMBER $key of the removed 600-byte member through node $id" "0" \
            "$(cli "$id" sismember "$key" "$long")"
    done
    copies_equal "$key" 30 1 2 3 || fail "RK.LOCAL $key differs between the nodes after 30 s"
done
log "phase e: 600-byte member: $(elapsed "$t") s"
for id in 1 2 3; do stop_node "${PID_OF[$id]}" TERM; done

# ---- d. --max-collection-members: a fresh cluster per limit (the last one's data moved aside)
# new_cluster TAG FLAGS...: stop nothing (the caller did), move node dirs aside, start 3 nodes.
new_cluster() {
    local tag=$1 id
    shift
    for id in 1 2 3; do
        [ -d "$TEST_TMP/node$id" ] && mv "$TEST_TMP/node$id" "$TEST_TMP/node$id.$tag"
    done
    start_cluster 3 --request-timeout-ms 2000 "$@" || exit 1
    wait_cluster_up 3
    check_eq "RK.BUCKET SET s policy set on all 3 ($*)" "3" "$(cli 1 rk.bucket set s policy set)"
}
# members PREFIX FROM TO: PREFIX<FROM> .. PREFIX<TO>, one argument each.
members() { seq "$2" "$3" | sed "s/^/$1/"; }

t=$(now_s)
new_cluster before-1000 --max-collection-members 1000
refused0=$(field 1 set_members_refused)
sent0=$(field 1 set_deltas_sent)
# A small set (< 256 members): whole-state writes. 100, then 901 new in one SADD: refused.
check_eq "limit 1000: SADD s:small 100 members" "100" \
    "$(cli 1 sadd s:small $(members s- 1 100))"
r=$(cli 1 sadd s:small $(members s- 101 1001))
check_contains "limit 1000: SADD of 901 new members to a set of 100 refused, names the flag" \
    "max-collection-members" "$r"
check_contains "limit 1000: the refusal names the limit 1000" "1000" "$r"
log "refusal: $r"
check_eq "limit 1000: SCARD s:small after the refusal" "100" "$(cli 2 scard s:small)"
check_eq "limit 1000: SADD of 900 new members to s:small (up to 1000) works" "900" \
    "$(cli 1 sadd s:small $(members s- 101 1000))"
check_eq "limit 1000: small-set writes sent no delta (whole-state path)" "$sent0" \
    "$(field 1 set_deltas_sent)"
check_eq "limit 1000: set_members_refused counts the whole-state refusal" "1" \
    "$(( $(field 1 set_members_refused) - refused0 ))"
# The set now holds 1000 (>= 256): a new member goes the delta path and is refused.
r=$(cli 1 sadd s:small s-1001)
check_contains "limit 1000: SADD of member 1001 to a full set refused, names the flag" \
    "max-collection-members" "$r"
check_contains "limit 1000: the refusal names the limit 1000" "1000" "$r"
for id in 1 2 3; do
    check_eq "limit 1000: SCARD s:small through node $id stays 1000" "1000" \
        "$(cli "$id" scard s:small)"
done
check_eq "limit 1000: SADD of an existing member to the full set answers 0" "0" \
    "$(cli 1 sadd s:small s-500)"
check_eq "limit 1000: SISMEMBER of the refused member" "0" "$(cli 2 sismember s:small s-1001)"
check_eq "limit 1000: set_members_refused counts both refusals" "2" \
    "$(( $(field 1 set_members_refused) - refused0 ))"
# A set grown by the delta path to exactly 1000: 999 preloaded, then single SADDs.
check_eq "limit 1000: preload s:big 999 members" "999" \
    "$("$PY" "$CLIENT" preload "${CLIENT_PORT[1]}" s:big g- 999)"
sent0=$(field 1 set_deltas_sent)
check_eq "limit 1000: SADD of member 1000 (delta path) answers 1" "1" "$(cli 1 sadd s:big g-1000)"
check_positive "limit 1000: the SADD went as a delta (set_deltas_sent grew)" \
    "$(( $(field 1 set_deltas_sent) - sent0 ))"
r=$(cli 1 sadd s:big g-1001)
check_contains "limit 1000: SADD of member 1001 refused on the delta path, names the flag" \
    "max-collection-members" "$r"
check_contains "limit 1000: the refusal names the limit 1000" "1000" "$r"
check_eq "limit 1000: SADD of an existing member of s:big answers 0" "0" "$(cli 1 sadd s:big g-7)"
for id in 1 2 3; do
    check_eq "limit 1000: SCARD s:big through node $id stays 1000" "1000" "$(cli "$id" scard s:big)"
done
check_eq "limit 1000: set_members_refused counts three refusals" "3" \
    "$(( $(field 1 set_members_refused) - refused0 ))"
copies_equal s:big 30 1 2 3 || fail "limit 1000: RK.LOCAL s:big differs between the nodes"
log "phase d: limit 1000: $(elapsed "$t") s"
for id in 1 2 3; do stop_node "${PID_OF[$id]}" TERM; done

t=$(now_s)
new_cluster before-300 --max-collection-members 300
refused0=$(sum_field set_members_refused 1 2 3)
check_eq "limit 300: preload s:mid 280 members" "280" \
    "$("$PY" "$CLIENT" preload "${CLIENT_PORT[1]}" s:mid m- 280)"
sent0=$(field 1 set_deltas_sent)
seq 281 300 | sed 's/^/sadd s:mid m-/' |
    timeout 60 redis-cli -p "${CLIENT_PORT[1]}" >"$TEST_TMP/d300.got" 2>&1
check_eq "limit 300: 20 single SADDs up to 300 members answer 1" "20" \
    "$(grep -cx 1 "$TEST_TMP/d300.got")"
check_positive "limit 300: they went as deltas (set_deltas_sent grew)" \
    "$(( $(field 1 set_deltas_sent) - sent0 ))"
r=$(cli 1 sadd s:mid m-301)
check_contains "limit 300: SADD of member 301 refused, names the flag" "max-collection-members" "$r"
check_contains "limit 300: the refusal names the limit 300" "300" "$r"
log "refusal: $r"
r=$(cli 2 sadd s:mid m-7 m-302)
check_contains "limit 300: SADD of an existing and a new member refused" \
    "max-collection-members" "$r"
check_eq "limit 300: SADD of an existing member answers 0" "0" "$(cli 3 sadd s:mid m-7)"
for id in 1 2 3; do
    check_eq "limit 300: SCARD s:mid through node $id stays 300" "300" "$(cli "$id" scard s:mid)"
done
check_eq "limit 300: set_members_refused counts the refusals (nodes 1, 2)" "2" \
    "$(( $(sum_field set_members_refused 1 2 3) - refused0 ))"
check_eq "limit 300: SREM then SADD of a new member works at the limit" "1 1" \
    "$(cli 1 srem s:mid m-1) $(cli 1 sadd s:mid m-301)"
check_eq "limit 300: SCARD s:mid after SREM and SADD" "300" "$(cli 2 scard s:mid)"
copies_equal s:mid 30 1 2 3 || fail "limit 300: RK.LOCAL s:mid differs between the nodes"
log "phase d: limit 300: $(elapsed "$t") s"
for id in 1 2 3; do stop_node "${PID_OF[$id]}" TERM; done
finish
