// tests/stack_test.cpp: src/stack: the thread registry, stack bounds,
// stopping the world (safepoints, the stop signal, deferred stops, blocking
// regions), fork, GORT_STOP_SIGNAL, and the diagnostics.
//
// Catch2 assertions run on the main test thread only: worker threads report
// through atomics, read after they are joined or while they are stopped.
// Nothing is asserted while the world is stopped (Catch2 allocates, and a
// stopped thread could hold malloc's lock): observations are recorded in
// plain variables and checked after start_the_world.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <optional>
#include <thread>
#include <unistd.h>
#include <vector>

#include "common/lock.hpp"
#include "stack/stack.hpp"
#include "test_util.hpp"

namespace stk = gc::internal::stack;
using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool tsan = true;
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
constexpr bool tsan = true;
#  else
constexpr bool tsan = false;
#  endif
#else
constexpr bool tsan = false;
#endif

// Polls pred until it holds or timeout passes. Allocates nothing, so it may
// run while the world is stopped.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = 3000ms) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(200us);
  }
  return true;
}

auto addr(const volatile void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// What a worker thread publishes about itself.
struct slot {
  std::atomic<stk::thread_info*> info{nullptr};
  std::atomic<std::uintptr_t> local{0};   // the address of one of its locals
  std::atomic<std::uint64_t> counter{0};  // advances while it runs
  std::atomic<int> parks{0};              // park callbacks run on it
  std::atomic<std::uint64_t> returned{0}; // reader: read() calls that returned
  std::atomic<bool> blocking{false};      // reader: inside its blocking region
};

// Park callback: counts on the thread that parks.
constinit thread_local int tls_parks = 0;
std::atomic<int> total_parks{0};
void count_park() {
  ++tls_parks;
  total_parks.fetch_add(1, std::memory_order_relaxed);
}

// Installs count_park and a signal grace period for one test, restoring both.
struct park_setup {
  stk::park_callback_fn old_callback;
  std::uint64_t old_grace;
  explicit park_setup(std::uint64_t grace_ns)
      : old_callback(stk::set_park_callback(count_park)), old_grace(stk::testing::set_signal_grace_ns(grace_ns)) {}
  ~park_setup() {
    stk::set_park_callback(old_callback);
    stk::testing::set_signal_grace_ns(old_grace);
  }
};

// Registered, spins without safepoints until quit.
void spinner(slot& s, const std::atomic<bool>& quit) {
  s.info = stk::register_thread();
  volatile int local = 0;
  s.local = addr(&local);
  while (!quit.load(std::memory_order_relaxed)) s.counter.fetch_add(1, std::memory_order_relaxed);
  stk::unregister_thread();
}

// Registered, polls safepoint() until quit.
void poller(slot& s, const std::atomic<bool>& quit) {
  s.info = stk::register_thread();
  volatile int local = 0;
  s.local = addr(&local);
  while (!quit.load(std::memory_order_relaxed)) {
    stk::safepoint();
    s.parks.store(tls_parks, std::memory_order_relaxed);
    s.counter.fetch_add(1, std::memory_order_relaxed);
  }
  stk::unregister_thread();
}

// Registered, blocks in read() on fd inside a blocking region until a byte
// comes; 'x' ends it, anything else loops.
void reader(slot& s, int fd) {
  s.info = stk::register_thread();
  volatile int local = 0;
  s.local = addr(&local);
  for (;;) {
    char c = 0;
    stk::enter_blocking();
    s.blocking = true;
    ssize_t n = ::read(fd, &c, 1);
    s.returned.fetch_add(1);
    s.blocking = false;
    stk::exit_blocking();
    s.counter.fetch_add(1, std::memory_order_relaxed);
    if (n <= 0 || c == 'x') break;
  }
  stk::unregister_thread();
}

// A spinner, a poller and a reader blocked in read(), running until the
// fixture is destroyed; slots[0..2] describe them. Used by the tests that
// look at several kinds of thread at once.
struct three_threads {
  int fds[2] = {-1, -1};
  slot slots[3];
  std::atomic<bool> quit{false};
  std::thread a, b, c;
  three_threads() {
    REQUIRE(::pipe(fds) == 0);
    a = std::thread(spinner, std::ref(slots[0]), std::cref(quit));
    b = std::thread(poller, std::ref(slots[1]), std::cref(quit));
    c = std::thread(reader, std::ref(slots[2]), fds[0]);
    // The reader must be inside its blocking region, not just started: a
    // stop that found it between its local and read() stopped it as a
    // running thread (seen once under ctest -j2, 2026-12-02).
    REQUIRE(wait_until([&] {
      for (auto& sl : slots)
        if (sl.local.load() == 0) return false;
      return slots[2].blocking.load();
    }));
  }
  ~three_threads() {
    quit = true;
    CHECK(::write(fds[1], "x", 1) == 1);
    a.join();
    b.join();
    c.join();
    ::close(fds[0]);
    ::close(fds[1]);
  }
};

struct observed {
  bool seen = false;
  stk::stop_kind kind = stk::stop_kind::self;
  bool holds_local = false;
  bool inside_bounds = false;
  bool tid_ok = false;
  const void* regs = nullptr;
  std::size_t regs_bytes = 0;
  int times = 0;
};

// Records, while stopped, what for_each_stack says about the given slots.
template <std::size_t N>
void observe(slot (&slots)[N], observed (&out)[N], observed& self, std::uintptr_t self_local) {
  for (auto& o : out) o = observed{};
  self = observed{};
  stk::for_each_stack([&](const stk::stack_view& v) {
    if (v.kind == stk::stop_kind::self) {
      self.seen = true;
      self.times++;
      self.kind = v.kind;
      self.holds_local = v.lo <= self_local && self_local < v.hi;
      self.tid_ok = v.tid == static_cast<int>(::gettid());
      return;
    }
    for (std::size_t i = 0; i < N; ++i) {
      if (v.thread != slots[i].info.load()) continue;
      observed& o = out[i];
      o.seen = true;
      o.times++;
      o.kind = v.kind;
      const std::uintptr_t local = slots[i].local.load();
      o.holds_local = v.lo <= local && local < v.hi;
      std::uintptr_t lo = 0, hi = 0;
      stk::thread_stack_bounds(v.thread, &lo, &hi);
      o.inside_bounds = lo <= v.lo && v.lo < hi && v.hi == hi;
      o.tid_ok = v.tid == stk::thread_id(v.thread);
      o.regs = v.regs;
      o.regs_bytes = v.regs_bytes;
    }
  });
}

}  // namespace

