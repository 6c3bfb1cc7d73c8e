// tests/page_heap_test.cpp: the page heap (src/alloc/page_heap): growth,
// split, coalescing, the page map, and its invariants (verify()).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <sys/mman.h>
#include <unistd.h>
#include <thread>
#include <vector>

#include "alloc/alloc.hpp"
#include "os/os.hpp"
#include "test_util.hpp"

using namespace gc::internal;

namespace {
span* take(std::size_t npages) {
  span_init init;
  init.size_class = 0;
  init.elem_size = npages * page_bytes;
  init.nelems = 1;
  bool needzero = false;
  span* s = page_heap::instance().alloc(npages, init, needzero);
  REQUIRE(s != nullptr);
  return s;
}
// The OS pages of span s that are in memory (mincore).
std::size_t resident_os_pages(const span* s) {
  const std::size_t os_page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v((s->end() - s->base) / os_page);
  REQUIRE(::mincore(reinterpret_cast<void*>(s->base), s->end() - s->base, v.data()) == 0);
  return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [](unsigned char c) { return (c & 1) != 0; }));
}
// Whether os::populate works here (MADV_POPULATE_WRITE, Linux 5.14).
bool kernel_can_populate() {
  const std::size_t os_page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* probe = ::mmap(nullptr, 16 * os_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(probe != MAP_FAILED);
  const bool ok = os::populate(probe, 16 * os_page);
  ::munmap(probe, 16 * os_page);
  return ok;
}
}  // namespace

TEST_CASE("page heap: first allocation grows by 1 MiB at the arena hint", "[page_heap]") {
  page_heap& h = page_heap::instance();
  page_heap_counters before = h.counters();
  span* s = take(1);
  page_heap_counters after = h.counters();
  CHECK(after.heap_sys - before.heap_sys == (1u << 20));
  CHECK(after.heap_inuse - before.heap_inuse == page_bytes);
  CHECK(s->npages == 1);
  CHECK(s->base % page_bytes == 0);
  if (!gort_test::asan) {  // ASan's shadow memory occupies the hint range
    CHECK(s->base >= arena_hint_start);
    CHECK(s->base < arena_hint_start + 64 * arena_bytes);
  }
  // The rest of the megabyte is one free run (the split remainder).
  CHECK(after.free_spans == 1);
  h.verify();
}

// page_heap.hpp step 4: the heap's first page, at heap_lo, holds no span,
// so that a stray word equal to heap_lo (the scanners' own bound) names no
// object.
TEST_CASE("page heap: the heap's first page is never used", "[page_heap]") {
  page_heap& h = page_heap::instance();
  span* s = take(1);
  const std::uintptr_t lo = heap_lo.load();
  CHECK(lo % arena_bytes == 0);
  CHECK(span_of(lo) == nullptr);
  CHECK(span_of(lo + page_bytes - 1) == nullptr);
  CHECK(!find_object(lo));
  CHECK(s->base > lo);
  h.free(s);
  h.verify();
}

TEST_CASE("page heap: split and coalesce", "[page_heap]") {
  page_heap& h = page_heap::instance();
  span* a = take(1);
  span* b = take(2);
  span* c = take(3);
  span* d = take(4);
  // Fresh heap: consecutive runs are carved from one free run, in order.
  REQUIRE(b->base == a->end());
  REQUIRE(c->base == b->end());
  REQUIRE(d->base == c->end());
  const std::uintptr_t a_base = a->base;
  h.verify();
  const std::uint64_t free_runs = h.counters().free_spans;  // the tail after d

  h.free(a);
  h.verify();
  CHECK(h.counters().free_spans == free_runs + 1);  // a alone: b is in use
  h.free(c);
  h.verify();
  CHECK(h.counters().free_spans == free_runs + 2);  // c alone: b and d in use
  h.free(b);                                        // a, b, c merge into one run of 6 pages
  h.verify();
  CHECK(h.counters().free_spans == free_runs + 1);
  span* merged = span_of(a_base);
  REQUIRE(merged != nullptr);
  CHECK(merged->state.load() == span_state::free);
  CHECK(merged->npages == 6);
  CHECK(span_of(a_base + 5 * page_bytes) == merged);  // last page maps to the run too

  h.free(d);  // joins the 6-page run and the tail: everything is one run again
  h.verify();
  CHECK(h.counters().free_spans == free_runs);

  // A 6-page request is served from the merged run, at its start (lowest address).
  span* again = take(6);
  CHECK(again->base == a_base);
  h.verify();
}

