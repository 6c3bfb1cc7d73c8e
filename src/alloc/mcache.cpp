// src/alloc/mcache.cpp: the mcache's out-of-line half: refill, creation at a
// thread's first allocation, flushing, and the flush at thread exit. The
// inline fast path and the invariants are in <gort/internal/mcache.hpp>.
//
// Refill (refill_alloc), re-entering the fast path's logic:
// 1. The thread's first allocation finds the shared empty mcache: create the
//    thread's own (reused from a pool of exited threads' caches when there is
//    one), register it, and arrange its flush at thread exit.
// 2. Retire the exhausted window: the objects it handed out become set alloc
//    bits; the span's alloc_count grows by as many. (First, a span not swept
//    since the last mark termination is swept, around this window's word:
//    src/gc/sweep.hpp.)
// 3. Load the next bitmap word of the same span that has a free object.
// 4. If the span has none left, give it back to mcentral (uncache_span) and
//    take another (cache_span), loading its first word with a free object.
// 5. Pop one object from the new window, zero it, return it.
// If mcentral cannot get memory, throw std::bad_alloc: the slot is then empty
// (no span), which is a valid state, so the heap stays usable.
//
// Thread exit: a pthread key destructor flushes every slot (steps 2 and 4
// without taking a new span), adds the cache's counters to the global ones,
// unregisters the cache and pools it. mcache memory is never unmapped, so a
// stale owner pointer read by find_object stays safe to dereference.
#include <new>
#include <pthread.h>

#include "alloc/alloc.hpp"
#include "common/bits.hpp"
#include "common/check.hpp"
#include "os/os.hpp"

