// src/gc/sweep.hpp: sweeping, concurrent with the program after a
// concurrent mark (inside the stop in stop-the-world mode), and the queue of
// objects whose destructors must run.
//
// When spans are swept (the phase protocol is in src/alloc/mcentral.hpp):
// - a span an mcache owns, by its owner at its first window change after
//   mark termination (sweep_owned_span, from the refill or the flush), or,
//   if the owner has not allocated from it by then, in the next mark
//   start's stop (sweep_owned_now; also in gc::collect()'s termination).
//   Not in termination's stop: the owner may be stopped anywhere, even
//   inside the inline fast path, and the span stays exactly as it was;
// - afterwards, every other span, each claimed by one sweeper from its
//   central list: an allocating thread that needs a span of that class
//   (mcentral::cache_span), the collector's background thread for the
//   classes no thread refilled from in the last millisecond (it looks again
//   every millisecond until the sweep is done or the next cycle starts:
//   mcentral.hpp, sweep phase step 2), or the caller of gc::collect()
//   (which promises a finished sweep) or of the next cycle (sweep
//   termination: sweep::finish before the mark starts).
//   Stop-the-world mode sweeps them all inside its stop.
//
// Sweeping one span (sweep_span, the allocator's hook):
// 1. A large object: marked -> clear the mark. Unmarked -> if its type has a
//    destructor, queue it (step 4) and keep it; else alloc_count = 0, and
//    mcentral gives its pages back to the page heap.
// 2. A small span that is untyped and owned by no mcache: Go's trick. The
//    mark bits become the alloc bits by swapping the two pointers, and the
//    new mark bits are cleared. alloc_count = popcount(new alloc bits).
// 3. Otherwise word by word: dead = alloc & ~mark. A dead typed object whose
//    type has a destructor is queued and stays allocated; other dead objects
//    are freed (their obj_meta cleared). For a span that some thread's
//    mcache owns, the word of that mcache's current window is left exactly
//    as it is: the owner may be stopped in the middle of taking an object
//    from it (a signal can land anywhere in the inline fast path), so its
//    alloc bits and window must not change under it. Garbage there waits for
//    the next cycle.
//    Then mcentral puts an unowned span back on the swept list that fits,
//    or gives an empty one back to the page heap.
// 4. Queued destructors run after the world restarts (run_destructors), on
//    the thread that called gc::collect() or on the finalizer thread. The
//    queue is a root set: a queued object is marked by any cycle that starts
//    before its destructor runs, and one whose destructor is running is
//    referenced from the running thread's frame; so it is neither freed nor
//    queued twice (the entry holds the type; the object's obj_meta entry is
//    cleared when it is queued). After its destructor, the object is freed
//    (if an mcache owns its span, its span is not yet swept, or a concurrent
//    mark is running, the next cycle frees it: its metadata says there is
//    nothing left to run; its words are zeroed meanwhile, so that a stale
//    pointer to it, which makes a mark scan it conservatively, keeps nothing
//    alive through it).
//
// 5. Sticky marks (minor collections, GODEBUG=gcgen=1; docs/design.md
//    section 3): a phase begun with keep_marks leaves every surviving
//    object's mark set instead of clearing it, so that the next mark, if it
//    is a minor one, treats it as old (already black). Dead objects and
//    queued ones are unmarked, as always, and so are objects allocated
//    black during a concurrent mark (span::black_word): they stay allocated
//    but young. Every sweep clears the black bits. Before a mark that must
//    be a full one, clear_kept_marks clears the kept marks.
//
// Invariants: after a span's sweep, its mark bits are zero (with
// keep_marks: they are the marks of its allocated objects, a subset of its
// alloc bits, and of the objects in an owned window word) and alloc_count
// == popcount(alloc bits); every allocated object in it was marked by the
// last mark, is queued, or is in an owned window word. Until a span is
// swept, its mark bits are the last mark's and nothing else writes them (no
// mark starts before sweep termination).
//
// Reference: Go's mgcsweep.go (sweepone, the allocBits/gcmarkBits swap,
// sweep termination in finishsweep_m).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::internal {
struct span;
struct sweep_watch;
}  // namespace gc::internal

