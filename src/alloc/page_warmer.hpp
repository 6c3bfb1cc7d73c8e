// src/alloc/page_warmer.hpp: the thread that keeps the page heap's warm
// reserve (page_heap.hpp step 7): fresh memory prefaulted ahead of the
// threads that will allocate in it.
//
// Algorithm
// 1. page_heap::alloc calls wake() when the reserve is down to half (at most
//    once per round: the heap re-arms it when the thread has filled the
//    reserve, or when growth commits more). The first wake starts the
//    thread.
// 2. The thread waits for a wake, then calls page_heap::warm_piece() until
//    it returns false (the reserve is full, or nothing committed is left to
//    warm), and waits again. It takes no lock: a piece is prefaulted where
//    it lies, even if an allocating thread takes and writes it meanwhile
//    (page_heap.hpp step 7 says why that is harmless).
// 3. The thread runs in the idle scheduling class (os::make_thread_idle_class):
//    only on a core nothing else wants. In a normal class it took CPU from
//    the program and from the mark workers on a 2-vCPU VM, and the
//    latency benchmark's worst batch grew from about 1.4 to 4.3 ms
//    (docs/benchmarks.md, twenty-fourth session). So while a concurrent
//    mark keeps every core busy, allocating threads fault their own pages
//    in, as without it.
//
// Invariants: the thread touches no gc object, holds no gc pointer and is
// not registered with src/stack, so a stop of the world neither waits for
// it nor scans it; it holds no lock of the runtime ever. It sleeps on an
// atomic counter of wakes (std::atomic::wait), so wake() takes no lock
// either.
//
// Cost: the prefault is work the allocating threads would otherwise do
// themselves, at the same price, one span at a time, in the middle of
// their allocations; it runs only on an idle core.
//
// Reference: Java's -XX:+AlwaysPreTouch touches a whole heap up front; this
// touches only a bounded window ahead of use. Go's runtime has no
// counterpart (its heap growth faults in on first use).
#pragma once

namespace gc::internal::page_warmer {

// Step 1. Any thread; takes no lock. Does nothing while disabled.
void wake();
// Tests: stops warming (and waits until no piece is being prefaulted), or
// allows it again. On by default.
void set_enabled(bool on);
// Prefaults taken by the thread since the process started (tests, stats).
unsigned long long warmed_bytes();
// fork child: the thread does not exist there.
void atfork_child();

}  // namespace gc::internal::page_warmer
