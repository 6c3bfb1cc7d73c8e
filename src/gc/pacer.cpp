// src/gc/pacer.cpp: GOGC parsing and the heap goal. See pacer.hpp for the
// algorithm and the exact formulas.
#include "gc/pacer.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <fmt/format.h>
#include <mutex>
#include <string_view>

#include "common/check.hpp"

namespace gc::internal {

namespace {

// Parses [+-]?[0-9]+ into an int; false on any other text or on overflow.
bool parse_int(std::string_view s, int* out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  // Accumulate the magnitude in 64 bits; stop as soon as it cannot fit an
  // int, so 20-digit inputs cannot wrap.
  const std::uint64_t limit = negative ? std::uint64_t{INT_MAX} + 1 : std::uint64_t{INT_MAX};
  std::uint64_t magnitude = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    magnitude = magnitude * 10 + static_cast<std::uint64_t>(c - '0');
    if (magnitude > limit) return false;
  }
  *out = negative ? static_cast<int>(-static_cast<std::int64_t>(magnitude)) : static_cast<int>(magnitude);
  return true;
}

// The goal is computed in 128 bits: (3 * 2^64) * INT_MAX < 2^97, so no step
// can overflow, and the result saturates once, at the end.
__extension__ typedef unsigned __int128 u128;

std::uint64_t saturate(u128 x) { return x > UINT64_MAX ? UINT64_MAX : static_cast<std::uint64_t>(x); }

}  // namespace

int parse_gogc(const char* env, std::string* warning) {
  if (env == nullptr || *env == '\0') return default_gogc;  // unset (Go cannot tell "" from unset)
  std::string_view s(env);
  if (s == "off") return -1;
  int value = 0;
  if (parse_int(s, &value)) return value;
  if (warning != nullptr) {
    *warning = fmt::format("GOGC: invalid value \"{}\"; using the default {}", s, default_gogc);
  }
  return default_gogc;
}

int read_gogc_environment() {
  std::string warning;
  int value = parse_gogc(std::getenv("GOGC"), &warning);
  if (!warning.empty()) warn(warning);
  return value;
}

int gogc_from_environment() {
  static int value = default_gogc;
  static std::once_flag once;
  std::call_once(once, [] { value = read_gogc_environment(); });
  return value;
}

std::int64_t parse_memory_limit(const char* env, std::string* warning) {
  if (env == nullptr || *env == '\0') return no_memory_limit;
  const std::string_view s(env);
  if (s == "off") return no_memory_limit;
  // Go's parseByteCount: digits, then one of the binary suffixes or none.
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  const std::string_view suffix = s.substr(digits);
  unsigned shift = 0;
  bool ok = digits > 0;
  if (suffix.empty() || suffix == "B") shift = 0;
  else if (suffix == "KiB") shift = 10;
  else if (suffix == "MiB") shift = 20;
  else if (suffix == "GiB") shift = 30;
  else if (suffix == "TiB") shift = 40;
  else ok = false;
  std::uint64_t value = 0;
  for (std::size_t i = 0; ok && i < digits; ++i) {
    value = value * 10 + static_cast<std::uint64_t>(s[i] - '0');
    if (value > static_cast<std::uint64_t>(INT64_MAX)) ok = false;
  }
  if (ok && value > (static_cast<std::uint64_t>(INT64_MAX) >> shift)) ok = false;
  if (ok) return static_cast<std::int64_t>(value << shift);
  if (warning != nullptr)
    *warning = fmt::format("GOMEMLIMIT: invalid value \"{}\"; using the default (no limit)", s);
  return no_memory_limit;
}

std::int64_t memory_limit_from_environment() {
  static std::int64_t value = no_memory_limit;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string warning;
    value = parse_memory_limit(std::getenv("GOMEMLIMIT"), &warning);
    if (!warning.empty()) warn(warning);
  });
  return value;
}

pacer::pacer(int gc_percent) : gc_percent_(gc_percent < 0 ? -1 : gc_percent) { commit(); }

int pacer::set_gc_percent(int percent) {
  int previous = gc_percent_;
  gc_percent_ = percent < 0 ? -1 : percent;
  commit();
  return previous;
}

void pacer::end_cycle(std::uint64_t live_bytes, std::uint64_t stack_bytes, std::uint64_t globals_bytes) {
  heap_marked_ = live_bytes;
  last_stack_scan_ = stack_bytes;
  globals_scan_ = globals_bytes;
  ++cycles_;
  commit();
}

std::int64_t pacer::set_memory_limit(std::int64_t limit) {
  const std::int64_t previous = memory_limit_;
  if (limit >= 0) {
    memory_limit_ = limit;
    commit();
  }
  return previous;
}

void pacer::set_other_memory(std::uint64_t bytes) {
  other_ = bytes;
  commit();
}

std::uint64_t pacer::limit_goal_for(std::int64_t limit, std::uint64_t other_bytes) {
  if (limit == no_memory_limit) return off;
  const auto l = static_cast<std::uint64_t>(limit);
  if (other_bytes >= l) return 0;
  const std::uint64_t room = l - other_bytes;
  constexpr std::uint64_t min_headroom = std::uint64_t{1} << 20;
  std::uint64_t headroom = room / 100 * 3;
  if (headroom < min_headroom) headroom = min_headroom;
  return room > headroom ? room - headroom : 0;
}

std::uint64_t pacer::trigger() const {
  if (!concurrent_ || goal_ == off) return goal_;
  const std::uint64_t marked = heap_marked_ < goal_ ? heap_marked_ : goal_;
  const u128 room = goal_ - marked;
  const std::uint64_t lo = saturate(marked + room * 7 / 10);
  const std::uint64_t hi = saturate(marked + room * 95 / 100);
  const std::uint64_t t = runway_ >= goal_ ? 0 : goal_ - runway_;
  return t < lo ? lo : t > hi ? hi : t;
}


