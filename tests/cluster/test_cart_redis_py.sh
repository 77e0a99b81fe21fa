#!/usr/bin/env bash
# test_cart_redis_py.sh — the set commands of issue 12 (the shopping cart) as a Redis client
# library sees them: redis-py (Debian's python3-redis) against three real nodes, N = 3, using
# its own methods unchanged: sadd, srem, smembers (a Python set), sismember, smismember, scard,
# delete, exists, type, mget, a pipeline of sadds, and the WRONGTYPE error (a ResponseError)
# for a string command on a set key and a set command on a string key. Both merge policies,
# `set` (bucket scart) and `union` (bucket ucart), are set with a raw RK.BUCKET, and every
# answer is checked through another node than the write's. redis-cli covers what redis-py 4
# cannot show: SMEMBERS answers a RESP3 set under HELLO 3 (redis-cli -3) and sorts bytewise.
# The counter and map commands of issue 13 (the shopping cart II) the same way, in buckets
# ccart (policy counter) and mcart (policy map): incr, incrby, decr, decrby, get, type, delete
# and the overflow error past int64 on a counter; hset with a mapping, hget, hmget, hgetall (a
# dict), hincrby, hlen, hexists, hdel, delete, type and "hash value is not an integer" on a
# map; WRONGTYPE for the other policies' commands on them and theirs elsewhere, and HINCRBY
# over a register holding digits, as docs/merge.md says; HGETALL sorted, flat in RESP2 and a
# map under HELLO 3 (redis-cli). What the docs leave open (MGET and GET of such keys, HINCRBY
# past int64, DECRBY of INT64_MIN) is printed as "info:" lines, not asserted.
# Last, a bucket holding a live set refuses to change its policy to or from a merge type, and
# takes the change once DEL has emptied every key (polled: the third replica may take the
# deletes a moment after W = 2 answered). Without redis-py (install-deps.sh test installs it) the test fails.
source "$(dirname "$0")/lib.sh"

PY=$(redis_py) || { fail "no python3 with redis-py (scripts/install-deps.sh test installs it)"; finish; }

start_cluster 3 --engine mem || exit 1
for id in 1 2 3; do
    wait_members_up "${CLIENT_PORT[$id]}" 3 || fail "node $id does not see all members up"
done
cli() { local id=$1; shift; redis-cli -p "${CLIENT_PORT[$id]}" "$@" 2>&1; }
log "redis-py $("$PY" -c 'import redis; print(redis.__version__)') on $PY"

check_eq "RK.BUCKET SET scart policy set: stored by all 3" "3" \
    "$(cli 1 rk.bucket set scart policy set)"
check_eq "RK.BUCKET SET ucart policy union: stored by all 3" "3" \
    "$(cli 1 rk.bucket set ucart policy union)"
check_eq "RK.BUCKET SET ccart policy counter: stored by all 3" "3" \
    "$(cli 1 rk.bucket set ccart policy counter)"
check_eq "RK.BUCKET SET mcart policy map: stored by all 3" "3" \
    "$(cli 1 rk.bucket set mcart policy map)"

# ---- redis-cli: the reply's type and order ---------------------------------------------------
for bucket in scart ucart; do
    key=$bucket:sorted
    check_eq "SADD $key of 4 members through node 1" "4" "$(cli 1 sadd "$key" b a B ab)"
    check_eq "SMEMBERS $key through node 2 sorts bytewise" "B a ab b" \
        "$(cli 2 smembers "$key" | tr '\n' ' ' | sed 's/ $//')"
    check_eq "SMEMBERS $key under HELLO 3 (redis-cli -3) answers a RESP3 set" \
        '1~ "B"|2~ "a"|3~ "ab"|4~ "b"' \
        "$(cli 3 -3 --no-raw smembers "$key" | tr '\n' '|' | sed 's/|$//')"
    check_eq "SMEMBERS $key in RESP2 answers an array" '1) "B"|2) "a"|3) "ab"|4) "b"' \
        "$(cli 3 --no-raw smembers "$key" | tr '\n' '|' | sed 's/|$//')"
    check_eq "SMEMBERS of an absent key under HELLO 3: an empty set" "(empty set)" \
        "$(cli 1 -3 --no-raw smembers "$bucket:nosuch")"
    check_eq "DEL $key answers 1" "1" "$(cli 1 del "$key")"
done

