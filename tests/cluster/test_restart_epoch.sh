#!/usr/bin/env bash
# test_restart_epoch.sh — issue 12: a key's clock must not grow with restarts. Three real
# processes on the lmdb engine (N = 3, W = 2) and one key, SET through each node in turn. After
# 20 (8 under ASan) clean restarts of each node in turn (SIGTERM, wait for the exit, start again; a SET through
# the restarted node after each), every node's INFO epoch is what it was at first (epoch_kept
# 1), each node logged a durable clean-stop mark at each stop, and each node's own copy of the
# key (RK.LOCAL) has a history of at most 3 entries: one per coordinator, no gap left by an
# epoch bump. Then kill -9 and a restart bump that node's epoch (the kv679 protection), and the
# next SET through it adds the gap entry. The entry count is read from the context token
# RK.LOCAL returns (version.h: base64url of [u8 format][varint entry count]...; the count is
# below 128, one byte).
source "$(dirname "$0")/lib.sh"

KEY=cart:alice
# 20 rounds (60 restarts) on the plain build; 8 on the ASan build, whose restarts take about
# 2 s each (its run is for memory errors, which 24 restarts reach as well) and kept make test
# near its 20-minute budget.
case "$RINGKVD" in
    *build-asan*) ROUNDS=${ROUNDS:-8} ;;
    *) ROUNDS=${ROUNDS:-20} ;;
esac

cli() { local id=$1; shift; timeout 10 redis-cli -p "${CLIENT_PORT[$id]}" "$@" 2>&1; }
epoch_of() { info_field "${CLIENT_PORT[$1]}" "${2:-epoch}"; }

# entries ID: history entries of node ID's own copy of KEY, from its context token.
entries() {
    local b64
    b64=$(cli "$1" rk.local "$KEY" | head -1 | tr '_-' '/+')
    while [ $(( ${#b64} % 4 )) -ne 0 ]; do b64+="="; done
    printf '%s' "$b64" | base64 -d 2>/dev/null | od -An -tu1 -j1 -N1 | tr -d ' '
}

# set_through ID VALUE: SET KEY through node ID; a node just started answers BUSY until its
# start is durable, and UNAVAILABLE until it has reached its peers again: ask again then.
set_through() {
    local id=$1 value=$2 out=""
    for _ in $(seq 1 200); do
        out=$(cli "$id" set "$KEY" "$value")
        [ "$out" == "OK" ] && return 0
        sleep 0.05
    done
    fail "SET through node $id: $out"
    return 1
}

start_cluster 3 --engine lmdb || exit 1
for id in 1 2 3; do
    wait_members_up "${CLIENT_PORT[$id]}" 3 || fail "node $id does not see all three up"
done
declare -a EPOCH=()
for id in 1 2 3; do
    EPOCH[$id]=$(epoch_of "$id")
    set_through "$id" "first-$id"
done
log "epochs at start: ${EPOCH[1]} ${EPOCH[2]} ${EPOCH[3]}"

started=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
    for id in 1 2 3; do
        stop_node "${PID_OF[$id]}" TERM || fail "node $id did not stop on SIGTERM"
        restart_member "$id" || exit 1
        set_through "$id" "round-$round-$id"
    done
done
log "$((ROUNDS * 3)) clean restarts took $(( $(date +%s) - started )) s"

for id in 1 2 3; do
    check_eq "node $id: epoch unchanged after $ROUNDS clean restarts" "${EPOCH[$id]}" \
        "$(epoch_of "$id")"
    check_eq "node $id: epoch_kept" "1" "$(epoch_of "$id" epoch_kept)"
    check_eq "node $id: a durable clean-stop mark at each stop" "$ROUNDS" \
        "$(grep -c "clean-stop mark durable" "$TEST_TMP/node$id.log")"
    count=$(entries "$id")
    if [ -n "$count" ] && [ "$count" -ge 1 ] && [ "$count" -le 3 ]; then
        log "ok: node $id: the key's history has $count entries (at most 3)"
    else
        fail "node $id: the key's history has [$count] entries; expected 1 to 3"
    fi
done
check_eq "the last value reads back" "round-$ROUNDS-3" "$(cli 1 get "$KEY")"

kill -9 "${PID_OF[1]}"
wait "${PID_OF[1]}" 2>/dev/null
restart_member 1 || exit 1
check_eq "node 1: kill -9 and a restart bump the epoch" "$(( EPOCH[1] + 1 ))" "$(epoch_of 1)"
check_eq "node 1: epoch_kept after kill -9" "0" "$(epoch_of 1 epoch_kept)"
before=$(entries 1)
set_through 1 "after-kill"
check_eq "node 1: the first write after the bump adds the gap entry" "$(( before + 1 ))" \
    "$(entries 1)"
for id in 1 2 3; do
    stop_node "${PID_OF[$id]}" TERM
done
finish
