// src/alloc/arena.hpp: heap arenas, the page -> span map, and find_object.
//
// Algorithm
// 1. The heap's address space comes in 64 MiB arenas, each aligned to 64 MiB
//    and reserved (PROT_NONE) at a hint address counting up from
//    0x00c000000000, as Go's heap does: heap addresses are then easy to
//    recognise in a debugger (0xc0...). If the kernel will not place an arena
//    at a hint, the next hints are tried, then any 64 MiB-aligned address.
// 2. Every arena has an arena_meta, allocated outside the heap, holding the
//    span of each of its 8192 pages. arena_index maps (addr >> 26), for every
//    address below 2^48, to its arena_meta or nullptr. The index is a 32 MiB
//    zero-filled array whose untouched pages cost no memory.
// 3. find_object(addr), for ANY word: index check, two dependent loads (arena,
//    span), a state check, a range check, one multiply by the span's division
//    magic for the object index, one bitmap load. No locks.
//
// Invariants
// - For an in-use span s, every page p of s has arena_meta.spans[p] == s.
// - For a free span, its first and last pages map to it; its interior pages
//   may hold stale pointers (hence the checks in find_object).
// - arena_index entries go from nullptr to an arena_meta once and never change.
//
// Reference: Go's malloc.go (arena hints, heapArena, arenaIndex) and mbitmap.go
// (findObject, divMagic).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "alloc/span.hpp"

namespace gc::internal {

inline constexpr std::size_t arena_shift = 26;
inline constexpr std::size_t arena_bytes = std::size_t{1} << arena_shift;  // 64 MiB
inline constexpr std::size_t pages_per_arena = arena_bytes / page_bytes;   // 8192
inline constexpr std::size_t address_bits = 48;
inline constexpr std::size_t arena_index_size = std::size_t{1} << (address_bits - arena_shift);
inline constexpr std::uintptr_t arena_hint_start = 0x00c000000000;

struct arena_meta {
  std::atomic<span*> spans[pages_per_arena];  // writes: heap lock; reads: anyone
  std::uint64_t scavenged[pages_per_arena / 64] = {};  // heap lock; bit p: page p returned to the OS
};

extern std::atomic<arena_meta*> arena_index[arena_index_size];

// The lowest and highest addresses of all arenas reserved so far: a cheap
// first filter for conservative scanning (most words are not in [lo, hi)).
// Atomic; they only widen.
extern std::atomic<std::uintptr_t> heap_lo;
extern std::atomic<std::uintptr_t> heap_hi;

inline arena_meta* arena_of(std::uintptr_t addr) {
  std::uintptr_t i = addr >> arena_shift;
  return i < arena_index_size ? arena_index[i].load(std::memory_order_acquire) : nullptr;
}
inline std::size_t page_in_arena(std::uintptr_t addr) { return (addr >> page_shift) & (pages_per_arena - 1); }

// The span whose page holds addr, or nullptr. May be a free or stale span:
// callers check state and bounds.
inline span* span_of(std::uintptr_t addr) {
  arena_meta* a = arena_of(addr);
  return a ? a->spans[page_in_arena(addr)].load(std::memory_order_acquire) : nullptr;
}

struct object_ref {
  void* base = nullptr;  // start of the object
  span* s = nullptr;     // its span
  explicit operator bool() const { return base != nullptr; }
};

// The allocated object containing addr (interior pointers included), or an
// empty object_ref for addresses outside the heap, in free spans, in a
// span's tail waste, or in a free slot.
inline object_ref find_object(std::uintptr_t addr) {
  span* s = span_of(addr);
  if (s == nullptr || s->state.load(std::memory_order_acquire) != span_state::in_use) return {};
  if (addr < s->base || addr >= s->limit) return {};
  std::uintptr_t idx = s->object_index(addr);
  if (!s->is_allocated(idx)) return {};
  return {reinterpret_cast<void*>(s->base + idx * s->elem_size), s};
}
inline object_ref find_object(const void* p) { return find_object(reinterpret_cast<std::uintptr_t>(p)); }

// Reserves `n` contiguous arenas (at the next hint if possible), registers
// their arena_meta, and returns the base; nullptr if the OS refuses.
// Caller holds the heap lock. `meta_bytes` accumulates metadata obtained.
void* reserve_arenas(std::size_t n, std::uint64_t& meta_bytes);

}  // namespace gc::internal