# HGETALL's reply shape: Redis's flat array in RESP2 (field, value, ...), a RESP3 map under
# HELLO 3, sorted by field (docs/merge.md).
check_eq "HSET mcart:shape of 2 fields through node 1" "2" "$(cli 1 hset mcart:shape b 2 a 1)"
check_eq "HGETALL mcart:shape in RESP2 answers a flat array sorted by field" \
    '1) "a"|2) "1"|3) "b"|4) "2"' \
    "$(cli 2 --no-raw hgetall mcart:shape | tr '\n' '|' | sed 's/|$//')"
check_eq "HGETALL mcart:shape under HELLO 3 (redis-cli -3) answers a RESP3 map" \
    '1# "a" => "1"|2# "b" => "2"' \
    "$(cli 3 -3 --no-raw hgetall mcart:shape | tr '\n' '|' | sed 's/|$//')"
check_eq "DEL mcart:shape answers 1" "1" "$(cli 1 del mcart:shape)"

# ---- redis-py --------------------------------------------------------------------------------
# The script prints lib.sh's "  ok: ..." / "  FAIL: ..." lines and exits 1 if any check failed.
if ! "$PY" - "${CLIENT_PORT[1]}" "${CLIENT_PORT[2]}" "${CLIENT_PORT[3]}" <<'EOF'; then
import sys
import time

import redis

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
ports = [int(p) for p in sys.argv[1:]]
nodes = [redis.Redis(host="127.0.0.1", port=p, decode_responses=True, socket_timeout=10)
         for p in ports]
raw = redis.Redis(host="127.0.0.1", port=ports[0], socket_timeout=10)   # bytes, not str
failed = 0


def report(ok, desc, detail=""):
    global failed
    if ok:
        print(f"  ok: {desc}")
    else:
        failed += 1
        print(f"  FAIL: {desc}: {detail}")


def check(desc, want, call):
    """call() answers want; an exception is a failure, not the end of the script."""
    try:
        got = call()
    except Exception as e:   # noqa: BLE001 - any exception is the server's answer here
        report(False, desc, f"expected [{want!r}], raised {type(e).__name__}: {e}")
        return
    report(got == want, desc, f"expected [{want!r}], got [{got!r}]")


def check_raises(desc, call, text=None):
    """call() raises redis.exceptions.ResponseError (whose text is `text` if given)."""
    try:
        got = call()
    except redis.exceptions.ResponseError as e:
        if text is None or str(e) == text:
            report(True, desc)
        else:
            report(False, desc, f"ResponseError [{e}], expected [{text}]")
        return str(e)
    except Exception as e:   # noqa: BLE001
        report(False, desc, f"raised {type(e).__name__}: {e}")
        return None
    report(False, desc, f"answered [{got!r}], expected a ResponseError")
    return None


def bucket_set(node, name, policy):
    return node.execute_command("RK.BUCKET", "SET", name, "policy", policy)


def bucket_policy(node, name):
    """RK.BUCKET GET answers a map, in RESP2 a flat list: name, value, name, value..."""
    props = node.execute_command("RK.BUCKET", "GET", name)
    return dict(zip(props[0::2], props[1::2]))["policy"]


check("RK.BUCKET SET plain policy lww: stored by all 3", 3,
      lambda: bucket_set(nodes[0], "plain", "lww"))
check("RK.BUCKET SET sib policy siblings: stored by all 3", 3,
      lambda: bucket_set(nodes[0], "sib", "siblings"))

# Every key of scart this script fills, to empty them all before the policy change at the end.
scart_keys = set()

