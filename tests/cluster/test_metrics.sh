#!/usr/bin/env bash
# test_metrics.sh — the Prometheus exposition (RK.METRICS; test_http.sh checks the same over /metrics),
# checked strictly after load on a 3-node cluster (lmdb, so fsyncs and disk bytes are real):
# every family has one HELP and one TYPE, counters end in _total, histogram buckets are
# cumulative and end in +Inf == _count (tools/prom_check.py lint, which must also refuse a
# broken exposition); the counters moved by exactly the requests sent to node 1 (N SETs ->
# requests_total{op="put",outcome="ok"} + N, gets found and not found, a CONFLICT, RK.GET of
# siblings and siblings per read); replicas counted their fan-out; and every ringkv_* name the
# Grafana dashboard (tools/grafana/ringkv.json) queries is exported.
source "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null; then
    echo "  skipped: python3 not found (tools/prom_check.py)"
    exit 0
fi
CHECK="python3 $ROOT/tools/prom_check.py"
DASHBOARD=$ROOT/tools/grafana/ringkv.json

start_cluster 3 || exit 1
for id in 1 2 3; do
    wait_members_up "${CLIENT_PORT[$id]}" 3 || fail "node $id does not see 3 members up"
done
p1=${CLIENT_PORT[1]}
cli() { redis-cli -p "$p1" "$@" 2>&1; }

# scrape ID FILE: node ID's exposition into FILE (redis-cli --no-raw would quote it).
scrape() { redis-cli -p "${CLIENT_PORT[$1]}" rk.metrics >"$2"; }
# val FILE SERIES: one sample's value (0 when absent).
val() { $CHECK value "$1" "$2"; }

# The checker itself refuses what it must: a counter without _total, buckets that fall,
# +Inf != _count, a family without HELP.
cat >"$TEST_TMP/bad.prom" <<'EOF'
# TYPE ringkv_things counter
ringkv_things 1
# HELP ringkv_wait_seconds Waits.
# TYPE ringkv_wait_seconds histogram
ringkv_wait_seconds_bucket{le="0.1"} 3
ringkv_wait_seconds_bucket{le="1"} 2
ringkv_wait_seconds_bucket{le="+Inf"} 4
ringkv_wait_seconds_sum 1
ringkv_wait_seconds_count 5
EOF
bad=$($CHECK lint "$TEST_TMP/bad.prom")
check_eq "the checker refuses a broken exposition" "1" "$?"
check_contains "  a counter without _total" "does not end in _total" "$bad"
check_contains "  a family without HELP" "0 # HELP lines" "$bad"
check_contains "  falling buckets" "not cumulative" "$bad"
check_contains "  +Inf != _count" "+Inf bucket 4.0 != _count 5.0" "$bad"

scrape 1 "$TEST_TMP/before.prom"
for id in 2 3; do
    scrape "$id" "$TEST_TMP/before$id.prom"
done

N=40
for i in $(seq 1 $N); do
    echo "SET metrics:$i v$i"
done | redis-cli -p "$p1" >/dev/null
for i in $(seq 1 10); do
    echo "GET metrics:$i"
done | redis-cli -p "$p1" >/dev/null
for i in $(seq 1 5); do
    echo "GET metrics:none$i"
done | redis-cli -p "$p1" >/dev/null
# Two blind writes to a siblings bucket leave two versions: GET answers CONFLICT, RK.GET both.
check_eq "a siblings bucket" "3" "$(cli rk.bucket set msib policy siblings)"
cli rk.put msib:k '' a >/dev/null
cli rk.put msib:k '' b >/dev/null
check_contains "GET of two siblings" "CONFLICT" "$(cli get msib:k)"
check_eq "RK.GET answers both siblings" "3" "$(cli rk.get msib:k | wc -l)"

scrape 1 "$TEST_TMP/after.prom"
out=$($CHECK lint "$TEST_TMP/after.prom")
check_eq "node 1's exposition passes every rule" "0" "$?"
log "$out" | tail -1
for id in 2 3; do
    scrape "$id" "$TEST_TMP/after$id.prom"
    $CHECK lint "$TEST_TMP/after$id.prom" >/dev/null ||
        fail "node $id's exposition breaks a rule: $($CHECK lint "$TEST_TMP/after$id.prom")"
done

# grew SERIES [FILE_BEFORE FILE_AFTER]: how much a series moved on node 1.
grew() {
    local before=${2:-$TEST_TMP/before.prom} after=${3:-$TEST_TMP/after.prom}
    echo $(( $(val "$after" "$1") - $(val "$before" "$1") ))
}
check_eq "$N SETs count as $N ok puts" "$N" "$(grew 'ringkv_requests_total{op="put",outcome="ok"}')"
check_eq "10 GETs found" "10" "$(grew 'ringkv_requests_total{op="get",outcome="ok"}')"
check_eq "5 GETs not found" "5" "$(grew 'ringkv_requests_total{op="get",outcome="not_found"}')"
check_eq "GET of siblings is a conflict" "1" \
    "$(grew 'ringkv_requests_total{op="get",outcome="conflict"}')"
check_eq "2 blind RK.PUTs" "2" "$(grew 'ringkv_requests_total{op="vput",outcome="ok"}')"
check_eq "1 RK.GET" "1" "$(grew 'ringkv_requests_total{op="vget",outcome="ok"}')"
check_eq "no errors" "0" "$(grew 'ringkv_requests_total{op="put",outcome="error"}')"
check_eq "every put timed" "$N" "$(grew 'ringkv_request_duration_seconds_count{op="put"}')"
check_eq "every put under +Inf" "$N" \
    "$(grew 'ringkv_request_duration_seconds_bucket{op="put",le="+Inf"}')"
check_eq "ops_put (INFO's counter) moved the same" "$((N + 2))" "$(grew 'ringkv_ops_put_total')"
# Reads coordinated on node 1: 10 + 5 GETs, the CONFLICT GET, the RK.GET.
check_eq "siblings recorded for every read" "17" "$(grew 'ringkv_read_siblings_count')"
check_eq "  the not-found ones with 0" "5" "$(grew 'ringkv_read_siblings_bucket{le="0"}')"
check_eq "  two reads saw 2 siblings" "2" \
    "$(( $(grew 'ringkv_read_siblings_bucket{le="2"}') - $(grew 'ringkv_read_siblings_bucket{le="1"}') ))"
check_eq "  sum: 10 x 1 + 2 x 2" "14" "$(grew 'ringkv_read_siblings_sum')"
check_positive "fsyncs timed" "$(val "$TEST_TMP/after.prom" ringkv_sync_duration_seconds_count)"
check_positive "store disk bytes" "$(val "$TEST_TMP/after.prom" ringkv_store_disk_bytes)"
check_positive "client connections" "$(val "$TEST_TMP/after.prom" ringkv_connected_clients)"
check_eq "members up" "3" "$(val "$TEST_TMP/after.prom" ringkv_members_up)"
fanout=0
for id in 2 3; do
    fanout=$((fanout + $(grew ringkv_replica_puts_total "$TEST_TMP/before$id.prom" \
                                                        "$TEST_TMP/after$id.prom")))
done
check_positive "replicas 2 and 3 counted replica puts" "$fanout"

out=$($CHECK dashboard "$DASHBOARD" "$TEST_TMP/after.prom")
check_eq "the dashboard queries only exported names" "0" "$?"
log "$(echo "$out" | tail -1)"

finish
