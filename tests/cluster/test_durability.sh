#!/usr/bin/env bash
# test_durability.sh — nothing acknowledged is lost: 1,000 SETs acknowledged under --sync
# always (and batch) survive kill -9 and a restart, every one; a clean SIGTERM restart keeps
# the data too; the same with --wal yes, where the acknowledged writes come back from the redo
# log (the node never checkpointed them); and with --engine rocksdb, where kill -9 does lose
# what was not synced (its WAL buffer is in the process, manual_wal_flush), so the acks must
# have waited for the WAL fsync. For lmdb kill -9 cannot tell the sync policies apart (the page
# cache survives it); the crash layer in tests/unit/test_node.c covers "acknowledged only after
# durable".
source "$(dirname "$0")/lib.sh"

run_policy() {
    local policy=$1 wal=$2 engine=${3:-lmdb} port
    port=$(free_port)
    local name="d-$engine-$policy-wal-$wal"
    start_node "$name" "$port" --engine "$engine" --sync "$policy" --wal "$wal" || return 1
    for i in $(seq 1 1000); do printf 'SET key:%d value-%d\n' "$i" "$i"; done > "$TEST_TMP/sets"
    local acked
    acked=$(redis-cli -p "$port" < "$TEST_TMP/sets" | grep -c '^OK$')
    check_eq "$engine $policy wal=$wal: 1000 SETs acknowledged" "1000" "$acked"
    check_eq "$engine $policy wal=$wal: acks_before_durable" "0" \
        "$(info_field "$port" acks_before_durable)"
    local syncs
    syncs=$(info_field "$port" sync_calls)
    log "$engine $policy wal=$wal: sync_calls=$syncs" \
        "writes_per_sync=$(info_field "$port" writes_per_sync)"
    kill -9 "$NODE_PID"
    wait "$NODE_PID" 2>/dev/null
    start_node "$name" "$port" --engine "$engine" --sync "$policy" --wal "$wal" || return 1
    local back
    back=$(for i in $(seq 1 1000); do printf 'GET key:%d\n' "$i"; done |
           redis-cli -p "$port" | awk '{ if ($0 == "value-" NR) ok++ } END { print ok + 0 }')
    check_eq "$engine $policy wal=$wal: every acknowledged SET is back after kill -9" "1000" \
        "$back"
    check_eq "$engine $policy wal=$wal: DBSIZE after restart" "1000" \
        "$(redis-cli -p "$port" dbsize)"
    stop_node "$NODE_PID" TERM
    start_node "$name" "$port" --engine "$engine" --sync "$policy" --wal "$wal" || return 1
    check_eq "$engine $policy wal=$wal: data back after SIGTERM and restart" "value-777" \
        "$(redis-cli -p "$port" get key:777)"
    stop_node "$NODE_PID" TERM
}

run_policy always no
run_policy batch no
run_policy batch yes
run_policy always no rocksdb
run_policy batch no rocksdb
finish
