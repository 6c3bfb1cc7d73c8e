// src/gc/barrier.cpp: the write barrier (the hybrid barrier of Go's proposal
// 17503, Yuasa deletion plus Dijkstra insertion), its slow path, and the
// bulk barrier. The inline half is <gort/internal/barrier.hpp>.
//
// The barrier. While the collector marks concurrently (write_barrier_on),
// every store of a gc pointer into a member of a gc object or a root slot is
//     old = *slot;  *slot = new;  shade(old);  shade(new);
// where shade marks a white object grey (mark::shade). A registered thread
// does not shade at once: it appends the values to its own buffer (Go's
// wbBuf, mwbbuf.go) and shades the whole buffer when it is full
// (mark::shade_batch), and mark termination shades what the buffers still
// hold, with the world stopped, before its last drain (step 6 below).
// Shading one value at a time is a chain of three dependent cache misses
// (page map, span, bitmap) for an old value far away in the heap; a batch
// prefetches them a few values ahead, so the misses overlap (the latency
// benchmark's batches inside a mark: benchmarks.md). Allocation during
// marking is black (allocate-black, collector.cpp), and each thread's stack
// is scanned once per cycle, at a handshake, while it runs no barrier code.
//
// Correctness argument (the strong tri-colour invariant would need every
// stack rescanned; this barrier keeps the weak one, as Go's does):
// 1. Weak invariant: every white object that a black object points to is
//    reachable from some grey object through white objects only (it is
//    "grey-protected"). At mark termination there is no grey object, so
//    then no black object points to a white one, and every white object is
//    unreachable from the (black) roots: sweeping it is safe.
// 2. A store can break the invariant in two ways. (a) Deletion: it removes
//    the last grey-protected path to a white object W that a black object
//    or a scanned stack still references: shading the old value makes W
//    grey. (b) Insertion: it stores a pointer to white W into a black
//    object, where W is held only by a stack not yet scanned (a grey
//    stack), which may drop it before its scan: shading the new value makes
//    W grey. As in the proposal, the new value is shaded only while the
//    storing thread's stack is grey: once a handshake has scanned it
//    (stack::self_stack_scanned, an epoch the collector starts in the
//    mark-start stop), the thread can only hold pointers it loaded from
//    the heap or a root since, or allocated (black); a white W it stores is
//    then still reachable from where it was loaded, and deleting that
//    reference shades W by (a). ("Allocated" includes an object the thread
//    popped from its window just before the mark-start stop: not black,
//    but held in its registers or frame from the pop on, so its handshake
//    greys it. This rests on the fast path's "stop safety" order in
//    <gort/internal/mcache.hpp>; before that order, gccheckmark found
//    objects this skip lost, 9 in 3000 runs of the ASan thread-churn test.
//    The aborts of the stress test seen after that order, 3 in 380 runs,
//    were the checkmark's own false report of an object still being zeroed
//    (checkmark.hpp, second limit): 0 in 400 once it stopped following it.)
//    A thread registered after its handshake counts as grey for the whole
//    cycle. (Go's runtime shades both values always; here the check costs
//    two loads, and skips a find_object per store: binary-trees shades each
//    new node's two children. Measured: binary-trees 4-5% faster.)
// 3. Stops. Threads are stopped by signals at any instruction, so a
//    barrier sequence can be cut anywhere. The store comes before the flag
//    is read, and with minor collections on, the marking flag is read
//    again after the card is stored:
//    - A mark start that falls after the slot's store and before its card
//      (minor collections): the slot's new edge is in the heap the mark
//      starts from, but its card may land in the new write table, which
//      this mark's card pass does not read (src/gc/cards.hpp). Then the
//      marking flag, read again after the card, is read after the stop
//      and is on, so the barrier shades the stored value (the thread's
//      stack is grey until its handshake, step 2(b)): it is marked, and
//      the edge ends old to old. A stop-the-world cycle marks whole inside
//      the stop, where the value is still in the thread's registers or
//      frame (the barrier's call may still need it), so it is marked too.
//      (With the flags read once, between the store and the card, a thread
//      stopped after that read went on with marking off: nothing shaded
//      the value, and the thread's handshake, after the restart, could
//      find it gone from the thread. The card before the store, as a
//      version of 2026-12-07 had it, also works, but costs a second load
//      on every store; this order keeps one when the mode is off.)
//      The generational layout (<gort/internal/barrier.hpp>,
//      GORT_GENERATIONAL_BARRIER) keeps the same order with one flag read,
//      after the card, and skips the card's store when it reads the card
//      dirty. A store whose card load straddles a mark start is covered as
//      above whichever way the card reads; and a card read dirty in the
//      write table stays dirty until a later mark start hands that table
//      to the collector, which reads it before it clears it. The
//      order is the instructions': relaxed atomics on different addresses
//      would let a compiler reorder them or merge the two flag loads, so
//      the inline barrier puts compiler-only fences (atomic_signal_fence,
//      no instruction) after the store and after the card. Measured:
//      binary-trees depth 20 on one core, 5-6 alternated pairs, user s,
//      median 5.53 against 5.57 (gcstoptheworld=1) and 3.40 against 3.50
//      (gcgen=1,gcstoptheworld=1), with against without: no cost.
//    - Marking starts (flag set with the world stopped). A thread stopped
//      before its store reads the flag after the restart and runs the
//      barrier. A thread stopped after its store made the store before
//      marking began: it is part of the heap that marking starts from.
//    - Marking ends (flag cleared at mark termination). A thread can only be
//      inside a barrier sequence if the stop signal interrupted it: a thread
//      parked at a safe point (allocation slow path, gc::safepoint, the end
//      of this slow path once its values are buffered) or in a blocking
//      region is between calls, or past the barrier's work. So mark
//      termination rescans the
//      stacks and registers of threads stopped by the signal, where `old`
//      and `new` of an unfinished sequence are still held (they are the
//      arguments of the slow path about to be called). No other stack is
//      rescanned.
//    - The slow path re-reads the flag inside a no_stop_scope, so a shade
//      happens only while marking is on: a stale shade after mark
//      termination would set a mark bit in the next cycle's (cleared)
//      bitmap and make an unscanned object black.
// 4. Roots. gc::root slots are scanned concurrently, so their stores run the
//    barrier too (creation shades the new value, destruction the old one).
//    add_roots ranges are foreign memory with no barrier: mark termination
//    rescans them, with the world stopped.
// 5. Raw T* fields in gc objects have no barrier: a program that stores
//    them must run with GODEBUG=gcstoptheworld=1, and
//    GODEBUG=gccheckmark=1 finds the places that break the rule.
// 6. Buffering. A value in a thread's buffer is a shade that has not
//    happened yet: the object it names is grey in the sense of step 1
//    (marking is not done while it is there). Appends happen in the same
//    no_stop_scope as the flag check (step 3), so a stop never finds half
//    an append; mark termination shades every buffer's values (as roots of
//    the collector's worker) before it drains and before the flag goes off,
//    so when marking ends no buffer holds a value and the argument of
//    steps 1-3 holds as if every shade had been immediate. A thread that
//    unregisters or exits first shades its own buffer (the flag checked in
//    the same scope). A thread not registered with the collector cannot be
//    stopped, so it shades at once, as before buffering.
// 7. The ragged flush (Go's gcMarkDone, forEachP(wbBufFlush1)). Step 6
//    alone leaves mark termination to shade up to a buffer per thread inside
//    its stop, and to mark what those values reach: 40-60 us for one
//    buffer of values far apart in the heap, 165 us for a 12,000-node
//    subtree that binary-trees had linked under a black node (2-vCPU VM).
//    So once the concurrent mark has run out of work, the collector asks
//    every thread to shade its own buffer (request_flush raises
//    flush_epoch); each registered thread does so at its next barrier or
//    allocation slow path (flush_if_requested), and records the epoch in
//    its buffer. The collector drains what they shade, and stops the world
//    once every attached buffer is empty or has flushed at this epoch
//    (all_flushed), or after a bound, since a thread that makes no slow-path
//    call meanwhile (a loop that only reads, a blocking region) never
//    flushes. Correctness never rests on it: step 6 still shades whatever
//    the stop finds. It only moves work out of the stop.
// 8. Initialising stores (barriered_init: a member's constructor, a root's
//    creation) have no old value, so by step 2(b) they shade nothing once
//    the storing thread's stack is scanned. They read their own word,
//    init_barrier_state, whose bit 0 is set only while some registered
//    thread's stack may be grey, so that in most of a mark they make no
//    call at all (binary-trees: every gc_new of a node stores two
//    children; the calls that found nothing to do took 3-4% of its time).
//    Bit 1 is the card bit (barrier_cards: minor collections are on,
//    src/gc/cards.hpp), which never changes once set (the generational
//    layout tests the card table's pointer instead); the bits above it
//    count registrations.
//    - The mark-start stop sets bit 0 with write_barrier_on; mark
//      termination clears both.
//    - The marking thread reads the word before its handshakes
//      (init_barrier_snapshot) and, once they have visited every stack,
//      clears bit 0 with a compare-exchange from that value
//      (stacks_scanned). It fails, and bit 0 stays set for the rest of the
//      mark, if a thread has registered meanwhile (that thread counts as
//      grey, step 2).
//    - A thread that registers (thread_registered) adds to the count and,
//      while marking, sets bit 0, in one compare-exchange, after its
//      registration and before it runs the program's code.
//    So bit 0 is never clear while a registered thread's stack may be
//    grey: a thread registered before the snapshot was in the registry
//    when the handshakes ran, and one registered after it either makes the
//    clear fail or sets the bit itself, before its first store. A thread
//    that reads a stale set bit takes the slow path, which checks its own
//    stack (step 2(b)) as before.
//    - A barriered store that finds a null old value is an initialising
//      store too (the program sets a member after gc_new, as the latency
//      benchmark's lists do): barriered_store reads init_barrier_state
//      then, after its store and its flags as step 3 orders them, and
//      makes no call when bit 0 is clear. Measured on the latency
//      benchmark (perf, the program's thread inside marks): the slow
//      path's share fell from 3.4% to 0.7% of its samples; three of its
//      four barriered stores per replacement have a null old value.
//
// Buffer states (the list and free list guarded by lists.lock, a rank_mutex;
// a buffer's values and count written only by its thread inside a
// no_stop_scope, and by the collector only while the world is stopped):
//   free     -> attached   a registered thread's first barrier of a mark
//   attached -> free       the thread unregisters or exits (values shaded)
// Invariant: outside a concurrent mark every attached buffer is empty.
//
// References: Go's src/runtime/mbarrier.go (the argument above follows its
// shape), the hybrid barrier proposal (golang/go#17503), mwbbuf.go.
#include "gc/barrier.hpp"
#include "gc/cards.hpp"

