// src/alloc/span.hpp: the span, a run of pages that is either free (owned by
// the page heap) or in use (holding objects of one span class, or one large
// object); its bitmaps; and the intrusive lists spans live on.
//
// State machine (every transition under the heap lock):
//   dead   --grow/split-->      free     a new free run of pages
//   free   --page_heap::alloc-> in_use   class fields set before the state
//                                        is published (release store)
//   in_use --page_heap::free->  free
//   free   --coalesce-->        dead     merged into a neighbour, back to the pool
// Span structs are never returned to the OS, so a stale span pointer read
// from the page map without a lock still points at a span struct; readers
// check state and [base, limit) before trusting it.
//
// Bitmaps: stored right after the struct's 128-byte header in the same
// allocation (span::struct_bytes, whole cache lines), as bitmap_cap rows of
// four words, one row per 64 objects:
//   row w: [owner 0's marks, owner 1's marks or allocate-black's record,
//           alloc or mark, mark or alloc]
// Column 1 holds allocate-black's record in a cycle whose mark began with
// the record on (minor collections, alloc.hpp, allocate_black_record) and
// owner 1's marks otherwise; it is clear from every sweep to the next mark
// start, where the role is chosen for the cycle. (A fifth array for the
// record, besides owner 1's column, made a 32-byte class's span struct 320
// bytes instead of 256, and the latency benchmark's peak RSS 7 MB larger.)
// Everything marking reads about an object lies in one 32-byte row,
// one cache line (with the four kinds of bits as separate arrays, the mark
// of a 16-byte object read from three lines, benchmarks.md, twenty-second
// session). alloc_words and mark_words point at columns 2 and 3 of row 0
// (word w at [w * bitmap_row_words]: alloc_word(w), mark_word(w)); the
// collector's sweep makes the mark bits the new alloc bits by swapping the
// two pointers and clearing the new mark bits, as Go's sweep does. All
// live outside the heap arenas: no object overflow can reach them. A struct's capacity is fixed
// when the page heap makes it (one pool per capacity, page_heap.hpp step
// 6): an in-use span of nelems objects has exactly bitmap_cap_for(nelems)
// rows, a free span any (0: a struct that has only ever held
// free runs). With the arrays sized for the largest span (1024 objects) in
// every struct, a span struct took 640 bytes, 44 MB of the latency
// benchmark's 633 MB; a 32-byte class's span needs 4 rows, 256 bytes in all
// with the header (docs/benchmarks.md, eighteenth session).
//
// An object is marked when its bit is set in the mark bits OR in one of the
// owners' columns (owned_word(0, w), owned_word(1, w)): each is written by
// one marker at a time (mark.cpp: the collector's own worker, and the
// worker of the first mark-assist slot or, while the world is stopped, of
// the first helper thread), which sets its bits with plain
// stores, where every other marker sets the mark bits with a locked OR (in
// binary-trees' single-worker mark, the locked OR took about half of
// scan's samples; a mark of binary-trees' tree with locked ORs took 44
// against 26 ms, benchmarks.md, twenty-second session). Every marker tests
// all three columns first; in the rare race where two see the object white,
// both scan it, which is harmless (scanning is idempotent; the marked-bytes
// count then counts it twice). Sweep reads all three and clears the
// owners' (fold_mark_word, take_mark_word).
//
// Counting invariant, for an in-use small span s:
//   s.alloc_count == popcount(alloc bits 0 .. nelems)
// and the objects the program holds are those, plus the objects popped from
// the current window of the owning mcache slot (if s.owner != nullptr):
//   allocated(i) == alloc_bit(i) || (owner && i in owner's window && !free_bit(i)).
//
// Who writes what:
//   base, npages, class fields, limit  heap lock, before state becomes in_use
//   next, prev                         lock of the list the span is on
//                                      (heap lock: free lists; central lock: central lists)
//   alloc bits, alloc_count,           while owner != nullptr, the owning thread only;
//     window                           otherwise the central lock of the span's class
//   owner                              central lock (atomic: find_object reads it)
//   sweepgen                           set by page_heap::alloc; sg-2 -> sg-1 under the
//                                      central lock (the claim), sg-1 -> sg by the claimer;
//                                      owned spans: sg-2 -> sg only while the world is stopped
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>

#include <gort/internal/config.hpp>
#include <gort/internal/mcache.hpp>
#include <gort/internal/size_class.hpp>

