#!/usr/bin/env python3
"""Tabulates bench/alloc_bench's Google Benchmark JSON output.

    python3 bench/report.py build/release/alloc_bench.json [--cpu]

One row per (size, threads): ns per op of gort (gc_new, allocation only) and
of the malloc+free pair of glibc, mimalloc and jemalloc, and gort's ratio to
each (below 1: gort is faster). Prints a plain table, the verdict on the
16-byte target, and the same table in Markdown for docs/benchmarks.md.

Time per op: real (wall) time by default, --cpu for CPU time. For threaded
runs Google Benchmark reports real time as wall time / ops of ALL threads
(an aggregate throughput figure); this script multiplies it by the thread
count, so every row shows the wall time one thread spent per op. CPU time
is already per thread and is used as reported. If the file holds
repetitions with aggregates, the median is used; otherwise the mean of the
iteration runs.

Standard library only.
"""

import argparse
import json
import re
import sys

ALLOCATORS = ("gort", "glibc", "mimalloc", "jemalloc")
PEERS = ALLOCATORS[1:]
NAME_RE = re.compile(r"^(?P<alloc>[a-z]+)/(?P<size>\d+)(?:/|$)")
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
TARGET_SIZE = 16


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def per_op_ns(bench, use_cpu):
    """Per-thread time per op in ns, as explained in the module docstring."""
    scale = UNIT_NS.get(bench.get("time_unit", "ns"))
    if scale is None:
        raise ValueError(f"unknown time unit {bench.get('time_unit')!r} in {bench['name']}")
    if use_cpu:
        return bench["cpu_time"] * scale
    return bench["real_time"] * scale * bench.get("threads", 1)


def collect(data, use_cpu):
    """{(size, threads): {allocator: ns}} and a note on what was used."""
    runs = {}
    medians = {}
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            print(f"warning: {b['name']} failed: {b.get('error_message', '?')}", file=sys.stderr)
            continue
        m = NAME_RE.match(b.get("run_name", b["name"]))
        if not m or m.group("alloc") not in ALLOCATORS:
            continue
        key = (int(m.group("size")), int(b.get("threads", 1)), m.group("alloc"))
        run_type = b.get("run_type", "iteration")
        if run_type == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[key] = per_op_ns(b, use_cpu)
        else:
            runs.setdefault(key, []).append(per_op_ns(b, use_cpu))
    table = {}
    for key in set(runs) | set(medians):
        size, threads, alloc = key
        value = medians[key] if key in medians else sum(runs[key]) / len(runs[key])
        table.setdefault((size, threads), {})[alloc] = value
    note = "median of repetitions" if medians else "mean of iteration runs"
    return table, note


def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}"


def rows(table):
    header = ["size (B)", "threads"] + [f"{a} ns/op" for a in ALLOCATORS] + [f"gort/{p}" for p in PEERS]
    out = []
    for (size, threads) in sorted(table):
        r = table[(size, threads)]
        g = r.get("gort")
        out.append([str(size), str(threads)] + [fmt_ns(r.get(a)) for a in ALLOCATORS]
                   + [fmt_ratio(g, r.get(p)) for p in PEERS])
    return header, out


def print_plain(header, body):
    widths = [max(len(header[i]), *(len(row[i]) for row in body)) for i in range(len(header))]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for row in body:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))


def print_markdown(header, body):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for row in body:
        print("| " + " | ".join(row) + " |")


def machine_info(ctx):
    scaling = ctx.get("cpu_scaling_enabled")
    scaling_s = "unknown" if scaling is None else ("enabled" if scaling else "disabled")
    parts = [
        f"date {ctx.get('date', '?')}",
        f"host {ctx.get('host_name', '?')}",
        f"{ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz",
        f"CPU scaling {scaling_s}",
        f"benchmark library build {ctx.get('library_build_type', '?')}",
    ]
    load = ctx.get("load_avg")
    if load:
        parts.append("load avg " + ", ".join(f"{x:.2f}" for x in load))
    caches = ctx.get("caches") or []
    if caches:
        ncpus = ctx.get("num_cpus") or 0

        def cache(c):
            # As Google Benchmark's console header: how many such caches (CPUs / CPUs sharing one).
            count = ncpus // c["num_sharing"] if ncpus and c.get("num_sharing") else None
            text = f"L{c.get('level')} {c.get('type', '?')} {c.get('size', 0) // 1024} KiB"
            return text + (f" (x{count})" if count else "")

        parts.append("caches " + ", ".join(cache(c) for c in caches))
    return "; ".join(parts)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="Google Benchmark JSON output of alloc_bench")
    ap.add_argument("--cpu", action="store_true", help="use CPU time instead of real (wall) time")
    args = ap.parse_args(argv)

    data = load(args.json)
    table, note = collect(data, args.cpu)
    if not table:
        print(f"no gort/glibc/mimalloc/jemalloc results in {args.json}", file=sys.stderr)
        return 1
    ctx = data.get("context", {})
    kind = "CPU time" if args.cpu else "real (wall) time"

    print(f"Allocation cost per op, ns ({kind}, {note}). gort: gc_new only, reclamation untimed;")
    print("peers: one malloc+free pair. Ratios gort/peer: below 1 means gort is faster.")
    if args.cpu:
        print("threads > 1: CPU time per op of each thread, as Google Benchmark reports it.")
    else:
        print("threads > 1: per-thread wall time per op = Google Benchmark's real time (wall time / ops of")
        print("all threads) x thread count; divide by the thread count for aggregate time per op.")
    print()
    header, body = rows(table)
    print_plain(header, body)
    print()

    single = table.get((TARGET_SIZE, 1), {})
    g, mi = single.get("gort"), single.get("mimalloc")
    if g is None or mi is None:
        print(f"Target ({TARGET_SIZE}-byte gc_new <= mimalloc malloc+free, 1 thread): no data in this run")
    else:
        verdict = "MET" if g <= mi else "NOT met"
        print(f"Target ({TARGET_SIZE}-byte gc_new at or below mimalloc's malloc+free pair, 1 thread): {verdict}: "
              f"gort {fmt_ns(g)} ns/op vs mimalloc {fmt_ns(mi)} ns/op (ratio {fmt_ratio(g, mi)})")
    print()
    print(f"Machine: {machine_info(ctx)}")
    print()
    print("Markdown:")
    print()
    print_markdown(header, body)
    print()
    print(f"ns/op, {kind}; threads > 1: " + ("CPU time per op per thread." if args.cpu else
          "wall time per op per thread (Google Benchmark real time x threads)."))
    print(f"Machine: {machine_info(ctx)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
