// src/gc/sweep.hpp: sweeping, with the world stopped, right after marking;
// and the queue of objects whose destructors must run.
//
// Algorithm, for every in-use span (page_heap::for_each_span_struct):
// 1. A large object: marked -> clear the mark. Unmarked -> if its type has a
//    destructor, queue it (step 4) and keep it; else give its pages back to
//    the page heap.
// 2. A small span that is untyped and owned by no mcache: Go's trick. The
//    mark bits become the alloc bits by swapping the two pointers, and the
//    new mark bits are cleared. alloc_count = popcount(new alloc bits).
// 3. Otherwise word by word: dead = alloc & ~mark. A dead typed object whose
//    type has a destructor is queued and stays allocated; other dead objects
//    are freed (their obj_meta cleared). For a span that some thread's
//    mcache owns, the word of that mcache's current window is left exactly
//    as it is: the owner may be stopped in the middle of taking an object
//    from it (a signal can land anywhere in the inline fast path), so its
//    alloc bits and window must not change under it. Garbage there waits for
//    the next cycle.
//    Then: an unowned span with no object left goes back to the page heap;
//    an unowned full span that now has room moves to its central partial list.
// 4. Queued destructors run after the world restarts (run_destructors), on
//    the thread that called gc::collect() or on the finalizer thread. The
//    queue is a root set: a queued object is marked by any cycle that starts
//    before its destructor runs, and one whose destructor is running is
//    referenced from the running thread's frame; so it is neither freed nor
//    queued twice (the entry holds the type; the object's obj_meta.type is
//    cleared when it is queued). After its destructor, the object is freed
//    (if an mcache owns its span, or a concurrent mark is running, the next
//    cycle frees it: its metadata says there is nothing left to run).
//
// Invariants after a sweep (world stopped): every mark bit is zero; for every
// small span, alloc_count == popcount(alloc_bits); every allocated object is
// marked-at-this-cycle, queued, or in an owned window word.
//
// Reference: Go's mgcsweep.go (sweepone, the allocBits/gcmarkBits swap).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::internal::sweep {

struct sweep_result {
  std::uint64_t freed_objects = 0;
  std::uint64_t freed_bytes = 0;
  std::uint64_t queued = 0;      // objects waiting for their destructor
  std::uint64_t live_bytes = 0;  // bytes of objects left allocated
  std::uint64_t marked_bytes = 0;  // the collector's: the live heap the pacer uses
};

// World stopped, after marking.
sweep_result sweep_all();

// World stopped, before marking: marks every queued object whose destructor
// has not finished (through the marker's root worker).
void mark_queued();

// Runs queued destructors and frees their objects, at most `limit` of them.
// Any registered thread, world running; several threads may drain at once.
// Returns how many ran.
std::size_t run_destructors(std::size_t limit = ~std::size_t{0});
// Entries waiting (not yet popped), read without the lock: a hint for the
// allocation slow path, which helps when the finalizer thread falls behind.
std::size_t queued_hint();
// Destructors queued and not finished.
std::size_t pending_destructors();

// fork: in the child, destructors that another thread of the parent was
// running will never finish (that thread is gone): they are not counted as
// pending, and not run again (that could destroy an object twice). Their
// objects are freed by a later cycle (their metadata says nothing is left to
// run). Entries still queued are run by the child.
void atfork_child();
void atfork_prepare();  // takes the queue's lock; atfork_parent releases it
void atfork_parent();

}  // namespace gc::internal::sweep
