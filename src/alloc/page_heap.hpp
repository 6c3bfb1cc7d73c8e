// src/alloc/page_heap.hpp: the page heap (Go's mheap): runs of 8 KiB pages.
//
// Algorithm
// 1. Free runs are spans in state `free`, kept on free lists: one list per
//    length for 1..127 pages, plus one list of longer runs. A 128-bit mask
//    says which short lists are non-empty, so finding the first list with a
//    run of >= n pages is one count-trailing-zeros.
// 2. alloc(n): take a run from the smallest non-empty short list >= n, else
//    the best fit among the long runs (lowest address on ties), else grow the
//    heap and retry. Split off the tail as a new free span. Fill in the class
//    fields, clear the bitmaps, publish state in_use (release), then point
//    every page of the span at it in the page map.
//    (b) Then, without the lock: if the span is at most populate_max_bytes
//    and its pages are not in memory (never touched since step 4 committed
//    them, or returned by step 5), back them in one madvise. On a VM a first
//    touch can cost 11-15 us per 4 KiB page, against under 1 us populated in
//    bulk (docs/benchmarks.md, "page faults on this VM"); the latency
//    benchmark's slowest batches were those that faulted in 20 or more.
//    (c) Inside a populate_later_scope (the allocation slow paths open one
//    around their no-stop scope), the madvise waits for the scope's end,
//    where it runs inside alloc_hooks' blocking region: the thread counts as
//    stopped meanwhile, so no stop of the world waits for the system call.
//    An 8 KiB populate took over 100 us 56-158 times per latency run, each
//    one holding off any stop that came then.
// 3. free(s): mark it free, then coalesce with the free neighbours found
//    through the page map (the page before s and the page after it), return
//    merged span structs to the pool, and put the result on its free list.
// 4. grow(n): commit at least 1 MiB (128 pages) more of the current arena
//    reservation; when that is used up, reserve new 64 MiB arenas (several
//    contiguous ones for a huge object), commit the old reservation's rest as
//    free memory, and continue there. Each committed range enters through
//    free(), so it coalesces with its neighbours. The heap's first page
//    (the first reservation's) is never used: it stays reserved, never
//    committed. Its address is heap_lo, which the collector's scanners
//    hold in locals (scan bounds) and so leave in stack slots of the
//    thread that collects; a word equal to it then names no object. (With
//    the first object at the heap's base, such words kept a dead object
//    alive in about 3% of the ASan runs of a test that counts reclaimed
//    objects; explain_roots named the frames, benchmarks.md,
//    twenty-second session.) Later reservations use their first page: a
//    64 MiB object must fit one arena.
// 5. Scavenging (release, release_all), in pieces of at most
//    release_piece_pages, so that the heap lock is never held across a
//    madvise (a 256 KiB MADV_DONTNEED, with its TLB shootdown, took 87-272 us
//    on a 2-vCPU VM; an allocating thread waiting for the lock meanwhile
//    held off a stop of the world just as long). For each piece:
//    (a) under the lock, find a free span with pages not yet returned
//        (long runs first, then short runs from the longest), carve the
//        piece that starts at its first such page out of it as a span of
//        its own (the rest stays on the free lists), put that on releasing_
//        (span.releasing = true: alloc cannot take it and free() does not
//        coalesce with it), and mark its unreturned pages in the arena's
//        scavenged bitmap, remembering them as runs (heap_released counts
//        them now);
//    (b) without the lock, madvise those runs;
//    (c) under the lock, put the span back through the free path, which
//        coalesces it with neighbours freed meanwhile.
//    alloc() clears the scavenged bits of the pages it hands out (they come
//    back into use by being touched) and keeps heap_released exact.
// 6. Span structs come from a pool of dead ones of the capacity asked for
//    (bitmap words per array, span.hpp), else from the last mapped chunk of
//    span_chunk_bytes, one at a time (bumping chunk_cur_), else from a newly
//    mapped chunk. A free run needs no bitmaps: structs made for one have
//    capacity 0. alloc() gives an in-use span a struct of exactly its
//    class's capacity: when the run it took has another, it moves the run to
//    a struct from that pool (all its pages are mapped anew anyway) and
//    pools the old one. One at a time: a fresh 64 KiB
//    chunk whose 128 structs were all constructed at once faulted in 16
//    pages under the heap lock, inside an allocation's no-stop scope, in
//    160-210 us on a 2-vCPU VM (the latency benchmark made 532 chunks per
//    run, each one a stop of the world held off that long if it came then).
//    Made one at a time, a struct costs at most one page fault.
//
// Invariants (heap lock held):
//   heap_sys == heap_inuse + heap_idle, where heap_idle == pages in free spans
//     (on the free lists, or on releasing_ while step 5(b) runs)
//   heap_released == pages with a scavenged bit set, all of them in free spans
//   free_spans == spans on the free lists and on releasing_
//   no two free spans on the free lists are adjacent (coalescing is complete);
//     a span on releasing_ may have free neighbours until step 5(c)
//
// Reference: Go's mheap.go (allocSpan, freeSpan, grow); the older Go 1.11
// treap-free design for the free lists; Go's mgcscavenge.go for scavenging.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "alloc/span.hpp"
#include "common/lock.hpp"

