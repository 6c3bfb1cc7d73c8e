// src/gc/cards.cpp: the card tables. The algorithm and invariants are in
// cards.hpp.
#include "gc/cards.hpp"

#include <gort/internal/barrier.hpp>

#include <atomic>
#include <mutex>

#include "common/check.hpp"
#include "os/os.hpp"

namespace gc::internal {

constinit std::atomic<std::uint8_t*> card_table{nullptr};

namespace cards {

namespace {
constexpr std::size_t table_bytes = std::size_t{1} << 32;
// The two tables (step 2), set once by enable(); `tables[0]` is the barrier's
// first. Written before card_table is published, then read-only.
std::uint8_t* tables[2] = {nullptr, nullptr};
}  // namespace

bool enable() {
  static std::mutex mu;  // plain: never taken by a stopped thread (enable runs before a stop)
  std::lock_guard g(mu);
  if (card_table.load(std::memory_order_relaxed) != nullptr) return true;
  void* p = os::reserve_aligned(2 * table_bytes, os::page_size());
  if (p == nullptr) return false;
  if (!os::commit(p, 2 * table_bytes)) {
    os::unreserve(p, 2 * table_bytes);
    return false;
  }
  tables[0] = static_cast<std::uint8_t*>(p);
  tables[1] = tables[0] + table_bytes;
  // The table first, then the bits that make the barrier use it (a store
  // that reads the bits without seeing the table marks no card: the mode's
  // first cycle is a full one, collector.hpp).
  card_table.store(tables[0], std::memory_order_release);
  barrier_flags.fetch_or(barrier_cards, std::memory_order_release);
  init_barrier_state.fetch_or(barrier_cards, std::memory_order_release);
  return true;
}

bool enabled() { return card_table.load(std::memory_order_relaxed) != nullptr; }

bool usable(std::uintptr_t heap_lo, std::uintptr_t heap_hi) {
  // An empty heap (heap_hi < heap_lo: no arena yet) is covered trivially.
  return enabled() && (heap_hi < heap_lo || heap_hi - heap_lo <= covered_bytes);
}

std::uint8_t* flip() {
  std::uint8_t* const writing = card_table.load(std::memory_order_relaxed);
  if (writing == nullptr) return nullptr;
  card_table.store(writing == tables[0] ? tables[1] : tables[0], std::memory_order_relaxed);
  return writing;
}

void clear_range(std::uint8_t* table, std::uintptr_t lo, std::uintptr_t hi) {
  // Reads the clean cards rather than writing them: a memset would fault in
  // a page of the table for every 2 MiB of heap extent never written.
  take_dirty(table, lo, hi, [](std::uintptr_t) {});
}

std::size_t count_dirty(std::uintptr_t lo, std::uintptr_t hi) {
  std::size_t n = 0;
  for (std::uint8_t* t : tables) {
    if (t == nullptr) continue;
    for (std::uintptr_t a = lo & ~(card_bytes - 1); a < hi; a += card_bytes)
      n += __atomic_load_n(t + detail::index(a), __ATOMIC_RELAXED) != 0;
  }
  return n;
}

}  // namespace cards
}  // namespace gc::internal