namespace gc::internal {

enum class span_state : std::uint8_t { dead = 0, free = 1, in_use = 2 };

inline constexpr std::size_t bitmap_words = max_objects_per_span / 64;  // the largest capacity

// Words per bitmap array of a span of nelems objects: a power of two (so
// that spans of nearby classes share a pool), 0 for no objects.
constexpr std::size_t bitmap_cap_for(std::size_t nelems) {
  return nelems == 0 ? 0 : std::bit_ceil((nelems + 63) / 64);
}
static_assert(bitmap_cap_for(max_objects_per_span) == bitmap_words);
static_assert(bitmap_cap_for(1) == 1 && bitmap_cap_for(64) == 1 && bitmap_cap_for(65) == 2 &&
              bitmap_cap_for(170) == 4 && bitmap_cap_for(512) == 8);

struct span {
  // The first cache line: every field that marking reads (find_object,
  // try_mark, scan; mark.cpp prefetches it and the bitmaps, not the second
  // line), and nothing that changes while the span is in use but the
  // bitmap pointers, which only a sweep swaps.
  std::uintptr_t base = 0;
  std::uintptr_t limit = 0;      // base + nelems * elem_size
  std::uintptr_t elem_size = 0;  // object size; for large spans npages * page_bytes
  std::uint64_t* alloc_words = nullptr;  // columns of the bitmap rows (see Bitmaps above)
  std::uint64_t* mark_words = nullptr;
  obj_meta* meta = nullptr;        // typed spans: nelems entries (&meta_inline.m for large spans)
  std::uint32_t divmagic = 0;    // index = (offset * divmagic) >> 32; 0 for large spans
  std::uint16_t nelems = 0;
  std::uint8_t size_class = 0;   // 0: large object
  bool noscan = false;
  std::atomic<span_state> state{span_state::dead};
  bool needzero = false;          // heap lock; memory may hold old data
  // Heap lock. A free span taken off the free lists while page_heap::release
  // returns some of its pages to the OS without the lock: nothing may
  // allocate it or coalesce it with a neighbour meanwhile (page_heap.hpp, step 5).
  bool releasing = false;
  bool typed = false;              // objects have obj_meta entries in `meta`
  // Words per bitmap array stored after the struct (see Bitmaps above):
  // set when the struct is made, never changed.
  std::uint8_t bitmap_cap = 0;
  // The second line: what the page heap, mcentral and the owning mcache
  // write while the span is in use (lists, owner, window, sweep state).
  std::size_t npages = 0;
  // The sweep state of the span against heap_sweepgen (sg, alloc.hpp), as in
  // Go's mspan.sweepgen. Atomic; see mcentral.hpp for the transitions:
  //   sweepgen == sg - 2   unswept: the alloc bits still hold the objects
  //                        the last mark left unmarked
  //   sweepgen == sg - 1   being swept by the thread that claimed it
  //   sweepgen == sg       swept (or allocated since the last mark ended)
  std::atomic<std::uint32_t> sweepgen{0};
  std::atomic<std::uint32_t> window{0};  // owner thread: bitmap word of the owner's window
  span* next = nullptr;
  span* prev = nullptr;
  std::uint32_t alloc_count = 0;
  std::atomic<alloc_slot*> owner{nullptr};
  large_meta meta_inline;

  // The arrays after the struct (see Bitmaps above):
  // - owner 0's and owner 1's marks (owned_word): each written by its owning
  //   marker only, while a mark runs; read by every marker and the sweep
  //   (relaxed atomics; the sweep runs after mark termination's stop, which
  //   orders it after the owners' stores).
  // - or, in column 1 while the record is on, allocate-black's own record
  //   (black_word; alloc.hpp, allocate-black step 2): the objects whose mark
  //   bit was set by allocation during a concurrent mark, not by marking.
  //   Set and cleared together with their mark bits (atomic OR/AND), so a
  //   subset of them; the sweep keeps such an object allocated but, in a
  //   phase that keeps marks (sweep.hpp step 5), not marked: it is young,
  //   not old (docs/design.md section 3, correction 2). Owner 1 then marks
  //   with locked ORs, as any other marker. Cleared by every sweep.
  // - alloc and mark bits (whichever pointer names which column).
  std::uint64_t* bitmap_storage() { return reinterpret_cast<std::uint64_t*>(reinterpret_cast<char*>(this) + sizeof(span)); }
  const std::uint64_t* bitmap_storage() const {
    return reinterpret_cast<const std::uint64_t*>(reinterpret_cast<const char*>(this) + sizeof(span));
  }
  static constexpr int mark_owners = 2;
  static constexpr std::size_t bitmap_row_words = 4;
  // Word w of the alloc bits, of the mark bits, of owner k's marks.
  GORT_ALWAYS_INLINE std::uint64_t& alloc_word(std::size_t w) { return alloc_words[w * bitmap_row_words]; }
  GORT_ALWAYS_INLINE std::uint64_t& mark_word(std::size_t w) { return mark_words[w * bitmap_row_words]; }
  GORT_ALWAYS_INLINE std::uint64_t& owned_word(int k, std::size_t w) {
    return bitmap_storage()[w * bitmap_row_words + static_cast<std::size_t>(k)];
  }
  GORT_ALWAYS_INLINE const std::uint64_t& owned_word(int k, std::size_t w) const {
    return bitmap_storage()[w * bitmap_row_words + static_cast<std::size_t>(k)];
  }
  // Word w of allocate-black's record, while it is on (column 1).
  GORT_ALWAYS_INLINE std::uint64_t& black_word(std::size_t w) { return owned_word(1, w); }

