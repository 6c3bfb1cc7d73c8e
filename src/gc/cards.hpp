// src/gc/cards.hpp: the card table, the remembered set of minor collections
// (GODEBUG=gcgen=1; docs/design.md section 3).
//
// Algorithm
// 1. A card is 512 bytes of address space; its byte in the table is nonzero
//    ("dirty") once a gc pointer was stored into a slot inside it since the
//    card was last cleared. The table is one flat array indexed by
//    (address >> 9) & (2^32 - 1): 4 GiB of address space reserved with
//    MAP_NORESERVE, of which only the pages of cards ever written cost
//    memory (1/512 of the heap, 0.2%). Two addresses alias when they differ
//    by a multiple of 2 TiB.
// 2. The inline barrier (<gort/internal/barrier.hpp>, mark_card) dirties the
//    slot's card at every store of gc::member, gc::root and
//    gc::write_barrier, initialising stores included, and barriered_copy
//    dirties the cards of its destination. It does so once enable() has
//    published the table and then set barrier_cards in the flags that the
//    inline barrier already reads (barrier_flags, init_barrier_state), so
//    that a program without minor collections pays nothing for them. The
//    first cycle after enable() is a full one (stores made before it
//    dirtied nothing).
// 3. The collector reads the table with the world stopped: clear_range before
//    a major mark (every card of the heap's extent clean), and
//    take_dirty over the same extent before a minor mark (each dirty card
//    handed to the caller and cleared).
//
// Invariants
// - The table covers [heap_lo, heap_hi) without aliasing while
//   heap_hi - heap_lo <= covered_bytes (2 TiB); usable() says so, and the
//   collector runs no minor cycle otherwise.
// - A card is cleared only with the world stopped, so no store can fall
//   between the scan of a card's objects and its clearing.
//
// Reference: Whippet's field-logging and card barriers; Demers et al.,
// "Combining generational and conservative garbage collection" (1990).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::internal::cards {

inline constexpr std::size_t card_shift = 9;
inline constexpr std::uintptr_t card_bytes = std::uintptr_t{1} << card_shift;
inline constexpr std::uintptr_t covered_bytes = std::uintptr_t{1} << (32 + card_shift);  // 2 TiB

// Reserves the table and publishes it to the barrier (step 2). Idempotent;
// false if the address space could not be reserved.
bool enable();
bool enabled();
// Can the table describe every heap address without aliasing (invariants)?
bool usable(std::uintptr_t heap_lo, std::uintptr_t heap_hi);
// World stopped: every card of [lo, hi) clean.
void clear_range(std::uintptr_t lo, std::uintptr_t hi);
// World stopped: calls f(card_start) for every dirty card of [lo, hi) (lo
// rounded down to a card), clearing each before the call. Returns the
// number of dirty cards.
template <class F>
std::size_t take_dirty(std::uintptr_t lo, std::uintptr_t hi, F&& f);

namespace detail {
std::uint8_t* table();  // null until enable()
inline std::size_t index(std::uintptr_t a) { return (a >> card_shift) & ((std::uintptr_t{1} << 32) - 1); }
}  // namespace detail

template <class F>
std::size_t take_dirty(std::uintptr_t lo, std::uintptr_t hi, F&& f) {
  std::uint8_t* t = detail::table();
  if (t == nullptr) return 0;
  std::size_t n = 0;
  lo &= ~(card_bytes - 1);
  std::uintptr_t a = lo;
  // Eight cards at a time while they are clean (most are, in a heap whose
  // old objects are rarely written).
  while (a < hi) {
    const std::size_t i = detail::index(a);
    if ((i & 7) == 0 && a + 8 * card_bytes <= hi) {
      if (__atomic_load_n(reinterpret_cast<const std::uint64_t*>(t + i), __ATOMIC_RELAXED) == 0) {
        a += 8 * card_bytes;
        continue;
      }
    }
    if (__atomic_load_n(t + i, __ATOMIC_RELAXED) != 0) {
      __atomic_store_n(t + i, std::uint8_t{0}, __ATOMIC_RELAXED);
      ++n;
      f(a);
    }
    a += card_bytes;
  }
  return n;
}

}  // namespace gc::internal::cards
