// src/gc/mark.cpp: marking. The algorithm and invariants are in mark.hpp.
#include "gc/mark.hpp"

#include <gort/tracer.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>
#include <type_traits>

#include "alloc/alloc.hpp"
#include "common/check.hpp"
#include "common/lock.hpp"
#include "gc/cards.hpp"
#include "gc/checkmark.hpp"
#include "os/os.hpp"
#include "stack/stack.hpp"

// mark_word is forced inline: GCC otherwise outlines it and find_object
// from the scanners, and the owner's plain-store marks (span.hpp) then gain
// nothing (binary-trees' single-worker mark, benchmarks.md). Not in
// sanitizer builds: inlined into the no_sanitize scanners, its locals' scope
// poisoning was left half done, and AddressSanitizer reported
// stack-use-after-scope in later, unrelated frames.
#if GORT_ASAN || GORT_TSAN
#  define GORT_MARK_WORD_INLINE
#  define GORT_MARK_LAMBDA_INLINE
#else
#  define GORT_MARK_WORD_INLINE GORT_ALWAYS_INLINE
#  define GORT_MARK_LAMBDA_INLINE __attribute__((always_inline))
#endif

namespace gc::internal::mark {

namespace {

constexpr std::size_t buf_items = 254;
constexpr std::uintptr_t oblet_bytes = 128 * 1024;
// The longest range a mark assist scans at once (drain_until).
constexpr std::uintptr_t assist_piece_bytes = 16 * 1024;
// How much an assist scans between two looks at the work it was asked for
// and at a pending stop (32 objects of 16 bytes, under a microsecond), and
// between two reads of the clock (about 3 us here): drain_until.
constexpr std::uint64_t assist_check_bytes = 512;
constexpr std::uint64_t assist_clock_bytes = 4 * 1024;
constexpr int max_helpers = 7;

// The lines marking reads from span s first: the first line of its header,
// which holds every field that find_object, try_mark and scan read
// (span.hpp), and the bitmap rows after the header (both owners' marks, the
// alloc and the mark bits of 64 objects in 32 bytes). The rows take lines
// 2-3 for spans of up to 256 objects and lines 2-5 for the 16-byte class,
// of which lines 2-4 are fetched (a fifth prefetch made both benchmarks'
// marks slower, twenty-second session); for the smaller spans the last
// prefetch or two fall on the next struct's header.
// The header's second
// line (lists, owner, sweep state) is left out: marking reads it only for
// an object whose alloc bit is clear, in the window an mcache allocates
// from. With both header lines fetched, a mark of objects scattered over
// the heap waited on five span lines per object (docs/benchmarks.md,
// twenty-first session). The struct's capacity is not read here, so that
// the prefetch waits for nothing.
GORT_ALWAYS_INLINE void prefetch_span_lines(const span* s) {
  const char* b = reinterpret_cast<const char*>(s);
  __builtin_prefetch(b);
  __builtin_prefetch(b + 128);
  __builtin_prefetch(b + 192);
  __builtin_prefetch(b + 256);
}

struct work_buf {
  work_buf* next = nullptr;
  std::size_t n = 0;
  work_item items[buf_items];
};
static_assert(sizeof(work_buf) <= 4096);

// Buffers, the global full list, and the grey list that mutators fill
// (shade: the write barrier, allocate paths). A rank_mutex: mutators take it
// too, and a thread must never be stopped while it holds it.
// Two cache lines: what the lock guards (written at every buffer hand-off),
// and the flags that busy workers read every 8 objects (balance), so that
// a hand-off elsewhere does not evict the flags from every marker's cache.
struct shared_state {
  alignas(64) rank_mutex mu{lock_rank::mark_queue};
  work_buf* empty = nullptr;  // guarded by mu
  work_buf* full = nullptr;   // guarded by mu
  work_buf* grey = nullptr;   // guarded by mu; objects shaded by mutators, not yet taken
  std::atomic<std::size_t> full_count{0};   // buffers on `full`, plus 1 while `grey` holds items
  alignas(64) std::atomic<int> idle{0};
  std::atomic<int> workers{1};  // set by drain(): helpers taking part + 1
  // A mark assist found no work: the next busy worker to balance gives it
  // half of its buffer, as to an idle worker, and clears the flag. Sticky,
  // so the assist need not wait for it. Atomic.
  std::atomic<bool> wanted{false};
};
// Constant-initialised (no guard on the hot path, no start-up order) and
// never destroyed while threads run: nothing to run at exit.
static_assert(std::is_trivially_destructible_v<shared_state>);
constinit shared_state shared;

// Bytes scanned in this cycle, by every worker (flushed every 256 objects),
// and bytes of the objects marked by marking (workers, roots, the
// barrier's shading), not by allocate-black. Atomic. Reset by begin_cycle.
// A line of their own: every worker adds to them.
struct alignas(64) totals_state {
  std::atomic<std::uint64_t> scan_work{0};
  std::atomic<std::uint64_t> marked{0};
};
constinit totals_state totals;

GORT_ALWAYS_INLINE shared_state& st() { return shared; }

// Helpers that left a drain early (step 5), ever; for tests. Atomic.
std::atomic<std::uint64_t> departures{0};

work_buf* get_empty() {
  shared_state& s = st();
  {
    lock_guard g(s.mu);
    if (work_buf* b = s.empty) {
      s.empty = b->next;
      b->next = nullptr;
      b->n = 0;
      return b;
    }
  }
  constexpr std::size_t chunk = 64 * 1024;
  auto* mem = static_cast<char*>(os::map_metadata(chunk));
  GORT_CHECK(mem != nullptr, "marking: cannot map {} bytes for work buffers", chunk);
  lock_guard g(s.mu);
  for (std::size_t off = 4096; off + 4096 <= chunk; off += 4096) {
    auto* b = new (mem + off) work_buf();
    b->next = s.empty;
    s.empty = b;
  }
  return new (mem) work_buf();
}

void put_empty(work_buf* b) {
  shared_state& s = st();
  lock_guard g(s.mu);
  b->next = s.empty;
  s.empty = b;
}

void put_full_locked(shared_state& s, work_buf* b) {
  b->next = s.full;
  s.full = b;
  s.full_count.fetch_add(1, std::memory_order_release);
}

void put_full(work_buf* b) {
  shared_state& s = st();
  lock_guard g(s.mu);
  put_full_locked(s, b);
}

// A full buffer, or else the mutators' partial grey buffer; null if neither.
work_buf* get_full() {
  shared_state& s = st();
  if (s.full_count.load(std::memory_order_acquire) == 0) return nullptr;
  lock_guard g(s.mu);
  work_buf* b = s.full;
  if (b != nullptr) {
    s.full = b->next;
    b->next = nullptr;
    s.full_count.fetch_sub(1, std::memory_order_relaxed);
  } else if (s.grey != nullptr) {
    b = s.grey;
    s.grey = nullptr;
    s.full_count.fetch_sub(1, std::memory_order_relaxed);
  }
  return b;
}

// Appends to the grey list; false if no spare buffer was left for it.
bool push_grey_locked(shared_state& s, work_item item) {
  if (s.grey == nullptr && s.empty != nullptr) {
    s.grey = s.empty;
    s.empty = s.grey->next;
    s.grey->next = nullptr;
    s.grey->n = 0;
    s.full_count.fetch_add(1, std::memory_order_release);  // the grey buffer counts as one
  }
  if (s.grey == nullptr) return false;
  s.grey->items[s.grey->n++] = item;
  if (s.grey->n == buf_items) {
    work_buf* b = s.grey;
    s.grey = nullptr;
    s.full_count.fetch_sub(1, std::memory_order_relaxed);
    put_full_locked(s, b);
  }
  return true;
}

// Mutators shaded objects that may hold pointers: queue them for a worker,
// under one acquisition of the lock (more when buffers must be mapped).
void push_grey(const work_item* items, std::size_t n) {
  shared_state& s = st();
  std::size_t i = 0;
  while (i < n) {
    {
      lock_guard g(s.mu);
      while (i < n && push_grey_locked(s, items[i])) ++i;
    }
    if (i < n) put_empty(get_empty());  // no spare buffer: map more, outside the lock, and retry
  }
}

}  // namespace

class worker {
 public:
  worker() = default;
  // owner: this worker is owner k's marker (span.hpp), which sets its mark
  // bits in the span's column k (owned_word) with plain stores; -1: none, it sets
  // them with locked ORs. One worker per owner, used by one thread at a
  // time: owner 0 is root_w (the thread that runs the cycle), owner 1 the
  // first mark-assist slot's worker (the thread that claimed the slot),
  // or, while the world is stopped (no assist runs), the first helper's.
  explicit constexpr worker(int owner) : owner_(owner) {}
  // A helper's worker, between drains (mark::drain).
  void set_owner(int owner) { owner_ = owner; }

