#!/usr/bin/env python3
"""set_delta_client.py — the redis-py side of test_set_delta.sh (issue 14, sets written by delta).

usage:
  set_delta_client.py preload PORT KEY PREFIX COUNT [BATCH]
      SADD KEY PREFIX1 .. PREFIX<COUNT>, BATCH (500) members per command; prints the replies
      added up, or "ERR <message>" at the first error.
  set_delta_client.py local PORT KEY
      prints "<sha256> <bytes>" of RK.LOCAL KEY on that node (its own copy, byte for byte;
      an array reply is hashed element by element with length prefixes), "nil" for no copy.
  set_delta_client.py sadds PORT KEY PREFIX FROM TO SLEEP PROGRESS_FILE [STOP_FILE]
      one SADD KEY PREFIX<i> per command for i in FROM..TO, SLEEP seconds apart; prints one
      line per member, "<member> <reply>" or "<member> ERR <message>", and writes the number
      of SADDs answered so far to PROGRESS_FILE after each. Stops early once STOP_FILE
      exists."""
import hashlib
import os
import sys
import time

import redis


def conn(port):
    return redis.Redis(host="127.0.0.1", port=int(port), socket_timeout=10,
                       socket_connect_timeout=2)


def feed(h, reply):
    if reply is None:
        h.update(b"N")
    elif isinstance(reply, (bytes, bytearray)):
        h.update(b"B%d:" % len(reply))
        h.update(reply)
    elif isinstance(reply, int):
        h.update(b"I%d:" % reply)
    elif isinstance(reply, (list, tuple)):
        h.update(b"A%d:" % len(reply))
        for item in reply:
            feed(h, item)
    else:
        h.update(b"S" + str(reply).encode())


def size(reply):
    if isinstance(reply, (bytes, bytearray)):
        return len(reply)
    if isinstance(reply, (list, tuple)):
        return sum(size(item) for item in reply)
    return 0


def main():
    cmd, port, key = sys.argv[1], sys.argv[2], sys.argv[3]
    r = conn(port)
    if cmd == "preload":
        prefix, count = sys.argv[4], int(sys.argv[5])
        batch = int(sys.argv[6]) if len(sys.argv) > 6 else 500
        total = 0
        for start in range(1, count + 1, batch):
            members = [f"{prefix}{i}" for i in range(start, min(start + batch, count + 1))]
            try:
                total += r.sadd(key, *members)
            except redis.RedisError as e:
                print(f"ERR {e}")
                return
        print(total)
    elif cmd == "local":
        reply = r.execute_command("RK.LOCAL", key)
        if reply is None:
            print("nil")
            return
        h = hashlib.sha256()
        feed(h, reply)
        print(h.hexdigest(), size(reply))
    elif cmd == "sadds":
        prefix, first, last = sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
        pause, progress = float(sys.argv[7]), sys.argv[8]
        stop = sys.argv[9] if len(sys.argv) > 9 else None
        done = 0
        for i in range(first, last + 1):
            if stop is not None and os.path.exists(stop):
                break
            member = f"{prefix}{i}"
            try:
                line = f"{member} {r.sadd(key, member)}"
            except redis.RedisError as e:
                line = f"{member} ERR {str(e).replace(chr(10), ' ')}"
                r = conn(port)
            print(line, flush=True)
            done += 1
            with open(progress, "w") as f:
                f.write(f"{done}\n")
            if pause > 0:
                time.sleep(pause)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
