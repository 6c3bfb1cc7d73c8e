// src/gc/scavenger.cpp: the background scavenger. See scavenger.hpp.
#include "gc/scavenger.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>

#include "alloc/alloc.hpp"
#include "os/os.hpp"

namespace gc::internal::scavenger {

namespace {

struct state {
  std::mutex mu;
  std::condition_variable wake;
  bool started = false;                      // guarded by mu
  std::uint64_t goal = ~std::uint64_t{0};    // guarded by mu: the goal bound
  std::uint64_t requests = 0;                // guarded by mu: set_goal calls
  std::atomic<std::uint64_t> released{0};    // bytes released by the thread
};

// Built by init() from the collector's initialiser, before any thread can
// fork: a function-local static built lazily could be mid-construction in
// another thread when the process forks, and the child's atfork handler
// would then wait forever on its initialisation guard (seen in the fork
// test: the child blocked in __cxa_guard_acquire).
state* state_ptr = nullptr;

state& st() { return *state_ptr; }

std::uint64_t retained_now() {
  const page_heap_counters c = page_heap::instance().counters();
  return c.heap_sys - c.heap_released;
}

void scavenger_main() {
  state& s = st();
  std::uint64_t seen = 0;
  for (;;) {
    std::uint64_t goal;
    {
      std::unique_lock g(s.mu);
      s.wake.wait(g, [&] { return s.requests != seen; });
      seen = s.requests;
      goal = s.goal;
    }
    for (;;) {
      const std::uint64_t retained = retained_now();
      if (goal == ~std::uint64_t{0} || retained <= goal) break;
      const std::uint64_t t0 = os::monotonic_ns();
      const std::size_t got = page_heap::instance().release(std::min<std::uint64_t>(retained - goal, chunk_bytes));
      const std::uint64_t work = os::monotonic_ns() - t0;
      s.released.fetch_add(got, std::memory_order_relaxed);
      if (got == 0) break;  // nothing free left to release
      std::unique_lock g(s.mu);
      s.wake.wait_for(g, std::chrono::nanoseconds(pause_after(work)), [&] { return s.requests != seen; });
      seen = s.requests;
      goal = s.goal;
    }
  }
}

}  // namespace

std::uint64_t pause_after(std::uint64_t work_ns, double fraction) {
  if (fraction >= 1.0) return 0;
  if (fraction <= 0.0) return 100'000'000;
  const double p = static_cast<double>(work_ns) * (1.0 - fraction) / fraction;
  return p >= 1e8 ? 100'000'000 : static_cast<std::uint64_t>(p);
}

void set_goal(std::uint64_t retained_bytes) {
  state& s = st();
  const bool over = retained_bytes != ~std::uint64_t{0} && retained_now() > retained_bytes;
  std::lock_guard g(s.mu);
  s.goal = retained_bytes;
  ++s.requests;
  if (over && !s.started) {
    s.started = true;
    std::thread(scavenger_main).detach();
  }
  s.wake.notify_one();
}

std::uint64_t released_in_background() { return st().released.load(std::memory_order_relaxed); }

void init() {
  if (state_ptr == nullptr) state_ptr = new state();
}

void atfork_child() {
  state& s = st();
  new (&s.mu) std::mutex();
  new (&s.wake) std::condition_variable();
  s.started = false;
}

}  // namespace gc::internal::scavenger
