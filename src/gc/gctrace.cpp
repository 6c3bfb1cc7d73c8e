// src/gc/gctrace.cpp: formatting the GODEBUG=gctrace=1 line. See gctrace.hpp
// for the layout and the number formats.
#include "gc/gctrace.hpp"

#include <algorithm>

#include <cmath>
#include <fmt/format.h>
#include <iterator>
#include <unistd.h>

namespace gc::internal {

std::string format_fixed_point(std::uint64_t value, int decimals) {
  if (decimals <= 0) return fmt::format("{}", value);
  // Pad to decimals + 1 digits so there is always a digit before the point.
  std::string digits = fmt::format("{:0{}}", value, decimals + 1);
  digits.insert(digits.size() - static_cast<std::size_t>(decimals), 1, '.');
  return digits;
}

std::string format_ns_as_ms(std::uint64_t ns) {
  if (ns >= 10'000'000) return format_fixed_point(ns / 1'000'000, 0);
  // Below 10 ms: microseconds, cut to two significant digits; each digit
  // cut moves the point one place left of three decimals.
  std::uint64_t us = ns / 1'000;
  if (us == 0) return "0";
  int decimals = 3;
  while (us >= 100) {
    us /= 10;
    --decimals;
  }
  return format_fixed_point(us, decimals);
}

std::string gctrace_line(const gc_cycle_record& r) {
  double percent = r.gc_cpu_fraction * 100;
  // Go converts with int(), which truncates toward zero.
  long long util = std::isfinite(percent) && percent > 0 ? static_cast<long long>(percent) : 0;

  std::string line;
  auto out = std::back_inserter(line);
  fmt::format_to(out, "gc {} @{}s {}%: ", r.cycle, format_fixed_point(r.start_ns / 1'000'000, 3), util);
  fmt::format_to(out, "{}+{}+{} ms clock, ", format_ns_as_ms(r.sweep_term_clock_ns), format_ns_as_ms(r.mark_clock_ns),
                 format_ns_as_ms(r.mark_term_clock_ns));
  fmt::format_to(out, "{}+{}/{}/{}+{} ms cpu, ", format_ns_as_ms(r.sweep_term_cpu_ns), format_ns_as_ms(r.assist_cpu_ns),
                 format_ns_as_ms(r.background_cpu_ns), format_ns_as_ms(r.idle_cpu_ns),
                 format_ns_as_ms(r.mark_term_cpu_ns));
  fmt::format_to(out, "{}->{}->{} MB, {} MB goal, {} MB stacks, {} MB globals, {} P", r.heap_start_bytes >> 20,
                 r.heap_end_bytes >> 20, r.heap_live_bytes >> 20, r.heap_goal_bytes >> 20, r.stacks_bytes >> 20,
                 r.globals_bytes >> 20, r.procs);
  if (r.forced) line += " (forced)";
  else if (r.minor) line += " (minor)";
  return line;
}

namespace {
// "threads W (S signalled, D deferred)".
std::string threads_part(const gc_cycle_record::stop_parts& p) {
  return fmt::format("threads {} ({} signalled, {} deferred)", p.threads_ns / 1000, p.signalled, p.deferred);
}
// The total less the parts, never negative.
std::uint64_t other_ns(std::uint64_t total, std::uint64_t parts) { return total > parts ? total - parts : 0; }
}  // namespace

std::string gctrace_stops_line(const gc_cycle_record& r) {
  const auto& a = r.start_stop;
  if (!r.concurrent) {
    const std::uint64_t total = r.sweep_term_clock_ns + r.mark_clock_ns + r.mark_term_clock_ns;
    const std::uint64_t sweep_term = other_ns(r.sweep_term_clock_ns, a.threads_ns);
    return fmt::format("gc {} stop (us): {} = {} + sweep termination {} + mark {} + sweep {} + other {}", r.cycle,
                       total / 1000, threads_part(a), sweep_term / 1000, r.mark_clock_ns / 1000,
                       r.mark_term_clock_ns / 1000,
                       other_ns(total, a.threads_ns + sweep_term + r.mark_clock_ns + r.mark_term_clock_ns) / 1000);
  }
  const auto& b = r.term_stop;
  const std::uint64_t start_parts = a.threads_ns + a.phase_ns[0] + a.phase_ns[1];
  const std::uint64_t term_parts = b.threads_ns + b.phase_ns[0] + b.phase_ns[1] + b.phase_ns[2] + r.term_sweep_ns;
  return fmt::format(
      "gc {} stops (us): start {} = {} + sweep {} + setup {} + other {}; termination {} = {} + rescan {} + buffers {} "
      "+ drain {} ({} B) + sweep {} + other {}",
      r.cycle, r.sweep_term_clock_ns / 1000, threads_part(a), a.phase_ns[0] / 1000, a.phase_ns[1] / 1000,
      other_ns(r.sweep_term_clock_ns, start_parts) / 1000, r.mark_term_clock_ns / 1000, threads_part(b),
      b.phase_ns[0] / 1000, b.phase_ns[1] / 1000, b.phase_ns[2] / 1000, r.term_drained_bytes, r.term_sweep_ns / 1000,
      other_ns(r.mark_term_clock_ns, term_parts) / 1000);
}

std::string gctrace_work_line(const gc_cycle_record& r) {
  const std::uint64_t assist = std::min(r.assist_scan_bytes, r.scan_bytes);
  const std::uint64_t term = std::min(r.term_drained_bytes, r.scan_bytes - assist);
  const std::uint64_t background = r.scan_bytes - assist - term;
  const std::uint64_t background_ns = r.background_cpu_ns + r.idle_cpu_ns;
  // bytes per ns * 1000 = MB/s (10^6 bytes); 0 when no time was measured.
  auto rate = [](std::uint64_t bytes, std::uint64_t ns) -> std::uint64_t {
    if (ns == 0) return 0;
    const double v = static_cast<double>(bytes) * 1000.0 / static_cast<double>(ns);
    return v >= 1.8e19 ? ~std::uint64_t{0} : static_cast<std::uint64_t>(v);
  };
  return fmt::format("gc {} mark work: assists {} KB in {} us ({} MB/s), waits {} us, background {} KB in {} us "
                     "({} MB/s), termination {} KB",
                     r.cycle, assist >> 10, r.assist_cpu_ns / 1000, rate(assist, r.assist_cpu_ns),
                     r.assist_wait_ns / 1000, background >> 10, background_ns / 1000, rate(background, background_ns),
                     term >> 10);
}

void emit_gctrace(const gc_cycle_record& r, bool stops) {
  std::string line = gctrace_line(r);
  line += '\n';
  if (stops) {
    line += gctrace_stops_line(r);
    line += '\n';
    if (r.concurrent) {
      line += gctrace_work_line(r);
      line += '\n';
    }
  }
  ssize_t ignored = ::write(2, line.data(), line.size());
  (void)ignored;
}

}  // namespace gc::internal
