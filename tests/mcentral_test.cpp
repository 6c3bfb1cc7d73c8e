// tests/mcentral_test.cpp: the central lists' sweep phase (src/alloc/
// mcentral.hpp): the sweepgen flip, claims, sweeping by allocating threads
// in cache_span, sweep termination, and what free_object declines. The
// collector's sweep hook is replaced here by test hooks, so each test
// decides what sweeping a span does. One thread: no stop of the world is
// needed around begin_sweep_phase, only an empty mcache (no owned span).
#include <catch2/catch.hpp>

#include <gort/gort.hpp>
#include <gort/internal/testing.hpp>

#include <algorithm>
#include <map>
#include <vector>

#include "alloc/alloc.hpp"
#include "test_util.hpp"

using namespace gc::internal;
using gort_test::payload;

namespace {

constexpr int cls64 = class_for(64, 8);
constexpr int spc64 = make_span_class(cls64, false);

// Spans the hook swept, and how often.
std::map<span*, int> swept_spans;

// Sweeps nothing away: every object stays (alloc bits and count unchanged).
void keep_all(span* s) { ++swept_spans[s]; }

// Sweeps everything away, as if no object had been marked.
void free_all(span* s) {
  ++swept_spans[s];
  for (std::size_t w = 0; w < s->bitmap_nwords(); ++w) s->store_alloc_word(w, 0);
  s->alloc_count = 0;
}

// Installs a test hook for the scope, starting from an empty mcache and a
// finished sweep; restores the collector's hook after a finished sweep.
struct with_hook {
  void (*saved)(span*);
  explicit with_hook(void (*hook)(span*)) : saved(hooks.sweep_span) {
    flush_own_mcache();
    finish_sweep();
    swept_spans.clear();
    hooks.sweep_span = hook;
  }
  ~with_hook() {
    flush_own_mcache();
    finish_sweep();
    hooks.sweep_span = saved;
  }
};

std::vector<span*> spans_of(const std::vector<void*>& objs) {
  std::vector<span*> out;
  for (void* p : objs) {
    span* s = find_object(p).s;
    if (out.empty() || out.back() != s) out.push_back(s);
  }
  return out;
}

// Fills n whole spans of the 64-byte class and hands them to mcentral
// (flush_own_mcache): at least n full spans on its lists.
std::vector<void*> fill_spans64(int n) {
  std::vector<void*> objs;
  for (int i = 0; i < n * static_cast<int>(class_to_nobjs[cls64]); ++i) objs.push_back(gc::gc_new<payload<64>>());
  flush_own_mcache();
  return objs;
}

}  // namespace

TEST_CASE("mcentral: the flip makes every listed span unswept, and the sweep takes each exactly once",
          "[mcentral]") {
  with_hook h(keep_all);
  std::vector<void*> objs;
  const int per_span = class_to_nobjs[cls64];
  for (int i = 0; i < 3 * per_span + 10; ++i) objs.push_back(gc::gc_new<payload<64>>());
  void* big = gc::gc_new<payload<100000>>();  // a large object: on central(0)'s list
  flush_own_mcache();                          // three full spans and one partial on the lists
  const std::vector<span*> spans = spans_of(objs);
  REQUIRE(spans.size() == 4);
  span* large = find_object(big).s;

  const std::uint32_t before = heap_sweepgen.load();
  begin_sweep_phase();
  const std::uint32_t sg = heap_sweepgen.load();
  CHECK(sg == before + 2);
  for (span* s : spans) CHECK(s->sweepgen.load() == sg - 2);
  CHECK(large->sweepgen.load() == sg - 2);
  CHECK_FALSE(sweep_finished());

  finish_sweep();
  CHECK(sweep_finished());
  CHECK(sweeps_active.load() == 0);
  for (span* s : spans) {
    CHECK(swept_spans[s] == 1);
    CHECK(s->sweepgen.load() == sg);
  }
  CHECK(swept_spans[large] == 1);
  CHECK(large->sweepgen.load() == sg);
  // Nothing is swept twice: a second finish finds no work.
  const std::size_t n = swept_spans.size();
  finish_sweep();
  CHECK(swept_spans.size() == n);
  for (const auto& [s, times] : swept_spans) CHECK(times == 1);
  // Kept objects are still allocated.
  for (void* p : objs) CHECK(find_object(p).base == p);
}

TEST_CASE("mcentral: an allocating thread sweeps an unswept span of its class instead of growing the heap",
          "[mcentral]") {
  with_hook h(free_all);
  const std::vector<void*> objs = fill_spans64(2);  // three spans if an earlier test left a partial one
  const std::vector<span*> spans = spans_of(objs);
  REQUIRE(spans.size() >= 2);
  CHECK(central(spc64).full_count() >= 2);
  begin_sweep_phase();
  const std::uint64_t inuse = page_heap::instance().counters().heap_inuse;

  // The refill finds no swept span with room: it sweeps an unswept full one
  // (all garbage, by this hook) and allocates from it.
  void* p = gc::gc_new<payload<64>>();
  span* got = find_object(p).s;
  CHECK(std::find(spans.begin(), spans.end(), got) != spans.end());
  CHECK(swept_spans[got] == 1);
  CHECK(got->sweepgen.load() == heap_sweepgen.load());
  CHECK(got->owner.load() != nullptr);
  CHECK(page_heap::instance().counters().heap_inuse == inuse);  // no fresh span
}

