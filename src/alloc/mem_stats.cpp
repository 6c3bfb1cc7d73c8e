// src/alloc/mem_stats.cpp: the allocator's half of gc::read_mem_stats (the
// collector's half, and the public function, are in src/gc/collector.cpp).
//
// Counting (Go's rules, see mem_stats in <gort/gort.hpp>):
// 1. Small objects are counted per size class when an mcache loads a window
//    (all its free objects) and uncounted when it retires the window (those
//    left). So objects handed out = counter - popcount(current free_bits),
//    summed over live mcaches, plus the counters of exited threads.
// 2. Large objects and frees are global atomic counters.
// 3. mallocs and frees both include tiny allocations, so that heap_objects
//    = mallocs - frees counts 16-byte blocks, as Go's HeapObjects does.
// 4. Heap sizes come from the page heap's counters, under its lock.
// Reading takes the registry lock, then the heap lock (the lock order).
#include <gort/mem_stats.hpp>

#include <algorithm>
#include <bit>

#include "alloc/alloc.hpp"
#include "common/bits.hpp"

namespace gc::internal {

void fill_alloc_stats(mem_stats& st) {
  std::int64_t small_mallocs[num_size_classes] = {};
  std::uint64_t tiny = counters.tiny_allocs.load(std::memory_order_relaxed);
  std::uint64_t mcaches_live = 0;
  for_each_mcache([&](mcache& c) {
    ++mcaches_live;
    for (int sc = 0; sc < num_size_classes; ++sc)
      small_mallocs[sc] += static_cast<std::int64_t>(c.small_mallocs[sc].load(std::memory_order_relaxed));
    for (int spc = 0; spc < num_span_classes; ++spc)
      small_mallocs[span_class_size(spc)] -= popcount64(c.slots[spc].free_bits.load(std::memory_order_relaxed));
    tiny += c.tiny_allocs.load(std::memory_order_relaxed);
  });

  std::uint64_t mallocs = 0, frees = 0, live_bytes = 0, total_bytes = 0;
  for (int sc = 1; sc < num_size_classes; ++sc) {
    std::uint64_t m = static_cast<std::uint64_t>(std::max<std::int64_t>(small_mallocs[sc], 0)) +
                      counters.small_mallocs[sc].load(std::memory_order_relaxed);
    std::uint64_t f = std::min(counters.small_frees[sc].load(std::memory_order_relaxed), m);
    st.by_size[sc] = {class_to_size[sc], m, f};
    mallocs += m;
    frees += f;
    total_bytes += m * class_to_size[sc];
    live_bytes += (m - f) * class_to_size[sc];
  }
  const std::uint64_t large_m = counters.large_mallocs.load(std::memory_order_relaxed);
  const std::uint64_t large_f = counters.large_frees.load(std::memory_order_relaxed);
  const std::uint64_t large_alloc = counters.large_bytes_alloc.load(std::memory_order_relaxed);
  const std::uint64_t large_freed = counters.large_bytes_freed.load(std::memory_order_relaxed);

  st.mallocs = mallocs + large_m + tiny;
  st.frees = frees + large_f + tiny;
  st.heap_objects = st.mallocs - st.frees;
  st.total_alloc = total_bytes + large_alloc;
  st.heap_alloc = live_bytes + (large_alloc - large_freed);
  st.alloc = st.heap_alloc;
  st.tiny_allocs = tiny;

  page_heap_counters hc = page_heap::instance().counters();
  st.heap_sys = hc.heap_sys;
  st.heap_inuse = hc.heap_inuse;
  st.heap_idle = hc.heap_sys - hc.heap_inuse;
  st.heap_released = hc.heap_released;
  st.spans_inuse = hc.spans_inuse;
  st.mspan_sys = hc.mspan_sys;
  st.mspan_inuse = hc.mspan_inuse;
  st.mcache_sys = counters.mcache_sys.load(std::memory_order_relaxed);
  st.mcache_inuse = mcaches_live * sizeof(mcache);
  st.other_sys = hc.other_sys + sizeof(page_heap) + sizeof(mcentral) * num_span_classes;
  st.sys = st.heap_sys + st.mspan_sys + st.mcache_sys + st.other_sys;
}

}  // namespace gc::internal
