// bench/latency/signal_latency.cpp: what the machine charges for the two
// things a stop of the world may need besides gort's own work, so that stop
// times can be read against them (docs/benchmarks.md):
//
// 1. Signal delivery: a thread spins on another core; the main thread sends
//    it the stop signal gort uses by default (SIGURG) with pthread_kill and
//    spins until the handler has run. Measured 2000 times, 200 us apart.
//    A thread that reaches no safe point during a stop's grace period
//    (20 us) is stopped this way, so such a stop costs at least the grace
//    period plus this. The pthread_kill call itself is timed too: the
//    stopper can see no acknowledgement while it is inside it.
// 2. A system call (getppid through syscall(2), not cached by the C
//    library): the cost of each one a stop makes.
// 3. Gaps: one thread does a few hundred multiplications between two clock
//    reads, for 2 s, and counts the gaps between reads longer than 20, 50
//    and 100 us. The loop makes no system call and touches no new memory,
//    so a long gap is time the machine (the kernel's interrupts, or a
//    hypervisor) did not run the thread. A thread that allocates reaches a
//    safe point every microsecond or two, except in such gaps; a stop that
//    falls in one waits for it, whatever gort does.
//
//   signal_latency        prints one line: key=value pairs in microseconds
//                         (signal_p50_us ... signal_max_us, kill_p50_us,
//                         kill_p90_us, syscall_us) and per second (gaps20_per_s,
//                         gaps50_per_s, gaps100_per_s), and gap_max_us
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
  std::vector<double> delivery, kill;
  delivery.reserve(rounds);
  kill.reserve(rounds);
  for (int i = 0; i < rounds; ++i) {
    handled.store(false, std::memory_order_relaxed);
    const auto t0 = std::chrono::steady_clock::now();
    pthread_kill(spinner.native_handle(), SIGURG);
    kill.push_back(us_since(t0));
    while (!handled.load(std::memory_order_acquire)) {
    }
    delivery.push_back(us_since(t0));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  quit.store(true, std::memory_order_relaxed);
  spinner.join();
  std::sort(delivery.begin(), delivery.end());
  std::sort(kill.begin(), kill.end());
  auto pct = [&](double p) { return delivery[static_cast<std::size_t>(p * (rounds - 1))]; };
  auto kill_pct = [&](double p) { return kill[static_cast<std::size_t>(p * (rounds - 1))]; };

  constexpr int calls = 100000;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) syscall(SYS_getppid);
  const double syscall_us = us_since(t0) / calls;

  // 3. Gaps.
  using clock = std::chrono::steady_clock;
  constexpr double gap_seconds = 2.0;
  long gaps20 = 0, gaps50 = 0, gaps100 = 0;
  double gap_max = 0;
  volatile unsigned long x = 1;
  const auto g0 = clock::now();
  auto last = g0;
  for (;;) {
    for (int i = 0; i < 200; ++i) x = x * 6364136223846793005ul + 1442695040888963407ul;
    const auto now = clock::now();
    const double gap = std::chrono::duration<double, std::micro>(now - last).count();
    last = now;
    gaps20 += gap > 20;
    gaps50 += gap > 50;
    gaps100 += gap > 100;
    gap_max = std::max(gap_max, gap);
    if (std::chrono::duration<double>(now - g0).count() >= gap_seconds) break;
  }

  std::printf("signal_p50_us=%.1f signal_p90_us=%.1f signal_p99_us=%.1f signal_max_us=%.1f kill_p50_us=%.1f "
              "kill_p90_us=%.1f syscall_us=%.2f gaps20_per_s=%.0f gaps50_per_s=%.0f gaps100_per_s=%.1f "
              "gap_max_us=%.0f\n",
              pct(0.5), pct(0.9), pct(0.99), delivery.back(), kill_pct(0.5), kill_pct(0.9), syscall_us,
              static_cast<double>(gaps20) / gap_seconds, static_cast<double>(gaps50) / gap_seconds,
              static_cast<double>(gaps100) / gap_seconds, gap_max);
  return 0;
}
