// src/gc/sweep.cpp: sweeping and the destructor queue. The algorithm and
// invariants are in sweep.hpp.
#include "gc/sweep.hpp"

#include <gort/internal/barrier.hpp>
#include <gort/tracer.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <new>

#include "alloc/alloc.hpp"
#include "common/bits.hpp"
#include "common/check.hpp"
#include "common/lock.hpp"
#include "gc/mark.hpp"
#include "os/os.hpp"

namespace gc::internal::sweep {

namespace {

// ---- the destructor queue ---------------------------------------------------
// A FIFO ring of entries in metadata memory, under a rank_mutex (so no thread
// is ever stopped while holding it: the sweep appends to it in the stop).
// Capacity doubles when full (mmap, never malloc). A drainer pops an entry
// under the lock and runs the destructor without it; while the destructor
// runs, the object is referenced from the drainer's frame (a registered
// thread), which keeps it marked by any cycle meanwhile.
struct entry {
  void* object;
  const type_info* type;
  std::size_t count;
  std::size_t bytes;  // the object's slot size
};

struct queue_state {
  rank_mutex lock{lock_rank::finalizer};
  entry* ring = nullptr;       // guarded by lock
  std::size_t capacity = 0;    // guarded by lock; a power of two
  std::size_t head = 0;        // guarded by lock; next entry to run
  std::size_t size = 0;        // guarded by lock; entries waiting
  std::size_t in_flight = 0;   // guarded by lock; popped, destructor not finished
  std::atomic<std::size_t> size_hint{0};  // == size, readable without the lock
  // Bytes of the objects queued or in flight (their slots stay allocated
  // until their destructor ran). Atomic; changed under lock.
  std::atomic<std::uint64_t> bytes{0};
};
queue_state q;

void enqueue(void* object, const type_info* type, std::size_t count, std::size_t bytes) {
  lock_guard g(q.lock);
  if (q.size == q.capacity) {
    const std::size_t cap = q.capacity == 0 ? 256 : q.capacity * 2;
    auto* ring = static_cast<entry*>(os::map_metadata(cap * sizeof(entry)));
    GORT_CHECK(ring != nullptr, "sweep: cannot map {} bytes for the destructor queue", cap * sizeof(entry));
    for (std::size_t i = 0; i < q.size; ++i) ring[i] = q.ring[(q.head + i) & (q.capacity - 1)];
    if (q.ring != nullptr) os::unreserve(q.ring, q.capacity * sizeof(entry));
    q.ring = ring;
    q.capacity = cap;
    q.head = 0;
  }
  q.ring[(q.head + q.size) & (q.capacity - 1)] = entry{object, type, count, bytes};
  q.bytes.fetch_add(bytes, std::memory_order_relaxed);
  ++q.size;
  q.size_hint.store(q.size, std::memory_order_relaxed);
}

// Frees one object after its destructor ran (world running). While a
// concurrent mark runs, it is left allocated instead (its metadata already
// says there is nothing left to run), for the next sweep to free: a marker
// may hold it as a grey item, and freeing it could give its span struct to
// another span under the marker's feet. The check and the free are one
// stretch for the stop protocol, so a mark cannot start between them.
//
// An object left allocated (that case, or its span owned by an mcache or
// not yet swept) is zeroed first. Its type is gone, so a mark that reaches
// it (a stale stack word suffices) scans it conservatively, and the
// pointers its destructor left in it would keep what they name alive for
// as long as the stale word lasts. Seen: a destroyed list node's `next`
// kept the old half of its list through gc::collect() (gcgen=1). A marker
// reading it while it is cleared sees old words or zeros; either is
// correct, since nothing reachable is reached only through a dead object.
void free_after_destructor(void* object) {
  no_stop_scope no_stop;
  object_ref ref = find_object(object);
  GORT_CHECK(ref && ref.base == object, "destructor queue: object {} is no longer allocated", object);
  span* s = ref.s;
  const auto forget = [&] { std::memset(object, 0, s->elem_size); };
  if (write_barrier_on.load(std::memory_order_relaxed)) return forget();
  if (s->size_class == 0) {
    const std::uint64_t bytes = s->elem_size;
    if (large_central().free_object(s, 0)) {
      counters.large_frees.fetch_add(1, std::memory_order_relaxed);
      counters.large_bytes_freed.fetch_add(bytes, std::memory_order_relaxed);
      counters.heap_live.fetch_sub(bytes, std::memory_order_relaxed);
    } else {
      forget();
    }
    return;
  }
  const int size_class = s->size_class;
  if (central(s->span_class()).free_object(s, s->object_index(reinterpret_cast<std::uintptr_t>(object)))) {
    counters.small_frees[size_class].fetch_add(1, std::memory_order_relaxed);
    counters.heap_live.fetch_sub(class_to_size[size_class], std::memory_order_relaxed);
  } else {
    forget();  // an mcache owns the span, or it is not swept yet: the next cycle frees it
  }
}

// ---- sweeping ---------------------------------------------------------------

const type_info* destructor_of(const obj_meta& m) {
  const auto* ti = static_cast<const type_info*>(meta_type(m.word));
  return ti != nullptr && ti->destroy != nullptr ? ti : nullptr;
}

// The phase's totals (sweep_result), added to by every sweeper. Atomic.
struct totals_state {
  std::atomic<std::uint64_t> freed_objects{0};
  std::atomic<std::uint64_t> freed_bytes{0};
  std::atomic<std::uint64_t> queued{0};
  std::atomic<std::uint64_t> live_bytes{0};
};
totals_state phase_totals;

// Step 5 of sweep.hpp: this phase leaves the survivors marked. Written only
// with the world stopped (begin_phase), after sweep termination (no sweeper
// of the last phase is left), read by the sweepers of the phase. Atomic.
std::atomic<bool> keep_marks_phase{false};

// Is column 1 allocate-black's record in this phase (span.hpp, Bitmaps)?
// Set at the mark start that began it, with the world stopped.
bool black_record() { return allocate_black_record.load(std::memory_order_relaxed); }

void add_totals(const sweep_result& r) {
  if (r.freed_objects) phase_totals.freed_objects.fetch_add(r.freed_objects, std::memory_order_relaxed);
  if (r.freed_bytes) phase_totals.freed_bytes.fetch_add(r.freed_bytes, std::memory_order_relaxed);
  if (r.queued) phase_totals.queued.fetch_add(r.queued, std::memory_order_relaxed);
  if (r.live_bytes) phase_totals.live_bytes.fetch_add(r.live_bytes, std::memory_order_relaxed);
}

// Step 1. mcentral gives the pages back when alloc_count is 0.
void sweep_large(span* s, sweep_result& r) {
  const bool black = black_record() && (s->load_black_word(0) & 1);  // before take_mark_word clears column 1
  const bool marked = s->take_mark_word(0) & 1;
  if (marked) {
    // Step 5: allocated black, it is young (not old) after the sweep.
    if (keep_marks_phase.load(std::memory_order_relaxed) && !black) s->keep_mark_word(0, 1);
    r.live_bytes += s->elem_size;
    return;
  }
  if (const type_info* ti = s->typed ? destructor_of(s->meta_inline.m) : nullptr) {
    enqueue(reinterpret_cast<void*>(s->base), ti, meta_count(s->meta_inline.m, s->meta_inline.m.word), s->elem_size);
    s->meta_inline.m = obj_meta{};
    r.queued++;
    r.live_bytes += s->elem_size;
    return;
  }
  const std::uint64_t bytes = s->elem_size;
  s->store_alloc_word(0, 0);
  s->alloc_count = 0;
  counters.large_frees.fetch_add(1, std::memory_order_relaxed);
  counters.large_bytes_freed.fetch_add(bytes, std::memory_order_relaxed);
  counters.heap_live.fetch_sub(bytes, std::memory_order_relaxed);
  r.freed_objects++;
  r.freed_bytes += bytes;
}

// Steps 2 and 3. `owned`: an mcache owns s (world stopped).
void sweep_small(span* s, bool owned, sweep_result& r) {
  const std::size_t nwords = s->bitmap_nwords();
  const bool keep = keep_marks_phase.load(std::memory_order_relaxed);
  const std::uint32_t old_count = s->alloc_count;
  std::uint32_t new_count = 0;
  std::uint64_t freed = 0;

  const bool record = black_record();
  if (!owned && !s->typed) {
    // Allocate-black's record, before the fold clears column 1 (span.hpp).
    std::uint64_t black[bitmap_words] = {};
    if (keep && record)
      for (std::size_t w = 0; w < nwords; ++w) black[w] = s->load_black_word(w);
    for (std::size_t w = 0; w < nwords; ++w) s->fold_mark_word(w);
    std::swap(s->alloc_words, s->mark_words);  // step 2: the mark bits are the new alloc bits
    for (std::size_t w = 0; w < nwords; ++w) {
      new_count += popcount64(s->alloc_word(w));
      s->mark_word(w) = keep ? s->alloc_word(w) & ~black[w] : 0;  // step 5
    }
    freed = old_count - new_count;
  } else {
    const std::size_t window = owned ? s->window.load(std::memory_order_relaxed) : nwords;
    for (std::size_t w = 0; w < nwords; ++w) {
      std::uint64_t alloc = s->alloc_word(w);
      const std::uint64_t black = record ? s->load_black_word(w) : 0;  // before take_mark_word clears it
      const std::uint64_t mark = s->take_mark_word(w);
      if (w != window) {
        std::uint64_t dead = alloc & ~mark & s->valid_mask(w);
        std::uint64_t pending = 0;
        for (std::uint64_t d = dead; d != 0; d &= d - 1) {
          const std::size_t idx = w * 64 + static_cast<std::size_t>(std::countr_zero(d));
          if (!s->typed) break;
          obj_meta& m = s->meta[idx];
          if (const type_info* ti = destructor_of(m)) {
            enqueue(reinterpret_cast<void*>(s->object_base(idx)), ti, meta_count(m, m.word), s->elem_size);
            m = obj_meta{};
            pending |= std::uint64_t{1} << (idx % 64);
            r.queued++;
          } else {
            m = obj_meta{};
          }
        }
        freed += popcount64(dead & ~pending);
        alloc = (alloc & mark) | pending;
        // Atomic: the finalizer may look its queued object up (find_object)
        // while this span is still being swept (the entry is queued above).
        s->store_alloc_word(w, alloc);
        if (keep) s->keep_mark_word(w, alloc & mark & ~black);  // step 5: queued ones stay unmarked
      } else if (keep) {
        s->keep_mark_word(w, mark & ~black);  // the window's marked objects are allocated
      }
      new_count += popcount64(alloc);
    }
  }
  s->alloc_count = new_count;
  const std::uint64_t size = s->elem_size;
  r.live_bytes += std::uint64_t{new_count} * size;
  if (freed != 0) {
    r.freed_objects += freed;
    r.freed_bytes += freed * size;
    counters.small_frees[s->size_class].fetch_add(freed, std::memory_order_relaxed);
    counters.heap_live.fetch_sub(freed * size, std::memory_order_relaxed);
  }
}

}  // namespace

void sweep_span(span* s) {
  sweep_result r;
  if (s->size_class == 0) {
    sweep_large(s, r);
  } else {
    sweep_small(s, false, r);
  }
  add_totals(r);
}

sweep_result totals() {
  sweep_result r;
  r.freed_objects = phase_totals.freed_objects.load(std::memory_order_relaxed);
  r.freed_bytes = phase_totals.freed_bytes.load(std::memory_order_relaxed);
  r.queued = phase_totals.queued.load(std::memory_order_relaxed);
  r.live_bytes = phase_totals.live_bytes.load(std::memory_order_relaxed);
  return r;
}

void begin_phase(bool others_may_sweep, bool keep_marks) {
  keep_marks_phase.store(keep_marks, std::memory_order_relaxed);
  begin_sweep_phase(others_may_sweep);
  phase_totals.freed_objects.store(0, std::memory_order_relaxed);
  phase_totals.freed_bytes.store(0, std::memory_order_relaxed);
  phase_totals.queued.store(0, std::memory_order_relaxed);
  phase_totals.live_bytes.store(0, std::memory_order_relaxed);
}

void sweep_owned_span(span* s) {
  const std::uint32_t sg = heap_sweepgen.load(std::memory_order_relaxed);
  GORT_CHECK(s->sweepgen.load(std::memory_order_relaxed) == sg - 2,
             "span [{:#x}, {:#x}) owned by an mcache has sweepgen {} when its owner sweeps it (heap {})", s->base,
             s->end(), s->sweepgen.load(std::memory_order_relaxed), sg);
  sweep_result r;
  sweep_small(s, true, r);
  s->sweepgen.store(sg, std::memory_order_relaxed);
  add_totals(r);
}

void sweep_owned_now() {
  const std::uint32_t sg = heap_sweepgen.load(std::memory_order_relaxed);
  for_each_mcache([&](mcache& c) {
    for (alloc_slot& slot : c.slots) {
      span* s = slot.s;
      if (s != nullptr && s->sweepgen.load(std::memory_order_relaxed) != sg) sweep_owned_span(s);
    }
  });
}

void finish() { finish_sweep(); }

bool finished() { return sweep_finished(); }

void verify_all_swept(bool marks_kept) {
  const std::uint32_t sg = heap_sweepgen.load(std::memory_order_relaxed);
  page_heap::instance().for_each_span_struct([&](span* s) {
    if (s->state.load(std::memory_order_relaxed) != span_state::in_use) return;
    const std::uint32_t g = s->sweepgen.load(std::memory_order_relaxed);
    GORT_CHECK(g == sg, "span [{:#x}, {:#x}) of class {} is unswept (sweepgen {}, heap {}) as a mark begins: sweep "
               "termination missed it", s->base, s->end(), s->span_class(), g, sg);
    for (std::size_t w = 0; w < s->bitmap_nwords(); ++w) {
      const std::uint64_t m = s->load_mark_word(w);
      const std::uint64_t b = s->load_black_word(w);
      GORT_CHECK(b == 0, "span [{:#x}, {:#x}) of class {} has bits left in column 1 (allocate-black's record or "
                 "owner 1's marks; word {}: {:#x}) as a mark begins: its sweep did not clear them",
                 s->base, s->end(), s->span_class(), w, b);
      if (!marks_kept) {
        GORT_CHECK(m == 0, "span [{:#x}, {:#x}) of class {} has mark bits set (word {}: {:#x}) as a mark begins",
                   s->base, s->end(), s->span_class(), w, m);
        continue;
      }
      // Step 5: a kept mark names an allocated object (an owned window's
      // objects are allocated unless free in the owner's window).
      for (std::uint64_t b = m; b != 0; b &= b - 1) {
        const std::size_t idx = w * 64 + static_cast<std::size_t>(std::countr_zero(b));
        GORT_CHECK(idx < s->nelems && s->is_allocated(idx),
                   "span [{:#x}, {:#x}) of class {}: object {:#x} (index {}) is marked as old but not allocated as "
                   "a minor mark begins", s->base, s->end(), s->span_class(), s->object_base(idx), idx);
      }
    }
  });
}

void clear_kept_marks() {
  page_heap::instance().for_each_span_struct([&](span* s) {
    if (s->state.load(std::memory_order_relaxed) != span_state::in_use) return;
    for (std::size_t w = 0; w < s->bitmap_nwords(); ++w) s->take_mark_word(w);  // column 1 too
  });
}

std::uint64_t freed_bytes() { return phase_totals.freed_bytes.load(std::memory_order_relaxed); }

std::size_t sweep_background(sweep_watch& watch) {
  return sweep_some_cold(max_sweep_batch, watch, os::monotonic_ns(), 1'000'000);
}

bool trim_kept_background(sweep_watch& watch) {
  bool any_left = false;
  release_kept_empty_cold(watch, os::monotonic_ns(), 1'000'000, any_left);
  return any_left;
}

void mark_queued() {
  lock_guard g(q.lock);
  for (std::size_t i = 0; i < q.size; ++i) mark::mark_root(q.ring[(q.head + i) & (q.capacity - 1)].object, "the destructor queue");
}

std::size_t run_destructors(std::size_t limit) {
  std::size_t ran = 0;
  while (ran < limit) {
    entry e;
    {
      lock_guard g(q.lock);
      if (q.size == 0) return ran;
      e = q.ring[q.head];
      q.head = (q.head + 1) & (q.capacity - 1);
      --q.size;
      q.size_hint.store(q.size, std::memory_order_relaxed);
      ++q.in_flight;
    }
    e.type->destroy(e.object, e.count);
    free_after_destructor(e.object);
    {
      lock_guard g(q.lock);
      --q.in_flight;
      q.bytes.fetch_sub(e.bytes, std::memory_order_relaxed);
    }
    ++ran;
  }
  return ran;
}

std::size_t queued_hint() { return q.size_hint.load(std::memory_order_relaxed); }

std::uint64_t pending_bytes() { return q.bytes.load(std::memory_order_relaxed); }

std::size_t pending_destructors() {
  lock_guard g(q.lock);
  return q.size + q.in_flight;
}

void atfork_prepare() { q.lock.lock_for_fork(); }
void atfork_parent() { q.lock.unlock_for_fork(); }

void atfork_child() {
  // Destructors that other threads of the parent were running will never
  // finish here; their objects are freed by a later cycle.
  q.in_flight = 0;
  // The in-flight entries' bytes stay counted: their objects are freed by a
  // later cycle, and a slight overcount only lowers the pacer's live heap.
  q.lock.unlock_for_fork();
}

}  // namespace gc::internal::sweep