  // Bytes of a span struct with cap bitmap rows, rounded up to whole
  // cache lines: structs of one chunk then start on line boundaries, and the
  // header (two lines) shares none with another span's bitmaps, which other
  // cores write while marking and allocating.
  static constexpr std::size_t struct_bytes(std::size_t cap) {
    return (sizeof(span) + bitmap_row_words * cap * sizeof(std::uint64_t) + 63) / 64 * 64;
  }
  // Makes a span struct with cap bitmap rows in mem (struct_bytes(cap)
  // bytes; the page heap's pool, tests).
  static span* make_at(void* mem, std::size_t cap) {
    span* s = new (mem) span();
    s->bitmap_cap = static_cast<std::uint8_t>(cap);
    s->clear_bitmaps();
    return s;
  }
  // Clears the rows and puts the alloc bits in column 2 again (a new use).
  void clear_bitmaps() {
    std::uint64_t* words = bitmap_storage();
    for (std::size_t i = 0; i < bitmap_row_words * bitmap_cap; ++i) words[i] = 0;
    alloc_words = words + 2;
    mark_words = words + 3;
  }

  int span_class() const { return make_span_class(size_class, noscan, typed); }
  std::size_t bitmap_nwords() const { return (nelems + 63u) / 64u; }
  // Bits of word w that name real objects (the last word may be partial).
  std::uint64_t valid_mask(std::size_t w) const {
    std::size_t rem = nelems - w * 64;
    return rem >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << rem) - 1;
  }
  // Alloc-bit words are read by other threads without the owner's lock.
  GORT_ALWAYS_INLINE std::uint64_t load_alloc_word(std::size_t w) const {
    return std::atomic_ref<std::uint64_t>(alloc_words[w * bitmap_row_words]).load(std::memory_order_relaxed);
  }
  void store_alloc_word(std::size_t w, std::uint64_t v) {
    std::atomic_ref<std::uint64_t>(alloc_word(w)).store(v, std::memory_order_relaxed);
  }
  GORT_ALWAYS_INLINE std::uintptr_t object_index(std::uintptr_t addr) const {
    return static_cast<std::uintptr_t>((static_cast<std::uint64_t>(addr - base) * divmagic) >> 32);
  }
  std::uintptr_t end() const { return base + npages * page_bytes; }
  std::uintptr_t object_base(std::uintptr_t idx) const { return base + idx * elem_size; }

