#!/usr/bin/env bash
# test_counter_partition.sh — the shopping cart II (issue 13) across a real network partition:
# quantities kept by HINCRBY (policy map) and INCRBY/DECRBY (policy counter) add up, whichever
# side of the cut took them. Five ringkvd processes in a private network namespace (netns.sh,
# as test_cart_partition.sh), nftables cutting the majority {1,2,3} from the minority {4,5};
# buckets mcart (policy map) and ccart (policy counter), both N = 3, R = W = 2, sloppy. Four
# carts in mcart (three with a minority node among their primaries, one without), FIELDS items
# each, and two counters in ccart (one of each kind).
#   Six clients run from before the cut until after the heal, three talking to the majority's
#   nodes and three to the minority's, round robin, each command a fresh redis-cli: per side
#   two send HINCRBY cart item D (D from DELTAS, positive and negative) and one INCR, DECR,
#   INCRBY or DECRBY on a counter. The cut and the heal fall on commands in flight.
#   Every command's outcome is recorded: acknowledged (an integer reply), refused (UNAVAILABLE
#   or BUSY: nothing was sent to a replica, docs/protocol.md), or indeterminate (TIMEOUT, an
#   empty answer when redis-cli timed out or lost its connection, or any other reply).
# After the heal the hints drain; every cart and counter is read through all five nodes
# (HGETALL, GET) until the five agree and three rounds in a row read the same. Checks: each
# side had commands acknowledged while cut; the five agree; every final quantity (an absent
# field or key is 0) lies within [acknowledged sum + negative indeterminate sum, acknowledged
# sum + positive indeterminate sum]: no acknowledged change is lost or counted twice, and
# nothing that was refused is applied. A self-check first runs the same interval test on
# values one past each bound, which must be rejected. The counts per side and phase and each
# final quantity with its interval are printed. Every wait is a poll with a generous limit,
# never a timing assertion. Needs root (ip netns, nft): without it the test says "skipped"
# and passes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"

# lib.sh counts failed checks; count the passed ones too (every "ok:" line is one) for the
# closing "N passed, N failed" line.
CHECKS_PASSED=0
log() {
    [[ "$1" == ok:* ]] && CHECKS_PASSED=$((CHECKS_PASSED + 1))
    printf '  %s\n' "$*"
}

netns_setup

MAP_MIXED_COUNT=3       # mcart carts with a minority primary
MAP_MAJONLY_COUNT=1     # mcart carts whose primaries are all on the majority side
FIELDS=4                # items per cart: item1 .. item4
DELTAS=(-3 -2 -1 1 1 2 3 5)
RUN_BEFORE_S=3          # clients at work before the cut,
RUN_CUT_S=10            # during it,
RUN_AFTER_S=3           # and after the heal
SEED=${RK_SEED:-$(( $(date +%s) % 100000 ))}
declare -a MAP_KEYS=() COUNTER_KEYS=() WORKER_PIDS=()
declare -A PRIMARIES=()
PHASE_FILE=$TEST_TMP/phase    # pre, cut or post: what the clients label their commands with
STOP_FILE=$TEST_TMP/stop      # the clients finish their command and end once it exists

# pick_keys BUCKET MIXED MAJONLY VAR: the first keys BUCKET:c<i> with a minority primary (MIXED
# of them) and without (MAJONLY), appended to the array named VAR. The ring is the same on
# every node; asked of node 1 while all run.
pick_keys() {
    local bucket=$1 want_mixed=$2 want_majonly=$3 var=$4 mixed=0 majonly=0 i pref
    seq 1 60 | sed "s/^/rk.preflist $bucket:c/" | cli_batch 1 --csv >"$TEST_TMP/pref.$bucket"
    for i in $(seq 1 60); do
        pref=$(sed -n "${i}p" "$TEST_TMP/pref.$bucket")
        [[ "$pref" =~ ^[1-5],[1-5],[1-5]$ ]] || { fail "rk.preflist $bucket:c$i: [$pref]"; return; }
        if [[ ",$pref," =~ ,(4|5), ]]; then
            [ "$mixed" -lt "$want_mixed" ] || continue
            mixed=$((mixed + 1))
        else
            [ "$majonly" -lt "$want_majonly" ] || continue
            majonly=$((majonly + 1))
        fi
        eval "$var+=(\"$bucket:c$i\")"
        PRIMARIES[$bucket:c$i]=$pref
    done
    check_eq "keys of $bucket: with a minority primary, without" \
        "$want_mixed $want_majonly" "$mixed $majonly"
}

