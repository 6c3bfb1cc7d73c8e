// src/common/bits.hpp: bit counting for the allocator's and the sweep's
// bitmaps.
//
// 1. popcount64(x) is the number of set bits of x. Where the compiler may
//    use the popcnt instruction (-mpopcnt, -march=x86-64-v2 or later, or a
//    target that always has one) it is std::popcount. Otherwise GCC and
//    Clang turn std::popcount into a call to libgcc's __popcountdi2, which
//    was 1% of binary-trees' samples on the program's thread (each window
//    refill counts two or three words, each swept span one per word of
//    bits); then it is the branch-free SWAR count inline: pairs, nibbles,
//    bytes, then one multiply that sums the eight byte counts into the top
//    byte.
//
// Invariant: popcount64(x) == std::popcount(x) for every x (tested in
// tests/bits_test.cpp against std::popcount).
#pragma once

#include <bit>
#include <cstdint>

namespace gc::internal {

#if defined(__POPCNT__) || !(defined(__x86_64__) || defined(__i386__))
constexpr unsigned popcount64(std::uint64_t x) noexcept { return static_cast<unsigned>(std::popcount(x)); }
#else
constexpr unsigned popcount64(std::uint64_t x) noexcept {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return static_cast<unsigned>((x * 0x0101010101010101ull) >> 56);
}
#endif

}  // namespace gc::internal
