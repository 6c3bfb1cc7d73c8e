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
// Also zeroes the caller-saved registers (x86-64), which keep what the
// finished calls left in them until something overwrites them: a thread
// interrupted by the stop signal inside a system call (a sleep) has them
// scanned as it was stopped, and a scratch register of the allocation path
// kept a dead object alive there. All sixteen xmm registers: the stop scans
// them all (os::interrupted_state), and the allocation path's vector code
// left a large object's address (its span's base) in xmm8, which kept it
// alive in "the allocator's thread-local state keeps no dead object alive"
// whenever it was the heap's first object: the owner thread's word 39 of
// its signal context, xmm8's low half (found with explain_roots).
__attribute__((noinline)) inline void scrub_stack() {
  volatile char scratch[16 * 1024];
  for (std::size_t i = 0; i < sizeof scratch; i += 8) *reinterpret_cast<volatile std::uint64_t*>(&scratch[i]) = 0;
#if defined(__x86_64__)
  asm volatile(
      "xor %%eax, %%eax\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx\n\txor %%esi, %%esi\n\txor %%edi, %%edi\n\t"
      "xor %%r8d, %%r8d\n\txor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\txor %%r11d, %%r11d\n\t"
      "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
      "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\tpxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
      "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
      "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15"
      :
      :
      : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
        "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
#endif
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
