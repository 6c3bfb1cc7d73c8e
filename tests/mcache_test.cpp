// tests/mcache_test.cpp: the per-thread cache (src/alloc/mcache.cpp and the
// fast path in <gort/internal/mcache.hpp>): windows, refills, span hand-offs
// to mcentral, the flush at thread exit.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>
#include <gort/internal/testing.hpp>

#include <bit>
#include <set>
#include <thread>

#include "alloc/alloc.hpp"
#include "test_util.hpp"

using namespace gc::internal;
using gort_test::payload;

namespace {
constexpr int cls48 = class_for(48, 8);
constexpr int spc48 = make_span_class(cls48, false);
constexpr int cls128 = class_for(128, 8);
constexpr int spc128 = make_span_class(cls128, false);
}  // namespace

TEST_CASE("mcache: a span's objects are handed out in address order, window by window", "[mcache]") {
  const int per_span = class_to_nobjs[cls48];
  REQUIRE(per_span > 64);  // spans several windows
  std::vector<std::uintptr_t> addrs;
  for (int i = 0; i < per_span; ++i) addrs.push_back(reinterpret_cast<std::uintptr_t>(gc::gc_new<payload<48>>()));
  for (int i = 1; i < per_span; ++i) CHECK(addrs[i] == addrs[i - 1] + 48);
  CHECK(tls_mcache->slots[spc48].s->alloc_count >= 64);  // full windows retired into the bitmap
  // The next allocation needs a new span.
  std::uintptr_t next = reinterpret_cast<std::uintptr_t>(gc::gc_new<payload<48>>());
  object_ref first = find_object(addrs[0]);
  REQUIRE(first);
  CHECK((next < first.s->base || next >= first.s->end()));
  CHECK(first.s->alloc_count == static_cast<std::uint32_t>(per_span));
  CHECK(first.s->owner.load() == nullptr);  // given back to mcentral
  CHECK(central(spc48).full_count() == 1);
}

TEST_CASE("mcache: a thread's cache is flushed when it exits", "[mcache]") {
  std::vector<void*> objs;
  std::thread t([&] {
    for (int i = 0; i < 10; ++i) objs.push_back(gc::gc_new<payload<128>>());
  });
  t.join();
  object_ref r = find_object(objs[0]);
  REQUIRE(r);
  CHECK(r.s->owner.load() == nullptr);
  CHECK(r.s->alloc_count == 10);  // the window was written into the alloc bits
  CHECK(central(spc128).partial_count() == 1);
  for (void* p : objs) CHECK(find_object(p).base == p);

  // This thread now takes the same partial span and fills its free slots.
  std::set<void*> theirs(objs.begin(), objs.end());
  for (int i = 0; i < 20; ++i) {
    void* p = gc::gc_new<payload<128>>();
    CHECK(find_object(p).s == r.s);
    CHECK(theirs.count(p) == 0);
  }
  CHECK(central(spc128).partial_count() == 0);
}

TEST_CASE("mcache: freed slots are reused after the span goes back to mcentral", "[mcache]") {
  std::vector<void*> objs;
  for (int i = 0; i < 3 * class_to_nobjs[cls128]; ++i) objs.push_back(gc::gc_new<payload<128>>());
  std::vector<void*> odd;
  for (std::size_t i = 1; i < objs.size(); i += 2) odd.push_back(objs[i]);
  REQUIRE(testing::free_objects(odd.data(), odd.size()) == odd.size());
  std::set<void*> freed(odd.begin(), odd.end());
  std::size_t reused = 0;
  for (std::size_t i = 0; i < odd.size(); ++i) reused += freed.count(gc::gc_new<payload<128>>());
  CHECK(reused == odd.size());  // every freed slot comes back before fresh memory is used
}

TEST_CASE("mcache: a span emptied by frees goes back to the page heap", "[mcache]") {
  std::vector<void*> objs;
  for (int i = 0; i < class_to_nobjs[cls128] * 3; ++i) objs.push_back(gc::gc_new<payload<128>>());
  std::uint64_t spans_before = page_heap::instance().counters().spans_inuse;
  REQUIRE(testing::free_objects(objs.data(), objs.size()) == objs.size());
  CHECK(page_heap::instance().counters().spans_inuse == spans_before - 3);
  testing::verify_heap();
}

TEST_CASE("mcache: may_be_initialising names the last object popped and the window's free slots, nothing else",
          "[mcache]") {
  // What the checkmark pass exempts (alloc.hpp): an object its thread may
  // still be zeroing. The owner is the caller here, so the window is stable.
  flush_own_mcache();
  void* obj[4];
  for (void*& p : obj) p = gc::gc_new<payload<48>>();
  const object_ref r = find_object(obj[0]);
  REQUIRE(r);
  span* s = r.s;
  const std::uintptr_t w = s->object_index(reinterpret_cast<std::uintptr_t>(obj[0])) / 64;
  for (void* p : obj) {
    REQUIRE(find_object(p).s == s);
    REQUIRE(s->object_index(reinterpret_cast<std::uintptr_t>(p)) / 64 == w);  // one window
  }
  REQUIRE(s->owner.load() == &tls_mcache->slots[spc48]);
  auto maybe = [&](void* p) { return may_be_initialising(s, reinterpret_cast<std::uintptr_t>(p)); };
  CHECK_FALSE(maybe(obj[0]));
  CHECK_FALSE(maybe(obj[1]));
  CHECK_FALSE(maybe(obj[2]));
  CHECK(maybe(obj[3]));  // the last one popped
  const alloc_slot& slot = tls_mcache->slots[spc48];
  if (const std::uint64_t free = slot.free_bits.load()) {
    const std::uintptr_t next_free = slot.window_base.load() + 48 * static_cast<unsigned>(std::countr_zero(free));
    CHECK(may_be_initialising(s, next_free));  // a free slot of the current window
    // One more allocation takes it: now it is the last, and obj[3] is not.
    void* more = gc::gc_new<payload<48>>();
    CHECK(reinterpret_cast<std::uintptr_t>(more) == next_free);
    CHECK(maybe(more));
    CHECK_FALSE(maybe(obj[3]));
  }
  // Once the window is retired, nothing in the span is in the middle of its
  // allocation any more.
  flush_own_mcache();
  for (void* p : obj) CHECK_FALSE(maybe(p));
}