namespace gc::internal {

constinit alloc_counters counters;
constinit alloc_hooks hooks;
std::atomic<bool> allocate_black{false};
std::atomic<bool> allocate_black_record{false};

namespace {

constinit mcache empty_mcache;  // never written: every window empty, no tiny block

constinit rank_mutex registry_lock{lock_rank::registry};
mcache* live_head = nullptr;   // guarded by registry_lock
mcache* pool_head = nullptr;   // guarded by registry_lock; exited threads' caches
pthread_key_t exit_key;
pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

// Allocate-black (alloc.hpp): marks or unmarks the given slots of word w,
// in the mark bits and, while it is kept, in allocate-black's own record
// (span::black_word).
void mark_slots(span* s, std::size_t w, std::uint64_t bits) {
  if (bits == 0) return;
  if (allocate_black_record.load(std::memory_order_relaxed))
    std::atomic_ref<std::uint64_t>(s->black_word(w)).fetch_or(bits, std::memory_order_relaxed);
  std::atomic_ref<std::uint64_t>(s->mark_word(w)).fetch_or(bits, std::memory_order_relaxed);
}
void unmark_slots(span* s, std::size_t w, std::uint64_t bits) {
  if (bits == 0) return;
  std::atomic_ref<std::uint64_t>(s->mark_word(w)).fetch_and(~bits, std::memory_order_relaxed);
  if (allocate_black_record.load(std::memory_order_relaxed))
    std::atomic_ref<std::uint64_t>(s->black_word(w)).fetch_and(~bits, std::memory_order_relaxed);
}

void load_window(mcache& c, alloc_slot& slot, span* s, std::size_t w) {
  std::uint64_t free = ~s->load_alloc_word(w) & s->valid_mask(w);
  // Allocate-black (alloc.hpp step 2). The caller holds a no_stop_scope over
  // the whole window change, so no stop falls between the flag and the bits.
  GORT_DCHECK(runtime_locks_held() > 0, "load_window outside a no_stop_scope (span {:#x})", s->base);
  if (allocate_black.load(std::memory_order_relaxed)) mark_slots(s, w, free);
  s->window.store(static_cast<std::uint32_t>(w), std::memory_order_relaxed);
  slot.window_base.store(s->base + w * 64 * s->elem_size, std::memory_order_relaxed);
  slot.window_meta = s->meta != nullptr ? s->meta + w * 64 : nullptr;
  slot.free_bits.store(free, std::memory_order_relaxed);
  auto& count = c.small_mallocs[s->size_class];
  const unsigned n = popcount64(free);
  count.store(count.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  counters.heap_live.fetch_add(std::uint64_t{n} * s->elem_size, std::memory_order_relaxed);
}

void retire_window(mcache& c, alloc_slot& slot) {
  span* s = slot.s;
  std::size_t w = s->window.load(std::memory_order_relaxed);
  std::uint64_t remaining = slot.free_bits.load(std::memory_order_relaxed);
  std::uint64_t word = s->load_alloc_word(w);
  std::uint64_t handed_out = ~word & s->valid_mask(w) & ~remaining;
  GORT_DCHECK(runtime_locks_held() > 0, "retire_window outside a no_stop_scope (span {:#x})", s->base);
  if (allocate_black.load(std::memory_order_relaxed)) unmark_slots(s, w, remaining);  // step 2
  s->store_alloc_word(w, word | handed_out);
  s->alloc_count += popcount64(handed_out);
  slot.free_bits.store(0, std::memory_order_relaxed);
  auto& count = c.small_mallocs[s->size_class];
  const unsigned n = popcount64(remaining);
  count.store(count.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  if (n != 0) counters.heap_live.fetch_sub(std::uint64_t{n} * s->elem_size, std::memory_order_relaxed);
}

// An owned span not swept since the last mark termination is swept by its
// owner before its window changes (alloc_hooks::sweep_owned_span).
void sweep_if_unswept(span* s) {
  if (s->sweepgen.load(std::memory_order_relaxed) != heap_sweepgen.load(std::memory_order_relaxed) &&
      hooks.sweep_owned_span != nullptr)
    hooks.sweep_owned_span(s);
}

// Steps 2-4: leaves a non-empty window in slot, or returns false (no memory).
bool next_window(mcache& c, alloc_slot& slot, int span_class) {
  if (span* s = slot.s) {
    sweep_if_unswept(s);
    retire_window(c, slot);
    for (std::size_t w = s->window.load(std::memory_order_relaxed) + 1; w < s->bitmap_nwords(); ++w) {
      if (~s->load_alloc_word(w) & s->valid_mask(w)) {
        load_window(c, slot, s, w);
        return true;
      }
    }
    slot.s = nullptr;
    central(span_class).uncache_span(s);
  }
  span* s = central(span_class).cache_span(&slot);
  if (s == nullptr) return false;
  slot.s = s;
  for (std::size_t w = 0; w < s->bitmap_nwords(); ++w) {
    if (~s->load_alloc_word(w) & s->valid_mask(w)) {
      load_window(c, slot, s, w);
      return true;
    }
  }
  GORT_FATAL("mcentral gave span [{:#x}, {:#x}) of span class {} with no free object (alloc_count {} of {})", s->base,
             s->end(), span_class, s->alloc_count, s->nelems);
}

void flush_slots(mcache& c) {
  // One unit for the stop protocol: a stop that arrives meanwhile parks the
  // thread at the end (whose park callback flushes again, finding nothing).
  no_stop_scope no_stop;
  for (int spc = 0; spc < num_span_classes; ++spc) {
    alloc_slot& slot = c.slots[spc];
    if (span* s = slot.s) {
      sweep_if_unswept(s);
      retire_window(c, slot);
      slot.s = nullptr;
      slot.window_base.store(0, std::memory_order_relaxed);
      central(spc).uncache_span(s);
    }
  }
  if (c.tiny != 0) {  // a flush that finds nothing writes nothing
    c.tiny = 0;
    c.tiny_offset = tiny_block_bytes;
  }
}

void thread_exit(void* arg) {
  auto* c = static_cast<mcache*>(arg);
  flush_slots(*c);
  if (hooks.thread_exiting) hooks.thread_exiting();
  {
    lock_guard g(registry_lock);
    for (int i = 0; i < num_size_classes; ++i) {
      counters.small_mallocs[i].fetch_add(c->small_mallocs[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
      c->small_mallocs[i].store(0, std::memory_order_relaxed);
    }
    counters.tiny_allocs.fetch_add(c->tiny_allocs.load(std::memory_order_relaxed), std::memory_order_relaxed);
    c->tiny_allocs.store(0, std::memory_order_relaxed);
    if (c->registry_prev) c->registry_prev->registry_next = c->registry_next;
    else live_head = c->registry_next;
    if (c->registry_next) c->registry_next->registry_prev = c->registry_prev;
    c->live = false;
    c->registry_prev = nullptr;
    c->registry_next = pool_head;
    pool_head = c;
    counters.mcaches_live.fetch_sub(1, std::memory_order_relaxed);
  }
  tls_mcache = &empty_mcache;
}

void create_exit_key() {
  pthread_once(&exit_key_once, [] {
    GORT_CHECK(pthread_key_create(&exit_key, thread_exit) == 0, "pthread_key_create failed");
  });
}

mcache* create_mcache() {
  create_exit_key();
  mcache* c = nullptr;
  {
    lock_guard g(registry_lock);
    if (pool_head != nullptr) {
      c = pool_head;
      pool_head = c->registry_next;
    } else {
      void* mem = os::map_metadata(sizeof(mcache));
      if (mem == nullptr) return nullptr;
      counters.mcache_sys.fetch_add(sizeof(mcache), std::memory_order_relaxed);
      c = new (mem) mcache();
    }
    c->registry_prev = nullptr;
    c->registry_next = live_head;
    if (live_head) live_head->registry_prev = c;
    live_head = c;
    c->live = true;
    counters.mcaches_live.fetch_add(1, std::memory_order_relaxed);
  }
  pthread_setspecific(exit_key, c);
  tls_mcache = c;
  if (hooks.thread_started) hooks.thread_started();
  return c;
}

mcache* own_mcache() {
  mcache* c = tls_mcache;
  if (GORT_UNLIKELY(c == &empty_mcache)) {
    c = create_mcache();
    if (c == nullptr) throw_bad_alloc();
  }
  return c;
}

}  // namespace

constinit thread_local mcache* tls_mcache = &empty_mcache;

namespace {
// Steps 1 and 3 of allocate-black: f(span, word, free slots) for every
// mcache's current window. World stopped.
template <class F>
void for_each_window(F&& f) {
  for_each_mcache([&](mcache& c) {
    for (alloc_slot& slot : c.slots) {
      span* s = slot.s;
      if (s == nullptr) continue;
      f(s, s->window.load(std::memory_order_relaxed), slot.free_bits.load(std::memory_order_relaxed));
    }
  });
}
}  // namespace

void begin_allocate_black(bool record) {
  allocate_black_record.store(record, std::memory_order_relaxed);
  allocate_black.store(true, std::memory_order_relaxed);
  for_each_window([](span* s, std::size_t w, std::uint64_t free) { mark_slots(s, w, free); });
}

void end_allocate_black() {
  allocate_black.store(false, std::memory_order_relaxed);
  for_each_window([](span* s, std::size_t w, std::uint64_t free) { unmark_slots(s, w, free); });
}

bool may_be_initialising(const span* s, std::uintptr_t base) {
  if (s->size_class == 0) {
    bool zeroing = false;
    for_each_mcache([&](mcache& c) { zeroing |= c.large_zeroing == base; });
    return zeroing;
  }
  const alloc_slot* o = s->owner.load(std::memory_order_acquire);
  const std::uintptr_t idx = s->object_index(base);
  const std::size_t w = s->window.load(std::memory_order_relaxed);
  if (o == nullptr || idx / 64 != w) return false;
  const std::uint64_t free = o->free_bits.load(std::memory_order_relaxed);
  const std::uint64_t bit = std::uint64_t{1} << (idx % 64);
  if (free & bit) return true;
  // Objects leave a window lowest first: the last one popped is the highest
  // handed out.
  const std::uint64_t handed_out = ~s->load_alloc_word(w) & s->valid_mask(w) & ~free;
  return handed_out != 0 && bit == std::uint64_t{1} << (63 - std::countl_zero(handed_out));
}

rank_mutex& mcache_registry_lock() { return registry_lock; }
mcache* mcache_registry_head() { return live_head; }

void* refill_alloc(int span_class) {
  if (hooks.slow_path) hooks.slow_path();
  mcache& c = *own_mcache();
  alloc_slot& slot = c.slots[span_class];
  for (;;) {
    {
      // The window change is one unit for the stop protocol (allocate-black
      // reads its flag inside it); a stop arriving meanwhile is deferred to
      // the end of the scope, where the thread parks and its park callback
      // flushes this cache. So check the window again after it. A cold
      // span's populate comes after the scope (page_heap.hpp step 2(c)).
      populate_later_scope populate_later;
      no_stop_scope no_stop;
      if (slot.free_bits.load(std::memory_order_relaxed) == 0 && !next_window(c, slot, span_class)) throw_bad_alloc();
    }
    if (const std::uint64_t bits = slot.free_bits.load(std::memory_order_relaxed))
      return pop_window(slot, bits, class_to_size[span_class_size(span_class)]);
  }
}

void* tiny_alloc_slow(std::size_t size, std::size_t align) {
  // No hook here: a new block comes through alloc_small, whose refill runs it.
  mcache& c = *own_mcache();
  std::uintptr_t off = (c.tiny_offset + (align - 1)) & ~(std::uintptr_t{align} - 1);
  if (off + size <= tiny_block_bytes) {  // the dynamic path (alloc_dynamic) may land here with room left
    c.tiny_offset = off + size;
    c.tiny_allocs.store(c.tiny_allocs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return reinterpret_cast<void*>(c.tiny + off);
  }
  constexpr int tiny_span_class = make_span_class(size_to_class(tiny_block_bytes), true);
  void* block = alloc_small<tiny_span_class>();
  // Keep whichever block has more room left, as Go does.
  if (size < c.tiny_offset) {
    // Allocate-black for the tiny block (alloc.hpp step 4): a stop may have
    // fallen between the pop above and here. Then the block is white (it
    // left its window before the mark start marked the free slots) and the
    // mark start marked the old block, not this one; the objects cut from it
    // later are handed out black, so the block must be black too. It is
    // noscan: its mark bit is all it needs. The pop came from this class's
    // current window, which nothing has changed since.
    no_stop_scope no_stop;
    c.tiny = reinterpret_cast<std::uintptr_t>(block);
    c.tiny_offset = size;
    if (allocate_black.load(std::memory_order_relaxed)) {
      const alloc_slot& slot = c.slots[tiny_span_class];
      const std::uintptr_t base = slot.window_base.load(std::memory_order_relaxed);
      const std::uintptr_t idx = (c.tiny - base) / tiny_block_bytes;
      GORT_DCHECK(c.tiny >= base && idx < 64, "tiny block {:#x} is not in its class's window at {:#x} (span {:#x})",
                  c.tiny, base, slot.s->base);
      mark_slots(slot.s, slot.s->window.load(std::memory_order_relaxed), std::uint64_t{1} << idx);
    }
  }
  return block;
}

void alloc_init() { create_exit_key(); }

void ensure_thread_cache() { own_mcache(); }

void flush_own_mcache() {
  mcache* c = tls_mcache;
  if (c != &empty_mcache) flush_slots(*c);
}

bool mcache_is_empty_sentinel(const mcache* c) { return c == &empty_mcache; }

void alloc_atfork_prepare() {
  registry_lock.lock_for_fork();
  large_central().lock_for_fork();
  for (int spc = 4; spc < num_span_classes; ++spc) central(spc).lock_for_fork();
  page_heap::instance().lock_for_fork();
}

void alloc_atfork_parent() {
  page_heap::instance().unlock_for_fork();
  for (int spc = num_span_classes - 1; spc >= 4; --spc) central(spc).unlock_for_fork();
  large_central().unlock_for_fork();
  registry_lock.unlock_for_fork();
}

void alloc_atfork_child() {
  alloc_atfork_parent();
  page_heap::instance().atfork_child();
  // Only the forking thread exists now. Flush and retire every other cache.
  mcache* others = nullptr;
  {
    lock_guard g(registry_lock);
    for (mcache* c = live_head; c != nullptr;) {
      mcache* next = c->registry_next;
      if (c != tls_mcache) {
        if (c->registry_prev) c->registry_prev->registry_next = c->registry_next;
        else live_head = c->registry_next;
        if (c->registry_next) c->registry_next->registry_prev = c->registry_prev;
        c->registry_next = others;
        others = c;
      }
      c = next;
    }
  }
  while (others != nullptr) {
    mcache* c = others;
    others = c->registry_next;
    flush_slots(*c);
    lock_guard g(registry_lock);
    for (int i = 0; i < num_size_classes; ++i) {
      counters.small_mallocs[i].fetch_add(c->small_mallocs[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
      c->small_mallocs[i].store(0, std::memory_order_relaxed);
    }
    counters.tiny_allocs.fetch_add(c->tiny_allocs.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
    c->live = false;
    c->registry_prev = nullptr;
    c->registry_next = pool_head;
    pool_head = c;
    counters.mcaches_live.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace gc::internal