  // try_mark as this worker marks.
  template <int Owner>
  GORT_ALWAYS_INLINE static bool try_mark_as(span* s, std::uintptr_t idx) {
    if constexpr (Owner < 0)
      return s->try_mark(idx);
    else
      return s->template try_mark_owned<Owner>(idx);
  }

  void push(work_item item) {
    if (cur_ == nullptr) cur_ = get_empty();
    if (cur_->n == buf_items) {
      put_full(cur_);  // share: an idle worker may take it
      cur_ = get_empty();
    }
    cur_->items[cur_->n++] = item;
  }

  // Gives the oldest half of the local buffer to the global list, when
  // another worker is idle and nothing is published (step 3 of mark.hpp).
  // Depth-first marking of a tree keeps only about its depth in the local
  // buffer, which never fills a buffer: without this, one worker would mark
  // the whole heap while the others spin. The oldest entries are nearest the
  // roots of the traversal, so they carry the most work.
  void balance() {
    shared_state& s = st();
    if (cur_ == nullptr || cur_->n < 2) return;
    if ((s.idle.load(std::memory_order_relaxed) == 0 && !s.wanted.load(std::memory_order_relaxed)) ||
        s.full_count.load(std::memory_order_relaxed) != 0)
      return;
    s.wanted.store(false, std::memory_order_relaxed);
    work_buf* b = get_empty();
    const std::size_t half = cur_->n / 2;
    std::copy(cur_->items, cur_->items + half, b->items);
    b->n = half;
    std::copy(cur_->items + half, cur_->items + cur_->n, cur_->items);
    cur_->n -= half;
    put_full(b);
  }

  bool pop(work_item& item) {
    if (cur_ == nullptr || cur_->n == 0) {
      work_buf* b = get_full();
      if (b == nullptr) return false;
      if (cur_ != nullptr) put_empty(cur_);
      cur_ = b;
    }
    // Two 8-byte loads, not one 16-byte copy: the item was most likely just
    // pushed as two 8-byte stores, and a load that needs the data
    // of two stores still in the store buffer cannot be forwarded from them.
    // GCC copied the item with one 16-byte load, which then waited for both
    // stores to reach the cache: a quarter of drain()'s samples in
    // binary-trees' stop-the-world mark (benchmarks.md). Relaxed atomic
    // loads, so that the compiler keeps them apart; the buffer is this
    // worker's own.
    const work_item* p = &cur_->items[--cur_->n];
    item.addr = __atomic_load_n(&p->addr, __ATOMIC_RELAXED);
    item.len = __atomic_load_n(&p->len, __ATOMIC_RELAXED);
    return true;
  }

  GORT_MARK_WORD_INLINE void mark_word(std::uintptr_t v) {
    if (v < heap_lo.load(std::memory_order_relaxed) || v >= heap_hi.load(std::memory_order_relaxed)) return;
    object_ref ref = find_object(v);
    if (!ref) return;
    span* s = ref.s;
    auto base = reinterpret_cast<std::uintptr_t>(ref.base);
    if (GORT_UNLIKELY(checking_)) {
      check_object(s, base);
      return;
    }
    mark_at(s, s->object_index(base));
  }

  // Marks allocated object idx of span s (mark_word, scan_small); if it was
  // white, counts its bytes and, unless s is noscan, pushes it.
  GORT_MARK_WORD_INLINE void mark_at(span* s, std::uintptr_t idx) {
    if (!(owner_ == 0 ? try_mark_as<0>(s, idx) : owner_ == 1 ? try_mark_as<1>(s, idx) : try_mark_as<-1>(s, idx)))
      return;
    marked_ += s->elem_size;
    if (!s->noscan) push({s->object_base(idx), reinterpret_cast<std::uintptr_t>(s) | 1});
  }

