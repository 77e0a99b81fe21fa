#!/usr/bin/env bash
# test_cli_cluster.sh — `ringkv cluster ...` (issue 15's staged membership changes) as far as
# the CLI decides alone: every malformed subcommand, HOST:PORT and ID is exit 2 with one line on
# stderr before anything is sent, --help lists the subcommands, and a node nobody listens on is
# exit 3 (the admin commands' convention, test_cli.sh). Starts no node. The flows against real
# nodes (join, plan, commit, status) need RK.CLUSTER in ringkvd and belong beside these.
source "$(dirname "$0")/lib.sh"

nobody=$(free_port)
rkv() { "$RINGKV" --port "$nobody" "$@"; }

for args in "cluster" "cluster frob" "cluster join" "cluster join localhost" \
        "cluster join :7001" "cluster join h:0" "cluster join h:65536" "cluster join h:7x" \
        "cluster join h:1 h:2" "cluster leave abc" "cluster leave 0" "cluster leave 4294967296" \
        "cluster leave -1" "cluster leave 1 2" "cluster force-remove" "cluster force-remove x" \
        "cluster clear now" "cluster plan extra" "cluster commit 3" "cluster status --bogus"; do
    # shellcheck disable=SC2086
    err=$(rkv $args 2>&1 >/dev/null)
    check_eq "usage ($args): exit 2" 2 $?
    check_eq "usage ($args): one line on stderr" 1 "$(printf '%s\n' "$err" | wc -l)"
done
err=$(rkv cluster leave abc 2>&1)
check_contains "a bad ID is named" '"abc"' "$err"
err=$(rkv cluster join h:7x 2>&1)
check_contains "a bad HOST:PORT is named" '"h:7x"' "$err"

help=$("$RINGKV" --help)
for line in "cluster join HOST:PORT" "cluster leave [ID]" "cluster force-remove ID" \
        "cluster clear" "cluster plan [--json]" "cluster commit" "cluster status [--json]"; do
    check_contains "--help lists $line" "$line" "$help"
done

for args in "cluster join 127.0.0.1:7001" "cluster leave" "cluster leave 2" \
        "cluster force-remove 2" "cluster clear" "cluster plan" "cluster commit" \
        "--json cluster status"; do
    # shellcheck disable=SC2086
    rkv $args >/dev/null 2>&1
    check_eq "nobody on port $nobody ($args): exit 3" 3 $?
done

finish