# -- the commands on both merge policies, written through one node, read through another --
for bucket in ("scart", "ucart"):
    a, b, c = nodes
    k = f"{bucket}:cart1"
    if bucket == "scart":
        scart_keys.add(k)
    check(f"{bucket}: sadd of 3 new members answers 3", 3,
          lambda: a.sadd(k, "apple", "pear", "fig"))
    check(f"{bucket}: sadd of one old and one new member answers 1", 1,
          lambda: b.sadd(k, "apple", "kiwi"))
    check(f"{bucket}: sadd of one new member twice answers 1", 1, lambda: c.sadd(k, "plum", "plum"))
    check(f"{bucket}: smembers answers a Python set of the 5",
          {"apple", "pear", "fig", "kiwi", "plum"}, lambda: b.smembers(k))
    check(f"{bucket}: scard answers 5", 5, lambda: c.scard(k))
    check(f"{bucket}: sismember of a member is True", True, lambda: a.sismember(k, "kiwi"))
    check(f"{bucket}: sismember of another is False", False, lambda: b.sismember(k, "grape"))
    # redis-py 4 answers SMISMEMBER's integers as they come, later versions as bools: 1 == True.
    check(f"{bucket}: smismember answers one flag per member", [True, False, True],
          lambda: [bool(x) for x in c.smismember(k, ["apple", "grape", "plum"])])
    check(f"{bucket}: srem of a member and a non-member answers 1", 1,
          lambda: c.srem(k, "pear", "grape"))
    check(f"{bucket}: srem of a member already removed answers 0", 0, lambda: a.srem(k, "pear"))
    check(f"{bucket}: smembers after srem", {"apple", "fig", "kiwi", "plum"}, lambda: a.smembers(k))
    check(f"{bucket}: type answers set", "set", lambda: b.type(k))
    check(f"{bucket}: exists answers 1", 1, lambda: c.exists(k))
    check(f"{bucket}: delete of a set with members answers 1", 1, lambda: a.delete(k))
    check(f"{bucket}: exists after delete answers 0", 0, lambda: b.exists(k))
    check(f"{bucket}: smembers after delete is empty", set(), lambda: c.smembers(k))
    check(f"{bucket}: type after delete answers none", "none", lambda: a.type(k))
    check(f"{bucket}: delete again answers 0", 0, lambda: b.delete(k))
    check(f"{bucket}: sadd after delete starts over", 1, lambda: c.sadd(k, "apple"))
    check(f"{bucket}: smembers after the new sadd", {"apple"}, lambda: a.smembers(k))

    absent = f"{bucket}:nosuch"
    check(f"{bucket}: smembers of an absent key is empty", set(), lambda: a.smembers(absent))
    check(f"{bucket}: scard of an absent key answers 0", 0, lambda: b.scard(absent))
    check(f"{bucket}: sismember of an absent key is False", False, lambda: c.sismember(absent, "x"))
    check(f"{bucket}: srem on an absent key answers 0", 0, lambda: a.srem(absent, "x"))
    check(f"{bucket}: exists of an absent key answers 0", 0, lambda: b.exists(absent))
    check(f"{bucket}: type of an absent key answers none", "none", lambda: c.type(absent))

    # Members are bytes: NUL, 0xff and the empty member come back as they went in.
    kb = f"{bucket}:bytes"
    if bucket == "scart":
        scart_keys.add(kb)
    check(f"{bucket}: sadd of binary members answers 3", 3,
          lambda: raw.sadd(kb, b"\x00\xff", b"", b"caf\xc3\xa9"))
    check(f"{bucket}: smembers of binary members", {b"\x00\xff", b"", b"caf\xc3\xa9"},
          lambda: raw.smembers(kb))
    check(f"{bucket}: sismember of the empty member", True, lambda: raw.sismember(kb, b""))

    # A pipeline (without MULTI: ringkv has no transactions) of 20 sadds with reads and a
    # repeated member among them: a set command holds the connection's later commands until it
    # is answered (docs/protocol.md), so the pipeline sees its own writes as in Redis.
    kp = f"{bucket}:piped"
    if bucket == "scart":
        scart_keys.add(kp)

    def piped():
        pipe = a.pipeline(transaction=False)
        for i in range(20):
            pipe.sadd(kp, f"item{i:02d}")
            pipe.scard(kp)
        pipe.sadd(kp, "item00")
        pipe.sismember(kp, "item19")
        return pipe.execute()

    check(f"{bucket}: a pipeline of 20 sadds, each read back by the next command",
          [x for i in range(20) for x in (1, i + 1)] + [0, True], piped)
    check(f"{bucket}: scard after the pipeline answers 20", 20, lambda: a.scard(kp))
    check(f"{bucket}: smembers of the piped set through another node",
          {f"item{i:02d}" for i in range(20)}, lambda: c.smembers(kp))

