// src/alloc/malloc.cpp: the allocation entry points that are not the inline
// fast path: large objects, requests whose size is known only at run time
// (gc_new<T[]>(n)), bad_alloc, and the test-only free.
//
// Large objects (> 32 KiB, Go's largeAlloc):
// 1. Reject a request above max_alloc_bytes before touching the heap.
// 2. Take a span of ceil(bytes / 8 KiB) pages from the page heap; its one
//    object is marked allocated before the span is published.
// 3. Zero it outside the heap lock if its pages may hold old data (memory
//    fresh from the OS, or released with MADV_DONTNEED, reads as zero).
//
// Run-time sizes (alloc_dynamic): the same choice as the compile-time
// allocate<>() in mcache.hpp, made with the size known only now.
#include <cstring>
#include <new>

#include <gort/internal/testing.hpp>

#include "alloc/alloc.hpp"
#include "common/check.hpp"

namespace gc::internal {

void throw_bad_alloc() { throw std::bad_alloc(); }

void zero_block(void* p, std::size_t size) { std::memset(p, 0, size); }

void* alloc_large(std::size_t bytes, bool noscan, bool typed) {
  if (bytes > max_alloc_bytes) throw_bad_alloc();
  if (GORT_UNLIKELY(mcache_is_empty_sentinel(tls_mcache))) ensure_thread_cache();  // registers the thread
  if (hooks.slow_path) hooks.slow_path();
  const std::size_t npages = (bytes + page_bytes - 1) / page_bytes;
  span_init init;
  init.size_class = 0;
  init.noscan = noscan;
  init.typed = typed;
  init.elem_size = npages * page_bytes;
  init.nelems = 1;
  init.divmagic = 0;
  bool needzero = false;
  span* s;
  {
    // One unit for the stop protocol: no stop (of a mark, or of its
    // termination) sees the span published while its allocating thread does
    // not yet hold its address, nor between the allocate-black check and
    // the mark (alloc.hpp step 2), nor the span off the large list. The
    // populate of a cold span comes after it (page_heap.hpp step 2(c)).
    populate_later_scope populate_later;
    no_stop_scope no_stop;
    s = page_heap::instance().alloc(npages, init, needzero);
    if (s == nullptr) throw_bad_alloc();
    if (allocate_black.load(std::memory_order_relaxed)) {
      if (allocate_black_record.load(std::memory_order_relaxed))
        std::atomic_ref<std::uint64_t>(s->black_word(0)).store(1, std::memory_order_relaxed);
      std::atomic_ref<std::uint64_t>(s->mark_word(0)).fetch_or(1, std::memory_order_relaxed);
    }
    large_central().add_large(s);
    counters.heap_live.fetch_add(npages * page_bytes, std::memory_order_relaxed);
    // Published before any stop can see the span (may_be_initialising).
    if (needzero) tls_mcache->large_zeroing = s->base;
  }
  void* p = reinterpret_cast<void*>(s->base);
  if (needzero) {
    std::memset(p, 0, npages * page_bytes);
    // The zeroes before the flag's reset, as a stop would see them.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    tls_mcache->large_zeroing = 0;
  }
  counters.large_mallocs.fetch_add(1, std::memory_order_relaxed);
  counters.large_bytes_alloc.fetch_add(npages * page_bytes, std::memory_order_relaxed);
  return p;
}

void* alloc_dynamic(std::size_t bytes, std::size_t align, bool noscan, bool tiny_ok, bool typed) {
  if (bytes > max_alloc_bytes) throw_bad_alloc();
  if (noscan && tiny_ok && !typed && bytes < tiny_block_bytes && align <= tiny_block_bytes)
    return tiny_alloc_slow(bytes == 0 ? 1 : bytes, align);
  const int size_class = class_for(bytes, align);
  if (size_class == 0) return alloc_large(bytes, noscan, typed);
  const int span_class = make_span_class(size_class, noscan, typed);
  alloc_slot& slot = tls_mcache->slots[span_class];
  std::uint64_t bits = slot.free_bits.load(std::memory_order_relaxed);
  if (bits == 0) return refill_alloc(span_class);
  return pop_window(slot, bits, class_to_size[size_class]);
}

void meta_type_out_of_range(const void* type) noexcept {
  GORT_CHECK(false, "a type_info at {} lies above 2^48: it does not fit in an obj_meta word (mcache.hpp)", type);
  __builtin_unreachable();
}

obj_meta* meta_of(void* object) {
  object_ref ref = find_object(object);
  GORT_CHECK(ref && ref.s->typed, "meta_of({}): not a typed gc object", object);
  return &ref.s->meta[ref.s->object_index(reinterpret_cast<std::uintptr_t>(object))];
}

namespace testing {

std::size_t free_objects(void* const* ptrs, std::size_t n) {
  flush_own_mcache();
  std::size_t freed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    object_ref ref = find_object(ptrs[i]);
    GORT_CHECK(ref && ref.base == ptrs[i], "free_objects: {} is not the start of an allocated gc object", ptrs[i]);
    span* s = ref.s;
    if (s->size_class == 0) {
      std::uint64_t bytes = s->npages * page_bytes;
      if (large_central().free_object(s, 0)) {
        counters.heap_live.fetch_sub(bytes, std::memory_order_relaxed);
        counters.large_frees.fetch_add(1, std::memory_order_relaxed);
        counters.large_bytes_freed.fetch_add(bytes, std::memory_order_relaxed);
        ++freed;
      }
    } else {
      const int size_class = s->size_class;
      if (central(s->span_class()).free_object(s, s->object_index(reinterpret_cast<std::uintptr_t>(ptrs[i])))) {
        counters.small_frees[size_class].fetch_add(1, std::memory_order_relaxed);
        counters.heap_live.fetch_sub(class_to_size[size_class], std::memory_order_relaxed);
        ++freed;
      }
    }
  }
  return freed;
}

void verify_heap() { page_heap::instance().verify(); }

}  // namespace testing
}  // namespace gc::internal
