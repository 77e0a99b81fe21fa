#!/usr/bin/env python3
"""counter_client.py — one client of the counter tests: INCRBY (or HINCRBY on a map field) with
random quantities against one node for a while, recording per key what the client knows: the
sum of the acknowledged increments, and the sums of the positive and negative increments whose
outcome is unknown (a timeout, a dropped connection). A refusal that names a reason the write
was never applied (UNAVAILABLE: refused before anything was sent; an overflow; WRONGTYPE) counts
as not applied. Prints one JSON object: {"key": [acked, pos_unknown, neg_unknown], ...}.

usage: counter_client.py PORT SECONDS SEED KEY... (a key "map:K:F" means HINCRBY map:K F)"""
import json
import random
import sys
import time

import redis

NOT_APPLIED = ("UNAVAILABLE", "increment or decrement would overflow", "WRONGTYPE", "BUSY")


def main():
    port, seconds, seed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    keys = sys.argv[4:]
    rng = random.Random(seed)
    books = {k: [0, 0, 0] for k in keys}
    conn = redis.Redis(host="127.0.0.1", port=port, socket_timeout=8, socket_connect_timeout=2)
    end = time.time() + seconds
    while time.time() < end:
        key = rng.choice(keys)
        delta = rng.choice([-3, -2, -1, 1, 2, 3, 4, 5])
        try:
            if key.startswith("map:"):
                _, name, field = key.split(":", 2)
                conn.hincrby("cart:" + name, field, delta)
            else:
                conn.incrby(key, delta)
            books[key][0] += delta
        except redis.exceptions.ResponseError as e:
            if not str(e).startswith(NOT_APPLIED):
                books[key][1 if delta > 0 else 2] += delta   # TIMEOUT and the like: unknown
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            books[key][1 if delta > 0 else 2] += delta
            time.sleep(0.05)
    print(json.dumps(books))


if __name__ == "__main__":
    main()
