// <gort/gort.hpp>: the public API of gort, a garbage-collected heap for C++.
// It includes the rest: <gort/member.hpp>, <gort/root.hpp>,
// <gort/tracer.hpp>, <gort/collector.hpp>.
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
// - Lifetime: objects are never freed by the program; the collector reclaims
//   what the program can no longer reach (gc::collect(), GOGC).
// - Destructors: when T is not trivially destructible, ~T() runs after the
//   object is found unreachable: in gc::collect(), on gort's finalizer
//   thread, or, when that thread falls behind, inside an allocation on any
//   thread (as in Oilpan). So a destructor must not take a lock that code
//   calling gc_new may hold. A destructor must not dereference other gc objects: they
//   may already be gone (as in Oilpan). It may allocate.
// - Errors: an allocation that cannot be met throws std::bad_alloc and leaves
//   the heap fully usable; a request that could never be met (e.g. 2^63
//   bytes) throws at once without touching the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include <gort/collector.hpp>
#include <gort/internal/mcache.hpp>
#include <gort/internal/size_class.hpp>
#include <gort/mem_stats.hpp>
#include <gort/member.hpp>
#include <gort/root.hpp>
#include <gort/tracer.hpp>

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
//
// Always inlined: the allocation's fast path (a few instructions, mcache.hpp)
// lands in the caller, with the constructor's arguments in registers. GCC
// left it a call in binary-trees' recursive build_tree (a frame, and the
// arguments passed through memory, per node).
template <class T, class... Args>
  requires(!std::is_array_v<T> && std::is_object_v<T>)
GORT_ALWAYS_INLINE T* gc_new(Args&&... args) {
  static_assert(!std::is_abstract_v<T>, "gc::gc_new<T>: T is abstract; allocate a concrete class derived from it");
  static_assert(alignof(T) <= internal::page_bytes, "gc::gc_new<T>: alignment above 8192 bytes is not supported");
  if constexpr (internal::needs_type_info<T>) {
    // A typed object: its metadata entry is published only once the
    // constructor has returned, so a throwing constructor leaves plain
    // unreachable memory (reclaimed, no destructor) behind.
    internal::obj_meta* meta = nullptr;
    void* p = internal::allocate_typed<sizeof(T), alignof(T), is_pointer_free_v<T>>(meta);
    T* object = ::new (p) T(std::forward<Args>(args)...);
    internal::publish_meta(meta, &internal::type_info_of<T>, 1);
    return object;
  } else {
    void* p = internal::allocate<sizeof(T), alignof(T), is_pointer_free_v<T>, true>();
    if constexpr (sizeof...(Args) == 0 && std::is_trivially_default_constructible_v<T> &&
                  !std::is_member_object_pointer_v<T>) {
      return std::launder(static_cast<T*>(p));  // already zero: an implicit-lifetime object
    } else {
      return ::new (p) T(std::forward<Args>(args)...);
    }
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
  constexpr bool typed = internal::needs_type_info<E>;
  void* p = internal::alloc_dynamic(n * sizeof(E), alignof(E), is_pointer_free_v<E>,
                                    std::is_trivially_destructible_v<E>, typed);
  E* first = static_cast<E*>(p);
  if constexpr (!std::is_trivially_default_constructible_v<E>) {
    std::size_t i = 0;
    try {
      for (; i < n; ++i) ::new (static_cast<void*>(first + i)) E();
    } catch (...) {
      while (i > 0) first[--i].~E();
      throw;
    }
  }  // else: value-initialisation of a trivial type is zero, as the storage already is
  if constexpr (typed) {
    // Published once every element is built (see gc_new<T>).
    internal::obj_meta* meta = internal::meta_of(p);
    internal::publish_meta(meta, &internal::type_info_of<E>, n);
  }
  return std::launder(first);
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

// Reads the heap's statistics. Exact when no other thread is allocating;
// otherwise each counter is some value it had during the call.
mem_stats read_mem_stats();

// Collects, then returns every free page of the heap to the operating system
// at once (as Go's debug.FreeOSMemory).
void free_os_memory();

namespace internal {
// Installs the collector into the allocator (src/gc/collector.cpp); this
// inline variable runs it in every translation unit that includes this
// header, before that unit's own globals, and links the collector in.
int collector_init();
inline const int collector_init_anchor = collector_init();
}  // namespace internal

}  // namespace gc
