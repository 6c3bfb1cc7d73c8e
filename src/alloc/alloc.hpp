// src/alloc/alloc.hpp: the face of src/alloc, the memory allocator. The
// collector (src/gc) and the tests include this header and nothing deeper.
//
// The hierarchy, from the program down (docs/design.md has the diagram):
//   gc_new -> mcache (per thread, no locks) -> mcentral (per span class)
//          -> page_heap (pages, spans, arenas) -> os (mmap, madvise)
// Large objects (> 32 KiB) go from gc_new straight to the page heap.
//
// src/alloc knows nothing of src/gc: it exposes spans, bitmaps and
// find_object, and the collector decides what is live.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <gort/internal/mcache.hpp>
#include <gort/mem_stats.hpp>
#include <gort/internal/size_class.hpp>

#include "alloc/arena.hpp"
#include "alloc/mcentral.hpp"
#include "alloc/page_heap.hpp"
#include "alloc/span.hpp"

namespace gc::internal {

// Counters that outlive mcaches, or belong to no mcache. All atomic.
struct alloc_counters {
  std::atomic<std::uint64_t> small_mallocs[num_size_classes] = {};  // from exited threads' mcaches
  std::atomic<std::uint64_t> small_frees[num_size_classes] = {};
  std::atomic<std::uint64_t> tiny_allocs{0};  // from exited threads' mcaches
  std::atomic<std::uint64_t> large_mallocs{0};
  std::atomic<std::uint64_t> large_frees{0};
  std::atomic<std::uint64_t> large_bytes_alloc{0};
  std::atomic<std::uint64_t> large_bytes_freed{0};
  std::atomic<std::uint64_t> mcache_sys{0};
  std::atomic<std::uint64_t> mcaches_live{0};
  // Bytes of objects allocated and not freed, counted a window at a time (a
  // loaded window counts whole; retiring it takes back what was left): what
  // the collector's pacer compares with its trigger.
  std::atomic<std::uint64_t> heap_live{0};
};
extern constinit alloc_counters counters;

// Where src/gc hooks into the allocator without src/alloc knowing src/gc.
// Set once, before the first allocation (src/gc's initialiser); null = none.
struct alloc_hooks {
  // At the entry of every allocation slow path (refill, tiny block, large
  // object), holding no lock: a safe point, and where the pacer may start a
  // collection.
  void (*slow_path)() = nullptr;
  // After a thread's first allocation created its mcache.
  void (*thread_started)() = nullptr;
  // When an exiting thread's mcache has been flushed.
  void (*thread_exiting)() = nullptr;
  // Sweeps a span claimed by mcentral (mcentral.hpp step 4): the collector
  // frees its unmarked objects (or queues their destructors), sets its new
  // alloc bits and alloc_count (0: the span is empty and goes back to the
  // heap), and clears its mark bits. Called holding no lock; the span is on
  // no list and owned by no mcache.
  void (*sweep_span)(span* s) = nullptr;
  // Sweeps a span the calling thread's mcache owns and that is not swept
  // this phase, around the window word it had at mark termination (the
  // current one: called before the window changes). Holding no lock, in a
  // no_stop_scope.
  void (*sweep_owned_span)(span* s) = nullptr;
  // Around a system call that a slow path makes outside its no-stop scope
  // and holding no lock (populating a fresh span, page_heap.hpp step
  // 2(c)): the collector's blocking region, so that a stop of the world
  // need not wait for the call. In between, the thread touches no gc
  // memory and leaves its mcache as it is. Unlike gc::blocking_region the
  // cache is not flushed: the thread is back within microseconds, and a
  // stop treats its cache as it treats a thread's parked by the signal.
  void (*enter_blocking)() = nullptr;
  void (*exit_blocking)() = nullptr;
};
extern constinit alloc_hooks hooks;

bool mcache_is_empty_sentinel(const mcache* c);

// Creates the thread-exit key that flushes an exiting thread's mcache. Call
// it before any thread registers with src/stack: glibc runs thread-exit
// destructors in the order their keys were created, and the flush must run
// while the thread is still registered (so that a stop of the world waits
// for it), not after src/stack's own exit destructor unregistered it.
void alloc_init();

// Creates the calling thread's mcache if it has none (and so registers the
// thread through alloc_hooks::thread_started), or throws std::bad_alloc.
// Every allocation path that does not refill (large objects) calls it, so
// that no thread allocates unregistered: a stop would neither wait for it
// nor scan its stack.
void ensure_thread_cache();

// fork (called from src/gc's one pthread_atfork handler): prepare takes the
// mcache registry lock, every central lock and the heap lock, so that no
// other thread is inside the allocator when the process is copied; parent
// releases them; child releases them, then gives back the spans that the
// other threads' mcaches held (those threads do not exist in the child) and
// unregisters their caches.
void alloc_atfork_prepare();
void alloc_atfork_parent();
void alloc_atfork_child();

// Fills the allocator's fields of a mem_stats (src/alloc/mem_stats.cpp).
void fill_alloc_stats(mem_stats& st);

// Gives every span the calling thread's mcache holds back to the central
// lists, writing the current windows into the alloc bits, and drops the tiny
// block. The thread may allocate again afterwards (it refills).
void flush_own_mcache();

// Allocate-black, for a collector that marks while the program runs
// (src/gc/collector.cpp). While on, every object handed out carries its mark
// bit, so that objects allocated during a concurrent mark are black. Each
// such mark is also recorded, while allocate_black_record is on, in the
// span's column 1 (span::black_word, set and cleared with it), so that a
// sweep can tell a mark that marking made from one that allocation made
// (minor collections keep only the first kind as old):
// 1. begin_allocate_black (world stopped): set the flag, and mark every free
//    slot of every mcache's current window (any of them may be handed out
//    from now on; a thread stopped inside the fast path keeps its window).
// 2. While on, an mcache that loads a window marks its free slots, one that
//    retires a window clears the marks of the slots it did not hand out, and
//    a large object is marked when it is allocated. Each of these runs in a
//    no_stop_scope after reading the flag, so no stop falls between the
//    check and the bitmap update: a mark set after end_allocate_black would
//    make an unscanned object black in the next cycle.
// 3. end_allocate_black (world stopped): clear the flag, and clear the marks
//    of the free slots still in every mcache's current window.
// 4. A tiny block that becomes an mcache's current block while the flag is
//    on is marked then (in a no_stop_scope with the flag check), whenever it
//    was popped: the tiny objects cut from it later count as allocated black.
// Invariant while on: an object handed out since begin is marked; a free
// slot is marked only while it sits in some mcache's current window; an
// object popped before begin and not marked is held in its thread's
// registers or frame from the pop on (mcache.hpp, "stop safety"), so that
// thread's stack scan finds it.
extern std::atomic<bool> allocate_black;  // written only with the world stopped
// Whether allocate-black keeps its record in column 1 (span.hpp, Bitmaps)
// in the current cycle, from its mark start to the next: the collector asks
// for it when the cycle may keep marks (minor collections), and column 1 is
// owner 1's marks otherwise. Written only with the world stopped, by
// begin_allocate_black.
extern std::atomic<bool> allocate_black_record;
void begin_allocate_black(bool record);
void end_allocate_black();

// Might the object at `base` (in span s) be in the middle of its
// allocation, its memory not yet zeroed? Only while the world is stopped.
// A thread stopped by a signal may be anywhere in the fast path: between
// popping an object from its window and the end of zeroing it
// (mcache.hpp, "stop safety": the address is live first, the zeroes come
// after), or inside alloc_large's memset. Such an object may be marked
// (allocate-black) and held in the thread's registers, and still hold the
// words of a dead object that used its memory before. True for the last
// object popped from an mcache's current window, for the free slots of that
// window (a stale stack word may point there), and for a large object being
// zeroed. The checkmark pass does not verify what such an object, reached
// only through a stack, points to (src/gc/checkmark.hpp).
bool may_be_initialising(const span* s, std::uintptr_t base);

// Calls f(mcache&) for every live mcache, with the registry lock held.
template <class F>
void for_each_mcache(F&& f);

// The registry lock and the head of the live-mcache list (mcache.cpp).
rank_mutex& mcache_registry_lock();
mcache* mcache_registry_head();

template <class F>
void for_each_mcache(F&& f) {
  lock_guard g(mcache_registry_lock());
  for (mcache* c = mcache_registry_head(); c != nullptr; c = c->registry_next) f(*c);
}

}  // namespace gc::internal