  // A dirty card of a minor mark (cards.hpp; mark.hpp step 6): pushes every
  // marked (old) object of an in-use span that overlaps [card, card +
  // card_bytes), to be scanned whole (by its trace() if it has one); of a
  // large object, only the card's piece, conservatively.
  void push_old_in_card(std::uintptr_t card) {
    span* s = span_of(card);
    if (s == nullptr || s->state.load(std::memory_order_acquire) != span_state::in_use || s->noscan) return;
    const std::uintptr_t lo = std::max(card, s->base), hi = std::min(card + cards::card_bytes, s->limit);
    if (lo >= hi) return;
    // Objects allocated black during this (concurrent) mark are young and
    // need no scan: what is stored into them during the mark is shaded.
    if (s->size_class == 0) {
      if (s->is_marked(0) && !(s->load_black_word(0) & 1)) push({lo, hi - lo});
      return;
    }
    // A word of mark bits at a time: most dirty cards hold only young
    // (unmarked) objects, since every initialising store dirties its card.
    const std::uintptr_t first = s->object_index(lo), last = s->object_index(hi - 1);
    for (std::uintptr_t w = first / 64; w <= last / 64; ++w) {
      std::uint64_t old = s->load_mark_word(w) & ~s->load_black_word(w);
      if (w == first / 64) old &= ~std::uint64_t{0} << (first % 64);
      if (w == last / 64) old &= ~std::uint64_t{0} >> (63 - last % 64);
      for (; old != 0; old &= old - 1) {
        const std::uintptr_t idx = w * 64 + static_cast<std::uintptr_t>(std::countr_zero(old));
        if (s->is_allocated(idx)) push({s->object_base(idx), reinterpret_cast<std::uintptr_t>(s) | 1});
      }
    }
  }

  // Reads other threads' stacks and arbitrary words: sanitizers would flag
  // ASan redzones and racy reads that the stop makes safe.
  // Not forced inline: an inlined copy would lose this attribute in a
  // sanitizer build (GCC then instruments the caller's copy).
  __attribute__((no_sanitize("address", "thread"))) void scan_range(std::uintptr_t lo, std::uintptr_t hi) {
    lo = (lo + sizeof(void*) - 1) & ~std::uintptr_t{sizeof(void*) - 1};
    if (GORT_UNLIKELY(checking_)) return scan_range_checking(lo, hi);
    if (hi - lo >= pipeline_min_bytes) return scan_range_pipelined(lo, hi);
    for (std::uintptr_t p = lo; p + sizeof(void*) <= hi; p += sizeof(void*))
      mark_word(*reinterpret_cast<const std::uintptr_t*>(p));
  }

  // A small object of span s, scanned conservatively (step 2 of mark.hpp).
  // A word that points into s itself (a tree's nodes are mostly allocated
  // next to their children) is resolved against s directly: s is in use
  // for the whole mark (it holds the object being scanned, which is
  // marked), so the page map, the state and the heap bounds need no look.
  // The allocated check stays: a word may name a free slot, which must not
  // be marked (the sweep would make it allocated). Other words go through
  // mark_word.
  __attribute__((no_sanitize("address", "thread"))) GORT_MARK_WORD_INLINE void scan_small(std::uintptr_t lo,
                                                                                         std::uintptr_t size,
                                                                                         span* s) {
    const std::uintptr_t sbase = s->base, sextent = s->limit - s->base;
    for (std::uintptr_t p = lo; p < lo + size; p += sizeof(void*)) {
      const std::uintptr_t v = *reinterpret_cast<const std::uintptr_t*>(p);
      if (v - sbase >= sextent) {
        mark_word(v);
        continue;
      }
      const std::uintptr_t idx = s->object_index(v);
      if (s->is_allocated(idx)) mark_at(s, idx);
    }
  }

  // A long range (a large object's piece, a stack, a root region): the
  // words that may point into the heap go through a ring of 16, in order.
  // As a word enters, its page-map entry is prefetched; 8 words later the
  // entry is read and the span's header and bitmap lines are prefetched;
  // 8 words later still the word is marked (mark_word), with what it needs
  // in cache. An array of pointers to objects scattered over the heap (the
  // latency benchmark's 2,000,000 slots) is otherwise a chain of dependent
  // misses per word: page map, span, bitmaps.
  static constexpr std::uintptr_t pipeline_min_bytes = 32 * sizeof(void*);
  __attribute__((no_sanitize("address", "thread"))) GORT_NOINLINE void scan_range_pipelined(std::uintptr_t lo,
                                                                                           std::uintptr_t hi) {
    constexpr unsigned ring_size = 16, half = ring_size / 2;
    std::uintptr_t ring[ring_size];
    unsigned count = 0, pos = 0;
    const std::uintptr_t heap_min = heap_lo.load(std::memory_order_relaxed);
    const std::uintptr_t heap_max = heap_hi.load(std::memory_order_relaxed);
    for (std::uintptr_t p = lo; p + sizeof(void*) <= hi; p += sizeof(void*)) {
      const std::uintptr_t v = *reinterpret_cast<const std::uintptr_t*>(p);
      if (v < heap_min || v >= heap_max) continue;
      arena_meta* a = arena_of(v);
      if (a == nullptr) continue;
      __builtin_prefetch(&a->spans[page_in_arena(v)]);
      if (count >= half) {
        if (const span* s = span_of(ring[(pos - half) % ring_size])) prefetch_span_lines(s);
      }
      if (count == ring_size) {
        mark_word(ring[pos]);
      } else {
        ++count;
      }
      ring[pos] = v;
      pos = (pos + 1) % ring_size;
    }
    for (unsigned i = count; i > 0; --i) mark_word(ring[(pos + ring_size - i) % ring_size]);
  }

  // Checkmark mode: the same, remembering each word's address for reports.
  __attribute__((no_sanitize("address", "thread"))) GORT_NOINLINE GORT_COLD void scan_range_checking(
      std::uintptr_t lo, std::uintptr_t hi) {
    for (std::uintptr_t p = lo; p + sizeof(void*) <= hi; p += sizeof(void*)) {
      slot_ = p;
      mark_word(*reinterpret_cast<const std::uintptr_t*>(p));
    }
  }

  // A root region or root object, for checkmark reports.
  void set_source(const char* what, std::uintptr_t lo, std::uintptr_t hi, bool stack = false) {
    stack_source_ = stack;
    what_ = what;
    root_lo_ = lo;
    root_hi_ = hi;
    parent_ = 0;
    slot_ = 0;
  }
  // A word visited by a trace() method: `slot` is the field (null: unknown).
  void visit(std::uintptr_t v, const void* slot) {
    slot_ = reinterpret_cast<std::uintptr_t>(slot);
    mark_word(v);
  }

  void set_checking(bool on, bool concurrent = false) {
    checking_ = on;
    concurrent_check_ = concurrent;
  }
  bool checking() const { return checking_; }