TEST_CASE("stack: the main thread's stack bounds contain a local of the test function", "[stack]") {
  volatile int local = 0;
  const bool was_registered = stk::current_thread() != nullptr;
  stk::thread_info* t = stk::register_thread();
  REQUIRE(t != nullptr);
  CHECK(stk::register_thread() == t);  // idempotent
  CHECK(stk::current_thread() == t);
  CHECK(stk::registered_threads() >= 1);
  CHECK(stk::thread_id(t) == static_cast<int>(::getpid()));
  std::uintptr_t lo = 0, hi = 0;
  stk::thread_stack_bounds(t, &lo, &hi);
  CHECK(lo <= addr(&local));
  CHECK(addr(&local) < hi);
  CHECK(hi - lo >= 64 * 1024);
  if (!was_registered) {
    stk::unregister_thread();
    CHECK(stk::current_thread() == nullptr);
    stk::unregister_thread();  // a no-op now
  }
}

TEST_CASE("stack: threads spinning without safepoints are stopped by the signal", "[stack]") {
  constexpr int n = 3;
  slot slots[n];
  std::atomic<bool> quit{false};
  std::vector<std::thread> threads;
  for (auto& s : slots) threads.emplace_back(spinner, std::ref(s), std::cref(quit));
  REQUIRE(wait_until([&] {
    for (auto& s : slots)
      if (s.local.load() == 0 || s.counter.load() == 0) return false;
    return true;
  }));
  std::uint64_t signals_before[n];
  for (int i = 0; i < n; ++i) signals_before[i] = stk::testing::stop_signals_received(slots[i].info.load());

  volatile int main_local = 0;
  for (int round = 0; round < 5; ++round) {
    std::uint64_t at_stop[n], later[n];
    observed seen[n], self;
    stk::stop_the_world();
    for (int i = 0; i < n; ++i) at_stop[i] = slots[i].counter.load();
    observe(slots, seen, self, addr(&main_local));
    std::this_thread::sleep_for(20ms);
    for (int i = 0; i < n; ++i) later[i] = slots[i].counter.load();
    stk::start_the_world();

    for (int i = 0; i < n; ++i) {
      INFO("round " << round << ", thread " << i);
      CHECK(at_stop[i] == later[i]);  // did not run while stopped
      CHECK(seen[i].times == 1);
      CHECK(seen[i].kind == stk::stop_kind::signal);
      CHECK(seen[i].holds_local);
      CHECK(seen[i].inside_bounds);
      CHECK(seen[i].tid_ok);
      CHECK(wait_until([&] { return slots[i].counter.load() > later[i]; }));  // runs again after
    }
    CHECK(self.times == 1);
    CHECK(self.holds_local);
    CHECK(self.tid_ok);
  }
  for (int i = 0; i < n; ++i) CHECK(stk::testing::stop_signals_received(slots[i].info.load()) - signals_before[i] >= 5);
  quit = true;
  for (auto& t : threads) t.join();
}

