#!/usr/bin/env bash
# test_handoff.sh — sloppy quorum and hinted handoff on five real processes (issue 6, Dynamo
# 4.6; N = 3, R = W = 2). A: with two members frozen (SIGSTOP) and counted down, 500 SETs
# through the live three are all acknowledged: a key whose preference list holds a frozen node
# gets a hinted copy on a live node outside it, and INFO hints counts the hints pending. After
# SIGCONT the fallbacks hand the copies back: every key ends on exactly its three preflist
# nodes (the fallbacks drop theirs), no hint is left pending, and an R = 3 read answers every
# value. B: hints are durable — a fallback killed (kill -9) and restarted while the owner is
# still frozen keeps its hints and hands them back once the owner runs again. C: a bucket with
# `sloppy false` refuses a write whose primaries are mostly frozen (UNAVAILABLE) while the
# default bucket takes the same kind of write. Reads with R = 2 succeed while two are frozen.
# D: degraded writes and reads (fallback_w / fallback_r 1) with three of five frozen. Every wait is a poll with a generous limit, not a
# timing assertion; how long handoff took is only logged. Placement is read with one redis-cli
# per node fed all the RK.LOCALs, not one process per key. A frozen node is never asked
# anything (its kernel would accept the connection and nothing would answer).
source "$(dirname "$0")/lib.sh"

# Frozen members, continued whatever happens, before lib.sh's cleanup kills every node.
declare -a FROZEN=()
freeze() { kill -STOP "${PID_OF[$1]}"; FROZEN+=("$1"); }
thaw() {
    local id rest=()
    kill -CONT "${PID_OF[$1]}"
    for id in "${FROZEN[@]}"; do [ "$id" == "$1" ] || rest+=("$id"); done
    FROZEN=("${rest[@]}")
}
thaw_all() {
    local status=$? id
    for id in "${FROZEN[@]}"; do kill -CONT "${PID_OF[$id]}" 2>/dev/null; done
    FROZEN=()
    return "$status"
}
trap 'thaw_all; cleanup' EXIT

