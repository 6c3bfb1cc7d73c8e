// <gort/gort.hpp>: the public API of gort, a garbage-collected heap for C++.
//
//   #include <gort/gort.hpp>
//
//   struct node { int value; node* next; };
//   node* n = gc::gc_new<node>(1, nullptr);    // zeroed storage, then node(1, nullptr)
//   double* xs = gc::gc_new<double[]>(1000);   // 1000 value-initialised doubles
//   gc::mem_stats st = gc::read_mem_stats();   // Go's runtime.MemStats, in snake_case
//
// Memory comes from a heap built on the design of Go's runtime: size classes,
// spans, a per-thread cache (no lock on the fast path), central lists and a
// page heap over 64 MiB arenas. See docs/design.md.
//
// Contract
// - Threads: every function here may be called from any thread at any time.
// - Lifetime: objects are never freed by the program. Until the collector
//   lands (it is being built), nothing is reclaimed at all.
// - Errors: an allocation that cannot be met throws std::bad_alloc and leaves
//   the heap fully usable; a request that could never be met (e.g. 2^63
//   bytes) throws at once without touching the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include <gort/internal/mcache.hpp>
#include <gort/internal/size_class.hpp>

namespace gc {

// True for types the collector never needs to scan: arithmetic types, enums,
// arrays of them, and class types that declare
//     static constexpr bool gc_noscan = true;
// Their objects live in "noscan" spans, and small ones share 16-byte blocks.
template <class T>
inline constexpr bool is_pointer_free_v = [] {
  using E = std::remove_cv_t<std::remove_all_extents_t<T>>;
  if constexpr (std::is_arithmetic_v<E> || std::is_enum_v<E>) {
    return true;
  } else if constexpr (requires { E::gc_noscan; }) {
    return static_cast<bool>(E::gc_noscan);
  } else {
    return false;
  }
}();

// gc_new<T>(args...): allocates zeroed storage for one T on the gc heap and
// constructs it with T(std::forward<Args>(args)...).
//
//   auto* p = gc::gc_new<point>(1.0, 2.0);
//
// Throws std::bad_alloc when memory cannot be had, and whatever T's
// constructor throws. Never returns nullptr.
//
// With no arguments and a trivially default-constructible T, the object is
// the zeroed storage itself (value-initialisation without a second clear).
// The one difference from T(): a pointer-to-data-member field reads as
// offset 0, not as the null member pointer; initialise such fields explicitly.
template <class T, class... Args>
  requires(!std::is_array_v<T> && std::is_object_v<T>)
T* gc_new(Args&&... args) {
  static_assert(!std::is_abstract_v<T>, "gc::gc_new<T>: T is abstract; allocate a concrete class derived from it");
  static_assert(alignof(T) <= internal::page_bytes, "gc::gc_new<T>: alignment above 8192 bytes is not supported");
  constexpr bool tiny_ok = std::is_trivially_destructible_v<T>;
  void* p = internal::allocate<sizeof(T), alignof(T), is_pointer_free_v<T>, tiny_ok>();
  if constexpr (sizeof...(Args) == 0 && std::is_trivially_default_constructible_v<T> &&
                !std::is_member_object_pointer_v<T>) {
    return std::launder(static_cast<T*>(p));  // already zero: an implicit-lifetime object
  } else {
    return ::new (p) T(std::forward<Args>(args)...);
  }
}

// gc_new<T[]>(n): allocates n value-initialised T (as std::make_unique<T[]>)
// and returns a pointer to the first.
//
//   int* counts = gc::gc_new<int[]>(256);     // 256 zeros
//
// n == 0 returns a valid, unique pointer to no elements. If n * sizeof(T)
// overflows or exceeds what the address space can hold, throws
// std::bad_alloc before touching the heap. If an element's constructor
// throws, the elements built so far are destroyed and the exception goes on.
template <class T>
  requires std::is_unbounded_array_v<T>
std::remove_extent_t<T>* gc_new(std::size_t n) {
  using E = std::remove_extent_t<T>;
  static_assert(!std::is_array_v<E>, "gc::gc_new<T[]>: element type must not be an array; wrap it in a struct");
  static_assert(alignof(E) <= internal::page_bytes, "gc::gc_new<T[]>: alignment above 8192 bytes is not supported");
  if (n > internal::max_alloc_bytes / sizeof(E)) internal::throw_bad_alloc();
  void* p = internal::alloc_dynamic(n * sizeof(E), alignof(E), is_pointer_free_v<E>,
                                    std::is_trivially_destructible_v<E>);
  E* first = static_cast<E*>(p);
  if constexpr (std::is_trivially_default_constructible_v<E>) {
    // Value-initialisation of a trivial type is zero: the storage already is.
    return std::launder(first);
  } else {
    std::size_t i = 0;
    try {
      for (; i < n; ++i) ::new (static_cast<void*>(first + i)) E();
    } catch (...) {
      while (i > 0) first[--i].~E();
      throw;
    }
    return first;
  }
}

template <class T, class... Args>
  requires(!std::is_object_v<T>)
void gc_new(Args&&...) {
  static_assert(std::is_object_v<T>, "gc::gc_new<T>: T must be an object type (not void, a reference or a function)");
}

template <class T, class... Args>
  requires std::is_bounded_array_v<T>
void gc_new(Args&&...) {
  static_assert(!std::is_bounded_array_v<T>, "gc::gc_new<T[N]>() is not supported: use gc::gc_new<T[]>(N)");
}

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
  // Collector (zero until the collector exists).
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

// Reads the heap's statistics. Exact when no other thread is allocating;
// otherwise each counter is some value it had during the call.
mem_stats read_mem_stats();

// Returns every free page of the heap to the operating system at once (as
// Go's debug.FreeOSMemory, which will also collect once the collector lands).
void free_os_memory();

}  // namespace gc
