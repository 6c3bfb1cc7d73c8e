// src/stack/thread_registry.cpp: registering threads, their stack bounds,
// the registry lock, fork, and the allocation-free failure messages of
// src/stack. The record, the state machine and the invariants are in
// thread_registry.hpp; the stop protocol is in stop_world.cpp.
//
// Algorithm
// register_thread (the calling thread):
// 1. Already registered: return the record (no lock).
// 2. Install the stop machinery once (stop signal, handler, deferred-stop
//    hook) and unblock the stop signal in this thread.
// 3. Find the stack bounds (os::current_thread_stack: pthread_getattr_np, or
//    /proc/self/maps for the initial thread) and check that the stack
//    pointer lies inside them. This may allocate, so it is done before the
//    record is published, while no stop can be waiting for this thread.
// 4. Take registry_lock (so wait out a stop in progress), link the record,
//    set tls_current, release the lock. From then on a stop may claim it.
// 5. Arm a thread-exit key so a thread that exits registered is unregistered.
// unregister_thread:
// 1. Take registry_lock (as a registered thread: inside a blocking region,
//    so a stop in progress counts it as stopped), unlink the record, clear
//    tls_current, release, free the record. A stop signal arriving late
//    finds tls_current null and returns.
// Fork:
// 1. atfork_prepare takes registry_lock: no stop is in progress at fork()
//    and none starts until atfork_parent/atfork_child.
// 2. atfork_child frees every record but the caller's, resets the caller's
//    record (tid, state), the stop state and the lock.
//
// Invariants: see thread_registry.hpp. In addition, registry_count equals
// the length of the list whenever registry_lock is free.
#include "stack/thread_registry.hpp"

#include <cstdlib>
#include <mutex>

#include "common/check.hpp"
#include "common/lock.hpp"