#include <gort/internal/barrier.hpp>

#include <atomic>
#include <cstdint>
#include <new>

#include "common/check.hpp"
#include "common/lock.hpp"
#include "gc/mark.hpp"
#include "os/os.hpp"
#include "stack/stack.hpp"

namespace gc::internal {

std::atomic<bool> write_barrier_on{false};
std::atomic<std::uint8_t> barrier_flags{0};
std::atomic<std::uint64_t> init_barrier_state{0};

namespace {

// A thread's buffer of values to shade (step 6). 126 values: shade_batch's
// pipeline runs over a whole buffer at once, and mark termination shades
// at most this many per thread inside its stop.
struct wb_buffer {
  static constexpr unsigned capacity = 126;
  std::uintptr_t values[capacity];
  // Values in use. Written by the owner inside a no_stop_scope and by the
  // collector while the world is stopped; atomic so that neither is a data
  // race to ThreadSanitizer, which does not see the stop as ordering.
  std::atomic<unsigned> n{0};
  // The flush_epoch at which the owner last shaded its values on request
  // (step 7). Written by the owner, read by the collector: atomic.
  std::atomic<std::uint32_t> flushed{0};
  wb_buffer* next = nullptr;  // guarded by lists.lock (attached list, or free list)
  wb_buffer* prev = nullptr;  // guarded by lists.lock (attached list only)
};

// Constant-initialised, never destroyed (threads may exit after main).
struct wb_lists {
  rank_mutex lock{lock_rank::wb_buffers};
  wb_buffer* attached = nullptr;  // guarded by lock; read unlocked while the world is stopped
  wb_buffer* free = nullptr;      // guarded by lock
};
constinit wb_lists lists;
constinit thread_local wb_buffer* tls_wb = nullptr;
// Step 7: raised by the collector (request_flush) to ask every thread to
// shade its buffer. Atomic.
constinit std::atomic<std::uint32_t> flush_epoch{0};

// A free buffer, linked on the attached list. Inside the caller's
// no_stop_scope (so no stop finds the list half linked).
wb_buffer* attach() {
  lock_guard g(lists.lock);
  wb_buffer* b = lists.free;
  if (b != nullptr) {
    lists.free = b->next;
  } else {
    constexpr std::size_t chunk = 64 * 1024;
    auto* mem = static_cast<char*>(os::map_metadata(chunk));
    if (mem == nullptr) return nullptr;  // the caller shades at once
    constexpr std::size_t per = chunk / sizeof(wb_buffer);
    for (std::size_t i = 1; i < per; ++i) {
      auto* f = new (mem + i * sizeof(wb_buffer)) wb_buffer();
      f->next = lists.free;
      lists.free = f;
    }
    b = new (mem) wb_buffer();
  }
  b->prev = nullptr;
  b->next = lists.attached;
  if (lists.attached != nullptr) lists.attached->prev = b;
  lists.attached = b;
  b->flushed.store(flush_epoch.load(std::memory_order_relaxed), std::memory_order_relaxed);  // empty: flushed
  return b;
}

// Shades the buffer's values and empties it. Marking is on, inside the
// caller's no_stop_scope.
void flush(wb_buffer* b) {
  const unsigned n = b->n.load(std::memory_order_relaxed);
  mark::shade_batch(b->values, n);
  b->n.store(0, std::memory_order_relaxed);
}

// The barrier's work, inside its no_stop_scope (step 3).
void buffer_values(const void* old_value, const void* new_value) {
  no_stop_scope no_stop;  // step 3: the flag cannot change until the values are buffered
  if (!write_barrier_on.load(std::memory_order_relaxed)) return;
  const bool shade_new = new_value != nullptr && !stack::self_stack_scanned();  // step 2(b)
  wb_buffer* b = tls_wb;
  if (GORT_UNLIKELY(b == nullptr)) {
    if (stack::current_thread() != nullptr) b = tls_wb = attach();
    if (b == nullptr) {  // not registered (step 6), or no memory for a buffer
      if (old_value != nullptr) mark::shade(old_value);
      if (shade_new) mark::shade(new_value);
      return;
    }
  }
  unsigned n = b->n.load(std::memory_order_relaxed);
  if (old_value != nullptr) b->values[n++] = reinterpret_cast<std::uintptr_t>(old_value);
  if (shade_new) b->values[n++] = reinterpret_cast<std::uintptr_t>(new_value);
  b->n.store(n, std::memory_order_relaxed);
  const std::uint32_t epoch = flush_epoch.load(std::memory_order_relaxed);
  if (n + 2 > wb_buffer::capacity || b->flushed.load(std::memory_order_relaxed) != epoch) {
    flush(b);
    b->flushed.store(epoch, std::memory_order_release);  // step 7: after the shades it publishes
  }
}
}  // namespace

void write_barrier_slow(const void* old_value, const void* new_value) noexcept {
  // Nothing to shade (no buffer, no no_stop_scope) when there is no old
  // value and the new one needs no shade: a thread whose stack is scanned
  // stores into fresh objects for most of a mark (every gc_new whose
  // constructor sets members), and binary-trees spent 5% of its time in
  // this path with it. The skip is step 2(b)'s; it needs no scope, since
  // it buffers nothing: if the mark ends or a new one starts meanwhile,
  // the store was made before that stop, like any store of step 3.
  if (old_value != nullptr || (new_value != nullptr && !stack::self_stack_scanned()))
    buffer_values(old_value, new_value);
  // A safe point: the barrier sequence is complete here (step 3), so a
  // thread may park as at an allocation. While marking, the program runs
  // this more often than the allocation slow path; a stop that finds it
  // here needs no signal (a signal costs 40-80 us on a 2-vCPU VM).
  if (stack::current_thread() != nullptr) stack::safepoint();
}

namespace barrier {

void flush_all_stopped() {
  for (wb_buffer* b = lists.attached; b != nullptr; b = b->next) {
    // Empty after this: flushed at this epoch, as attach() records it. Left
    // at an older epoch, the thread's first barrier of the next mark found
    // a request of this mark and shaded its first value at once.
    b->flushed.store(flush_epoch.load(std::memory_order_relaxed), std::memory_order_relaxed);
    const unsigned n = b->n.load(std::memory_order_relaxed);
    if (n == 0) continue;
    const auto lo = reinterpret_cast<std::uintptr_t>(b->values);
    mark::scan_roots(lo, lo + n * sizeof(std::uintptr_t), "a thread's write-barrier buffer");
    b->n.store(0, std::memory_order_relaxed);
  }
}

void check_all_empty_stopped() {
  for (const wb_buffer* b = lists.attached; b != nullptr; b = b->next)
    GORT_CHECK(b->n.load(std::memory_order_relaxed) == 0,
               "write barrier: buffer {} holds {} values outside a mark; rule broken: mark termination "
               "shades every buffer (barrier.cpp, step 6)",
               static_cast<const void*>(b), b->n.load(std::memory_order_relaxed));
}

void detach_thread() {
  wb_buffer* b = tls_wb;
  if (b == nullptr) return;
  no_stop_scope no_stop;
  if (write_barrier_on.load(std::memory_order_relaxed)) flush(b);
  GORT_CHECK(b->n.load(std::memory_order_relaxed) == 0,
             "write barrier: a thread leaves {} values in its buffer outside a mark (barrier.cpp, step 6)",
             b->n.load(std::memory_order_relaxed));
  tls_wb = nullptr;
  lock_guard g(lists.lock);
  if (b->prev != nullptr) b->prev->next = b->next;
  else lists.attached = b->next;
  if (b->next != nullptr) b->next->prev = b->prev;
  b->prev = nullptr;
  b->next = lists.free;
  lists.free = b;
}

void flush_own() {
  no_stop_scope no_stop;
  if (tls_wb != nullptr && write_barrier_on.load(std::memory_order_relaxed)) flush(tls_wb);
}

std::uint64_t init_barrier_snapshot() { return init_barrier_state.load(std::memory_order_seq_cst); }

void stacks_scanned(std::uint64_t snapshot) {
  init_barrier_state.compare_exchange_strong(snapshot, snapshot & ~std::uint64_t{1}, std::memory_order_seq_cst);
}

void thread_registered() {
  std::uint64_t old = init_barrier_state.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    next = old + 4;  // the count is above bits 0 (marking) and 1 (cards)
    if (write_barrier_on.load(std::memory_order_seq_cst)) next |= 1;
  } while (!init_barrier_state.compare_exchange_weak(old, next, std::memory_order_seq_cst));
}

void set_marking(bool on) {
  write_barrier_on.store(on, std::memory_order_relaxed);
  if (on) {
    barrier_flags.fetch_or(barrier_marking, std::memory_order_relaxed);
    init_barrier_state.fetch_or(barrier_marking, std::memory_order_relaxed);
  } else {
    barrier_flags.fetch_and(static_cast<std::uint8_t>(~barrier_marking), std::memory_order_relaxed);
    init_barrier_state.fetch_and(~std::uint64_t{barrier_marking}, std::memory_order_relaxed);
  }
}

void request_flush() { flush_epoch.fetch_add(1, std::memory_order_relaxed); }

void flush_if_requested() {
  wb_buffer* b = tls_wb;
  if (b == nullptr) return;
  const std::uint32_t epoch = flush_epoch.load(std::memory_order_relaxed);
  if (GORT_LIKELY(b->flushed.load(std::memory_order_relaxed) == epoch)) return;
  no_stop_scope no_stop;
  if (write_barrier_on.load(std::memory_order_relaxed)) flush(b);
  b->flushed.store(epoch, std::memory_order_release);  // after the shades it publishes
}

bool all_flushed() {
  const std::uint32_t epoch = flush_epoch.load(std::memory_order_relaxed);
  lock_guard g(lists.lock);
  for (const wb_buffer* b = lists.attached; b != nullptr; b = b->next) {
    if (b->n.load(std::memory_order_relaxed) != 0 && b->flushed.load(std::memory_order_acquire) != epoch) return false;
  }
  return true;
}

void atfork_prepare() { lists.lock.lock(); }
void atfork_parent() { lists.lock.unlock(); }
void atfork_child() {
  // No cycle runs across fork (collector.cpp), so every buffer is empty.
  // Only the forking thread exists in the child: the others' buffers go to
  // the free list, since no thread will give them back.
  wb_buffer* keep = tls_wb;
  for (wb_buffer* b = lists.attached; b != nullptr;) {
    wb_buffer* next = b->next;
    if (b != keep) {
      b->prev = nullptr;
      b->next = lists.free;
      lists.free = b;
    }
    b = next;
  }
  lists.attached = keep;
  if (keep != nullptr) keep->next = keep->prev = nullptr;
  lists.lock.unlock();
}

}  // namespace barrier

