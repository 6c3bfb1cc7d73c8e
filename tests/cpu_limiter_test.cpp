// tests/cpu_limiter_test.cpp: the GC CPU limiter (src/gc/cpu_limiter.hpp)
// as a pure class, by table-driven simulation of GC and program time.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "gc/cpu_limiter.hpp"

using gc::internal::cpu_limiter;

namespace {

constexpr std::uint64_t ms = 1'000'000;

// A program that alternates `gc_ms` of collection with `mut_ms` of its own
// work for `rounds` rounds, on `procs` processors; returns the round at
// which the limiter first limited (-1: never), and the limiter after.
struct sim_result {
  int first_limited = -1;
  int limited_rounds = 0;
  cpu_limiter after;
};

sim_result simulate(int procs, std::uint64_t gc_ms, std::uint64_t mut_ms, int rounds) {
  sim_result r{-1, 0, cpu_limiter(procs)};
  for (int i = 0; i < rounds; ++i) {
    r.after.update(gc_ms * ms * procs, mut_ms * ms * procs);
    REQUIRE(r.after.fill() <= r.after.capacity());
    REQUIRE(r.after.limiting() == (r.after.fill() == r.after.capacity()));
    if (r.after.limiting()) {
      ++r.limited_rounds;
      if (r.first_limited < 0) r.first_limited = i;
    }
  }
  return r;
}

}  // namespace

TEST_CASE("cpu_limiter: the bucket fills only while GC takes over half the CPU", "[cpu_limiter]") {
  struct row {
    std::string name;
    int procs;
    std::uint64_t gc_ms, mut_ms;
    int rounds;
    int want_first;  // -1: never limits
  };
  for (const row& r : std::vector<row>{
           {"GC 25% never limits", 2, 5, 15, 10000, -1},
           {"GC exactly 50% never limits", 2, 10, 10, 10000, -1},
           {"GC 75% gains 10 ms/proc a round: full (1 s/proc) in round 100", 2, 15, 5, 1000, 99},
           {"GC 100% gains 10 ms/proc a round: full in round 100", 4, 10, 0, 1000, 99},
           {"one processor, GC 90% gains 8 ms a round: full in round 125", 1, 9, 1, 1000, 124},
       }) {
    DYNAMIC_SECTION(r.name) {
      sim_result s = simulate(r.procs, r.gc_ms, r.mut_ms, r.rounds);
      CHECK(s.first_limited == r.want_first);
      CHECK(s.after.capacity() == static_cast<std::uint64_t>(r.procs) * cpu_limiter::capacity_per_proc_ns);
    }
  }
}

TEST_CASE("cpu_limiter: once full, GC time overflows and program time drains it", "[cpu_limiter]") {
  cpu_limiter l(2);
  l.update(3'000 * ms, 0);  // 3 s of GC on a 2 s bucket
  CHECK(l.limiting());
  CHECK(l.fill() == 2'000 * ms);
  CHECK(l.overflow() == 1'000 * ms);
  l.update(0, 1 * ms);  // any program time: no longer full
  CHECK_FALSE(l.limiting());
  CHECK(l.fill() == 1'999 * ms);
  l.update(1 * ms, 0);
  CHECK(l.limiting());
  l.update(0, 5'000 * ms);  // drains to empty, not below
  CHECK(l.fill() == 0);
  CHECK_FALSE(l.limiting());
  CHECK(l.overflow() == 1'000 * ms);
}

TEST_CASE("cpu_limiter: admits a cost only if the bucket has room for all of it", "[cpu_limiter]") {
  cpu_limiter l(1);  // 1 s
  CHECK(l.admits(1'000 * ms));
  CHECK_FALSE(l.admits(1'000 * ms + 1));
  l.update(990 * ms, 0);
  CHECK(l.admits(10 * ms));
  CHECK_FALSE(l.admits(11 * ms));
  l.update(10 * ms, 0);
  CHECK(l.limiting());
  CHECK_FALSE(l.admits(0));  // full: nothing, not even a free cycle
  l.update(0, 1 * ms);
  CHECK(l.admits(1 * ms));
  CHECK_FALSE(l.admits(2 * ms));
}

TEST_CASE("cpu_limiter: a limited collector settles at half the CPU", "[cpu_limiter]") {
  // The collector's policy (collector.cpp want_cycle): a cycle that only the
  // memory limit asks for is skipped while limiting. Simulate a heap that
  // always wants a cycle (live heap over the limit): each cycle costs 10 ms
  // of pause, and between checks the program runs 1 ms.
  cpu_limiter l(2);
  std::uint64_t gc = 0, mut = 0;
  for (int step = 0; step < 200000; ++step) {
    if (l.admits(10 * ms * 2)) {
      l.update(10 * ms * 2, 0);
      gc += 10 * ms;
    }
    l.update(0, 1 * ms * 2);
    mut += 1 * ms;
  }
  const double share = static_cast<double>(gc) / static_cast<double>(gc + mut);
  CHECK(share > 0.45);
  CHECK(share < 0.55);
}