# -- WRONGTYPE both ways, with the exact text --
a, b, c = nodes
for bucket in ("scart", "ucart"):
    k = f"{bucket}:typed"
    if bucket == "scart":
        scart_keys.add(k)
    check(f"{bucket}: sadd {k}", 1, lambda: a.sadd(k, "x"))
    check_raises(f"{bucket}: get of a set key raises WRONGTYPE", lambda: b.get(k), WRONGTYPE)
    check_raises(f"{bucket}: set of a set key raises WRONGTYPE", lambda: c.set(k, "v"), WRONGTYPE)
    check_raises(f"{bucket}: RK.GET of a set key raises WRONGTYPE",
                 lambda: a.execute_command("RK.GET", k), WRONGTYPE)
    check_raises(f"{bucket}: RK.PUT of a set key raises WRONGTYPE",
                 lambda: b.execute_command("RK.PUT", k, "", "v"), WRONGTYPE)
    check(f"{bucket}: the set is untouched by the refused writes", {"x"}, lambda: c.smembers(k))
    check(f"{bucket}: mget answers None for a set key", [None, None],
          lambda: a.mget([k, "plain:nosuch"]))

check("plain: set of a string", True, lambda: a.set("plain:s", "v"))
check("plain: type of a string answers string", "string", lambda: b.type("plain:s"))
check("mget of a set key, a string and an absent key", [None, "v", None],
      lambda: c.mget(["scart:typed", "plain:s", "plain:nosuch"]))
check_raises("plain: sadd on a string key raises WRONGTYPE", lambda: b.sadd("plain:s", "x"),
             WRONGTYPE)
check_raises("plain: srem on a string key raises WRONGTYPE", lambda: c.srem("plain:s", "x"),
             WRONGTYPE)
check_raises("plain: smembers of a string key raises WRONGTYPE", lambda: a.smembers("plain:s"),
             WRONGTYPE)
check_raises("plain: scard of a string key raises WRONGTYPE", lambda: b.scard("plain:s"), WRONGTYPE)
check_raises("plain: sismember of a string key raises WRONGTYPE",
             lambda: c.sismember("plain:s", "x"), WRONGTYPE)
check_raises("plain: smismember of a string key raises WRONGTYPE",
             lambda: a.smismember("plain:s", ["x"]), WRONGTYPE)
# An lww bucket holds no sets: SADD cannot make one there, even on an absent key.
check_raises("plain: sadd on an absent key of an lww bucket raises WRONGTYPE",
             lambda: b.sadd("plain:absent", "x"), WRONGTYPE)
check("plain: the refused sadd left nothing", 0, lambda: c.exists("plain:absent"))
check("plain: get of the string after the refused sadd", "v", lambda: a.get("plain:s"))
check("sib: RK.PUT of a value acknowledged by at least 2", True,
      lambda: b.execute_command("RK.PUT", "sib:s", "", "v")[1] >= 2)
check_raises("sib: sadd on a siblings key raises WRONGTYPE", lambda: c.sadd("sib:s", "x"),
             WRONGTYPE)
check_raises("sib: smembers of a siblings key raises WRONGTYPE", lambda: a.smembers("sib:s"),
             WRONGTYPE)

# -- counters (bucket ccart): Redis's INCR family on a PN-counter --
OVERFLOW = "increment or decrement would overflow"
NOT_INTEGER = "hash value is not an integer"
NOT_INTEGER_ARG = "value is not an integer or out of range"
INT64_MAX = 2**63 - 1
INT64_MIN = -2**63


def info(desc, call):
    """What the contract leaves open: print the answer or the error, assert nothing."""
    try:
        got = call()
        print(f"  info: {desc}: answered {got!r}")
    except Exception as e:   # noqa: BLE001
        print(f"  info: {desc}: raised {type(e).__name__}: {e}")


a, b, c = nodes
k = "ccart:apples"
check("ccart: incr of an absent counter answers 1", 1, lambda: a.incr(k))
check("ccart: incrby 10 through another node answers 11", 11, lambda: b.incrby(k, 10))
check("ccart: decr answers 10", 10, lambda: c.decr(k))
check("ccart: decrby 3 answers 7", 7, lambda: a.decrby(k, 3))
check("ccart: incrby -2 answers 5", 5, lambda: b.incrby(k, -2))
check("ccart: decrby -4 answers 9", 9, lambda: c.decrby(k, -4))
check("ccart: get answers the decimal string", "9", lambda: a.get(k))
check("ccart: get through bytes answers b'9'", b"9", lambda: raw.get(k))
check("ccart: type of a counter answers string", "string", lambda: b.type(k))
check("ccart: decrby 20 goes below zero: -11", -11, lambda: c.decrby(k, 20))
check("ccart: get of a negative counter", "-11", lambda: a.get(k))
check("ccart: delete of a counter answers 1", 1, lambda: b.delete(k))
check("ccart: get after delete answers None", None, lambda: c.get(k))
check("ccart: type after delete answers none", "none", lambda: a.type(k))
check("ccart: delete again answers 0", 0, lambda: b.delete(k))
check("ccart: incr after delete starts from 0", 1, lambda: c.incr(k))
check("ccart: get of an absent counter answers None", None, lambda: a.get("ccart:nosuch"))
check("ccart: type of an absent counter answers none", "none", lambda: b.type("ccart:nosuch"))
check("ccart: delete of an absent counter answers 0", 0, lambda: c.delete("ccart:nosuch"))

