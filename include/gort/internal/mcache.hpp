// gort/internal/mcache.hpp: the per-thread allocation cache and the inline
// allocation fast path that gc_new compiles into its caller.
//
// Algorithm (small objects, <= 32 KiB)
// 1. Each thread owns an mcache. For each span class it holds one span and a
//    64-object "window" of that span: free_bits has bit i set when object
//    window_base + i * size is free. The window is a copy of the inverted
//    alloc bits of one 64-bit word of the span's bitmap.
// 2. Fast path (alloc_small): load free_bits; if zero, call the out-of-line
//    refill (unlikely). Else compute the object address from
//    count-trailing-zeros, clear the lowest set bit (blsr) in free_bits
//    (in this order: "stop safety" below), zero the object (its size is a
//    compile-time constant, so this is a few stores), return it. No lock, no
//    atomic read-modify-write: the relaxed atomics below compile to plain
//    loads and stores and exist only so that other threads may read them.
// 3. Refill (src/alloc/mcache.cpp, noinline): retire the window (write the
//    objects it handed out into the span's alloc bits), move to the next word
//    of the span with a free object, or give the span back to its mcentral
//    and take another; then allocate and return, re-entering step 2's logic.
// 4. Tiny (noscan, < 16 bytes, trivially destructible): bump-allocate inside
//    the current 16-byte block (tiny, tiny_offset); a full block gives way to
//    a fresh one from the 16-byte noscan class.
// 5. A thread that has never allocated points at the shared empty mcache,
//    whose windows are all empty: its first allocation falls into the refill,
//    which creates the thread's own mcache. So the fast path has no
//    "initialised?" test.
//
// Invariants
// - slot.free_bits != 0  =>  slot.s != nullptr and slot.s->owner == &slot.
// - Stop safety: a thread may be stopped (by signal) at any instruction of
//   the fast path. From the moment an object's bit leaves free_bits, the
//   object's address is live in the thread's registers or frame, so that
//   any later stack scan finds it. The order matters for a concurrent mark:
//   allocate-black marks the free bits of every window at mark start, so an
//   object popped before that stop is white and stays alive only through
//   its holder's stack scan. (Storing free_bits first and computing the
//   address after left a gap of a few instructions in which a thread caught
//   by the mark-start stop and again by its handshake held only the
//   bitmask: its new object stayed white while the thread used it. Found
//   by gccheckmark in the -O0 ASan build of the thread-churn test, with a
//   barrier that shades no stored value from a scanned stack: 9 aborts in
//   3000 runs before this order, 0 in 3000 after.)
// - Objects popped from a window are counted in small_mallocs when the
//   window is loaded; retiring the window subtracts what was left. So for
//   each class: objects handed out == small_mallocs - sum(popcount(free_bits)).
//
// Threading: all fields are written only by the owning thread; fields marked
// "atomic" may be read by others (find_object, read_mem_stats).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <gort/internal/config.hpp>
#include <gort/internal/size_class.hpp>