  // Mark bits: set by the collector's workers concurrently (atomic OR), or
  // by an owning marker in its own column (plain stores).
  GORT_ALWAYS_INLINE std::uint64_t load_owned_word(int k, std::size_t w) const {
    return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(owned_word(k, w))).load(std::memory_order_relaxed);
  }
  GORT_ALWAYS_INLINE std::uint64_t load_mark_word(std::size_t w) const {
    return std::atomic_ref<std::uint64_t>(mark_words[w * bitmap_row_words]).load(std::memory_order_relaxed) |
           load_owned_word(0, w) |
           load_owned_word(1, w);
  }
  bool is_marked(std::uintptr_t idx) const { return (load_mark_word(idx / 64) >> (idx % 64)) & 1; }
  // Sets the mark bit; true if this call set it (the object was white).
  GORT_ALWAYS_INLINE bool try_mark(std::uintptr_t idx) {
    const std::uint64_t bit = std::uint64_t{1} << (idx % 64);
    if (load_mark_word(idx / 64) & bit) return false;
    return !(std::atomic_ref<std::uint64_t>(mark_word(idx / 64)).fetch_or(bit, std::memory_order_relaxed) & bit);
  }
  // try_mark for owner K's marker only: at most one thread at a time.
  template <int K>
  GORT_ALWAYS_INLINE bool try_mark_owned(std::uintptr_t idx) {
    static_assert(K >= 0 && K < mark_owners);
    const std::uint64_t bit = std::uint64_t{1} << (idx % 64);
    std::atomic_ref<std::uint64_t> own(owned_word(K, idx / 64));
    const std::uint64_t mine = own.load(std::memory_order_relaxed);
    if ((mine | load_owned_word(1 - K, idx / 64) |
         std::atomic_ref<std::uint64_t>(mark_word(idx / 64)).load(std::memory_order_relaxed)) &
        bit)
      return false;
    own.store(mine | bit, std::memory_order_relaxed);
    return true;
  }
  // Clears object idx's mark in all three columns (tests; the checkmark probe).
  void unmark(std::uintptr_t idx) {
    const std::uint64_t bit = std::uint64_t{1} << (idx % 64);
    std::atomic_ref<std::uint64_t>(mark_word(idx / 64)).fetch_and(~bit, std::memory_order_relaxed);
    for (int k = 0; k < mark_owners; ++k)
      std::atomic_ref<std::uint64_t>(owned_word(k, idx / 64)).fetch_and(~bit, std::memory_order_relaxed);
  }
  // Sweep, after mark termination: ORs the owners' marks of word w into
  // the mark bits and clears them; returns the word's marks.
  std::uint64_t fold_mark_word(std::size_t w) {
    const std::uint64_t m = mark_word(w) | owned_word(0, w) | owned_word(1, w);
    mark_word(w) = m;
    owned_word(0, w) = owned_word(1, w) = 0;
    return m;
  }
  // Sweep, after mark termination: returns the marks of word w and clears
  // them in all three columns.
  std::uint64_t take_mark_word(std::size_t w) {
    const std::uint64_t m = mark_word(w) | owned_word(0, w) | owned_word(1, w);
    mark_word(w) = owned_word(0, w) = owned_word(1, w) = 0;
    return m;
  }

  // Allocate-black's record of word w, while it is on (column 1: see
  // Bitmaps above; with the record off, owner 1's marks). The sweep reads
  // it before take_mark_word or fold_mark_word, which clear column 1.
  std::uint64_t load_black_word(std::size_t w) const { return load_owned_word(1, w); }

  // Sweep of a phase that keeps marks (sweep.hpp step 5), after
  // take_mark_word: the marks of word w become m.
  void keep_mark_word(std::size_t w, std::uint64_t m) {
    std::atomic_ref<std::uint64_t>(mark_word(w)).store(m, std::memory_order_relaxed);
  }

  // Is object idx allocated? Exact when the owner thread is the caller or is
  // not allocating; otherwise an answer that was true at some moment.
  GORT_ALWAYS_INLINE bool is_allocated(std::uintptr_t idx) const {
    if ((load_alloc_word(idx / 64) >> (idx % 64)) & 1) return true;
    const alloc_slot* o = owner.load(std::memory_order_acquire);
    if (o == nullptr || window.load(std::memory_order_relaxed) != idx / 64) return false;
    return !((o->free_bits.load(std::memory_order_relaxed) >> (idx % 64)) & 1);
  }
};

static_assert(sizeof(span) == 128, "a span's header is two cache lines; its bitmaps start on the third");
static_assert(offsetof(span, bitmap_cap) < 64, "what marking reads is in the first line");

// A circular doubly-linked list with a sentinel, so a span can be unlinked
// without knowing which list holds it. Guarded by its owner's lock.
class span_list {
 public:
  span_list() { head_.next = head_.prev = &head_; }
  span_list(const span_list&) = delete;
  span_list& operator=(const span_list&) = delete;

  bool empty() const { return head_.next == &head_; }
  span* front() { return empty() ? nullptr : head_.next; }
  span* back() { return empty() ? nullptr : head_.prev; }
  // The span before s on this list, nullptr if s is the first.
  span* before(const span* s) { return s->prev == &head_ ? nullptr : s->prev; }
  void push_front(span* s) { link_after(&head_, s); }
  void push_back(span* s) { link_after(head_.prev, s); }
  static void remove(span* s) {
    s->prev->next = s->next;
    s->next->prev = s->prev;
    s->next = s->prev = nullptr;
  }
  span* pop_front() {
    span* s = front();
    if (s) remove(s);
    return s;
  }
  template <class F>
  void for_each(F&& f) {
    for (span* s = head_.next; s != &head_;) {
      span* next = s->next;  // f may unlink s
      f(s);
      s = next;
    }
  }
  std::size_t size() const {
    std::size_t n = 0;
    for (const span* s = head_.next; s != &head_; s = s->next) ++n;
    return n;
  }

 private:
  static void link_after(span* at, span* s) {
    s->prev = at;
    s->next = at->next;
    at->next->prev = s;
    at->next = s;
  }
  span head_;
};

}  // namespace gc::internal
