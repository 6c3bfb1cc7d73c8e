// src/gc/mark.hpp: marking. Parallel, with explicit work buffers: no
// recursion, so a list a million nodes long needs no deep stack.
//
// Algorithm
// 1. The collector scans the roots (stacks, registers, root slots, ranges,
//    the mcaches' tiny blocks, objects waiting for their destructor) through
//    its own worker, with the world stopped or, in a concurrent cycle, while
//    the program runs (src/gc/collector.hpp says which root is read when):
//    every word that
//    find_object resolves marks that object (try_mark: an atomic OR on the
//    span's mark bits) and, if it was white and may hold pointers, pushes it.
// 2. drain(): the helper threads wake and every worker pops items, scans
//    them, and pushes what they mark. Popped items pass through a small FIFO
//    (32 entries, in workers and in assists alike; mark.cpp, drain_hot,
//    which keeps the loop's state in registers) whose entry is prefetched
//    as it goes in, the object's words with its span's header and bitmap
//    lines, so that both are usually in cache by the time it is scanned
//    (marking is a chain of cache misses otherwise; bdwgc uses the same kind
//    of prefetch queue). The span lines matter as much as the object: on a
//    600 MB heap the span structs do not fit in cache either (the latency
//    benchmark's stop-the-world mark: 318 -> 215 ms of CPU with 8 entries,
//    and 16 do better than 8, benchmarks.md).
//    An item is an object (scanned by its type's trace() when it has one,
//    else conservatively, word by word: a small object's words that point
//    into its own span, as a tree's nodes mostly do, are resolved against
//    that span without the page map, scan_small) or a 128 KiB piece of a large object
//    (so one huge array spreads over workers); a mark assist scans at most
//    16 KiB of a piece at once and pushes the rest back, so that one piece
//    cannot hold it past its time bound. A range of 32 words or more
//    (a large object's piece, a stack) is scanned through a 16-word ring
//    that prefetches each candidate word's page-map entry, then its span's
//    header and bitmaps, before marking it (mark.cpp, scan_range_pipelined).
// 3. Sharing: a worker's full buffer goes to the global list; a worker with
//    no local work takes a buffer from the global list. When some worker is
//    idle and the global list is empty, a busy worker also gives away the
//    oldest half of its local buffer, which it looks at every 8 objects
//    (Go's gcw.balance): depth-first marking of a tree never fills a
//    buffer, so without it one worker would do all the work while the
//    others wait.
// 4. Termination: a worker with no local work and an empty global list
//    counts itself idle; marking is done when every worker is idle and the
//    global list is empty (checked in that order: once all are idle, nobody
//    can publish, so an empty list then stays empty). While the program runs,
//    mutators add work from outside (shade: the write barrier; mark assists,
//    with workers of their own that busy workers also balance toward), so a
//    concurrent drain only ends a round; the caller drains again while work
//    or an assist remains, and mark termination drains the rest, stopped.
// 5. Leaving (concurrent marks). Helpers beyond the first worker mark on
//    cores that the program left idle when the round began (pacer.hpp step
//    9), and the program may want them back at any moment: a thread leaves
//    a blocking region, a new thread starts. A helper asks leave(i) every
//    256 objects and every 256 idle spins; when it says so, the helper
//    pushes its prefetch FIFO back, publishes its buffer, and only then
//    takes itself off the worker count (workers - 1, and idle - 1 if it
//    was idle), so the termination check of step 4 never misses its work.
//    It stays out until the next round. (Without this, a helper woken while
//    the latency benchmark's only thread sat for a moment in a blocking
//    region marked beside it for the whole round: three runnable threads on
//    two cores, and the program lost its core for 4-5 ms slices every few
//    batches; benchmarks.md, twelfth session.)
// 6. Minor marks (GODEBUG=gcgen=1; docs/design.md section 3), stopped or
//    concurrent: the objects the last sweep left marked are old, and
//    try_mark never takes them again; before the roots, every dirty card's
//    old objects are pushed as grey (scan_dirty_cards, from the read card
//    table), so that what they point to is marked as if they had been
//    scanned this cycle. Objects allocated black during the mark are
//    skipped (their marks are allocate-black's, span::black_word).
//
// Invariants
// - Grey objects are exactly those in some work buffer or on the mutators'
//   grey list, or named by a value in a thread's write-barrier buffer
//   (barrier.cpp, step 6: shaded before mark termination drains); black
//   ones are marked and not in a buffer (or were allocated during a
//   concurrent mark). A pushed object is marked first, so no object is
//   pushed twice per cycle.
// - Marking allocates no malloc memory: buffers come from metadata memory
//   (a thread stopped inside malloc may hold its lock).
//
// Reference: Go's mgcmark.go (scanobject, oblets of 128 KiB, greyobject) and
// mgcwork.go (work buffers, the full and empty lists).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::internal::mark {

