// bench/latency/signal_latency.cpp: what the machine charges for the two
// things a stop of the world may need besides gort's own work, so that stop
// times can be read against them (docs/benchmarks.md):
//
// 1. Signal delivery: a thread spins on another core; the main thread sends
//    it the stop signal gort uses by default (SIGURG) with pthread_kill and
//    spins until the handler has run. Measured 2000 times, 200 us apart.
//    A thread that reaches no safe point during a stop's grace period
//    (20 us) is stopped this way, so such a stop costs at least the grace
//    period plus this.
// 2. A system call (getppid through syscall(2), not cached by the C
//    library): the cost of each one a stop makes.
//
//   signal_latency        prints one line: key=value pairs in microseconds
//                         (signal_p50_us ... signal_max_us, syscall_us)
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> handled{false};
std::atomic<bool> quit{false};

void on_signal(int) { handled.store(true, std::memory_order_release); }

void spin() {
  volatile unsigned long x = 0;
  while (!quit.load(std::memory_order_relaxed)) x = x + 1;
}

double us_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main() {
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGURG, &sa, nullptr) != 0) {
    std::perror("sigaction");
    return 1;
  }
  std::thread spinner(spin);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));  // let it start spinning
  constexpr int rounds = 2000;
  std::vector<double> delivery;
  delivery.reserve(rounds);
  for (int i = 0; i < rounds; ++i) {
    handled.store(false, std::memory_order_relaxed);
    const auto t0 = std::chrono::steady_clock::now();
    pthread_kill(spinner.native_handle(), SIGURG);
    while (!handled.load(std::memory_order_acquire)) {
    }
    delivery.push_back(us_since(t0));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  quit.store(true, std::memory_order_relaxed);
  spinner.join();
  std::sort(delivery.begin(), delivery.end());
  auto pct = [&](double p) { return delivery[static_cast<std::size_t>(p * (rounds - 1))]; };

  constexpr int calls = 100000;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) syscall(SYS_getppid);
  const double syscall_us = us_since(t0) / calls;

  std::printf("signal_p50_us=%.1f signal_p90_us=%.1f signal_p99_us=%.1f signal_max_us=%.1f syscall_us=%.2f\n",
              pct(0.5), pct(0.9), pct(0.99), delivery.back(), syscall_us);
  return 0;
}