  // Every item the drain's loop does not scan inline (drain_hot: ranges,
  // typed objects, large objects; checkmark mode: all).
  GORT_NOINLINE void scan_other(work_item item) {
    if (GORT_UNLIKELY(checking_)) {
      what_ = nullptr;
      stack_source_ = false;
      parent_ = item.addr;
      if (!(item.len & 1)) parent_ = reinterpret_cast<std::uintptr_t>(find_object(item.addr).base);
    }
    if (!(item.len & 1)) {
      scan_range(item.addr, item.addr + item.len);
      scanned_ += item.len;
      return;
    }
    span* s = reinterpret_cast<span*>(item.len & ~std::uintptr_t{1});
    const std::uintptr_t idx = s->object_index(item.addr);
    if (s->typed) {
      const obj_meta& m = s->meta[idx];
      // The object's thread may be publishing this entry now (publish_meta):
      // read with acquire, with the count that goes with it.
      const std::uint64_t word = __atomic_load_n(&m.word, __ATOMIC_ACQUIRE);
      if (const void* type = meta_type(word)) {
        const auto* ti = static_cast<const type_info*>(type);
        if (ti->trace != nullptr) {
          const std::size_t count = meta_count(m, word);
          tracer t = tracer_access::make(this);
          for (std::size_t i = 0; i < count; ++i) ti->trace(reinterpret_cast<const void*>(item.addr + i * ti->size), t);
          scanned_ += count * ti->size;
          return;
        }
      }
    }
    std::uintptr_t size = s->elem_size;
    if (size < pipeline_min_bytes && GORT_LIKELY(!checking_)) {
      scan_small(item.addr, size, s);
      scanned_ += size;
      return;
    }
    if (size > range_limit_) {
      // The first piece is scanned here (range_limit_ long: an assist keeps
      // less), the rest pushed in oblets.
      for (std::uintptr_t off = range_limit_; off < size; off += oblet_bytes)
        push({item.addr + off, std::min(oblet_bytes, size - off)});
      size = range_limit_;
    }
    scan_range(item.addr, item.addr + size);
    scanned_ += size;
  }

  // The items popped but not yet scanned (step 2 of mark.hpp): grey objects
  // held by the worker, as those in its buffer are.
  // Addresses and lengths in two arrays, read back with 8-byte loads: as an
  // array of items, GCC copied each taken item through the stack with one
  // 16-byte store and read its length back with an 8-byte load, which then
  // waited on the store (a tenth of drain()'s samples in binary-trees).
  struct fifo {
    static constexpr unsigned size = 16;
    std::uintptr_t addrs[size];
    std::uintptr_t lens[size];
    unsigned head = 0, count = 0;
    void put(const work_item& it) {
      const unsigned i = (head + count++) % size;
      addrs[i] = it.addr;
      lens[i] = it.len;
    }
    work_item take() {
      const work_item it{addrs[head], lens[head]};
      head = (head + 1) % size;
      --count;
      return it;
    }
  };
  // Tops f up from the buffers, prefetching each item as it enters, and
  // takes its oldest item into `item`; false if no work is left.
  bool next(fifo& f, work_item& item) {
    while (f.count < fifo::size && pop(item)) {
      prefetch_item(item);
      f.put(item);
    }
    if (f.count == 0) return false;
    item = f.take();
    return true;
  }

  // What scanning the item reads first: the object's words and, for a whole
  // object, its span's header and the first line of each bitmap (its
  // children are mostly in the same span). Issued as the item enters a FIFO
  // a few items ahead of its scan (drain, drain_until): a span header that
  // is not in cache costs as much as the object itself.
  static void prefetch_item(const work_item& item) {
    __builtin_prefetch(reinterpret_cast<const void*>(item.addr));
    if (item.len & 1) prefetch_span_lines(reinterpret_cast<const span*>(item.len & ~std::uintptr_t{1}));
  }

  // Adds this worker's scan work to the cycle's total (read by assists).
  void flush_scanned() {
    if (scanned_ != 0) {
      totals.scan_work.fetch_add(scanned_, std::memory_order_relaxed);
      scanned_flushed_ += scanned_;
      scanned_ = 0;
    }
    if (marked_ != 0) {
      totals.marked.fetch_add(marked_, std::memory_order_relaxed);
      marked_ = 0;
    }
  }

  // The drain's local stack as the hot loop keeps it, in registers
  // (drain_hot): the next free item of cur_ and the end of its items.
  // cur_->n lags while the loop runs; hot_sync writes it back before
  // anything else reads the buffer. Kept in the worker's fields, the top
  // and the marked-bytes count were loaded and stored around every push: a
  // store into the buffer may alias them, as far as the compiler knows.
  struct hot_stack {
    work_item* top;
    work_item* end;
    work_item* bottom() const { return end - buf_items; }
  };
  // With no local buffer (a mark assist's worker after a publish), a full
  // one from the global list if there is one, else an empty one.
  hot_stack hot_load() {
    if (GORT_UNLIKELY(cur_ == nullptr)) {
      cur_ = get_full();
      if (cur_ == nullptr) cur_ = get_empty();
    }
    return {cur_->items + cur_->n, cur_->items + buf_items};
  }
  void hot_sync(const hot_stack& h) { cur_->n = static_cast<std::size_t>(h.top - h.bottom()); }
  // The local buffer is full: it goes to the global list (step 3 of
  // mark.hpp), and an empty one takes its place.
  GORT_NOINLINE hot_stack hot_spill() {
    cur_->n = buf_items;
    put_full(cur_);
    cur_ = get_empty();
    return {cur_->items, cur_->items + buf_items};
  }
  // The local buffer is empty (its count synced): a full one from the
  // global list takes its place; false if there is none.
  GORT_NOINLINE bool hot_refill() {
    work_buf* b = get_full();
    if (b == nullptr) return false;
    put_empty(cur_);
    cur_ = b;
    return true;
  }
  GORT_ALWAYS_INLINE static void hot_push(hot_stack& h, std::uintptr_t addr, std::uintptr_t len, worker* w) {
    if (GORT_UNLIKELY(h.top == h.end)) h = w->hot_spill();
    h.top->addr = addr;
    h.top->len = len;
    ++h.top;
  }

  // A word of an object being scanned, unseen by the sanitizers (the
  // scanners read whatever memory the heap holds).
  __attribute__((no_sanitize("address", "thread"))) GORT_ALWAYS_INLINE static std::uintptr_t load_word(
      std::uintptr_t p) {
    return *reinterpret_cast<const std::uintptr_t*>(p);
  }

