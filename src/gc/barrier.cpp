// src/gc/barrier.cpp: the write barrier (the hybrid barrier of Go's proposal
// 17503, Yuasa deletion plus Dijkstra insertion), its slow path, and the
// bulk barrier. The inline half is <gort/internal/barrier.hpp>.
//
// The barrier. While the collector marks concurrently (write_barrier_on),
// every store of a gc pointer into a member of a gc object or a root slot is
//     old = *slot;  *slot = new;  shade(old);  shade(new);
// where shade marks a white object grey (mark::shade). Allocation during
// marking is black (allocate-black, collector.cpp), and each thread's stack
// is scanned once per cycle, at a handshake, while it runs no barrier code.
//
// Correctness argument (the strong tri-colour invariant would need every
// stack rescanned; this barrier keeps the weak one, as Go's does):
// 1. Weak invariant: every white object that a black object points to is
//    reachable from some grey object through white objects only (it is
//    "grey-protected"). At mark termination there is no grey object, so
//    then no black object points to a white one, and every white object is
//    unreachable from the (black) roots: sweeping it is safe.
// 2. A store can break the invariant in two ways. (a) Deletion: it removes
//    the last grey-protected path to a white object W that a black object
//    or a scanned stack still references: shading the old value makes W
//    grey. (b) Insertion: it stores a pointer to white W into a black
//    object, where W is held only by a stack not yet scanned (a grey
//    stack), which may drop it before its scan: shading the new value makes
//    W grey. As in the proposal, the new value is shaded only while the
//    storing thread's stack is grey: once a handshake has scanned it
//    (stack::self_stack_scanned, an epoch the collector starts in the
//    mark-start stop), the thread can only hold pointers it loaded from
//    the heap or a root since, or allocated (black); a white W it stores is
//    then still reachable from where it was loaded, and deleting that
//    reference shades W by (a). ("Allocated" includes an object the thread
//    popped from its window just before the mark-start stop: not black,
//    but held in its registers or frame from the pop on, so its handshake
//    greys it. This rests on the fast path's "stop safety" order in
//    <gort/internal/mcache.hpp>; before that order, gccheckmark found
//    objects this skip lost, 9 in 3000 runs of the ASan thread-churn test.
//    The aborts of the stress test seen after that order, 3 in 380 runs,
//    were the checkmark's own false report of an object still being zeroed
//    (checkmark.hpp, second limit): 0 in 400 once it stopped following it.)
//    A thread registered after its handshake counts as grey for the whole
//    cycle. (Go's runtime shades both values always; here the check costs
//    two loads, and skips a find_object per store: binary-trees shades each
//    new node's two children. Measured: binary-trees 4-5% faster.)
// 3. Stops. Threads are stopped by signals at any instruction, so a
//    barrier sequence can be cut anywhere. The store comes before the flag
//    is read:
//    - Marking starts (flag set with the world stopped). A thread stopped
//      before its store reads the flag after the restart and runs the
//      barrier. A thread stopped after its store made the store before
//      marking began: it is part of the heap that marking starts from.
//    - Marking ends (flag cleared at mark termination). A thread can only be
//      inside a barrier sequence if the stop signal interrupted it: a thread
//      parked at a safe point (allocation slow path, gc::safepoint) or in a
//      blocking region is between calls. So mark termination rescans the
//      stacks and registers of threads stopped by the signal, where `old`
//      and `new` of an unfinished sequence are still held (they are the
//      arguments of the slow path about to be called). No other stack is
//      rescanned.
//    - The slow path re-reads the flag inside a no_stop_scope, so a shade
//      happens only while marking is on: a stale shade after mark
//      termination would set a mark bit in the next cycle's (cleared)
//      bitmap and make an unscanned object black.
// 4. Roots. gc::root slots are scanned concurrently, so their stores run the
//    barrier too (creation shades the new value, destruction the old one).
//    add_roots ranges are foreign memory with no barrier: mark termination
//    rescans them, with the world stopped.
// 5. Raw T* fields in gc objects have no barrier: a program that stores
//    them must run with GODEBUG=gcstoptheworld=1, and
//    GODEBUG=gccheckmark=1 finds the places that break the rule.
//
// References: Go's src/runtime/mbarrier.go (the argument above follows its
// shape), the hybrid barrier proposal (golang/go#17503), mwbbuf.go.
#include <gort/internal/barrier.hpp>


#include "common/lock.hpp"
#include "gc/mark.hpp"
#include "stack/stack.hpp"

namespace gc::internal {

std::atomic<bool> write_barrier_on{false};

void write_barrier_slow(const void* old_value, const void* new_value) noexcept {
  no_stop_scope no_stop;  // step 3: the flag cannot change until the shades are done
  if (!write_barrier_on.load(std::memory_order_relaxed)) return;
  if (old_value != nullptr) mark::shade(old_value);
  if (new_value != nullptr && !stack::self_stack_scanned()) mark::shade(new_value);  // step 2(b)
}

void barriered_copy(void** dst, void* const* src, std::size_t n) noexcept {
  if (n == 0 || dst == src) return;
  // The whole copy is one stretch that no stop can split: shade what is
  // overwritten and what is copied, then copy, all while the flag is stable.
  no_stop_scope no_stop;
  if (write_barrier_on.load(std::memory_order_relaxed)) {
    const bool shade_new = !stack::self_stack_scanned();  // step 2(b)
    for (std::size_t i = 0; i < n; ++i) {
      if (void* old = slot_load(dst + i)) mark::shade(old);
      if (void* v = slot_load(src + i); v != nullptr && shade_new) mark::shade(v);
    }
  }
  // Slot by slot with relaxed atomics (a marker may be reading dst), in the
  // direction that memmove would take for overlapping ranges.
  if (dst < src) {
    for (std::size_t i = 0; i < n; ++i) slot_store(dst + i, slot_load(src + i));
  } else {
    for (std::size_t i = n; i > 0; --i) slot_store(dst + i - 1, slot_load(src + i - 1));
  }
}

}  // namespace gc::internal
