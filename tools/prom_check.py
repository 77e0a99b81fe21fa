#!/usr/bin/env python3
"""prom_check.py — strict checks of a Prometheus text exposition (format 0.0.4) as ringkvd's
/metrics (or RK.METRICS) prints it, and of a Grafana dashboard against it.

  prom_check.py lint FILE              the exposition's rules, below; exit 1 on any breach
  prom_check.py value FILE SERIES      print one sample's value: SERIES as printed,
                                       e.g. 'ringkv_requests_total{op="put",outcome="ok"}'
                                       (0 when absent)
  prom_check.py dashboard JSON FILE    every ringkv_* name in the dashboard's expressions is
                                       exported by FILE (a family, or a histogram's _bucket,
                                       _sum, _count); exit 1 naming the ones that are not

lint checks: every family has exactly one # HELP and one # TYPE, before its samples; names
and label names are valid, metric names start with ringkv_; counters end in _total; no
series twice; every value parses; histograms: per label set, buckets in ascending le, counts
cumulative (never decreasing), the last le is +Inf and equals _count, and _sum is present.
Only the standard library: tests run it wherever python3 is.
"""
import json
import math
import re
import sys

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_labels(text):
    """'a="x",b="y"' -> (('a','x'),('b','y')); None when malformed."""
    pairs, pos = [], 0
    while pos < len(text):
        m = LABEL_PAIR.match(text, pos)
        if not m:
            return None
        pairs.append((m.group(1), m.group(2)))
        pos = m.end()
    return tuple(pairs)


def parse(text):
    """(families, samples, errors): families name -> {help, type}; samples a list of
    (name, labels tuple, value float, line number)."""
    families, samples, errors = {}, [], []
    seen_samples = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4:
                errors.append(f"line {number}: malformed {line!r}")
                continue
            what, name = parts[1], parts[2]
            fam = families.setdefault(name, {"help": 0, "type": None, "samples": 0})
            if fam["samples"]:
                errors.append(f"line {number}: # {what} {name} after its samples")
            if what == "HELP":
                fam["help"] += 1
            else:
                if fam["type"] is not None:
                    errors.append(f"line {number}: second # TYPE for {name}")
                fam["type"] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append(f"line {number}: not a sample: {line!r}")
            continue
        name, labels_text, value_text = m.group(1), m.group(3) or "", m.group(4)
        labels = parse_labels(labels_text)
        if labels is None:
            errors.append(f"line {number}: malformed labels {labels_text!r}")
            continue
        try:
            value = float(value_text)
        except ValueError:
            errors.append(f"line {number}: value {value_text!r} is not a number")
            continue
        key = (name, labels)
        if key in seen_samples:
            errors.append(f"line {number}: series {name}{{{labels_text}}} twice")
        seen_samples.add(key)
        family = family_of(name, families)
        if family is None:
            errors.append(f"line {number}: {name} has no # TYPE before it")
            continue
        families[family]["samples"] += 1
        samples.append((name, labels, value, number, family))
    return families, samples, errors


def family_of(name, families):
    if name in families:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and base in families and families[base]["type"] == "histogram":
            return base
    return None


def lint(text):
    families, samples, errors = parse(text)
    for name, fam in families.items():
        if not NAME.match(name) or not name.startswith("ringkv_"):
            errors.append(f"family {name}: not a ringkv_ metric name")
        if fam["help"] != 1:
            errors.append(f"family {name}: {fam['help']} # HELP lines, want 1")
        if fam["type"] not in ("counter", "gauge", "histogram"):
            errors.append(f"family {name}: # TYPE {fam['type']}")
        if fam["type"] == "counter" and not name.endswith("_total"):
            errors.append(f"counter {name} does not end in _total")
        if fam["type"] != "counter" and name.endswith("_total"):
            errors.append(f"{fam['type']} {name} ends in _total")
        if fam["samples"] == 0:
            errors.append(f"family {name} has no samples")
    for name, labels, value, number, family in samples:
        for label, _ in labels:
            if not LABEL.match(label) or label.startswith("__"):
                errors.append(f"line {number}: label name {label!r}")
        if families[family]["type"] == "counter" and value < 0:
            errors.append(f"line {number}: counter {name} is negative")
    errors += lint_histograms(families, samples)
    return families, samples, errors


