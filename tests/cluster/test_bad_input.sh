#!/usr/bin/env bash
# test_bad_input.sh — bad input gets a clear error and loses nothing: garbage, malformed
# framing and oversized requests on one connection get an error and that connection closes,
# while another client, connected all along, keeps being served.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
start_node bad "$port" --engine lmdb --max-value-bytes 1m || exit 1

# A bystander connection, open across everything below.
exec 5<>/dev/tcp/127.0.0.1/"$port"
bystander() {
    printf 'PING\r\n' >&5
    local line
    IFS= read -r -t 5 line <&5
    printf '%s' "${line%$'\r'}"
}
check_eq "bystander before" "+PONG" "$(bystander)"
redis-cli -p "$port" set safe:key kept >/dev/null

check_contains "bad multibulk length" "-ERR Protocol error: invalid multibulk length" \
    "$(raw_exchange "$port" '*abc\r\n')"
check_contains "expected \$" "-ERR Protocol error: expected '\$'" \
    "$(raw_exchange "$port" '*1\r\n+PING\r\n')"
check_contains "bad bulk length" "Protocol error: invalid bulk length" \
    "$(raw_exchange "$port" '*1\r\n$-7\r\n')"
check_contains "unbalanced quotes" "unbalanced quotes" "$(raw_exchange "$port" 'SET "a b\r\n')"
check_contains "replies owed before the error still come first" "+PONG" \
    "$(raw_exchange "$port" 'PING\r\n*x\r\n')"
check_contains "oversized bulk announced" "bulk length" \
    "$(raw_exchange "$port" '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$999999999\r\n')"
check_contains "too many arguments announced" "multibulk length" \
    "$(raw_exchange "$port" '*99999999\r\n')"
check_contains "binary garbage" "-ERR Protocol error" \
    "$(raw_exchange "$port" '*\x01\xff\xfe\r\n')"
big=$(head -c 1100000 /dev/zero | tr '\0' 'x')
check_contains "value over max-value-bytes refused by name" "max-value-bytes is 1048576" \
    "$(printf '%s' "$big" | redis-cli -p "$port" -x set big 2>&1)"
longkey=$(head -c 600 /dev/zero | tr '\0' 'k')
check_contains "key over max-key-bytes refused by name" "max-key-bytes is 507" \
    "$(redis-cli -p "$port" set "$longkey" v 2>&1)"
# A value of 1 MiB (at the limit) passes.
ok=$(head -c 1048576 /dev/zero | tr '\0' 'y' | redis-cli -p "$port" -x set atlimit 2>&1)
check_eq "value at max-value-bytes accepted" "OK" "$ok"
# Random garbage from /dev/urandom, many connections.
for i in $(seq 1 20); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port"; head -c 4096 /dev/urandom >&3; timeout 1 cat <&3 >/dev/null) 2>/dev/null
done
check_eq "bystander after all of it" "+PONG" "$(bystander)"
check_eq "nothing lost" "kept" "$(redis-cli -p "$port" get safe:key)"
check_eq "node still alive" "0" "$(kill -0 "$NODE_PID"; echo $?)"
errors=$(info_field "$port" protocol_errors)
[ "${errors:-0}" -ge 7 ] && log "ok: protocol_errors counted ($errors)" || fail "protocol_errors=$errors"
exec 5>&-
stop_node "$NODE_PID" TERM
finish
