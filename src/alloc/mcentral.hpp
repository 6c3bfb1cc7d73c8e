// src/alloc/mcentral.hpp: the central free lists, one per span class (Go's
// mcentral). They hand whole spans to mcaches and take them back, and they
// are where spans wait to be swept after a mark.
//
// Algorithm
// 1. cache_span(owner): a span with a free object, now owned by the mcache
//    slot: first a swept partial span; else an unswept partial span, swept
//    here by the allocating thread; else up to `sweep_budget` unswept full
//    spans, swept here, the first with room taken (the others move to the
//    swept full list); else a fresh span from the page heap. A span taken
//    from the lists costs `proportional_sweep` (2) more unswept spans of the
//    class swept (sweep_some), as Go's allocating goroutines pay sweep
//    credit: the background sweeper leaves a class its threads are
//    refilling to them (src/gc/sweep.hpp), and without this they swept only
//    the spans they took, leaving the rest (16-23 thousand spans) to the
//    sweep termination of the next cycle, in the thread that crossed the
//    trigger: a 2-4 ms batch once per cycle in the latency benchmark. One
//    more span per span taken still left 16-23 thousand; two left none
//    (docs/benchmarks.md, eighteenth session). A span this sweep empties
//    stays on the class's swept partial list (sweep_some's keep_empty) for
//    the next refill: given back to the page heap, it had to be taken out
//    again as a fresh span a moment later, which made binary-trees, whose
//    spans empty whole, 10-20% slower.
// 2. uncache_span(s): an mcache gives back a span whose window it has retired
//    (always swept: owned spans are swept in mark termination's stop); it
//    goes on the swept full list if every object is allocated, else partial.
// 3. free_object(s, i): clear object i's alloc bit (the destructor queue's
//    free, and tests); a span that becomes empty goes back to the page heap.
//    Declined (the caller reports it; the next cycle frees the object) while
//    an mcache owns s (its alloc bits are the owner's) or s is not swept
//    (the sweeper owns them).
// 4. Sweeping (sweep_some): take up to 16 unswept spans off the lists under
//    one acquisition of lock_ (claim: sweepgen sg-2 -> sg-1), sweep them
//    without the lock (the collector's hook, alloc_hooks::sweep_span), give
//    the empty ones back to the page heap without lock_ (keep_empty, the
//    refill's sweep of step 1: onto the swept partial list), and put the others
//    on the swept lists that fit under one more acquisition; each publishes
//    sweepgen = sg as it is placed. (One span per acquisition: the lock's
//    line went back and forth between the background sweeper and the
//    refills of the same class, span after span.)
// 5. Large objects have one list of their own, central(0): each large span
//    is on its full lists while allocated, so the sweeper finds it.
// 6. Spans kept empty by step 1 wait for the class's next refills. Once the
//    sweep is finished, the background sweeper gives back those of every
//    class nobody has refilled from for a while (release_kept_empty_cold),
//    and free_os_memory all of them (release_all_kept_empty): a program
//    that stops allocating from a class after a cycle would otherwise keep
//    them until the next cycle, which may never come. A class still being
//    refilled keeps them: giving them back and taking fresh spans instead
//    (a cap of 4 kept spans per class, tried) made binary-trees 13% slower.
//
// Lists. partial_[i] and full_[i], i in {0, 1}: with sg = heap_sweepgen,
// the swept lists are index (sg / 2) % 2 and the unswept ones the other.
// Mark termination adds 2 to sg (begin_sweep_phase), which turns every
// swept list into an unswept one at once, as in Go's mcentral
// (partialSwept / partialUnswept); the unswept lists are empty by then
// (sweep termination swept them all before the mark began).
//
// Invariants (lock_ held)
// - Every in-use span of this class that no mcache owns and no sweeper has
//   claimed is on exactly one list: swept lists hold spans with sweepgen ==
//   sg, unswept lists sweepgen == sg - 2; partial lists alloc_count < nelems,
//   full lists alloc_count == nelems (unswept lists: as of the last sweep).
// - A span owned by an mcache or claimed by a sweeper is on no list.
// - A span on a swept list with alloc_count == 0 was put there by a
//   refill's sweep (keep_empty, step 1) or by uncache_span; every other
//   span a sweep emptied went back to the heap. Only partial lists hold
//   empty spans.
// - Across all classes: sweeps_active == spans claimed and not yet placed.
//
// Lock order: central < heap (central may call the page heap while locked).
// Reference: Go's mcentral.go (cacheSpan, uncacheSpan, partialSwept), and
// mgcsweep.go (sweepone, the sweepgen states, sweep termination).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "alloc/span.hpp"
#include "common/lock.hpp"

namespace gc::internal {

class mcentral {
 public:
  // Unswept spans of the class a refill sweeps for each span cache_span
  // takes from the lists (step 1).
  static constexpr std::size_t proportional_sweep = 2;

  explicit mcentral(int span_class) : span_class_(span_class) {}

  // A span with at least one free object, now owned by `owner`; nullptr when
  // the page heap cannot grow. Caller holds a no_stop_scope (refill).
  span* cache_span(alloc_slot* owner);
  // Takes back a span from an mcache; its window must be retired.
  void uncache_span(span* s);
  // Frees object idx of s. False when declined (step 3).
  bool free_object(span* s, std::uintptr_t idx);
  // central(0) only: puts a newly allocated large span on the swept list.
  void add_large(span* s);
  // Sweeps up to max_spans (at most max_sweep_batch) unswept spans of this
  // class (step 4); returns how many, 0 if none is left. keep_empty: a
  // span left with no object goes on the swept partial list instead of back
  // to the page heap (the refill's proportional sweep, step 1).
  std::size_t sweep_some(std::size_t max_spans, bool keep_empty = false);
  // Step 6: gives the empty spans a refill's sweep kept on the swept
  // partial list back to the page heap; returns how many.
  std::size_t release_kept_empty();
  bool has_kept_empty() const { return kept_empty_.load(std::memory_order_relaxed) != 0; }
  // Spans cache_span has handed out so far (it counts under lock_): the
  // background sweeper leaves a class whose count moves to the threads
  // that refill from it (sweep phase, step 2).
  std::uint32_t refills() const { return refills_.load(std::memory_order_relaxed); }