namespace gc::internal {

// What a span will hold, given to page_heap::alloc.
struct span_init {
  std::uint8_t size_class = 0;  // 0: one large object
  bool noscan = false;
  bool typed = false;           // gets a zeroed obj_meta table (one entry per object)
  // The mcache slot that will allocate from the span (small spans), set
  // before the span is published: a span is never in use, unowned and on
  // no central list, even for a moment a collection could see.
  alloc_slot* owner = nullptr;
  std::uintptr_t elem_size = 0;
  std::uint16_t nelems = 0;
  std::uint32_t divmagic = 0;
};

// The heap's sweep generation (Go's mheap_.sweepgen): +2 at every mark
// termination (begin_sweep_phase, mcentral.hpp). Atomic; written only while
// the world is stopped, with every central lock held.
extern std::atomic<std::uint32_t> heap_sweepgen;

struct page_heap_counters {
  std::uint64_t heap_sys = 0;       // committed bytes
  std::uint64_t heap_inuse = 0;     // bytes in in-use spans
  std::uint64_t heap_released = 0;  // free bytes returned to the OS
  std::uint64_t spans_inuse = 0;    // in-use spans
  std::uint64_t mspan_sys = 0;      // bytes obtained for span structs
  std::uint64_t mspan_inuse = 0;    // bytes of span structs not in a pool (in-use and free spans)
  std::uint64_t other_sys = 0;      // arena_meta bytes
  std::uint64_t free_spans = 0;     // free runs (for tests)
};

// Step 2(c): while one is open on this thread, page_heap::alloc leaves the
// populate of a cold span to the end of the outermost scope, which makes it
// inside alloc_hooks' enter_blocking/exit_blocking. Open it before (outside)
// any no_stop_scope, so that it ends after it: a thread must not enter a
// blocking region while it holds off stops. Only this thread's state.
//
//   populate_later_scope later;  // ends second: populates, blocking
//   no_stop_scope no_stop;       // ends first
//   span* s = page_heap::instance().alloc(...);
class populate_later_scope {
 public:
  populate_later_scope() noexcept;
  ~populate_later_scope();
  populate_later_scope(const populate_later_scope&) = delete;
  populate_later_scope& operator=(const populate_later_scope&) = delete;
};

class page_heap {
 public:
  static page_heap& instance();

  // An in-use span of exactly npages pages, or nullptr if the OS refuses more
  // memory. `needzero` tells whether the pages may hold old data.
  span* alloc(std::size_t npages, const span_init& init, bool& needzero);
  // Returns an in-use span's pages to the free lists.
  void free(span* s);
  // free() for n spans, under one acquisition of the lock (the sweep).
  void free_batch(span* const* spans, std::size_t n);
  // Returns at least `bytes` of free memory to the OS if there is that much
  // not yet returned; returns the bytes released.
  std::size_t release(std::size_t bytes);
  std::size_t release_all() { return release(~std::size_t{0}); }

  page_heap_counters counters();

  void lock_for_fork() { lock_.lock_for_fork(); }
  void unlock_for_fork() { lock_.unlock_for_fork(); }
  // fork child, after unlock_for_fork: spans a parent's thread was releasing
  // go back to the free lists.
  void atfork_child();

