// tests/gc_pacing_test.cpp: set_gc_percent and the heap goal, as seen by a
// program. The environment (GOGC, GODEBUG=gctrace=1) is tested through
// tests/gc_env_probe.cpp, run by CTest with the variables set.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>

#include <chrono>
#include <thread>


#include "gc_test_util.hpp"
#include "gc/collector.hpp"
#include "gc/scavenger.hpp"

namespace {

struct blob {
  void* words[16];  // 128 bytes, scanned
};

struct churn_result {
  std::uint64_t peak = 0;      // the largest heap_alloc seen
  std::uint64_t max_goal = 0;  // the largest goal seen
};

// Keeps `live` bytes reachable and allocates `churn` bytes of garbage.
churn_result churn(std::size_t live, std::size_t churn_bytes) {
  std::vector<gc::root<blob>> keep;
  for (std::size_t i = 0; i < live / sizeof(blob); ++i) keep.emplace_back(gc::gc_new<blob>());
  gc::collect();
  churn_result r;
  for (std::size_t i = 0; i < churn_bytes / sizeof(blob); ++i) {
    gc::gc_new<blob>();
    if (i % 4096 == 0) {
      const gc::mem_stats st = gc::read_mem_stats();
      r.peak = std::max(r.peak, st.heap_alloc);
      r.max_goal = std::max(r.max_goal, st.next_gc);
    }
  }
  return r;
}

}  // namespace

TEST_CASE("gc pacing: the peak heap stays near live x (1 + GOGC/100)", "[gc_pacing]") {
  for (int percent : {50, 100, 400}) {
    INFO("GOGC=" << percent);
    gc::set_gc_percent(percent);
    const std::size_t live = 16u << 20;
    const churn_result r = churn(live, 400u << 20);
    // The live heap the goal is computed from: what marking reached plus,
    // in a concurrent cycle, what was allocated black during the mark (Go
    // counts both: the cycle keeps both). Stop-the-world: no black bytes.
    // One snapshot: a cycle may end while this reads (the goal read by
    // churn() can be one cycle older).
    const gc::internal::collector::pacing_snapshot last = gc::internal::collector::last_cycle_pacing();
    const auto paced_live = static_cast<double>(last.live);
    const auto black = static_cast<double>(last.black);
    INFO("paced live " << paced_live << ", of which black " << black << ", goal " << last.goal);
    CHECK(paced_live >= static_cast<double>(live) * 0.95);         // all that is reachable counts
    CHECK(paced_live - black <= static_cast<double>(live) * 1.15);  // marking reached the live heap, not more
    const double expected_goal = paced_live * (1.0 + percent / 100.0);
    CHECK(static_cast<double>(last.goal) >= expected_goal * 0.95);
    CHECK(static_cast<double>(last.goal) <= expected_goal * 1.15);
    // The goal is soft while marking runs concurrently: assists are bounded
    // per call (100 us), so a marker short of CPU (this test beside another
    // under `ctest -j2`, or gccheckmark's longer cycles) lets the heap pass
    // the goal by a little. Seen: 12.7% at GOGC=50 under load. The goal
    // moves from cycle to cycle with the black bytes: the peak is compared
    // with the largest goal of the run.
    CHECK(static_cast<double>(r.peak) <= static_cast<double>(r.max_goal) * 1.15);
    // It does not collect far too early either.
    CHECK(static_cast<double>(r.peak) >= static_cast<double>(live) * (1.0 + percent / 100.0) * 0.80);
  }
  gc::set_gc_percent(100);
}

TEST_CASE("gc pacing: set_gc_percent returns the old value and negative turns collection off", "[gc_pacing]") {
  int first = gc::set_gc_percent(-1);
  CHECK(gc::set_gc_percent(250) == -1);
  CHECK(gc::set_gc_percent(first) == 250);
  gc::set_gc_percent(-1);
  std::uint32_t before = gc::read_mem_stats().num_gc;
  for (int i = 0; i < 200000; ++i) gc::gc_new<blob>();  // 25 MiB of garbage
  CHECK(gc::read_mem_stats().num_gc == before);
  gc::collect();  // explicit collections still run
  CHECK(gc::read_mem_stats().num_gc == before + 1);
  gc::set_gc_percent(first);
}

TEST_CASE("gc pacing: automatic collections happen with the default GOGC", "[gc_pacing]") {
  gc::set_gc_percent(100);
  const gc::mem_stats start = gc::read_mem_stats();
  const std::uint32_t before = start.num_gc;
  gort_test::on_fresh_thread([] {
    for (int i = 0; i < 400000; ++i) gc::gc_new<blob>();  // 50 MiB of garbage
  });
  gc::mem_stats st = gc::read_mem_stats();
  CHECK(st.num_gc - before >= 3);
  // The heap grew by less than the garbage (alone in a process, the heap
  // starts near empty; after other tests it may have room already).
  CHECK(st.heap_sys - start.heap_sys < (40u << 20));
}

