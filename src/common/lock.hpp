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
// 4. Deferred stop. A thread must never be stopped for a collection while it
//    holds a rank_mutex: the collector takes these locks with the world
//    stopped. So each thread counts the rank_mutexes it holds or is trying
//    to take (thread_lock_state::locks): lock() increments the count BEFORE
//    it tries to acquire (the mutex is "held" from the moment the atomic
//    inside std::mutex succeeds, before lock() returns), unlock() decrements
//    it AFTER releasing. Both are followed by std::atomic_signal_fence, so a
//    signal handler interrupting this thread sees the count as program order
//    says.
// 5. The stop signal's handler (src/stack), finding locks > 0, does not
//    park: it sets stop_deferred and returns. unlock(), dropping the count to
//    0 with stop_deferred set, clears it and calls the hook src/stack
//    installed (set_deferred_stop_hook), which parks the thread as a
//    safepoint would. safepoint() with locks > 0 defers the same way.
//
// Rules that follow from 4-5 (src/stack checks them):
//   - The thread that stops the world must hold no rank_mutex, and wait for
//     none, while it stops it: a thread deferred inside that lock's wait
//     would never park. Once stop_the_world has returned it may take them.
//   - No rank_mutex may be held across a blocking region (stack::
//     enter_blocking), nor around register_thread/unregister_thread.
//   - src/stack's own registry lock is NOT a rank_mutex and is not counted:
//     the stopper holds it for the whole stop.
//
// The lock order (lowest first; take them in this order only):
//   registry < central < heap < scavenger_state < metadata < roots < finalizer
//     < mark_queue < wb_buffers
//   - registry: the list of live mcaches (src/alloc/mcache.cpp).
//   - central:  one per span class (src/alloc/mcentral.cpp). Two central locks
//               are never held at once.
//   - heap:     the page heap: free lists, arena growth, page map writes.
//   - metadata: the pool that hands out span structs (taken under heap).
//   - roots:    the root slot chunks and root ranges; nothing is taken under it.
//   - finalizer: the destructor queue; nothing is taken under it.
//   - mark_queue: the marker's shared work lists, also taken by the write
//               barrier from any thread; nothing is taken under it.
//   - wb_buffers: the list of the threads' write-barrier buffers
//               (src/gc/barrier.cpp), taken when a thread gets or gives
//               back its buffer; nothing is taken under it.
//
// Invariants: no code path holds two locks of the same rank.
// thread_lock_state::locks is the number of rank_mutexes the thread holds or
// is acquiring; stop_deferred is 1 only while locks > 0 (or during the few
// instructions of unlock() that clear it).
//
// References: Go's lockrank.go states a static partial order in the same
// way. Go defers preemption while a thread holds runtime locks (m.locks > 0
// makes a preemption request wait); step 4 is the same rule.
#pragma once

#include <atomic>
#include <csignal>
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
  roots = 6,      // gc::root slots and gc::add_roots ranges (src/gc/roots.cpp): a leaf
  finalizer = 7,  // the destructor queue (src/gc/sweep.cpp): a leaf
  mark_queue = 8, // the marker's shared work lists (src/gc/mark.cpp): a leaf
  wb_buffers = 9, // the write-barrier buffers' list (src/gc/barrier.cpp): a leaf
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

// Per-thread state read by the stop signal's handler on the same thread.
// Thread-local, so unguarded; the handler and the thread are ordered by
// std::atomic_signal_fence. initial-exec TLS: reading it from a signal
// handler must not allocate (as a lazily set-up dynamic TLS block would).
struct thread_lock_state {
  int locks = 0;                              // rank_mutexes held or being acquired
  volatile std::sig_atomic_t stop_deferred = 0;  // a stop found locks > 0: park at the last unlock
};
inline constinit thread_local thread_lock_state tls_lock_state __attribute__((tls_model("initial-exec")));

// How many rank_mutexes the calling thread holds or is acquiring.
inline int runtime_locks_held() { return tls_lock_state.locks; }

// The function unlock() calls when the count falls to 0 with a stop
// deferred (src/stack's park). Set once at start-up; null = none.
void set_deferred_stop_hook(void (*hook)());
// Asks for a park at the last unlock (the caller has locks > 0).
inline void defer_stop() {
  tls_lock_state.stop_deferred = 1;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}
// Out of line: clears stop_deferred and calls the hook.
GORT_COLD GORT_NOINLINE void run_deferred_stop();

class rank_mutex {
 public:
  explicit constexpr rank_mutex(lock_rank rank) : rank_(rank) {}
  rank_mutex(const rank_mutex&) = delete;
  rank_mutex& operator=(const rank_mutex&) = delete;

  // Spins briefly before sleeping: the runtime's critical sections are short
  // (a list push, a span hand-off), so a waiter usually gets the lock within
  // a few hundred cycles, far sooner than a futex sleep and wake-up.
  void lock() {
    ++tls_lock_state.locks;  // before trying: see step 4
    std::atomic_signal_fence(std::memory_order_seq_cst);
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
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (--tls_lock_state.locks == 0) {  // after releasing: see step 4
      std::atomic_signal_fence(std::memory_order_seq_cst);
      if (GORT_UNLIKELY(tls_lock_state.stop_deferred)) run_deferred_stop();
    }
  }
  lock_rank rank() const { return rank_; }

  // For fork handlers only: take or release a lock outside the rank order
  // (prepare takes every lock of a rank at once, which the checker refuses).
  // Counted as held, like lock(); no deferred stop is run on release.
  void lock_for_fork() {
    ++tls_lock_state.locks;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    mu_.lock();
  }
  void unlock_for_fork() {
    mu_.unlock();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    --tls_lock_state.locks;
  }

 private:
  static constexpr int spin_attempts = 64;
  std::mutex mu_;
  lock_rank rank_;
};

using lock_guard = std::lock_guard<rank_mutex>;

// A few instructions during which the calling thread must not be stopped
// for a collection, though it holds no lock: it counts as holding one (step
// 4), so a stop that arrives meanwhile parks the thread at the end of the
// scope. Used where a phase check and what depends on it must not be split
// by a stop (the write barrier's shading, allocate-black). Nothing inside
// may block or take a lock that a stopper could hold.
class no_stop_scope {
 public:
  no_stop_scope() noexcept {
    ++tls_lock_state.locks;
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  ~no_stop_scope() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (--tls_lock_state.locks == 0) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
      if (GORT_UNLIKELY(tls_lock_state.stop_deferred)) run_deferred_stop();
    }
  }
  no_stop_scope(const no_stop_scope&) = delete;
  no_stop_scope& operator=(const no_stop_scope&) = delete;
};

}  // namespace gc::internal