cli() { local id=$1; shift; timeout 10 redis-cli -p "${CLIENT_PORT[$id]}" "$@" 2>&1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
is_in() { local x=$1; shift; [[ " $* " == *" $x "* ]]; }

# thaw_and_wait "IDS": SIGCONT them, then every node sees all five up again.
thaw_and_wait() {
    local id
    for id in $1; do thaw "$id"; done
    for id in 1 2 3 4 5; do
        wait_members_up "${CLIENT_PORT[$id]}" 5 || fail "node $id does not see all up after SIGCONT"
    done
}

# wait_seen_down "LIVE IDS" "FROZEN IDS": every live node counts every frozen one down.
wait_seen_down() {
    local id down
    for id in $1; do
        for down in $2; do
            wait_member_state "${CLIENT_PORT[$id]}" "$down" down ||
                fail "node $down not down on node $id: $(cli "$id" rk.members | tr '\n' ' ')"
        done
    done
}

# hint_sum FIELD ID...: INFO hints FIELD summed over the nodes; "none" if one lacks it.
hint_sum() {
    local field=$1 id v sum=0
    shift
    for id in "$@"; do
        v=$(timeout 10 redis-cli -p "${CLIENT_PORT[$id]}" info hints 2>/dev/null | tr -d '\r' |
            awk -F: -v f="$field" '$1 == f {print $2}')
        [[ "$v" =~ ^[0-9]+$ ]] || { echo none; return; }
        sum=$((sum + v))
    done
    echo "$sum"
}

# keys PREFIX COUNT [FROM STEP]: the key names PREFIX:1 .. PREFIX:COUNT (every STEP-th from FROM).
keys() { seq "${3:-1}" "${4:-1}" "$2" | sed "s/^/$1:/"; }

# save_preflists PREFIX COUNT: $TEST_TMP/pref.PREFIX, line i "a,b,c", the primaries of PREFIX:i
# (the same on every node, whoever is up). Asked of node 1 while all run.
save_preflists() {
    keys "$1" "$2" | sed 's/^/rk.preflist /' | timeout 30 redis-cli -p "${CLIENT_PORT[1]}" --csv \
        >"$TEST_TMP/pref.$1" 2>&1
    check_eq "$2 preference lists of 3 nodes for $1:*" "$2" \
        "$(grep -cE '^[1-5],[1-5],[1-5]$' "$TEST_TMP/pref.$1")"
}

# save_local PREFIX COUNT "IDS": $TEST_TMP/local.ID for every node, line i: 1 when RK.LOCAL of
# PREFIX:i on that node holds a value, 0 when nil, ? when it answered something else, - for the
# nodes not in IDS (frozen: not asked). One redis-cli per node.
save_local() {
    local prefix=$1 count=$2 id
    for id in 1 2 3 4 5; do
        if is_in "$id" $3; then
            keys "$prefix" "$count" | sed 's/^/rk.local /' |
                timeout 30 redis-cli -p "${CLIENT_PORT[$id]}" --csv 2>/dev/null |
                awk '{print $0 == "NULL" ? 0 : (substr($0, 1, 1) == "\"" ? 1 : "?")}' \
                >"$TEST_TMP/local.$id"
        else
            seq 1 "$count" | sed 's/.*/-/' >"$TEST_TMP/local.$id"
        fi
    done
}

# The table of the last save_local: per key, tab-separated, its preflist then nodes 1..5.
local_table() {
    paste "$TEST_TMP/pref.$1" "$TEST_TMP/local".{1..5}
}

# misplaced PREFIX COUNT: keys not held by exactly the nodes of their preference list (all
# five asked). Logs the first few.
misplaced() {
    save_local "$1" "$2" "1 2 3 4 5"
    local_table "$1" | awk -F'\t' -v p="$1" '
        {
            split($1, pref, ","); want = ""; have = ""
            for (n = 1; n <= 5; n++) {
                inpref = (pref[1] == n || pref[2] == n || pref[3] == n)
                want = want (inpref ? 1 : 0); have = have $(n + 1)
            }
            if (want != have) {
                bad++
                if (bad <= 3)
                    printf "  %s:%d preflist %s, held (nodes 1-5) %s\n", p, NR, $1, have \
                        > "/dev/stderr"
            }
        }
        END { print bad + 0 }'
}

# unhinted PREFIX COUNT "FROZEN": of the keys whose preflist holds a frozen node, "TOTAL MISSING"
# where MISSING are those no live node outside the preflist holds (needs save_local first).
unhinted() {
    local_table "$1" | awk -F'\t' -v frozen=" $3 " '
        {
            split($1, pref, ","); hit = 0; held = 0
            for (i = 1; i <= 3; i++) if (index(frozen, " " pref[i] " ") > 0) hit = 1
            if (!hit) next
            total++
            for (n = 1; n <= 5; n++) {
                if (pref[1] == n || pref[2] == n || pref[3] == n) continue
                if (index(frozen, " " n " ") > 0) continue
                if ($(n + 1) == "1") held = 1
            }
            if (!held) missing++
        }
        END { print total + 0, missing + 0 }'
}

# write_keys PREFIX COUNT "LIVE IDS" DESCRIPTION: SET PREFIX:i v<i> for every i, spread over the
# live nodes, one redis-cli per node; checks that all COUNT answered OK, else logs what did not.
write_keys() {
    local prefix=$1 count=$2 ids=($3) k
    for k in "${!ids[@]}"; do
        keys "$prefix" "$count" $((k + 1)) "${#ids[@]}" | awk -F: '{print "set " $0 " v" $2}' |
            timeout 60 redis-cli -p "${CLIENT_PORT[${ids[$k]}]}" 2>&1
    done >"$TEST_TMP/set.$prefix"
    check_eq "$4" "$count" "$(grep -cx OK "$TEST_TMP/set.$prefix")"
    grep -vxE 'OK|' "$TEST_TMP/set.$prefix" | sort | uniq -c | sort -rn | head -3 |
        while read -r line; do log "answered: $line"; done
}

# read_errors PREFIX COUNT [R [IDS]]: keys whose RK.GET .. R r (default 3, through the nodes
# IDS in turn, default all five) is not exactly their one value v<i>. Logs the first few.
read_errors() {
    local prefix=$1 count=$2 r=${3:-3} ids=(${4:-1 2 3 4 5}) i
    for i in "${!ids[@]}"; do
        seq $((i + 1)) "${#ids[@]}" "$count" | awk -v p="$prefix" -v r="$r" \
                '{print "rk.get " p ":" $1 " R " r}' |
            timeout 60 redis-cli -p "${CLIENT_PORT[${ids[$i]}]}" --csv 2>&1 |
            paste <(seq $((i + 1)) "${#ids[@]}" "$count") -
    done | awk -F'\t' -v p="$prefix" '
        $2 !~ "^\"[^\",]*\",\"v" $1 "\"$" {
            bad++
            if (bad <= 3) printf "  %s:%d read %s\n", p, $1, $2 > "/dev/stderr"
        }
        END { print bad + 0 }'
}

# settle PREFIX COUNT LIMIT_S START_MS: poll until every key sits on exactly its preflist and
# no node holds a hint pending; logs how long that took from START_MS. 0 when it did.
settle() {
    local prefix=$1 count=$2 deadline=$(( $4 + $3 * 1000 )) bad pending
    while :; do
        bad=$(misplaced "$prefix" "$count" 2>/dev/null)
        pending=$(hint_sum hints_pending 1 2 3 4 5)
        if [ "$bad" == "0" ] && [ "$pending" == "0" ]; then
            log "handoff of $prefix:* done $(awk -v ms=$(( $(now_ms) - $4 )) \
                'BEGIN {printf "%.1f", ms / 1000}') s after SIGCONT"
            return 0
        fi
        [ "$(now_ms)" -ge "$deadline" ] && break
        sleep 0.5
    done
    misplaced "$prefix" "$count" >/dev/null
    log "after $3 s: $bad of $count keys misplaced, hints_pending summed: $pending"
    return 1
}

start_cluster 5 --engine lmdb --request-timeout-ms 2000 || exit 1
for id in 1 2 3 4 5; do
    wait_members_up "${CLIENT_PORT[$id]}" 5 || fail "node $id does not see all members up"
done
check_eq "no hint pending at start" "0" "$(hint_sum hints_pending 1 2 3 4 5)"

# A. Two members frozen: writes go to fallbacks, which hand them back after SIGCONT.
frozen="2 4"
live="1 3 5"
save_preflists hh 500
for id in $frozen; do freeze "$id"; done
wait_seen_down "$live" "$frozen"
write_keys hh 500 "$live" "500 SETs through the live nodes with nodes 2 and 4 frozen acknowledged"
result=""
for _ in $(seq 1 20); do     # the third copy may land just after W = 2 answered
    save_local hh 500 "$live"
    result=$(unhinted hh 500 "$frozen")
    [ "${result#* }" == "0" ] && break
    sleep 0.5
done
[ "${result% *}" -gt 0 ] || fail "no key of the 500 has node 2 or 4 in its preference list"
check_eq "each of the ${result% *} keys with a frozen primary has a copy on a live fallback" \
    "0 unhinted" "${result#* } unhinted"
check_positive "hints pending on the live nodes" "$(hint_sum hints_pending $live)"
check_positive "writes coordinated with a fallback" "$(hint_sum fallback_writes $live)"
# Reads use the extended list too (item 4): R = 2 answers with two of five nodes frozen.
check_eq "every key read with R 2 through the live nodes, 2 of 5 frozen, answers its value" \
    "0" "$(read_errors hh 500 2 "$live")"

start=$(now_ms)
thaw_and_wait "$frozen"
settle hh 500 30 "$start" && log "ok: every key on exactly its 3 primaries, no hint pending" ||
    fail "handoff did not finish within 30 s of SIGCONT"
check_positive "hints delivered" "$(hint_sum hints_delivered 1 2 3 4 5)"
check_eq "every key read with R 3 answers exactly its value" "0" "$(read_errors hh 500)"

# B. Hints are durable: a fallback killed and restarted while the owner is frozen keeps them.
x=5
live="1 2 3 4"
save_preflists hb 200
freeze "$x"
wait_seen_down "$live" "$x"
write_keys hb 200 "$live" "200 SETs with node $x frozen acknowledged"
f=""
hinted_key=""
for _ in $(seq 1 20); do
    save_local hb 200 "$live"
    # A live node holding a key outside its preflist, and hints pending: the fallback to kill.
    read -r f hinted_key < <(local_table hb | awk -F'\t' '
        {
            split($1, pref, ",")
            for (n = 1; n <= 5; n++)
                if (pref[1] != n && pref[2] != n && pref[3] != n && $(n + 1) == "1") {
                    held[n]++; if (!(n in key)) key[n] = NR
                }
        }
        END { for (n in held) if (held[n] > best) { best = held[n]; pick = n }
              if (pick) print pick, "hb:" key[pick] }')
    [ -n "$f" ] && [[ "$(hint_sum hints_pending "$f")" =~ ^[1-9][0-9]*$ ]] && break
    f=""
    sleep 0.5
done
if [ -z "$f" ]; then
    fail "no live node holds a hinted copy with hints pending while node $x is frozen"
else
    before=$(hint_sum hints_pending "$f")
    log "fallback node $f holds $before hints, $hinted_key among its copies; kill -9 and restart"
    kill -9 "${PID_OF[$f]}"
    wait "${PID_OF[$f]}" 2>/dev/null
    restart_member "$f" || exit 1
    # The restarted node sees the frozen one connecting (counted up), the others up.
    for id in $live; do
        wait_members_up "${CLIENT_PORT[$id]}" 4 || fail "node $id does not see node $f back"
    done
    check_positive "hints node $f still holds after kill -9 and restart" \
        "$(hint_sum hints_pending "$f")"
    [ -n "$(cli "$f" rk.local "$hinted_key")" ] &&
        log "ok: node $f still holds its hinted copy of $hinted_key" ||
        fail "node $f lost its hinted copy of $hinted_key in the restart"
fi
start=$(now_ms)
thaw_and_wait "$x"
settle hb 200 30 "$start" && log "ok: every key on exactly its 3 primaries, no hint pending" ||
    fail "handoff after the fallback's restart did not finish within 30 s of SIGCONT"
check_eq "every key read with R 3 answers exactly its value" "0" "$(read_errors hb 200)"

# C. A strict bucket: no fallbacks, so two frozen primaries of three make a W = 2 write fail.
check_eq "bucket strict set to sloppy false on all 5" "5" \
    "$(cli 1 rk.bucket set strict sloppy false)"
frozen="1 3"
live="2 4 5"
# keys_on_frozen PREFIX: the first PREFIX:i whose preference list holds both frozen nodes.
keys_on_frozen() {
    local i pref
    for i in $(seq 1 300); do
        pref=" $(cli 2 rk.preflist "$1:$i" | tr '\n' ' ')"
        [[ "$pref" == *" 1 "* && "$pref" == *" 3 "* ]] && { echo "$1:$i"; return; }
    done
}
strict_key=$(keys_on_frozen strict)
loose_key=$(keys_on_frozen loose)    # bucket "loose" is not configured: the defaults
freeze 1
freeze 3
wait_seen_down "$live" "$frozen"
if [ -z "$strict_key" ] || [ -z "$loose_key" ]; then
    fail "no key found with nodes 1 and 3 in its preference list: [$strict_key] [$loose_key]"
else
    check_contains "SET $strict_key (sloppy false) with 2 of its primaries frozen is refused" \
        "UNAVAILABLE" "$(cli 2 set "$strict_key" v)"
    check_eq "SET $loose_key (default bucket) with 2 of its primaries frozen succeeds" "OK" \
        "$(cli 2 set "$loose_key" v)"
fi
thaw_and_wait "$frozen"

# D. Degraded requests, as the shopping cart used them: with three of five frozen only two
# nodes are reachable, so W = 3 cannot be met even sloppily. Bucket cart (fallback_w 1,
# fallback_r 1) accepts with what is reachable and says how many acknowledged; bucket hard
# (no fallback) refuses.
check_eq "bucket cart: w 3, fallback_w 1, fallback_r 1 on all 5" "5" \
    "$(cli 1 rk.bucket set cart w 3 r 3 fallback_w 1 fallback_r 1)"
check_eq "bucket hard: w 3 on all 5" "5" "$(cli 1 rk.bucket set hard w 3 r 3)"
save_preflists cart 2
frozen="1 3 5"
live="2 4"
for id in $frozen; do freeze "$id"; done
wait_seen_down "$live" "$frozen"
check_eq "RK.PUT on cart (W=3) with 2 nodes reachable reports 2 acknowledgements" "2" \
    "$(cli 2 rk.put cart:1 "" v1 | tail -1)"
check_eq "plain SET on cart is accepted degraded" "OK" "$(cli 4 set cart:2 v2)"
check_positive "degraded writes counted" "$(hint_sum degraded_writes $live)"
check_eq "RK.GET on cart (R=3) answers from the 2 reachable" "v1" \
    "$(cli 4 rk.get cart:1 | tail -1)"
check_contains "SET on hard (W=3, no fallback_w) with 2 nodes reachable is refused" \
    "UNAVAILABLE" "$(cli 2 set hard:1 v)"
start=$(now_ms)
thaw_and_wait "$frozen"
settle cart 2 30 "$start" && log "ok: the degraded writes reached all 3 primaries" ||
    fail "the degraded writes did not reach their primaries within 30 s"
check_eq "both degraded writes read with R 3" "0" "$(read_errors cart 2)"

for id in 1 2 3 4 5; do stop_node "${PID_OF[$id]}" TERM; done
finish