TEST_CASE("mcentral: the background sweeper leaves a class being refilled to its threads and sweeps the others",
          "[mcentral]") {
  // Every span swept empty: the refill below sweeps one span of its class
  // and takes it, sweeps proportional_sweep more, and leaves the others
  // unswept.
  with_hook h(free_all);
  constexpr int cls128 = class_for(128, 8);
  std::vector<void*> small, mid;
  constexpr int n64 = 2 + static_cast<int>(mcentral::proportional_sweep);
  for (int i = 0; i < n64 * class_to_nobjs[cls64]; ++i) small.push_back(gc::gc_new<payload<64>>());
  for (int i = 0; i < 2 * class_to_nobjs[cls128]; ++i) mid.push_back(gc::gc_new<payload<128>>());
  flush_own_mcache();
  const std::vector<span*> spans64 = spans_of(small), spans128 = spans_of(mid);
  REQUIRE(spans64.size() >= n64);
  REQUIRE(spans128.size() >= 2);
  begin_sweep_phase();
  // A clock of the test's own: a class is busy while its refills count
  // moved less than `quiet` ago. The first look records every class's count
  // (both classes were refilled from above, so both count as busy).
  constexpr std::uint64_t quiet = 1000;
  std::uint64_t now = 1;
  sweep_watch watch;
  while (sweep_some_cold(max_sweep_batch, watch, now, quiet) != 0) {
  }
  for (span* s : spans64) CHECK(swept_spans[s] == 0);
  for (span* s : spans128) CHECK(swept_spans[s] == 0);
  // Later, this thread refills from the 64-byte class (sweeping one span
  // there itself, which it takes, and proportional_sweep more); both classes were quiet for long enough, but the next
  // look sees the 64-byte class move: it sweeps the 128-byte class and
  // leaves the other.
  now += 2 * quiet;
  void* p = gc::gc_new<payload<64>>();
  REQUIRE(p != nullptr);
  while (sweep_some_cold(max_sweep_batch, watch, now, quiet) != 0) {
  }
  for (span* s : spans128) CHECK(swept_spans[s] == 1);
  std::size_t unswept64 = 0;
  for (span* s : spans64) unswept64 += swept_spans[s] == 0;
  CHECK(unswept64 >= 1);
  CHECK_FALSE(sweep_finished());
  // Still within `quiet` of that refill: still busy.
  now += quiet / 2;
  CHECK(sweep_some_cold(max_sweep_batch, watch, now, quiet) == 0);
  // No refill since, for longer: the class is the background sweeper's again.
  now += quiet;
  while (sweep_some_cold(max_sweep_batch, watch, now, quiet) != 0) {
  }
  for (span* s : spans64) CHECK(swept_spans[s] == 1);
  CHECK(sweep_finished());
}

TEST_CASE("mcentral: free_object declines spans that are not swept yet", "[mcentral]") {
  with_hook h(keep_all);
  std::vector<void*> objs;
  for (int i = 0; i < 100; ++i) objs.push_back(gc::gc_new<payload<64>>());
  void* big = gc::gc_new<payload<100000>>();
  flush_own_mcache();
  begin_sweep_phase();
  // Unswept: the sweeper owns the alloc bits, so the object stays allocated
  // (the collector's next cycle frees it).
  CHECK(testing::free_objects(&objs[0], 1) == 0);
  CHECK(testing::free_objects(&big, 1) == 0);
  CHECK(find_object(objs[0]).base == objs[0]);
  finish_sweep();
  CHECK(testing::free_objects(&objs[0], 1) == 1);
  CHECK(testing::free_objects(&big, 1) == 1);
  CHECK_FALSE(find_object(big));
}

TEST_CASE("mcentral: free_object clears the freed object's mark", "[mcentral]") {
  // A mark kept by a generational sweep (src/gc/sweep.hpp step 5) says
  // "old"; the slot's next object must start young (unmarked).
  with_hook h(keep_all);
  std::vector<void*> objs;
  for (int i = 0; i < 2; ++i) objs.push_back(gc::gc_new<payload<64>>());
  flush_own_mcache();
  begin_sweep_phase();
  finish_sweep();
  const object_ref ref = find_object(objs[1]);
  REQUIRE(ref);
  const std::uintptr_t idx = ref.s->object_index(reinterpret_cast<std::uintptr_t>(objs[1]));
  REQUIRE(ref.s->try_mark(idx));
  REQUIRE(testing::free_objects(&objs[1], 1) == 1);
  CHECK_FALSE(ref.s->is_marked(idx));
}