# outcome REPLY: ack (an integer: the new value), refused (definitely not applied) or indet.
# UNAVAILABLE is answered before any replica was sent the write and BUSY before the request
# was taken (docs/protocol.md); a counter at its actor bound or one the increment would take
# past int64 refuses it (docs/merge.md); redis-cli that could not connect sent nothing. TIMEOUT was
# sent and not acknowledged in time; an empty reply is redis-cli killed by cli's timeout or a
# lost connection. Anything else is unexpected here and counted as indeterminate, which only
# widens the interval, so a surprise cannot make the check pass wrongly or fail wrongly.
outcome() {
    case "$1" in
        "" | TIMEOUT*) echo indet ;;
        UNAVAILABLE* | BUSY* | "Could not connect"*) echo refused ;;
        "ERR the counter has "*" actors"* | "ERR increment or decrement would overflow"*)
            echo refused ;;
        *)
            if [[ "$1" =~ ^-?[0-9]+$ ]]; then
                echo ack
            else
                echo other
            fi
            ;;
    esac
}

# client NAME SIDE KIND: until STOP_FILE exists, one command at a time through the nodes of
# SIDE in turn (KIND map: HINCRBY on a random cart and item; counter: INCR, DECR, INCRBY or
# DECRBY on a random counter), each appended to $TEST_TMP/ops.NAME as
#   side phase key field delta outcome node reply
# phase is the phase at the command's start, "a>b" when it changed before the reply.
client() {
    local name=$1 side=$2 kind=$3 i=0 id ids key field delta phase0 phase1 reply cmd n
    case "$side" in
        maj) ids=($MAJ) ;;
        min) ids=($MIN) ;;
    esac
    RANDOM=$(( (SEED + $(cksum <<<"$name" | cut -d' ' -f1)) % 1000000007 ))
    while [ ! -e "$STOP_FILE" ]; do
        id=${ids[$((i % ${#ids[@]}))]}
        i=$((i + 1))
        read -r phase0 <"$PHASE_FILE"
        if [ "$kind" == map ]; then
            key=${MAP_KEYS[$((RANDOM % ${#MAP_KEYS[@]}))]}
            field=item$((RANDOM % FIELDS + 1))
            delta=${DELTAS[$((RANDOM % ${#DELTAS[@]}))]}
            reply=$(cli "$id" hincrby "$key" "$field" "$delta" | head -1)
        else
            key=${COUNTER_KEYS[$((RANDOM % ${#COUNTER_KEYS[@]}))]}
            field=-
            n=$((RANDOM % 5 + 1))
            case $((RANDOM % 4)) in
                0) cmd=(incr) delta=1 ;;
                1) cmd=(decr) delta=-1 ;;
                2) cmd=(incrby "$n") delta=$n ;;
                3) cmd=(decrby "$n") delta=$((-n)) ;;
            esac
            reply=$(cli "$id" "${cmd[0]}" "$key" "${cmd[@]:1}" | head -1)
        fi
        read -r phase1 <"$PHASE_FILE"
        [ "$phase1" == "$phase0" ] || phase0="$phase0>$phase1"
        reply=${reply//$'\r'/}
        echo "$side $phase0 $key $field $delta $(outcome "$reply") $id ${reply// /_}" \
            >>"$TEST_TMP/ops.$name"
        sleep 0.02
    done
}

start_clients() {
    local side kind
    echo pre >"$PHASE_FILE"
    for side in maj min; do
        for kind in map1 map2 counter; do
            client "$side-$kind" "$side" "${kind%[12]}" &
            WORKER_PIDS+=("$!")
            NODE_PIDS+=("$!")    # killed by the EXIT trap too, should the test end early
        done
    done
}

# stop_clients: each finishes the command it is in (cli's timeout bounds it) and ends.
stop_clients() {
    local pid
    touch "$STOP_FILE"
    for pid in "${WORKER_PIDS[@]}"; do
        wait "$pid" || fail "client $pid ended with status $?"
    done
}

# check_nodes_running WHEN: every node still runs; a node that died (an assertion, a sanitizer)
# fails the check with the end of its log.
check_nodes_running() {
    local id dead=""
    for id in $ALL; do
        kill -0 "${PID_OF[$id]}" 2>/dev/null && continue
        dead+="$id "
        log "node $id (pid ${PID_OF[$id]}) is gone; its log ends:"
        tail -n 15 "$TEST_TMP/node$id.log" | sed 's/^/    /'
    done
    check_eq "every node still running $1" "" "$dead"
}

# interval_holds LO HI VALUE: LO <= VALUE <= HI. The one comparison the final check makes;
# the self-check below feeds it values just outside.
interval_holds() { [ "$3" -ge "$1" ] && [ "$3" -le "$2" ]; }

# snapshot ID: every cart item and counter as node ID reads it, "key field value" sorted; an
# unreadable answer is a line "key ? <reply>", so it never matches a good snapshot.
snapshot() {
    local id=$1 key out
    {
        for key in "${MAP_KEYS[@]}"; do
            out=$(cli "$id" hgetall "$key")
            if [[ "$out" == *ERR* || "$out" == *TIMEOUT* || "$out" == *UNAVAILABLE* ]]; then
                echo "$key ? ${out//$'\n'/ }"
            else
                paste -d' ' - - <<<"$out" | grep -v '^ *$' | sed "s/^/$key /"
            fi
        done
        for key in "${COUNTER_KEYS[@]}"; do
            echo "$key - $(cli "$id" get "$key")"
        done
    } | sort
}

# converged: all five nodes read the same, and the same as the last STABLE_ROUNDS - 1 calls.
STABLE_ROUNDS=3
stable_count=0
converged() {
    local id
    for id in $ALL; do snapshot "$id" >"$TEST_TMP/snap.$id"; done
    for id in $ALL; do
        if ! cmp -s "$TEST_TMP/snap.1" "$TEST_TMP/snap.$id"; then
            stable_count=0
            return 1
        fi
    done
    if [ -e "$TEST_TMP/snap.last" ] && cmp -s "$TEST_TMP/snap.1" "$TEST_TMP/snap.last"; then
        stable_count=$((stable_count + 1))
    else
        stable_count=1
    fi
    cp "$TEST_TMP/snap.1" "$TEST_TMP/snap.last"
    [ "$stable_count" -ge "$STABLE_ROUNDS" ]
}

# ---- 1. five nodes, a map bucket and a counter bucket, the keys -----------------------------
test_start=$(now_ms)
log "seed $SEED (RK_SEED=$SEED replays the clients' choices, not the timing)"
netns_start_all
check_eq "bucket mcart set to policy map, N 3, R 2, W 2, sloppy on all 5" "5" \
    "$(cli 1 rk.bucket set mcart policy map n 3 r 2 w 2 sloppy true)"
check_eq "bucket ccart set to policy counter, N 3, R 2, W 2, sloppy on all 5" "5" \
    "$(cli 1 rk.bucket set ccart policy counter n 3 r 2 w 2 sloppy true)"
pick_keys mcart "$MAP_MIXED_COUNT" "$MAP_MAJONLY_COUNT" MAP_KEYS
pick_keys ccart 1 1 COUNTER_KEYS
for key in "${MAP_KEYS[@]}" "${COUNTER_KEYS[@]}"; do log "$key primaries ${PRIMARIES[$key]}"; done
[ "${#MAP_KEYS[@]}" -gt 0 ] && [ "${#COUNTER_KEYS[@]}" -gt 0 ] || { fail "no keys"; finish; }

# ---- 2. clients on both sides; cut under them; heal under them ------------------------------
start_clients
sleep "$RUN_BEFORE_S"
echo cut >"$PHASE_FILE"
netns_cut
sleep "$RUN_CUT_S"
echo post >"$PHASE_FILE"
netns_heal
sleep "$RUN_AFTER_S"
stop_clients
check_nodes_running "after the clients stopped"
check_positive "writes the minority coordinated with a fallback (fallback_writes)" \
    "$(hint_sum fallback_writes $MIN)"

cat "$TEST_TMP"/ops.* >"$TEST_TMP/ops"
log "commands by side, kind and phase (pre>cut: started before the cut, answered after):"
awk '{ k = $1 " " ($4 == "-" ? "counter" : "hincrby") " " $2; n[k]++
       c[k, $6 == "other" ? "indet" : $6]++ }
     END { for (k in n) printf "%s %d %d %d %d\n", k, n[k], c[k, "ack"], c[k, "refused"],
                                c[k, "indet"] }' "$TEST_TMP/ops" | sort |
    while read -r side kind phase total ack refused indet; do
        log "  $side $kind $phase: $total commands, $ack acknowledged, $refused refused," \
            "$indet indeterminate"
    done
other=$(awk '$6 == "other"' "$TEST_TMP/ops" | wc -l)
[ "$other" -eq 0 ] || { log "$other unexpected replies (counted indeterminate), first ones:"
    awk '$6 == "other"' "$TEST_TMP/ops" | head -5 | sed 's/^/    /'; }
for side in maj min; do
    check_positive "$side: HINCRBY acknowledged while cut" \
        "$(awk -v s="$side" '$1 == s && $2 == "cut" && $4 != "-" && $6 == "ack"' \
            "$TEST_TMP/ops" | wc -l)"
    check_positive "$side: counter commands acknowledged while cut" \
        "$(awk -v s="$side" '$1 == s && $2 == "cut" && $4 == "-" && $6 == "ack"' \
            "$TEST_TMP/ops" | wc -l)"
done

# ---- 3. converge; every quantity within its interval ----------------------------------------
wait_for 120 "all 5 nodes read the same quantities, $STABLE_ROUNDS rounds in a row" converged ||
    for id in $ALL; do log "node $id reads: $(tr '\n' ';' <"$TEST_TMP/snap.$id")"; done

# "key field lo hi acked_sum acked_count indet_count" for every key and field a client touched.
awk '{ k = $3 " " $4
       if ($6 == "ack") { ack[k] += $5; nack[k]++ }
       else if ($6 == "indet" || $6 == "other") {
           nind[k]++; if ($5 < 0) neg[k] += $5; else pos[k] += $5 }
       seen[k] = 1 }
     END { for (k in seen) printf "%s %d %d %d %d %d\n", k, ack[k] + neg[k], ack[k] + pos[k],
                                  ack[k], nack[k], nind[k] }' "$TEST_TMP/ops" |
    sort >"$TEST_TMP/intervals"

# The self-check: the comparison rejects a value one past either bound of a real interval.
read -r _ _ lo hi _ <"$TEST_TMP/intervals"
selfcheck=""
interval_holds "$lo" "$hi" $((hi + 1)) && selfcheck+="accepts hi+1 "
interval_holds "$lo" "$hi" $((lo - 1)) && selfcheck+="accepts lo-1 "
interval_holds "$lo" "$hi" "$lo" || selfcheck+="rejects lo "
interval_holds "$lo" "$hi" "$hi" || selfcheck+="rejects hi "
check_eq "self-check: the interval test on [$lo, $hi] rejects $((lo - 1)) and $((hi + 1))" "" \
    "$selfcheck"

outside=0
checked=0
while read -r key field lo hi acked nack nind; do
    value=$(awk -v k="$key" -v f="$field" '$1 == k && $2 == f { print $3 }' "$TEST_TMP/snap.1")
    [ -n "$value" ] || value=0    # never applied anywhere: absent
    checked=$((checked + 1))
    if [[ ! "$value" =~ ^-?[0-9]+$ ]] || ! interval_holds "$lo" "$hi" "$value"; then
        outside=$((outside + 1))
        log "OUTSIDE: $key $field = $value, not in [$lo, $hi]" \
            "($nack acknowledged summing $acked, $nind indeterminate)"
    else
        log "$key $field = $value in [$lo, $hi] ($nack acknowledged summing $acked," \
            "$nind indeterminate)"
    fi
done <"$TEST_TMP/intervals"
check_eq "every one of the $checked quantities within [acknowledged + negative\
 indeterminate, acknowledged + positive indeterminate]" "0" "$outside"
check_positive "quantities checked" "$checked"
check_nodes_running "at the end"

netns_stop_all
log "test took $(secs_since "$test_start") s"
echo "  checks: $CHECKS_PASSED passed, $CHECKS_FAILED failed"
finish
