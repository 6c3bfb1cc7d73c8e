// bench/latency/batch_common.hpp: what latency.cpp and batch_floor.cpp
// share, so that both time the same batches: the random slot sequence
// (xorshift64*, one fixed seed) and the parsing of their positive-integer
// arguments. bench/mark_throughput.cpp builds its "lists" heap with the
// same sequence.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace batch_common {

// The next slot choice: xorshift64* from a fixed seed, the same sequence in
// every program that includes this (one state per program).
inline std::uint64_t rng_state = 0x9e3779b97f4a7c15ull;
inline std::uint64_t next_random() {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

// A positive integer argument, or `fallback` when absent (s == nullptr);
// anything else prints `usage` and exits with status 2.
inline long parse_positive(const char* s, long fallback, const char* usage) {
  if (s == nullptr) return fallback;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v <= 0) {
    std::fprintf(stderr, "usage: %s (positive integers)\n", usage);
    std::exit(2);
  }
  return v;
}

}  // namespace batch_common