kmax = "ccart:max"
check("ccart: incrby to INT64_MAX", INT64_MAX, lambda: a.incrby(kmax, INT64_MAX))
check_raises("ccart: incr past INT64_MAX raises the overflow error", lambda: b.incr(kmax),
             OVERFLOW)
check_raises("ccart: incrby 5 past INT64_MAX raises the overflow error",
             lambda: c.incrby(kmax, 5), OVERFLOW)
check("ccart: the refused increments left INT64_MAX", str(INT64_MAX), lambda: a.get(kmax))
check("ccart: decr from INT64_MAX still works", INT64_MAX - 1, lambda: b.decr(kmax))
kmin = "ccart:min"
check("ccart: decrby INT64_MAX", -INT64_MAX, lambda: c.decrby(kmin, INT64_MAX))
check("ccart: decr to INT64_MIN", INT64_MIN, lambda: a.decr(kmin))
check_raises("ccart: decr past INT64_MIN raises the overflow error", lambda: b.decr(kmin),
             OVERFLOW)
check_raises("ccart: incrby -1 past INT64_MIN raises the overflow error",
             lambda: c.incrby(kmin, -1), OVERFLOW)
check("ccart: the refused decrements left INT64_MIN", str(INT64_MIN), lambda: a.get(kmin))
check_raises("ccart: incrby of a non-number raises Redis's not-an-integer error",
             lambda: b.execute_command("INCRBY", k, "many"), NOT_INTEGER_ARG)
check_raises("ccart: incrby 2**63 (past int64 in the argument itself) raises not-an-integer",
             lambda: c.execute_command("INCRBY", "ccart:arg", str(2**63)), NOT_INTEGER_ARG)
info("ccart: decrby INT64_MIN (whose negation leaves int64)",
     lambda: a.execute_command("DECRBY", "ccart:arg", str(INT64_MIN)))
check("ccart: exists of a counter answers 1", 1, lambda: a.exists(k))
info("ccart: mget of a counter and an absent key", lambda: b.mget([k, "ccart:nosuch"]))
# docs/merge.md: a counter bucket takes INCRBY and its kin and DEL; any other write, and the
# counter commands on any other policy, answer WRONGTYPE.
check_raises("ccart: set on a counter key raises WRONGTYPE", lambda: c.set(k, "5"), WRONGTYPE)
check_raises("ccart: hset on a counter key raises WRONGTYPE", lambda: a.hset(k, "f", "1"),
             WRONGTYPE)
check_raises("ccart: hincrby on a counter key raises WRONGTYPE",
             lambda: b.hincrby(k, "f", 1), WRONGTYPE)
check_raises("ccart: sadd on a counter key raises WRONGTYPE", lambda: c.sadd(k, "x"), WRONGTYPE)
check("ccart: the counter is untouched by the refused writes", "1", lambda: a.get(k))
check_raises("plain: incr on an lww key raises WRONGTYPE", lambda: b.incr("plain:n"), WRONGTYPE)
check_raises("scart: incr on a set bucket's key raises WRONGTYPE", lambda: c.incr("scart:n"),
             WRONGTYPE)

# -- maps (bucket mcart): Redis's hash commands; fields are counters or registers --
k = "mcart:cart1"
check("mcart: hset with a mapping of 2 new fields answers 2", 2,
      lambda: a.hset(k, mapping={"apple": "3", "pear": "1"}))
check("mcart: hset of one old and one new field answers 1", 1,
      lambda: b.hset(k, mapping={"apple": "4", "fig": "2"}))
check("mcart: hset of a single field/value already there answers 0", 0,
      lambda: c.hset(k, "fig", "2"))
