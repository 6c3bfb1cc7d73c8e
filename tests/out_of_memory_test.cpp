// tests/out_of_memory_test.cpp: what a program gets when memory runs out, or
// asks for more than can ever exist: std::bad_alloc, and a heap that works
// afterwards.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>
#include <gort/internal/testing.hpp>

#include <cstdint>
#include <cstdio>
#include <sys/resource.h>
#include <vector>

#include "alloc/alloc.hpp"
#include "test_util.hpp"

using gort_test::payload;

TEST_CASE("out of memory: impossible requests throw at once without touching the heap", "[oom]") {
  gc::gc_new<payload<64>>();  // a heap exists
  gc::mem_stats before = gc::read_mem_stats();
  CHECK_THROWS_AS(gc::gc_new<char[]>(SIZE_MAX / 2), std::bad_alloc);
  CHECK_THROWS_AS(gc::gc_new<char[]>(SIZE_MAX), std::bad_alloc);
  CHECK_THROWS_AS(gc::gc_new<std::uint64_t[]>(SIZE_MAX / 4), std::bad_alloc);  // n * 8 overflows
  CHECK_THROWS_AS(gc::gc_new<payload<64>[]>(std::size_t{1} << 60), std::bad_alloc);
  gc::mem_stats after = gc::read_mem_stats();
  CHECK(after.heap_sys == before.heap_sys);
  CHECK(after.mallocs == before.mallocs);
  CHECK(after.sys == before.sys);
  gc::internal::testing::verify_heap();
  CHECK(gc::gc_new<int>(5) != nullptr);
}

namespace {
std::size_t address_space_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  if (f) {
    if (std::fscanf(f, "%lu", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  return pages * 4096;
}
}  // namespace

TEST_CASE("out of memory: bad_alloc when the OS refuses, and the heap stays usable", "[oom]") {
  if (gort_test::asan) {
    WARN("skipped: RLIMIT_AS cannot be combined with AddressSanitizer's shadow memory");
    return;
  }
  int status = gort_test::in_child([] {
    gc::gc_new<payload<64>>();
    // Allow the process ~300 MiB more address space than it has now.
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max = address_space_bytes() + (300u << 20);
    if (setrlimit(RLIMIT_AS, &lim) != 0) return 10;

    // 1. Large objects until the page heap cannot reserve another arena.
    std::vector<void*> big;
    bool threw = false;
    try {
      for (int i = 0; i < 10000; ++i) big.push_back(gc::gc_new<char[]>(4u << 20));
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    if (!threw || big.empty()) return 11;
    gc::internal::testing::verify_heap();

    // 2. Small objects until even the current arena's rest is used up.
    std::vector<void*> small;
    threw = false;
    try {
      for (int i = 0; i < 100000000; ++i) small.push_back(gc::gc_new<payload<1024>>());
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    if (!threw) return 12;
    gc::internal::testing::verify_heap();

    // 3. Everything allocated is intact and findable.
    for (void* p : big)
      if (gc::internal::find_object(p).base != p) return 13;
    for (void* p : small)
      if (gc::internal::find_object(p).base != p) return 14;

    // 4. Free some memory: small and large allocation work again.
    std::size_t freed = gc::internal::testing::free_objects(big.data(), big.size() / 2);
    if (freed != big.size() / 2) return 15;
    try {
      void* again = gc::gc_new<char[]>(4u << 20);
      auto* p = gc::gc_new<payload<1024>>();
      int* i = gc::gc_new<int>(7);
      if (!again || !p || *i != 7) return 16;
    } catch (const std::bad_alloc&) {
      return 17;
    }
    gc::internal::testing::verify_heap();
    return 0;
  });
  CHECK(status == 0);
}
