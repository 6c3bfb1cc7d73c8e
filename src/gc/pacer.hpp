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
//    marked heap bytes (concurrent: with the bytes allocated black during
//    the mark, as Go counts them), the stack bytes scanned and the global (root
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
// 7. The memory limit (GOMEMLIMIT, gc::set_memory_limit; Go 1.19's soft
//    limit). parse_memory_limit reads Go's syntax: unset, "" or "off" -> no
//    limit; decimal digits with an optional suffix B, KiB, MiB, GiB or TiB
//    that fit an int64 -> that many bytes; anything else -> no limit and
//    one warning. set_memory_limit(n) sets it at once (negative n: only
//    returns the current one). The collector tells the pacer how much of
//    gort's memory is neither live objects nor free heap pages
//    (set_other_memory: span structs, caches, arena metadata, and the free
//    slots of in-use spans), and the goal becomes
//        limit_goal = L - headroom (0 when L <= headroom, or when
//                     other >= limit), where L = limit - other and
//                     headroom = max(L / 100 * 3, 1 MiB)
//        goal = min(GOGC goal of step 3, max(limit_goal, heap_marked))
//    as Go's memoryLimitHeapGoal computes it (the goal never drops below
//    the live heap: a smaller one would only collect continuously). With
//    GOGC off and a limit, goal = that limit goal: collection only near
//    the limit. The scavenger keeps retained heap pages under limit - other
//    (collector.cpp), and the CPU limiter (cpu_limiter.hpp) stops a heap
//    above its limit from collecting back to back.
// 8. Concurrent marking (set_concurrent(true), the default): a cycle must
//    start before the heap reaches the goal, early enough that the mark
//    ends near it, since the program allocates while it runs. After each
//    concurrent cycle the collector calls set_runway with what the program
//    would allocate during a mark as long as the last one, at the rate it
//    allocated between the two last cycles (not during the mark, which mark
//    assists slow down: measured there, the runway would shrink cycle after
//    cycle):
//        runway  = allocation rate between cycles * duration of the last mark
//        trigger = clamp(goal - runway, marked + (goal - marked) * 7 / 10,
//                                       marked + (goal - marked) * 95 / 100)
//    the bounds being Go 1.18's. Before the first concurrent cycle the
//    runway is 0 (trigger at the upper bound). Stop-the-world mode keeps
//    trigger == goal (step 6). GOGC off with no limit: trigger = UINT64_MAX.
// 9. Mark workers (plan_mark_workers; Go's dedicatedMarkWorkersNeeded and
//    fractionalUtilizationGoal): the background mark uses 25% of the cores,
//        dedicated  = floor(cores / 4)      whole workers, marking throughout
//        fractional = cores / 4 - dedicated  one worker marking that share of
//                                            its time (2 cores: half the time)
//    plus idle workers on the cores that neither the program's running
//    threads nor the dedicated workers use:
//        idle = max(0, cores - running - dedicated)
//    An idle core turns the fractional worker into a whole one (it marks
//    throughout: the core would be idle otherwise), as Go's idle workers
//    take the place of a fractional one on an idle P.
// 10. Mark assists (assist_target; Go's gcControllerState.revise). An
//    allocating thread pays for its allocation during a mark with scan work
//    at the rate (expected - scanned) / (goal - heap) bytes per byte, so that
//    the expected work is done as the heap reaches the goal. The expected
//    work is what the last mark reached, which is wrong when the live heap
//    has grown since (a program that builds its data and then works on it).
//    Then, as Go does:
//    (a) once the scan work exceeds the expectation and the heap has
//        reached the goal, the worst case is expected (every byte of the
//        heap at mark start, max_scan), and the goal moves out in
//        proportion, no further than the hard goal:
//            goal' = min(start + (goal - start) * max_scan / expected, hard)
//            hard  = goal * (1 + GOGC/100); = goal when the memory limit
//                    sets the goal, or GOGC is off
//        (the next cycle will need that much memory anyway, since the live
//        heap is that large: better than a wait for the end of the mark).
//        Go applies it as soon as the work exceeds the expectation; here
//        only at the goal, because in steady state the work passes the
//        expectation near the end of most marks (it leaves out the last
//        mark's black bytes, which this mark scans), and the jump of the
//        expected work to max_scan there made a 2-6 ms batch about once per
//        cycle in the latency benchmark;
//    (b) a heap already past goal' gets 10% more room, with the worst-case
//        work: goal'' = goal' * 1.1. An allocating thread waits for the end
//        of the mark only past goal'': the heap stays bounded. Past goal'
//        with no work left to help with, it waits only until the background
//        workers have scanned what it owed (at most 1 ms; Go's parked
//        assists, collector.cpp wait_for_scan).
// 11. Assists leave to the background workers what they will do anyway
//    (assist_work). Paced by step 10 alone, an assist pays as if nothing
//    else marked: at mark start the whole expectation over the whole
//    runway, so the first batches of a mark pay the most and the last the
//    least (latency benchmark: 1.0-1.6 ms batches after the start, 0.2 ms
//    at the end, with a whole idle core marking beside). Instead the work
//    the background workers are expected to do before the heap reaches the
//    goal, three quarters of
//        bg_rate * (goal - heap) / alloc_rate
//    (scan bytes per ns of the background workers, heap bytes per ns of the
//    program), is taken off the remaining work before it is shared out:
//        work = (remaining - predicted_bg) * allocated / (goal - heap)
//    This corrects itself: a background slower than predicted leaves more
//    work remaining, and the prediction shrinks with the runway, so at the
//    goal it is step 10's rate again.
//    The collector computes this at an allocation slow path, then charges
//    the thread's next allocations at the rate it found (work / allocated)
//    against the credit of its last assist, without computing again, until
//    the credit runs out, 64 KiB more were allocated, or the heap reaches
//    goal' (collector.cpp, assist_mark; Go's gcAssistBytes).
//    The rates (blend_rates): this mark's, measured since it began, weighed
//    against the last mark's as a prior worth rate_prior_ns of measuring,
//        rate = (this * elapsed + last * rate_prior_ns) / (elapsed + rate_prior_ns)
//    (this mark's alone when no last one is known). A mark's first
//    milliseconds are its roots and stack handshakes, with little heap
//    scanned, while the program allocates unhindered: measured alone there
//    (as until the twelfth session, after a 5 ms wait), the background
//    looked slow and the program fast, and the latency benchmark's assists
//    took 30-40% of its thread's time from 5 to 20 ms into each mark against
//    2-8% later. With the prior, assist time in that window fell by a third
//    (benchmarks.md, twelfth session).
//
// 12. Minor or full (minor_policy; minor cycles only, collector.hpp "Minor
//    cycles", step 3). After each cycle the next is minor if a minor one
//    pays (minor_pays), that is if both
//    (a) the old bytes the sweep keeps (dead ones included) have used at
//        most half of the room between the last full cycle's live heap and
//        the goal (the rule of the fourteenth session: dead old objects eat
//        into the room for new ones, and only a full cycle frees them), and
//    (b) a minor mark costs at most max_cost_num / max_cost_den (3/4) of a
//        full one: the scan work of the last mark of each kind, each plus
//        what every cycle pays whatever it marks (the sweep's visit of each
//        span, the card table's read), heap / sweep_cost_divisor.
//    (b) is trusted only while its minor figure is fresh: right after a
//    minor cycle, or after the full cycle that follows one. Otherwise (a
//    run of full cycles) one minor cycle is tried after explore_after full
//    ones, so that a program whose young data changed gets minor cycles
//    back. explore_after starts at explore_first and doubles (up to
//    explore_max) each time a try is followed by a full cycle; a minor
//    cycle followed by another resets it. Until a minor mark has been
//    measured the choice is minor. A forced cycle (gc::collect()) gives the
//    full mark's work but leaves the runs as they were. With GOGC off the
//    goal is infinite and (a) always holds.
//    Why (b): in the latency benchmark the young nodes land beside old
//    ones, so nearly every card is dirty and a minor mark read 180-318 MB
//    against a full one's 198 MB; rule (a) alone ran such a minor cycle
//    every other cycle or so. A first version compared the heap each kind
//    frees per byte it scans; it did as well there but made binary-trees'
//    largest trees alternate minor and full cycles, 10% more peak RSS
//    with gcstoptheworld=1 and no gain in time (benchmarks.md, seventeenth
//    session).
//
// Invariants
//   gc_percent() >= 0  =>  heap_minimum() == min_heap_goal * gc_percent() / 100
//                          heap_goal() >= heap_marked()
//   no limit, gc_percent() >= 0  =>  heap_goal() >= heap_minimum()
//   gc_percent() == -1 and no limit  =>  heap_goal() == trigger() == UINT64_MAX
//   a limit  =>  heap_goal() <= max(limit_goal, heap_marked())
//   trigger() <= heap_goal(); stop-the-world mode: trigger() == heap_goal()
//   concurrent: trigger() >= heap_marked() + (heap_goal() - heap_marked()) * 7 / 10
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

