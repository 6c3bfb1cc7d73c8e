// src/alloc/arena.cpp: arena reservation and the arena index. See arena.hpp.
#include "alloc/arena.hpp"

#include "common/check.hpp"
#include "os/os.hpp"

namespace gc::internal {

// Zero-initialised, so it lives in .bss: 32 MiB of address space of which only
// the pages holding used entries ever become resident.
std::atomic<arena_meta*> arena_index[arena_index_size];
std::atomic<std::uintptr_t> heap_lo{~std::uintptr_t{0}};
std::atomic<std::uintptr_t> heap_hi{0};

namespace {
std::uintptr_t next_hint = arena_hint_start;  // heap lock
constexpr int hint_attempts = 64;
}  // namespace

void* reserve_arenas(std::size_t n, std::uint64_t& meta_bytes) {
  if (n == 0 || n > arena_index_size) return nullptr;
  const std::size_t bytes = n * arena_bytes;
  void* p = nullptr;
  for (int i = 0; i < hint_attempts && p == nullptr; ++i) {
    if (next_hint + bytes > (std::uintptr_t{1} << address_bits)) break;
    p = os::reserve_at(reinterpret_cast<void*>(next_hint), bytes);
    next_hint += bytes;
  }
  if (p == nullptr) p = os::reserve_aligned(bytes, arena_bytes);
  if (p == nullptr) return nullptr;
  auto base = reinterpret_cast<std::uintptr_t>(p);
  if (base + bytes > (std::uintptr_t{1} << address_bits)) {
    os::unreserve(p, bytes);
    return nullptr;
  }
  os::register_leak_scan_root(p, bytes);
  for (std::size_t i = 0; i < n; ++i) {
    void* m = os::map_metadata(sizeof(arena_meta));
    if (m == nullptr) return nullptr;  // the arenas registered so far stay, unused: harmless
    meta_bytes += sizeof(arena_meta);
    auto* meta = new (m) arena_meta();
    std::size_t slot = (base >> arena_shift) + i;
    GORT_CHECK(arena_index[slot].load(std::memory_order_relaxed) == nullptr,
               "arena {:#x} reserved twice (arena index slot {} already set)", base + i * arena_bytes, slot);
    arena_index[slot].store(meta, std::memory_order_release);
  }
  if (base < heap_lo.load(std::memory_order_relaxed)) heap_lo.store(base, std::memory_order_release);
  if (base + bytes > heap_hi.load(std::memory_order_relaxed)) heap_hi.store(base + bytes, std::memory_order_release);
  return p;
}

}  // namespace gc::internal

