// src/alloc/mcentral.hpp: the central free lists, one per span class (Go's
// mcentral). They hand whole spans to mcaches and take them back.
//
// Algorithm
// 1. cache_span(owner): pop a span from `partial` (it has a free object) and
//    mark it owned by the mcache slot; if there is none, allocate a fresh span
//    of the class's page count from the page heap (all its objects free).
// 2. uncache_span(s): an mcache gives back a span whose window it has retired;
//    it goes on `full` if every object is allocated, else on `partial`.
// 3. free_object(s, i) (test-only until the collector's sweep replaces it):
//    clear object i's alloc bit; a span that becomes empty goes back to the
//    page heap. Spans owned by an mcache are left alone (the call reports it):
//    their alloc bits belong to the owning thread.
//
// Invariants (lock_ held)
// - Every span of this class that no mcache owns is on exactly one of
//   partial (alloc_count < nelems) and full (alloc_count == nelems).
// - A span owned by an mcache is on no list.
// - No span on these lists has alloc_count == 0 (it would be back in the heap).
//
// Lock order: central < heap (central may call the page heap while locked).
// Reference: Go's mcentral.go (cacheSpan, uncacheSpan, grow).
#pragma once

#include <cstddef>
#include <cstdint>

#include "alloc/span.hpp"
#include "common/lock.hpp"

namespace gc::internal {

class mcentral {
 public:
  explicit mcentral(int span_class) : span_class_(span_class) {}

  // A span with at least one free object, now owned by `owner`; nullptr when
  // the page heap cannot grow.
  span* cache_span(alloc_slot* owner);
  // Takes back a span from an mcache; its window must be retired.
  void uncache_span(span* s);
  // Frees object idx of s (test-only). False when an mcache owns s.
  bool free_object(span* s, std::uintptr_t idx);
  // After the collector swept s (not owned by any mcache; alloc_count is
  // already the new count): an empty span goes back to the page heap, a
  // full span that gained room moves to the partial list.
  void after_sweep(span* s, std::uint32_t old_count);

  std::size_t partial_count();
  std::size_t full_count();

  void lock_for_fork() { lock_.lock_for_fork(); }
  void unlock_for_fork() { lock_.unlock_for_fork(); }

 private:
  rank_mutex lock_{lock_rank::central};
  span_list partial_;  // guarded by lock_
  span_list full_;     // guarded by lock_
  const int span_class_;
};

// The central list of a span class (1 <= span_class < num_span_classes).
mcentral& central(int span_class);

}  // namespace gc::internal
