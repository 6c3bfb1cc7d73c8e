// src/gc/roots.cpp: root slots and registered ranges. See roots.hpp.
#include "gc/roots.hpp"

#include <gort/root.hpp>

#include <algorithm>
#include <atomic>
#include <new>
#include <vector>

#include "common/check.hpp"
#include "common/lock.hpp"
#include "os/os.hpp"

namespace gc::internal::roots {

namespace {

constexpr std::size_t slots_per_chunk = 511;
constexpr std::size_t local_max = 256;
constexpr std::size_t refill_batch = 64;

struct range {
  std::uintptr_t lo, hi;
};

// The global state. Built on first use, never destroyed (roots may be
// released during static destruction).
struct root_state {
  rank_mutex lock{lock_rank::roots};
  std::atomic<root_chunk*> chunks{nullptr};  // appended under lock; read while the world is stopped
  void** free_head = nullptr;                // guarded by lock
  std::vector<range> ranges;                 // guarded by lock
  std::atomic<std::uint64_t> bytes{0};       // of ranges; atomic
};

root_state& state() {
  static root_state* s = new root_state();
  return *s;
}

void** next_of(void** slot) { return static_cast<void**>(slot_load(slot)); }

// The calling thread's free list; given back to the global list at exit.
struct local_list {
  void** head = nullptr;
  std::size_t count = 0;
  ~local_list() {
    if (head == nullptr) return;
    void** tail = head;
    while (next_of(tail) != nullptr) tail = next_of(tail);
    root_state& s = state();
    lock_guard g(s.lock);
    slot_store(tail, static_cast<void*>(s.free_head));
    s.free_head = head;
    head = nullptr;
    count = 0;
  }
};
thread_local local_list local;

void refill_local() {
  root_state& s = state();
  lock_guard g(s.lock);
  for (std::size_t i = 0; i < refill_batch && s.free_head != nullptr; ++i) {
    void** slot = s.free_head;
    s.free_head = next_of(slot);
    slot_store(slot, static_cast<void*>(local.head));
    local.head = slot;
    ++local.count;
  }
  if (local.head != nullptr) return;
  auto* c = static_cast<root_chunk*>(os::map_metadata(sizeof(root_chunk)));
  if (c == nullptr) throw std::bad_alloc();
  for (std::size_t i = 0; i < slots_per_chunk; ++i) {
    c->slots[i] = local.head;
    local.head = &c->slots[i];
  }
  local.count += slots_per_chunk;
  c->next = s.chunks.load(std::memory_order_relaxed);
  s.chunks.store(c, std::memory_order_release);
}

}  // namespace

root_chunk* chunk_list() { return state().chunks.load(std::memory_order_acquire); }
std::size_t range_count() { return state().ranges.size(); }
void range_at(std::size_t i, std::uintptr_t& lo, std::uintptr_t& hi) {
  lo = state().ranges[i].lo;
  hi = state().ranges[i].hi;
}
std::uint64_t range_bytes() { return state().bytes.load(std::memory_order_relaxed); }

rank_mutex& roots_lock() { return state().lock; }

void atfork_prepare() { state().lock.lock(); }
void atfork_release() { state().lock.unlock(); }

}  // namespace gc::internal::roots

namespace gc::internal {

void** root_slot_new(const void* value) {
  using namespace roots;
  if (local.head == nullptr) refill_local();
  void** slot = local.head;
  local.head = next_of(slot);
  --local.count;
  // The slot may already have been scanned in this cycle: barriered.
  barriered_init(slot, const_cast<void*>(value));
  return slot;
}

void root_slot_free(void** slot) noexcept {
  using namespace roots;
  // The value leaves a root the collector may not have scanned yet: the
  // deletion half of the barrier shades it (a free slot holds a link of the
  // free list, which points outside the heap).
  barriered_store(slot, static_cast<void*>(local.head));
  local.head = slot;
  if (++local.count > local_max) {
    // Give half back so that one thread destroying many roots does not hoard.
    root_state& s = state();
    lock_guard g(s.lock);
    for (std::size_t i = 0; i < local_max / 2; ++i) {
      void** x = local.head;
      local.head = next_of(x);
      slot_store(x, static_cast<void*>(s.free_head));
      s.free_head = x;
    }
    local.count -= local_max / 2;
  }
}

}  // namespace gc::internal

namespace gc {

void add_roots(const void* begin, const void* end) {
  auto lo = reinterpret_cast<std::uintptr_t>(begin), hi = reinterpret_cast<std::uintptr_t>(end);
  GORT_CHECK(lo <= hi, "gc::add_roots({}, {}): begin is after end", begin, end);
  lo &= ~std::uintptr_t{sizeof(void*) - 1};  // scan whole aligned words
  auto& s = internal::roots::state();
  internal::lock_guard g(s.lock);
  s.ranges.push_back({lo, hi});
  s.bytes.fetch_add(hi - lo, std::memory_order_relaxed);
}

void remove_roots(const void* begin, const void* end) {
  auto lo = reinterpret_cast<std::uintptr_t>(begin) & ~std::uintptr_t{sizeof(void*) - 1};
  auto hi = reinterpret_cast<std::uintptr_t>(end);
  auto& s = internal::roots::state();
  internal::lock_guard g(s.lock);
  auto it = std::find_if(s.ranges.begin(), s.ranges.end(), [&](const auto& r) { return r.lo == lo && r.hi == hi; });
  GORT_CHECK(it != s.ranges.end(), "gc::remove_roots({}, {}): no such range was added with gc::add_roots", begin, end);
  s.ranges.erase(it);
  s.bytes.fetch_sub(hi - lo, std::memory_order_relaxed);
}

}  // namespace gc