check("mcart: hget of a field", "4", lambda: a.hget(k, "apple"))
check("mcart: hget of an absent field answers None", None, lambda: b.hget(k, "kiwi"))
check("mcart: hmget answers one value or None per field, in order", ["4", None, "2"],
      lambda: c.hmget(k, ["apple", "kiwi", "fig"]))
check("mcart: hgetall answers a dict", {"apple": "4", "pear": "1", "fig": "2"},
      lambda: a.hgetall(k))
check("mcart: hlen answers 3", 3, lambda: b.hlen(k))
check("mcart: hexists of a field is True", True, lambda: c.hexists(k, "pear"))
check("mcart: hexists of an absent field is False", False, lambda: a.hexists(k, "kiwi"))
check("mcart: type of a map answers hash", "hash", lambda: b.type(k))

check("mcart: hincrby of a new field answers the increment", 5, lambda: c.hincrby(k, "kiwi", 5))
check("mcart: hincrby 2 through another node answers 7", 7, lambda: a.hincrby(k, "kiwi", 2))
check("mcart: hincrby -10 goes below zero: -3", -3, lambda: b.hincrby(k, "kiwi", -10))
check("mcart: hget of a counted field answers the decimal string", "-3",
      lambda: c.hget(k, "kiwi"))
check("mcart: hgetall holds registers and counters alike",
      {"apple": "4", "pear": "1", "fig": "2", "kiwi": "-3"}, lambda: a.hgetall(k))
check("mcart: hlen answers 4", 4, lambda: b.hlen(k))

check("mcart: hset of a register holding text", 1, lambda: c.hset(k, "label", "red"))
check_raises("mcart: hincrby of a register holding text raises the not-an-integer error",
             lambda: a.hincrby(k, "label", 1), NOT_INTEGER)
check("mcart: the refused hincrby left the register", "red", lambda: b.hget(k, "label"))
# docs/merge.md: HINCRBY over a register holding an integer starts the counter from it; HSET
# over a counter resets what it saw of the counter.
check("mcart: hincrby 1 of a register holding 4 answers 5", 5, lambda: c.hincrby(k, "apple", 1))
check("mcart: hget of it afterwards", "5", lambda: a.hget(k, "apple"))
info("mcart: hset of a field holding a counter (hset kiwi 10), the count of new fields",
     lambda: b.hset(k, "kiwi", "10"))
check("mcart: hget after hset over a counter answers the register", "10",
      lambda: c.hget(k, "kiwi"))
check("mcart: hincrby 1 after that starts from the register: 11", 11,
      lambda: a.hincrby(k, "kiwi", 1))

check("mcart: hdel of a field and an absent field answers 1", 1,
      lambda: b.hdel(k, "pear", "nosuch"))
check("mcart: hdel of a field already deleted answers 0", 0, lambda: c.hdel(k, "pear"))
check("mcart: hexists after hdel is False", False, lambda: a.hexists(k, "pear"))
check("mcart: hget after hdel answers None", None, lambda: b.hget(k, "pear"))
check("mcart: hdel of a counted field answers 1", 1, lambda: c.hdel(k, "kiwi"))
check("mcart: hincrby after hdel starts from 0", 2, lambda: a.hincrby(k, "kiwi", 2))
check("mcart: hlen after the hdels: apple, fig, label, kiwi", 4, lambda: b.hlen(k))

kmax = "mcart:max"
check("mcart: hincrby to INT64_MAX", INT64_MAX, lambda: c.hincrby(kmax, "f", INT64_MAX))
info("mcart: hincrby 1 past INT64_MAX", lambda: a.hincrby(kmax, "f", 1))
info("mcart: hget after that", lambda: b.hget(kmax, "f"))

check("mcart: delete of a map answers 1", 1, lambda: c.delete(k))
check("mcart: hgetall after delete answers an empty dict", {}, lambda: a.hgetall(k))
check("mcart: hlen after delete answers 0", 0, lambda: b.hlen(k))
check("mcart: type after delete answers none", "none", lambda: c.type(k))
check("mcart: delete again answers 0", 0, lambda: a.delete(k))
check("mcart: hincrby after delete starts from 0", 1, lambda: b.hincrby(k, "apple", 1))
check("mcart: hgetall after the new hincrby", {"apple": "1"}, lambda: c.hgetall(k))