TEST_CASE("stack: a thread the last stop had to signal is signalled at once; one that parks again at a safepoint is not",
          "[stack]") {
  park_setup setup(300'000'000);  // a 300 ms grace for threads that parked at a safepoint last time
  slot s;
  std::atomic<bool> quit{false}, poll{false};
  std::thread th([&] {
    s.info = stk::register_thread();
    volatile int local = 0;
    s.local = addr(&local);
    while (!quit.load(std::memory_order_relaxed)) {
      if (poll.load(std::memory_order_relaxed)) stk::safepoint();
      s.counter.fetch_add(1, std::memory_order_relaxed);
    }
    stk::unregister_thread();
  });
  REQUIRE(wait_until([&] { return s.local.load() != 0 && s.counter.load() != 0; }));

  // First stop: a spinner not yet known to need the signal waits out the grace.
  stk::stop_the_world();
  const stk::stop_stats first = stk::last_stop_stats();
  stk::start_the_world();
  CHECK(first.signalled == 1);
  CHECK(first.wait_ns >= 300'000'000);

  // Second: it parked in the handler last time, so it is signalled at once.
  stk::stop_the_world();
  const stk::stop_stats second = stk::last_stop_stats();
  stk::start_the_world();
  CHECK(second.signalled == 1);
  CHECK(second.wait_ns < 150'000'000);

  // Now it polls. The early signal may still win a race with its next
  // poll; once it has parked at a safepoint, the next stop gives it the
  // whole grace and sends no signal.
  poll = true;
  const std::uint64_t c = s.counter.load();
  REQUIRE(wait_until([&] { return s.counter.load() > c + 1000; }));
  bool parked_at_safepoint = false;
  for (int i = 0; i < 50 && !parked_at_safepoint; ++i) {
    stk::stop_the_world();
    stk::for_each_stack([&](const stk::stack_view& v) {
      if (v.thread == s.info.load()) parked_at_safepoint = v.kind == stk::stop_kind::safepoint;
    });
    stk::start_the_world();
  }
  REQUIRE(parked_at_safepoint);
  stk::stop_the_world();
  const stk::stop_stats after = stk::last_stop_stats();
  stk::start_the_world();
  CHECK(after.signalled == 0);
  quit = true;
  th.join();
}

