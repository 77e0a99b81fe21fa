#!/usr/bin/env bash
# test_lifecycle.sh — start-up and stop: bad options stop start-up with a message naming the
# option; a second ringkvd on the same data directory refuses to start; SIGINT and SIGTERM stop
# cleanly; --help lists the flags.
source "$(dirname "$0")/lib.sh"

out=$("$RINGKVD" --sync sometimes 2>&1); rc=$?
check_eq "bad --sync exits 2" "2" "$rc"
check_contains "bad --sync named" 'sync = "sometimes": expected always, batch or none' "$out"
printf 'port = 7001\nmax-value-bytes = lots\n' > "$TEST_TMP/bad.conf"
out=$("$RINGKVD" --config "$TEST_TMP/bad.conf" 2>&1); rc=$?
check_eq "bad config file exits 2" "2" "$rc"
check_contains "bad config names file and line" "bad.conf:2: max-value-bytes" "$out"
check_contains "--help lists --data-dir" "--data-dir" "$("$RINGKVD" --help)"

port=$(free_port)
start_node shared "$port" --engine lmdb || exit 1
first=$NODE_PID
port2=$(free_port)
out=$(timeout 10 "$RINGKVD" --port "$port2" --data-dir "$TEST_TMP/shared" 2>&1); rc=$?
check_eq "second ringkvd on the same data-dir exits 1" "1" "$rc"
check_contains "it says who holds the directory" "in use by another ringkvd (pid $first)" "$out"
out=$(timeout 10 "$RINGKVD" --port "$port" --data-dir "$TEST_TMP/other" 2>&1); rc=$?
check_contains "port in use is reported" "cannot listen on 127.0.0.1:$port" "$out"
redis-cli -p "$port" set a 1 >/dev/null
stop_node "$first" INT
check_contains "SIGINT stops cleanly" "stopped cleanly" "$(cat "$TEST_TMP/shared.log")"
start_node shared "$port" --engine lmdb || exit 1
check_eq "data back after SIGINT" "1" "$(redis-cli -p "$port" get a)"
stop_node "$NODE_PID" TERM
finish
