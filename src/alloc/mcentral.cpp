// src/alloc/mcentral.cpp: central free lists and the sweep phase's
// bookkeeping. See mcentral.hpp.
#include "alloc/mcentral.hpp"

#include <new>
#include <thread>

#include "alloc/alloc.hpp"
#include "alloc/page_heap.hpp"
#include "common/check.hpp"
#include "os/os.hpp"

namespace gc::internal {

std::atomic<std::uint32_t> heap_sweepgen{2};
std::atomic<std::uint32_t> sweeps_active{0};

namespace {
// The sweep cursor: the first span class that may still have unswept spans
// (low half), and the sweep phase it belongs to (high half: the phase's
// heap_sweepgen). Atomic; reset by begin_sweep_phase. The phase makes a
// sweeper's stale compare-exchange fail: one that saw class c empty, was
// preempted across a whole cycle (the background sweeper is never stopped),
// and then moved the cursor past c while the next phase's sweep was at c,
// would have left c's spans unswept with the sweep reported finished.
constexpr std::uint64_t cursor_word(std::uint32_t sg, int c) {
  return (std::uint64_t{sg} << 32) | static_cast<std::uint32_t>(c);
}
int cursor_class(std::uint64_t w) { return static_cast<int>(static_cast<std::uint32_t>(w)); }
std::atomic<std::uint64_t> sweep_cursor{cursor_word(0, num_span_classes)};

int swept_index(std::uint32_t sg) { return static_cast<int>((sg >> 1) & 1); }
int unswept_index(std::uint32_t sg) { return swept_index(sg) ^ 1; }
bool has_central(int spc) { return spc == 0 || spc >= 4; }
}  // namespace

mcentral& central(int span_class) {
  // Built on first use in metadata memory and never destroyed, so that
  // allocation works during static initialisation and destruction.
  static mcentral* table = [] {
    auto* t = static_cast<mcentral*>(os::map_metadata(sizeof(mcentral) * num_span_classes));
    GORT_CHECK(t != nullptr, "cannot map {} bytes for the central lists", sizeof(mcentral) * num_span_classes);
    for (int i = 0; i < num_span_classes; ++i) new (&t[i]) mcentral(i);
    return t;
  }();
  GORT_DCHECK(has_central(span_class) && span_class < num_span_classes, "no central list for span class {}",
              span_class);
  return table[span_class];
}

span* mcentral::claim_unswept_locked(std::uint32_t sg) {
  const int u = unswept_index(sg);
  span* s = partial_[u].pop_front();
  if (s == nullptr) s = full_[u].pop_front();
  if (s == nullptr) return nullptr;
  GORT_CHECK(s->sweepgen.load(std::memory_order_relaxed) == sg - 2,
             "span [{:#x}, {:#x}) of class {} on an unswept list has sweepgen {} (heap sweepgen {}): swept twice?",
             s->base, s->end(), span_class_, s->sweepgen.load(std::memory_order_relaxed), sg);
  s->sweepgen.store(sg - 1, std::memory_order_relaxed);
  return s;
}

void mcentral::place_swept_locked(span* s, std::uint32_t sg) {
  s->sweepgen.store(sg, std::memory_order_release);
  if (s->alloc_count == 0) {
    page_heap::instance().free(s);
  } else if (s->alloc_count == s->nelems) {
    full_[swept_index(sg)].push_back(s);
  } else {
    partial_[swept_index(sg)].push_back(s);
  }
}

span* mcentral::cache_span(alloc_slot* owner) {
  GORT_DCHECK(runtime_locks_held() > 0, "cache_span outside a no_stop_scope (class {})", span_class_);
  // A swept partial span; else sweep unswept spans until one has room (Go's
  // cacheSpan). A partial one always has: sweeping only frees. One
  // acquisition of lock_ looks at both lists: the background sweeper takes
  // the same lock span after span, so each acquisition may cost a miss.
  span* taken = nullptr;
  for (int budget = 0; taken == nullptr; ++budget) {
    std::uint32_t sg;
    span* s = nullptr;
    {
      lock_guard g(lock_);
      sg = heap_sweepgen.load(std::memory_order_relaxed);
      if (budget == 0) refills_.store(refills_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (span* p = partial_[swept_index(sg)].pop_front()) {
        GORT_DCHECK(p->alloc_count < p->nelems, "span {:#x} on the partial list of class {} is full", p->base,
                    span_class_);
        p->owner.store(owner, std::memory_order_release);
        if (p->alloc_count == 0 && kept_empty_sg_ == sg && kept_empty_.load(std::memory_order_relaxed) != 0)
          kept_empty_.store(kept_empty_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        taken = p;
        break;
      }
      if (budget >= sweep_budget || hooks.sweep_span == nullptr) break;
      s = claim_unswept_locked(sg);
      if (s != nullptr) sweeps_active.fetch_add(1, std::memory_order_relaxed);
    }
    if (s == nullptr) break;
    hooks.sweep_span(s);
    lock_guard g(lock_);
    if (s->alloc_count < s->nelems) {
      s->sweepgen.store(sg, std::memory_order_release);
      s->owner.store(owner, std::memory_order_release);
      taken = s;
    } else {
      place_swept_locked(s, sg);
    }
    sweeps_active.fetch_sub(1, std::memory_order_release);
  }
  if (taken != nullptr) {
    // Step 1's proportional sweep: more unswept spans of the class for each
    // span taken, so that what the background sweeper leaves to the class's
    // threads is swept as they allocate, not all at once by the thread that
    // starts the next cycle (sweep termination).
    if (hooks.sweep_span != nullptr) sweep_some(proportional_sweep, true);
    return taken;
  }
  const int size_class = span_class_size(span_class_);
  span_init init;
  init.size_class = static_cast<std::uint8_t>(size_class);
  init.noscan = span_class_noscan(span_class_);
  init.typed = span_class_typed(span_class_);
  init.elem_size = class_to_size[size_class];
  init.nelems = class_to_nobjs[size_class];
  init.divmagic = class_to_divmagic[size_class];
  init.owner = owner;
  bool needzero = false;  // small objects are zeroed one by one as they are handed out
  return page_heap::instance().alloc(class_to_npages[size_class], init, needzero);
}

void mcentral::uncache_span(span* s) {
  lock_guard g(lock_);
  const std::uint32_t sg = heap_sweepgen.load(std::memory_order_relaxed);
  GORT_DCHECK(s->span_class() == span_class_, "span {:#x} of class {} returned to central list {}", s->base,
              s->span_class(), span_class_);
  GORT_CHECK(s->sweepgen.load(std::memory_order_relaxed) == sg,
             "span [{:#x}, {:#x}) of class {} left its mcache unswept (sweepgen {}, heap {}): owned spans are swept "
             "in mark termination",
             s->base, s->end(), span_class_, s->sweepgen.load(std::memory_order_relaxed), sg);
  s->owner.store(nullptr, std::memory_order_release);
  if (s->alloc_count == s->nelems) {
    full_[swept_index(sg)].push_back(s);
  } else {
    partial_[swept_index(sg)].push_back(s);
  }
}

void mcentral::add_large(span* s) {
  GORT_DCHECK(span_class_ == 0 && s->size_class == 0, "add_large on central list {}", span_class_);
  lock_guard g(lock_);
  full_[swept_index(heap_sweepgen.load(std::memory_order_relaxed))].push_back(s);
}

bool mcentral::free_object(span* s, std::uintptr_t idx) {
  lock_guard g(lock_);
  const std::uint32_t sg = heap_sweepgen.load(std::memory_order_relaxed);
  if (s->owner.load(std::memory_order_relaxed) != nullptr) return false;
  if (s->sweepgen.load(std::memory_order_relaxed) != sg) return false;
  std::uint64_t word = s->load_alloc_word(idx / 64);
  std::uint64_t bit = std::uint64_t{1} << (idx % 64);
  GORT_CHECK(word & bit, "object {:#x} (index {} of span [{:#x}, {:#x}), class {}) freed but not allocated",
             s->base + idx * s->elem_size, idx, s->base, s->end(), span_class_);
  const bool was_full = s->alloc_count == s->nelems;
  s->store_alloc_word(idx / 64, word & ~bit);
  s->unmark(idx);  // a mark kept for a minor collection (sticky) must not pass to the slot's next object
  s->alloc_count--;
  if (s->meta != nullptr) s->meta[idx] = obj_meta{};
  if (s->alloc_count == 0) {
    span_list::remove(s);
    page_heap::instance().free(s);
  } else if (was_full) {
    span_list::remove(s);
    partial_[swept_index(sg)].push_back(s);
  }
  return true;
}

std::size_t mcentral::sweep_some(std::size_t max_spans, bool keep_empty) {
  span* claimed[max_sweep_batch];
  if (max_spans > max_sweep_batch) max_spans = max_sweep_batch;
  std::uint32_t sg;
  std::size_t n = 0;
  {
    lock_guard g(lock_);
    sg = heap_sweepgen.load(std::memory_order_relaxed);
    while (n < max_spans) {
      span* s = claim_unswept_locked(sg);
      if (s == nullptr) break;
      claimed[n++] = s;
    }
    // Counted once for the batch, before lock_ is released (sweep
    // termination must not see the lists empty and nothing claimed). One
    // atomic per batch: the background sweeper and an allocating thread's
    // refill bounce this line between their cores (an atomic per span was
    // 4% of binary-trees' samples with concurrent minor cycles).
    if (n != 0) sweeps_active.fetch_add(static_cast<std::uint32_t>(n), std::memory_order_relaxed);
  }
  std::size_t kept = 0, nempty = 0;
  span* empty[max_sweep_batch];
  for (std::size_t i = 0; i < n; ++i) {
    span* s = claimed[i];
    hooks.sweep_span(s);
    if (s->alloc_count == 0 && !keep_empty) {
      s->sweepgen.store(sg, std::memory_order_release);
      empty[nempty++] = s;
    } else {
      claimed[kept++] = s;
    }
  }
  // Empty spans back to the page heap without lock_ (step 4), in one
  // acquisition of the heap's lock. The spans are on no list and claimed by
  // this thread, so nothing else reaches them through this central; under
  // lock_, the page heap's free made every refill of the class wait behind
  // it.
  if (nempty != 0) page_heap::instance().free_batch(empty, nempty);
  if (kept != 0) {
    {
      lock_guard g(lock_);
      if (kept_empty_sg_ != sg) {  // a new sweep phase: what was kept is unswept now
        kept_empty_sg_ = sg;
        kept_empty_.store(0, std::memory_order_relaxed);
      }
      for (std::size_t i = 0; i < kept; ++i) {
        span* s = claimed[i];
        if (s->alloc_count != 0) {
          place_swept_locked(s, sg);
          continue;
        }
        // keep_empty: kept for the class's next refills (step 1).
        s->sweepgen.store(sg, std::memory_order_release);
        partial_[swept_index(sg)].push_back(s);
        kept_empty_.store(kept_empty_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      }
    }
  }
  if (n != 0) sweeps_active.fetch_sub(static_cast<std::uint32_t>(n), std::memory_order_release);
  return n;
}

std::size_t mcentral::release_kept_empty() {
  if (kept_empty_.load(std::memory_order_relaxed) == 0) return 0;
  span* batch[max_sweep_batch];
  std::size_t total = 0;
  for (;;) {
    std::size_t n = 0;
    {
      lock_guard g(lock_);
      const std::uint32_t sg = heap_sweepgen.load(std::memory_order_relaxed);
      if (kept_empty_sg_ != sg) {  // unswept now: the sweep frees them
        kept_empty_.store(0, std::memory_order_relaxed);
        return total;
      }
      // Not while a mark runs (no span is freed then; the next sweep will
      // free them). A release that began just before a mark start and
      // frees during it is harmless: an empty span holds no object a mark
      // can reach, and readers of a freed span check its state.
      if (allocate_black.load(std::memory_order_relaxed)) return total;
      // Kept spans were pushed at the back: walk from there.
      span_list& list = partial_[swept_index(sg)];
      for (span* s = list.back(); s != nullptr && n < max_sweep_batch;) {
        span* prev = list.before(s);
        if (s->alloc_count == 0) {
          span_list::remove(s);
          batch[n++] = s;
        }
        s = prev;
      }
      if (n == 0) {  // the rest were taken (or were never counted): none left
        kept_empty_.store(0, std::memory_order_relaxed);
        return total;
      }
      const std::uint32_t k = kept_empty_.load(std::memory_order_relaxed);
      kept_empty_.store(k > n ? k - static_cast<std::uint32_t>(n) : 0, std::memory_order_relaxed);
      // Counted as claimed, as in sweep_some: sweep termination (a mark
      // start) waits until they are back in the page heap, so that no span
      // is freed while a mark runs.
      sweeps_active.fetch_add(static_cast<std::uint32_t>(n), std::memory_order_relaxed);
    }
    // Outside lock_, as in sweep_some: the spans are on no list.
    page_heap::instance().free_batch(batch, n);
    sweeps_active.fetch_sub(static_cast<std::uint32_t>(n), std::memory_order_release);
    total += n;
  }
}

std::size_t mcentral::partial_count() {
  lock_guard g(lock_);
  return partial_[0].size() + partial_[1].size();
}

std::size_t mcentral::full_count() {
  lock_guard g(lock_);
  return full_[0].size() + full_[1].size();
}

// ---- the sweep phase ------------------------------------------------------------

namespace {
// Has some thread refilled from class c in the quiet_ns before now_ns, as
// far as `watch` saw? Records the count it sees (sweep phase step 2).
bool class_busy(sweep_watch& watch, int c, std::uint64_t now_ns, std::uint64_t quiet_ns) {
  const std::uint32_t r = central(c).refills();
  if (r != watch.seen[c]) {
    watch.seen[c] = r;
    watch.moved_ns[c] = now_ns;
  }
  return watch.moved_ns[c] != 0 && now_ns - watch.moved_ns[c] < quiet_ns;
}
}  // namespace

std::size_t sweep_some_cold(std::size_t max_spans, sweep_watch& watch, std::uint64_t now_ns, std::uint64_t quiet_ns) {
  if (hooks.sweep_span == nullptr) return 0;
  bool at_cursor = true;  // no busy class before c: c may move the cursor on
  const std::uint64_t start = sweep_cursor.load(std::memory_order_acquire);
  const auto phase = static_cast<std::uint32_t>(start >> 32);
  for (int c = cursor_class(start); c < num_span_classes; ++c) {
    if (!has_central(c)) {
      std::uint64_t expected = cursor_word(phase, c);
      if (at_cursor) sweep_cursor.compare_exchange_strong(expected, expected + 1, std::memory_order_acq_rel);
      continue;
    }
    if (class_busy(watch, c, now_ns, quiet_ns)) {
      at_cursor = false;
      continue;
    }
    if (const std::size_t n = central(c).sweep_some(max_spans)) return n;
    if (at_cursor) {
      std::uint64_t expected = cursor_word(phase, c);
      sweep_cursor.compare_exchange_strong(expected, expected + 1, std::memory_order_acq_rel);
    }
  }
  return 0;
}

std::size_t release_kept_empty_cold(sweep_watch& watch, std::uint64_t now_ns, std::uint64_t quiet_ns,
                                    bool& any_left) {
  std::size_t total = 0;
  any_left = false;
  for (int c = 1; c < num_span_classes; ++c) {
    if (!has_central(c)) continue;
    if (!central(c).has_kept_empty()) continue;
    if (class_busy(watch, c, now_ns, quiet_ns)) {
      any_left = true;
      continue;
    }
    total += central(c).release_kept_empty();
  }
  return total;
}

std::size_t release_all_kept_empty() {
  std::size_t total = 0;
  for (int c = 1; c < num_span_classes; ++c)
    if (has_central(c)) total += central(c).release_kept_empty();
  return total;
}

std::size_t sweep_some_any(std::size_t max_spans) {
  if (hooks.sweep_span == nullptr) return 0;
  for (std::uint64_t w = sweep_cursor.load(std::memory_order_acquire); cursor_class(w) < num_span_classes;
       w = sweep_cursor.load(std::memory_order_acquire)) {
    const int c = cursor_class(w);
    if (has_central(c)) {
      if (const std::size_t n = central(c).sweep_some(max_spans)) return n;
    }
    sweep_cursor.compare_exchange_strong(w, w + 1, std::memory_order_acq_rel);
  }
  return 0;
}

void finish_sweep() {
  while (sweep_some_any(max_sweep_batch) != 0) {
  }
  // Spans other threads claimed (a refill's sweep in cache_span, the
  // background sweeper): each is one span's work.
  for (int i = 0; sweeps_active.load(std::memory_order_acquire) != 0; ++i) {
    if (i < 64) cpu_relax();
    else std::this_thread::yield();
  }
}

bool sweep_finished() {
  return cursor_class(sweep_cursor.load(std::memory_order_acquire)) >= num_span_classes &&
         sweeps_active.load(std::memory_order_acquire) == 0;
}

void begin_sweep_phase(bool others_may_sweep) {
  GORT_CHECK(sweeps_active.load(std::memory_order_relaxed) == 0,
             "begin_sweep_phase: {} spans are still being swept (sweep termination did not finish)",
             sweeps_active.load(std::memory_order_relaxed));
  if (others_may_sweep) {
    for (int spc = 0; spc < num_span_classes; ++spc)
      if (has_central(spc)) central(spc).lock_for_fork();
  }
  const std::uint32_t sg = heap_sweepgen.fetch_add(2, std::memory_order_relaxed) + 2;
  sweep_cursor.store(cursor_word(sg, 0), std::memory_order_release);
  if (others_may_sweep) {
    for (int spc = num_span_classes - 1; spc >= 0; --spc)
      if (has_central(spc)) central(spc).unlock_for_fork();
  }
}

}  // namespace gc::internal