namespace gc::internal::sweep {

// What the sweep of the current phase has done so far (reset by
// begin_phase). Read with the world stopped after a stop-the-world sweep,
// it is the whole cycle's.
struct sweep_result {
  std::uint64_t freed_objects = 0;
  std::uint64_t freed_bytes = 0;
  std::uint64_t queued = 0;      // objects waiting for their destructor
  std::uint64_t live_bytes = 0;  // bytes of objects left allocated in swept spans
  std::uint64_t marked_bytes = 0;  // the collector's: the live heap the pacer uses
};
sweep_result totals();

// World stopped, after marking (and after the checkmark pass): starts the
// sweep phase (src/alloc's begin_sweep_phase) and resets the totals.
// others_may_sweep: false only when the caller is the one thread that
// sweeps while the world is stopped (the collector's background thread).
// keep_marks: step 5.
void begin_phase(bool others_may_sweep, bool keep_marks = false);
// World stopped, every span swept, before a full mark: clears the marks a
// keep_marks phase left (step 5).
void clear_kept_marks();
// The allocator's hook for an owned span (alloc_hooks::sweep_owned_span):
// its owner sweeps it at its first window change of the phase, around the
// window word it had at mark termination (step 3).
void sweep_owned_span(span* s);
// World stopped: sweeps every owned span still unswept (the owners that
// have not allocated since mark termination): at the next mark start, in
// stop-the-world mode's termination, and in gc::collect()'s.
void sweep_owned_now();
// Sweeps everything left and waits for other sweepers (sweep termination);
// with the world stopped or running.
void finish();
// The background sweeper's step (mcentral.hpp, sweep phase step 2): sweeps
// a batch of spans of a class that no thread has refilled from in the last
// millisecond, as far as `watch` saw; 0 if it swept none (nothing left, or
// only busy classes left, which their threads sweep as they refill).
std::size_t sweep_background(sweep_watch& watch);
// After the sweep (mcentral.hpp step 6): gives back the empty spans the
// refills' sweeps kept for classes no thread has refilled from in the last
// millisecond; true while some busy class still keeps some.
bool trim_kept_background(sweep_watch& watch);
// True when every span of the phase is swept (none unswept, none claimed).
bool finished();
// World stopped, before a mark (debug builds): every in-use span is swept
// and its mark bits are clear (marks_kept: a subset of its alloc bits, step
// 5); aborts naming the first span that is not.
void verify_all_swept(bool marks_kept = false);
// sweep_result.freed_bytes alone (cheap: one atomic load).
std::uint64_t freed_bytes();
// The allocator's sweep hook (alloc_hooks::sweep_span); registered by init.
void sweep_span(span* s);

// World stopped, before marking: marks every queued object whose destructor
// has not finished (through the marker's root worker).
void mark_queued();

// Runs queued destructors and frees their objects, at most `limit` of them.
// Any registered thread, world running; several threads may drain at once.
// Returns how many ran.
std::size_t run_destructors(std::size_t limit = ~std::size_t{0});
// Entries waiting (not yet popped), read without the lock: a hint for the
// allocation slow path, which helps when the finalizer thread falls behind.
std::size_t queued_hint();
// Destructors queued and not finished.
std::size_t pending_destructors();
// Bytes of the objects whose destructors are queued or running: garbage
// that stays allocated until then, which the pacer must not count as live.
std::uint64_t pending_bytes();

// fork: in the child, destructors that another thread of the parent was
// running will never finish (that thread is gone): they are not counted as
// pending, and not run again (that could destroy an object twice). Their
// objects are freed by a later cycle (their metadata says nothing is left to
// run). Entries still queued are run by the child.
void atfork_child();
void atfork_prepare();  // takes the queue's lock; atfork_parent releases it
void atfork_parent();

}  // namespace gc::internal::sweep
