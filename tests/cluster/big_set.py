#!/usr/bin/env python3
"""big_set.py — the client side of test_big_set_wipe.sh (issue 14): one set of COUNT members
m0000000 .. (zero-padded, so bytewise order is numeric order), loaded and checked with redis-py.

usage:
  big_set.py load PORT KEY COUNT [BATCH]
      SADD BATCH (default 1000) new members per command, one command at a time; prints
      "added A in S s (slowest SADD X s)" where A sums the replies (each SADD answers how many
      were new), or the first error and where it stopped.
  big_set.py local PORT KEY
      the number of members in the node's own copy (RK.LOCAL: [context, [member, ...]] on a
      set bucket, nil when it holds nothing live); -1 when RK.LOCAL answers something else.
  big_set.py wait_local PORT KEY COUNT LIMIT_S START_EPOCH_S [POKE_PORT POKE_EVERY_S]
      poll RK.LOCAL on PORT every 0.5 s until the node's own copy holds COUNT members or
      LIMIT_S seconds have passed since START_EPOCH_S (a time.time() value); with POKE_PORT,
      an SCARD through that node first and again every POKE_EVERY_S (the read whose read
      repair is to restore the copy). Logs progress every 15 s; last line
      "done N S POKES" (the count, seconds since START_EPOCH_S and SCARDs sent) or
      "timeout N S POKES".
  big_set.py check_local PORT KEY COUNT [+MEMBER|-MEMBER...]
      the node's own copy is exactly m0 .. m(COUNT-1), with each +MEMBER added and each
      -MEMBER taken out (compared as sorted lists); prints "ok" or what differs.
"""
import sys
import time

import redis


def member(i):
    return b"m%07d" % i


def conn(port):
    return redis.Redis(host="127.0.0.1", port=int(port), socket_timeout=60,
                       socket_connect_timeout=5)


def local_members(r, key):
    reply = r.execute_command("RK.LOCAL", key)
    if reply is None:
        return []
    if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
        return None
    return reply[1]


def cmd_load(port, key, count, batch=1000):
    r = conn(port)
    count, batch = int(count), int(batch)
    added = 0
    slowest = 0.0
    start = time.time()
    for first in range(0, count, batch):
        sent = time.time()
        try:
            added += r.sadd(key, *[member(i) for i in range(first, min(first + batch, count))])
        except redis.RedisError as e:
            print("SADD of members %d.. answered: %s" % (first, e))
            return
        slowest = max(slowest, time.time() - sent)
    print("added %d in %.1f s (slowest SADD %.1f s)" % (added, time.time() - start, slowest))


def cmd_local(port, key):
    try:
        members = local_members(conn(port), key)
    except redis.RedisError as e:
        print("-1 %s" % e)
        return
    print(-1 if members is None else len(members))


def cmd_wait_local(port, key, count, limit, started, poke_port=None, poke_every=None):
    r = conn(port)
    count, limit, started = int(count), float(limit), float(started)
    poke = conn(poke_port) if poke_port else None
    pokes = 0
    last_poke = 0.0
    next_log = 15.0
    have = -1
    while True:
        now = time.time()
        if poke is not None and (pokes == 0 or now - last_poke >= float(poke_every)):
            try:
                poke.scard(key)
            except redis.RedisError as e:
                print("  SCARD through port %s: %s" % (poke_port, e), flush=True)
            pokes += 1
            last_poke = time.time()
        try:
            members = local_members(r, key)
            have = -1 if members is None else len(members)
        except redis.RedisError as e:
            print("  RK.LOCAL: %s" % e, flush=True)
            have = -1
        waited = time.time() - started
        if have == count:
            print("done %d %.1f %d" % (have, waited, pokes))
            return
        if waited >= limit:
            print("timeout %d %.1f %d" % (have, waited, pokes))
            return
        if waited >= next_log:
            print("  after %.0f s the node's own copy holds %d of %d members"
                  % (waited, have, count), flush=True)
            next_log += 15.0
        time.sleep(0.5)


def cmd_check_local(port, key, count, *changes):
    members = local_members(conn(port), key)
    if members is None:
        print("RK.LOCAL answered something other than [context, [member, ...]]")
        return
    added = [c[1:].encode() for c in changes if c.startswith("+")]
    removed = set(c[1:].encode() for c in changes if c.startswith("-"))
    want = sorted([m for m in (member(i) for i in range(int(count))) if m not in removed] + added)
    have = sorted(members)
    if have == want:
        print("ok")
        return
    have_set, want_set = set(have), set(want)
    missing = sorted(want_set - have_set)
    unexpected = sorted(have_set - want_set)
    print("%d members, %d expected; %d missing (%s), %d unexpected (%s), %d duplicates"
          % (len(have), len(want), len(missing), b" ".join(missing[:5]).decode(),
             len(unexpected), b" ".join(unexpected[:5]).decode(), len(have) - len(have_set)))


COMMANDS = {"load": cmd_load, "local": cmd_local, "wait_local": cmd_wait_local,
            "check_local": cmd_check_local}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