def lint_histograms(families, samples):
    errors = []
    series = {}     # (family, labels without le) -> {"buckets": [(le, v)], "sum", "count"}
    for name, labels, value, number, family in samples:
        if families[family]["type"] != "histogram":
            continue
        rest = tuple(p for p in labels if p[0] != "le")
        entry = series.setdefault((family, rest), {"buckets": [], "sum": None, "count": None})
        if name == family + "_bucket":
            le = dict(labels).get("le")
            if le is None:
                errors.append(f"line {number}: {name} without le")
                continue
            entry["buckets"].append((math.inf if le == "+Inf" else float(le), value, number))
        elif name == family + "_sum":
            entry["sum"] = value
        elif name == family + "_count":
            entry["count"] = value
        else:
            errors.append(f"line {number}: {name} in histogram {family}")
    for (family, rest), entry in series.items():
        where = f"{family}{{{','.join(f'{k}={v}' for k, v in rest)}}}"
        buckets = entry["buckets"]
        if not buckets or buckets[-1][0] != math.inf:
            errors.append(f"{where}: buckets do not end in le=\"+Inf\"")
            continue
        for (le_a, v_a, _), (le_b, v_b, line_b) in zip(buckets, buckets[1:]):
            if le_b <= le_a:
                errors.append(f"line {line_b}: {where} le {le_b} not above {le_a}")
            if v_b < v_a:
                errors.append(f"line {line_b}: {where} bucket {v_b} below the one before "
                              f"({v_a}): not cumulative")
        if entry["count"] is None or entry["sum"] is None:
            errors.append(f"{where}: _count or _sum missing")
        elif buckets[-1][1] != entry["count"]:
            errors.append(f"{where}: +Inf bucket {buckets[-1][1]} != _count {entry['count']}")
    return errors


def value(text, wanted):
    m = SAMPLE.match(wanted + " 0")
    if not m:
        raise SystemExit(f"prom_check: not a series: {wanted}")
    want_name, want_labels = m.group(1), parse_labels(m.group(3) or "")
    for name, labels, v, _, _ in parse(text)[1]:
        if name == want_name and sorted(labels) == sorted(want_labels):
            return v
    return 0.0


def dashboard_names(dashboard):
    """Every ringkv_* name in any "expr" of the dashboard (panels, rows, templating)."""
    names = set()

    def walk(node):
        if isinstance(node, dict):
            for key, item in node.items():
                if key in ("expr", "query", "definition") and isinstance(item, str):
                    names.update(re.findall(r"\bringkv_[a-zA-Z0-9_]+", item))
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dashboard)
    return names


def main(argv):
    if len(argv) == 3 and argv[1] == "lint":
        families, samples, errors = lint(open(argv[2]).read())
        for e in errors:
            print(f"prom_check: {e}")
        print(f"prom_check: {len(families)} families, {len(samples)} samples, "
              f"{len(errors)} errors")
        return 1 if errors else 0
    if len(argv) == 4 and argv[1] == "value":
        v = value(open(argv[2]).read(), argv[3])
        print(int(v) if v == int(v) else v)
        return 0
    if len(argv) == 4 and argv[1] == "dashboard":
        families, samples, _ = parse(open(argv[3]).read())
        exported = {name for name, *_ in samples} | set(families)
        used = dashboard_names(json.load(open(argv[2])))
        missing = sorted(used - exported)
        for name in missing:
            print(f"prom_check: the dashboard uses {name}, which /metrics does not export")
        print(f"prom_check: the dashboard uses {len(used)} names, {len(missing)} missing")
        return 1 if missing or not used else 0
    print(__doc__.split("\n\n")[1])
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
