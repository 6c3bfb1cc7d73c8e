// gort/internal/barrier.hpp: the write barrier's inline half, used by
// gc::member, gc::root and gc::write_barrier. The barrier itself, its
// correctness argument and its slow path are in src/gc/barrier.cpp.
//
// Every store of a gc pointer into a slot the collector may scan
// concurrently (a member of a gc object, a root slot) is, in the default
// layout,
//     old = *slot;  *slot = value;
//     f = barrier_flags;
//     if (f) { if (f & cards) { mark_card(slot); f = barrier_flags; }
//              if (f & marking && (old || init_barrier_state & marking))
//                write_barrier_slow(old, value); }
// and in the generational layout (below)
//     old = *slot;  *slot = value;
//     if (card_table) mark_card_if_clean(slot);
//     f = barrier_flags;
//     if (f & marking && (old || init_barrier_state & marking))
//       write_barrier_slow(old, value);
// where the card is the slot's byte in the card table, once minor
// collections are on (card_table below; src/gc/cards.hpp).
// The store comes BEFORE the flag is read, and the marking flag is read
// AFTER the card, on purpose: threads are stopped by signals at arbitrary
// instructions, and this order makes every interruption point safe when a
// mark starts (src/gc/barrier.cpp, step 3 of the argument). Initialising
// stores (barriered_init) have no old value and read init_barrier_state
// instead of barrier_flags.
//
// Two layouts of the same barrier, chosen when the program is built: the
// macro GORT_GENERATIONAL_BARRIER defined to 1 (or to nothing) selects the
// generational one. It must be the same for every translation unit of a
// program, the library included: the CMake option of the same name makes
// it a PUBLIC definition of gort::gort; a build without CMake passes
// -DGORT_GENERATIONAL_BARRIER=1 to every file. (Mixed, the program stays
// correct, since both layouts keep the same protocol, but it breaks the
// one-definition rule and gets the speed of neither.)
// - default: the card is behind the flags' unlikely branch, out of line.
//   Without minor collections a store costs one load of a global and one
//   predictable, not-taken branch. With GODEBUG=gcgen=1, every store jumps
//   out to the card and back: two taken branches per store, which made
//   binary-trees' make_node, whose two initialising stores are nearly all
//   it does, twice as slow (5.7-6.0 s against 4.1-4.3 s with no card at
//   all, a probe unsound in general).
// - generational: the card comes first and inline, whenever a card table
//   exists: load the card, store it only if clean (a card is dirtied once
//   per epoch, not once per store); the marking flag is read after it.
//   binary-trees with GODEBUG=gcgen=1,gcstoptheworld=1: 4.7 s against
//   5.7-6.0 s; without minor collections (no table), the test of the table
//   pointer is a taken branch per store: 4-7% slower there
//   (docs/benchmarks.md, twenty-third session). cppgc makes the same choice
//   at build time for the same reason (its young generation's barrier,
//   CPPGC_YOUNG_GENERATION).
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include <gort/internal/config.hpp>