TEST_CASE("page heap: growth beyond an arena, and huge spans", "[page_heap]") {
  page_heap& h = page_heap::instance();
  const std::size_t huge_pages = (150u << 20) / page_bytes;  // 150 MiB: three arenas
  page_heap_counters before = h.counters();
  span* s = take(huge_pages);
  CHECK(s->npages == huge_pages);
  CHECK(h.counters().heap_sys - before.heap_sys >= 150u << 20);
  // Every page of an in-use span maps to it, across arena boundaries.
  for (std::uintptr_t p = s->base; p < s->end(); p += 97 * page_bytes) CHECK(span_of(p) == s);
  CHECK(span_of(s->end() - 1) == s);
  h.verify();
  span* small = take(3);
  CHECK((small->end() <= s->base || small->base >= s->end()));
  h.free(s);
  h.verify();
  span* reuse = take(huge_pages / 2);  // served from the freed run, no growth
  CHECK(reuse->base >= s->base);
  h.verify();
}

TEST_CASE("page heap: many random allocations and frees keep the invariants", "[page_heap]") {
  page_heap& h = page_heap::instance();
  // Earlier cases in the same process may leave spans in use (ctest runs
  // each case alone; the test binary run whole does not).
  const std::uint64_t inuse_before = h.counters().heap_inuse;
  std::vector<span*> live;
  std::uint64_t seed = 12345;
  auto rnd = [&seed] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::size_t>(seed >> 33);
  };
  for (int i = 0; i < 4000; ++i) {
    if (live.empty() || rnd() % 3 != 0) {
      std::size_t n = rnd() % 10 == 0 ? 128 + rnd() % 300 : 1 + rnd() % 40;
      live.push_back(take(n));
    } else {
      std::size_t k = rnd() % live.size();
      h.free(live[k]);
      live[k] = live.back();
      live.pop_back();
    }
    if (i % 500 == 0) h.verify();
  }
  // No two live spans overlap.
  std::sort(live.begin(), live.end(), [](span* x, span* y) { return x->base < y->base; });
  for (std::size_t i = 1; i < live.size(); ++i) CHECK(live[i - 1]->end() <= live[i]->base);
  for (span* s : live) h.free(s);
  h.verify();
  page_heap_counters c = h.counters();
  CHECK(c.heap_inuse == inuse_before);
}

// Step 5 of page_heap.hpp: release returns pages to the OS without the heap
// lock, a piece at a time. Meanwhile the span it works on must be neither
// handed out nor merged into a neighbour that is: a page returned with
// MADV_DONTNEED while in use reads back as zeros, which the pattern check
// below would see.
TEST_CASE("page heap: release beside allocation and free loses no page in use", "[page_heap]") {
  page_heap& h = page_heap::instance();
  const std::uint64_t inuse_before = h.counters().heap_inuse;  // earlier cases' spans, if any
  auto fill = [](span* s, std::uint64_t tag) {
    for (std::uintptr_t p = s->base; p < s->end(); p += page_bytes) {
      reinterpret_cast<std::uint64_t*>(p)[0] = tag ^ p;
      reinterpret_cast<std::uint64_t*>(p + page_bytes)[-1] = ~tag ^ p;
    }
  };
  auto intact = [](const span* s, std::uint64_t tag) {
    for (std::uintptr_t p = s->base; p < s->end(); p += page_bytes) {
      if (reinterpret_cast<const std::uint64_t*>(p)[0] != (tag ^ p)) return false;
      if (reinterpret_cast<const std::uint64_t*>(p + page_bytes)[-1] != (~tag ^ p)) return false;
    }
    return true;
  };
  // Free memory for the releaser to work on from the start.
  std::vector<span*> warm;
  for (int i = 0; i < 64; ++i) warm.push_back(take(1 + i % 40));
  for (span* s : warm) h.free(s);

  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> released{0}, rounds{0};
  std::thread releaser([&] {
    while (!done.load(std::memory_order_relaxed)) {
      released.fetch_add(h.release(256 * 1024), std::memory_order_relaxed);
      rounds.fetch_add(1, std::memory_order_relaxed);
    }
  });
  struct live_span {
    span* s;
    std::uint64_t tag;
  };
  std::vector<live_span> live;
  std::uint64_t seed = 99;
  auto rnd = [&seed] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::size_t>(seed >> 33);
  };
  std::size_t damaged = 0;
  for (int i = 0; i < 6000; ++i) {
    if (live.size() < 8 || rnd() % 2 == 0) {
      span* s = take(rnd() % 8 == 0 ? 128 + rnd() % 200 : 1 + rnd() % 40);
      const std::uint64_t tag = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(i + 1);
      fill(s, tag);
      live.push_back({s, tag});
    } else {
      const std::size_t k = rnd() % live.size();
      damaged += !intact(live[k].s, live[k].tag);
      h.free(live[k].s);
      live[k] = live.back();
      live.pop_back();
    }
    if (i % 1000 == 999) h.verify();
  }
  done.store(true, std::memory_order_relaxed);
  releaser.join();
  for (const live_span& l : live) damaged += !intact(l.s, l.tag);
  CHECK(damaged == 0);
  CHECK(released.load() > 0);
  h.verify();
  for (const live_span& l : live) h.free(l.s);
  // Everything this case took is free now, and release_all returns all of
  // it: the released bytes are exactly the idle ones.
  h.release_all();
  h.verify();
  const page_heap_counters c = h.counters();
  CHECK(c.heap_inuse == inuse_before);
  CHECK(c.heap_released == c.heap_sys - c.heap_inuse);
}

