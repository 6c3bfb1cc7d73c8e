// tests/gc_test_util.hpp: helpers for the collector's tests.
//
// Conservative stack scanning means a stale word on the test thread's stack
// may keep an object alive. Tests that expect objects to be RECLAIMED
// therefore build them on a short-lived thread (on_fresh_thread): once it
// has exited, its stack is not scanned at all, and the objects are reachable
// only through the roots the test made on purpose. And a test looks at
// objects that must later die through elsewhere() (on a thread that exits)
// or at least inspect(): the pointers inspect() handles live in frames
// below the test's own, which gc::collect() clears, instead of in the test
// function's frame (at -O0 every temporary is spilled there and stays until
// the test returns); but a callee-saved register can still carry one up
// (seen under ASan and TSan), which elsewhere() rules out.
#pragma once

#include <gort/gort.hpp>

#include <atomic>
#include <functional>
#include <thread>

#include "test_util.hpp"

namespace gort_test {

// An object that counts its constructions and destructions since the last
// reset(). Only the destructions of objects built since then count: an
// object of an earlier test that a stale word kept alive, or whose
// destructor was still queued, may die during a later test, and counted
// there it failed that test's exact checks whenever the tests shared a
// process (ctest runs each alone).
struct tracked {
  static inline std::atomic<long> built{0};
  static inline std::atomic<long> destroyed{0};
  static inline std::atomic<long> generation{0};
  long value = 0;
  gc::member<tracked> next;
  tracked* raw = nullptr;  // not traced precisely: found by the conservative scan only if untyped
  long built_in = generation.load();  // the generation (reset() count) it was built in
  explicit tracked(long v = 0) : value(v) { built.fetch_add(1); }
  ~tracked() {
    if (built_in == generation.load()) destroyed.fetch_add(1);
  }
  void trace(gc::tracer& t) const {
    t.visit(next);
    t.visit(raw);
  }
  static void reset() {
    generation.fetch_add(1);
    built = 0;
    destroyed = 0;
  }
  static long live() { return built.load() - destroyed.load(); }
};

// Garbage objects a sanitizer build may keep alive by accident in a test
// that counts reclaimed objects exactly. Conservative stack scanning keeps
// any object some stale stack word points to, and sanitizer builds make
// more of them: -O0 spills every temporary, and ASan's and TSan's runtimes
// leave words in frames the collector scans. Seen under load (2026-11-23):
// one object, about once in five full ASan runs, in three tests.
// The Release build (and its stop-the-world and checkmark runs) allows none.
inline constexpr long sanitizer_strays = tsan ? 2 : asan ? 1 : 0;

template <class F>
__attribute__((noinline)) auto inspect(F&& f) {
  return f();
}

// Zeroes the stack below the caller's frame, where the frames of its
// finished calls left heap addresses that a conservative scan of a frame
// placed there later would read.
__attribute__((noinline)) inline void scrub_stack() {
  volatile char scratch[16 * 1024];
  for (std::size_t i = 0; i < sizeof scratch; i += 8) *reinterpret_cast<volatile std::uint64_t*>(&scratch[i]) = 0;
}

inline void on_fresh_thread(const std::function<void()>& f) {
  std::thread t(f);
  t.join();
}

// f() run on a thread that then exits, and its result: whatever pointers the
// call leaves in dead stack slots or registers go with that thread, and no
// conservative scan of this thread finds them (a walk over a list leaves
// its last node there, which would keep that node, or a whole cycle, alive).
template <class F>
auto elsewhere(F&& f) {
  decltype(f()) result{};
  on_fresh_thread([&] { result = f(); });
  return result;
}

}  // namespace gort_test
