// src/gc/cpu_limiter.cpp: the GC CPU limiter's bucket (algorithm in
// cpu_limiter.hpp).
#include "gc/cpu_limiter.hpp"

namespace gc::internal {

cpu_limiter::cpu_limiter(int procs, std::uint64_t capacity_per_proc)
    : capacity_(static_cast<std::uint64_t>(procs < 1 ? 1 : procs) * capacity_per_proc) {}

void cpu_limiter::update(std::uint64_t gc_ns, std::uint64_t mutator_ns) {
  if (gc_ns >= mutator_ns) {
    const std::uint64_t gain = gc_ns - mutator_ns;
    const std::uint64_t room = capacity_ - fill_;
    if (gain > room) {
      overflow_ += gain - room;
      fill_ = capacity_;
    } else {
      fill_ += gain;
    }
  } else {
    const std::uint64_t loss = mutator_ns - gc_ns;
    fill_ = loss >= fill_ ? 0 : fill_ - loss;
  }
}

}  // namespace gc::internal
