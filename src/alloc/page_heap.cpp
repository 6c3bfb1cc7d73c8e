// src/alloc/page_heap.cpp: the page heap. The algorithm and invariants are in
// page_heap.hpp.
#include "alloc/page_heap.hpp"

#include <new>

#include "alloc/alloc.hpp"
#include "alloc/arena.hpp"
#include "common/check.hpp"
#include "common/godebug.hpp"
#include "os/os.hpp"

namespace gc::internal {

namespace {
constexpr std::size_t grow_min_pages = (1u << 20) / page_bytes;  // 1 MiB

// Step 2(c). Only this thread: the open populate_later_scopes, and the one
// cold span left for the outermost one to populate (bytes 0: none).
struct pending_populate {
  int depth = 0;
  std::uintptr_t base = 0;
  std::size_t bytes = 0;
};
constinit thread_local pending_populate tls_populate;
}  // namespace

populate_later_scope::populate_later_scope() noexcept { ++tls_populate.depth; }

populate_later_scope::~populate_later_scope() {
  if (--tls_populate.depth != 0 || tls_populate.bytes == 0) return;
  void* const base = reinterpret_cast<void*>(tls_populate.base);
  const std::size_t bytes = tls_populate.bytes;
  // Both cleared: the thread's static TLS lies in its scanned stack range,
  // and a span's base is its first object's address. A stale base kept
  // that object alive for as long as the thread lived without populating
  // again (seen in the collector test "an object left allocated after its
  // destructor keeps nothing alive").
  tls_populate.base = 0;
  tls_populate.bytes = 0;
  GORT_DCHECK(runtime_locks_held() == 0,
              "populate_later_scope ended inside a no_stop_scope or holding a runtime lock (span {}): it must "
              "be opened outside them",
              base);
  // Inside a no-stop scope the blocking region would let a stop go on
  // without this thread: populate without it there (a misuse DCHECKed above).
  const bool block = runtime_locks_held() == 0 && hooks.enter_blocking != nullptr;
  if (block) hooks.enter_blocking();
  os::populate(base, bytes);
  if (block) hooks.exit_blocking();
}

page_heap& page_heap::instance() {
  // Constructed on first use and never destroyed: objects may be allocated
  // and looked up during static destruction.
  static page_heap* heap = new (os::map_metadata(sizeof(page_heap))) page_heap();
  return *heap;
}

// ---- span struct pool --------------------------------------------------------

// Step 6.
span* page_heap::new_span_locked(std::size_t cap) {
  GORT_DCHECK(cap == 0 || (std::has_single_bit(cap) && cap <= bitmap_words), "span struct of {} bitmap words", cap);
  const std::size_t bytes = span::struct_bytes(cap);
  span*& pool = span_pool_[pool_of(cap)];
  if (span* s = pool) {
    pool = s->next;
    s->next = s->prev = nullptr;
    c_.mspan_inuse += bytes;
    return s;
  }
  if (static_cast<std::size_t>(chunk_end_ - chunk_cur_) < bytes) {
    if (span_chunks_ == nullptr) {
      span_chunks_ = static_cast<chunk_extent*>(os::map_metadata(max_span_chunks * sizeof(chunk_extent)));
      if (span_chunks_ == nullptr) return nullptr;
    }
    if (nchunks_ == max_span_chunks) return nullptr;
    void* chunk = os::map_metadata(span_chunk_bytes);
    if (chunk == nullptr) return nullptr;
    c_.mspan_sys += span_chunk_bytes;
    os::populate(chunk, span_chunk_bytes);  // one system call, not a fault per page (step 6)
    if (nchunks_ > 0) span_chunks_[nchunks_ - 1].end = chunk_cur_;
    chunk_cur_ = static_cast<char*>(chunk);
    chunk_end_ = chunk_cur_ + span_chunk_bytes;
    span_chunks_[nchunks_++] = chunk_extent{chunk_cur_, chunk_end_};
  }
  span* s = span::make_at(chunk_cur_, cap);
  chunk_cur_ += bytes;
  c_.mspan_inuse += bytes;
  return s;
}

void page_heap::free_span_struct_locked(span* s) {
  s->state.store(span_state::dead, std::memory_order_release);
  s->base = s->limit = 0;
  s->npages = 0;
  s->prev = nullptr;
  span*& pool = span_pool_[pool_of(s->bitmap_cap)];
  s->next = pool;
  pool = s;
  c_.mspan_inuse -= span::struct_bytes(s->bitmap_cap);
}

// ---- page map and free lists --------------------------------------------------

void page_heap::set_page_map_locked(span* s, bool all_pages) {
  auto set = [s](std::uintptr_t addr) {
    arena_meta* a = arena_of(addr);
    GORT_CHECK(a != nullptr, "span [{:#x}, {:#x}) covers page {:#x} outside every arena", s->base, s->end(), addr);
    a->spans[page_in_arena(addr)].store(s, std::memory_order_release);
  };
  if (all_pages) {
    for (std::uintptr_t p = s->base; p < s->end(); p += page_bytes) set(p);
  } else {
    set(s->base);
    set(s->end() - page_bytes);
  }
}

void page_heap::list_add_locked(span* s) {
  ++free_spans_;
  if (s->npages < short_lists) {
    free_short_[s->npages].push_front(s);
    nonempty_[s->npages / 64] |= std::uint64_t{1} << (s->npages % 64);
  } else {
    free_long_.push_front(s);
  }
}

void page_heap::list_remove_locked(span* s) {
  --free_spans_;
  span_list::remove(s);
  if (s->npages < short_lists && free_short_[s->npages].empty())
    nonempty_[s->npages / 64] &= ~(std::uint64_t{1} << (s->npages % 64));
}

span* page_heap::take_run_locked(std::size_t npages) {
  if (npages < short_lists) {
    for (std::size_t w = npages / 64; w < 2; ++w) {
      std::uint64_t mask = nonempty_[w];
      if (w == npages / 64) mask &= ~std::uint64_t{0} << (npages % 64);
      if (mask != 0) {
        std::size_t n = w * 64 + static_cast<std::size_t>(__builtin_ctzll(mask));
        span* s = free_short_[n].front();
        list_remove_locked(s);
        return s;
      }
    }
  }
  span* best = nullptr;
  free_long_.for_each([&](span* s) {
    if (s->npages >= npages && (best == nullptr || s->npages < best->npages ||
                                (s->npages == best->npages && s->base < best->base)))
      best = s;
  });
  if (best) list_remove_locked(best);
  return best;
}

void page_heap::insert_free_locked(span* s) {
  free_pages_ += s->npages;
  s->state.store(span_state::free, std::memory_order_release);
  if (span* l = span_of(s->base - 1); l && l != s && l->state.load(std::memory_order_relaxed) == span_state::free &&
                                      !l->releasing && l->end() == s->base) {
    list_remove_locked(l);
    l->npages += s->npages;
    l->needzero = l->needzero || s->needzero;
    free_span_struct_locked(s);
    s = l;
  }
  if (span* r = span_of(s->end()); r && r != s && r->state.load(std::memory_order_relaxed) == span_state::free &&
                                   !r->releasing && r->base == s->end()) {
    list_remove_locked(r);
    s->npages += r->npages;
    s->needzero = s->needzero || r->needzero;
    free_span_struct_locked(r);
  }
  set_page_map_locked(s, false);
  list_add_locked(s);
}

// ---- growth --------------------------------------------------------------------

bool page_heap::grow_locked(std::size_t npages) {
  std::size_t ask_pages = (npages + grow_min_pages - 1) / grow_min_pages * grow_min_pages;
  if (ask_pages > max_alloc_bytes / page_bytes) return false;
  std::size_t ask = ask_pages * page_bytes;
  if (cur_end_ - cur_ < ask) {
    // The heap's first page stays unused (step 4): one page more then.
    const std::size_t skip = cur_end_ == 0 ? page_bytes : 0;
    std::size_t n = (ask + skip + arena_bytes - 1) / arena_bytes;
    void* p = reserve_arenas(n, c_.other_sys);
    if (p == nullptr) return false;
    auto base = reinterpret_cast<std::uintptr_t>(p);
    if (base == cur_end_ && cur_end_ != 0) {
      cur_end_ += n * arena_bytes;  // contiguous with the current reservation: extend it
    } else {
      // Hand the rest of the old reservation to the free lists, then move on.
      if (cur_end_ > cur_) {
        span* rest = new_span_locked(0);
        if (rest != nullptr && os::commit(reinterpret_cast<void*>(cur_), cur_end_ - cur_)) {
          rest->base = cur_;
          rest->npages = (cur_end_ - cur_) / page_bytes;
          rest->needzero = false;
          c_.heap_sys += cur_end_ - cur_;
          insert_free_locked(rest);
        } else if (rest != nullptr) {
          free_span_struct_locked(rest);
        }
      }
      cur_ = base + skip;
      cur_end_ = base + n * arena_bytes;
    }
  }
  span* s = new_span_locked(0);
  if (s == nullptr) return false;
  if (!os::commit(reinterpret_cast<void*>(cur_), ask)) {
    free_span_struct_locked(s);
    return false;
  }
  s->base = cur_;
  s->npages = ask_pages;
  s->needzero = false;  // never touched: reads as zero
  cur_ += ask;
  c_.heap_sys += ask;
  insert_free_locked(s);
  return true;
}

// ---- alloc and free --------------------------------------------------------------

span* page_heap::alloc_locked(std::size_t npages) {
  span* s = take_run_locked(npages);
  if (s == nullptr) {
    if (!grow_locked(npages)) return nullptr;
    s = take_run_locked(npages);
    GORT_CHECK(s != nullptr, "page heap grew by >= {} pages but has no run of {} pages", npages, npages);
  }
  free_pages_ -= s->npages;
  if (s->npages > npages) {
    span* rest = new_span_locked(0);
    if (rest == nullptr) {
      free_pages_ += s->npages;
      list_add_locked(s);
      return nullptr;
    }
    rest->base = s->base + npages * page_bytes;
    rest->npages = s->npages - npages;
    rest->needzero = s->needzero;
    rest->state.store(span_state::free, std::memory_order_relaxed);
    s->npages = npages;
    free_pages_ += rest->npages;
    set_page_map_locked(rest, false);
    list_add_locked(rest);
  }
  return s;
}

std::size_t page_heap::clear_scavenged_locked(std::uintptr_t base, std::size_t npages) {
  std::size_t n = 0;
  for (std::uintptr_t p = base; p < base + npages * page_bytes; p += page_bytes) {
    arena_meta* a = arena_of(p);
    std::size_t i = page_in_arena(p);
    std::uint64_t bit = std::uint64_t{1} << (i % 64);
    if (a->scavenged[i / 64] & bit) {
      a->scavenged[i / 64] &= ~bit;
      ++n;
    }
  }
  return n;
}

span* page_heap::alloc(std::size_t npages, const span_init& init, bool& needzero) {
  bool cold = false;
  span* s = alloc_span(npages, init, needzero, cold);
  // Step 2(b): pages not in memory (never touched since growth committed
  // them, or returned by the scavenger) are backed now, in one call, outside
  // the lock, rather than one fault per 4 KiB page as the owner first writes
  // them.
  if (s != nullptr && cold && npages * page_bytes <= populate_max_bytes) {
    if (tls_populate.depth > 0 && tls_populate.bytes == 0) {  // step 2(c)
      tls_populate.base = s->base;
      tls_populate.bytes = npages * page_bytes;
    } else {
      os::populate(reinterpret_cast<void*>(s->base), npages * page_bytes);
    }
  }
  return s;
}

span* page_heap::alloc_span(std::size_t npages, const span_init& init, bool& needzero, bool& cold) {
  GORT_CHECK(npages > 0, "page_heap::alloc of 0 pages");
  lock_guard g(lock_);
  // A typed small span's metadata table first: nothing to undo if it fails.
  obj_meta* table = nullptr;
  if (init.typed && init.size_class != 0) {
    table = meta_table_alloc_locked(init.size_class);
    if (table == nullptr) return nullptr;
  }
  // The struct the span will have (step 6), also before anything to undo.
  const std::size_t cap = bitmap_cap_for(init.nelems);
  span* fresh = new_span_locked(cap);
  span* s = fresh != nullptr ? alloc_locked(npages) : nullptr;
  if (s == nullptr) {
    if (fresh != nullptr) free_span_struct_locked(fresh);
    if (table != nullptr) {
      table[0].word = reinterpret_cast<std::uintptr_t>(meta_pool_[init.size_class]);
      meta_pool_[init.size_class] = table;
    }
    return nullptr;
  }
  if (s->bitmap_cap == cap) {
    free_span_struct_locked(fresh);
  } else {
    // The run moves to the struct of its capacity; the page map is set for
    // every page of it below, and the old struct (dead) is pooled.
    fresh->base = s->base;
    fresh->npages = s->npages;
    fresh->needzero = s->needzero;
    free_span_struct_locked(s);
    s = fresh;
  }
  const std::size_t released = clear_scavenged_locked(s->base, npages);
  c_.heap_released -= released * page_bytes;
  needzero = s->needzero;
  cold = released != 0 || !s->needzero;
  s->size_class = init.size_class;
  s->noscan = init.noscan;
  s->elem_size = init.elem_size;
  s->nelems = init.nelems;
  s->divmagic = init.divmagic;
  s->limit = s->base + static_cast<std::uintptr_t>(init.nelems) * init.elem_size;
  s->alloc_count = 0;
  s->owner.store(init.owner, std::memory_order_relaxed);
  // The span starts swept: its mark bits are clear, and it was not there for
  // the last mark to look at. (The caller holds a no_stop_scope, so no mark
  // termination falls between this read and the span's first use.)
  s->sweepgen.store(heap_sweepgen.load(std::memory_order_relaxed), std::memory_order_relaxed);
  s->window.store(0, std::memory_order_relaxed);
  s->typed = init.typed;
  s->meta_inline = large_meta{};
  s->meta = init.typed ? (init.size_class == 0 ? &s->meta_inline.m : table) : nullptr;
  s->clear_bitmaps();
  if (init.size_class == 0) {  // a large object is allocated before anyone can see its span
    s->alloc_word(0) = 1;
    s->alloc_count = 1;
  }
  s->state.store(span_state::in_use, std::memory_order_release);
  set_page_map_locked(s, true);
  c_.heap_inuse += npages * page_bytes;
  c_.spans_inuse++;
  return s;
}

void page_heap::free(span* s) {
  lock_guard g(lock_);
  free_locked(s);
}

void page_heap::free_batch(span* const* spans, std::size_t n) {
  lock_guard g(lock_);
  for (std::size_t i = 0; i < n; ++i) free_locked(spans[i]);
}

void page_heap::free_locked(span* s) {
  GORT_CHECK(s->state.load(std::memory_order_relaxed) == span_state::in_use,
             "freeing span [{:#x}, {:#x}) in state {}: only in-use spans can be freed", s->base, s->end(),
             static_cast<int>(s->state.load(std::memory_order_relaxed)));
  c_.heap_inuse -= s->npages * page_bytes;
  c_.spans_inuse--;
  s->owner.store(nullptr, std::memory_order_relaxed);
  meta_table_free_locked(s);
  s->needzero = true;
  insert_free_locked(s);
}

// ---- obj_meta tables of typed spans ------------------------------------------------

obj_meta* page_heap::meta_table_alloc_locked(int size_class) {
  const std::size_t bytes = class_to_nobjs[size_class] * sizeof(obj_meta);
  obj_meta* t = meta_pool_[size_class];
  if (t != nullptr) {
    meta_pool_[size_class] = reinterpret_cast<obj_meta*>(t[0].word);
  } else {
    t = static_cast<obj_meta*>(os::map_metadata(bytes));
    if (t == nullptr) return nullptr;
    c_.other_sys += bytes;
  }
  for (std::size_t i = 0; i < class_to_nobjs[size_class]; ++i) t[i] = obj_meta{};
  return t;
}

void page_heap::meta_table_free_locked(span* s) {
  if (s->meta != nullptr && s->meta != &s->meta_inline.m) {
    s->meta[0].word = reinterpret_cast<std::uintptr_t>(meta_pool_[s->size_class]);
    meta_pool_[s->size_class] = s->meta;
  }
  s->meta = nullptr;
  s->typed = false;
}

// ---- scavenging ------------------------------------------------------------------

namespace {
// Are all 64 pages of bitmap word i / 64 released, with [p, p + 64 pages)
// inside the span? Then a walk skips them in one step (the background
// scavenger looks often at free spans that are mostly released).
bool whole_word_released(const arena_meta* a, std::size_t i, std::uintptr_t p, std::uintptr_t end) {
  return i % 64 == 0 && a->scavenged[i / 64] == ~std::uint64_t{0} && p + 64 * page_bytes <= end;
}
}  // namespace

// Step 5(a): the first free span, long runs first, with a page not yet
// returned to the OS, and in *page the first such page; nullptr if there is
// none.
span* page_heap::find_unreleased_locked(std::uintptr_t* page) {
  auto first_unreleased = [](const span* s) -> std::uintptr_t {
    for (std::uintptr_t p = s->base; p < s->end(); p += page_bytes) {
      const arena_meta* a = arena_of(p);
      const std::size_t i = page_in_arena(p);
      if (whole_word_released(a, i, p, s->end())) {
        p += 63 * page_bytes;
        continue;
      }
      if (!((a->scavenged[i / 64] >> (i % 64)) & 1)) return p;
    }
    return 0;
  };
  span* found = nullptr;
  auto visit = [&](span* s) {
    if (found == nullptr && (*page = first_unreleased(s)) != 0) found = s;
  };
  free_long_.for_each(visit);
  for (std::size_t n = short_lists - 1; n > 0 && found == nullptr; --n) {
    if ((nonempty_[n / 64] >> (n % 64)) & 1) free_short_[n].for_each(visit);
  }
  return found;
}

// Step 5(a): takes [lo, hi) out of the free span s (on its free list) as a
// span of its own, off every list; the parts of s before and after it stay
// on the free lists as spans of their own. nullptr, with nothing changed,
// if no span struct can be had for them.
span* page_heap::carve_locked(span* s, std::uintptr_t lo, std::uintptr_t hi) {
  span* head = nullptr;
  span* tail = nullptr;
  if (lo > s->base && (head = new_span_locked(0)) == nullptr) return nullptr;
  if (hi < s->end() && (tail = new_span_locked(0)) == nullptr) {
    if (head != nullptr) free_span_struct_locked(head);
    return nullptr;
  }
  list_remove_locked(s);
  auto part = [&](span* p, std::uintptr_t base, std::uintptr_t end) {
    p->base = base;
    p->npages = (end - base) / page_bytes;
    p->needzero = s->needzero;
    p->state.store(span_state::free, std::memory_order_release);
    set_page_map_locked(p, false);
    list_add_locked(p);
  };
  if (head != nullptr) part(head, s->base, lo);
  if (tail != nullptr) part(tail, hi, s->end());
  s->base = lo;
  s->npages = (hi - lo) / page_bytes;
  set_page_map_locked(s, false);
  return s;
}

// Step 5(a): marks up to `want` bytes (whole pages) of s's unreturned pages
// as returned, as at most max_release_runs runs; a run ends at a returned
// page or at an arena boundary (each arena has its own bitmap). Returns the
// bytes marked, which heap_released now counts.
std::size_t page_heap::mark_released_locked(span* s, std::size_t want, page_run* runs, std::size_t& nruns) {
  std::size_t marked = 0;
  nruns = 0;
  std::uintptr_t run = 0;  // start of the open run, or 0
  auto close = [&](std::uintptr_t end) {
    if (run != 0) {
      runs[nruns++] = {run, end - run};
      marked += end - run;
      run = 0;
    }
  };
  for (std::uintptr_t p = s->base; p < s->end(); p += page_bytes) {
    arena_meta* a = arena_of(p);
    const std::size_t i = page_in_arena(p);
    const std::uint64_t bit = std::uint64_t{1} << (i % 64);
    if (i == 0) close(p);
    if (nruns == max_release_runs) break;
    if (whole_word_released(a, i, p, s->end())) {
      close(p);
      p += 63 * page_bytes;
      continue;
    }
    if (a->scavenged[i / 64] & bit) {
      close(p);
      continue;
    }
    if (nruns == max_release_runs) break;
    a->scavenged[i / 64] |= bit;
    if (run == 0) run = p;
    if (marked + (p + page_bytes - run) >= want) {
      close(p + page_bytes);
      break;
    }
  }
  close(s->end());  // an open run: nruns < max_release_runs (a run opens only then)
  c_.heap_released += marked;
  return marked;
}

std::size_t page_heap::release(std::size_t bytes) {
  const bool use_madv_free = godebug().madvdontneed == 0;  // read before locking: may print a warning
  std::size_t released = 0;
  while (released < bytes) {
    page_run runs[max_release_runs];
    std::size_t nruns = 0;
    span* s;
    {
      lock_guard g(lock_);
      std::uintptr_t page = 0;
      s = find_unreleased_locked(&page);
      if (s == nullptr) break;
      // One piece, from the first page to return: only it is off the free
      // lists while the lock is dropped.
      const std::size_t pages = std::min(release_piece_pages, (s->end() - page) / page_bytes);
      s = carve_locked(s, page, page + pages * page_bytes);
      if (s == nullptr) break;  // no memory for a span struct: keep what is left
      s->releasing = true;
      releasing_.push_back(s);
      ++free_spans_;
      released += mark_released_locked(s, bytes - released, runs, nruns);
    }
    for (std::size_t r = 0; r < nruns; ++r)  // step 5(b)
      os::release(reinterpret_cast<void*>(runs[r].base), runs[r].bytes, use_madv_free);
    lock_guard g(lock_);
    put_back_released_locked(s);
  }
  return released;
}

// Step 5(c).
void page_heap::put_back_released_locked(span* s) {
  span_list::remove(s);
  --free_spans_;
  s->releasing = false;
  free_pages_ -= s->npages;  // insert_free_locked counts them again
  insert_free_locked(s);
}

void page_heap::atfork_child() {
  // A release that another thread of the parent was in the middle of: its
  // span goes back to the free lists (pages it had marked but not yet
  // returned hold old data, which their spans' needzero already says).
  lock_guard g(lock_);
  while (span* s = releasing_.front()) put_back_released_locked(s);
}

// ---- counters and verification -----------------------------------------------------

page_heap_counters page_heap::counters() {
  lock_guard g(lock_);
  page_heap_counters out = c_;
  out.free_spans = free_spans_;
  return out;
}

void page_heap::verify() {
  lock_guard g(lock_);
  std::uint64_t pages = 0, scavenged = 0;
  auto check = [&](span* s) {
    GORT_CHECK(s->state.load(std::memory_order_relaxed) == span_state::free,
               "span [{:#x}, {:#x}) is on a free list but not free", s->base, s->end());
    GORT_CHECK(span_of(s->base) == s && span_of(s->end() - page_bytes) == s,
               "free span [{:#x}, {:#x}): page map does not point at it at its first and last page", s->base, s->end());
    span* l = span_of(s->base - 1);
    GORT_CHECK(s->releasing || !(l && l->state.load(std::memory_order_relaxed) == span_state::free &&
                                 !l->releasing && l->end() == s->base),
               "free spans [{:#x}, {:#x}) and [{:#x}, {:#x}) are adjacent: coalescing missed them", l ? l->base : 0,
               l ? l->end() : 0, s->base, s->end());
    pages += s->npages;
    for (std::uintptr_t p = s->base; p < s->end(); p += page_bytes) {
      arena_meta* a = arena_of(p);
      std::size_t i = page_in_arena(p);
      scavenged += (a->scavenged[i / 64] >> (i % 64)) & 1;
    }
  };
  for (std::size_t n = 1; n < short_lists; ++n) {
    GORT_CHECK(free_short_[n].empty() == !((nonempty_[n / 64] >> (n % 64)) & 1),
               "free list {} and its non-empty bit disagree", n);
    free_short_[n].for_each([&](span* s) {
      GORT_CHECK(s->npages == n, "span [{:#x}, {:#x}) of {} pages on free list {}", s->base, s->end(), s->npages, n);
      check(s);
    });
  }
  free_long_.for_each([&](span* s) {
    GORT_CHECK(s->npages >= short_lists, "span of {} pages on the long free list", s->npages);
    check(s);
  });
  std::uint64_t spans = 0;
  for (std::size_t n = 1; n < short_lists; ++n) spans += free_short_[n].size();
  spans += free_long_.size();
  releasing_.for_each([&](span* s) {
    GORT_CHECK(s->releasing, "span [{:#x}, {:#x}) is on the releasing list without its flag", s->base, s->end());
    check(s);
  });
  spans += releasing_.size();
  GORT_CHECK(spans == free_spans_, "{} free spans on the lists but free_spans is {}", spans, free_spans_);
  GORT_CHECK(pages == free_pages_, "free lists hold {} pages but free_pages is {}", pages, free_pages_);
  GORT_CHECK(c_.heap_sys == c_.heap_inuse + free_pages_ * page_bytes,
             "heap_sys {} != heap_inuse {} + idle {}", c_.heap_sys, c_.heap_inuse, free_pages_ * page_bytes);
  GORT_CHECK(scavenged * page_bytes == c_.heap_released, "scavenged pages in free spans {} != heap_released {}",
             scavenged * page_bytes, c_.heap_released);
}

}  // namespace gc::internal
