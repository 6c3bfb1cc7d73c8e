// tests/scavenger_test.cpp: returning free memory to the OS
// (page_heap::release, gc::free_os_memory) and what each madvise mode does.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>
#include <gort/internal/testing.hpp>

#include <cstring>

#include "alloc/alloc.hpp"
#include "common/godebug.hpp"
#include "os/os.hpp"
#include "gc/scavenger.hpp"

using namespace gc::internal;

namespace {
constexpr std::size_t mib = 1u << 20;
}

TEST_CASE("scavenger: RSS falls after a large heap is freed and free_os_memory runs", "[scavenger]") {
  REQUIRE(godebug().madvdontneed == 1);  // the default: MADV_DONTNEED
  std::vector<void*> objs;
  for (int i = 0; i < 256; ++i) {
    auto* p = gc::gc_new<char[]>(mib);
    std::memset(p, 1, mib);  // make the pages resident
    objs.push_back(p);
  }
  for (int i = 0; i < 20000; ++i) {  // and small objects too
    auto* p = gc::gc_new<char[]>(1000);
    std::memset(p, 2, 1000);
    objs.push_back(p);
  }
  const std::size_t rss_full = os::resident_bytes();
  REQUIRE(testing::free_objects(objs.data(), objs.size()) == objs.size());
  const std::size_t rss_freed = os::resident_bytes();
  CHECK(rss_freed + 16 * mib > rss_full);  // freeing alone keeps the pages

  gc::free_os_memory();
  const std::size_t rss_released = os::resident_bytes();
  INFO("RSS full " << rss_full / mib << " MiB, freed " << rss_freed / mib << " MiB, released "
                   << rss_released / mib << " MiB");
  CHECK(rss_full - rss_released >= 250 * mib);
  gc::mem_stats st = gc::read_mem_stats();
  CHECK(st.heap_released >= 270 * mib);
  CHECK(st.heap_released <= st.heap_idle);
  testing::verify_heap();

  // Released pages come back into use, zeroed, and leave the released count.
  auto* again = gc::gc_new<char[]>(64 * mib);
  for (std::size_t i = 0; i < 64 * mib; i += 4096) REQUIRE(again[i] == 0);
  gc::mem_stats st2 = gc::read_mem_stats();
  CHECK(st2.heap_released + 64 * mib <= st.heap_released);
  testing::verify_heap();
}

TEST_CASE("scavenger: release(bytes) returns about what is asked, not everything", "[scavenger]") {
  std::vector<void*> objs;
  for (int i = 0; i < 64; ++i) objs.push_back(gc::gc_new<char[]>(mib));
  REQUIRE(testing::free_objects(objs.data(), objs.size()) == objs.size());
  const std::uint64_t released_before = gc::read_mem_stats().heap_released;  // by earlier tests in this process
  std::size_t got = page_heap::instance().release(10 * mib);
  CHECK(got >= 10 * mib);
  CHECK(got < 11 * mib);
  CHECK(gc::read_mem_stats().heap_released == released_before + got);
  testing::verify_heap();
  std::size_t rest = page_heap::instance().release_all();
  CHECK(rest > 50 * mib);
  CHECK(page_heap::instance().release_all() == 0);  // nothing left to release
  testing::verify_heap();
}

TEST_CASE("scavenger: MADV_FREE keeps RSS until the kernel needs it, MADV_DONTNEED drops it", "[scavenger]") {
  // Why GODEBUG=madvdontneed exists (docs/design.md): measured on raw pages.
  const std::size_t bytes = 64 * mib;
  void* a = os::map_metadata(bytes);
  void* b = os::map_metadata(bytes);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  std::memset(a, 1, bytes);
  std::memset(b, 1, bytes);
  const std::size_t rss0 = os::resident_bytes();
  const bool zeroed_free = os::release(a, bytes, /*use_madv_free=*/true);
  const std::size_t rss1 = os::resident_bytes();
  const bool zeroed_dontneed = os::release(b, bytes, /*use_madv_free=*/false);
  const std::size_t rss2 = os::resident_bytes();
  INFO("RSS " << rss0 / mib << " -> MADV_FREE " << rss1 / mib << " -> MADV_DONTNEED " << rss2 / mib << " MiB");
  CHECK(zeroed_dontneed);
  CHECK(rss1 - rss2 >= 60 * mib);  // MADV_DONTNEED drops the pages at once
  if (!zeroed_free) {
    // MADV_FREE was honoured: with memory to spare the kernel leaves the pages resident.
    CHECK(rss1 + 32 * mib > rss0);
  }
  CHECK(static_cast<char*>(b)[12345] == 0);
  os::unreserve(a, bytes);
  os::unreserve(b, bytes);
}

TEST_CASE("scavenger: GODEBUG=madvdontneed=0 selects MADV_FREE", "[scavenger]") {
  auto r = parse_godebug("madvdontneed=0");
  CHECK(r.settings.madvdontneed == 0);
  CHECK(r.warnings.empty());
}

TEST_CASE("scavenger: the background thread's pause keeps its releasing to about 1% of its time", "[scavenger]") {
  using gc::internal::scavenger::pause_after;
  CHECK(pause_after(10'000) == 990'000);        // 10 us of madvise, then 990 us asleep: 1%
  CHECK(pause_after(10'000, 0.5) == 10'000);    // half the time
  CHECK(pause_after(0) == 0);
  CHECK(pause_after(50'000'000) == 100'000'000);  // capped: the goal is read again at least every 100 ms
  CHECK(pause_after(123, 1.0) == 0);
  CHECK(pause_after(123, 0.0) == 100'000'000);
  for (std::uint64_t work : {1'000ull, 37'000ull, 500'000ull}) {
    const double share = static_cast<double>(work) / static_cast<double>(work + pause_after(work));
    CHECK(share == Approx(gc::internal::scavenger::cpu_fraction).epsilon(0.01));
  }
}
