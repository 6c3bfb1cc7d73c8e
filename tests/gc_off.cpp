// tests/gc_off.cpp: what makes gort_tests (components tested on their own)
// run with automatic collection off: these tests keep gc objects in malloc
// memory (std::vector) that the collector does not scan. gc::collect() and
// gc::free_os_memory() still collect when a test calls them. It is done by
// a static initialiser, before main, so that the binary can share
// gort_gc_tests' main (main.cpp): Catch2's implementation comes with its
// main, and compiling it took 20-42 s a build, the slowest file of the
// suite, twice over before.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>

namespace {
const int automatic_collection_off = (gc::set_gc_percent(-1), 0);
}  // namespace

TEST_CASE("harness: gort_tests run with automatic collection off", "[harness]") {
  const int previous = gc::set_gc_percent(-1);  // returns the setting in force
  CHECK(previous == -1);
}
