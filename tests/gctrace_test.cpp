// tests/gctrace_test.cpp: the GODEBUG=gctrace=1 line (src/gc/gctrace):
// Go's number formats, exact lines for known records, and the line regex
// checked against gort's output and against lines printed by a real Go
// program (go1.19.8 linux/amd64, GODEBUG=gctrace=1).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <regex>
#include <string>

#include "gc/gctrace.hpp"

using namespace gc::internal;

namespace {

constexpr std::uint64_t MiB = 1 << 20;

// The records behind the two lines quoted in the runtime documentation's
// style: every field chosen so that truncation, not rounding, is visible.
gc_cycle_record first_record() {
  gc_cycle_record r;
  r.cycle = 1;
  r.start_ns = 19'999'999;  // 19.999999 ms -> "0.019"
  r.gc_cpu_fraction = 0.0199;
  r.sweep_term_clock_ns = 15'000;
  r.mark_clock_ns = 2'699'999;
  r.mark_term_clock_ns = 14'999;
  r.sweep_term_cpu_ns = 31'000;
  r.assist_cpu_ns = 300'500;
  r.background_cpu_ns = 1'000'000;
  r.idle_cpu_ns = 429'999;
  r.mark_term_cpu_ns = 29'000;
  r.heap_start_bytes = 4 * MiB + 123;
  r.heap_end_bytes = 5 * MiB - 1;
  r.heap_live_bytes = 100 * 1024;
  r.heap_goal_bytes = 4 * MiB;
  r.stacks_bytes = 8 * 1024;
  r.globals_bytes = 0;
  r.procs = 2;
  return r;
}

gc_cycle_record forced_record() {
  gc_cycle_record r;
  r.cycle = 7;
  r.start_ns = 2'034'567'000;
  r.gc_cpu_fraction = 0.0399;
  r.sweep_term_clock_ns = 49'000;
  r.mark_clock_ns = 11'900'000;  // >= 10 ms: whole milliseconds
  r.mark_term_clock_ns = 7'000;
  r.sweep_term_cpu_ns = 99'999;
  r.assist_cpu_ns = 150'000;
  r.background_cpu_ns = 4'800'000;
  r.idle_cpu_ns = 9'799'999;
  r.mark_term_cpu_ns = 14'000;
  r.heap_start_bytes = 37 * MiB;
  r.heap_end_bytes = 39 * MiB - 1;
  r.heap_live_bytes = 19 * MiB;
  r.heap_goal_bytes = 39 * MiB + 512 * 1024;
  r.stacks_bytes = 0;
  r.globals_bytes = 0;
  r.procs = 2;
  r.forced = true;
  return r;
}

bool matches(const std::string& line) { return std::regex_match(line, std::regex(gctrace_line_regex)); }

}  // namespace

