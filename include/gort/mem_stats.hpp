// <gort/mem_stats.hpp>: gc::mem_stats, the heap's statistics (Go's
// runtime.MemStats, field for field, in snake_case). Filled by
// gc::read_mem_stats() (<gort/gort.hpp>).
//
//   gc::mem_stats st = gc::read_mem_stats();
//   std::printf("%llu live bytes after %u collections\n",
//               (unsigned long long)st.heap_alloc, st.num_gc);
#pragma once

#include <cstdint>

#include <gort/internal/size_classes.hpp>

namespace gc {

// Allocation counts for one size class (as Go's MemStats.BySize).
struct size_class_stats {
  std::uint32_t size = 0;     // the class's object size in bytes
  std::uint64_t mallocs = 0;  // objects of this class allocated, cumulative
  std::uint64_t frees = 0;    // objects of this class freed, cumulative
};

// A snapshot of the heap, field for field Go's runtime.MemStats in snake_case.
// Byte counts are bytes; counts are objects. As in Go, mallocs and frees both
// include tiny allocations (which share a 16-byte block), so heap_objects =
// mallocs - frees counts blocks, not tiny requests.
struct mem_stats {
  // General.
  std::uint64_t alloc = 0;        // == heap_alloc
  std::uint64_t total_alloc = 0;  // bytes allocated, cumulative (never falls)
  std::uint64_t sys = 0;          // bytes obtained from the OS, all kinds
  std::uint64_t lookups = 0;      // always 0 (as in Go)
  std::uint64_t mallocs = 0;      // objects allocated, cumulative
  std::uint64_t frees = 0;        // objects freed, cumulative
  // Heap.
  std::uint64_t heap_alloc = 0;     // bytes of allocated objects (slot sizes)
  std::uint64_t heap_sys = 0;       // bytes of heap address space committed
  std::uint64_t heap_idle = 0;      // bytes in free spans (heap_sys - heap_inuse)
  std::uint64_t heap_inuse = 0;     // bytes in in-use spans
  std::uint64_t heap_released = 0;  // bytes of idle spans returned to the OS
  std::uint64_t heap_objects = 0;   // allocated objects (mallocs - frees)
  // Off-heap runtime metadata.
  std::uint64_t mspan_inuse = 0;   // bytes of span structs in use
  std::uint64_t mspan_sys = 0;     // bytes obtained for span structs
  std::uint64_t mcache_inuse = 0;  // bytes of per-thread caches in use
  std::uint64_t mcache_sys = 0;    // bytes obtained for per-thread caches
  std::uint64_t other_sys = 0;     // arena page maps and other metadata
  // Collector.
  std::uint64_t next_gc = 0;
  std::uint64_t last_gc = 0;
  std::uint64_t pause_total_ns = 0;
  std::uint64_t pause_ns[256] = {};
  std::uint32_t num_gc = 0;
  std::uint32_t num_forced_gc = 0;
  double gc_cpu_fraction = 0;
  // gort's own additions.
  std::uint64_t spans_inuse = 0;  // in-use spans (small-object spans + large objects)
  std::uint64_t tiny_allocs = 0;  // tiny requests served inside a shared 16-byte block
  // Per size class; by_size[0] is unused (class 0 means "large").
  size_class_stats by_size[internal::num_size_classes];
};

}  // namespace gc
