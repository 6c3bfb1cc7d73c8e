// src/gc/barrier.hpp: what the collector needs of the write barrier's
// buffers (src/gc/barrier.cpp, step 6 of its argument). The barrier itself
// is <gort/internal/barrier.hpp> and barrier.cpp.
#pragma once

#include <cstdint>

namespace gc::internal::barrier {

// Mark termination, world stopped, before the last drain: shades every
// thread's buffered values (as roots of the collector's worker) and empties
// the buffers.
void flush_all_stopped();
// Mark start, world stopped: every buffer is empty (a GORT_CHECK).
void check_all_empty_stopped();
// The calling thread is about to unregister (or exit): shades its buffer if
// marking is on, and gives the buffer back. No-op if it has none.
void detach_thread();
// Tests: shades the calling thread's buffered values now, if marking is on
// (a barrier's effect is otherwise seen only when the buffer fills, or at
// mark termination).
void flush_own();
// Step 7 of barrier.cpp, the ragged flush. The collector, marking
// concurrently with no work left: asks every thread to shade its buffer.
void request_flush();
// Step 8. The marking thread, before its handshakes: the word to pass to
// stacks_scanned.
std::uint64_t init_barrier_snapshot();
// Step 8: the marking thread's handshakes have visited every stack.
// Clears bit 0 of init_barrier_state unless a thread registered since the
// snapshot.
void stacks_scanned(std::uint64_t snapshot);
// Step 8: the calling thread has just registered; counted, and if marking
// is on, its stack is grey for the rest of the mark.
void thread_registered();
// Mark start and mark termination (world stopped): the barrier on or off,
// write_barrier_on and bit 0 of init_barrier_state together (step 8).
void set_marking(bool on);
// A registered thread at a slow path (allocation refill): shades its buffer
// if the collector asked since its last flush. Cheap when it did not.
void flush_if_requested();
// Has every attached buffer that holds values flushed since the last
// request? (Takes the buffers' lock.)
bool all_flushed();
// fork: prepare takes the buffers' lock; parent and child release it, and
// the child keeps only its own thread's buffer.
void atfork_prepare();
void atfork_parent();
void atfork_child();

}  // namespace gc::internal::barrier