TEST_CASE("gc pacing: after a cycle the heap keeps at most about 10% over its goal", "[gc_pacing]") {
  gc::set_gc_percent(100);
  std::vector<gc::root<blob>> keep;
  for (int i = 0; i < (8 << 20) / static_cast<int>(sizeof(blob)); ++i) keep.emplace_back(gc::gc_new<blob>());
  const int before = gc::set_gc_percent(-1);  // let 200 MiB of garbage pile up first
  gort_test::on_fresh_thread([] {
    for (int i = 0; i < 100; ++i) gc::gc_new<char[]>(2u << 20);
    for (int i = 0; i < 400000; ++i) gc::gc_new<blob>();
  });
  gc::set_gc_percent(before);
  gc::mem_stats full = gc::read_mem_stats();
  REQUIRE(full.heap_sys > (200u << 20));
  gc::collect();
  gc::mem_stats st = gc::read_mem_stats();
  const double retained = static_cast<double>(st.heap_sys - st.heap_released);
  INFO("heap_sys " << st.heap_sys << " released " << st.heap_released << " goal " << st.next_gc);
  CHECK(retained <= static_cast<double>(st.next_gc) * 1.1 + (1u << 20));
  CHECK(st.heap_released > (150u << 20));
  CHECK(keep.size() == (8u << 20) / sizeof(blob));
}

TEST_CASE("gc pacing: after an automatic cycle the background scavenger returns what is over goal + 10%",
          "[gc_pacing]") {
  gc::set_gc_percent(100);
  std::vector<gc::root<blob>> keep;
  for (int i = 0; i < (8 << 20) / static_cast<int>(sizeof(blob)); ++i) keep.emplace_back(gc::gc_new<blob>());
  gc::collect();
  const int before = gc::set_gc_percent(-1);  // let 120 MiB of garbage pile up
  gort_test::on_fresh_thread([] {
    for (int i = 0; i < 60; ++i) gc::gc_new<char[]>(2u << 20);
  });
  const std::uint64_t released0 = gc::internal::scavenger::released_in_background();
  const std::uint32_t n0 = gc::read_mem_stats().num_gc;
  gc::set_gc_percent(before);
  // An automatic cycle (not gc::collect(), which releases at once).
  gort_test::on_fresh_thread([&] {
    while (gc::read_mem_stats().num_gc == n0) gc::gc_new<blob>();
  });
  // Wait, not allocating, for the scavenger thread.
  auto retained = [] {
    const gc::mem_stats st = gc::read_mem_stats();
    return st.heap_sys - st.heap_released;
  };
  auto bound = [] { return gc::read_mem_stats().next_gc / 10 * 11 + (1u << 20); };
  for (int i = 0; i < 3000 && retained() > bound(); ++i) {
    gc::blocking_region quiet;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  INFO("retained " << retained() << ", bound " << bound());
  CHECK(retained() <= bound());
  CHECK(gc::internal::scavenger::released_in_background() - released0 >= (60u << 20));
  CHECK(keep.size() == (8u << 20) / sizeof(blob));
}

TEST_CASE("gc pacing: garbage waiting for its destructors does not count as live heap", "[gc_pacing]") {
  // Objects queued for their destructor stay allocated (and are marked
  // through the queue) until the destructor ran. Counted as live, they
  // raised the goal, more garbage with destructors piled up before the next
  // cycle, and the backlog grew without bound (66 million in a fork test).
  gc::set_gc_percent(100);
  std::vector<gc::root<blob>> keep;
  for (int i = 0; i < (8 << 20) / static_cast<int>(sizeof(blob)); ++i) keep.emplace_back(gc::gc_new<blob>());
  gc::collect();
  // The live heap each cycle's marking reached (the pacer's live heap less
  // the bytes allocated black during the mark, which Go counts too and
  // which grow with a slow mark: TSan). Broken, it was the queue's backlog
  // on top of the 8 MiB, cycle after cycle (goals of 53 MB concurrent and
  // 120 MB stop-the-world).
  std::uint64_t worst_reached = 0, worst_goal = 0;
  gort_test::on_fresh_thread([&] {
    for (int i = 0; i < 3'000'000; ++i) {
      gc::gc_new<gort_test::tracked>(i);  // garbage with a destructor
      if (i % 20000 == 0) {
        const gc::internal::collector::pacing_snapshot p = gc::internal::collector::last_cycle_pacing();
        worst_reached = std::max(worst_reached, p.live - p.black);
        worst_goal = std::max(worst_goal, p.goal);
      }
    }
  });
  INFO("largest live heap reached by marking " << worst_reached << " bytes, largest goal " << worst_goal
                                               << ", for 8 MiB live");
  CHECK(worst_reached <= (12u << 20));  // 8 MiB, plus room for the destructors in flight
  CHECK(keep.size() == (8u << 20) / sizeof(blob));
}
