// src/alloc/page_warmer.cpp: the warm reserve's thread. See page_warmer.hpp.
#include "alloc/page_warmer.hpp"

#include <atomic>
#include <cstdint>
#include <thread>

#include "alloc/page_heap.hpp"
#include "os/os.hpp"

namespace gc::internal::page_warmer {

namespace {

// Constant-initialised, so usable from any static initialiser and never
// destroyed; no lazily built static whose guard a fork could leave taken
// (the scavenger's note, scavenger.cpp). All atomic.
constinit std::atomic<std::uint32_t> requests{0};  // wake() calls, ever
constinit std::atomic<bool> started{false};
constinit std::atomic<unsigned long long> warmed{0};
// set_enabled: whether the thread may warm, and whether it is inside a
// piece (so that set_enabled(false) can wait for it). Sequentially
// consistent, so that the thread's store of busy and set_enabled's store
// of enabled are never both missed by the other's load.
constinit std::atomic<bool> enabled{true};
constinit std::atomic<bool> busy{false};

void warmer_main() {
  os::make_thread_idle_class();  // step 3
  for (;;) {
    const std::uint32_t seen = requests.load(std::memory_order_acquire);
    std::size_t got = 0;
    for (;;) {
      busy.store(true);
      const bool more = enabled.load() && page_heap::instance().warm_piece(got);
      busy.store(false);
      if (!more) break;
    }
    warmed.fetch_add(got, std::memory_order_relaxed);
    requests.wait(seen, std::memory_order_acquire);  // returns at once if a wake came meanwhile
  }
}

}  // namespace

void set_enabled(bool on) {
  enabled.store(on);
  if (!on) {
    while (busy.load()) std::this_thread::yield();
  }
}

void wake() {
  if (!enabled.load(std::memory_order_relaxed)) return;
  requests.fetch_add(1, std::memory_order_release);
  if (!started.load(std::memory_order_relaxed) && !started.exchange(true, std::memory_order_relaxed)) {
    std::thread(warmer_main).detach();
    return;
  }
  requests.notify_one();
}

unsigned long long warmed_bytes() { return warmed.load(std::memory_order_relaxed); }

void atfork_child() { started.store(false, std::memory_order_relaxed); }

}  // namespace gc::internal::page_warmer
