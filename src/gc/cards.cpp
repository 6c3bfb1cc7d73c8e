// src/gc/cards.cpp: the card table. The algorithm and invariants are in
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
}  // namespace

std::uint8_t* detail::table() { return card_table.load(std::memory_order_relaxed); }

bool enable() {
  static std::mutex mu;  // plain: never taken by a stopped thread (enable runs before a stop)
  std::lock_guard g(mu);
  if (card_table.load(std::memory_order_relaxed) != nullptr) return true;
  void* p = os::reserve_aligned(table_bytes, os::page_size());
  if (p == nullptr) return false;
  if (!os::commit(p, table_bytes)) {
    os::unreserve(p, table_bytes);
    return false;
  }
  // The table first, then the bits that make the barrier use it (a store
  // that reads the bits without seeing the table marks no card: the mode's
  // first cycle is a full one, collector.hpp).
  card_table.store(static_cast<std::uint8_t*>(p), std::memory_order_release);
  barrier_flags.fetch_or(barrier_cards, std::memory_order_release);
  init_barrier_state.fetch_or(barrier_cards, std::memory_order_release);
  return true;
}

bool enabled() { return card_table.load(std::memory_order_relaxed) != nullptr; }

bool usable(std::uintptr_t heap_lo, std::uintptr_t heap_hi) {
  return enabled() && heap_hi >= heap_lo && heap_hi - heap_lo <= covered_bytes;
}

void clear_range(std::uintptr_t lo, std::uintptr_t hi) {
  // Reads the clean cards rather than writing them: a memset would fault in
  // a page of the table for every 2 MiB of heap extent never written.
  take_dirty(lo, hi, [](std::uintptr_t) {});
}

}  // namespace cards
}  // namespace gc::internal