namespace gc::internal {

// True while the collector marks concurrently. Written only while the world
// is stopped.
extern std::atomic<bool> write_barrier_on;
// What a barriered store reads after its store (barriered_store), so that
// with marking off and no minor collections its cost is one load and one
// predictable branch: bit 0 (barrier_marking) == write_barrier_on; bit 1
// (barrier_cards) once minor collections are on (src/gc/cards.hpp), never
// cleared; the generational layout reads only bit 0 (it tests card_table
// instead of bit 1). Atomic.
extern std::atomic<std::uint8_t> barrier_flags;
inline constexpr std::uint8_t barrier_marking = 1, barrier_cards = 2;
// What an initialising store reads (barriered_init). Bit 0: on while the
// collector marks concurrently and some registered thread's stack may still
// be grey; bit 1: barrier_cards, as in barrier_flags (read by the default
// layout only); the bits above count
// the threads registered so far, so that the marking thread's clear of bit
// 0 (a compare-exchange) fails when one registered during its handshakes.
// An initialising store has no old value to shade, and the new one needs a
// shade only from a thread whose stack is grey (src/gc/barrier.cpp, step
// 2(b)), so once every stack is scanned such stores make no call. Atomic;
// barrier.cpp, step 8.
extern std::atomic<std::uint64_t> init_barrier_state;

// The card table the barrier writes (src/gc/cards.hpp, the write table):
// null until the collector first runs with minor collections on
// (GODEBUG=gcgen=1); set before barrier_cards, then swapped with the other
// table at each mark start, with the world stopped. Every barriered store
// dirties its slot's card once barrier_cards is set (the generational
// layout: once the table is set), initialising stores included
// (docs/design.md section 3). Atomic pointer, read relaxed; the
// card bytes are written with relaxed stores (plain moves) and read and
// cleared by the collector with relaxed atomics.
extern std::atomic<std::uint8_t*> card_table;

// The card of `slot` in table t (src/gc/cards.hpp, step 1).
GORT_ALWAYS_INLINE std::uint8_t* card_of(std::uint8_t* t, const void* slot) noexcept {
  return t + ((reinterpret_cast<std::uintptr_t>(slot) >> 9) & 0xffffffffu);
}

GORT_ALWAYS_INLINE void mark_card(const void* slot) noexcept {
  if (std::uint8_t* t = card_table.load(std::memory_order_relaxed))
    __atomic_store_n(card_of(t, slot), std::uint8_t{1}, __ATOMIC_RELAXED);
}

// GORT_BARRIER_LAYOUT_GENERATIONAL: 1 when GORT_GENERATIONAL_BARRIER is
// defined to 1 or to nothing, 0 when it is undefined or 0 (see the top of
// this file).
#if !defined(GORT_GENERATIONAL_BARRIER)
#define GORT_BARRIER_LAYOUT_GENERATIONAL 0
#elif (0 - GORT_GENERATIONAL_BARRIER - 1) == 1  // defined to nothing
#define GORT_BARRIER_LAYOUT_GENERATIONAL 1
#elif GORT_GENERATIONAL_BARRIER == 1
#define GORT_BARRIER_LAYOUT_GENERATIONAL 1
#elif GORT_GENERATIONAL_BARRIER == 0
#define GORT_BARRIER_LAYOUT_GENERATIONAL 0
#else
#error "GORT_GENERATIONAL_BARRIER must be defined to 1, 0 or nothing"
#endif
#if defined(GORT_GENERATIONAL_BARRIER)
// A word such as ON reads as 0 in #if: catch it by its spelling.
#define GORT_BARRIER_STR2(x) #x
#define GORT_BARRIER_STR(x) GORT_BARRIER_STR2(x)
static_assert(std::string_view(GORT_BARRIER_STR(GORT_GENERATIONAL_BARRIER)) == "" ||
                  std::string_view(GORT_BARRIER_STR(GORT_GENERATIONAL_BARRIER)) == "1" ||
                  std::string_view(GORT_BARRIER_STR(GORT_GENERATIONAL_BARRIER)) == "0",
              "GORT_GENERATIONAL_BARRIER must be defined to 1, 0 or nothing (CMake: the option "
              "GORT_GENERATIONAL_BARRIER=ON defines it to 1)");
#undef GORT_BARRIER_STR
#undef GORT_BARRIER_STR2
#endif

// The generational layout's card (see the top of this file): inline, and a
// store only into a clean card. Skipping the store when the card is already
// dirty loses nothing: only the collector clears cards, and only in the
// table a mark start has made its own (cards.hpp step 2), where it reads
// them first; a store whose card load straddles that swap is covered as
// barrier.cpp's step 3 covers any store that straddles a mark start (by
// the marking flag read after it when the mark is concurrent, by the value
// still held in the thread when the world is stopped), whether the card
// then reads clean or dirty.
GORT_ALWAYS_INLINE void mark_card_if_clean(const void* slot) noexcept {
  std::uint8_t* t = card_table.load(std::memory_order_relaxed);
  if (__builtin_expect(t != nullptr, 1)) {
    std::uint8_t* c = card_of(t, slot);
    if (__builtin_expect(__atomic_load_n(c, __ATOMIC_RELAXED) == 0, 0))
      __atomic_store_n(c, std::uint8_t{1}, __ATOMIC_RELAXED);
  }
}

// Shades old_value and new_value (null is ignored) if marking is still on.
GORT_NOINLINE void write_barrier_slow(const void* old_value, const void* new_value) noexcept;

// Loads and stores of pointer slots that the collector reads concurrently:
// relaxed atomics (plain moves on x86-64 and AArch64), so that a marker
// reading a slot while the program writes it is no data race.
template <class T>
GORT_ALWAYS_INLINE T* slot_load(T* const* slot) noexcept {
  return __atomic_load_n(slot, __ATOMIC_RELAXED);
}
template <class T>
GORT_ALWAYS_INLINE void slot_store(T** slot, T* value) noexcept {
  __atomic_store_n(slot, value, __ATOMIC_RELAXED);
}

// The barriered store: the store, the flags, the card, the marking flag
// again (see above).
template <class T>
GORT_ALWAYS_INLINE void barriered_store(T** slot, T* value) noexcept {
  T* old = slot_load(slot);
  slot_store(slot, value);
  // Compiler-only fences (no instruction): the order of the store, the
  // card and the flag loads is what barrier.cpp's step 3 relies on, and
  // relaxed atomics on different addresses do not promise it.
  std::atomic_signal_fence(std::memory_order_seq_cst);
#if GORT_BARRIER_LAYOUT_GENERATIONAL
  mark_card_if_clean(slot);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (GORT_UNLIKELY(barrier_flags.load(std::memory_order_relaxed) & barrier_marking) &&
      (old != nullptr || (init_barrier_state.load(std::memory_order_relaxed) & barrier_marking)))
    write_barrier_slow(old, value);
#else
  std::uint8_t f = barrier_flags.load(std::memory_order_relaxed);
  if (GORT_UNLIKELY(f != 0)) {
    if (f & barrier_cards) {
      mark_card(slot);
      std::atomic_signal_fence(std::memory_order_seq_cst);
      f = barrier_flags.load(std::memory_order_relaxed);
    }
    // With nothing old to shade, the store is an initialising one: the new
    // value needs a shade only while some stack may be grey (barriered_init
    // below), read after the store as there.
    if ((f & barrier_marking) &&
        (old != nullptr || (init_barrier_state.load(std::memory_order_relaxed) & barrier_marking)))
      write_barrier_slow(old, value);
  }
#endif
}

// A slot being initialised (nothing old to shade), in the same order.
template <class T>
GORT_ALWAYS_INLINE void barriered_init(T** slot, T* value) noexcept {
  slot_store(slot, value);
  std::atomic_signal_fence(std::memory_order_seq_cst);
#if GORT_BARRIER_LAYOUT_GENERATIONAL
  mark_card_if_clean(slot);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (GORT_UNLIKELY(init_barrier_state.load(std::memory_order_relaxed) & barrier_marking) && value != nullptr)
    write_barrier_slow(nullptr, value);
#else
  std::uint64_t st = init_barrier_state.load(std::memory_order_relaxed);
  if (GORT_UNLIKELY(st & (barrier_marking | barrier_cards))) {
    if (st & barrier_cards) {
      mark_card(slot);
      std::atomic_signal_fence(std::memory_order_seq_cst);
      st = init_barrier_state.load(std::memory_order_relaxed);
    }
    if ((st & barrier_marking) && value != nullptr) write_barrier_slow(nullptr, value);
  }
#endif
}

// Bulk: copies n pointer slots (memmove semantics), shading every value
// overwritten and every value copied while marking. Out of line.
GORT_NOINLINE void barriered_copy(void** dst, void* const* src, std::size_t n) noexcept;

}  // namespace gc::internal
