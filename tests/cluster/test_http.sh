#!/usr/bin/env bash
# test_http.sh — the HTTP API (--http-port, docs/protocol.md "HTTP") against real nodes with
# curl beside redis-cli: both see the same data and the same contexts; blind PUTs to a siblings
# bucket leave siblings, a PUT with the context resolves them; siblings come back as
# multipart/mixed and as JSON with binary values intact; every listed status (200, 204, 300,
# 400, 404, 405, 413, 414, 503, 504); the datatypes endpoint on a set bucket; keep-alive and
# pipelined requests answered in order. 503 and 504 come from a two-node cluster: a strict
# bucket whose other replica is gone (503) or frozen while still counted up (504).
source "$(dirname "$0")/lib.sh"

port=$(free_port)
http=$(free_port)
while [ "$http" == "$port" ] || [ "$http" == "$((port + 10000))" ]; do http=$(free_port); done
start_node h "$port" --engine mem --http-port "$http" --max-key-bytes 100 \
    --max-value-bytes 4096 || exit 1
base="http://127.0.0.1:$http"
cli() { redis-cli -p "$port" "$@"; }
# status METHOD PATH [curl args...]: the status code only.
status() {
    local method=$1 path=$2
    shift 2
    curl -s -o /dev/null -w '%{http_code}' -X "$method" "$@" "$base$path"
}
# header NAME FILE: a header's value from a dump written by curl -D.
header() { tr -d '\r' <"$2" | awk -v n="$1" 'tolower($1) == tolower(n) ":" {print $2}'; }

check_eq "/ping" "OK" "$(curl -s "$base/ping")"

# --- the same data and contexts through HTTP and RESP ------------------------------------
check_eq "PUT answers 204" "204" "$(status PUT /buckets/b/keys/k1 -D "$TEST_TMP/h1" -d hello)"
put_ctx=$(header X-RingKV-Context "$TEST_TMP/h1")
check_eq "redis-cli GET b:k1 sees the HTTP write" "hello" "$(cli get b:k1)"
check_eq "RK.GET's context is the one PUT answered" "$put_ctx" "$(cli rk.get b:k1 | head -1)"
cli set plain v-resp >/dev/null
check_eq "HTTP /keys/plain sees the RESP write" "v-resp" "$(curl -s "$base/keys/plain")"
curl -s -D "$TEST_TMP/h2" -o /dev/null "$base/keys/plain"
check_eq "GET's context is RK.GET's" "$(cli rk.get plain | head -1)" \
    "$(header X-RingKV-Context "$TEST_TMP/h2")"
# A percent-encoded key is binary-safe: %2F is a byte of the key, not a separator.
check_eq "PUT of an encoded key" "204" "$(status PUT '/buckets/b/keys/a%2Fb%00c' -d enc)"
check_eq "RESP sees the decoded key" "enc" "$(printf 'b:a/b\0c' | cli -x get)"
check_eq "DELETE answers 204" "204" "$(status DELETE /buckets/b/keys/k1 -D "$TEST_TMP/h3")"
check_eq "RESP no longer sees it" "" "$(cli get b:k1)"
check_eq "GET of the deleted key is 404" "404" \
    "$(status GET /buckets/b/keys/k1 -D "$TEST_TMP/h4")"
ctx404=$(header X-RingKV-Context "$TEST_TMP/h4")
[ -n "$ctx404" ] && log "ok: the 404 carries a context ($ctx404)" || fail "404 without a context"
check_eq "the 404's context is the delete's" "$(header X-RingKV-Context "$TEST_TMP/h3")" "$ctx404"

# --- siblings ------------------------------------------------------------------------------
check_eq "PUT props" "204" "$(status PUT /buckets/s/props -d '{"policy":"siblings","n":3}')"
check_contains "GET props" '"policy":"siblings"' "$(curl -s "$base/buckets/s/props")"
check_contains "RK.BUCKET GET agrees" "siblings" "$(cli rk.bucket get s)"
printf 'a\0b\r\n--x' >"$TEST_TMP/v1"
printf '\377\376' >"$TEST_TMP/v2"
status PUT /buckets/s/keys/k --data-binary @"$TEST_TMP/v1" >/dev/null
status PUT /buckets/s/keys/k --data-binary @"$TEST_TMP/v2" >/dev/null
# redis-cli --no-raw escapes the bytes, so each value is one line with a \x in it.
check_eq "two blind PUTs leave two siblings (RESP)" "2" "$(cli --no-raw rk.get s:k | grep -c '\\x')"
check_eq "GET with siblings is 300" "300" "$(curl -s -D "$TEST_TMP/h5" -o "$TEST_TMP/multi" \
    -w '%{http_code}' "$base/buckets/s/keys/k")"
