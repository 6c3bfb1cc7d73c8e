// src/gc/scavenger.hpp: the background scavenger, which returns free heap
// pages to the OS at a bounded CPU cost (Go's mgcscavenge.go, bgscavenge).
//
// Algorithm
// 1. After each automatic cycle the collector sets two bounds on the heap
//    memory gort retains (committed and not released: heap_sys -
//    heap_released):
//      goal bound   goal + 10%, as Go's gcPercentGoal;
//      limit bound  GOMEMLIMIT less gort's metadata (none without a limit).
// 2. Over the limit bound, the collector's thread releases down to it at
//    once (as Go scavenges in the allocation path when the limit is
//    exceeded): memory over the limit is the one thing that cannot wait.
// 3. Over the goal bound, the scavenger thread (started on first need)
//    releases in chunks of chunk_bytes, each one page_heap::release call,
//    so the heap lock is held for one chunk's madvise at a time; after each
//    chunk it sleeps long enough that releasing takes about cpu_fraction of
//    its time (Go's scavenger aims at 1% of the CPU). It reads the bound
//    again before each chunk: a new cycle may have moved it.
// 4. gc::collect() and gc::free_os_memory() release at once, on the calling
//    thread: a program that asks for a collection asks for its effect.
//
// Invariants: the thread holds no lock while it sleeps; it touches no gc
// object and is not registered with src/stack (a stop does not wait for
// it; it never holds a rank_mutex across a stop because it is never
// stopped).
//
// Reference: Go's runtime/mgcscavenge.go (scavengerState, gcPercentGoal,
// memoryLimitGoal, the 1% CPU target).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::internal::scavenger {

inline constexpr std::size_t chunk_bytes = 256 * 1024;
inline constexpr double cpu_fraction = 0.01;

// Step 3's pause after a chunk that took work_ns: work * (1 - f) / f,
// capped at 100 ms (so a new bound is read at least that often).
std::uint64_t pause_after(std::uint64_t work_ns, double fraction = cpu_fraction);

// Step 1: the goal bound (UINT64_MAX: none). Wakes the thread if the heap
// retains more. Any thread.
void set_goal(std::uint64_t retained_bytes);
// Bytes the thread has released since the process started (tests, stats).
std::uint64_t released_in_background();

// Builds the scavenger's state; the collector's initialiser calls it once,
// before any other gort call (so before any fork).
void init();
// fork child: the thread does not exist there.
void atfork_child();

}  // namespace gc::internal::scavenger
