#!/usr/bin/env python3
"""membership_load.py — the client side of test_membership.sh (issue 15): a load that runs
while members join and leave, and the checks afterwards. Three subcommands:

load DIR PORTS THREADS KEYS_PER_THREAD
    THREADS client threads, thread t owning the keys ld:t:0 .. ld:t:(KEYS_PER_THREAD - 1), so
    the last acknowledged value of each key is well defined. Each thread loops over its keys:
    SET key <unique value> (acknowledged at the default bucket's W = 2), then GET of a key,
    every request to the next node of PORTS (comma separated) in turn. An acknowledged SET is
    recorded as "acked"; one whose outcome is unknown (a -TIMEOUT, a dropped connection) as
    "maybe": it may or may not have landed. Other refusals and failed GETs are counted, not
    fatal. Runs until the file DIR/stop exists, then writes DIR/writes.json ({key: [[value,
    "acked"|"maybe"], ...]} in the order sent), DIR/latency.csv (unix time, op, ms, ok) and
    DIR/load.json (counts).

verify DIR PORTS PREFIX COUNT
    Every key the load wrote, and the preloaded PREFIX:1 .. PREFIX:COUNT (value v<i>), read
    with GET (nodes in turn) and RK.GET .. R 3: each must answer its last acknowledged value,
    or a "maybe" value sent after it. Prints "lost N" with the first few, then exits 1 if any.

placement PORTS IDS PREFIX COUNT [DIR]
    Every key (as verify) must be held (RK.LOCAL not nil) by exactly the nodes RK.PREFLIST
    names, asking each node of PORTS (ids IDS, both comma separated). Prints "misplaced N"
    and the first few; exits 1 if any.

latency DIR
    p99 of the load's requests in each phase named in DIR/phases (lines "NAME UNIX_TIME",
    phase NAME running until the next line), and over the phases whose name starts with
    "transfer". Prints "p99_before MS p99_during MS" on its last line."""
import json
import os
import sys
import threading
import time

import redis

SOCKET_TIMEOUT_S = 15   # above --request-timeout-ms: a slow answer is an answer, not a drop
RATE_PER_THREAD = 250   # requests per second per thread at most: steady load, modest logs


def connect(port):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=SOCKET_TIMEOUT_S,
                       socket_connect_timeout=2)


def load_thread(t, ports, key_count, stop_path, out, lock):
    conns = [connect(p) for p in ports]
    writes = {}
    latency = []
    counts = {"acked": 0, "maybe": 0, "refused": 0, "gets": 0, "get_errors": 0}
    seq = 0
    turn = t
    pause = 1.0 / RATE_PER_THREAD
    while not os.path.exists(stop_path):
        i = seq % key_count
        key = f"ld:{t}:{i}"
        value = f"t{t}s{seq}"
        seq += 1
        conn = conns[turn % len(conns)]
        turn += 1
        start = time.time()
        state = None
        try:
            conn.set(key, value)
            state = "acked"
        except redis.exceptions.ResponseError as e:
            # UNAVAILABLE is refused before anything was sent; anything else (TIMEOUT) may
            # have reached a replica.
            state = None if str(e).startswith("UNAVAILABLE") else "maybe"
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            state = "maybe"
            time.sleep(0.05)
        ms = (time.time() - start) * 1000.0
        latency.append((start, "set", ms, state == "acked"))
        if state is None:
            counts["refused"] += 1
        else:
            counts[state] += 1
            writes.setdefault(key, []).append([value, state])

        read_key = f"ld:{t}:{(seq * 7) % key_count}"
        conn = conns[turn % len(conns)]
        turn += 1
        start = time.time()
        ok = True
        try:
            conn.get(read_key)
        except (redis.exceptions.RedisError, OSError):
            ok = False
            counts["get_errors"] += 1
        counts["gets"] += 1
        latency.append((start, "get", (time.time() - start) * 1000.0, ok))
        spent = time.time() - start
        if spent < pause:
            time.sleep(pause - spent)
    with lock:
        out["writes"].update(writes)
        out["latency"].extend(latency)
        for k, v in counts.items():
            out["counts"][k] = out["counts"].get(k, 0) + v