  // Calls f(span*) for every span struct ever made (any state: callers check
  // state), holding the heap lock for the whole walk: the set of structs
  // grows under it (step 6), and so does a span's shape, also while the
  // world is stopped (the scavenger's thread is never stopped, and carves
  // free spans in step 5(a)). f must take no lock of rank <= heap. With
  // the world stopped no program thread holds the lock (lock.hpp step 4),
  // so the walk waits at most for one scavenger piece.
  template <class F>
  void for_each_span_struct(F&& f) {
    lock_guard g(lock_);
    for (std::size_t c = 0; c < nchunks_; ++c) {
      // Structs lie one after the other, each as long as its capacity
      // makes it (bitmap_cap never changes once made).
      char* end = c + 1 == nchunks_ ? chunk_cur_ : span_chunks_[c].end;
      for (char* p = span_chunks_[c].begin; p < end;) {
        span* s = reinterpret_cast<span*>(p);
        p += span::struct_bytes(s->bitmap_cap);
        f(s);
      }
    }
  }
  // Checks the invariants above and that the page map agrees with every free
  // span; aborts with a message naming the span on failure. O(heap).
  void verify();

 private:
  page_heap() = default;
  // Spans at most this long are populated when handed out cold (step 2(b));
  // longer ones (large objects, which may never be touched whole) fault in.
  static constexpr std::size_t populate_max_bytes = 128 * 1024;
  span* alloc_span(std::size_t npages, const span_init& init, bool& needzero, bool& cold);
  span* alloc_locked(std::size_t npages);
  bool grow_locked(std::size_t npages);
  void insert_free_locked(span* s);  // coalesces
  void free_locked(span* s);
  void list_add_locked(span* s);
  void list_remove_locked(span* s);
  span* take_run_locked(std::size_t npages);
  std::size_t clear_scavenged_locked(std::uintptr_t base, std::size_t npages);
  struct page_run {
    std::uintptr_t base, bytes;
  };
  static constexpr std::size_t release_piece_pages = 64;  // 512 KiB per lock round (step 5)
  static constexpr std::size_t max_release_runs = 16;
  span* find_unreleased_locked(std::uintptr_t* page);
  span* carve_locked(span* s, std::uintptr_t lo, std::uintptr_t hi);
  std::size_t mark_released_locked(span* s, std::size_t want, page_run* runs, std::size_t& nruns);
  void put_back_released_locked(span* s);
  void set_page_map_locked(span* s, bool all_pages);
  obj_meta* meta_table_alloc_locked(int size_class);
  void meta_table_free_locked(span* s);
  span* new_span_locked(std::size_t cap);
  void free_span_struct_locked(span* s);

  static constexpr std::size_t short_lists = 128;
  static constexpr std::size_t span_chunk_bytes = 64 * 1024;
  // Span struct pools, one per bitmap capacity: 0, 1, 2, 4, 8, 16 words.
  static constexpr std::size_t num_span_pools = std::bit_width(bitmap_words) + 1;
  static constexpr std::size_t pool_of(std::size_t cap) { return static_cast<std::size_t>(std::bit_width(cap)); }
  static_assert(span::struct_bytes(bitmap_words) <= span_chunk_bytes);
  static constexpr std::size_t max_span_chunks = 1 << 16;  // 4 GiB of structs: 100 GiB of 8 KiB spans at the largest
  rank_mutex lock_{lock_rank::heap};
  span_list free_short_[short_lists];  // guarded by lock_; index = npages
  span_list free_long_;                // guarded by lock_; npages >= 128
  span_list releasing_;                // guarded by lock_; free spans whose pages release() is returning (step 5)
  std::uint64_t free_spans_ = 0;       // guarded by lock_; spans on the free lists and releasing_
  std::uint64_t nonempty_[2] = {};     // guarded by lock_; bit n: free_short_[n] non-empty
  std::uintptr_t cur_ = 0;             // guarded by lock_; next uncommitted byte of the reservation
  std::uintptr_t cur_end_ = 0;         // guarded by lock_; end of the current reservation
  span* span_pool_[num_span_pools] = {};  // guarded by lock_; dead span structs by capacity, linked by next
  page_heap_counters c_;               // guarded by lock_ (heap_released, heap_inuse, ... )
  std::uint64_t free_pages_ = 0;       // guarded by lock_
  struct chunk_extent {
    char* begin;
    char* end;  // past the last struct made in it (the last chunk's: chunk_cur_)
  };
  chunk_extent* span_chunks_ = nullptr;  // guarded by lock_ (appends); array of max_span_chunks
  std::size_t nchunks_ = 0;              // guarded by lock_; span struct chunks mapped
  // Guarded by lock_: the part of the last chunk no struct has been made in
  // yet (step 6); chunk_cur_ <= chunk_end_, both 8-byte aligned.
  char* chunk_cur_ = nullptr;
  char* chunk_end_ = nullptr;
  obj_meta* meta_pool_[num_size_classes] = {};  // guarded by lock_; free meta tables, linked through entry 0's type
};

}  // namespace gc::internal
