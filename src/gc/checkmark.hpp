// src/gc/checkmark.hpp: the checkmark verifier (GODEBUG=gccheckmark=1), and
// the bit set it marks in.
//
// Algorithm (Go's checkmark mode, mgcmark.go / mcheckmark.go):
// 1. After the collector's mark has finished, with the world still stopped
//    and before anything is swept, mark the heap a second time from the
//    same roots (collector.cpp's mark_roots), single-threaded, into a bit
//    set of its own: one bit per 8-byte granule of each arena, indexed by
//    the object's base address. The collector's mark bits are only read.
// 2. Every object the second pass reaches for the first time must already
//    carry the first pass's mark bit. One that does not was reachable and
//    left white: sweeping would free it while the program can still reach
//    it. The verifier then prints the object (address, size, span, class),
//    where the reference to it was found (the referring object and the
//    offset in it, or the root region), and aborts.
// 3. The bit set is cleared for the next cycle.
//
// The second pass scans exactly as the first (the same trace() methods, the
// same conservative rules), so it checks the marking machinery (work
// sharing, termination, and with concurrent marking the write barrier and
// allocate-black), not the conservative policy itself.
//
// One limit, after a concurrent mark: each thread stack was scanned at its
// handshake, and the second pass scans it at mark termination. A frame that
// became live since, over old stack memory, may hold a stale word pointing
// at garbage the first pass rightly left white; conservatively, that word
// cannot be told from a reference. So an unmarked object met only through a
// thread's stack or registers is neither reported nor followed (and stays
// unchecked, so a reference from the heap or a root still reports it). A
// barrier bug shows through heap objects, which this does not relax.
//
// A second limit, from the same stop: a thread stopped by a signal may be
// inside an allocation, holding in its registers an object it has popped
// (marked: allocate-black) but not yet zeroed, whose memory still holds the
// words of the dead object that used it before. Followed, those words read
// as references to white garbage. So an object met only through a stack
// that may be in that state (alloc.hpp, may_be_initialising: the last
// object popped from an mcache's window, a free slot of that window, a
// large object being zeroed) is not followed either. (Seen as an abort of
// the stress test: the referring 48-byte "node", marked, was all zero but
// for one word at offset 24, the stale edge of a dead node, in the 16 bytes
// the memset had not yet reached.)
//
// Invariants
// - Checkmark bits are touched only while the world is stopped, by the one
//   thread running the cycle: no atomics needed.
// - The mark bits, alloc bits and every span are left exactly as the first
//   pass left them.
//
// Cost: one extra full mark per cycle plus 1 MiB of bitmap per arena in
// use, and only when the flag is set.
#pragma once

#include <cstdint>

namespace gc::internal::checkmark {

// Sets the checkmark bit of the object at `base`; true if it was clear.
// World stopped, cycle thread only.
bool set(std::uintptr_t base);

// Clears every checkmark bit (step 3) and counts a verified cycle. World
// stopped, cycle thread only.
void clear_all();

// Cycles verified so far (read by tests and diagnostics; any thread).
std::uint64_t cycles_verified();

}  // namespace gc::internal::checkmark