def cmd_load(args):
    d, ports, threads, key_count = args[0], [int(p) for p in args[1].split(",")], int(args[2]), \
        int(args[3])
    out = {"writes": {}, "latency": [], "counts": {}}
    lock = threading.Lock()
    workers = [threading.Thread(target=load_thread,
                                args=(t, ports, key_count, os.path.join(d, "stop"), out, lock))
               for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    with open(os.path.join(d, "writes.json"), "w") as f:
        json.dump(out["writes"], f)
    with open(os.path.join(d, "latency.csv"), "w") as f:
        for start, op, ms, ok in sorted(out["latency"]):
            f.write(f"{start:.6f},{op},{ms:.3f},{int(ok)}\n")
    with open(os.path.join(d, "load.json"), "w") as f:
        json.dump(out["counts"], f)
    return 0


def expected_values(d, prefix, count):
    """{key: set of acceptable answers}: the last acked value and any maybe sent after it."""
    want = {f"{prefix}:{i}": {f"v{i}"} for i in range(1, count + 1)}
    if d is None:
        return want
    with open(os.path.join(d, "writes.json")) as f:
        writes = json.load(f)
    for key, history in writes.items():
        ok = set()
        for value, state in history:
            if state == "acked":
                ok = {value}
            else:
                ok.add(value)
        if not any(state == "acked" for _, state in history):
            ok.add(None)      # only maybes: absent is an answer too
        want[key] = ok
    return want


def pipelined(conn, commands, chunk=500):
    answers = []
    for at in range(0, len(commands), chunk):
        pipe = conn.pipeline(transaction=False)
        for c in commands[at:at + chunk]:
            pipe.execute_command(*c)
        answers.extend(pipe.execute(raise_on_error=False))
    return answers


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def cmd_verify(args):
    d, ports, prefix, count = args[0], [int(p) for p in args[1].split(",")], args[2], \
        int(args[3])
    want = expected_values(d, prefix, count)
    keys = sorted(want)
    conns = [connect(p) for p in ports]
    bad = []
    for how in ("GET", "RK.GET R 3"):
        for c_index, conn in enumerate(conns):
            mine = keys[c_index::len(conns)]
            if how == "GET":
                answers = pipelined(conn, [("GET", k) for k in mine])
            else:
                answers = pipelined(conn, [("RK.GET", k, "R", "3") for k in mine])
            for k, a in zip(mine, answers):
                if how != "GET" and isinstance(a, list):
                    # [context, [value...]]: exactly one value under lww, none when absent
                    values = a[1] if len(a) == 2 and isinstance(a[1], list) else None
                    if values is not None and len(values) <= 1:
                        a = text(values[0]) if values else None
                    else:
                        a = repr(a)   # siblings or a shape not expected: never acceptable
                else:
                    a = a if isinstance(a, Exception) else text(a)
                if isinstance(a, Exception) or a not in want[k]:
                    bad.append((how, ports[c_index], k, repr(a), sorted(map(str, want[k]))[:3]))
    with open(os.path.join(d, "load.json")) as f:
        counts = json.load(f)
    acked_keys = sum(1 for k in want if not k.startswith(prefix + ":"))
    print(f"verified {len(keys)} keys ({count} preloaded, {acked_keys} written by the load; "
          f"load counts {json.dumps(counts, sort_keys=True)}) with GET and RK.GET R 3")
    for b in bad[:5]:
        print(f"  {b[0]} via port {b[1]}: {b[2]} answered {b[3]}, acceptable {b[4]}")
    print(f"lost {len(bad)}")
    return 1 if bad else 0


def cmd_placement(args):
    ports = [int(p) for p in args[0].split(",")]
    ids = [int(i) for i in args[1].split(",")]
    prefix, count = args[2], int(args[3])
    d = args[4] if len(args) > 4 else None
    keys = sorted(expected_values(d, prefix, count))
    conns = [connect(p) for p in ports]
    pref = pipelined(conns[0], [("RK.PREFLIST", k) for k in keys])
    held = [pipelined(c, [("RK.LOCAL", k) for k in keys]) for c in conns]
    bad = []
    for k_index, k in enumerate(keys):
        p = pref[k_index]
        want = {int(x) for x in p} if isinstance(p, list) else None
        have = set()
        for n_index, node in enumerate(ids):
            a = held[n_index][k_index]
            if isinstance(a, Exception):
                have.add(f"{node}?")
            elif a is not None:
                have.add(node)
        if want is None or len(want) != 3 or have != want:
            bad.append((k, sorted(want) if want else p, sorted(map(str, have))))
    for b in bad[:5]:
        print(f"  {b[0]}: preflist {b[1]}, held by {b[2]}")
    print(f"misplaced {len(bad)} of {len(keys)}")
    return 1 if bad else 0


def p99(values):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def cmd_latency(args):
    d = args[0]
    phases = []
    with open(os.path.join(d, "phases")) as f:
        for line in f:
            name, at = line.split()
            phases.append((name, float(at)))
    bounds = [(name, at, phases[i + 1][1] if i + 1 < len(phases) else float("inf"))
              for i, (name, at) in enumerate(phases)]
    per = {name: [] for name, _, _ in bounds}
    with open(os.path.join(d, "latency.csv")) as f:
        for line in f:
            start, _, ms, _ = line.split(",")
            start = float(start)
            for name, lo, hi in bounds:
                if lo <= start < hi:
                    per[name].append(float(ms))
                    break
    for name, _, _ in bounds:
        print(f"  phase {name}: {len(per[name])} requests, p99 {p99(per[name]):.1f} ms")
    before = per.get("before", [])
    during = [ms for name in per if name.startswith("transfer") for ms in per[name]]
    print(f"p99_before {p99(before):.1f} p99_during {p99(during):.1f} "
          f"n_before {len(before)} n_during {len(during)}")
    return 0


def main():
    commands = {"load": cmd_load, "verify": cmd_verify, "placement": cmd_placement,
                "latency": cmd_latency}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
