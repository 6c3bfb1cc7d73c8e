#!/usr/bin/env python3
"""Runs the binary-trees benchmark over gort and its peers and tabulates it.

    python3 bench/binarytrees/run.py --build build/release [--depth 21] [--repeat 3]

Runs bt_gort (with the default collector), bt_gort_genbarrier (the same
program on the library built with the write barrier's generational layout,
GORT_GENERATIONAL_BARRIER, which is how a program that runs minor cycles is
meant to be built: <gort/internal/barrier.hpp>) twice, as "gort-gen" with
GODEBUG=gcgen=1,gcstoptheworld=1, minor cycles stopping the world, and as
"gort-gen-concurrent" with GODEBUG=gcgen=1, minor cycles with concurrent
marking, then bt_go, bt_boehm, bt_glibc,
bt_mimalloc and bt_jemalloc (built
by bench/binarytrees/CMakeLists.txt under BUILD/bench/binarytrees) at the
given depth, one at a time, REPEAT times each, the variants taking turns
(one run of each per round). For every run it takes the
wall-clock time and the peak RSS of that child alone (its own rusage from
os.wait4, not the RUSAGE_CHILDREN total), and checks its output against the
expected one (computed here from the depth) and so against every other run.

Prints machine information, a Markdown table (median wall time, largest peak
RSS, and each variant's time and RSS divided by gort's) and the issue's two
targets as MET / NOT MET / SKIPPED, for each gort variant:
  - gort faster than Go and Boehm by at least 3x
  - gort peak RSS below Go's

Until gort has a collector (bt_features.json, written at configure time,
says whether `gc::collect()` compiled) bt_gort reclaims nothing and would
need many GB at depth 21, so it is skipped; --gort-without-collector runs it
anyway (only sensible at small depths).

Exit status: 0 when every run that ran succeeded with the expected output,
1 otherwise (a failure, a timeout, a wrong or differing output, a missing
binary). The targets being NOT MET does not fail the run.

Standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

VARIANTS = ("gort", "gort-gen", "gort-gen-concurrent", "go", "boehm", "glibc", "mimalloc", "jemalloc")
LABELS = {
    "gort": "gort (gc_new, collector)",
    "gort-gen": "gort, generational barrier, GODEBUG=gcgen=1,gcstoptheworld=1 (minor cycles)",
    "gort-gen-concurrent": "gort, generational barrier, GODEBUG=gcgen=1 (minor cycles, concurrent marking)",
    "go": "Go (GC)",
    "boehm": "Boehm GC",
    "glibc": "glibc malloc/free",
    "mimalloc": "mimalloc mi_malloc/mi_free",
    "jemalloc": "jemalloc mallocx/dallocx",
}
# Variants that run another binary than bt_<variant>, under their own
# environment: bt_gort_genbarrier (until the twenty-third session,
# 2026-12-07, both ran bt_gort, whose barrier jumps out of line to every
# card). In a build configured with GORT_GENERATIONAL_BARRIER=ON, bt_gort
# itself has the generational barrier, and so does the "gort" row.
SAME_BINARY = {"gort-gen": "gort_genbarrier", "gort-gen-concurrent": "gort_genbarrier"}
ENVS = {"gort-gen": {"GODEBUG": "gcgen=1,gcstoptheworld=1"}, "gort-gen-concurrent": {"GODEBUG": "gcgen=1"}}
TARGET_SPEEDUP = 3.0
MIN_DEPTH = 4


def binary_path(bindir, variant):
    # bt_go is built into go/ (see CMakeLists.txt); the C++ ones sit in bindir.
    variant = SAME_BINARY.get(variant, variant)
    if variant == "go":
        return os.path.join(bindir, "go", "bt_go")
    return os.path.join(bindir, "bt_" + variant)


def expected_output(depth):
    """The program's output, from its definition: a tree of depth d has
    2^(d+1) - 1 nodes."""
    max_depth = max(MIN_DEPTH + 2, depth)

    def nodes(d):
        return (1 << (d + 1)) - 1

    lines = ["stretch tree of depth %d\t check: %d" % (max_depth + 1, nodes(max_depth + 1))]
    for d in range(MIN_DEPTH, max_depth + 1, 2):
        iterations = 1 << (max_depth - d + MIN_DEPTH)
        lines.append("%d\t trees of depth %d\t check: %d" % (iterations, d, iterations * nodes(d)))
    lines.append("long lived tree of depth %d\t check: %d" % (max_depth, nodes(max_depth)))
    return "\n".join(lines) + "\n"


def run_once(path, depth, timeout, spawn, extra_env=None):
    """Runs one child; returns (wall seconds, peak RSS in bytes, exit code,
    stdout, stderr, timed_out).

    With spawn (the bt_spawn helper) the helper forks and execs the child and
    reports the child's wall time and its own ru_maxrss from wait4, so the
    RSS does not start from this Python process's footprint (see
    bt_spawn.cpp). Without it the child is spawned here and reaped with a
    blocking os.wait4 on its pid, whose ru_maxrss then includes Python's
    ~15 MB. On timeout a timer stops the child: SIGTERM to bt_spawn, which
    kills and reaps the child and still reports, or SIGKILL to a direct
    child. An exception here (Ctrl-C) kills the child's whole group."""
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f, \
            tempfile.NamedTemporaryFile(mode="r", prefix="bt_result_") as res_f:
        argv = [path, str(depth)]
        if spawn:
            argv = [spawn, res_f.name] + argv
        killed = threading.Event()
        lock = threading.Lock()
        exited = False
        start = time.perf_counter()
        env = dict(os.environ, **(extra_env or {}))
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f,
                                start_new_session=True, env=env)

        def stop():
            with lock:
                if not exited:  # still running (and not reaped: the pid is still ours)
                    killed.set()
                    os.kill(proc.pid, signal.SIGTERM if spawn else signal.SIGKILL)

        timer = threading.Timer(timeout, stop) if timeout > 0 else None
        try:
            if timer:
                timer.start()
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # wait, but leave it unreaped
            wall = time.perf_counter() - start
            with lock:
                exited = True
            _, status, ru = os.wait4(proc.pid, 0)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)  # the leader is not reaped yet: the group is ours
            os.wait4(proc.pid, 0)
            proc.returncode = -signal.SIGKILL
            raise
        finally:
            if timer:
                timer.cancel()
                timer.join()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
        code = proc.returncode
        rss = ru.ru_maxrss * 1024
        if spawn and code == 0:
            fields = res_f.read().split()
            if len(fields) != 3:
                raise RuntimeError("bt_spawn wrote no result for %s" % path)
            wall = int(fields[0]) / 1e9
            rss = int(fields[1]) * 1024
            code = os.waitstatus_to_exitcode(int(fields[2]))
        elif spawn:
            err_f.seek(0)
            raise RuntimeError("bt_spawn failed (exit %d) running %s: %s"
                               % (code, path, err_f.read().decode("utf-8", "replace")))
        out_f.seek(0)
        err_f.seek(0)
        out = out_f.read().decode("utf-8", "replace")
        err = err_f.read().decode("utf-8", "replace")
    return wall, rss, code, out, err, killed.is_set()


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info():
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    try:
        load = " ".join("%.2f" % x for x in os.getloadavg())
    except OSError:
        load = "unknown"
    mem = "unknown"
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / (1 << 20))
                    break
    except OSError:
        pass
    return [
        ("date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("nproc", "%s (online %s)" % (usable, os.cpu_count())),
        ("cpu", cpu_model()),
        ("memory", mem),
        ("kernel", platform.release()),
        ("load average before", load),
    ]


def fmt_ratio(x, base):
    if base is None or x is None or base == 0:
        return "-"
    return "%.2fx" % (x / base)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build/release", help="the CMake build directory (default build/release)")
    ap.add_argument("--depth", type=int, default=21, help="tree depth (default 21)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per variant (default 3)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma-separated subset of: " + ", ".join(VARIANTS))
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds per run before it is killed; 0: none (default 600)")
    ap.add_argument("--gort-without-collector", action="store_true",
                    help="run bt_gort even when gort has no collector (it then frees nothing)")
    args = ap.parse_args()
    if args.depth < 0 or args.depth > 30:
        ap.error("--depth must be in 0..30")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in chosen:
        if v not in VARIANTS:
            ap.error("unknown variant %r (known: %s)" % (v, ", ".join(VARIANTS)))

    bindir = os.path.join(args.build, "bench", "binarytrees")
    features = {}
    try:
        with open(os.path.join(bindir, "bt_features.json"), encoding="utf-8") as f:
            features = json.load(f)
    except (OSError, ValueError):
        pass
    has_collector = bool(features.get("gort_has_collector", 0))

    print("## binary-trees, depth %d, %d run(s) per variant" % (args.depth, args.repeat))
    print()
    for k, v in machine_info():
        print("- %s: %s" % (k, v))
    print("- gort: collector %s, node fields %s" % (
        "yes" if has_collector else "no",
        "gc::member<node>" if features.get("gort_has_member") else "raw node*"))

    spawn = os.path.join(bindir, "bt_spawn")
    if not os.access(spawn, os.X_OK):
        spawn = None
    print("- measured %s" % ("through bt_spawn (fork/exec/wait4): wall time and the child's own ru_maxrss"
                             if spawn else
                             "directly (bt_spawn not built): the peak RSS includes this Python process's "
                             "~15 MB as a floor"))
    print()

    expected = expected_output(args.depth)
    results = {}  # variant -> dict(times, rsses)
    notes = []
    failed = False
    # The variants take turns, one run each per round (v1 v2 ... v1 v2 ...),
    # so that a drift of the host's speed over the minutes the benchmark
    # takes (up to 40% between sets on the shared VM) falls on every variant
    # alike rather than on whichever ran last.
    runnable = []
    for v in chosen:
        path = binary_path(bindir, v)
        if v.startswith("gort") and not has_collector and not args.gort_without_collector:
            msg = "%s: skipped (no collector yet)" % v
            print(msg, flush=True)
            notes.append(msg)
            continue
        if not os.access(path, os.X_OK):
            msg = "%s: MISSING binary %s (build the binarytrees target)" % (v, path)
            print(msg, file=sys.stderr, flush=True)
            notes.append(msg)
            failed = True
            continue
        runnable.append((v, path))
    times = {v: [] for v, _ in runnable}
    rsses = {v: [] for v, _ in runnable}
    broken = set()
    for i in range(args.repeat):
        for v, path in runnable:
            if v in broken:
                continue
            wall, rss, code, out, err, timed_out = run_once(path, args.depth, args.timeout, spawn, ENVS.get(v))
            status = "ok"
            if timed_out:
                status = "TIMEOUT after %g s" % args.timeout
            elif code != 0:
                status = "FAILED (exit %d)" % code if code > 0 else "FAILED (signal %d)" % -code
            elif out != expected:
                status = "WRONG OUTPUT"
            print("%-9s run %d/%d: %7.3f s  %8.1f MB  %s" % (v, i + 1, args.repeat, wall, rss / 1e6, status),
                  flush=True)
            if status != "ok":
                broken.add(v)
                failed = True
                if err.strip():
                    print("  stderr: " + err.strip()[-2000:], file=sys.stderr)
                if status == "WRONG OUTPUT":
                    print("  expected:\n" + expected + "  got:\n" + out, file=sys.stderr)
                notes.append("%s: run %d %s" % (v, i + 1, status))
                continue
            times[v].append(wall)
            rsses[v].append(rss)
    for v, _ in runnable:
        if v not in broken:
            results[v] = {"time": statistics.median(times[v]), "rss": max(rsses[v]), "times": times[v]}
    print()

    ran = [v for v in chosen if v in results]
    if len(ran) > 1:
        print("Outputs: all %d runs of %s identical to each other and to the expected output."
              % (len(ran) * args.repeat, ", ".join(ran)))
    elif ran:
        print("Outputs: %s's runs match the expected output." % ran[0])
    print()

    gort = results.get("gort")
    gt = gort["time"] if gort else None
    gr = gort["rss"] if gort else None
    print("| variant | wall s (median) | peak RSS MB | time / gort's | RSS / gort's |")
    print("|---|---:|---:|---:|---:|")
    for v in chosen:
        if v in results:
            r = results[v]
            print("| %s | %.2f | %.1f | %s | %s |" % (LABELS[v], r["time"], r["rss"] / 1e6,
                                                     fmt_ratio(r["time"], gt), fmt_ratio(r["rss"], gr)))
        else:
            why = "skipped" if v.startswith("gort") and not has_collector and not args.gort_without_collector else "failed"
            print("| %s | %s | %s | - | - |" % (LABELS[v], why, why))
    print()
    print("Wall time is the median of the runs, peak RSS the largest (MB = 10^6 bytes);")
    print("a ratio above 1 means that variant took longer / more memory than gort.")
    if gort and not has_collector:
        print("Note: gort ran WITHOUT a collector (--gort-without-collector): it reclaimed nothing.")
    print()

    # The targets, for the default collector and for minor cycles.
    go, boehm = results.get("go"), results.get("boehm")
    for name in ("gort", "gort-gen", "gort-gen-concurrent"):
        g = results.get(name)
        if name not in chosen:
            continue
        if g and go and boehm:
            sg, sb = go["time"] / g["time"], boehm["time"] / g["time"]
            verdict = "MET" if sg >= TARGET_SPEEDUP and sb >= TARGET_SPEEDUP else "NOT MET"
            print("Target (%s): faster than Go and Boehm by at least %gx: %s (%.2f s; Go %.2f s = %.2fx, "
                  "Boehm %.2f s = %.2fx)" % (name, TARGET_SPEEDUP, verdict, g["time"], go["time"], sg,
                                             boehm["time"], sb))
        else:
            print("Target (%s): faster than Go and Boehm by at least %gx: SKIPPED (needs %s, Go and Boehm runs)"
                  % (name, TARGET_SPEEDUP, name))
        if g and go:
            verdict = "MET" if g["rss"] < go["rss"] else "NOT MET"
            print("Target (%s): peak RSS below Go's: %s (%.1f MB, Go %.1f MB)" % (name, verdict, g["rss"] / 1e6,
                                                                              go["rss"] / 1e6))
        else:
            print("Target (%s): peak RSS below Go's: SKIPPED (needs %s and Go runs)" % (name, name))
    for n in notes:
        print("Note: " + n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