TEST_CASE("gctrace: milliseconds are formatted as Go's fmtNSAsMS does", "[gctrace]") {
  struct row {
    std::uint64_t ns;
    const char* want;
  };
  for (row r : {
           row{0, "0"},
           row{999, "0"},
           row{1'000, "0.001"},
           row{9'999, "0.009"},
           row{10'000, "0.010"},
           row{15'000, "0.015"},
           row{99'999, "0.099"},
           row{100'000, "0.10"},
           row{260'000, "0.26"},
           row{999'999, "0.99"},
           row{1'000'000, "1.0"},
           row{2'600'000, "2.6"},
           row{9'999'999, "9.9"},
           row{10'000'000, "10"},
           row{11'999'999, "11"},
           row{123'456'789, "123"},
           row{12'345'678'901'234, "12345678"},
           row{UINT64_MAX, "18446744073709"},
       }) {
    INFO(r.ns << " ns");
    CHECK(format_ns_as_ms(r.ns) == r.want);
  }
}

TEST_CASE("gctrace: fixed-point values always have a digit before the point", "[gctrace]") {
  CHECK(format_fixed_point(0, 3) == "0.000");
  CHECK(format_fixed_point(19, 3) == "0.019");
  CHECK(format_fixed_point(2034, 3) == "2.034");
  CHECK(format_fixed_point(123456, 3) == "123.456");
  CHECK(format_fixed_point(5, 1) == "0.5");
  CHECK(format_fixed_point(7, 0) == "7");
  CHECK(format_fixed_point(0, 0) == "0");
  CHECK(format_fixed_point(UINT64_MAX, 0) == "18446744073709551615");
  CHECK(format_fixed_point(UINT64_MAX, 3) == "18446744073709551.615");
}

TEST_CASE("gctrace: known records give the exact lines", "[gctrace]") {
  CHECK(gctrace_line(first_record()) ==
        "gc 1 @0.019s 1%: 0.015+2.6+0.014 ms clock, 0.031+0.30/1.0/0.42+0.029 ms cpu, "
        "4->4->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P");
  CHECK(gctrace_line(forced_record()) ==
        "gc 7 @2.034s 3%: 0.049+11+0.007 ms clock, 0.099+0.15/4.8/9.7+0.014 ms cpu, "
        "37->38->19 MB, 39 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)");

  // An all-zero record: a cycle that took no measurable time on an empty heap.
  gc_cycle_record zero;
  CHECK(gctrace_line(zero) ==
        "gc 0 @0.000s 0%: 0+0+0 ms clock, 0+0/0/0+0 ms cpu, 0->0->0 MB, 0 MB goal, 0 MB stacks, 0 MB globals, 0 P");

  // Large values: an hour in, a 1 TiB heap, stacks and globals, 64 P.
  gc_cycle_record big;
  big.cycle = 123456;
  big.start_ns = 3'723'456'789'000;
  big.gc_cpu_fraction = 0.25;
  big.sweep_term_clock_ns = 1'234'567;
  big.mark_clock_ns = 987'654'321;
  big.mark_term_clock_ns = 45'678;
  big.sweep_term_cpu_ns = 78'901'234;
  big.assist_cpu_ns = 0;
  big.background_cpu_ns = 5'000'000'000;
  big.idle_cpu_ns = 500;
  big.mark_term_cpu_ns = 2'923'456;
  big.heap_start_bytes = std::uint64_t{1} << 40;
  big.heap_end_bytes = (std::uint64_t{1} << 40) + MiB - 1;
  big.heap_live_bytes = std::uint64_t{3} << 38;
  big.heap_goal_bytes = (std::uint64_t{1} << 40) + 5 * MiB;
  big.stacks_bytes = 3 * MiB + 1;
  big.globals_bytes = 2 * MiB - 1;
  big.procs = 64;
  CHECK(gctrace_line(big) ==
        "gc 123456 @3723.456s 25%: 1.2+987+0.045 ms clock, 78+0/5000/0+2.9 ms cpu, "
        "1048576->1048576->786432 MB, 1048581 MB goal, 3 MB stacks, 1 MB globals, 64 P");
}

TEST_CASE("gctrace: the CPU percentage truncates as Go's int conversion does", "[gctrace]") {
  struct row {
    double fraction;
    const char* want;
  };
  for (row r : {row{0.0, " 0%:"}, row{0.0099, " 0%:"}, row{0.01, " 1%:"}, row{0.999, " 99%:"}, row{1.0, " 100%:"},
                row{-0.5, " 0%:"}, row{std::numeric_limits<double>::quiet_NaN(), " 0%:"},
                row{std::numeric_limits<double>::infinity(), " 0%:"}}) {
    INFO("fraction " << r.fraction);
    gc_cycle_record rec = first_record();
    rec.gc_cpu_fraction = r.fraction;
    std::string line = gctrace_line(rec);
    CHECK(line.find(r.want) != std::string::npos);
    CHECK(matches(line));
  }
}

TEST_CASE("gctrace: the line regex matches gort's lines and real Go lines", "[gctrace]") {
  std::regex re(gctrace_line_regex);

  // gort's own output, with the fields read back through the captures.
  std::smatch m;
  std::string line = gctrace_line(forced_record());
  REQUIRE(std::regex_match(line, m, re));
  REQUIRE(m.size() == 20);
  CHECK(m[1] == "7");
  CHECK(m[2] == "2.034");
  CHECK(m[3] == "3");
  CHECK(m[5] == "11");
  CHECK(m[9] == "4.8");
  CHECK(m[12] == "37");
  CHECK(m[13] == "38");
  CHECK(m[14] == "19");
  CHECK(m[15] == "39");
  CHECK(m[18] == "2");
  CHECK(m[19] == " (forced)");
  line = gctrace_line(first_record());
  REQUIRE(std::regex_match(line, m, re));
  CHECK(m[19] == "");
  // A minor cycle (GODEBUG=gcgen=1) says so where a forced one says
  // " (forced)"; gc::collect() never runs a minor one, so one suffix at most.
  gc_cycle_record minor = first_record();
  minor.minor = true;
  line = gctrace_line(minor);
  REQUIRE(std::regex_match(line, m, re));
  CHECK(m[19] == " (minor)");

  // Lines printed by Go (the first two in the style of the runtime docs,
  // the rest from a go1.19.8 program run with GODEBUG=gctrace=1).
  for (const char* go_line : {
           "gc 1 @0.019s 1%: 0.015+2.6+0.014 ms clock, 0.031+0.30/1.0/0.42+0.029 ms cpu, 4->4->0 MB, 4 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P",
           "gc 7 @2.034s 3%: 0.049+11+0.007 ms clock, 0.099+0.15/4.8/9.7+0.014 ms cpu, 37->38->19 MB, 39 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P (forced)",
           "gc 1 @0.002s 6%: 0.10+0.49+0.004 ms clock, 0.21+0.11/0.11/0.11+0.008 ms cpu, 3->4->3 MB, 4 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P",
           "gc 2 @0.005s 7%: 0.12+0.96+0.003 ms clock, 0.24+0/0.20/0.094+0.007 ms cpu, 6->7->7 MB, 7 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P",
           "gc 6 @0.039s 3%: 0.020+10+0.28 ms clock, 0.041+0.11/0.40/0.13+0.57 ms cpu, 41->67->46 MB, 47 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P",
           "gc 8 @0.072s 3%: 0.10+2.4+0.005 ms clock, 0.20+0.43/0.26/0+0.010 ms cpu, 60->67->27 MB, 67 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P",
           "gc 10 @0.085s 3%: 0.053+1.7+0.004 ms clock, 0.10+0/0.68/0.001+0.008 ms cpu, 20->20->20 MB, 41 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P (forced)",
       }) {
    INFO(go_line);
    CHECK(std::regex_match(std::string(go_line), re));
  }

  // Not trace lines: missing or reordered fields, a trailing newline, the
  // pre-1.19 layout without stacks and globals, bad "(forced)".
  for (const char* bad : {
           "",
           "gc 1 @0.019s 1%: 0.015+2.6 ms clock, 0.031+0.30/1.0/0.42+0.029 ms cpu, 4->4->0 MB, 4 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P",
           "gc 1 @0.019s 1%: 0.015+2.6+0.014 ms clock, 0.031+0.30+1.0+0.42+0.029 ms cpu, 4->4->0 MB, 4 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P",
           "gc 1 @0.019s 1%: 0.015+2.6+0.014 ms clock, 0.031+0.30/1.0/0.42+0.029 ms cpu, 4->4->0 MB, 4 MB goal, 2 P",
           "gc 1 @0.019s 1%: 0.015+2.6+0.014 ms clock, 0.031+0.30/1.0/0.42+0.029 ms cpu, 4->4->0 MB, 4 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P\n",
           "gc 1 @0.019s 1%: 0.015+2.6+0.014 ms clock, 0.031+0.30/1.0/0.42+0.029 ms cpu, 4->4->0 MB, 4 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P (forced",
           "gc 1 @0.02s 1%: 0.015+2.6+0.014 ms clock, 0.031+0.30/1.0/0.42+0.029 ms cpu, 4->4->0 MB, 4 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P",
           "gc 1 @0.019s -1%: 0.015+2.6+0.014 ms clock, 0.031+0.30/1.0/0.42+0.029 ms cpu, 4->4->0 MB, 4 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P",
           "gc x @0.019s 1%: 0.015+2.6+0.014 ms clock, 0.031+0.30/1.0/0.42+0.029 ms cpu, 4->4->0 MB, 4 MB goal, "
           "0 MB stacks, 0 MB globals, 2 P",
       }) {
    INFO(bad);
    CHECK_FALSE(std::regex_match(std::string(bad), re));
  }
}

TEST_CASE("gctrace: every formatted line matches the regex", "[gctrace]") {
  // A sweep over magnitudes: each ns value crosses every branch of
  // format_ns_as_ms, each byte count the MiB truncation.
  std::regex re(gctrace_line_regex);
  std::uint64_t ns = 0;
  std::uint64_t bytes = 0;
  for (int i = 0; i < 50; ++i) {
    gc_cycle_record r;
    r.cycle = static_cast<std::uint64_t>(i) + 1;
    r.start_ns = ns * 7;
    r.gc_cpu_fraction = i / 50.0;
    r.sweep_term_clock_ns = ns;
    r.mark_clock_ns = ns * 3 + 1;
    r.mark_term_clock_ns = ns / 2;
    r.sweep_term_cpu_ns = ns + 999;
    r.assist_cpu_ns = ns / 3;
    r.background_cpu_ns = ns * 5;
    r.idle_cpu_ns = ns % 12345;
    r.mark_term_cpu_ns = ns + 1;
    r.heap_start_bytes = bytes;
    r.heap_end_bytes = bytes + bytes / 2;
    r.heap_live_bytes = bytes / 3;
    r.heap_goal_bytes = bytes * 2;
    r.stacks_bytes = bytes / 7;
    r.globals_bytes = bytes / 11;
    r.procs = static_cast<std::uint64_t>(i % 17) + 1;
    r.forced = i % 3 == 0;
    std::string line = gctrace_line(r);
    INFO(line);
    CHECK(std::regex_match(line, re));
    CHECK(line.find('\n') == std::string::npos);
    CHECK((line.size() >= 9 && line.compare(line.size() - 9, 9, " (forced)") == 0) == r.forced);
    ns = ns * 2 + 1'000;  // up to ~1e18: no product above overflows
    bytes = bytes * 3 / 2 + 300'000;
  }
}

TEST_CASE("gctrace: gctrace=2's stops line says where each stop went, and its parts add up", "[gctrace]") {
  std::regex re(gctrace_stops_line_regex);
  gc_cycle_record r;
  r.cycle = 7;
  r.concurrent = true;
  r.sweep_term_clock_ns = 12'345;
  r.mark_term_clock_ns = 38'999;
  r.start_stop.threads_ns = 3'100;
  r.start_stop.phase_ns[0] = 2'000;  // sweep
  r.start_stop.phase_ns[1] = 6'900;  // setup
  r.term_stop.threads_ns = 9'000;
  r.term_stop.signalled = 1;
  r.term_stop.deferred = 2;
  r.term_stop.phase_ns[0] = 4'500;   // rescan
  r.term_stop.phase_ns[1] = 2'000;   // buffers
  r.term_stop.phase_ns[2] = 999;     // drain
  r.term_drained_bytes = 4096;
  r.term_sweep_ns = 18'000;
  const std::string line = gctrace_stops_line(r);
  CHECK(line ==
        "gc 7 stops (us): start 12 = threads 3 (0 signalled, 0 deferred) + sweep 2 + setup 6 + other 0; "
        "termination 38 = threads 9 (1 signalled, 2 deferred) + rescan 4 + buffers 2 + drain 0 (4096 B) + sweep 18 "
        "+ other 4");
  CHECK(std::regex_match(line, re));

  gc_cycle_record w;  // stop-the-world: one stop, the three clock figures
  w.cycle = 3;
  w.sweep_term_clock_ns = 5'000;
  w.mark_clock_ns = 1'200'000;
  w.mark_term_clock_ns = 300'000;
  w.start_stop.threads_ns = 4'000;
  w.start_stop.signalled = 2;
  const std::string stw = gctrace_stops_line(w);
  CHECK(stw == "gc 3 stop (us): 1505 = threads 4 (2 signalled, 0 deferred) + sweep termination 1 + mark 1200 + "
               "sweep 300 + other 0");
  CHECK(std::regex_match(stw, re));

  // Parts larger than the total (clocks read in a different order) never
  // make "other" negative.
  r.term_sweep_ns = 100'000;
  CHECK(gctrace_stops_line(r).find("+ other 0") != std::string::npos);
}

TEST_CASE("gctrace: gctrace=2's mark work line splits the scan work between assists and workers", "[gctrace]") {
  std::regex re(gctrace_work_line_regex);
  gc_cycle_record r;
  r.cycle = 11;
  r.concurrent = true;
  r.scan_bytes = 300 * MiB + 8191;  // 307200 KB + 7 KB 1023 B
  r.assist_scan_bytes = 50 * MiB;   // 51200 KB
  r.term_drained_bytes = 4096 + 1023;
  r.assist_cpu_ns = 94'012'999;                     // 94012 us
  r.background_cpu_ns = 124'000'000;                // with idle: 248000 us
  r.idle_cpu_ns = 124'000'500;
  r.assist_wait_ns = 3'999'999;                     // 3999 us
  const std::string line = gctrace_work_line(r);
  // background: 300 MiB + 8191 - 50 MiB - 5119 = 262147072 B = 256003 KB;
  // 52428800 B / 94012999 ns = 557.67 MB/s; 262147072 B / 248000500 ns = 1057.04 MB/s.
  CHECK(line == "gc 11 mark work: assists 51200 KB in 94012 us (557 MB/s), waits 3999 us, background 256003 KB "
                "in 248000 us (1057 MB/s), termination 4 KB");
  std::smatch m;
  REQUIRE(std::regex_match(line, m, re));
  CHECK(m[1] == "11");
  CHECK(m[2] == "51200");
  CHECK(m[5] == "3999");
  CHECK(m[9] == "4");

  // No time measured: rate 0, not a division by zero. Counters read at
  // slightly different moments never make the background part wrap.
  gc_cycle_record z;
  z.cycle = 1;
  z.concurrent = true;
  z.scan_bytes = 1024;
  z.assist_scan_bytes = 4096;
  z.term_drained_bytes = 4096;
  const std::string zero = gctrace_work_line(z);
  CHECK(zero ==
        "gc 1 mark work: assists 1 KB in 0 us (0 MB/s), waits 0 us, background 0 KB in 0 us (0 MB/s), termination 0 KB");
  CHECK(std::regex_match(zero, re));
}
