#!/usr/bin/env python3
"""Alternated A/B runs of benchmark binaries on a noisy machine.

Runs each binary in turn, `rounds` times over (A B C A B C ...), under
/usr/bin/time, and prints per binary the median of every figure: wall and
user seconds, peak RSS (MB = 10^6 bytes), the `key=value` fields the program
prints on stdout (the latency benchmark's), and, for the "*stw" kinds, the
mean background mark CPU of the last 6 cycles in gctrace (ms). Alternation
matters more than the number of rounds on a shared VM: two binaries run one
after the other see the same host.

  bench/ab.py ROUNDS KIND BIN...     KIND: lat | latstw | lattrace | bt | btstw | bttrace | btgen | btgenc

lat runs BIN with no argument (bench/latency), bt runs BIN 21
(bench/binarytrees); the *stw kinds add GODEBUG=gctrace=1,gcstoptheworld=1,
the *trace kinds GODEBUG=gctrace=1; btgen runs binary-trees with
GODEBUG=gcgen=1,gcstoptheworld=1 (make bench's "gort-gen") and btgenc with
GODEBUG=gcgen=1 ("gort-gen-concurrent")."""

import os
import re
import statistics
import subprocess
import sys


def run(binary, kind):
    env = dict(os.environ)
    args = [binary] + (["21"] if kind.startswith("bt") else [])
    if kind.endswith("stw"):
        env["GODEBUG"] = "gctrace=1,gcstoptheworld=1"
    if kind.endswith("trace"):
        env["GODEBUG"] = "gctrace=1"
    if kind == "btgen":
        env["GODEBUG"] = "gcgen=1,gcstoptheworld=1"
    if kind == "btgenc":
        env["GODEBUG"] = "gcgen=1"
    p = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %M"] + args, capture_output=True, text=True, env=env)
    t = re.search(r"TIME ([\d.]+) ([\d.]+) (\d+)", p.stderr)
    if p.returncode != 0 or t is None:
        raise RuntimeError("%s failed (%d): %s" % (binary, p.returncode, p.stderr[-2000:]))
    d = {"wall": float(t.group(1)), "user": float(t.group(2)), "rss": int(t.group(3)) * 1024 / 1e6}
    if kind.endswith("stw"):
        marks = [float(m) for m in re.findall(r"ms clock, [\d.]+\+[\d.]+/([\d.]+)/", p.stderr)]
        if marks:
            d["markcpu"] = sum(marks[-6:]) / len(marks[-6:])
    if kind.endswith("trace"):
        stops = []
        for a, c in re.findall(r"^gc \d+ @[\d.]+s \d+%: ([\d.]+)\+[\d.]+\+([\d.]+) ms clock", p.stderr, re.M):
            stops += [float(a) * 1000, float(c) * 1000]
        if stops:
            stops.sort()
            d["stopmax"] = stops[-1]
            d["stopp90"] = stops[int(0.9 * (len(stops) - 1))]
            d["stops100"] = sum(1 for x in stops if x >= 100)
    for k, v in re.findall(r"(\w+)=([\d.]+)", p.stdout):
        if k != "cycles":
            d[k] = float(v)
    return d


def main():
    if len(sys.argv) < 4 or sys.argv[2] not in ("lat", "latstw", "lattrace", "bt", "btstw", "bttrace", "btgen", "btgenc"):
        sys.exit(__doc__)
    rounds, kind, bins = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    results = {b: [] for b in bins}
    # Odd rounds run the binaries in reverse order: in one fixed order, the
    # first of two builds of the latency benchmark came out 8% faster in
    # total time, twice over 6 rounds, and the two were equal once the order
    # was swapped (2026-12-07, twentieth session).
    for r in range(rounds):
        for b in (bins if r % 2 == 0 else bins[::-1]):
            results[b].append(run(b, kind))
    for b in bins:
        keys = results[b][0].keys()
        def fmt(k):
            vals = [r[k] for r in results[b]]
            spread = " [%.4g..%.4g]" % (min(vals), max(vals)) if k in ("stopmax", "worst_us") else ""
            return "%s=%.4g%s" % (k, statistics.median(vals), spread)
        print(b, " ".join(fmt(k) for k in keys))


if __name__ == "__main__":
    main()
