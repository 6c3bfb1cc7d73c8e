// src/gc/gctrace.hpp: the GODEBUG=gctrace=1 line, in Go's exact layout.
//
// Algorithm
// 1. The collector fills a gc_cycle_record at the end of each cycle and,
//    when gctrace >= 1, passes it to gctrace_line (pure) or emit_gctrace
//    (one write(2) of the line and a newline to stderr).
// 2. gctrace_line lays the fields out as Go's runtime does:
//      gc N @S.SSSs P%: C+C+C ms clock, C+C/C/C+C ms cpu,
//      H0->H1->H2 MB, G MB goal, K MB stacks, L MB globals, N P[ (forced)]
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
};

// The regular expression (ECMAScript, for std::regex) of one trace line,
// without the newline; capture groups in field order: 1 cycle, 2 seconds,
// 3 percent, 4-6 clock ms, 7-11 cpu ms, 12-14 MB, 15 goal, 16 stacks,
// 17 globals, 18 P, 19 " (forced)" or empty.
inline constexpr const char* gctrace_line_regex =
    R"(^gc (\d+) @(\d+\.\d{3})s (\d+)%: )"
    R"((\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?) ms clock, )"
    R"((\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?) ms cpu, )"
    R"((\d+)->(\d+)->(\d+) MB, (\d+) MB goal, (\d+) MB stacks, (\d+) MB globals, (\d+) P( \(forced\))?$)";

// Go's fmtNSAsMS (step 3).
std::string format_ns_as_ms(std::uint64_t ns);

// value / 10^decimals with exactly `decimals` digits after the point and at
// least one before it (Go's itoaDiv): (19, 3) -> "0.019", (2034, 3) -> "2.034",
// (7, 0) -> "7".
std::string format_fixed_point(std::uint64_t value, int decimals);

// The trace line for one cycle, without the trailing newline.
std::string gctrace_line(const gc_cycle_record& r);

// Writes gctrace_line(r) and "\n" to stderr in one write(2), so lines from
// concurrent writers do not interleave.
void emit_gctrace(const gc_cycle_record& r);

}  // namespace gc::internal
