// src/common/lock.cpp: the debug-build lock-order checker and the deferred
// stop's out-of-line end. See lock.hpp for the order and the algorithm.
#include "common/lock.hpp"

#include "common/check.hpp"

namespace gc::internal {

const char* lock_rank_name(lock_rank r) {
  switch (r) {
    case lock_rank::registry: return "registry";
    case lock_rank::central: return "central";
    case lock_rank::heap: return "heap";
    case lock_rank::scavenger_state: return "scavenger_state";
    case lock_rank::metadata: return "metadata";
    case lock_rank::roots: return "roots";
    case lock_rank::finalizer: return "finalizer";
    case lock_rank::mark_queue: return "mark_queue";
    case lock_rank::wb_buffers: return "wb_buffers";
  }
  return "?";
}

namespace {
// Set once by src/stack before any thread can be stopped; read by every
// deferred stop. Atomic.
constinit std::atomic<void (*)()> deferred_stop_hook{nullptr};
}  // namespace

void set_deferred_stop_hook(void (*hook)()) { deferred_stop_hook.store(hook, std::memory_order_release); }

void run_deferred_stop() {
  tls_lock_state.stop_deferred = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (void (*hook)() = deferred_stop_hook.load(std::memory_order_acquire)) hook();
}

#if GORT_DEBUG
namespace {
// Bit r set <=> this thread holds a lock of rank r. Thread-local, so unguarded.
constinit thread_local std::uint32_t held_ranks = 0;
}  // namespace

void lock_rank_acquire(lock_rank r) {
  const std::uint32_t bit = 1u << static_cast<unsigned>(r);
  const std::uint32_t not_lower = ~(bit - 1);  // ranks >= r
  if (held_ranks & not_lower) {
    int held = 31 - __builtin_clz(held_ranks & not_lower);
    GORT_FATAL("lock order violated: acquiring '{}' while holding '{}' (order: registry < central < heap < scavenger_state < metadata < roots < finalizer < mark_queue < wb_buffers)",
               lock_rank_name(r), lock_rank_name(static_cast<lock_rank>(held)));
  }
  held_ranks |= bit;
}

void lock_rank_release(lock_rank r) { held_ranks &= ~(1u << static_cast<unsigned>(r)); }
#endif

}  // namespace gc::internal