absent = "mcart:nosuch"
check("mcart: hgetall of an absent key answers an empty dict", {}, lambda: a.hgetall(absent))
check("mcart: hget of an absent key answers None", None, lambda: b.hget(absent, "f"))
check("mcart: hmget of an absent key answers Nones", [None, None],
      lambda: c.hmget(absent, ["f", "g"]))
check("mcart: hlen of an absent key answers 0", 0, lambda: a.hlen(absent))
check("mcart: hexists of an absent key is False", False, lambda: b.hexists(absent, "f"))
check("mcart: hdel on an absent key answers 0", 0, lambda: c.hdel(absent, "f"))
check("mcart: type of an absent key answers none", "none", lambda: a.type(absent))

# Fields and values are bytes.
kb = "mcart:bytes"
check("mcart: hset of binary fields and values answers 2", 2,
      lambda: raw.hset(kb, mapping={b"\x00\xff": b"caf\xc3\xa9", b"": b""}))
check("mcart: hgetall of binary fields and values",
      {b"\x00\xff": b"caf\xc3\xa9", b"": b""}, lambda: raw.hgetall(kb))

# A pipeline of hincrbys read back by hget: a map write reads at R first and holds the
# connection's later commands until it is answered, as a set write does (docs/protocol.md).
kp = "mcart:piped"


def piped_map():
    pipe = a.pipeline(transaction=False)
    for i in range(10):
        pipe.hincrby(kp, "n", 1)
        pipe.hget(kp, "n")
    return pipe.execute()


check("mcart: a pipeline of 10 hincrbys, each read back by the next hget",
      [x for i in range(10) for x in (i + 1, str(i + 1))], piped_map)

check_raises("mcart: incr of a map key raises WRONGTYPE", lambda: b.incr(k), WRONGTYPE)
check_raises("mcart: set of a map key raises WRONGTYPE", lambda: c.set(k, "v"), WRONGTYPE)
check_raises("mcart: sadd of a map key raises WRONGTYPE", lambda: a.sadd(k, "x"), WRONGTYPE)
check("mcart: the map is untouched by the refused writes", {"apple": "1"}, lambda: b.hgetall(k))
check("mcart: exists of a map key answers 1", 1, lambda: c.exists(k))
info("mcart: get of a map key", lambda: a.get(k))
info("mcart: mget of a map key and an absent key", lambda: b.mget([k, absent]))
check_raises("plain: hset on an lww key raises WRONGTYPE", lambda: c.hset("plain:h", "f", "1"),
             WRONGTYPE)
check_raises("plain: hincrby on an lww key raises WRONGTYPE",
             lambda: a.hincrby("plain:h", "f", 1), WRONGTYPE)
info("plain: hget on an lww string key", lambda: b.hget("plain:s", "f"))

# -- a policy changes to or from a merge type only while the bucket holds no live key --
text = check_raises("scart holding sets: RK.BUCKET SET scart policy lww is refused",
                    lambda: bucket_set(a, "scart", "lww"))
if text is not None:
    print(f"  refused with: {text}")
check_raises("ucart holding sets: RK.BUCKET SET ucart policy set is refused",
             lambda: bucket_set(b, "ucart", "set"))
check("scart still has policy set", "set",
      lambda: bucket_policy(c, "scart"))
check(f"DEL of each of the {len(scart_keys)} scart keys answers 1", [1] * len(scart_keys),
      lambda: [a.delete(k) for k in sorted(scart_keys)])
# The refusal depends on what replicas hold; the last replica of a delete may lag the reply.
start = time.monotonic()
answer = None
while time.monotonic() - start < 20:
    try:
        answer = bucket_set(b, "scart", "lww")
        break
    except redis.exceptions.ResponseError as e:
        answer = f"ResponseError: {e}"
        time.sleep(0.1)
report(answer == 3, "scart emptied by DEL: RK.BUCKET SET scart policy lww is accepted by all 3",
       f"answered [{answer}] for 20 s")
print(f"  policy change accepted {time.monotonic() - start:.1f} s after the last DEL")
check("scart now has policy lww", "lww",
      lambda: bucket_policy(c, "scart"))
check("scart under lww: set and get", "v",
      lambda: a.set("scart:typed", "v") and b.get("scart:typed"))
sys.exit(1 if failed else 0)
EOF
    fail "redis-py: some checks failed (above)"
fi

for id in 1 2 3; do
    stop_node "${PID_OF[$id]}" TERM || fail "node $id did not stop within 20 s of SIGTERM"
done
finish
