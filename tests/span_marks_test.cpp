// tests/span_marks_test.cpp: a span's mark bits (src/alloc/span.hpp): the
// shared array set with a locked OR, the owning marker's array set with plain
// stores, and the sweep's fold of one into the other.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "alloc/alloc.hpp"

using namespace gc::internal;

namespace {
// A span struct that is never in the heap: only its bitmaps are used. Its
// arrays follow it in the same block (span.hpp), sized as the page heap
// sizes them for nelems objects.
span* bare_span(std::uint16_t nelems) {
  span* s = span::make_at(::operator new(span::struct_bytes(bitmap_cap_for(nelems))), bitmap_cap_for(nelems));
  s->nelems = nelems;
  return s;
}
void free_bare_span(span* s) {
  s->~span();
  ::operator delete(s);
}
}  // namespace

TEST_CASE("span marks: each array sees the other's marks, and the fold unites them", "[span]") {
  span* s = bare_span(128);
  CHECK(s->try_mark_owned(5));
  CHECK_FALSE(s->try_mark(5));        // marked by the owner: white to nobody
  CHECK_FALSE(s->try_mark_owned(5));
  CHECK(s->try_mark(70));
  CHECK_FALSE(s->try_mark_owned(70));  // marked by another marker
  CHECK(s->is_marked(5));
  CHECK(s->is_marked(70));
  CHECK_FALSE(s->is_marked(6));
  CHECK(s->fold_mark_word(0) == std::uint64_t{1} << 5);
  CHECK(s->fold_mark_word(1) == std::uint64_t{1} << (70 - 64));
  CHECK(s->mark_bits[0] == std::uint64_t{1} << 5);  // the fold moved the owner's mark
  CHECK(s->owned_marks()[0] == 0);
  CHECK(s->is_marked(5));
  s->unmark(5);
  CHECK_FALSE(s->is_marked(5));
  // take_mark_word: both arrays' marks, both cleared.
  CHECK(s->try_mark_owned(7));
  CHECK(s->try_mark(8));
  CHECK(s->take_mark_word(0) == ((std::uint64_t{1} << 7) | (std::uint64_t{1} << 8)));
  CHECK(s->mark_bits[0] == 0);
  CHECK(s->owned_marks()[0] == 0);
  free_bare_span(s);
}

// The owner's plain stores and other markers' locked ORs land in the same
// words at once: no mark may be lost, which a shared array written with plain
// stores would lose (each side marks its own half of every word, so any lost
// update shows as a clear bit after the fold).
TEST_CASE("span marks: concurrent owner and shared markers lose no mark", "[span]") {
  constexpr std::uint16_t n = 1024;
  for (int round = 0; round < 20; ++round) {
    span* s = bare_span(n);
    std::atomic<int> go{0};
    std::thread other([&] {
      go.fetch_add(1);
      while (go.load() < 2) {
      }
      for (std::uintptr_t i = 1; i < n; i += 2) CHECK(s->try_mark(i));
    });
    go.fetch_add(1);
    while (go.load() < 2) {
    }
    for (std::uintptr_t i = 0; i < n; i += 2) REQUIRE(s->try_mark_owned(i));
    other.join();
    std::size_t marked = 0;
    for (std::size_t w = 0; w < n / 64; ++w) marked += static_cast<std::size_t>(std::popcount(s->fold_mark_word(w)));
    REQUIRE(marked == n);
    free_bare_span(s);
  }
}
