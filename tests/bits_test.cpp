// Tests for src/common/bits.hpp: popcount64 against std::popcount.
#include <catch2/catch.hpp>

#include <bit>
#include <cstdint>

#include "common/bits.hpp"

using gc::internal::popcount64;

static_assert(popcount64(0) == 0);
static_assert(popcount64(~std::uint64_t{0}) == 64);
static_assert(popcount64(0x8000000000000001ull) == 2);

TEST_CASE("bits: popcount64 counts as std::popcount does", "[bits]") {
  // Every single bit, every run of low bits, and their complements.
  for (int i = 0; i < 64; ++i) {
    const std::uint64_t bit = std::uint64_t{1} << i;
    const std::uint64_t low = bit - 1;
    CHECK(popcount64(bit) == 1);
    CHECK(popcount64(low) == static_cast<unsigned>(i));
    CHECK(popcount64(~bit) == 63);
    CHECK(popcount64(~low) == static_cast<unsigned>(64 - i));
  }
  // A million words from a fixed xorshift sequence (sparse, dense, mixed).
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 1'000'000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const std::uint64_t words[3] = {x, x & (x >> 1) & (x >> 2), x | (x << 3)};
    for (std::uint64_t w : words) {
      if (popcount64(w) != static_cast<unsigned>(std::popcount(w))) {
        FAIL("popcount64(" << w << ") = " << popcount64(w) << ", std::popcount says " << std::popcount(w));
      }
    }
  }
}
