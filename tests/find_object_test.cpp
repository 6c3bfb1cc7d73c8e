// tests/find_object_test.cpp: find_object (src/alloc/arena.hpp) on base,
// interior, one-past-the-end, free-slot, non-heap and huge-object addresses.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>
#include <gort/internal/testing.hpp>

#include <cstdlib>

#include "alloc/alloc.hpp"
#include "test_util.hpp"

using namespace gc::internal;
using gort_test::payload;

TEST_CASE("find_object: base and interior pointers of small objects", "[find_object]") {
  auto* a = gc::gc_new<payload<48>>();
  auto* b = gc::gc_new<payload<48>>();
  object_ref r = find_object(a);
  REQUIRE(r);
  CHECK(r.base == a);
  CHECK(r.s->elem_size == 48);
  CHECK_FALSE(r.s->noscan);
  auto base = reinterpret_cast<std::uintptr_t>(a);
  for (std::uintptr_t off = 1; off < 48; ++off) {
    object_ref ri = find_object(base + off);
    REQUIRE(ri);
    CHECK(ri.base == a);
  }
  CHECK(find_object(b).base == b);
}

TEST_CASE("find_object: one past the end is the next slot, or nothing", "[find_object]") {
  auto* a = gc::gc_new<payload<64>>();
  auto end = reinterpret_cast<std::uintptr_t>(a) + 64;
  // The next slot of the window is free: one-past-the-end finds nothing.
  CHECK_FALSE(find_object(end));
  auto* b = gc::gc_new<payload<64>>();
  REQUIRE(reinterpret_cast<std::uintptr_t>(b) == end);  // the window hands out slots in address order
  CHECK(find_object(end).base == b);

  // One past the last object of a span is its tail waste or the next span:
  // never the last object.
  object_ref r = find_object(a);
  std::uintptr_t last_end = r.s->limit;
  object_ref past = find_object(last_end);
  CHECK(past.base != reinterpret_cast<void*>(last_end - 64));
}

TEST_CASE("find_object: free slots find nothing", "[find_object]") {
  void* objs[8];
  for (auto& p : objs) p = gc::gc_new<payload<96>>();
  // Slots after the last allocated one, in the current window, are free.
  auto next = reinterpret_cast<std::uintptr_t>(objs[7]) + 96;
  CHECK_FALSE(find_object(next));
  CHECK_FALSE(find_object(next + 17));
  // Free the middle ones (this also retires the window into the bitmap).
  REQUIRE(testing::free_objects(&objs[2], 3) == 3);
  for (int i = 0; i < 8; ++i) {
    INFO("object " << i);
    bool freed = i >= 2 && i < 5;
    CHECK(bool(find_object(objs[i])) == !freed);
    CHECK(bool(find_object(reinterpret_cast<std::uintptr_t>(objs[i]) + 50)) == !freed);
  }
}

TEST_CASE("find_object: addresses outside the heap find nothing", "[find_object]") {
  auto* anchor = gc::gc_new<payload<16>>();  // make sure a heap exists
  REQUIRE(find_object(anchor));
  int local = 0;
  void* malloced = std::malloc(64);
  static int global = 0;
  CHECK_FALSE(find_object(&local));
  CHECK_FALSE(find_object(malloced));
  CHECK_FALSE(find_object(&global));
  CHECK_FALSE(find_object(std::uintptr_t{0}));
  CHECK_FALSE(find_object(std::uintptr_t{8}));
  CHECK_FALSE(find_object(~std::uintptr_t{0}));
  CHECK_FALSE(find_object(std::uintptr_t{1} << 47));
  CHECK_FALSE(find_object(std::uintptr_t{1} << 50));  // beyond the 48-bit index
  // Reserved but not yet committed part of the arena: no span.
  object_ref r = find_object(anchor);
  std::uintptr_t arena_end = (r.s->base | (arena_bytes - 1)) + 1;
  CHECK_FALSE(find_object(arena_end - 8));
  std::free(malloced);
}

TEST_CASE("find_object: huge objects, interior and one past the end", "[find_object]") {
  const std::size_t bytes = 100u << 20;  // 100 MiB, spans two arenas or more
  char* big = gc::gc_new<char[]>(bytes);
  object_ref r = find_object(big);
  REQUIRE(r);
  CHECK(r.base == big);
  CHECK(r.s->size_class == 0);
  CHECK(r.s->noscan);
  for (std::size_t off : {std::size_t{1}, std::size_t{4096}, std::size_t{64} << 20, bytes / 2 + 3, bytes - 1}) {
    INFO("offset " << off);
    CHECK(find_object(big + off).base == big);
  }
  // Past the end of the object's pages: another span or nothing, never big.
  CHECK(find_object(big + bytes).base != big);
  REQUIRE(testing::free_objects(reinterpret_cast<void* const*>(&big), 1) == 1);
  CHECK_FALSE(find_object(big));
  CHECK_FALSE(find_object(big + bytes / 2));
}

TEST_CASE("find_object: tiny objects resolve to their 16-byte block", "[find_object]") {
  auto* x = gc::gc_new<std::uint32_t>(1u);
  auto* y = gc::gc_new<std::uint32_t>(2u);
  object_ref rx = find_object(x);
  REQUIRE(rx);
  CHECK(rx.s->elem_size == 16);
  CHECK(rx.s->noscan);
  CHECK(find_object(y).base == rx.base);
}