  // Spans on the partial / full lists, swept and unswept (tests).
  std::size_t partial_count();
  std::size_t full_count();

  void lock_for_fork() { lock_.lock_for_fork(); }
  void unlock_for_fork() { lock_.unlock_for_fork(); }

 private:
  // Under lock_: takes an unswept span off its lists (partial first) and
  // claims it; nullptr if none. The caller counts it in sweeps_active
  // before it releases lock_.
  span* claim_unswept_locked(std::uint32_t sg);
  // Under lock_: a claimed span, swept: onto its swept list, or back to the
  // page heap if empty. Publishes sweepgen = sg. The caller takes it out of
  // sweeps_active afterwards.
  void place_swept_locked(span* s, std::uint32_t sg);

  static constexpr int sweep_budget = 100;  // unswept full spans one cache_span may sweep
  rank_mutex lock_{lock_rank::central};
  // Written under lock_ (atomic: has_kept_empty reads it without): empty
  // spans on the swept partial list that a refill's sweep kept there (step
  // 1) in sweep generation kept_empty_sg_, less those taken since (an
  // estimate: a refill that takes an empty span uncache_span put there
  // counts it too). Stale once another generation began (they are unswept
  // then, and the sweep frees them).
  std::atomic<std::uint32_t> kept_empty_{0};
  std::uint32_t kept_empty_sg_ = 0;  // guarded by lock_
  std::atomic<std::uint32_t> refills_{0};  // written under lock_; read without it
  span_list partial_[2];  // guarded by lock_
  span_list full_[2];     // guarded by lock_
  const int span_class_;
};

// The central list of a span class (4 <= span_class < num_span_classes), or
// of large spans (0).
mcentral& central(int span_class);
inline mcentral& large_central() { return central(0); }

// ---- the sweep phase (mgcsweep.go's sweepone and sweep termination) ----------
//
// 1. begin_sweep_phase (world stopped, after the mark): sg += 2 with every
//    central lock held (so no claimer reads sg on one side of the flip and a
//    list on the other); the sweep cursor goes back to the first class. The
//    caller then sweeps the spans mcaches own (they are on no list).
//    The locks are for threads the stop does not stop: a stopped thread
//    holds no runtime lock (its stop waits for its last unlock), so only
//    an unregistered thread can be inside a central's lock, and the only
//    such thread that takes one is the one that sweeps in the background.
//    When that thread is the caller (others_may_sweep false), no central
//    lock can be held, and taking them all (10-60 us of each mark
//    termination on a 2-vCPU VM) is skipped.
// 2. Any thread may call sweep_some_any: it sweeps up to max_spans spans of
//    the class at the cursor, moving the cursor on when a class has none
//    left; allocating threads also sweep in cache_span. The collector's
//    background thread calls sweep_some_cold instead, which passes over the
//    classes that some thread refilled from since its last look (their
//    refills count moved): those threads sweep them as they refill, on
//    caches that the sweep leaves warm for their next allocations, and
//    without contending for the class's lock. Measured on binary-trees at
//    depth 21 (2-vCPU VM, 2026-12-07): a background sweeper that swept the
//    class the program allocated from beside it made the run 15% slower
//    with the default collector and 26% slower with concurrent minor
//    cycles than leaving that class to the program.
// 3. finish_sweep (sweep termination, before the next mark, and in
//    gc::collect): sweeps what is left, then waits until no claimed span is
//    being swept anywhere. Afterwards every in-use span is swept, until the
//    next begin_sweep_phase.
inline constexpr std::size_t max_sweep_batch = 16;
// Returns the number of spans swept (0: none left).
std::size_t sweep_some_any(std::size_t max_spans);
// The background sweeper's look at the classes (step 2): each class's
// refills count as of its last look, and when that count was last seen to
// move. Zero-initialised: at the first look every class refilled since the
// process began counts as busy.
struct sweep_watch {
  std::uint32_t seen[num_span_classes] = {};
  std::uint64_t moved_ns[num_span_classes] = {};
};
// Sweeps up to max_spans spans of the first class, from the cursor on, that
// has unswept spans and is not busy: its refills count has not moved in
// the quiet_ns before now_ns (a monotonic clock's reading), as far as
// `watch` saw (each call records the counts it sees). Returns how many (0:
// none swept, either nothing is left or every class that has some is busy).
std::size_t sweep_some_cold(std::size_t max_spans, sweep_watch& watch, std::uint64_t now_ns, std::uint64_t quiet_ns);
void finish_sweep();
// Step 6 of the mcentral algorithm, for the background sweeper once the
// sweep is finished: gives back the kept empty spans of every class not
// busy (as sweep_some_cold decides, with the same watch); any_left: some
// busy class still keeps some. Returns how many spans went back.
std::size_t release_kept_empty_cold(sweep_watch& watch, std::uint64_t now_ns, std::uint64_t quiet_ns,
                                    bool& any_left);
// Gives back the kept empty spans of every class (free_os_memory).
std::size_t release_all_kept_empty();
// No span left unswept and none being swept.
bool sweep_finished();
void begin_sweep_phase(bool others_may_sweep = true);
// Spans claimed and being swept (atomic).
extern std::atomic<std::uint32_t> sweeps_active;

}  // namespace gc::internal
