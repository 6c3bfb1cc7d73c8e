// src/gc/pacer.hpp: GOGC and the heap goal: when the next collection starts.
//
// This is the stop-the-world pacer (issue 3). It keeps the state and the
// formulas of Go 1.18's pacer that do not depend on concurrent marking, so
// the concurrent version (next issue) adds the trigger's runway to it
// rather than replacing it.
//
// Algorithm
// 1. GOGC is read once from the environment (gogc_from_environment):
//    unset or empty -> 100; "off" -> -1; a decimal integer with an optional
//    sign that fits an int -> that value; anything else -> 100 and one
//    warning. Any negative percentage means "off" and is stored as -1.
//    Two differences from Go 1.19's readGOGC, both deliberate: a leading
//    '+' is accepted (as strconv.Atoi accepts it; the runtime's own atoi
//    does not), and a bad value warns instead of being ignored silently.
// 2. The heap minimum scales with GOGC, as in Go:
//        heap_minimum = min_heap_goal * GOGC / 100     (min_heap_goal = 4 MiB)
//    so GOGC=100 gives 4 MiB, GOGC=50 gives 2 MiB, and GOGC=0 gives 0,
//    which collects at every check (useful when debugging the collector).
// 3. At the end of every mark, end_cycle(live, stacks, globals) records the
//    marked heap bytes, the stack bytes scanned and the global (root
//    region) bytes scanned, and recomputes the goal. The goal counts the
//    non-heap roots too, as Go 1.18 does, because scanning them is GC work
//    proportional to GOGC just like scanning the heap:
//        goal = max(live + (live + stacks + globals) * GOGC / 100, heap_minimum)
//    with "/" the integer division of the exact product (rounding down).
//    The sum and product are computed in 128 bits (they stay below 2^97) and
//    the result saturates at UINT64_MAX instead of wrapping, so a huge GOGC
//    (up to INT_MAX) or a huge heap never yields a small goal. (Go computes
//    the same formula in 64 bits, where it can wrap.)
//    Before the first cycle live = stacks = globals = 0, so the goal is
//    heap_minimum.
// 4. GOGC off: goal = trigger = UINT64_MAX, so should_collect() is never
//    true; only a forced collection runs. end_cycle still records the
//    marked heap, so turning GC back on computes the goal from it at once.
// 5. set_gc_percent(p) takes effect at once: it rescales heap_minimum and
//    recomputes the goal from the last cycle's figures. If the heap is
//    already above the new goal, the very next should_collect() says yes.
// 6. The trigger is the heap size at which the next cycle starts. With the
//    whole collection inside one stop, the heap cannot grow while marking,
//    so trigger = goal and the heap peaks at the goal plus at most the one
//    allocation that crossed it. (The concurrent pacer will start earlier:
//    trigger = goal - runway, clamped as Go 1.18 clamps it.)
//
// Invariants
//   gc_percent() >= 0  =>  heap_minimum() == min_heap_goal * gc_percent() / 100
//                          heap_goal() >= heap_marked() and >= heap_minimum()
//   gc_percent() == -1 =>  heap_goal() == trigger() == UINT64_MAX
//   trigger() <= heap_goal()
//   The class is pure: no globals, no clocks, no locks. The collector owns
//   one instance and calls it with the world stopped (or under its lock).
//
// References: Go's runtime/mgcpacer.go (gcControllerState.commit,
// setGCPercent, readGOGC, heapMinimum) and the GC pacer redesign proposal
// (golang/go#44167, "GC pacer redesign", Go 1.18).
#pragma once

#include <cstdint>
#include <string>

namespace gc::internal {

inline constexpr int default_gogc = 100;

// Pure GOGC parser. env == nullptr (unset) or "" -> 100, no warning.
// "off" -> -1. An integer (optional '+' or '-', then decimal digits, nothing
// else, in int range) -> that value, negative values as given (the pacer
// treats every negative value as off). Anything else -> 100, and if
// warning != nullptr, *warning is set to one line naming the bad value and
// the default; otherwise *warning is left untouched.
int parse_gogc(const char* env, std::string* warning);

// getenv("GOGC") parsed once per process (thread-safe); a bad value prints
// one warning through gc::internal::warn, the first time only.
int gogc_from_environment();

// What gogc_from_environment does on its first call, done again on every
// call: getenv("GOGC"), parse, warn if bad. For tests.
int read_gogc_environment();

class pacer {
 public:
  // The heap minimum at GOGC=100; it scales linearly with GOGC (step 2).
  static constexpr std::uint64_t min_heap_goal = std::uint64_t{4} << 20;
  // The goal and trigger while GC is off.
  static constexpr std::uint64_t off = UINT64_MAX;

  explicit pacer(int gc_percent = default_gogc);

  // Sets GOGC (negative: off, stored as -1), recomputes the goal at once,
  // and returns the previous value (-1 if it was off).
  int set_gc_percent(int percent);
  int gc_percent() const { return gc_percent_; }
  bool enabled() const { return gc_percent_ >= 0; }

  // End of a mark: the marked (live) heap bytes, the bytes of stacks
  // scanned, and the bytes of globals (add_roots regions) scanned.
  void end_cycle(std::uint64_t live_bytes, std::uint64_t stack_bytes, std::uint64_t globals_bytes);

  // Step 3's formula, for any inputs (gc_percent < 0: off).
  static std::uint64_t goal_for(int gc_percent, std::uint64_t live_bytes, std::uint64_t stack_bytes,
                                std::uint64_t globals_bytes);
  // Step 2's formula (gc_percent < 0: 0).
  static std::uint64_t heap_minimum_for(int gc_percent);

  std::uint64_t heap_goal() const { return goal_; }
  std::uint64_t heap_minimum() const { return heap_minimum_for(gc_percent_); }
  std::uint64_t trigger() const { return goal_; }  // step 6
  bool should_collect(std::uint64_t heap_live) const { return enabled() && heap_live >= trigger(); }

  // The last cycle's inputs (0 before the first), and the cycles ended.
  std::uint64_t heap_marked() const { return heap_marked_; }
  std::uint64_t last_stack_scan() const { return last_stack_scan_; }
  std::uint64_t globals_scan() const { return globals_scan_; }
  std::uint64_t cycles() const { return cycles_; }

 private:
  void commit() { goal_ = goal_for(gc_percent_, heap_marked_, last_stack_scan_, globals_scan_); }

  int gc_percent_;
  std::uint64_t heap_marked_ = 0;
  std::uint64_t last_stack_scan_ = 0;
  std::uint64_t globals_scan_ = 0;
  std::uint64_t cycles_ = 0;
  std::uint64_t goal_ = 0;
};

}  // namespace gc::internal
