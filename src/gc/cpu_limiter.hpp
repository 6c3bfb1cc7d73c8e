// src/gc/cpu_limiter.hpp: the GC CPU limiter. Under a memory limit that the
// live heap itself exceeds, the memory-limit goal (pacer.hpp step 7) sits at
// the live heap and every allocation would start another collection; the
// limiter lets the heap run over the limit instead, so that a program above
// its limit slows down by at most about half rather than spinning in
// back-to-back collections (Go 1.19's gcCPULimiter, for the same reason).
//
// Algorithm (a leaky bucket of CPU time, as Go's mgclimit.go)
// 1. The bucket holds between 0 and capacity nanoseconds of CPU time
//    (capacity: 1 s per processor by default, as Go).
// 2. update(gc_ns, mutator_ns): GC CPU time fills the bucket and mutator
//    CPU time drains it, one for one:
//        fill = clamp(fill + gc_ns - mutator_ns, 0, capacity)
//    so it fills only while the collector takes more than half of the CPU
//    time; what does not fit is added to overflow().
// 3. limiting() is true while the bucket is full. A cycle that only the
//    memory limit asks for (the heap is below the GOGC goal, or GOGC is
//    off) starts only if admits(cost): the bucket has room for the cycle's
//    expected GC time (what the last cycle took: its stops times the
//    processors, plus its marking). Otherwise the
//    heap grows past the limit until program time has drained that much.
//    (Go's limiter caps assist time continuously; a stop-the-world cycle
//    comes in whole pauses, and a policy of "not full" would let one pause
//    of GC follow each moment of program time: 10 ms pauses and 1 ms checks
//    settle at 83% GC. Asking for room for the whole pause settles at 50%.)
// A stop of d ns on P processors counts as d * P of GC time, concurrent
// marking as its workers' time (assists included), and the rest of the
// processors' time as mutator time (as Go counts the time available to the
// program, not the time it used). So concurrent marking with one worker on
// two processors never fills the bucket: it takes half the CPU at most,
// which is the limit; the limiter matters when collections take the whole
// machine (stop-the-world mode, or assists doing most of the marking).
//
// Invariants: 0 <= fill() <= capacity(); limiting() == (fill() == capacity()).
// The class is pure: no clocks, no globals, no locks (the collector owns one
// and calls it under its world mutex).
//
// Reference: Go's runtime/mgclimit.go (gcCPULimiterState) and the memory
// limit proposal (golang/go#48409).
#pragma once

#include <cstdint>

namespace gc::internal {

class cpu_limiter {
 public:
  static constexpr std::uint64_t capacity_per_proc_ns = 1'000'000'000;

  explicit cpu_limiter(int procs = 1, std::uint64_t capacity_per_proc = capacity_per_proc_ns);

  // Step 2: account for CPU time spent collecting and available to the program.
  void update(std::uint64_t gc_ns, std::uint64_t mutator_ns);

  bool limiting() const { return fill_ == capacity_; }
  // Step 3: is there room for `cost_ns` more GC time?
  bool admits(std::uint64_t cost_ns) const { return cost_ns <= capacity_ - fill_ && !limiting(); }
  std::uint64_t fill() const { return fill_; }
  std::uint64_t capacity() const { return capacity_; }
  // GC CPU time that arrived while the bucket was full (the limiter's excess).
  std::uint64_t overflow() const { return overflow_; }

 private:
  std::uint64_t capacity_;
  std::uint64_t fill_ = 0;
  std::uint64_t overflow_ = 0;
};

}  // namespace gc::internal
