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

TEST_CASE("span marks: each column sees the others' marks, and the fold unites them", "[span]") {
  span* s = bare_span(128);
  CHECK(s->try_mark_owned<0>(5));
  CHECK_FALSE(s->try_mark(5));        // marked by the owner: white to nobody
  CHECK_FALSE(s->try_mark_owned<0>(5));
  CHECK(s->try_mark(70));
  CHECK_FALSE(s->try_mark_owned<0>(70));  // marked by another marker
  CHECK(s->is_marked(5));
  CHECK(s->is_marked(70));
  CHECK_FALSE(s->is_marked(6));
  CHECK(s->fold_mark_word(0) == std::uint64_t{1} << 5);
  CHECK(s->fold_mark_word(1) == std::uint64_t{1} << (70 - 64));
  CHECK(s->mark_word(0) == std::uint64_t{1} << 5);  // the fold moved the owner's mark
  CHECK(s->owned_word(0, 0) == 0);
  CHECK(s->is_marked(5));
  s->unmark(5);
  CHECK_FALSE(s->is_marked(5));
  // The second owner's column: seen by the first owner and the shared
  // markers, and it sees theirs.
  CHECK(s->try_mark_owned<1>(9));
  CHECK_FALSE(s->try_mark_owned<0>(9));
  CHECK_FALSE(s->try_mark(9));
  CHECK_FALSE(s->try_mark_owned<1>(9));
  CHECK_FALSE(s->try_mark_owned<1>(70));  // the shared marker's
  CHECK(s->try_mark_owned<0>(10));
  CHECK_FALSE(s->try_mark_owned<1>(10));  // the first owner's
  CHECK(s->is_marked(9));
  CHECK(s->owned_word(1, 0) == std::uint64_t{1} << 9);
  // take_mark_word: all three columns' marks, all cleared.
  CHECK(s->try_mark_owned<0>(7));
  CHECK(s->try_mark(8));
  CHECK(s->take_mark_word(0) == ((std::uint64_t{1} << 7) | (std::uint64_t{1} << 8) | (std::uint64_t{1} << 9) |
                                 (std::uint64_t{1} << 10)));
  CHECK(s->mark_word(0) == 0);
  CHECK(s->owned_word(0, 0) == 0);
  CHECK(s->owned_word(1, 0) == 0);
  // fold_mark_word gathers the second owner's marks too.
  CHECK(s->try_mark_owned<1>(3));
  CHECK(s->fold_mark_word(0) == std::uint64_t{1} << 3);
  CHECK(s->owned_word(1, 0) == 0);
  CHECK(s->mark_word(0) == std::uint64_t{1} << 3);
  free_bare_span(s);
}

// The owners' plain stores and other markers' locked ORs land in the same
// words at once: no mark may be lost, which a shared array written with plain
// stores would lose (each side marks its own third of every word, so any
// lost update shows as a clear bit after the fold).
TEST_CASE("span marks: concurrent owner and shared markers lose no mark", "[span]") {
  constexpr std::uint16_t n = 1024;
  for (int round = 0; round < 20; ++round) {
    span* s = bare_span(n);
    std::atomic<int> go{0};
    // Each marker takes every third object: the first owner, the second
    // owner and a shared marker write the same words at once. Each counts
    // the objects it found white (Catch's assertions are for the main
    // thread only).
    std::atomic<std::uintptr_t> shared_white{0}, second_white{0};
    std::thread other([&] {
      go.fetch_add(1);
      while (go.load() < 3) {
      }
      for (std::uintptr_t i = 1; i < n; i += 3) shared_white.fetch_add(s->try_mark(i) ? 1 : 0);
    });
    std::thread second_owner([&] {
      go.fetch_add(1);
      while (go.load() < 3) {
      }
      for (std::uintptr_t i = 2; i < n; i += 3) second_white.fetch_add(s->try_mark_owned<1>(i) ? 1 : 0);
    });
    go.fetch_add(1);
    while (go.load() < 3) {
    }
    std::uintptr_t first_white = 0;
    for (std::uintptr_t i = 0; i < n; i += 3) first_white += s->try_mark_owned<0>(i) ? 1 : 0;
    other.join();
    second_owner.join();
    REQUIRE(first_white == (n + 2) / 3);
    REQUIRE(shared_white.load() == (n + 1) / 3);
    REQUIRE(second_white.load() == n / 3);
    std::size_t marked = 0;
    for (std::size_t w = 0; w < n / 64; ++w) marked += static_cast<std::size_t>(std::popcount(s->fold_mark_word(w)));
    REQUIRE(marked == n);
    free_bare_span(s);
  }
}