namespace gc::internal {

struct span;

// Per-object metadata of a typed object, in a table beside its span (never in
// the heap): one word per object. The allocator only stores it; src/gc
// gives it meaning. It stays 0 until the object is fully constructed.
//   bits 0-47:  the object's gc::internal::type_info (static data, whose
//               user-space address is below 2^47 on x86-64 and AArch64
//               Linux; publish_meta checks it in debug builds);
//   bits 48-63: the number of elements (gc_new<T[]>(n)), else 1; or
//               meta_count_elsewhere, when the count is in the large span's
//               entry (large_meta::count).
// One word, not two: a table costs 8 bytes per object, not 16 (for 16-byte
// typed objects, half the heap's size again: docs/benchmarks.md, fifteenth
// session), and an entry is published with one store.
struct obj_meta {
  std::uint64_t word = 0;
};
static_assert(sizeof(obj_meta) == 8, "obj_meta is one word per object");
inline constexpr unsigned meta_count_shift = 48;
inline constexpr std::uint64_t meta_type_mask = (std::uint64_t{1} << meta_count_shift) - 1;
inline constexpr std::size_t meta_count_elsewhere = 0xffff;
// A small object holds at most max_small_size elements (of one byte each):
// its count always fits in the word.
static_assert(max_small_size < meta_count_elsewhere, "a small object's element count must fit in obj_meta");
// A large span's one entry, with room for any count.
struct large_meta {
  obj_meta m;  // first: a large span's obj_meta* points here
  std::size_t count = 0;
};

// Publishes a typed object's entry once its constructor has returned, with
// release, so that a marker that reads it with acquire (mark.cpp, scan)
// sees the object built (and a large count stored before it). A marker can
// be scanning an object its thread is still constructing: one popped from
// its window just before a mark-start stop is greyed by that thread's
// handshake (src/gc/barrier.cpp, step 2(b)).
[[noreturn]] GORT_NOINLINE GORT_COLD void meta_type_out_of_range(const void* type) noexcept;
GORT_ALWAYS_INLINE void publish_meta(obj_meta* m, const void* type, std::size_t count) noexcept {
  if (GORT_DEBUG && (reinterpret_cast<std::uintptr_t>(type) & ~meta_type_mask) != 0) meta_type_out_of_range(type);
  std::uint64_t c = count;
  if (GORT_UNLIKELY(count >= meta_count_elsewhere)) {
    // Only a large object has this many elements: m is its span's large_meta.
    reinterpret_cast<large_meta*>(m)->count = count;
    c = meta_count_elsewhere;
  }
  __atomic_store_n(&m->word, reinterpret_cast<std::uintptr_t>(type) | (c << meta_count_shift), __ATOMIC_RELEASE);
}
// The type_info of an entry's word (null: none).
GORT_ALWAYS_INLINE const void* meta_type(std::uint64_t word) noexcept {
  return reinterpret_cast<const void*>(word & meta_type_mask);
}
// The element count of entry m whose word is `word`.
GORT_ALWAYS_INLINE std::size_t meta_count(const obj_meta& m, std::uint64_t word) noexcept {
  const std::size_t c = word >> meta_count_shift;
  return c == meta_count_elsewhere ? reinterpret_cast<const large_meta&>(m).count : c;
}

// One per span class in each mcache.
struct alloc_slot {
  std::atomic<std::uint64_t> free_bits{0};      // atomic; bit i: object i of the window is free
  std::atomic<std::uintptr_t> window_base{0};   // atomic; address of object 0 of the window
  obj_meta* window_meta = nullptr;              // owner thread only; meta of object 0 (typed classes)
  span* s = nullptr;                            // owner thread only
};

struct mcache {
  alloc_slot slots[num_span_classes];
  std::uintptr_t tiny = 0;                      // owner thread only; current tiny block or 0
  std::uintptr_t tiny_offset = tiny_block_bytes;// owner thread only; first free byte of it
  std::atomic<std::uint64_t> tiny_allocs{0};    // atomic; tiny requests served inside a block
  std::atomic<std::uint64_t> small_mallocs[num_size_classes] = {};  // atomic; see invariants
  // The large object this thread is zeroing, or 0 (alloc_large). Written by
  // the owner thread; read by others only while the world is stopped.
  std::uintptr_t large_zeroing = 0;
  mcache* registry_next = nullptr;              // guarded by the registry lock
  mcache* registry_prev = nullptr;              // guarded by the registry lock
  bool live = false;                            // guarded by the registry lock
};

// The calling thread's mcache, or &empty_mcache before its first allocation.
extern constinit thread_local mcache* tls_mcache;

// Slow paths (src/alloc/mcache.cpp, src/alloc/malloc.cpp). Each returns a
// zeroed block or throws std::bad_alloc, leaving the heap consistent.
GORT_NOINLINE void* refill_alloc(int span_class);
GORT_NOINLINE void* tiny_alloc_slow(std::size_t size, std::size_t align);
GORT_NOINLINE void* alloc_large(std::size_t bytes, bool noscan, bool typed = false);
GORT_NOINLINE void* alloc_dynamic(std::size_t bytes, std::size_t align, bool noscan, bool tiny_ok, bool typed = false);
// The metadata entry of a typed object (from its span). Slow: for slow paths.
GORT_NOINLINE obj_meta* meta_of(void* object);
[[noreturn]] GORT_NOINLINE GORT_COLD void throw_bad_alloc();

// Zeroes a block too large for a few inline stores. Out of line on purpose:
// compilers expand a constant-size memset above ~64 bytes into `rep stosq`,
// which is several times slower than libc's vector memset for 128 B..4 KiB.
GORT_NOINLINE void zero_block(void* p, std::size_t size);

// Takes the lowest free object of a non-empty window and zeroes it. With a
// compile-time `size` the zeroing is a few stores, or one call.
// The address is computed before the object leaves free_bits, and the
// store of free_bits depends on it (invariant "stop safety" above).
GORT_ALWAYS_INLINE void* pop_window(alloc_slot& slot, std::uint64_t bits, std::size_t size) {
  void* p = reinterpret_cast<void*>(slot.window_base.load(std::memory_order_relaxed) +
                                    size * static_cast<unsigned>(__builtin_ctzll(bits)));
  std::uint64_t rest = bits & (bits - 1);
  // An empty asm that "reads" p and "rewrites" rest: the compiler must have
  // p in a register before it can store rest. No code, no memory clobber.
  __asm__("" : "+r"(rest) : "r"(p));
  slot.free_bits.store(rest, std::memory_order_relaxed);
  if (size <= 64) {
    __builtin_memset(p, 0, size);
  } else {
    zero_block(p, size);
  }
  return p;
}

template <int SpanClass>
GORT_ALWAYS_INLINE void* alloc_small() {
  alloc_slot& slot = tls_mcache->slots[SpanClass];
  std::uint64_t bits = slot.free_bits.load(std::memory_order_relaxed);
  if (GORT_UNLIKELY(bits == 0)) return refill_alloc(SpanClass);
  return pop_window(slot, bits, class_to_size[span_class_size(SpanClass)]);
}

// As alloc_small, for a typed span class: also yields the object's meta entry.
template <int SpanClass>
GORT_ALWAYS_INLINE void* alloc_small_typed(obj_meta*& meta) {
  static_assert(span_class_typed(SpanClass));
  alloc_slot& slot = tls_mcache->slots[SpanClass];
  std::uint64_t bits = slot.free_bits.load(std::memory_order_relaxed);
  if (GORT_UNLIKELY(bits == 0)) {
    void* p = refill_alloc(SpanClass);
    meta = meta_of(p);
    return p;
  }
  meta = slot.window_meta + __builtin_ctzll(bits);
  return pop_window(slot, bits, class_to_size[span_class_size(SpanClass)]);
}

template <std::size_t Size, std::size_t Align>
GORT_ALWAYS_INLINE void* alloc_tiny() {
  static_assert(Size < tiny_block_bytes && Align <= tiny_block_bytes);
  mcache* c = tls_mcache;
  std::uintptr_t off = (c->tiny_offset + (Align - 1)) & ~(std::uintptr_t{Align} - 1);
  if (GORT_UNLIKELY(off + Size > tiny_block_bytes)) return tiny_alloc_slow(Size, Align);
  c->tiny_offset = off + Size;
  c->tiny_allocs.store(c->tiny_allocs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return reinterpret_cast<void*>(c->tiny + off);
}

// The allocation of one object of a compile-time size: tiny, small or large.
template <std::size_t Size, std::size_t Align, bool NoScan, bool TinyOk>
GORT_ALWAYS_INLINE void* allocate() {
  static_assert(Align <= page_bytes, "gort: alignment above 8192 bytes is not supported");
  if constexpr (NoScan && TinyOk && Size < tiny_block_bytes && Align <= tiny_block_bytes) {
    return alloc_tiny<Size == 0 ? 1 : Size, Align>();
  } else if constexpr (class_for(Size, Align) != 0) {
    return alloc_small<make_span_class(class_for(Size, Align), NoScan)>();
  } else {
    return alloc_large(Size, NoScan);
  }
}

// The allocation of one typed object (it needs a destructor or has a trace
// method): never tiny; `meta` receives its metadata entry.
template <std::size_t Size, std::size_t Align, bool NoScan>
GORT_ALWAYS_INLINE void* allocate_typed(obj_meta*& meta) {
  static_assert(Align <= page_bytes, "gort: alignment above 8192 bytes is not supported");
  if constexpr (class_for(Size, Align) != 0) {
    return alloc_small_typed<make_span_class(class_for(Size, Align), NoScan, true)>(meta);
  } else {
    void* p = alloc_large(Size, NoScan, true);
    meta = meta_of(p);
    return p;
  }
}

}  // namespace gc::internal