struct work_item {
  std::uintptr_t addr;  // an object's base, or the start of a piece of one
  // A piece: its length (a multiple of 8). An object: its span's address
  // with the low bit set (span structs are 8-aligned), so scanning it needs
  // no second page-map lookup.
  std::uintptr_t len;
};

class worker;

// Starts a cycle: counters to zero. The world is stopped.
void begin_cycle();
// Conservative scan of [lo, hi) with the collector's worker. `what` names
// the region for reports ("a thread's stack", ...): a static string.
void scan_roots(std::uintptr_t lo, std::uintptr_t hi, const char* what, bool stack = false);
// Minor marks, before the roots (step 6): clears every dirty card of the
// heap in `table` (the read table, cards.hpp step 2) and pushes the old
// objects on it, through the collector's worker. World stopped, or running
// (a concurrent mark's marking thread). Returns the number of dirty cards.
std::size_t scan_dirty_cards(std::uint8_t* table);
// Marks the object containing p as a root, if it is a gc object.
void mark_root(const void* p, const char* what);
// Drains all grey objects with the caller and up to max_helpers helper
// threads (negative: all of them; checkmark mode: none). With the world
// running (the concurrent mark), mutators may add work meanwhile: drain
// returns once it saw none, and grey_pending() tells whether more came.
// leave (concurrent marks; step 5): asked by helper i (0-based) every 256
// objects and every 256 idle spins; true makes it hand back its work and
// leave this drain. Returns the time the helpers spent in it, summed (ns).
// stopped: the world is stopped, so no mark assist runs beside it, and the
// first helper may mark with plain stores as owner 1 (span.hpp).
std::uint64_t drain(int max_helpers = -1, bool (*leave)(int) = nullptr, bool stopped = false);
// Checkmark mode (src/gc/checkmark.hpp), world stopped: while on, the
// collector's worker marks into the checkmark bits, leaves the mark bits
// as they are, and aborts with a report on a reachable object that the
// mark bits say is white.
// after_concurrent_mark: unmarked objects met only through thread stacks are
// not reported (conservative stacks may hold stale words; checkmark.hpp).
void set_checkmark_mode(bool on, bool after_concurrent_mark = false);

// From any thread, marking concurrently (the write barrier, allocate-black):
// marks the gc object containing p, if any, and if it was white and may
// hold pointers queues it on the grey list, which workers drain with the
// full buffers. Non-heap addresses are ignored.
void shade(const void* p);
// The same for n values at once (a thread's write-barrier buffer): the
// metadata of each is prefetched a few values ahead, and the grey objects
// are queued under one acquisition of the lock. Values need not be gc
// pointers; null and non-heap values are ignored.
void shade_batch(const std::uintptr_t* values, std::size_t n);
// Items waiting on the shared lists (full buffers and the grey list).
std::size_t grey_pending();

// Bytes scanned so far in this cycle (updated every few hundred objects).
std::uint64_t scan_work_done();
// Bytes of the objects marked in this cycle by marking itself (roots,
// workers, assists, the barrier), not by allocate-black: the live heap that
// the pacer paces from, as Go's work.bytesMarked. Exact once a drain has
// finished (the caller's own worker is flushed here).
std::uint64_t marked_bytes();

// A mark assist: the calling mutator scans up to `work_bytes` of grey
// objects, for at most max_ns, with a worker of its own, and leaves what it
// did not finish on the shared list. The caller must be in a no_stop_scope
// (a stop would otherwise find grey objects in this thread's buffer). True
// if no work was left anywhere. *done_bytes, if given: the bytes it scanned.
bool assist(std::uint64_t work_bytes, std::uint64_t max_ns, std::uint64_t* done_bytes = nullptr);
// Hands the grey objects that root scanning left in the collector's own
// worker to the shared lists, where any worker (or assist) can take them.
// The caller is the thread that scanned the roots.
void publish_root_work();
// Is some mutator inside an assist (holding grey objects in its own buffer)?
bool assists_running();
// No grey object anywhere outside the caller's own (drained) worker: the
// shared lists are empty and no assist holds any, checked so that an
// assist returning work between the two checks is not missed.
bool mark_quiescent();
// Marker threads besides the caller (hardware threads - 1, at most 7).
int helper_count();
// Times a helper has left a drain early (step 5), since the process began.
std::uint64_t helper_departures();
// Creates the helper threads if they do not exist (not while stopped: it
// allocates). Called before every stop.
void ensure_helpers();
// fork: the child has no helper threads.
// fork: prepare takes the work lists' lock (a helper thread, which no stop
// waits for, may hold it for a moment after a drain); parent and child
// release it.
void atfork_prepare();
void atfork_parent();
void atfork_child();

}  // namespace gc::internal::mark