namespace gc::internal::stack {

constinit thread_local thread_info* tls_current __attribute__((tls_model("initial-exec"))) = nullptr;

futex_lock registry_lock;
thread_info* registry_head = nullptr;
std::atomic<std::size_t> registry_count{0};

namespace {

// The thread-exit key (set once under exit_key_once, read-only after).
int exit_key = -1;
std::once_flag exit_key_once;

// Nesting depth of atfork_prepare on this thread (only this thread).
constinit thread_local int tls_fork_depth = 0;

void unregister_at_exit(void* record) {
  if (tls_current == record) unregister_thread();
}

}  // namespace

void lock_registry(thread_info* self) {
  if (registry_lock.try_lock()) return;
  if (self == nullptr) {
    registry_lock.lock();
    return;
  }
  // A stop in progress holds the lock: count as stopped while waiting.
  // Once we hold it no stop is in progress, so exit_blocking cannot wait.
  enter_blocking();
  registry_lock.lock();
  exit_blocking();
}

void unlock_registry() { registry_lock.unlock(); }

thread_info* register_thread() {
  if (thread_info* t = tls_current) return t;
  GORT_RAW_CHECK(!calling_thread_is_stopper(),
                 .text("register_thread: called by the thread that stopped the world, before start_the_world"));
  const int tid = os::gettid();
  GORT_CHECK(runtime_locks_held() == 0,
             "register_thread: thread {} holds or is acquiring {} runtime lock(s) (rank_mutex); register threads "
             "before taking any, or a stop of the world could deadlock",
             tid, runtime_locks_held());
  unblock_stop_signal();
  std::call_once(exit_key_once, [] {
    exit_key = os::create_thread_exit_key(unregister_at_exit);
    GORT_CHECK(exit_key >= 0, "register_thread: pthread_key_create failed (too many thread-specific keys)");
  });

  os::stack_range bounds;
  GORT_CHECK(os::current_thread_stack(&bounds),
             "register_thread: cannot find the stack bounds of thread {} (pthread_getattr_np and /proc/self/maps "
             "both failed)",
             tid);
  const std::uintptr_t sp = current_sp();
  GORT_CHECK(bounds.lo <= sp && sp < bounds.hi,
             "register_thread: thread {} runs at stack pointer {:#x}, outside its stack [{:#x}, {:#x}); gort cannot "
             "scan a thread running on a stack of its own (coroutine, fiber, sigaltstack)",
             tid, sp, bounds.lo, bounds.hi);

  auto* t = new thread_info;
  t->tid = tid;
  t->pthread = os::thread_self();
  t->stack_lo = bounds.lo;
  t->stack_hi = bounds.hi;

  lock_registry(nullptr);
  t->next = registry_head;
  if (registry_head != nullptr) registry_head->prev = t;
  registry_head = t;
  registry_count.store(registry_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  tls_current = t;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  unlock_registry();

  os::set_thread_exit_value(exit_key, t);
  return t;
}

void unregister_thread() {
  thread_info* t = tls_current;
  if (t == nullptr) return;
  GORT_RAW_CHECK(!calling_thread_is_stopper(),
                 .text("unregister_thread: called by the thread that stopped the world, before start_the_world"));
  GORT_RAW_CHECK(runtime_locks_held() == 0,
                 .text("unregister_thread: thread ").dec(t->tid).text(" holds or is acquiring ")
                 .dec(runtime_locks_held()).text(" runtime lock(s) (rank_mutex); a stop of the world could deadlock"));

  lock_registry(t);
  if (t->prev != nullptr) t->prev->next = t->next;
  else registry_head = t->next;
  if (t->next != nullptr) t->next->prev = t->prev;
  registry_count.store(registry_count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  tls_current = nullptr;  // a late stop signal now finds nothing to park
  std::atomic_signal_fence(std::memory_order_seq_cst);
  unlock_registry();

  if (exit_key >= 0) os::set_thread_exit_value(exit_key, nullptr);
  delete t;
}

thread_info* current_thread() { return tls_current; }

std::size_t registered_threads() { return registry_count.load(std::memory_order_relaxed); }

int thread_id(const thread_info* t) { return t->tid; }

void thread_stack_bounds(const thread_info* t, std::uintptr_t* lo, std::uintptr_t* hi) {
  *lo = t->stack_lo;
  *hi = t->stack_hi;
}

void atfork_prepare() {
  if (tls_fork_depth++ != 0) return;
  GORT_RAW_CHECK(!calling_thread_is_stopper(),
                 .text("fork: called by the thread that stopped the world, before start_the_world"));
  GORT_RAW_CHECK(runtime_locks_held() == 0,
                 .text("atfork_prepare: the forking thread holds or is acquiring ").dec(runtime_locks_held())
                 .text(" runtime lock(s); call atfork_prepare before taking any in the prepare handler"));
  lock_registry(tls_current);
}

void atfork_parent() {
  GORT_RAW_CHECK(tls_fork_depth > 0, .text("atfork_parent: no matching atfork_prepare"));
  if (--tls_fork_depth != 0) return;
  unlock_registry();
}

void atfork_child() {
  GORT_RAW_CHECK(tls_fork_depth > 0, .text("atfork_child: no matching atfork_prepare"));
  if (--tls_fork_depth != 0) return;
  // Single-threaded now: the other threads' records describe threads that
  // do not exist in this process.
  thread_info* self = tls_current;
  for (thread_info* t = registry_head; t != nullptr;) {
    thread_info* next = t->next;
    if (t != self) delete t;
    t = next;
  }
  registry_head = self;
  registry_count.store(self != nullptr ? 1 : 0, std::memory_order_relaxed);
  if (self != nullptr) {
    self->prev = nullptr;
    self->next = nullptr;
    self->signalled = false;
    self->tid = os::gettid();
    self->pthread = os::thread_self();
    self->in_park = 0;
    self->state.store(self->blocking_depth > 0 ? blocking : running, std::memory_order_relaxed);
  }
  tls_lock_state.stop_deferred = 0;
  reset_stop_state_after_fork();
  registry_lock.reset();
}

// --- allocation-free messages ---------------------------------------------

raw_message& raw_message::text(const char* s) {
  while (*s != '\0' && len_ < sizeof buf_) buf_[len_++] = *s++;
  return *this;
}

raw_message& raw_message::dec(long long v) {
  char digits[24];
  int n = 0;
  unsigned long long u = v < 0 ? 0ull - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
  do {
    digits[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (v < 0 && len_ < sizeof buf_) buf_[len_++] = '-';
  while (n > 0 && len_ < sizeof buf_) buf_[len_++] = digits[--n];
  return *this;
}

raw_message& raw_message::hex(std::uintptr_t v) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  text("0x");
  while (n > 0 && len_ < sizeof buf_) buf_[len_++] = digits[--n];
  return *this;
}

void raw_fatal(const raw_message& m, const char* file, int line) {
  // One write(2), as GORT_FATAL does, so the line is not interleaved.
  char out[sizeof(raw_message) + 256];
  std::size_t len = 0;
  auto put = [&](const char* p, std::size_t n) {
    for (std::size_t i = 0; i < n && len < sizeof out; ++i) out[len++] = p[i];
  };
  raw_message where;
  where.text(" (").text(file).text(":").dec(line).text(")\n");
  put("gort: fatal error: ", 19);
  put(m.data(), m.size());
  put(where.data(), where.size());
  os::write_stderr(out, len);
  std::abort();
}

void raw_warn(const raw_message& m) {
  os::write_stderr("gort: warning: ", 15);
  os::write_stderr(m.data(), m.size());
  os::write_stderr("\n", 1);
}

void check_sp_in_bounds(const thread_info* t, std::uintptr_t sp, const char* what) {
  GORT_RAW_CHECK(t->stack_lo <= sp && sp < t->stack_hi,
                 .text(what).text(": thread ").dec(t->tid).text(" saved stack pointer ").hex(sp)
                 .text(" lies outside its stack [").hex(t->stack_lo).text(", ").hex(t->stack_hi)
                 .text("); was it running on a stack of its own (coroutine, fiber, sigaltstack)?"));
}

}  // namespace gc::internal::stack
