// src/stack/thread_registry.hpp: the thread record and the registry of
// threads, shared by thread_registry.cpp (registration, bounds, fork) and
// stop_world.cpp (the stop protocol). Internal to src/stack: src/gc sees only
// stack.hpp.
//
// Algorithm (registry)
// 1. Records live on one doubly-linked list, guarded by registry_lock, a
//    futex lock of its own: NOT a rank_mutex (see the rules in common/lock.hpp):
//    the thread that stops the world holds it from stop_the_world to
//    start_the_world. So registration and unregistration wait out a stop.
// 2. A registered thread that must wait for registry_lock waits inside a
//    blocking region (lock_registry): a stop in progress counts it as
//    stopped instead of waiting for it, and no signal has to interrupt the
//    futex wait (ThreadSanitizer defers signals that arrive inside
//    pthread_mutex_lock, so waiting for the handler there could deadlock).
//
// The per-thread state word (thread_info::state), a futex. Transitions,
// and who makes them:
//   running          -> blocking          the thread, outermost enter_blocking (CAS)
//   blocking         -> running           the thread, outermost exit_blocking (CAS)
//   running          -> must_park         the stopper claims it (CAS)
//   blocking         -> blocking_stopped  the stopper claims it (CAS); no ack needed
//   must_park        -> parked            the thread acknowledges: safepoint,
//                                         deferred unlock, or signal handler (CAS)
//   must_park        -> blocking_stopped  the thread acknowledges by entering a
//                                         blocking region (CAS)
//   parked           -> running           start_the_world (store + futex wake)
//   blocking_stopped -> blocking          start_the_world (store + futex wake)
// The thread sleeps on its own state word while it is parked or (in
// exit_blocking) blocking_stopped. Exactly one CAS out of must_park succeeds
// per stop: that is the thread's one acknowledgement.
//
// Invariants
// - A record is on the list from registration to unregistration; it is
//   freed only by its own thread (or by atfork_child), never during a stop.
// - Outside a stop every listed thread is running or blocking.
// - Whatever the thread saves for the collector (stopped_sp, stopped_kind,
//   the blocking save area) is written before the releasing CAS that
//   publishes its state, and read by the stopper after an acquiring load.
#pragma once

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdint>

#include "os/os.hpp"
#include "stack/stack.hpp"

namespace gc::internal::stack {

enum thread_state : std::uint32_t {
  running = 0,
  blocking = 1,
  must_park = 2,
  parked = 3,
  blocking_stopped = 4,
};

// What enter_blocking saves: the registers (unw_getcontext) and a copy of
// enter_blocking's own frame, where the compiler may have spilled the
// caller's callee-saved registers before the capture; for
// enter_blocking_from, the frames up to the given CFA (gc::blocking_region's
// constructor's too). Those frames are popped before the region ends, so
// they must be copied, not pointed to.
struct blocking_save {
  unw_context_t context;
  static constexpr std::size_t frame_words = 128;
  std::uintptr_t frame[frame_words];
};

struct thread_info {
  // Set at registration, before the record is published; tid and pthread
  // are rewritten by atfork_child, single-threaded. Read-only otherwise.
  int tid = 0;
  std::uintptr_t pthread = 0;
  std::uintptr_t stack_lo = 0;
  std::uintptr_t stack_hi = 0;

  // Guarded by registry_lock.
  thread_info* prev = nullptr;
  thread_info* next = nullptr;
  bool signalled = false;  // the current stop sent it the stop signal
  // Its last park was in the stop signal's handler (stopped_kind, copied
  // when the current stop or handshake claimed it): signal it early.
  bool signal_first = false;

  // The stop protocol's state (thread_state values); a futex word the
  // thread sleeps on while parked or blocking_stopped. Atomic.
  std::atomic<std::uint32_t> state{running};

  // Written by the thread before its acknowledging CAS, read by the stopper
  // after it (see the invariants above).
  std::uintptr_t stopped_sp = 0;
  stop_kind stopped_kind = stop_kind::safepoint;

  // Blocking region. depth: only the thread itself. The save area and
  // blocking_sp: written by the thread at the outermost enter_blocking
  // before its releasing CAS to blocking (or blocking_stopped), read by the
  // stopper after claiming it.
  int blocking_depth = 0;
  std::uintptr_t blocking_sp = 0;    // the CFA up to which frames are saved: the live scan starts there
  std::size_t blocking_bytes = 0;    // bytes of `saved` in use
  blocking_save saved;

