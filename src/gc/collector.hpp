// src/gc/collector.hpp: the face of src/gc, the collector.
//
// A concurrent cycle (the default; Go's mgc.go shape):
// 1. Sweep termination (the last cycle's sweep is finished, world running),
//    then mark start, a short stop, run by the thread that crosses the
//    trigger (or by gc::collect()): turn on the write barrier (src/gc/barrier.cpp)
//    and allocate-black (src/alloc/alloc.hpp); mark the roots that can be
//    read only with the world stopped (each mcache's tiny block, the
//    destructor queue). No stack is scanned in it.
// 2. Concurrent mark, by the background collector thread (or collect()'s
//    caller) while the program runs: gc::root slots and add_roots ranges
//    (under the roots lock), each thread's stack at a handshake that stops
//    that thread alone (stack::handshake_each_stack), then the heap: 25% of
//    the cores plus idle ones (pacer.hpp step 9; the background thread is
//    the first worker, or the fractional one). Allocating threads
//    pay for their allocation with mark assists and, over the goal with
//    nothing left to help with, wait for the end of the cycle.
// 3. Mark termination, a short stop: scan again the threads the stop signal
//    interrupted (they may be inside a barrier sequence) and the add_roots
//    ranges (no barrier), shade what the threads' barrier buffers hold
//    (barrier.cpp, step 6), drain the rest, the checkmark pass if asked, turn
//    off the barrier and allocate-black, begin the sweep phase
//    (src/gc/sweep.hpp), set the next goal and trigger (pacer step 8).
// 4. Concurrent sweep, after the restart: the background thread sweeps
//    every span not yet swept, allocating threads sweep the classes they
//    need and the spans they own, gc::collect() finishes the sweep before
//    it returns; then the
//    background scavenger returns memory over goal + 10% (scavenger.hpp).
//    Destructors run on the finalizer thread, or in gc::collect().
// The world mutex is held around each stop; cycle_active spans the cycle,
// so no second cycle starts meanwhile (collect() and fork wait for it).
//
// A stop-the-world cycle (GODEBUG=gcstoptheworld=1, gc::set_concurrent_marking
// (false); run_cycle):
// 1. The collecting thread holds the world mutex (one cycle at a time),
//    makes sure the marker threads exist, and flushes its own mcache.
// 2. Stop the world (src/stack): every other registered thread parks at a
//    safe point (flushing its own mcache first), or is interrupted by the
//    stop signal, or is in a blocking region. No stopped thread holds a
//    runtime lock (src/common/lock.hpp), so the collector may take them.
// 3. Mark (src/gc/mark): roots = every thread's stack and saved registers,
//    gc::root slots, gc::add_roots ranges, each mcache's current tiny block,
//    objects waiting for their destructor; then drain in parallel. With
//    GODEBUG=gccheckmark=1, mark again into a separate bit set and abort
//    on any reachable object the first mark missed (src/gc/checkmark.hpp).
// 4. Sweep (src/gc/sweep) every in-use span; queue destructors.
// 5. The pacer takes the live heap and sets the next goal; statistics.
// 6. Restart the world; print the gctrace line (GODEBUG=gctrace=1).
// 7. Destructors run: in gc::collect() before it returns, or on the
//    finalizer thread after an automatic cycle.
// In both kinds, nothing inside a stop calls malloc, prints, or runs user
// code: a stopped thread may hold malloc's lock or the program's own locks.
//
// Minor cycles (GODEBUG=gcgen=1, set_generational; docs/design.md section 3),
// in both kinds of cycle:
// 1. The barrier dirties the card of every slot it stores into (the card
//    tables, src/gc/cards.hpp, made when the mode goes on).
//    Each mark start swaps the two tables: the mark reads the one that
//    holds the stores made since the last mark start, and the stores made
//    during the mark go to the other, for the next one.
// 2. A sweep may keep the survivors' marks (sweep.hpp step 5): they are
//    old. Objects allocated black during a concurrent mark are kept but not
//    made old (span::black_word): most of them are garbage by the next cycle.
// 3. The next cycle is a minor one unless it is forced (gc::collect()),
//    the last sweep kept no marks, the table cannot cover the heap, or the
//    policy asks for a full one (pacer.hpp step 12, minor_policy: the old
//    heap exceeds what the last full cycle kept by half of the room up to
//    the goal, or a minor mark costs more than 3/4 of a full one, by the
//    last marks' scan work; a minor cycle is tried now and then during a
//    run of full ones). The goal is paced from
//    what the last full cycle kept (a minor cycle's kept heap includes dead
//    old objects, which so eat into the room for new ones), plus, in a
//    concurrent cycle, its black bytes. Stop-the-world cycles apply the
//    policy at the next cycle's start (a full one clears the kept marks in
//    its stop, begin_full_mark); concurrent ones when their sweep begins,
//    by keeping no marks, so that no stop has to clear them.
//    A minor mark scans the old objects on dirty cards (clearing them), then
//    the roots, and never marks an old object again (mark.hpp step 6); a
//    concurrent one does so on its marking thread while the program runs,
//    and expects the scan work of the last minor mark (pacer step 11).
// 4. A full mark clears the read table instead (it sees every object).
// Why it is sound: right after a cycle's sweep every surviving object that
// marking reached is old, so no old object points to a young one except
// through an edge stored during the mark (to an object allocated black, the
// only young objects that survive a mark). Every such pointer, and every
// one made later, was stored through the barrier, which dirtied the card
// that holds the slot in the table that the next mark reads (cards.hpp,
// invariants; a card store that straddles the stop is barrier.cpp's step
// 3), and that mark scans the old objects on it. So a minor mark reaches
// every young object that is reachable: from the roots, from young objects
// it marks, or from old objects through dirty cards; a concurrent one keeps
// what the program stores meanwhile by the hybrid barrier, unchanged.
// Pointers stored without the barrier (raw T* fields, memcpy) are not seen:
// such programs must not turn the mode on (the same rule as concurrent
// marking's). The checkmark pass (GODEBUG=gccheckmark=1) checks every minor
// mark against a full one.
//
// Triggering: the allocator's slow path (alloc_hooks::slow_path) is a safe
// point and checks heap_live, less the garbage the sweep has not freed yet,
// against the pacer's trigger; the thread that crosses it starts the cycle.
//
// Lock order: the world mutex is a plain mutex held across the stop, so it
// is taken before any rank_mutex and never while holding one.
#pragma once