inline constexpr std::int64_t no_memory_limit = INT64_MAX;

// Pure GOMEMLIMIT parser (step 7). env == nullptr, "" or "off" -> no limit.
// Anything else that is not a byte count -> no limit, and *warning (if not
// null) is set to one line naming the bad value and the default.
std::int64_t parse_memory_limit(const char* env, std::string* warning);

// getenv("GOMEMLIMIT") parsed once per process; a bad value warns once.
std::int64_t memory_limit_from_environment();

// Step 9, pure: how the background mark may use `cores` processors while
// `running` threads of the program are running (not in blocking regions).
struct mark_workers {
  int dedicated = 0;        // whole workers
  double fractional = 0;    // the time share of one more worker, in [0, 1)
  int idle = 0;             // cores left idle: more whole workers
  // Threads that mark throughout (dedicated + idle; the fractional worker
  // counts when an idle core absorbs it).
  int whole() const { return dedicated + idle; }
};
mark_workers plan_mark_workers(int cores, int running);

// Step 12: chooses each cycle's kind from what the cycles before measured.
// Pure; the collector owns one and calls it with the world stopped.
class minor_policy {
 public:
  static constexpr std::uint64_t sweep_cost_divisor = 32;
  static constexpr int explore_first = 4, explore_max = 64;
  // What the cycle that just ended measured, and what the next would start from.
  struct cycle {
    bool minor = false;
    bool forced = false;          // gc::collect()'s full cycle: no evidence for the policy's runs
    std::uint64_t work = 0;       // its scan work
    std::uint64_t heap = 0;       // heap in use (what every cycle's sweep visits)
    std::uint64_t goal = 0;       // the next cycle's heap goal
    std::uint64_t old = 0;        // old bytes a minor cycle would start from
    std::uint64_t full_live = 0;  // what the last full cycle kept (this one, if full)
  };
  // True: the next cycle should be a minor one.
  bool next(const cycle& c);
  // The prediction alone (step 12's (a) and (b)), from the last minor and
  // full marks' scan work.
  static bool minor_pays(const cycle& c, std::uint64_t minor_work, std::uint64_t full_work);
  static constexpr std::uint64_t max_cost_num = 3, max_cost_den = 4;
  int explore_after() const { return explore_after_; }