  // drain()'s loop while there is work (steps 2 and 3 of mark.hpp), outside
  // checkmark mode: next()'s FIFO and pop with their state in locals,
  // which the compiler keeps in registers (the FIFO's indices, the stack's
  // top, the counts), and the common item, a small object of an untyped
  // span, scanned inline; the rest goes to scan_other. In the worker's fields,
  // that state was loaded and stored around every push and pop: a store
  // into a buffer may alias them, as far as the compiler knows
  // (binary-trees' tree, one marker: 143 -> 118 instructions per node and
  // 31.6 -> 25.1 ms per mark of 4.2 million nodes, benchmarks.md,
  // twenty-second session).
  // Its FIFO holds 32 items, not 16: with less work per item, 16 items
  // ahead no longer covered the misses of a heap of scattered lists.
  // Assist: the loop of a mark assist (drain_until), which stops when
  // `work` bytes are scanned, a stop is pending or the deadline passes, and
  // cuts long ranges; otherwise drain()'s, which balances and asks leave().
  // Returns true if it stopped early (a helper that left; an assist out of
  // work or time), its unscanned items handed back to the shared list;
  // false when no work was left.
  template <int Owner, bool Assist>
  __attribute__((no_sanitize("address", "thread"))) GORT_NOINLINE bool drain_hot(bool (*leave)(int), int index,
                                                                                std::uint64_t deadline_ns = 0,
                                                                                std::uint64_t work = 0) {
    shared_state& s = st();
    // Assists: bytes scanned by this call (scanned_ grows in scan_other
    // only), and when to look next at the work, a pending stop and the clock.
    const std::uint64_t start = scanned_;
    std::uint64_t check_at = assist_check_bytes, clock_at = assist_clock_bytes;
    // The FIFO, as two running indices: in - out items, at index % fsize.
    constexpr unsigned fsize = 32;
    static_assert((fsize & (fsize - 1)) == 0);
    std::uintptr_t faddr[fsize], flen[fsize];
    unsigned in = 0, out = 0;
    unsigned scans = 0;
    std::uint64_t marked = 0, scanned = 0;
    hot_stack h = hot_load();

    // mark_at: allocated object idx of sp. scannable: sp is known to be a
    // span whose objects are scanned (the span of the object being scanned).
    auto mark = [&](span* sp, std::uintptr_t idx, bool scannable) GORT_MARK_LAMBDA_INLINE {
      if (!try_mark_as<Owner>(sp, idx)) return;
      marked += sp->elem_size;
      if (scannable || !sp->noscan) hot_push(h, sp->object_base(idx), reinterpret_cast<std::uintptr_t>(sp) | 1, this);
    };

    for (;;) {
      while (in - out < fsize) {
        if (h.top == h.bottom()) {
          hot_sync(h);
          if (!hot_refill()) break;
          h = hot_load();
        }
        --h.top;
        // Relaxed atomic loads: two 8-byte loads (pop() says why).
        const std::uintptr_t a = __atomic_load_n(&h.top->addr, __ATOMIC_RELAXED);
        const std::uintptr_t l = __atomic_load_n(&h.top->len, __ATOMIC_RELAXED);
        prefetch_item({a, l});
        faddr[in % fsize] = a;
        flen[in % fsize] = l;
        ++in;
      }
      if (in == out) break;
      work_item item{faddr[out % fsize], flen[out % fsize]};
      ++out;
      span* sp = reinterpret_cast<span*>(item.len & ~std::uintptr_t{1});
      if (GORT_LIKELY((item.len & 1) && !sp->typed && sp->elem_size < pipeline_min_bytes)) {
        // scan_small: a word into sp itself is resolved against sp; any
        // other goes through find_object's checks (arena.hpp), resolving
        // the object's index once.
        const std::uintptr_t size = sp->elem_size;
        const std::uintptr_t sbase = sp->base, sextent = sp->limit - sp->base;
        for (std::uintptr_t p = item.addr; p < item.addr + size; p += sizeof(void*)) {
          const std::uintptr_t v = load_word(p);
          if (v - sbase < sextent) {
            const std::uintptr_t idx = sp->object_index(v);
            if (sp->is_allocated(idx)) mark(sp, idx, true);
            continue;
          }
          if (v < heap_lo.load(std::memory_order_relaxed) || v >= heap_hi.load(std::memory_order_relaxed)) continue;
          span* o = span_of(v);
          if (o == nullptr || o->state.load(std::memory_order_acquire) != span_state::in_use || v < o->base ||
              v >= o->limit)
            continue;
          const std::uintptr_t idx = o->object_index(v);
          if (o->is_allocated(idx)) mark(o, idx, false);
        }
        scanned += size;
      } else {
        hot_sync(h);
        if (Assist && !(item.len & 1) && item.len > assist_piece_bytes) {
          push({item.addr + assist_piece_bytes, item.len - assist_piece_bytes});
          item.len = assist_piece_bytes;
        }
        scan_other(item);
        h = hot_load();
      }
      if constexpr (Assist) {
        // drain_until says when it looks at what.
        const bool range = !(item.len & 1);
        const std::uint64_t done = scanned_ - start + scanned;
        if (GORT_LIKELY(!range && done < check_at)) continue;
        check_at = done + assist_check_bytes;
        bool stop = done >= work || stack::stop_pending();
        if (!stop && (range || done >= clock_at)) {
          stop = os::monotonic_ns() >= deadline_ns;
          clock_at = done + assist_clock_bytes;
        }
        if (!stop) continue;
        hot_sync(h);
        for (; out != in; ++out) push({faddr[out % fsize], flen[out % fsize]});
        publish();
        marked_ += marked;
        scanned_ += scanned;
        return true;
      }
      // Every 8 objects (about 100 ns): give work to an idle worker.
      if ((++scans & 7) != 0) continue;
      if (s.idle.load(std::memory_order_relaxed) != 0 || s.wanted.load(std::memory_order_relaxed)) {
        hot_sync(h);
        balance();
        h = hot_load();
      }
      if ((scans & 255) != 0) continue;
      marked_ += marked;
      scanned_ += scanned;
      marked = scanned = 0;
      flush_scanned();
      if (leave != nullptr && leave(index)) {
        hot_sync(h);
        for (; out != in; ++out) push({faddr[out % fsize], flen[out % fsize]});
        publish();
        return true;
      }
    }
    hot_sync(h);
    marked_ += marked;
    scanned_ += scanned;
    return false;
  }