  // The interrupted registers of a thread parked in the stop signal's
  // handler (os::interrupted_state), written by the handler before it
  // acknowledges; signal_words == 0 when they are unknown (then the whole
  // handler frame, kernel signal frame included, is scanned).
  static constexpr std::size_t signal_regs_words = 64;
  std::uintptr_t signal_regs[signal_regs_words];
  std::size_t signal_words = 0;

  // Only the thread itself and its own signal handler (signal fences):
  // 1 while it parks cooperatively, so the handler leaves it alone.
  volatile std::sig_atomic_t in_park = 0;

  // The scan epoch (stack.hpp, begin_scan_epoch) in which a handshake last
  // scanned this thread's stack: written by the handshaking thread while it
  // holds the thread (release), read by the thread itself (acquire). 0: never.
  std::atomic<std::uint32_t> scanned_epoch{0};

  // Statistics for tests. Atomic.
  std::atomic<std::uint64_t> signals_received{0};
};

// The calling thread's record; null if unregistered. Set before the record
// can be claimed, cleared before it is freed. initial-exec TLS: the signal
// handler reads it.
extern constinit thread_local thread_info* tls_current __attribute__((tls_model("initial-exec")));

// A futex mutex (0 free, 1 locked, 2 locked with sleepers). Unlike
// std::mutex, it may be unlocked by any thread and reset after fork.
class futex_lock {
 public:
  bool try_lock() {
    std::uint32_t expected = 0;
    return word_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void lock() {
    if (try_lock()) return;
    while (word_.exchange(2, std::memory_order_acquire) != 0) os::futex_wait(word_, 2, -1);
  }
  void unlock() {
    if (word_.exchange(0, std::memory_order_release) == 2) os::futex_wake(word_, 1);
  }
  void reset() { word_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint32_t> word_{0};
};

// The registry (thread_registry.cpp).
extern futex_lock registry_lock;
extern thread_info* registry_head;                        // guarded by registry_lock
extern std::atomic<std::size_t> registry_count;           // written under registry_lock; atomic for readers

// Takes registry_lock. self (the caller's record, or null) waits inside a
// blocking region if the lock is busy (step 2 above).
void lock_registry(thread_info* self);
void unlock_registry();

// The stop machinery (stop_world.cpp).
// Chooses the stop signal and installs its handler and the deferred-stop
// hook, once. Never called inside a stop (it may print a warning).
void init_stop_machinery();
// init_stop_machinery, then unblocks the stop signal in the calling thread
// (a thread registering: the stop may signal it). A stopper needs neither
// the signal nor the system call.
void unblock_stop_signal();
// True on the thread between its stop_the_world and start_the_world.
bool calling_thread_is_stopper();
// Resets the stop state in a fork child (single-threaded, registry locked).
void reset_stop_state_after_fork();

// The stack pointer where the caller is (its frame and all outer frames lie
// at or above it). Inline, so it reads the caller's own sp.
GORT_ALWAYS_INLINE std::uintptr_t current_sp() {
#if defined(__x86_64__)
  std::uintptr_t sp;
  asm volatile("mov %%rsp, %0" : "=r"(sp));
  return sp;
#elif defined(__aarch64__)
  std::uintptr_t sp;
  asm volatile("mov %0, sp" : "=r"(sp));
  return sp;
#else
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
#endif
}

// A message built without allocation, for failures where fmt and malloc
// are off limits (signal handlers, a stopped world). Text past the buffer
// is dropped.
class raw_message {
 public:
  raw_message& text(const char* s);
  raw_message& dec(long long v);
  raw_message& hex(std::uintptr_t v);
  const char* data() const { return buf_; }
  std::size_t size() const { return len_; }

 private:
  char buf_[512];
  std::size_t len_ = 0;
};

// Writes "gort: fatal error: MESSAGE (FILE:LINE)" with one write(2) and
// aborts: GORT_FATAL's counterpart where formatting is not allowed.
[[noreturn]] GORT_COLD void raw_fatal(const raw_message& m, const char* file, int line);
// Writes "gort: warning: MESSAGE".
void raw_warn(const raw_message& m);

#define GORT_RAW_CHECK(cond, message_expr)                                      \
  do {                                                                          \
    if (GORT_UNLIKELY(!(cond))) {                                               \
      ::gc::internal::stack::raw_message gort_raw_m_;                           \
      gort_raw_m_ message_expr;                                                 \
      ::gc::internal::stack::raw_fatal(gort_raw_m_, __FILE__, __LINE__);        \
    }                                                                           \
  } while (0)

// Aborts (without allocating) unless sp lies in t's stack bounds.
void check_sp_in_bounds(const thread_info* t, std::uintptr_t sp, const char* what);

}  // namespace gc::internal::stack
