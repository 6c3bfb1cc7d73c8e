// src/gc/gctrace.hpp: the GODEBUG=gctrace=1 line, in Go's exact layout.
//
// Algorithm
// 1. The collector fills a gc_cycle_record at the end of each cycle and,
//    when gctrace >= 1, passes it to gctrace_line (pure) or emit_gctrace
//    (one write(2) of the line and a newline to stderr).
// 2. gctrace_line lays the fields out as Go's runtime does:
//      gc N @S.SSSs P%: C+C+C ms clock, C+C/C/C+C ms cpu,
//      H0->H1->H2 MB, G MB goal, K MB stacks, L MB globals, N P[ (forced)| (minor)]
//    (one line; wrapped here only for width). docs/gctrace.md explains each
//    field as gort's collector fills it.
// 3. Numbers are formatted as Go formats them:
//    - @S.SSSs: the start time truncated to whole milliseconds, printed as
//      seconds with exactly three decimals ("0.019", "12.345").
//    - P%: int(gc_cpu_fraction * 100), truncated (negative, NaN or
//      infinite -> 0).
//    - every ms value (format_ns_as_ms): 10 ms or more -> whole milliseconds
//      ("12", "143"); below that, the value in whole microseconds cut to
//      two significant digits, with at most three decimals: 15 us -> "0.015",
//      260 us -> "0.26", 2.6 ms -> "2.6", 100 us -> "0.10"; under 1 us -> "0".
//      Every cut truncates (never rounds up).
//    - MB values: bytes >> 20 (truncated mebibytes).
//
// 4. gctrace=2 adds a second line per cycle (gctrace_stops_line), gort's
//    own, saying where each stop of the world went, in whole microseconds
//    (truncated); the parts of a stop add up to its clock figure above:
//      gc N stops (us): start T = threads W (S signalled, D deferred)
//        + sweep A + setup B + other C; termination T = threads W (...)
//        + rescan A + buffers B + drain C (K B) + sweep E + other F
//    and for a stop-the-world cycle (one stop, the three clock figures):
//      gc N stop (us): T = threads W (S signalled, D deferred)
//        + sweep termination A + mark B + sweep C + other D
//    threads: from the stop request until every other thread had stopped;
//    signalled: threads that reached no safe point in the grace period;
//    deferred: threads that held the stop off until they released a runtime
//    lock; rescan: stacks of signalled threads and add_roots ranges; buffers:
//    the write-barrier values the threads had not shaded; drain: marking
//    left for the stop, and its scan work; sweep: the sweep phase's start
//    (and, stop-the-world, the sweep); other: the rest (the stop's own
//    bookkeeping). docs/gctrace.md.
//
// 5. gctrace=2, concurrent cycles: a third line (gctrace_work_line) says
//    who did the marking and how fast, gort's own too:
//      gc N mark work: assists A KB in T us (R MB/s), waits W us,
//        background B KB in U us (S MB/s), termination C KB
//    A: the scan work of mark assists, T their time (the cpu field's
//    assist figure); W: the time allocating threads waited past the goal
//    for the workers to scan what they owed, or for the cycle's end (not
//    in the cpu field); B: the background and idle workers' scan work, U
//    their CPU time; C: the scan work left for mark termination. KB = 1024 bytes,
//    MB/s = 10^6 bytes per second, all truncated. An assist scanning much
//    slower than the background says the program's thread pays more for
//    the same marking than a worker would (cold caches, short assists).
//
// Invariants
//   The line matches gctrace_line_regex, which also matches the lines of a
//   real Go program (Go 1.19 and later print the stacks and globals fields),
//   so one regex checks both in tests.
//
// Reference: the "gctrace" paragraph of Go's runtime package documentation
// (runtime/extern.go), and gcMarkTermination / fmtNSAsMS in runtime/mgc.go.
#pragma once

#include <cstdint>
#include <string>

namespace gc::internal {

struct gc_cycle_record {
  std::uint64_t cycle = 0;        // the GC number, 1 for the first collection
  std::uint64_t start_ns = 0;     // when the cycle started, ns since program start
  double gc_cpu_fraction = 0;     // share (0..1) of the process's CPU time used by GC since program start

  // Wall-clock time of the three phases, ns.
  std::uint64_t sweep_term_clock_ns = 0;  // sweep termination (stop, finish sweeping)
  std::uint64_t mark_clock_ns = 0;        // mark and scan
  std::uint64_t mark_term_clock_ns = 0;   // mark termination

  // CPU time, ns, summed over every thread doing GC work.
  std::uint64_t sweep_term_cpu_ns = 0;
  std::uint64_t assist_cpu_ns = 0;      // mark work done by allocating threads
  std::uint64_t background_cpu_ns = 0;  // mark work done by dedicated/fractional workers
  std::uint64_t idle_cpu_ns = 0;        // mark work done on otherwise idle processors
  std::uint64_t mark_term_cpu_ns = 0;

  std::uint64_t heap_start_bytes = 0;  // heap in use when the cycle started
  std::uint64_t heap_end_bytes = 0;    // heap in use when marking ended
  std::uint64_t heap_live_bytes = 0;   // bytes marked live
  std::uint64_t heap_goal_bytes = 0;   // the goal this cycle was paced toward
  std::uint64_t stacks_bytes = 0;      // stack bytes scanned (Go: scannable stack estimate)
  std::uint64_t globals_bytes = 0;     // global root bytes scanned
  std::uint64_t procs = 0;             // processors (threads) the collector could use
  bool forced = false;                 // started by an explicit request (Go: runtime.GC()), not by the pacer
  bool minor = false;                  // a minor cycle (GODEBUG=gcgen=1): old objects were not marked again

