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
};
extern constinit alloc_counters counters;

// Gives every span the calling thread's mcache holds back to the central
// lists, writing the current windows into the alloc bits, and drops the tiny
// block. The thread may allocate again afterwards (it refills).
void flush_own_mcache();

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
