// src/gc/checkmark.cpp: the checkmark bit set. The algorithm is in
// checkmark.hpp; the second marking pass itself is the marker's checkmark
// mode (mark.cpp) driven by the cycle (collector.cpp).
#include "gc/checkmark.hpp"

#include <atomic>
#include <cstring>

#include "alloc/alloc.hpp"
#include "common/check.hpp"
#include "os/os.hpp"

namespace gc::internal::checkmark {

namespace {

constexpr std::size_t granule = 8;
constexpr std::size_t bits_per_arena = arena_bytes / granule;
constexpr std::size_t words_per_arena = bits_per_arena / 64;

// One arena's bits, mapped on first use, kept on a list so clear_all
// touches only arenas that were marked.
struct arena_bits {
  arena_bits* next;
  std::uint64_t words[words_per_arena];
};

// Indexed by arena number (address >> arena_shift). A reservation of
// arena_index_size pointers: the OS backs only the pages touched.
arena_bits** directory = nullptr;  // cycle thread only, world stopped
arena_bits* touched = nullptr;     // cycle thread only, world stopped
std::atomic<std::uint64_t> verified{0};  // atomic: written by the cycle thread, read by anyone

arena_bits& bits_of(std::size_t arena) {
  if (directory == nullptr) {
    directory = static_cast<arena_bits**>(os::map_metadata(arena_index_size * sizeof(arena_bits*)));
    GORT_CHECK(directory != nullptr, "gccheckmark: cannot map the checkmark directory ({} bytes)",
               arena_index_size * sizeof(arena_bits*));
  }
  arena_bits*& b = directory[arena];
  if (b == nullptr) {
    b = static_cast<arena_bits*>(os::map_metadata(sizeof(arena_bits)));
    GORT_CHECK(b != nullptr, "gccheckmark: cannot map {} bytes of checkmark bits for arena {:#x}", sizeof(arena_bits),
               arena << arena_shift);
    b->next = touched;
    touched = b;
  }
  return *b;
}

}  // namespace

bool set(std::uintptr_t base) {
  const std::size_t arena = base >> arena_shift;
  GORT_CHECK(arena < arena_index_size, "gccheckmark: object {:#x} lies outside the address space of arenas", base);
  const std::size_t bit = (base & (arena_bytes - 1)) / granule;
  std::uint64_t& word = bits_of(arena).words[bit / 64];
  const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
  if (word & mask) return false;
  word |= mask;
  return true;
}

void clear_all() {
  for (arena_bits* b = touched; b != nullptr; b = b->next) std::memset(b->words, 0, sizeof b->words);
  verified.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t cycles_verified() { return verified.load(std::memory_order_relaxed); }

}  // namespace gc::internal::checkmark
