// tests/main_gc_off.cpp: the main of gort_tests (components tested on their
// own). Automatic collection is off: these tests keep gc objects in malloc
// memory (std::vector) that the collector does not scan. gc::collect() and
// gc::free_os_memory() still collect when a test calls them.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <gort/gort.hpp>

int main(int argc, char** argv) {
  gc::set_gc_percent(-1);
  return Catch::Session().run(argc, argv);
}