  // gctrace=2 (step 4): where the stops' time went.
  struct stop_parts {
    std::uint64_t threads_ns = 0;  // until every other thread had stopped
    std::uint32_t signalled = 0;
    std::uint32_t deferred = 0;
    std::uint64_t phase_ns[3] = {};  // the stop's phases, in the order step 4 names them
  };
  bool concurrent = false;
  stop_parts start_stop;  // concurrent: the mark-start stop; stop-the-world: the one stop
  stop_parts term_stop;   // concurrent: mark termination (phase_ns: rescan, buffers, drain)
  std::uint64_t term_sweep_ns = 0;     // concurrent: mark termination's sweep part
  std::uint64_t term_drained_bytes = 0;  // concurrent: scan work done inside mark termination
  // gctrace=2 (step 5), concurrent cycles: who did the marking. Scan work in
  // bytes; the times are assist_cpu_ns and background_cpu_ns + idle_cpu_ns.
  std::uint64_t scan_bytes = 0;         // all scan work of the cycle, termination's included
  std::uint64_t assist_scan_bytes = 0;  // the part done by mark assists
  std::uint64_t assist_wait_ns = 0;     // time allocating threads waited past the goal for the workers
};

// The regular expression (ECMAScript, for std::regex) of one trace line,
// without the newline; capture groups in field order: 1 cycle, 2 seconds,
// 3 percent, 4-6 clock ms, 7-11 cpu ms, 12-14 MB, 15 goal, 16 stacks,
// 17 globals, 18 P, 19 " (forced)", " (minor)" (gort's: GODEBUG=gcgen=1) or
// empty.
inline constexpr const char* gctrace_line_regex =
    R"(^gc (\d+) @(\d+\.\d{3})s (\d+)%: )"
    R"((\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?) ms clock, )"
    R"((\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?) ms cpu, )"
    R"((\d+)->(\d+)->(\d+) MB, (\d+) MB goal, (\d+) MB stacks, (\d+) MB globals, (\d+) P( \(forced\)| \(minor\))?$)";

// The regular expression of step 4's line. Capture groups: 1 cycle; for a
// concurrent cycle 2 start total, 3-5 threads/signalled/deferred, 6 sweep,
// 7 setup, 8 other, 9 termination total, 10-12 threads/signalled/deferred,
// 13 rescan, 14 buffers, 15 drain, 16 drained bytes, 17 sweep, 18 other;
// for a stop-the-world cycle 19 total, 20-22 threads/signalled/deferred,
// 23 sweep termination, 24 mark, 25 sweep, 26 other.
inline constexpr const char* gctrace_stops_line_regex =
    R"(^gc (\d+) (?:stops \(us\): start (\d+) = threads (\d+) \((\d+) signalled, (\d+) deferred\) )"
    R"(\+ sweep (\d+) \+ setup (\d+) \+ other (\d+); termination (\d+) = threads (\d+) \((\d+) signalled, )"
    R"((\d+) deferred\) \+ rescan (\d+) \+ buffers (\d+) \+ drain (\d+) \((\d+) B\) \+ sweep (\d+) \+ other (\d+))"
    R"(|stop \(us\): (\d+) = threads (\d+) \((\d+) signalled, (\d+) deferred\) \+ sweep termination (\d+) )"
    R"(\+ mark (\d+) \+ sweep (\d+) \+ other (\d+))$)";

// The regular expression of step 5's line. Capture groups: 1 cycle, 2
// assist KB, 3 assist us, 4 assist MB/s, 5 waits us, 6 background KB, 7
// background us, 8 background MB/s, 9 termination KB.
inline constexpr const char* gctrace_work_line_regex =
    R"(^gc (\d+) mark work: assists (\d+) KB in (\d+) us \((\d+) MB/s\), waits (\d+) us, )"
    R"(background (\d+) KB in (\d+) us \((\d+) MB/s\), termination (\d+) KB$)";

// Go's fmtNSAsMS (step 3).
std::string format_ns_as_ms(std::uint64_t ns);

// value / 10^decimals with exactly `decimals` digits after the point and at
// least one before it (Go's itoaDiv): (19, 3) -> "0.019", (2034, 3) -> "2.034",
// (7, 0) -> "7".
std::string format_fixed_point(std::uint64_t value, int decimals);

// The trace line for one cycle, without the trailing newline.
std::string gctrace_line(const gc_cycle_record& r);

// Step 4's line for one cycle, without the trailing newline.
std::string gctrace_stops_line(const gc_cycle_record& r);

// Step 5's line for one concurrent cycle, without the trailing newline.
std::string gctrace_work_line(const gc_cycle_record& r);

// Writes gctrace_line(r) and "\n" to stderr in one write(2), so lines from
// concurrent writers do not interleave; with stops, gctrace_stops_line(r)
// and "\n" too, and for a concurrent cycle gctrace_work_line(r) and "\n",
// in the same write.
void emit_gctrace(const gc_cycle_record& r, bool stops = false);

}  // namespace gc::internal
