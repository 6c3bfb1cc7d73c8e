// src/gc/roots.hpp: the roots that are not stacks: gc::root slots and
// gc::add_roots ranges.
//
// Root slots (gc::root<T>):
// 1. Slots live in 4 KiB chunks of metadata memory (never in the heap, never
//    freed). A chunk, once made, is appended to the chunk list under lock_.
// 2. Each thread keeps a free list of slots (thread-local, no lock). A new
//    root pops one; a destroyed root pushes its slot onto the destroying
//    thread's list. A list longer than 256 gives half back to the global
//    free list (under lock_); an empty list takes up to 64 from it, or a new
//    chunk. A thread's list goes back to the global list when it exits.
// 3. A free slot holds the address of the next free slot: metadata memory,
//    so the conservative scan of every slot ignores it without a tag bit.
// 4. The collector scans every slot of every chunk: with the world stopped
//    (the stop-the-world collector, checkmark), or while the program runs
//    (the concurrent mark), holding lock_: chunks are only ever added, with
//    a release store, and slot stores run the write barrier, so a slot
//    changed after its scan is covered (src/gc/barrier.cpp, step 4).
//
// Ranges (gc::add_roots): a vector of [begin, end) under lock_, scanned
// conservatively whole at every collection; the concurrent mark scans them
// again at mark termination, with the world stopped (they have no barrier).
#pragma once

#include "common/lock.hpp"

#include <cstddef>
#include <cstdint>

namespace gc::internal::roots {

// Only while the world is stopped: f(lo, hi) for each span of root words.
template <class F>
void for_each_root_range(F&& f);

// Bytes of registered ranges (the pacer counts them as "globals").
std::uint64_t range_bytes();

// Implementation detail of for_each_root_range.
struct root_chunk {
  root_chunk* next;
  void* slots[511];
};
root_chunk* chunk_list();
std::size_t range_count();
void range_at(std::size_t i, std::uintptr_t& lo, std::uintptr_t& hi);

template <class F>
void for_each_root_range(F&& f) {
  for (root_chunk* c = chunk_list(); c != nullptr; c = c->next)
    f(reinterpret_cast<std::uintptr_t>(&c->slots[0]), reinterpret_cast<std::uintptr_t>(&c->slots[511]), true);
  for (std::size_t i = 0, n = range_count(); i < n; ++i) {
    std::uintptr_t lo, hi;
    range_at(i, lo, hi);
    f(lo, hi, false);
  }
}

// With the world running (the concurrent mark): for_each_root_range holding
// the roots lock, so that ranges cannot be added or removed meanwhile. f may
// take only locks ranked above `roots` (the marker's queue).
rank_mutex& roots_lock();
template <class F>
void for_each_root_range_locked(F&& f) {
  lock_guard g(roots_lock());
  for_each_root_range(f);
}

// fork: the lock is taken in prepare and released in parent and child.
void atfork_prepare();
void atfork_release();

}  // namespace gc::internal::roots
