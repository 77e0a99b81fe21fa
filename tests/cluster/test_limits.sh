#!/usr/bin/env bash
# test_limits.sh — the node protects itself without failing anyone's requests: a client that
# does not read its replies is paused (back-pressure) instead of growing our memory or being
# answered with errors, and gets every reply once it reads; max-clients refuses the extra
# client with a message; an idle client is closed after `timeout`.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
start_node lim "$port" --engine mem --max-clients 3 --timeout 2 || exit 1

# Back-pressure: 400 GETs of a 100 KiB value (40 MiB of replies, each "$102400\r\n" + value + "\r\n") sent without reading.
head -c 102400 /dev/zero | tr '\0' 'b' | redis-cli -p "$port" -x set big >/dev/null
exec 6<>/dev/tcp/127.0.0.1/"$port"
for i in $(seq 1 400); do printf 'GET big\r\n'; done >&6
sleep 1
pauses=$(info_field "$port" backpressure_pauses)
[ "${pauses:-0}" -ge 1 ] && log "ok: a client not reading its replies is paused ($pauses)" \
    || fail "backpressure_pauses=$pauses"
check_eq "it was not closed for its output" "0" "$(info_field "$port" clients_closed_output_limit)"
bytes=$(timeout 20 head -c $((400 * (102400 + 11))) <&6 | wc -c)
check_eq "every reply arrives once it reads" "$((400 * (102400 + 11)))" "$bytes"
exec 6>&-
# Wait until the server has seen that client go (only our INFO's own connection left).
for _ in $(seq 1 100); do
    [ "$(info_field "$port" connected_clients clients)" == "1" ] && break
    sleep 0.05
done

# max-clients: three connected (two held open here, one redis-cli), the fourth is refused.
exec 7<>/dev/tcp/127.0.0.1/"$port"
exec 8<>/dev/tcp/127.0.0.1/"$port"
exec 9<>/dev/tcp/127.0.0.1/"$port"
sleep 0.2
check_contains "past max-clients a client is told why" "max number of clients reached" \
    "$(raw_exchange "$port" 'PING\r\n' 1)"
exec 7>&- 8>&- 9>&-
sleep 0.2
check_eq "after they leave, clients are served again" "PONG" "$(redis-cli -p "$port" ping)"

# Idle timeout: a silent client is closed after `timeout` seconds; the server goes on.
start=$(date +%s)
out=$(raw_exchange "$port" '' 8)
elapsed=$(( $(date +%s) - start ))
[ "$elapsed" -lt 8 ] && log "ok: an idle client is closed (after ${elapsed}s)" \
    || fail "idle client not closed within 8 s"
closed=$(info_field "$port" clients_closed_idle)
[ "${closed:-0}" -ge 1 ] && log "ok: clients_closed_idle counted" || fail "clients_closed_idle=$closed"
stop_node "$NODE_PID" TERM
finish