 private:
  std::uint64_t minor_work_ = 0;  // the last minor mark's scan work (0: none yet)
  std::uint64_t full_work_ = 0;   // the last full mark's scan work
  int fulls_ = 0;                 // full cycles since the last minor one
  int explore_after_ = explore_first;
  bool last_minor_ = false;       // the cycle before the one that just ended was minor
  bool probing_ = false;          // the minor cycle that just ended was a try
};

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
  // Automatic collection: GOGC on, or a memory limit set.
  bool enabled() const { return gc_percent_ >= 0 || has_memory_limit(); }

  // End of a mark: the marked (live) heap bytes, the bytes of stacks
  // scanned, and the bytes of globals (add_roots regions) scanned.
  void end_cycle(std::uint64_t live_bytes, std::uint64_t stack_bytes, std::uint64_t globals_bytes);

  // Step 3's formula, for any inputs (gc_percent < 0: off).
  static std::uint64_t goal_for(int gc_percent, std::uint64_t live_bytes, std::uint64_t stack_bytes,
                                std::uint64_t globals_bytes);
  // Step 7's limit goal before the live-heap floor (limit == no_memory_limit: off).
  static std::uint64_t limit_goal_for(std::int64_t limit, std::uint64_t other_bytes);

  // Step 7. Negative: no change. Returns the previous limit.
  std::int64_t set_memory_limit(std::int64_t limit);
  std::int64_t memory_limit() const { return memory_limit_; }
  bool has_memory_limit() const { return memory_limit_ != no_memory_limit; }
  // gort's memory that is neither live objects nor free heap pages.
  void set_other_memory(std::uint64_t bytes);
  std::uint64_t other_memory() const { return other_; }
  // The goal GOGC alone would set (off: UINT64_MAX); heap_goal() is at most this.
  std::uint64_t gogc_goal() const { return goal_for(gc_percent_, heap_marked_, last_stack_scan_, globals_scan_); }
  // Is the current goal set by the memory limit (lower than GOGC's)?
  bool goal_from_limit() const { return goal_ < gogc_goal(); }
  // Step 2's formula (gc_percent < 0: 0).
  static std::uint64_t heap_minimum_for(int gc_percent);

  std::uint64_t heap_goal() const { return goal_; }
  std::uint64_t heap_minimum() const { return heap_minimum_for(gc_percent_); }
  std::uint64_t trigger() const;  // steps 6 and 8

  // Step 8.
  void set_concurrent(bool on) { concurrent_ = on; }
  bool concurrent() const { return concurrent_; }
  void set_runway(std::uint64_t bytes) { runway_ = bytes; }
  std::uint64_t runway() const { return runway_; }
  bool should_collect(std::uint64_t heap_live) const { return enabled() && heap_live >= trigger(); }

  // The last cycle's inputs (0 before the first), and the cycles ended.
  std::uint64_t heap_marked() const { return heap_marked_; }
  std::uint64_t last_stack_scan() const { return last_stack_scan_; }
  std::uint64_t globals_scan() const { return globals_scan_; }
  std::uint64_t cycles() const { return cycles_; }

  // Step 10's hard goal for a mark that starts now.
  std::uint64_t hard_goal() const;
  // Step 10: the goal and the expected scan work that assists pace against,
  // for a mark that started at heap `start` (also its max_scan) with `goal`,
  // `hard` (hard_goal() at its start) and `expected` work, now that
  // `scanned` bytes are scanned and the heap is `heap`.
  struct assist_pace {
    std::uint64_t soft;      // goal' of step 10: past it with no work left, wait for the mark
    std::uint64_t goal;      // goal'' of step 10, the one assists pace against: past it, wait
    std::uint64_t expected;  // the scan work to pace against
  };
  static assist_pace assist_target(std::uint64_t start, std::uint64_t goal, std::uint64_t hard,
                                   std::uint64_t expected, std::uint64_t scanned, std::uint64_t heap);
  // Step 11: the scan work owed for `allocated` bytes, at heap size `heap`
  // against `goal`, with `remaining` scan work left, the background workers
  // scanning bg_rate bytes per ns and the program allocating alloc_rate
  // heap bytes per ns (0: unknown, step 10's rate). At most `remaining`.
  static std::uint64_t assist_work(std::uint64_t remaining, std::uint64_t allocated, std::uint64_t goal,
                                   std::uint64_t heap, double bg_rate, double alloc_rate);
  // Step 11's rates: `measured` over the `elapsed_ns` this mark has run,
  // blended with the last mark's (`last`, 0: unknown) as a prior worth
  // rate_prior_ns of measuring. A rate of 0 in `measured` counts as a
  // measurement (nothing scanned yet is evidence of a slow start).
  struct mark_rates {
    double bg = 0;     // background scan bytes per ns
    double alloc = 0;  // program heap bytes per ns
  };
  static constexpr double rate_prior_ns = 20e6;
  static mark_rates blend_rates(mark_rates last, mark_rates measured, std::uint64_t elapsed_ns);

 private:
  void commit();

  int gc_percent_;
  bool concurrent_ = false;
  std::uint64_t runway_ = 0;
  std::int64_t memory_limit_ = no_memory_limit;
  std::uint64_t other_ = 0;
  std::uint64_t heap_marked_ = 0;
  std::uint64_t last_stack_scan_ = 0;
  std::uint64_t globals_scan_ = 0;
  std::uint64_t cycles_ = 0;
  std::uint64_t goal_ = 0;
};

}  // namespace gc::internal