// Step 2(b) of page_heap.hpp: a short span whose pages are not in memory is
// populated as it is handed out; a long one is left to fault in.
TEST_CASE("page heap: a cold short span is handed out in memory, a long one is not", "[page_heap]") {
  const std::size_t os_page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  if (!kernel_can_populate()) {
    WARN("this kernel has no MADV_POPULATE_WRITE (Linux 5.14): nothing to test");
    return;
  }
  page_heap& h = page_heap::instance();
  h.release_all();  // every free page is now out of memory (MADV_DONTNEED by default)
  span* small = take(4);  // from a released run or from fresh growth: cold either way
  span* big = take(64);   // 512 KiB, longer than populate_max_bytes
  CHECK(resident_os_pages(small) == 4 * page_bytes / os_page);
  CHECK(resident_os_pages(big) == 0);
  h.free(small);
  h.free(big);
  h.verify();
}

TEST_CASE("page heap: span structs are made one at a time, not a chunk at once", "[page_heap]") {
  // Step 6 of page_heap.hpp: a new chunk's structs are not all constructed
  // (and their pages faulted in) when it is mapped. Allocating more 1-page
  // spans than one chunk holds, without freeing, must never make the set of
  // structs that for_each_span_struct sees grow by more than the three one
  // allocation can need: the span's struct of its bitmap capacity, the rest
  // of the run it split, and growth's new run.
  page_heap& h = page_heap::instance();
  auto count = [&] {
    std::size_t n = 0;
    h.for_each_span_struct([&](span*) { ++n; });
    return n;
  };
  std::vector<span*> held;
  const std::size_t start = count();
  std::size_t prev = start, max_step = 0;
  // Until more structs than a 64 KiB chunk holds were made: the pool of dead
  // ones, which earlier cases in this process may have filled, runs dry first.
  const std::size_t want = 64 * 1024 / span::struct_bytes(0) + 64;
  for (int i = 0; i < 20000 && prev - start < want; ++i) {
    held.push_back(take(1));
    const std::size_t now = count();
    max_step = std::max(max_step, now - prev);
    prev = now;
  }
  CHECK(prev - start >= want);
  CHECK(max_step <= 3);
  for (span* s : held) h.free(s);
  h.verify();
}

namespace {
// Step 2(c)'s hooks, recording what the populate's blocking region saw.
int blocking_enters = 0, blocking_exits = 0, locks_at_enter = -1;
std::size_t resident_at_enter = ~std::size_t{0};
span* watched = nullptr;
void count_enter() {
  ++blocking_enters;
  locks_at_enter = runtime_locks_held();
  resident_at_enter = resident_os_pages(watched);
}
void count_exit() { ++blocking_exits; }
}  // namespace

