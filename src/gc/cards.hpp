// src/gc/cards.hpp: the card table, the remembered set of minor collections
// (GODEBUG=gcgen=1; docs/design.md section 3).
//
// Algorithm
// 1. A card is 512 bytes of address space; its byte in a table is nonzero
//    ("dirty") once a gc pointer was stored into a slot inside it since the
//    card was last cleared. A table is one flat array indexed by
//    (address >> 9) & (2^32 - 1): 4 GiB of address space reserved with
//    MAP_NORESERVE, of which only the pages of cards ever written cost
//    memory (1/512 of the heap, 0.2%). Two addresses alias when they differ
//    by a multiple of 2 TiB.
// 2. There are two tables. The barrier writes one (card_table, the "write"
//    table); the other (the "read" table) belongs to the collector. At each
//    mark start, with the world stopped, flip() swaps them: the stores made
//    since the last mark start are then in the read table, which this
//    mark's card pass reads and clears while the program runs, and every
//    store made during the mark goes to the new write table, where it stays
//    for the next minor mark (docs/design.md section 3, "two card tables").
// 3. The inline barrier (<gort/internal/barrier.hpp>, mark_card) dirties the
//    slot's card at every store of gc::member, gc::root and
//    gc::write_barrier, initialising stores included, after the store and
//    before it reads the marking flag again (the order that makes a stop
//    between the store and the card harmless: barrier.cpp, step 3), and
//    barriered_copy dirties the cards of its destination. It does so once
//    enable() has published the tables and then set barrier_cards in the
//    flags that the inline barrier already reads (barrier_flags,
//    init_barrier_state), so that a program without minor collections pays
//    nothing for them. The first cycle after enable() is a full one (stores
//    made before it dirtied nothing).
//    A program built with the barrier's generational layout
//    (GORT_GENERATIONAL_BARRIER; barrier.hpp, mark_card_if_clean) tests the
//    table's pointer instead of barrier_cards, inline, and stores into a
//    card only when it reads it clean: a card that some store of this
//    epoch already dirtied stays dirty until a flip gives its table to the
//    collector, so the skipped store loses nothing.
// 4. The collector reads the read table: a minor mark's card pass
//    (take_dirty: each dirty card handed to the caller and cleared), and a
//    full mark's clear_range (it traces everything, so the table's cards
//    are not needed), both over the heap's extent at the time.
//
// Invariants
// - A table covers [heap_lo, heap_hi) without aliasing while
//   heap_hi - heap_lo <= covered_bytes (2 TiB); usable() says so, and the
//   collector runs no minor cycle otherwise.
// - Every store into a slot since the last flip dirtied the slot's card in
//   the write table, or found it dirty there (the generational layout);
//   or in the read table, if its thread had loaded the
//   table's address before the flip's stop (a card store straddling the
//   stop); or, for a store made before the flip whose card was stored
//   after it, in the new write table, and then that mark shaded its value
//   (barrier.cpp, step 3). A card left dirty in the read table after its
//   pass stays dirty until the pass after next reads it: extra work, never
//   a miss.
// - The write table at a flip was cleared by the pass that last read it
//   (but for cards written late, as above).
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

// Reserves the tables and publishes one to the barrier (step 3).
// Idempotent; false if the address space could not be reserved.
bool enable();
bool enabled();
// Can a table describe every heap address without aliasing (invariants)?
bool usable(std::uintptr_t heap_lo, std::uintptr_t heap_hi);
// World stopped, at a mark start (step 2): the barrier writes the other
// table from now on; returns the one it wrote until now, for this mark.
std::uint8_t* flip();
// Every card of [lo, hi) clean in `table` (step 4).
void clear_range(std::uint8_t* table, std::uintptr_t lo, std::uintptr_t hi);
// Calls f(card_start) for every dirty card of [lo, hi) in `table` (lo
// rounded down to a card), clearing each before the call. Returns the
// number of dirty cards. With the world stopped or running (the cards are
// read and cleared with relaxed atomics; a late store is step 2's).
template <class F>
std::size_t take_dirty(std::uint8_t* table, std::uintptr_t lo, std::uintptr_t hi, F&& f);
// Tests: the number of dirty cards of [lo, hi) in both tables, unchanged.
std::size_t count_dirty(std::uintptr_t lo, std::uintptr_t hi);

namespace detail {
inline std::size_t index(std::uintptr_t a) { return (a >> card_shift) & ((std::uintptr_t{1} << 32) - 1); }
}  // namespace detail

template <class F>
std::size_t take_dirty(std::uint8_t* t, std::uintptr_t lo, std::uintptr_t hi, F&& f) {
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
