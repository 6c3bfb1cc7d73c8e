// src/common/lock.hpp: the runtime's mutex, with one global lock order
// checked in debug builds.
//
// Algorithm
// 1. Every mutex is built with a rank (lock_rank below). Ranks are the lock
//    order: a thread may acquire a lock only if every lock it already holds
//    has a strictly lower rank.
// 2. In debug builds each thread keeps a bit set of the ranks it holds.
//    lock() checks that no held rank is >= the new one and aborts naming both
//    locks if the order is broken; unlock() clears the bit.
// 3. Release builds compile the check away: a rank_mutex is a std::mutex
//    that spins a little (try_lock and PAUSE) before it sleeps.
//
// The lock order (lowest first; take them in this order only):
//   registry  < central  < heap  < scavenger_state < metadata
//   - registry: the list of live mcaches (src/alloc/mcache.cpp).
//   - central:  one per span class (src/alloc/mcentral.cpp). Two central locks
//               are never held at once.
//   - heap:     the page heap: free lists, arena growth, page map writes.
//   - metadata: the pool that hands out span structs (taken under heap).
//
// Invariant: no code path holds two locks of the same rank.
//
// Reference: Go's lockrank.go states a static partial order in the same way.
#pragma once

#include <cstdint>
#include <mutex>

#include <gort/internal/config.hpp>

namespace gc::internal {

enum class lock_rank : std::uint8_t {
  registry = 1,
  central = 2,
  heap = 3,
  scavenger_state = 4,
  metadata = 5,
};

const char* lock_rank_name(lock_rank r);

#if GORT_DEBUG
void lock_rank_acquire(lock_rank r);  // aborts when the order is broken
void lock_rank_release(lock_rank r);
#endif

// A hint to the CPU that this thread is spinning (x86 PAUSE, Arm YIELD).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield");
#endif
}

class rank_mutex {
 public:
  explicit constexpr rank_mutex(lock_rank rank) : rank_(rank) {}
  rank_mutex(const rank_mutex&) = delete;
  rank_mutex& operator=(const rank_mutex&) = delete;

  // Spins briefly before sleeping: the runtime's critical sections are short
  // (a list push, a span hand-off), so a waiter usually gets the lock within
  // a few hundred cycles, far sooner than a futex sleep and wake-up.
  void lock() {
#if GORT_DEBUG
    lock_rank_acquire(rank_);
#endif
    for (int i = 0; i < spin_attempts; ++i) {
      if (mu_.try_lock()) return;
      cpu_relax();
    }
    mu_.lock();
  }
  void unlock() {
    mu_.unlock();
#if GORT_DEBUG
    lock_rank_release(rank_);
#endif
  }
  lock_rank rank() const { return rank_; }

 private:
  static constexpr int spin_attempts = 64;
  std::mutex mu_;
  lock_rank rank_;
};

using lock_guard = std::lock_guard<rank_mutex>;

}  // namespace gc::internal