TEST_CASE("stack: threads polling safepoint() park cooperatively and the park callback runs on them", "[stack]") {
  park_setup setup(10'000'000'000);  // a 10 s grace: only safepoints stop them
  constexpr int n = 3;
  slot slots[n];
  std::atomic<bool> quit{false};
  std::vector<std::thread> threads;
  for (auto& s : slots) threads.emplace_back(poller, std::ref(s), std::cref(quit));
  REQUIRE(wait_until([&] {
    for (auto& s : slots)
      if (s.local.load() == 0 || s.counter.load() == 0) return false;
    return true;
  }));
  std::uint64_t signals_before[n];
  for (int i = 0; i < n; ++i) signals_before[i] = stk::testing::stop_signals_received(slots[i].info.load());

  volatile int main_local = 0;
  constexpr int rounds = 5;
  for (int round = 0; round < rounds; ++round) {
    std::uint64_t at_stop[n], later[n];
    observed seen[n], self;
    stk::stop_the_world();
    for (int i = 0; i < n; ++i) at_stop[i] = slots[i].counter.load();
    observe(slots, seen, self, addr(&main_local));
    std::this_thread::sleep_for(5ms);
    for (int i = 0; i < n; ++i) later[i] = slots[i].counter.load();
    stk::start_the_world();
    for (int i = 0; i < n; ++i) {
      INFO("round " << round << ", thread " << i);
      CHECK(at_stop[i] == later[i]);
      CHECK(seen[i].kind == stk::stop_kind::safepoint);
      CHECK(seen[i].holds_local);
      CHECK(seen[i].inside_bounds);
      CHECK(seen[i].regs == nullptr);
    }
  }
  for (int i = 0; i < n; ++i) {
    INFO("thread " << i);
    CHECK(wait_until([&] { return slots[i].parks.load() >= rounds; }));  // the callback ran on the thread itself
    CHECK(stk::testing::stop_signals_received(slots[i].info.load()) == signals_before[i]);
  }
  quit = true;
  for (auto& t : threads) t.join();
}

TEST_CASE("stack: a thread blocked in read() in a blocking region is not signalled and waits at exit_blocking", "[stack]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  slot slots[1];
  std::thread th(reader, std::ref(slots[0]), fds[0]);
  REQUIRE(wait_until([&] { return slots[0].local.load() != 0; }));
  std::this_thread::sleep_for(10ms);  // most likely inside read() by now; either way it is in the region
  stk::thread_info* info = slots[0].info.load();

  volatile int main_local = 0;
  for (int round = 0; round < 3; ++round) {
    const std::uint64_t signals_before = stk::testing::stop_signals_received(info);
    const std::uint64_t reads_before = slots[0].counter.load();
    const std::uint64_t returned_before = slots[0].returned.load();
    observed seen[1], self;
    stk::stop_the_world();
    observe(slots, seen, self, addr(&main_local));
    // Wake the reader during the stop: read() returns (the thread runs in
    // its region), but exit_blocking must hold it until the world restarts.
    const bool wrote = ::write(fds[1], round == 2 ? "x" : "y", 1) == 1;
    const bool read_returned = wait_until([&] { return slots[0].returned.load() == returned_before + 1; });
    std::this_thread::sleep_for(20ms);
    const std::uint64_t reads_during = slots[0].counter.load();
    const std::uint64_t signals_during = stk::testing::stop_signals_received(info);
    stk::start_the_world();

    INFO("round " << round);
    CHECK(wrote);
    CHECK(read_returned);
    CHECK(seen[0].kind == stk::stop_kind::blocking);
    CHECK(seen[0].holds_local);
    CHECK(seen[0].inside_bounds);
    CHECK(seen[0].regs != nullptr);
    CHECK(seen[0].regs_bytes > 0);
    CHECK(reads_during == reads_before);  // could not get past exit_blocking
    CHECK(signals_during == signals_before);
    CHECK(wait_until([&] { return slots[0].counter.load() == reads_before + 1; }));
    std::this_thread::sleep_for(5ms);  // back in read()
  }
  th.join();
  ::close(fds[0]);
  ::close(fds[1]);
}

// The main thread is registered when an earlier case in the same process
// allocated (the test binary run whole; ctest runs each case alone). A case
// whose stopper must not wait for it keeps it in a blocking region while
// the stopper runs: it touches no gc memory meanwhile. Without this, run
// after a gc_new case, the rank_mutex case below deadlocked (the stopped
// main thread was the one to release the lock holder) and this one timed
// out (the main thread, never signalled here, could not park).
struct main_thread_blocking {
  const bool on = stk::current_thread() != nullptr;
  main_thread_blocking() {
    if (on) stk::enter_blocking();
  }
  ~main_thread_blocking() {
    if (on) stk::exit_blocking();
  }
  main_thread_blocking(const main_thread_blocking&) = delete;
  main_thread_blocking& operator=(const main_thread_blocking&) = delete;
};

TEST_CASE("stack: a thread entering a blocking region during a stop counts as blocking", "[stack]") {
  park_setup setup(10'000'000'000);  // never signalled: it must ack by entering the region
  std::atomic<stk::thread_info*> info{nullptr};
  std::atomic<int> phase{0};  // 1: claimed and entered, 2: left the region
  std::thread th([&] {
    info = stk::register_thread();
    // Spin (no safepoints) until a stop has claimed us, then enter a region.
    while (stk::detail::stop_requested.load() == 0) {
    }
    stk::enter_blocking();
    phase = 1;
    stk::exit_blocking();  // waits for the restart
    phase = 2;
    stk::unregister_thread();
  });
  REQUIRE(wait_until([&] { return info.load() != nullptr; }));
  stk::thread_info* t = info.load();
  const std::uint64_t signals_before = stk::testing::stop_signals_received(t);

  std::atomic<bool> stopped{false}, restart{false};
  stk::stop_kind kind = stk::stop_kind::self;
  int phase_while_stopped = -1;
  std::uint64_t signals_during = 0;
  std::optional<main_thread_blocking> main_blocking;
  main_blocking.emplace();
  std::thread stopper([&] {
    stk::stop_the_world();
    stopped = true;
    stk::for_each_stack([&](const stk::stack_view& v) {
      if (v.thread == t) kind = v.kind;
    });
    while (!restart.load()) std::this_thread::sleep_for(1ms);
    phase_while_stopped = phase.load();
    signals_during = stk::testing::stop_signals_received(t);  // t cannot unregister during the stop
    stk::start_the_world();
  });
  CHECK(wait_until([&] { return stopped.load(); }));
  std::this_thread::sleep_for(20ms);
  restart = true;
  stopper.join();
  main_blocking.reset();
  th.join();
  CHECK(kind == stk::stop_kind::blocking);
  CHECK(phase_while_stopped == 1);
  CHECK(phase.load() == 2);
  CHECK(signals_during == signals_before);
}

TEST_CASE("stack: for_each_stack reports every thread with a range holding its local, and the caller", "[stack]") {
  three_threads threads;
  slot (&slots)[3] = threads.slots;

  volatile int main_local = 0;
  const bool was_registered = stk::current_thread() != nullptr;
  for (bool registered : {false, true}) {
    if (registered) stk::register_thread();
    else if (was_registered) continue;  // the main thread cannot be unregistered here
    const std::size_t expected_views = stk::registered_threads() + (registered ? 0 : 1);
    std::size_t views = 0;
    bool self_thread_ok = false;
    std::uintptr_t self_lo = 0, self_hi = 0;
    observed seen[3], self;
    stk::stop_the_world();
    observe(slots, seen, self, addr(&main_local));
    stk::for_each_stack([&](const stk::stack_view& v) {
      ++views;
      if (v.kind == stk::stop_kind::self) {
        self_thread_ok = v.thread == stk::current_thread();
        self_lo = v.lo;
        self_hi = v.hi;
      }
    });
    stk::start_the_world();

    INFO("main thread registered: " << registered);
    CHECK(views == expected_views);
    for (int i = 0; i < 3; ++i) {
      INFO("thread " << i);
      CHECK(seen[i].times == 1);
      CHECK(seen[i].holds_local);
      CHECK(seen[i].inside_bounds);
      CHECK(seen[i].tid_ok);
    }
    CHECK(seen[2].kind == stk::stop_kind::blocking);
    CHECK(self.times == 1);
    CHECK(self.holds_local);
    CHECK(self.tid_ok);
    CHECK(self_thread_ok);
    CHECK(self_lo < addr(&main_local));
    CHECK(addr(&main_local) < self_hi);
  }
  if (!was_registered) stk::unregister_thread();
}

TEST_CASE("stack: a handshake visits each thread once and alone while the others run", "[stack]") {
  three_threads threads;
  slot (&slots)[3] = threads.slots;
  const bool was_registered = stk::current_thread() != nullptr;
  if (!was_registered) stk::register_thread();
  volatile int main_local = 0;

  // Recorded during the handshake without allocating; checked after.
  int times[3] = {0, 0, 0};
  bool holds_local[3] = {false, false, false};
  stk::stop_kind kinds[3] = {};
  // While the spinner (a) is visited, the poller (b) must still advance,
  // and the other way round: only the visited thread is stopped.
  bool others_ran[3] = {false, false, false};
  int self_views = 0;
  bool self_holds_local = false;
  stk::handshake_each_stack([&](const stk::stack_view& v) {
    if (v.kind == stk::stop_kind::self) {
      ++self_views;
      self_holds_local = v.lo <= addr(&main_local) && addr(&main_local) < v.hi;
      return;
    }
    for (int i = 0; i < 3; ++i) {
      if (v.thread != slots[i].info.load()) continue;
      ++times[i];
      kinds[i] = v.kind;
      holds_local[i] = v.lo <= slots[i].local.load() && slots[i].local.load() < v.hi;
      if (i < 2) {  // a runner: the other runner keeps counting meanwhile
        slot& other = slots[1 - i];
        const std::uint64_t before = other.counter.load();
        const std::uint64_t visited_before = slots[i].counter.load();
        others_ran[i] = wait_until([&] { return other.counter.load() > before + 100; });
        // ...and the visited one does not.
        if (slots[i].counter.load() != visited_before) others_ran[i] = false;
      }
    }
  });
  for (int i = 0; i < 3; ++i) {
    INFO("thread " << i);
    CHECK(times[i] == 1);
    CHECK(holds_local[i]);
  }
  CHECK(others_ran[0]);
  CHECK(others_ran[1]);
  CHECK(kinds[2] == stk::stop_kind::blocking);  // the reader was not interrupted
  CHECK(slots[2].returned.load() == 0);
  CHECK(self_views == 1);
  CHECK(self_holds_local);
  // Everyone runs again afterwards.
  const std::uint64_t a_before = slots[0].counter.load(), b_before = slots[1].counter.load();
  CHECK(wait_until([&] { return slots[0].counter.load() > a_before && slots[1].counter.load() > b_before; }));
  if (!was_registered) stk::unregister_thread();
}

TEST_CASE("stack: a thread holding or waiting for a rank_mutex stops only after it releases it", "[stack]") {
  park_setup setup(100'000);
  gc::internal::rank_mutex mu{gc::internal::lock_rank::heap};
  slot holder, waiter;
  std::atomic<bool> locked{false}, release{false}, quit{false};
  std::thread h([&] {
    holder.info = stk::register_thread();
    volatile int local = 0;
    holder.local = addr(&local);
    mu.lock();
    locked = true;
    while (!release.load(std::memory_order_relaxed)) holder.counter.fetch_add(1, std::memory_order_relaxed);
    mu.unlock();  // the deferred stop parks here
    holder.parks = tls_parks;
    while (!quit.load(std::memory_order_relaxed)) holder.counter.fetch_add(1, std::memory_order_relaxed);
    stk::unregister_thread();
  });
  REQUIRE(wait_until([&] { return locked.load(); }));
  std::thread w([&] {
    waiter.info = stk::register_thread();
    volatile int local = 0;
    waiter.local = addr(&local);
    waiter.counter = 1;
    mu.lock();  // waits: the stop must not park it in here either
    mu.unlock();
    waiter.parks = tls_parks;
    while (!quit.load(std::memory_order_relaxed)) waiter.counter.fetch_add(1, std::memory_order_relaxed);
    stk::unregister_thread();
  });
  REQUIRE(wait_until([&] { return waiter.counter.load() != 0; }));
  std::this_thread::sleep_for(10ms);  // the waiter is most likely asleep in mu.lock()

  const std::uint64_t deferred_before = stk::testing::deferred_parks();
  const std::uint64_t holder_signals = stk::testing::stop_signals_received(holder.info.load());
  std::atomic<bool> stopped{false}, finished{false};
  stk::stop_kind holder_kind = stk::stop_kind::self, waiter_kind = stk::stop_kind::self;
  std::uint64_t frozen_a = 0, frozen_b = 1;
  std::optional<main_thread_blocking> main_blocking;
  main_blocking.emplace();
  std::thread stopper([&] {
    stk::stop_the_world();
    stopped = true;
    stk::for_each_stack([&](const stk::stack_view& v) {
      if (v.thread == holder.info.load()) holder_kind = v.kind;
      if (v.thread == waiter.info.load()) waiter_kind = v.kind;
    });
    frozen_a = holder.counter.load();
    std::this_thread::sleep_for(20ms);
    frozen_b = holder.counter.load();
    stk::start_the_world();
    finished = true;
  });

  // The holder was signalled, deferred, and keeps running with the lock.
  CHECK(wait_until([&] { return stk::testing::stop_signals_received(holder.info.load()) > holder_signals; }));
  const std::uint64_t c1 = holder.counter.load();
  CHECK(wait_until([&] { return holder.counter.load() > c1 + 1000; }));
  std::this_thread::sleep_for(20ms);
  CHECK_FALSE(stopped.load());

  release = true;
  CHECK(wait_until([&] { return finished.load(); }));
  stopper.join();
  main_blocking.reset();
  CHECK(holder_kind == stk::stop_kind::safepoint);
  CHECK(waiter_kind == stk::stop_kind::safepoint);
  CHECK(frozen_a == frozen_b);
  CHECK(stk::testing::deferred_parks() - deferred_before >= 2);
  CHECK(wait_until([&] { return holder.parks.load() >= 1 && waiter.parks.load() >= 1; }));
  CHECK(gc::internal::runtime_locks_held() == 0);
  quit = true;
  h.join();
  w.join();
}

TEST_CASE("stack: threads created and exiting in a loop while another thread stops and starts the world", "[stack]") {
  constexpr int stops = 300;
  constexpr int min_threads = 300;
  const std::size_t registered_before = stk::registered_threads();
  std::atomic<int> stops_done{0}, bad_views{0}, created{0};
  std::thread stopper([&] {
    stk::register_thread();
    for (int i = 0; i < stops; ++i) {
      std::size_t views = 0, expected = 0;
      stk::stop_the_world();
      expected = stk::registered_threads();
      stk::for_each_stack([&](const stk::stack_view& v) {
        ++views;
        if (v.lo >= v.hi || (v.kind == stk::stop_kind::blocking && v.regs == nullptr)) bad_views++;
      });
      stk::start_the_world();
      if (views != expected) bad_views++;
      stops_done++;
      if (i % 8 == 0) std::this_thread::yield();
    }
    stk::unregister_thread();
  });

  // Keeps a few short-lived registered threads alive at a time; some leave
  // without unregister_thread (the thread-exit key must do it).
  const auto deadline = std::chrono::steady_clock::now() + 4s;
  std::vector<std::thread> live;
  while ((stops_done.load() < stops || created.load() < min_threads) && std::chrono::steady_clock::now() < deadline) {
    const int id = created++;
    live.emplace_back([id] {
      stk::register_thread();
      for (int k = 0; k < 200; ++k) {
        stk::safepoint();
        if (k % 50 == 0) {
          stk::enter_blocking();
          std::this_thread::yield();
          stk::exit_blocking();
        }
      }
      if (id % 3 != 0) stk::unregister_thread();
    });
    if (live.size() >= 4) {
      live.front().join();
      live.erase(live.begin());
    }
  }
  for (auto& t : live) t.join();
  stopper.join();
  CHECK(stops_done.load() == stops);
  CHECK(created.load() >= min_threads);
  CHECK(bad_views.load() == 0);
  CHECK(stk::registered_threads() == registered_before);
}

TEST_CASE("stack: stop_the_world from several threads at once", "[stack]") {
  constexpr int rounds = 100;
  slot slots[2];
  std::atomic<bool> quit{false};
  std::thread s1(spinner, std::ref(slots[0]), std::cref(quit));
  std::thread p1(poller, std::ref(slots[1]), std::cref(quit));
  REQUIRE(wait_until([&] { return slots[0].local.load() != 0 && slots[1].local.load() != 0; }));

  std::atomic<int> bad{0}, finished{0};
  std::atomic<int> inside{0};  // stoppers between stop_the_world and start_the_world
  auto stopper = [&](bool registered) {
    if (registered) stk::register_thread();
    for (int i = 0; i < rounds; ++i) {
      stk::stop_the_world();
      if (inside.fetch_add(1) != 0) bad++;  // two stoppers at once
      std::size_t views = 0;
      const std::size_t expected = stk::registered_threads() + (registered ? 0 : 1);
      stk::for_each_stack([&](const stk::stack_view&) { ++views; });
      if (views != expected) bad++;
      inside.fetch_sub(1);
      stk::start_the_world();
      stk::safepoint();
    }
    if (registered) stk::unregister_thread();
    finished++;
  };
  std::thread a(stopper, true), b(stopper, true), c(stopper, false);
  const bool all = wait_until([&] { return finished.load() == 3; }, 4000ms);
  CHECK(all);
  a.join();
  b.join();
  c.join();
  CHECK(bad.load() == 0);
  quit = true;
  s1.join();
  p1.join();
}

namespace {

// The child's side of the fork test; returns its exit status.
int child_after_fork() {
  stk::atfork_child();
  if (stk::registered_threads() != 1) return 10;
  stk::thread_info* self = stk::current_thread();
  if (self == nullptr || stk::thread_id(self) != static_cast<int>(::gettid())) return 11;
  std::size_t views = 0;
  stk::stop_the_world();
  stk::for_each_stack([&](const stk::stack_view& v) { views += v.kind == stk::stop_kind::self ? 1 : 100; });
  stk::start_the_world();
  if (views != 1) return 12;
  if (!tsan) {  // ThreadSanitizer does not support threads in a child of a multi-threaded process
    slot s;
    std::atomic<bool> quit{false};
    std::thread t(spinner, std::ref(s), std::cref(quit));
    while (s.counter.load() == 0) std::this_thread::yield();
    views = 0;
    stk::stop_the_world();
    stk::for_each_stack([&](const stk::stack_view& v) { views += v.kind == stk::stop_kind::signal ? 1 : 0; });
    stk::start_the_world();
    quit = true;
    t.join();
    if (views != 1) return 13;
  }
  stk::unregister_thread();
  return stk::registered_threads() == 0 ? 0 : 14;
}

}  // namespace

TEST_CASE("stack: fork in a loop from a multi-threaded registered process", "[stack]") {
  const bool was_registered = stk::current_thread() != nullptr;
  stk::register_thread();
  slot slots[2];
  std::atomic<bool> quit{false};
  std::thread s1(spinner, std::ref(slots[0]), std::cref(quit));
  std::thread p1(poller, std::ref(slots[1]), std::cref(quit));
  REQUIRE(wait_until([&] { return slots[0].local.load() != 0 && slots[1].local.load() != 0; }));

  std::vector<int> statuses;
  for (int i = 0; i < 20; ++i) {
    // gort's collector registers pthread_atfork handlers that make the same
    // calls; they nest.
    stk::atfork_prepare();
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(child_after_fork());
    stk::atfork_parent();
    int status = -1;
    ::waitpid(pid, &status, 0);
    statuses.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    stk::stop_the_world();  // the parent still stops its threads
    stk::start_the_world();
  }
  for (int s : statuses) CHECK(s == 0);
  CHECK(stk::registered_threads() >= 3);
  quit = true;
  s1.join();
  p1.join();
  if (!was_registered) stk::unregister_thread();
}

// ---- GORT_STOP_SIGNAL --------------------------------------------------------

namespace {

void ignore_signal(int) {}

// Runs this test binary again, as a fresh process (the variable is read once
// per process), on the hidden helper test below, with stderr captured.
// posix_spawn, not fork: no pthread_atfork handlers run, so this works the
// same in every build, and the helper starts from a clean process.
std::pair<int, std::string> run_helper(const char* stop_signal, const char* mode) {
  char path[] = "/tmp/gort_stack_XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.substr(0, 17) == "GORT_STOP_SIGNAL=" || kv.substr(0, 18) == "GORT_STACK_HELPER=") continue;
    env_text.emplace_back(kv);
  }
  if (stop_signal != nullptr) env_text.push_back(std::string("GORT_STOP_SIGNAL=") + stop_signal);
  env_text.push_back(std::string("GORT_STACK_HELPER=") + mode);
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  char arg0[] = "gort_tests";
  char arg1[] = "stack: helper for the GORT_STOP_SIGNAL tests";
  char* argv[] = {arg0, arg1, nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, 2);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::string text = gort_test::read_and_remove(fd, path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text};
}

}  // namespace

// Hidden ([.]): run only by run_helper. GORT_STACK_HELPER names what to do:
// "urg" / "usr2": expect that stop signal and stop a spinning thread with it;
// "preinstall": install a program handler for SIGURG first (must abort);
// "replace": replace gort's handler after it is installed (the first stop
// that has to signal must abort).
TEST_CASE("stack: helper for the GORT_STOP_SIGNAL tests", "[.][stack_helper]") {
  const char* mode_env = std::getenv("GORT_STACK_HELPER");
  const std::string mode = mode_env ? mode_env : "";
  if (mode == "preinstall") std::signal(SIGURG, ignore_signal);
  stk::register_thread();
  if (mode == "replace") std::signal(SIGURG, ignore_signal);
  const int expected = mode == "usr2" ? SIGUSR2 : SIGURG;
  REQUIRE(stk::testing::stop_signal() == expected);
  slot s;
  std::atomic<bool> quit{false};
  std::thread t(spinner, std::ref(s), std::cref(quit));
  REQUIRE(wait_until([&] { return s.counter.load() != 0; }));
  for (int i = 0; i < 3; ++i) {
    stk::stop_the_world();
    stk::start_the_world();
    // Let it leave the handler: a thread still parked in it when the next
    // stop claims it parks again without a new signal.
    const std::uint64_t c = s.counter.load();
    REQUIRE(wait_until([&] { return s.counter.load() > c; }));
  }
  CHECK(stk::testing::stop_signals_received() >= 3);
  quit = true;
  t.join();
  stk::unregister_thread();
}

TEST_CASE("stack: a bad GORT_STOP_SIGNAL value prints exactly one warning and SIGURG is used", "[stack]") {
  for (const char* bad : {"SIGBOGUS", "9", "SIGSEGV", "12x"}) {
    INFO("GORT_STOP_SIGNAL=" << bad);
    auto [status, err] = run_helper(bad, "urg");
    CHECK(status == 0);
    CHECK(err == std::string("gort: warning: GORT_STOP_SIGNAL: invalid value '") + bad +
                     "' (want a signal number or name among SIGURG, SIGUSR1, SIGUSR2, SIGWINCH, SIGPWR, SIGXCPU, "
                     "SIGVTALRM, SIGPROF, SIGIO, SIGRTMIN..SIGRTMAX); using the default SIGURG\n");
  }
}

TEST_CASE("stack: GORT_STOP_SIGNAL selects the stop signal by name or number", "[stack]") {
  for (const char* good : {"SIGUSR2", "USR2", "12"}) {
    INFO("GORT_STOP_SIGNAL=" << good);
    auto [status, err] = run_helper(good, "usr2");
    CHECK(status == 0);
    CHECK(err.empty());
  }
  auto [status, err] = run_helper(nullptr, "urg");  // unset: SIGURG, silently
  CHECK(status == 0);
  CHECK(err.empty());
}

TEST_CASE("stack: a program handler on the stop signal aborts with a message naming GORT_STOP_SIGNAL", "[stack]") {
  auto [status, err] = run_helper(nullptr, "preinstall");
  CHECK(status == 128 + SIGABRT);
  CHECK(err.find("gort: fatal error: ") == 0);
  CHECK(err.find("SIGURG") != std::string::npos);
  CHECK(err.find("GORT_STOP_SIGNAL=SIGUSR2") != std::string::npos);
}

TEST_CASE("stack: a program that replaces gort's stop handler later aborts at the first stop that signals",
          "[stack]") {
  // The handler is checked only when a thread has to be signalled (a stop
  // that needs no signal makes no system call for it): the spinner here
  // never reaches a safepoint.
  auto [status, err] = run_helper(nullptr, "replace");
  CHECK(status == 128 + SIGABRT);
  CHECK(err.find("gort: fatal error: ") == 0);
  CHECK(err.find("the handler of SIGURG") != std::string::npos);
  CHECK(err.find("GORT_STOP_SIGNAL=SIGUSR2") != std::string::npos);
}

TEST_CASE("stack: GORT_STOP_SIGNAL parsing accepts numbers and names and rejects the rest", "[stack]") {
  std::string w;
  CHECK(stk::testing::parse_stop_signal(nullptr, &w) == SIGURG);
  CHECK(w.empty());
  CHECK(stk::testing::parse_stop_signal("", &w) == SIGURG);
  CHECK(w.empty());
  CHECK(stk::testing::parse_stop_signal("SIGUSR1", &w) == SIGUSR1);
  CHECK(w.empty());
  CHECK(stk::testing::parse_stop_signal("USR1", &w) == SIGUSR1);
  CHECK(stk::testing::parse_stop_signal("SIGWINCH", &w) == SIGWINCH);
  CHECK(stk::testing::parse_stop_signal("SIGRTMIN", &w) == SIGRTMIN);
  CHECK(stk::testing::parse_stop_signal("SIGRTMIN+3", &w) == SIGRTMIN + 3);
  CHECK(stk::testing::parse_stop_signal("RTMAX-1", &w) == SIGRTMAX - 1);
  CHECK(stk::testing::parse_stop_signal(std::to_string(SIGRTMIN + 1).c_str(), &w) == SIGRTMIN + 1);
  CHECK(w.empty());
  for (const char* bad : {"SIGKILL", "SIGINT", "SIGTERM", "SIGSTOP", "0", "-1", "32", "65", "SIGRTMIN+99",
                          "RTMIN+", "usr2", "SIG", "SIGURG ", " 12"}) {
    INFO(bad);
    CHECK(stk::testing::parse_stop_signal(bad, &w) == SIGURG);
    CHECK(w.find(std::string("GORT_STOP_SIGNAL: invalid value '") + bad + "'") == 0);
  }
}

// ---- diagnostics ---------------------------------------------------------------

namespace {

__attribute__((noinline)) std::size_t frames_of_named_function(stk::frame* out, std::size_t n,
                                                                std::uintptr_t* local_addr) {
  volatile int local = 0;
  *local_addr = addr(&local);
  std::size_t got = stk::current_frames(out, n);
  asm volatile("" : : "r"(&local) : "memory");
  return got;
}

}  // namespace

TEST_CASE("stack: current_frames and symbolize name the calling function and place its locals", "[stack]") {
  stk::frame frames[64];
  std::uintptr_t local = 0;
  const std::size_t n = frames_of_named_function(frames, 64, &local);
  REQUIRE(n >= 2);
  char name[256];
  std::uintptr_t offset = 0;
  REQUIRE(stk::symbolize(frames[0].pc - 1, name, sizeof name, &offset));
  CHECK(std::string(name).find("frames_of_named_function") != std::string::npos);
  CHECK(offset > 0);
  CHECK(offset < 4096);
  for (std::size_t i = 0; i + 1 < n; ++i) CHECK(frames[i].sp <= frames[i + 1].sp);
  CHECK(frames[0].sp <= local);
  CHECK(local < frames[1].sp);
  // Truncation keeps a terminated prefix.
  char tiny[6];
  REQUIRE(stk::symbolize(frames[0].pc - 1, tiny, sizeof tiny, nullptr));
  CHECK(std::strlen(tiny) == 5);
  CHECK_FALSE(stk::symbolize(0, name, sizeof name, &offset));
}