  // Works until there is no grey object left anywhere (step 4 of mark.hpp),
  // or, for a helper given `leave`, until leave() says its core is wanted
  // (step 5 of mark.hpp): then its grey objects go to the shared list and
  // it stops counting as a worker of this drain.
  void drain(bool (*leave)(int) = nullptr, int index = 0) {
    shared_state& s = st();
    for (;;) {
      if (GORT_UNLIKELY(checking_)) {
        // Checkmark mode: one worker (mark::drain), every item through
        // scan_other, which records where each word came from.
        fifo f;
        work_item item;
        while (next(f, item)) scan_other(item);
      } else if (owner_ == 0   ? drain_hot<0, false>(leave, index)
                 : owner_ == 1 ? drain_hot<1, false>(leave, index)
                               : drain_hot<-1, false>(leave, index)) {
        // Published before it stops counting: a worker that then finds
        // every remaining worker idle also finds this work (acq_rel).
        s.workers.fetch_sub(1, std::memory_order_acq_rel);
        departures.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      flush_scanned();
      s.idle.fetch_add(1, std::memory_order_acq_rel);
      for (unsigned spins = 1;; ++spins) {
        if (s.idle.load(std::memory_order_acquire) == s.workers.load(std::memory_order_acquire) &&
            s.full_count.load(std::memory_order_acquire) == 0)
          return;  // everyone idle, nothing published: done
        if (s.full_count.load(std::memory_order_acquire) != 0) {
          s.idle.fetch_sub(1, std::memory_order_acq_rel);
          break;
        }
        if (leave != nullptr && (spins & 255) == 0 && leave(index)) {
          // Idle, holding nothing: no longer one of the workers to wait for.
          s.idle.fetch_sub(1, std::memory_order_acq_rel);
          s.workers.fetch_sub(1, std::memory_order_acq_rel);
          departures.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        cpu_relax();
      }
    }
  }

  // Alone and time-bounded (mark assists): scans until no work is left
  // anywhere (true) or the deadline
  // passes (false), leaving what it did not scan on the shared list.
  // Or until it has done `work` bytes of scanning.
  // Items pass through a FIFO as in drain(); the ones still in it when the
  // assist stops go back to the buffer, which is published.
  // A range longer than assist_piece_bytes (a 128 KiB piece of a large
  // object, or the first piece scan_other keeps) is cut: the assist scans 16
  // KiB and pushes the rest back. A 128 KiB piece of pointers to objects
  // scattered over the heap took an assist 230-500 us against its 100 us
  // bound (the latency benchmark's slot array).
  bool drain_until(std::uint64_t deadline_ns, std::uint64_t work = ~std::uint64_t{0}) {
    // drain_hot<..., true> does the work. After every range and every
    // assist_check_bytes of scanning, it looks at the work asked for and at
    // a stop waiting for this thread (an assist runs in a no_stop_scope:
    // the stop would wait for it); after every range and every
    // assist_clock_bytes, at the deadline. (A clock read costs 23 ns here,
    // two 16-byte objects' scan: read every 32 objects, it was 2% of
    // binary-trees' samples. Looked at after every object, the work and the
    // stop cost a tenth of an assist's instructions, cachegrind.)
    GORT_DCHECK(owner_ != 0 && !checking_, "a mark assist's worker neither owns the collector's marks nor checks them");
    range_limit_ = assist_piece_bytes;
    // Owner 1's column is allocate-black's record in a cycle that keeps it
    // (span.hpp, Bitmaps): then this worker marks as any other.
    const int owner = owner_;
    if (owner_ == 1 && allocate_black_record.load(std::memory_order_relaxed)) owner_ = -1;
    const bool stopped = owner_ == 1 ? drain_hot<1, true>(nullptr, 0, deadline_ns, work)
                                     : drain_hot<-1, true>(nullptr, 0, deadline_ns, work);
    owner_ = owner;
    flush_scanned();
    range_limit_ = oblet_bytes;
    return !stopped;
  }

  // Bytes this worker has scanned (flushed or not), for assists' accounting.
  std::uint64_t scanned_total() const { return scanned_flushed_ + scanned_; }

  // Hands the local buffer to the shared list.
  void publish() {
    if (cur_ != nullptr && cur_->n != 0) {
      put_full(cur_);
      cur_ = nullptr;
    }
  }

  // Checkmark mode (checkmark.hpp step 2): first visit of `base` in this
  // pass; the collector's mark must have reached it too.
  GORT_COLD GORT_NOINLINE void check_object(span* s, std::uintptr_t base) {
    const bool marked = s->is_marked(s->object_index(base));
    // A word of a thread stack or its registers that points at an unmarked
    // object: with conservative stacks this may be a stale word (a frame
    // that became live after the thread's handshake, over old stack memory),
    // not a reference, when marking was concurrent. Neither reported nor
    // followed, and the object is left unchecked, so that a reference to it
    // from the heap or a root is still reported (checkmark.hpp). Nor is a
    // marked object that its thread may still be zeroing (allocated black,
    // its memory still holding a dead object's words: alloc.hpp,
    // may_be_initialising): found again from the heap, it is checked then.
    if (stack_source_ && concurrent_check_ && (!marked || may_be_initialising(s, base))) return;
    if (!checkmark::set(base)) return;
    if (!marked) report_unmarked(s, base);
    if (!s->noscan) push({base, reinterpret_cast<std::uintptr_t>(s) | 1});
  }

  [[noreturn]] GORT_COLD GORT_NOINLINE void report_unmarked(const span* s, std::uintptr_t base) {
    // The world is stopped: no allocation (a stopped thread may hold malloc's lock).
    char from_buf[512];
    fmt::format_to_n_result<char*> r;
    if (what_ != nullptr) {
      if (slot_ != 0)
        r = fmt::format_to_n(from_buf, sizeof from_buf - 1, "{} [{:#x}, {:#x}), in the word at {:#x}", what_, root_lo_,
                             root_hi_, slot_);
      else
        r = fmt::format_to_n(from_buf, sizeof from_buf - 1, "{} [{:#x}, {:#x})", what_, root_lo_, root_hi_);
    } else {
      const object_ref p = find_object(parent_);
      const std::uintptr_t psize = p ? p.s->elem_size : 0;
      const auto pspan = p ? reinterpret_cast<std::uintptr_t>(p.s) : 0;
      if (slot_ >= parent_ && slot_ < parent_ + psize)
        r = fmt::format_to_n(from_buf, sizeof from_buf - 1, "object {:#x} ({} bytes, span {:#x}), in its word at offset {}",
                             parent_, psize, pspan, slot_ - parent_);
      else
        r = fmt::format_to_n(from_buf, sizeof from_buf - 1, "object {:#x} ({} bytes, span {:#x}), through its trace()",
                             parent_, psize, pspan);
    }
    *r.out = '\0';  // format_to_n wrote at most sizeof from_buf - 1 characters
    const char* from = from_buf;
    GORT_FATAL_NOALLOC(
        "gccheckmark: object {:#x} ({} bytes, span {:#x} [{:#x}, {:#x}), size class {}) is reachable from {} "
        "but the collector's mark left it unmarked; rule broken: every object reachable from the roots is marked "
        "before the sweep (was a pointer stored where the collector could not see it, or without the write barrier?)",
        base, s->elem_size, reinterpret_cast<std::uintptr_t>(s), s->base, s->limit, static_cast<int>(s->size_class),
        from);
  }

  void reset() {
    if (cur_ != nullptr) {
      GORT_CHECK(cur_->n == 0, "a marker's buffer holds {} items at the start of a cycle", cur_->n);
    }
  }

 private:
  // See the constructor. A helper's is set by mark::drain before it wakes
  // the helper; an assist's drain_until lowers owner 1 to -1 for its call
  // while column 1 is allocate-black's record.
  int owner_ = -1;
  work_buf* cur_ = nullptr;
  std::uint64_t scanned_ = 0;  // bytes scanned, not yet added to totals.scan_work
  std::uint64_t marked_ = 0;   // bytes of objects this worker marked, not yet in totals.marked
  std::uint64_t scanned_flushed_ = 0;  // bytes scanned and already added to totals.scan_work
  // The longest piece of a large object scan_other scans itself: oblet_bytes,
  // or assist_piece_bytes inside drain_until. This worker's only.
  std::uintptr_t range_limit_ = oblet_bytes;
  // Checkmark mode only: where the word being looked at came from.
  bool checking_ = false;
  bool concurrent_check_ = false;  // the mark being checked ran concurrently
  bool stack_source_ = false;      // the region being scanned is a thread's stack or registers
  const char* what_ = nullptr;   // a root region's name, or null: an object
  std::uintptr_t root_lo_ = 0, root_hi_ = 0;
  std::uintptr_t parent_ = 0;    // the object being scanned
  std::uintptr_t slot_ = 0;      // the word's address (0: unknown)
};

namespace {

worker root_w{0};  // the collector's worker, owner 0's marker (span.hpp)

// Helper threads: not registered with the collector (never stopped); they
// mark only while the world is stopped, woken per cycle.
struct helpers_state {
  std::mutex mu;
  std::condition_variable wake;
  std::condition_variable done;
  std::uint64_t cycle = 0;   // guarded by mu; bumped to start helpers
  int finished = 0;          // guarded by mu
  int active = 0;            // guarded by mu; helpers 0..active-1 take part in this drain
  bool (*leave)(int) = nullptr;  // guarded by mu; this drain's (mark.hpp step 5), or none
  std::atomic<std::uint64_t> drain_ns{0};  // this drain's time in the helpers, summed
  int count = 0;             // helpers started
  worker workers[max_helpers];
};
// Written once by ensure_helpers (under the collector's world mutex), read
// by the marking thread: atomic.
std::atomic<helpers_state*> helpers_ptr{nullptr};

void helper_main(int i) {
  helpers_state& h = *helpers_ptr.load(std::memory_order_acquire);
  std::uint64_t seen = 0;
  for (;;) {
    bool take_part;
    bool (*leave)(int);
    {
      std::unique_lock g(h.mu);
      h.wake.wait(g, [&] { return h.cycle != seen; });
      seen = h.cycle;
      take_part = i < h.active;
      leave = h.leave;
    }
    if (take_part) {
      const std::uint64_t t0 = os::monotonic_ns();
      h.workers[i].drain(leave, i);
      h.drain_ns.fetch_add(os::monotonic_ns() - t0, std::memory_order_relaxed);
    }
    std::lock_guard g(h.mu);
    if (++h.finished == h.count) h.done.notify_one();
  }
}

}  // namespace

void ensure_helpers() {
  if (helpers_ptr.load(std::memory_order_acquire) != nullptr) return;
  auto* h = new helpers_state();
  const unsigned hw = static_cast<unsigned>(os::usable_cpus());
  h->count = static_cast<int>(std::clamp<unsigned>(hw, 1, max_helpers + 1) - 1);
  helpers_ptr.store(h, std::memory_order_release);
  for (int i = 0; i < h->count; ++i) std::thread(helper_main, i).detach();
}

std::uint64_t helper_departures() { return departures.load(std::memory_order_relaxed); }

int helper_count() {
  const helpers_state* h = helpers_ptr.load(std::memory_order_acquire);
  return h ? h->count : 0;
}

void begin_cycle() {
  totals.scan_work.store(0, std::memory_order_relaxed);
  totals.marked.store(0, std::memory_order_relaxed);
  root_w.reset();
  if (helpers_state* h = helpers_ptr.load(std::memory_order_acquire))
    for (int i = 0; i < h->count; ++i) h->workers[i].reset();
}


void scan_roots(std::uintptr_t lo, std::uintptr_t hi, const char* what, bool stack) {
  root_w.set_source(what, lo, hi, stack);
  root_w.scan_range(lo, hi);
}

void publish_root_work() {
  root_w.publish();
  root_w.flush_scanned();
}

void mark_root(const void* p, const char* what) {
  const auto v = reinterpret_cast<std::uintptr_t>(p);
  root_w.set_source(what, v, v + 1);
  root_w.mark_word(v);
}

std::size_t scan_dirty_cards(std::uint8_t* table) {
  return cards::take_dirty(table, heap_lo.load(std::memory_order_relaxed), heap_hi.load(std::memory_order_relaxed),
                           [](std::uintptr_t card) { root_w.push_old_in_card(card); });
}

void set_checkmark_mode(bool on, bool after_concurrent_mark) { root_w.set_checking(on, after_concurrent_mark); }

void shade(const void* p) {
  const auto v = reinterpret_cast<std::uintptr_t>(p);
  shade_batch(&v, 1);
}

void shade_batch(const std::uintptr_t* values, std::size_t n) {
  constexpr std::size_t chunk = 128, ahead_map = 8, ahead_span = 4;
  const std::uintptr_t lo = heap_lo.load(std::memory_order_relaxed);
  const std::uintptr_t hi = heap_hi.load(std::memory_order_relaxed);
  work_item grey[chunk];
  for (std::size_t start = 0; start < n; start += chunk) {
    const std::size_t end = std::min(n, start + chunk);
    std::size_t ngrey = 0;
    std::uint64_t marked = 0;
    for (std::size_t i = start; i < end; ++i) {
      // The pipeline: the page-map entry 8 values ahead, the span's header
      // and bitmap lines 4 ahead (its entry is in cache by then).
      if (i + ahead_map < end) {
        const std::uintptr_t v = values[i + ahead_map];
        if (v >= lo && v < hi)
          if (arena_meta* a = arena_of(v)) __builtin_prefetch(&a->spans[page_in_arena(v)]);
      }
      if (i + ahead_span < end) {
        const std::uintptr_t v = values[i + ahead_span];
        if (v >= lo && v < hi)
          if (const span* sp = span_of(v)) prefetch_span_lines(sp);
      }
      const std::uintptr_t v = values[i];
      if (v < lo || v >= hi) continue;
      const object_ref ref = find_object(v);
      if (!ref) continue;
      span* s = ref.s;
      const auto base = reinterpret_cast<std::uintptr_t>(ref.base);
      if (!s->try_mark(s->object_index(base))) continue;
      marked += s->elem_size;
      if (!s->noscan) grey[ngrey++] = {base, reinterpret_cast<std::uintptr_t>(s) | 1};
    }
    if (marked != 0) totals.marked.fetch_add(marked, std::memory_order_relaxed);
    if (ngrey != 0) push_grey(grey, ngrey);
  }
}

std::size_t grey_pending() {
  shared_state& s = st();
  lock_guard g(s.mu);
  std::size_t n = s.grey != nullptr ? s.grey->n : 0;
  for (const work_buf* b = s.full; b != nullptr; b = b->next) n += b->n;
  return n;
}

std::uint64_t drain(int max_helpers, bool (*leave)(int), bool stopped) {
  shared_state& s = st();
  int nhelpers = root_w.checking() ? 0 : helper_count();
  if (max_helpers >= 0 && max_helpers < nhelpers) nhelpers = max_helpers;
  s.workers.store(nhelpers + 1, std::memory_order_relaxed);
  s.idle.store(0, std::memory_order_relaxed);
  helpers_state* helpers = helpers_ptr.load(std::memory_order_acquire);
  if (nhelpers > 0) {
    std::lock_guard g(helpers->mu);
    // The first helper is owner 1's marker while no mark assist can run
    // (the world is stopped) and column 1 is not allocate-black's record
    // (span.hpp, Bitmaps). Set before the wake-up, which orders it.
    const bool own1 = stopped && !allocate_black_record.load(std::memory_order_relaxed);
    GORT_DCHECK(!own1 || !assists_running(), "a helper owns column 1 while a mark assist runs (its owner too)");
    helpers->workers[0].set_owner(own1 ? 1 : -1);
    helpers->finished = 0;
    helpers->active = nhelpers;
    helpers->leave = leave;
    helpers->drain_ns.store(0, std::memory_order_relaxed);
    ++helpers->cycle;
    helpers->wake.notify_all();
  }
  root_w.drain();
  if (nhelpers == 0) return 0;
  std::unique_lock g(helpers->mu);
  helpers->done.wait(g, [&] { return helpers->finished == helpers->count; });
  return helpers->drain_ns.load(std::memory_order_relaxed);
}


std::uint64_t scan_work_done() { return totals.scan_work.load(std::memory_order_relaxed); }

std::uint64_t marked_bytes() {
  root_w.flush_scanned();
  return totals.marked.load(std::memory_order_relaxed);
}

namespace {
// Workers for mark assists: claimed by CAS, so that any number of threads
// may assist at once without a lock; a thread that finds all busy skips.
constexpr int assist_slots = 16;
// How long an assist with no work waits for a busy worker to share some.
constexpr std::uint64_t max_wait_for_work_ns = 10'000;
// The first slot's worker is owner 1's marker (span.hpp): in a program with
// one allocating thread, every assist marks with plain stores (binary-trees:
// a third of each mark's scanning is its assists').
worker assist_workers[assist_slots] = {worker{1}};
std::atomic<bool> assist_busy[assist_slots];
// +1 when an assist claims a slot and +1 when it gives it back: a reader
// that sees the same value before and after a check knows that no assist
// began or ended in between (mark_quiescent). Atomic.
std::atomic<std::uint64_t> assist_epoch{0};
}  // namespace

bool mark_quiescent() {
  // An assist that gives work back publishes it before its second epoch
  // step; one that takes work claims its slot (and steps the epoch) before
  // popping. So: no assist busy, then nothing pending, with the epoch
  // unchanged across both, means no grey object was anywhere at the second
  // check.
  const std::uint64_t e0 = assist_epoch.load(std::memory_order_seq_cst);
  if (assists_running()) return false;
  if (grey_pending() != 0) return false;
  return assist_epoch.load(std::memory_order_seq_cst) == e0;
}

bool assists_running() {
  for (const auto& b : assist_busy)
    if (b.load(std::memory_order_acquire)) return true;
  return false;
}

bool assist(std::uint64_t work_bytes, std::uint64_t max_ns, std::uint64_t* done_bytes) {
  shared_state& s = st();
  const std::uint64_t deadline = os::monotonic_ns() + max_ns;
  if (done_bytes != nullptr) *done_bytes = 0;
  for (int i = 0; i < assist_slots; ++i) {
    bool expected = false;
    if (!assist_busy[i].compare_exchange_strong(expected, true, std::memory_order_seq_cst)) continue;
    assist_epoch.fetch_add(1, std::memory_order_seq_cst);
    worker& w = assist_workers[i];
    const std::uint64_t scanned_before = w.scanned_total();
    bool none_left = false;
    for (;;) {
      const std::uint64_t before = w.scanned_total();
      if (!w.drain_until(deadline, work_bytes)) break;  // the time or the work is used up
      const std::uint64_t done = w.scanned_total() - before;
      work_bytes = done >= work_bytes ? 0 : work_bytes - done;
      // No work on the shared lists: ask the busy workers for some (the
      // next one to balance gives half of its buffer) and wait a moment for
      // it. Not longer: a busy worker balances every 8 objects, so work
      // it can give shows up within a microsecond or two; if none does, the
      // workers hold too little to share (or none is running), and spinning
      // on would only take the program's time (perf, binary-trees: 15% of
      // all CPU spun here when the wait ran to the assist's deadline).
      s.wanted.store(true, std::memory_order_relaxed);
      const std::uint64_t wait_until = std::min(deadline, os::monotonic_ns() + max_wait_for_work_ns);
      while (s.full_count.load(std::memory_order_acquire) == 0 && os::monotonic_ns() < wait_until &&
             s.idle.load(std::memory_order_relaxed) < s.workers.load(std::memory_order_relaxed) &&
             !stack::stop_pending())
        cpu_relax();
      if (s.full_count.load(std::memory_order_acquire) == 0) {
        none_left = true;  // nothing was shared: the workers hold too little, or none is busy
        break;
      }
    }
    w.publish();
    if (done_bytes != nullptr) *done_bytes = w.scanned_total() - scanned_before;
    assist_epoch.fetch_add(1, std::memory_order_seq_cst);
    assist_busy[i].store(false, std::memory_order_seq_cst);
    return none_left;
  }
  return false;
}

void atfork_prepare() { st().mu.lock_for_fork(); }
void atfork_parent() { st().mu.unlock_for_fork(); }

void atfork_child() {
  // The helper threads do not exist in the child: start afresh on demand.
  helpers_ptr.store(nullptr, std::memory_order_relaxed);
  st().mu.unlock_for_fork();
}

}  // namespace gc::internal::mark

namespace gc::internal {

void tracer_visit(void* impl, const void* p, const void* slot) {
  auto* w = static_cast<mark::worker*>(impl);
  if (GORT_UNLIKELY(w->checking()))
    w->visit(reinterpret_cast<std::uintptr_t>(p), slot);
  else
    w->mark_word(reinterpret_cast<std::uintptr_t>(p));
}

}  // namespace gc::internal
