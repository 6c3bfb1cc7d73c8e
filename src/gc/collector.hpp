// src/gc/collector.hpp: the face of src/gc, the collector.
//
// One cycle (run_cycle), stop-the-world in this version of gort:
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
// Nothing between 2 and 6 calls malloc, prints, or runs user code: a stopped
// thread may hold malloc's lock or the program's own locks.
//
// Triggering: the allocator's slow path (alloc_hooks::slow_path) is a safe
// point and checks heap_live against the pacer's trigger; the thread that
// crosses it runs the cycle (a thread that finds a cycle already running
// simply gets stopped by it).
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

// Automatic cycles the GC CPU limiter postponed (src/gc/cpu_limiter.hpp).
std::uint64_t limited_triggers();

}  // namespace gc::internal::collector
