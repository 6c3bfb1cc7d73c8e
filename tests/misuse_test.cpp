// tests/misuse_test.cpp: what bad input gets at run time. (Compile-time
// misuse is in tests/compile_fail/, run by CTest.) Each case runs in a forked
// child, whose stderr is captured, so an abort is observed, not suffered.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>
#include <gort/internal/testing.hpp>

#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include "test_util.hpp"

using gort_test::run_capturing;

TEST_CASE("misuse: freeing a pointer that is not a gc object aborts naming it", "[misuse]") {
  auto [status, err] = run_capturing([] {
    static int not_gc = 0;
    void* p = &not_gc;
    gc::internal::testing::free_objects(&p, 1);
    return 0;
  });
  CHECK(status == 128 + SIGABRT);
  CHECK(err.find("gort: fatal error: free_objects:") != std::string::npos);
  CHECK(err.find("is not the start of an allocated gc object") != std::string::npos);
}

TEST_CASE("misuse: an interior pointer or a double free aborts, not corrupts", "[misuse]") {
  auto [status, err] = run_capturing([] {
    auto* p = gc::gc_new<gort_test::payload<64>>();
    void* inner = reinterpret_cast<char*>(p) + 8;
    gc::internal::testing::free_objects(&inner, 1);
    return 0;
  });
  CHECK(status == 128 + SIGABRT);
  CHECK(err.find("is not the start of an allocated gc object") != std::string::npos);

  auto [status2, err2] = run_capturing([] {
    void* p = gc::gc_new<gort_test::payload<64>>();
    gc::internal::testing::free_objects(&p, 1);
    gc::internal::testing::free_objects(&p, 1);
    return 0;
  });
  CHECK(status2 == 128 + SIGABRT);
  CHECK(err2.find("is not the start of an allocated gc object") != std::string::npos);
}

TEST_CASE("misuse: a bad GODEBUG value warns once and the heap uses the default", "[misuse]") {
  auto [status, err] = run_capturing([] {
    ::setenv("GODEBUG", "madvdontneed=maybe,frobnicate=1", 1);
    for (int i = 0; i < 3; ++i) {
      void* p = gc::gc_new<char[]>(1u << 20);
      gc::internal::testing::free_objects(&p, 1);
      gc::free_os_memory();  // reads GODEBUG (once)
    }
    return gc::read_mem_stats().heap_released > 0 ? 0 : 1;
  });
  CHECK(status == 0);
  CHECK(err == "gort: warning: GODEBUG: invalid value 'maybe' for madvdontneed (want 0..1); using the default 1\n"
               "gort: warning: GODEBUG: unknown setting 'frobnicate' ignored\n");
}