#include <cstdint>

namespace gc::internal::collector {

// Installs the allocator hooks, reads GOGC and GODEBUG, registers the fork
// handlers. Idempotent; run by the static initialiser that <gort/gort.hpp>
// places in every translation unit that includes it.
int init();

// Tests only: if set, called in every cycle after marking and before the
// checkmark pass and the sweep, with the world stopped (fault injection for
// the checkmark verifier). Set it while no cycle runs.
extern void (*test_after_mark)();
// Tests only: if set, called by the marking thread of every concurrent mark
// right after its handshake-free start (before the card pass and the
// roots), with the world running. Set it while no cycle runs.
extern void (*test_during_mark)();
// Tests only: minor cycles whenever step 3 of "Minor cycles" allows one,
// whatever the policy (pacer.hpp step 12) predicts, so that a case can ask
// for a minor cycle on a heap too small for the prediction to mean much.
// Set it while no cycle runs.
extern bool test_minor_always;

// Automatic cycles the GC CPU limiter postponed (src/gc/cpu_limiter.hpp).
std::uint64_t limited_triggers();

// Tests only: when true, concurrent marks plan no whole worker (pacer.hpp
// step 9), as on a machine whose cores the program keeps busy, so the
// collector's thread is a fractional worker. Set it while no cycle runs.
extern bool test_fractional_only;
// Tests only: when true, concurrent marks plan a whole worker on every core
// (helpers join every drain) and every helper is told to leave at its first
// check (mark.hpp step 5). Set it while no cycle runs.
extern bool test_helpers_leave;
// Minor cycles on or off (the GODEBUG=gcgen=1 switch, at run time; tests).
// Returns the previous setting. The next cycle is a full one either way.
bool set_generational(bool on);
// Minor cycles run since the process began.
std::uint64_t minor_cycles();
// Tests: one whole cycle as the pacer would start it (not forced: a minor
// one in generational mode when step 3 of "Minor cycles" allows), with the
// sweep finished and the destructors run, as gc::collect() does.
void collect_unforced();
// Scan work (bytes) that the last concurrent cycle's mark termination did
// inside its stop: what the concurrent mark left. Read after a cycle.
std::uint64_t last_termination_scan_bytes();
// Tests only: what the pacer took from the last cycle, as one snapshot.
struct pacing_snapshot {
  std::uint64_t live = 0;   // the live heap, the goal's base
  std::uint64_t black = 0;  // the part of it allocated black during the mark (0 when stopped)
  std::uint64_t goal = 0;   // the goal set from it
};
pacing_snapshot last_cycle_pacing();


}  // namespace gc::internal::collector