void barriered_copy(void** dst, void* const* src, std::size_t n) noexcept {
  if (n == 0 || dst == src) return;
  // The whole copy is one stretch that no stop can split: shade what is
  // overwritten and what is copied, then copy, all while the flag is stable.
  no_stop_scope no_stop;
  if (write_barrier_on.load(std::memory_order_relaxed)) {
    const bool shade_new = !stack::self_stack_scanned();  // step 2(b)
    for (std::size_t i = 0; i < n; ++i) {
      if (void* old = slot_load(dst + i)) mark::shade(old);
      if (void* v = slot_load(src + i); v != nullptr && shade_new) mark::shade(v);
    }
  }
  // Minor collections: the destination's cards (src/gc/cards.hpp).
  if (card_table.load(std::memory_order_relaxed) != nullptr) {
    for (std::size_t i = 0; i < n; i += cards::card_bytes / sizeof(void*)) mark_card(dst + i);
    mark_card(dst + n - 1);
  }
  // Slot by slot with relaxed atomics (a marker may be reading dst), in the
  // direction that memmove would take for overlapping ranges.
  if (dst < src) {
    for (std::size_t i = 0; i < n; ++i) slot_store(dst + i, slot_load(src + i));
  } else {
    for (std::size_t i = n; i > 0; --i) slot_store(dst + i - 1, slot_load(src + i - 1));
  }
}

}  // namespace gc::internal