void pacer::commit() {
  goal_ = gogc_goal();
  if (has_memory_limit()) {
    std::uint64_t limit_goal = limit_goal_for(memory_limit_, other_);
    if (limit_goal < heap_marked_) limit_goal = heap_marked_;
    if (limit_goal < goal_) goal_ = limit_goal;
  }
}

std::uint64_t pacer::heap_minimum_for(int gc_percent) {
  if (gc_percent < 0) return 0;
  return saturate(u128{min_heap_goal} * static_cast<unsigned>(gc_percent) / 100);
}

std::uint64_t pacer::goal_for(int gc_percent, std::uint64_t live_bytes, std::uint64_t stack_bytes,
                              std::uint64_t globals_bytes) {
  if (gc_percent < 0) return off;
  u128 scanned = u128{live_bytes} + stack_bytes + globals_bytes;
  u128 goal = u128{live_bytes} + scanned * static_cast<unsigned>(gc_percent) / 100;
  u128 minimum = heap_minimum_for(gc_percent);
  return saturate(goal < minimum ? minimum : goal);
}

std::uint64_t pacer::hard_goal() const {
  if (gc_percent_ < 0 || goal_from_limit()) return goal_;
  return saturate(u128{goal_} * static_cast<unsigned>(100 + gc_percent_) / 100);
}

pacer::assist_pace pacer::assist_target(std::uint64_t start, std::uint64_t goal, std::uint64_t hard,
                                        std::uint64_t expected, std::uint64_t scanned, std::uint64_t heap) {
  const std::uint64_t max_scan = start;  // the worst case: every byte of the heap at mark start
  assist_pace p{goal, goal, expected};
  if (scanned > expected && heap >= goal && max_scan > expected) {  // (a)
    std::uint64_t ext = goal;
    if (goal > start && expected > 0) ext = saturate(u128{start} + u128{goal - start} * max_scan / expected);
    p.soft = std::max(goal, std::min(ext, hard));
    p.expected = max_scan;
  }
  p.goal = p.soft;
  if (heap > p.soft) {  // (b)
    p.goal = saturate(u128{p.soft} + p.soft / 10);
    p.expected = std::max(p.expected, max_scan);
  }
  return p;
}

std::uint64_t pacer::assist_work(std::uint64_t remaining, std::uint64_t allocated, std::uint64_t goal,
                                 std::uint64_t heap, double bg_rate, double alloc_rate) {
  if (heap >= goal) return remaining;
  const std::uint64_t runway = goal - heap;
  std::uint64_t owed = remaining;
  if (bg_rate > 0 && alloc_rate > 0) {
    const double predicted = 0.75 * bg_rate * static_cast<double>(runway) / alloc_rate;
    owed = predicted >= static_cast<double>(remaining) ? 0 : remaining - static_cast<std::uint64_t>(predicted);
  }
  const u128 w = u128{owed} * allocated / runway;
  return w > remaining ? remaining : static_cast<std::uint64_t>(w);
}

pacer::mark_rates pacer::blend_rates(mark_rates last, mark_rates measured, std::uint64_t elapsed_ns) {
  if (last.bg <= 0 || last.alloc <= 0) return measured;
  const double el = static_cast<double>(elapsed_ns);
  const double w = el / (el + rate_prior_ns);
  return {w * measured.bg + (1 - w) * last.bg, w * measured.alloc + (1 - w) * last.alloc};
}

mark_workers plan_mark_workers(int cores, int running) {
  mark_workers w;
  if (cores < 1) cores = 1;
  if (running < 0) running = 0;
  w.dedicated = cores / 4;
  w.fractional = static_cast<double>(cores % 4) / 4.0;
  w.idle = cores - running - w.dedicated;
  if (w.idle < 0) w.idle = 0;
  return w;
}

bool minor_policy::minor_pays(const cycle& c, std::uint64_t minor_work, std::uint64_t full_work) {
  // (a) The old bytes leave room: at most half of it between the last full
  // cycle's live heap and the goal is used.
  const std::uint64_t room = c.goal > c.full_live ? c.goal - c.full_live : 0;
  if (c.old > c.full_live + room / 2) return false;
  // (b) A minor mark costs clearly less than a full one.
  const double fixed = static_cast<double>(c.heap / sweep_cost_divisor);
  const double minor_cost = static_cast<double>(minor_work) + fixed;
  const double full_cost = static_cast<double>(full_work != 0 ? full_work : c.full_live) + fixed;
  return minor_cost * max_cost_den <= full_cost * max_cost_num;
}

bool minor_policy::next(const cycle& c) {
  if (c.forced) {
    full_work_ = c.work;
    if (minor_work_ == 0) return true;
    if (last_minor_) return minor_pays(c, minor_work_, full_work_);
    return fulls_ >= explore_after_;  // as the last unforced cycle left it (probing_ too)
  }
  const bool fresh = c.minor || last_minor_;
  if (c.minor) {
    minor_work_ = std::max<std::uint64_t>(c.work, 1);
  } else {
    full_work_ = c.work;
    ++fulls_;
  }
  bool minor;
  bool probe = false;
  if (minor_work_ == 0) {
    minor = true;
  } else if (fresh) {
    minor = minor_pays(c, minor_work_, full_work_);
  } else {
    minor = probe = fulls_ >= explore_after_;
  }
  if (c.minor) {
    if (minor) {
      explore_after_ = explore_first;
    } else if (probing_) {
      explore_after_ = std::min(2 * explore_after_, explore_max);
    }
    fulls_ = 0;
  }
  probing_ = probe;
  last_minor_ = c.minor;
  return minor;
}

}  // namespace gc::internal