TEST_CASE("page heap: inside a populate_later_scope the populate waits for the scope's end, in a blocking region",
          "[page_heap]") {
  const std::size_t os_page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  if (!kernel_can_populate()) {
    WARN("this kernel has no MADV_POPULATE_WRITE (Linux 5.14): nothing to test");
    return;
  }
  page_heap& h = page_heap::instance();
  const alloc_hooks saved = hooks;
  hooks.enter_blocking = count_enter;
  hooks.exit_blocking = count_exit;
  blocking_enters = blocking_exits = 0;
  h.release_all();
  span* s = nullptr;
  {
    populate_later_scope later;
    {
      populate_later_scope nested;  // only the outermost scope populates
      no_stop_scope no_stop;
      s = take(4);
      watched = s;
    }
    CHECK(blocking_enters == 0);
    CHECK(resident_os_pages(s) == 0);  // not yet: the scope is still open
  }
  hooks = saved;
  CHECK(blocking_enters == 1);
  CHECK(blocking_exits == 1);
  CHECK(locks_at_enter == 0);    // outside the no-stop scope
  CHECK(resident_at_enter == 0);  // the populate came inside the region
  CHECK(resident_os_pages(s) == 4 * page_bytes / os_page);
  // Without a scope, alloc populates at once and calls no hook.
  span* t = take(4);
  CHECK(resident_os_pages(t) == 4 * page_bytes / os_page);
  CHECK(blocking_enters == 1);
  h.free(s);
  h.free(t);
  h.verify();
}

TEST_CASE("page heap: an in-use span's struct holds bitmaps sized for its objects, after it", "[page_heap]") {
  // span.hpp, Bitmaps; page_heap.hpp step 6: bitmap_cap_for(nelems) rows
  // of four words follow each in-use span's struct, and a run
  // that comes back with a struct of another capacity moves to one of its
  // own, the page map following.
  page_heap& h = page_heap::instance();
  auto take_class = [&](int c) {
    span_init init;
    init.size_class = static_cast<std::uint8_t>(c);
    init.elem_size = class_to_size[c];
    init.nelems = class_to_nobjs[c];
    init.divmagic = class_to_divmagic[c];
    bool needzero = false;
    span* s = h.alloc(class_to_npages[c], init, needzero);
    REQUIRE(s != nullptr);
    return s;
  };
  for (int round = 0; round < 2; ++round) {  // the second round reuses what the first freed
    std::vector<span*> held;
    for (std::size_t size : {8, 16, 32, 48, 64, 128, 1024, 4096}) {
      const int c = class_for(size, 8);
      span* s = take_class(c);
      const std::size_t cap = bitmap_cap_for(class_to_nobjs[c]);
      CHECK(s->bitmap_cap == cap);
      CHECK(cap * 64 >= s->nelems);
      CHECK(span_of(s->base) == s);
      CHECK(span_of(s->end() - 1) == s);
      // The bitmap rows lie after the struct, cleared: row w holds owner
      // 0's marks, owner 1's marks (or allocate-black's record), then the
      // alloc and mark bits (span.hpp).
      auto* words = reinterpret_cast<std::uint64_t*>(reinterpret_cast<char*>(s) + sizeof(span));
      for (std::size_t w = 0; w < cap; ++w) {
        CHECK(&s->owned_word(0, w) == words + 4 * w);
        CHECK(&s->owned_word(1, w) == words + 4 * w + 1);
        CHECK(&s->alloc_word(w) == words + 4 * w + 2);
        CHECK(&s->mark_word(w) == words + 4 * w + 3);
      }
      CHECK(&s->black_word(0) == &s->owned_word(1, 0));
      CHECK(span::struct_bytes(cap) == (sizeof(span) + 32 * cap + 63) / 64 * 64);
      CHECK(reinterpret_cast<std::uintptr_t>(s) % 64 == 0);  // whole lines (span::struct_bytes)
      for (std::size_t i = 0; i < 4 * cap; ++i) CHECK(words[i] == 0);
      // Fill them: no other span's fields may change (the checks of
      // held spans and verify below).
      for (std::size_t i = 0; i < 4 * cap; ++i) words[i] = ~std::uint64_t{0};
      held.push_back(s);
    }
    span* large = take(3);
    CHECK(large->bitmap_cap == 1);
    CHECK(large->alloc_word(0) == 1);
    for (span* s : held) {
      CHECK(s->state.load() == span_state::in_use);
      CHECK(span_of(s->base) == s);
      CHECK(s->nelems == class_to_nobjs[s->size_class]);
    }
    h.verify();
    for (span* s : held) h.free(s);
    h.free(large);
    h.verify();
  }
  const page_heap_counters c = h.counters();
  CHECK(c.mspan_inuse <= c.mspan_sys);
  CHECK(c.mspan_inuse >= (c.spans_inuse + c.free_spans) * sizeof(span));
}
