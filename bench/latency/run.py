#!/usr/bin/env python3
"""Runs the latency benchmark (bench/latency) on gort, Go and Boehm GC and
prints one table: total time, batch-time median, p99, p99.9 and worst, peak
RSS, collections, and the longest stop of the world.

Each program runs through bin/binarytrees' bt_spawn helper (wall time and the
child's own peak RSS from wait4). gort and Go run with GODEBUG=gctrace=1:
their stops are the first and third "clock" fields of each trace line (mark
start and mark termination); Boehm GC, which stops the world for the whole
collection here, reports its longest collection itself. Medians over the runs
for the times, the largest value for RSS and stops; the variants take turns,
one run of each per round. "gort-gen" is the program built with the write
barrier's generational layout (GORT_GENERATIONAL_BARRIER, lat_gort_genbarrier;
gort's own binary until 2026-12-07) and run with minor cycles
(GODEBUG=gcgen=1), shown for comparison: this program's objects die old,
the workload that minor cycles serve worst.
The default variants are gort, go and boehm."""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

VARIANTS = ("gort", "go", "boehm")
KNOWN = VARIANTS + ("gort-gen",)
TRACE = re.compile(r"^gc \d+ @[\d.]+s \d+%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock")
RESULT = re.compile(r"(\w+)=([\d.]+)")


def binary(build, variant):
    d = os.path.join(build, "bench", "latency")
    if variant == "go":
        return os.path.join(d, "go", "lat_go")
    return os.path.join(d, "lat_" + ("gort_genbarrier" if variant == "gort-gen" else variant))


def run_once(spawn, path, slots, replacements, env):
    with tempfile.NamedTemporaryFile(mode="r", prefix="lat_result_") as res, \
            tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code = subprocess.call([spawn, res.name, path, str(slots), str(replacements)],
                               stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        fields = res.read().split()
    if code != 0 or len(fields) != 3 or fields[2] != "0":
        raise RuntimeError("%s failed: %s %s" % (path, stdout, stderr[-2000:]))
    r = {k: float(v) for k, v in RESULT.findall(stdout)}
    r["wall_s"] = int(fields[0]) / 1e9
    r["rss_mb"] = int(fields[1]) * 1024 / 1e6
    stops = []
    for line in stderr.splitlines():
        m = TRACE.match(line)
        if m:
            stops += [float(m.group(1)) * 1000, float(m.group(3)) * 1000]
    if stops:
        r["longest_stop_us"] = max(stops)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--slots", type=int, default=2000000)
    ap.add_argument("--replacements", type=int, default=20000000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--spinners", type=int, default=0,
                    help="compute-bound threads beside the allocating one (LAT_SPINNERS; default 0)")
    a = ap.parse_args()
    spawn = os.path.join(a.build, "bench", "binarytrees", "bt_spawn")
    print("latency: %d slots of 3-node lists, %d replacements, batches of 1000; %d runs each; %d spinning threads"
          % (a.slots, a.replacements, a.repeat, a.spinners))
    print("load average before: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    variants = a.variants.split(",")
    envs = {}
    for v in variants:
        if v not in KNOWN:
            ap.error("unknown variant %r (known: %s)" % (v, ", ".join(KNOWN)))
        env = dict(os.environ)
        env["LAT_SPINNERS"] = str(a.spinners)
        if v in ("gort", "go"):
            env["GODEBUG"] = "gctrace=1"
        if v == "gort-gen":
            env["GODEBUG"] = "gctrace=1,gcgen=1"
        if v == "go":
            env.update({"GOFLAGS": "", "GOENV": "off"})
        envs[v] = env
    # The variants take turns, one run each per round, so that the host's
    # drift over the minutes this takes falls on all of them alike.
    runs = {v: [] for v in variants}
    for i in range(a.repeat):
        for v in variants:
            r = run_once(spawn, binary(a.build, v), a.slots, a.replacements, envs[v])
            print("%-8s run %d/%d: total %.2f s, median %.0f us, p99 %.0f us, p99.9 %.0f us, worst %.0f us, "
                  "%.0f MB, %d cycles, longest stop %.0f us"
                  % (v, i + 1, a.repeat, r["total_s"], r["median_us"], r["p99_us"], r["p999_us"], r["worst_us"],
                     r["rss_mb"], r["cycles"], r.get("longest_stop_us", float("nan"))))
            sys.stdout.flush()
            runs[v].append(r)
    rows = []
    for v in variants:
        med = lambda k: statistics.median(x[k] for x in runs[v])
        rows.append((v, med("total_s"), med("median_us"), med("p99_us"), med("p999_us"), med("worst_us"),
                     max(x["rss_mb"] for x in runs[v]), med("cycles"),
                     max(x.get("longest_stop_us", float("nan")) for x in runs[v])))
    print()
    print("| collector | total s | median us | p99 us | p99.9 us | worst us | peak RSS MB | cycles | longest stop us |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for v, total, med_, p99, p999, worst, rss, cycles, stop in rows:
        print("| %s | %.2f | %.0f | %.0f | %.0f | %.0f | %.1f | %.0f | %.0f |"
              % (v, total, med_, p99, p999, worst, rss, cycles, stop))
    print()
    print("(medians over the runs; peak RSS and longest stop: the largest; MB = 10^6 bytes)")


if __name__ == "__main__":
    main()