ctype=$(tr -d '\r' <"$TEST_TMP/h5" | awk -F': ' 'tolower($1) == "content-type" {print $2}')
check_contains "multipart/mixed by default" "multipart/mixed; boundary=" "$ctype"
boundary=${ctype#*boundary=}
check_eq "one part per sibling" "2" "$(grep -c -a -- "^--$boundary"$'\r'"\$" "$TEST_TMP/multi")"
check_eq "the binary values are in the parts" "1" \
    "$(grep -c -a -F "$(printf '\377\376')" "$TEST_TMP/multi")"
json=$(curl -s -H 'Accept: application/json' "$base/buckets/s/keys/k")
check_contains "JSON siblings carry value 1 in base64" "\"$(base64 -w0 <"$TEST_TMP/v1")\"" "$json"
check_contains "JSON siblings carry value 2 in base64" "\"$(base64 -w0 <"$TEST_TMP/v2")\"" "$json"
ctx=$(header X-RingKV-Context "$TEST_TMP/h5")
check_contains "the JSON names the same context" "\"context\":\"$ctx\"" "$json"
check_eq "a PUT with the context" "204" \
    "$(status PUT /buckets/s/keys/k -H "X-RingKV-Context: $ctx" -d resolved)"
check_eq "resolves the siblings" "resolved" "$(curl -s "$base/buckets/s/keys/k")"
check_eq "RESP sees one value" "resolved" "$(cli rk.get s:k | tail -n +2)"

# --- statuses --------------------------------------------------------------------------------
check_eq "?r= per request" "200" "$(status GET '/buckets/s/keys/k?r=1')"
check_eq "?w= per request" "204" "$(status PUT '/buckets/s/keys/k2?w=1' -d x)"
check_eq "bad query is 400" "400" "$(status GET '/keys/plain?r=99')"
check_eq "bad percent-encoding is 400" "400" "$(status GET '/keys/a%zz')"
check_eq "bad context header is 400" "400" "$(status PUT /keys/plain -H 'X-RingKV-Context: !!' -d v)"
check_eq "bad props JSON is 400" "400" "$(status PUT /buckets/s/props -d '{"n":')"
check_eq "unknown path is 404" "404" "$(status GET /nothing/here)"
check_eq "PATCH is 405" "405" "$(status PATCH /keys/plain)"
check_eq "key over max-key-bytes is 414" "414" "$(status GET "/keys/$(printf 'k%.0s' $(seq 1 120))")"
check_contains "with RESP's text" "max-key-bytes is 100" \
    "$(curl -s "$base/keys/$(printf 'k%.0s' $(seq 1 120))")"
head -c 5000 /dev/zero >"$TEST_TMP/big"
check_eq "value over max-value-bytes is 413" "413" \
    "$(status PUT /keys/big --data-binary @"$TEST_TMP/big")"
check_eq "chunked too" "413" "$(status PUT /keys/big -H 'Transfer-Encoding: chunked' \
    --data-binary @"$TEST_TMP/big")"
check_contains "RESP says the same" "max-value-bytes is 4096" \
    "$(head -c 5000 /dev/zero | cli -x set big 2>&1)"
check_eq "malformed request line is 400 and closes" "HTTP/1.1 400" \
    "$(raw_exchange "$http" 'GARBAGE\r\n\r\n' 2 | head -c 12)"

# --- keep-alive and pipelining ---------------------------------------------------------------
out=$(raw_exchange "$http" 'PUT /keys/p1 HTTP/1.1\r\nContent-Length: 2\r\n\r\nv1GET /keys/p1 HTTP/1.1\r\n\r\nGET /keys/nope HTTP/1.1\r\n\r\nGET /ping HTTP/1.1\r\nConnection: close\r\n\r\n' 3 | grep -a -o 'HTTP/1.1 [0-9]*' | tr '\n' ' ')
check_eq "pipelined requests answered in order" \
    "HTTP/1.1 204 HTTP/1.1 200 HTTP/1.1 404 HTTP/1.1 200 " "$out"

# --- datatypes -------------------------------------------------------------------------------
status PUT /buckets/t/props -d '{"policy":"set"}' >/dev/null
check_eq "datatypes POST" "204" \
    "$(status POST /buckets/t/datatypes/k -d '{"add":["x","y","\u00e9"]}')"
check_eq "datatypes PUT removes" "204" "$(status PUT /buckets/t/datatypes/k -d '{"remove":["y"]}')"
cli sadd t:k "$(printf '\377')" >/dev/null
check_eq "datatypes GET: strings, and base64 for bytes that are not UTF-8" \
    '{"type":"set","value":["x","é",{"base64":"/w=="}]}' \
    "$(curl -s "$base/buckets/t/datatypes/k")"
check_eq "SMEMBERS agrees" "3" "$(cli smembers t:k | wc -l)"
check_eq "bad datatypes JSON is 400" "400" "$(status POST /buckets/t/datatypes/k -d '{"add":[1]}')"
# Counters and maps (issue 13): the same endpoint, by the bucket's policy.
status PUT /buckets/q/props -d '{"policy":"counter"}' >/dev/null
check_eq "counter absent: value null" '{"type":"counter","value":null}' \
    "$(curl -s "$base/buckets/q/datatypes/hits")"
check_eq "counter absent: 404, as Riak" "404" "$(status GET /buckets/q/datatypes/hits)"
check_eq "counter increment answers the value" '{"type":"counter","value":5}' \
    "$(curl -s -X POST -d '{"increment":5}' "$base/buckets/q/datatypes/hits")"
check_eq "INCR over RESP sees it" "6" "$(cli incr q:hits)"
check_eq "counter decrement" '{"type":"counter","value":4}' \
    "$(curl -s -X PUT -d '{"decrement":2}' "$base/buckets/q/datatypes/hits")"
check_eq "a counter's bad JSON is 400" "400" "$(status POST /buckets/q/datatypes/hits -d '{"add":["x"]}')"
status PUT /buckets/cart/props -d '{"policy":"map"}' >/dev/null
check_eq "map HINCRBY" "204" "$(status POST /buckets/cart/datatypes/a -d '{"field":"pen","increment":2}')"
check_eq "map HSET" "204" "$(status POST /buckets/cart/datatypes/a -d '{"field":"note","value":"gift"}')"
check_eq "HINCRBY over RESP adds to it" "5" "$(cli hincrby cart:a pen 3)"
check_eq "map GET: fields sorted, counters as text" '{"type":"map","value":{"note":"gift","pen":"5"}}' \
    "$(curl -s "$base/buckets/cart/datatypes/a")"
check_eq "map remove" "204" "$(status POST /buckets/cart/datatypes/a -d '{"remove":["pen"]}')"
check_eq "HGETALL agrees" "note gift" "$(cli hgetall cart:a | tr '\n' ' ' | sed 's/ $//')"
check_eq "a map that does not exist is 404" "404" "$(status GET /buckets/cart/datatypes/nobody)"
check_eq "HINCRBY over a text field is 400" "400" \
    "$(status POST /buckets/cart/datatypes/a -d '{"field":"note","increment":1}')"
# /metrics: the same exposition as RK.METRICS, strict (tools/prom_check.py lint), with the
# Prometheus content type, and counting the HTTP requests this test sent (vput: a PUT is RK.PUT).
curl -s -D "$TEST_TMP/hm" -o "$TEST_TMP/metrics.prom" "$base/metrics"
check_contains "/metrics is Prometheus text" "text/plain; version=0.0.4" \
    "$(header Content-Type "$TEST_TMP/hm"; tr -d '\r' <"$TEST_TMP/hm" | grep -i '^content-type')"
if command -v python3 >/dev/null; then
    python3 "$ROOT/tools/prom_check.py" lint "$TEST_TMP/metrics.prom" >"$TEST_TMP/lint" 2>&1
    check_eq "/metrics passes every exposition rule" "0" "$?"
    vputs=$(python3 "$ROOT/tools/prom_check.py" value "$TEST_TMP/metrics.prom" \
        'ringkv_requests_total{op="vput",outcome="ok"}')
    check_positive "HTTP PUTs counted as vput" "${vputs%.*}"
fi

# --- 503 and 504 from a two-node cluster -------------------------------------------------------
p1=$(free_port)
p2=$(free_port)
h1=$(free_port)
members="1=127.0.0.1:$p1:$((p1 + 10000)),2=127.0.0.1:$p2:$((p2 + 10000))"
start_node c1 "$p1" --engine mem --node-id 1 --members "$members" --http-port "$h1" \
    --request-timeout-ms 500 --failure-timeout-ms 60000 || exit 1
start_node c2 "$p2" --engine mem --node-id 2 --members "$members" \
    --request-timeout-ms 500 --failure-timeout-ms 60000 || exit 1
pid2=$NODE_PID
wait_members_up "$p1" 2 || fail "the two nodes do not see each other"
wait_learned "$p1" && wait_learned "$p2" || fail "a node is still learning its epoch"
curl -s -X PUT -d '{"n":2,"w":2,"r":2,"sloppy":false}' "http://127.0.0.1:$h1/buckets/strict/props"
kill -STOP "$pid2"
check_eq "a W=2 write with the other replica frozen is 504" "504" \
    "$(curl -s -o "$TEST_TMP/t504" -w '%{http_code}' -X PUT -d v "http://127.0.0.1:$h1/buckets/strict/keys/a")"
check_contains "with RESP's TIMEOUT text" "TIMEOUT" "$(cat "$TEST_TMP/t504")"
kill -CONT "$pid2"
stop_node "$pid2" KILL
wait_member_state "$p1" 2 down || true
for _ in $(seq 1 50); do
    code=$(curl -s -o "$TEST_TMP/t503" -w '%{http_code}' -X PUT -d v \
        "http://127.0.0.1:$h1/buckets/strict/keys/b")
    [ "$code" == "503" ] && break
    sleep 0.2
done
check_eq "a W=2 write with the other replica gone is 503" "503" "$code"
check_contains "with RESP's UNAVAILABLE text" "UNAVAILABLE" "$(cat "$TEST_TMP/t503")"

stop_node "$NODE_PIDS" TERM
finish