TEST_CASE("mcentral: an emptied span goes back to the page heap when swept", "[mcentral]") {
  with_hook h(free_all);
  std::vector<void*> objs;
  for (int i = 0; i < class_to_nobjs[cls64]; ++i) objs.push_back(gc::gc_new<payload<64>>());
  void* big = gc::gc_new<payload<100000>>();
  flush_own_mcache();
  const std::uint64_t spans_before = page_heap::instance().counters().spans_inuse;
  begin_sweep_phase();
  finish_sweep();
  CHECK(page_heap::instance().counters().spans_inuse <= spans_before - 2);
  CHECK_FALSE(find_object(objs[0]));
  CHECK_FALSE(find_object(big));
}

TEST_CASE("mcentral: a refill that takes a span sweeps more of its class, and keeps the emptied ones for the class",
          "[mcentral]") {
  with_hook h(free_all);
  const std::vector<void*> objs = fill_spans64(6);  // all garbage to the hook
  REQUIRE(spans_of(objs).size() >= 6);
  begin_sweep_phase();
  const std::uint64_t inuse = page_heap::instance().counters().heap_inuse;

  // The refill sweeps the span it takes and proportional_sweep more: emptied
  // by the hook, those wait on the class's partial list, swept, and stay
  // the class's memory.
  void* p = gc::gc_new<payload<64>>();
  span* got = find_object(p).s;
  CHECK(swept_spans.size() == 1 + mcentral::proportional_sweep);
  CHECK(swept_spans[got] == 1);
  const std::uint32_t sg = heap_sweepgen.load();
  for (const auto& [s, times] : swept_spans) {
    CHECK(times == 1);
    CHECK(s->sweepgen.load() == sg);
    if (s != got) CHECK(s->alloc_count == 0);
  }
  CHECK(page_heap::instance().counters().heap_inuse == inuse);  // none given back, none fresh

  // The next refill takes one of them (the only swept spans with room),
  // sweeping proportional_sweep more again.
  void* q = nullptr;
  for (int i = 0; i < static_cast<int>(class_to_nobjs[cls64]); ++i) {
    q = gc::gc_new<payload<64>>();
    if (find_object(q).s != got) break;
  }
  span* next = find_object(q).s;
  REQUIRE(next != got);
  CHECK(swept_spans.count(next) == 1);
  CHECK(swept_spans[next] == 1);
  CHECK(swept_spans.size() == 1 + 2 * mcentral::proportional_sweep);
  CHECK(page_heap::instance().counters().heap_inuse == inuse);

  // Sweep termination then sweeps the rest; nothing is swept twice.
  finish_sweep();
  for (const auto& [s, times] : swept_spans) CHECK(times == 1);
}

TEST_CASE("mcentral: the spans a refill kept empty go back to the page heap once the class is quiet",
          "[mcentral]") {
  // mcentral.hpp step 6, with the test's own clock as in the background
  // sweeper's test above.
  with_hook h(free_all);
  const std::vector<void*> objs = fill_spans64(6);
  REQUIRE(spans_of(objs).size() >= 6);
  begin_sweep_phase();
  void* p = gc::gc_new<payload<64>>();  // takes a span, keeps proportional_sweep emptied ones
  REQUIRE(p != nullptr);
  CHECK(central(spc64).has_kept_empty());
  const std::uint64_t inuse = page_heap::instance().counters().heap_inuse;

  constexpr std::uint64_t quiet = 1000;
  std::uint64_t now = 1;
  sweep_watch watch;
  bool any_left = false;
  // The first look sees the class's refills move: busy, nothing given back.
  CHECK(release_kept_empty_cold(watch, now, quiet, any_left) == 0);
  CHECK(any_left);
  CHECK(page_heap::instance().counters().heap_inuse == inuse);
  // Still busy a moment later.
  now += quiet / 2;
  CHECK(release_kept_empty_cold(watch, now, quiet, any_left) == 0);
  CHECK(any_left);
  // Quiet for longer than `quiet`: both kept spans go back.
  now += quiet;
  CHECK(release_kept_empty_cold(watch, now, quiet, any_left) == mcentral::proportional_sweep);
  CHECK_FALSE(any_left);
  CHECK_FALSE(central(spc64).has_kept_empty());
  CHECK(page_heap::instance().counters().heap_inuse ==
        inuse - mcentral::proportional_sweep * class_to_npages[cls64] * page_bytes);
  // The span the refill took is still this thread's, and allocates.
  void* q = gc::gc_new<payload<64>>();
  CHECK(find_object(q).s == find_object(p).s);
}

TEST_CASE("mcentral: release_all_kept_empty gives back every class's kept spans, busy or not", "[mcentral]") {
  with_hook h(free_all);
  fill_spans64(6);
  begin_sweep_phase();
  REQUIRE(gc::gc_new<payload<64>>() != nullptr);
  REQUIRE(central(spc64).has_kept_empty());
  const std::uint64_t inuse = page_heap::instance().counters().heap_inuse;
  CHECK(release_all_kept_empty() == mcentral::proportional_sweep);
  CHECK_FALSE(central(spc64).has_kept_empty());
  CHECK(page_heap::instance().counters().heap_inuse < inuse);
  CHECK(release_all_kept_empty() == 0);
}
