// Independent checks of the generated size-class tables
// (include/gort/internal/size_classes.hpp).  Nothing here reuses the
// generator's code: every property is recomputed from the tables alone.

#include <catch2/catch.hpp>

#include <gort/internal/size_classes.hpp>

#include <cstddef>
#include <cstdint>
#include <iterator>

namespace gi = gc::internal;

namespace {

// Smallest class index whose size is >= size, by linear scan; 0 if none.
int smallest_fitting_class(std::size_t size) {
  for (int c = 1; c < gi::num_size_classes; ++c)
    if (gi::class_to_size[c] >= size) return c;
  return 0;
}

// The allocator's lookup path for a small size (1..max_small_size).
int lookup_class(std::size_t size) {
  if (size <= 1024) return gi::size_to_class8[(size + 7) >> 3];
  return gi::size_to_class128[(size - 1024 + 127) >> 7];
}

}  // namespace

TEST_CASE("size class constants are consistent", "[size_classes]") {
  CHECK(gi::page_bytes == (std::size_t{1} << gi::page_shift));
  CHECK(gi::page_bytes == 8192);
  CHECK(gi::max_small_size == 32768);
  CHECK(gi::max_objects_per_span == 1024);
  CHECK(gi::num_size_classes >= 61);  // class 0 + at least 60 real classes
  CHECK(gi::num_size_classes <= 81);
  CHECK(std::size(gi::size_to_class8) == 1024 / 8 + 1);
  CHECK(std::size(gi::size_to_class128) == (gi::max_small_size - 1024) / 128 + 1);
}

TEST_CASE("class 0 is the no-class entry", "[size_classes]") {
  CHECK(gi::class_to_size[0] == 0);
  CHECK(gi::class_to_npages[0] == 0);
  CHECK(gi::class_to_nobjs[0] == 0);
  CHECK(gi::class_to_divmagic[0] == 0);
}

TEST_CASE("class sizes increase, are multiples of 8, and end at 32768", "[size_classes]") {
  for (int c = 1; c < gi::num_size_classes; ++c) {
    const std::uint32_t size = gi::class_to_size[c];
    INFO("class " << c << " size " << size << " previous " << gi::class_to_size[c - 1]);
    CHECK(size % 8 == 0);
    CHECK(size > gi::class_to_size[c - 1]);
    CHECK(size <= gi::max_small_size);
  }
  CHECK(gi::class_to_size[1] == 8);
  CHECK(gi::class_to_size[gi::num_size_classes - 1] == gi::max_small_size);
}

TEST_CASE("span geometry: object counts and tail waste", "[size_classes]") {
  for (int c = 1; c < gi::num_size_classes; ++c) {
    const std::size_t size = gi::class_to_size[c];
    const std::size_t npages = gi::class_to_npages[c];
    const std::size_t span = npages * gi::page_bytes;
    const std::size_t nobjs = gi::class_to_nobjs[c];
    INFO("class " << c << " size " << size << " npages " << npages << " nobjs " << nobjs);
    REQUIRE(npages >= 1);
    CHECK(nobjs == span / size);
    CHECK(nobjs >= 1);
    CHECK(nobjs <= gi::max_objects_per_span);
    const std::size_t tail = span - nobjs * size;
    INFO("tail waste " << tail << " of " << span << " bytes");
    CHECK(tail * 8 <= span);  // at most 12.5%
  }
}

TEST_CASE("powers of two from 8 to 8192 are classes", "[size_classes]") {
  for (std::size_t p = 8; p <= 8192; p *= 2) {
    INFO("power of two " << p);
    const int c = smallest_fitting_class(p);
    REQUIRE(c != 0);
    CHECK(gi::class_to_size[c] == p);
  }
}

TEST_CASE("worst-case internal waste above 128 bytes is at most 12.5%", "[size_classes]") {
  for (int c = 1; c < gi::num_size_classes; ++c) {
    const std::size_t size = gi::class_to_size[c];
    if (size <= 128) continue;
    // The worst request landing in class c is one byte above class c-1.
    const std::size_t worst = gi::class_to_size[c - 1] + 1;
    INFO("class " << c << " size " << size << " worst request " << worst);
    CHECK((size - worst) * 8 <= size);
  }
}

TEST_CASE("every small size maps to the smallest fitting class", "[size_classes]") {
  // Entry 0 of size_to_class8 (size 0) must still name a real class.
  CHECK(gi::size_to_class8[0] == 1);
  int mismatches = 0;
  for (std::size_t size = 1; size <= gi::max_small_size; ++size) {
    const int want = smallest_fitting_class(size);
    const int got = lookup_class(size);
    if (got != want) {
      ++mismatches;
      if (mismatches <= 10) {
        INFO("size " << size << " looked up class " << got << " (size "
                     << (got >= 0 && got < gi::num_size_classes ? gi::class_to_size[got] : 0)
                     << "), smallest fitting class is " << want << " (size "
                     << gi::class_to_size[want] << ")");
        CHECK(got == want);
      }
    }
  }
  INFO(mismatches << " sizes in 1.." << gi::max_small_size << " map to the wrong class");
  CHECK(mismatches == 0);
}

TEST_CASE("magic division is exact for every offset in every span", "[size_classes]") {
  for (int c = 1; c < gi::num_size_classes; ++c) {
    const std::uint64_t size = gi::class_to_size[c];
    const std::uint64_t magic = gi::class_to_divmagic[c];
    const std::uint64_t span = std::uint64_t{gi::class_to_npages[c]} * gi::page_bytes;
    std::uint64_t first_bad = span;
    for (std::uint64_t off = 0; off < span; ++off) {
      if (((off * magic) >> 32) != off / size) {
        first_bad = off;
        break;
      }
    }
    INFO("class " << c << " size " << size << " divmagic " << magic << " span " << span
                  << " first wrong offset " << first_bad);
    CHECK(first_bad == span);
  }
}
