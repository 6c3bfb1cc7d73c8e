// src/stack/stack.hpp: the face of src/stack. Threads, their stacks and
// registers, and stopping the world so the collector can scan them.
// src/gc includes this header and nothing deeper; src/stack knows nothing of
// src/alloc or src/gc. libunwind is used only inside src/stack's .cpp files.
//
// Algorithm (the long form is in stop_world.cpp and thread_registry.cpp)
// 1. A thread that may hold gc pointers registers (register_thread): its
//    stack bounds are found then, and it gets a thread_info with a state
//    word, the futex the stop protocol turns on.
// 2. stop_the_world claims every other registered thread: a running one is
//    asked to park (state must_park), one in a blocking region is counted as
//    stopped at once (state blocking_stopped). Then it raises the global
//    stop flag that safepoint() polls.
// 3. Threads that poll reach safepoint(), run the park callback, save their
//    registers and stack pointer, acknowledge and sleep (kind safepoint).
//    After a short grace period (default 20 us) the stopper signals the
//    threads that have not acknowledged: the handler saves sp and registers
//    and parks inside the handler (kind signal). A thread holding a runtime
//    lock defers: it parks when it releases its last one (common/lock.hpp).
// 4. The stopper waits until every claimed thread has acknowledged, then the
//    collector walks the stacks with for_each_stack and restarts the world
//    with start_the_world, which releases every parked thread.
//
// Invariants
// - While the world is stopped, every registered thread other than the
//   stopper is parked or in a blocking region, holds no rank_mutex, and
//   cannot register, unregister, or leave its blocking region.
// - One stopper at a time; it holds the registry lock from stop_the_world to
//   start_the_world, and must hold no rank_mutex when it calls stop_the_world.
// - Nothing in this folder allocates, formats or unwinds (unw_step) between
//   the first claim and the restart, on any thread: a stopped thread may hold
//   malloc's or the dynamic loader's lock.
//
// References: Go's stopTheWorld/preemptall and entersyscall/exitsyscall
// (blocking regions), Go's signal-based asynchronous preemption (SIGURG);
// Boehm GC's pthread_stop_world.c (signal handler that saves registers and
// sleeps). Design only; no code taken from either.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include <gort/internal/config.hpp>

namespace gc::internal::stack {

struct thread_info;  // one per registered thread (thread_registry.hpp)

// Registers the calling thread and returns its record; idempotent (a
// registered thread gets its record back). Finds the thread's stack bounds
// now. Waits while the world is stopped. Must not be called holding a
// rank_mutex, nor by the thread that stopped the world.
thread_info* register_thread();
// Unregisters the calling thread; a no-op if it is not registered. Waits
// while the world is stopped, so a thread never vanishes during a stop.
// (A registered thread that exits without calling it is unregistered by a
// thread-exit key destructor, which runs after the C++ thread_local
// destructors and after the keys created before register_thread was first
// called.)
void unregister_thread();
// The calling thread's record, or nullptr if it is not registered.
thread_info* current_thread();
// The number of registered threads (the caller included if registered).
std::size_t registered_threads();
// Registered threads not inside a blocking region: those that may be using a
// core. A snapshot (atomic counters).
std::size_t running_threads();

// The OS thread id (gettid) of a registered thread, and its stack bounds
// [lo, hi), hi being the base.
int thread_id(const thread_info* t);
void thread_stack_bounds(const thread_info* t, std::uintptr_t* lo, std::uintptr_t* hi);

// Blocking regions: between enter_blocking and exit_blocking the thread
// touches no gc memory (it may hold gc pointers in its frames), typically
// around a system call that may block. enter_blocking saves the thread's
// registers and stack pointer in its record; from then on a stop counts the
// thread as stopped (kind blocking) without signalling it, and the collector
// scans it from the saved state. exit_blocking waits until the world
// restarts if it is stopped. Regions nest; only the outermost saves. No
// rank_mutex may be held across a region. No-ops on unregistered threads.
// enter_blocking_from(cfa): the same, for an entry function that returns
// before the region ends and called __builtin_unwind_init first: its frame,
// up to `cfa` (its GORT_FRAME_CFA()), is saved with the registers, and the
// frames above cfa are scanned live.
void enter_blocking();
void enter_blocking_from(std::uintptr_t cfa);
void exit_blocking();

// The canonical frame address of the function it is written in: its
// caller's stack pointer at the call. GCC's builtin is right everywhere;
// clang's fallback, frame pointer + 2 words, is right on x86-64 (on
// AArch64 clang may keep callee-saved registers above the frame record).
#if defined(__GNUC__) && !defined(__clang__)
#  define GORT_FRAME_CFA() (reinterpret_cast<std::uintptr_t>(__builtin_dwarf_cfa()))
#else
#  define GORT_FRAME_CFA() (reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) + 2 * sizeof(void*))
#endif

// The function a thread runs when it parks cooperatively (in safepoint(), or
// at the unlock that ends a deferred stop), before it acknowledges the stop:
// the collector flushes the thread's allocation cache there. It may take
// rank_mutexes and allocate. Not called for threads stopped in the signal
// handler or counted as stopped in a blocking region. Note a deferred stop
// runs it from inside rank_mutex::unlock(). nullptr = none. Returns the
// callback it replaces.
using park_callback_fn = void (*)();
park_callback_fn set_park_callback(park_callback_fn callback);

namespace detail {
// Raised (1) by stop_the_world after it has claimed every thread; lowered by
// start_the_world. Atomic; safepoint() reads it relaxed.
extern constinit std::atomic<std::uint32_t> stop_requested;
GORT_NOINLINE void safepoint_slow();
}  // namespace detail

// Is a stop of the world waiting for threads to park? For long stretches
// that run in a no_stop_scope (a mark assist) and can end early, so the
// stop does not wait for them. One relaxed load.
GORT_ALWAYS_INLINE bool stop_pending() { return detail::stop_requested.load(std::memory_order_relaxed) != 0; }

// A safe point: parks here if a stop has claimed this thread. One relaxed
// load when no stop is pending. If the thread holds a rank_mutex the park is
// deferred to its last unlock.
GORT_ALWAYS_INLINE void safepoint() {
  if (GORT_UNLIKELY(detail::stop_requested.load(std::memory_order_relaxed) != 0)) detail::safepoint_slow();
}

// Stops every registered thread except the caller (who need not be
// registered) and returns when all are stopped. Stoppers are serialised: a
// second caller waits, counted as stopped in a blocking region if it is
// registered. The caller must hold no rank_mutex.
void stop_the_world();
// Releases the threads stopped by the caller's stop_the_world.
void start_the_world();

// How the caller's last stop_the_world went (GODEBUG=gctrace=2): how long
// the other threads took to stop, how many had to be sent the stop signal
// (they reached no safe point in the grace period), and how many held the
// stop off until they released a runtime lock. Read by the stopper, before
// its start_the_world.
struct stop_stats {
  std::uint64_t wait_ns = 0;
  std::uint32_t signalled = 0;
  std::uint32_t deferred = 0;
};
stop_stats last_stop_stats();

enum class stop_kind {
  safepoint,  // parked cooperatively: safepoint(), or a deferred stop at unlock
  signal,     // parked in the stop signal's handler
  blocking,   // in a blocking region; registers saved in its record
  self,       // the thread that stopped the world (for_each_stack's caller)
};

struct stack_view {
  // The range to scan conservatively, [lo, hi): from the saved stack pointer
  // to the stack's base. For safepoint and self it holds the saved registers
  // too; for signal, from the interrupted stack pointer less the red zone,
  // the interrupted registers being in regs (or, where they are unknown,
  // from the handler's frame, which then holds them).
  std::uintptr_t lo, hi;
  // A saved register area outside [lo, hi) to scan as well (blocking: the
  // registers and the frames saved with them, enter_blocking's or up to
  // enter_blocking_from's CFA, in the record; signal: the interrupted
  // registers, copied from the kernel's ucontext); nullptr/0 when there is
  // none.
  const void* regs;
  std::size_t regs_bytes;
  stop_kind kind;
  int tid;               // OS thread id
  thread_info* thread;   // nullptr for an unregistered stopper (kind self)
};

// The stopper's own registers and stack pointer, saved by capture_self in a
// frame that stays live while the stacks are scanned (the collector's cycle
// function). for_each_stack then reports the stopper from that frame up, so
// that the scan does not see the collector's own deeper frames, whose words
// change while marking runs: the spilled registers of the marking code hold
// addresses it computed (an object's end, which is the next object's base),
// which are not roots, and a second scan of the same stack (the checkmark
// pass) would read different words than the first.
struct self_context {
  alignas(16) unsigned char regs[1024];  // an unw_context_t (libunwind stays in src/stack)
  std::uintptr_t lo = 0;                 // the caller's stack pointer at the capture
};
// Saves the caller's registers into ctx, which must be a local of the
// caller's frame, and the caller's stack pointer at the call.
GORT_NOINLINE void capture_self(self_context& ctx);

namespace detail {
using stack_visitor = void (*)(void* closure, const stack_view& view);
GORT_NOINLINE void for_each_stack_erased(stack_visitor visit, void* closure, const self_context* self);
GORT_NOINLINE void handshake_each_stack_erased(stack_visitor visit, void* closure, const self_context* self);
}  // namespace detail

// Only by the thread that stopped the world, while it is stopped: calls
// f(const stack_view&) for every registered thread other than the caller,
// then once for the caller (kind self). With `self` (captured by the caller
// before the stop, in a frame still live), the caller's range starts at
// self->lo and its registers are those in *self; without it, its registers
// are saved in a local of for_each_stack's own frame and its range starts at
// that frame's stack pointer. Allocates nothing. Aborts if a saved stack
// pointer lies outside its thread's stack bounds.
template <class F>
void for_each_stack(F&& f, const self_context* self = nullptr) {
  using closure_type = std::remove_reference_t<F>;
  detail::for_each_stack_erased(
      [](void* closure, const stack_view& view) { (*static_cast<closure_type*>(closure))(view); },
      const_cast<void*>(static_cast<const void*>(std::addressof(f))), self);
}

// Per-thread handshake, with the world running (the concurrent collector's
// stack scan): stops the registered threads other than the caller ONE AT A
// TIME, by the same protocol as stop_the_world (safepoint, else the stop
// signal; a thread in a blocking region is not interrupted), calls f with
// its view while it alone is stopped, and releases it before the next.
// Then f once for the caller (as for_each_stack, with `self`). Only that
// thread pauses, only for its own scan. Registration waits meanwhile.
// The caller must not have stopped the world and must hold no rank_mutex.
// f must not allocate, lock, or print (the visited thread may hold malloc's
// lock): the same rules as inside a stop.
template <class F>
void handshake_each_stack(F&& f, const self_context* self = nullptr) {
  using closure_type = std::remove_reference_t<F>;
  detail::handshake_each_stack_erased(
      [](void* closure, const stack_view& view) { (*static_cast<closure_type*>(closure))(view); },
      const_cast<void*>(static_cast<const void*>(std::addressof(f))), self);
}

// Scan epochs, for a write barrier that needs to know whether the storing
// thread's stack has been scanned yet (the hybrid barrier's "is the stack
// grey?"). begin_scan_epoch() starts a new epoch (call it with the world
// stopped, before the handshake); handshake_each_stack records the epoch on
// each thread it visits, the caller included, before letting it go; and
// self_stack_scanned() is true on a registered thread whose stack a
// handshake has visited in the current epoch. A thread registered after its
// epoch's handshake reads false.
void begin_scan_epoch();
bool self_stack_scanned();

// fork support. src/gc calls these from its one pthread_atfork handler:
// atfork_prepare FIRST in the prepare handler (before it takes any
// rank_mutex), atfork_parent / atfork_child LAST in the others. prepare
// waits for a stop in progress to end and keeps the next from starting; the
// child keeps only the calling thread's record (if it was registered), with
// no stop in progress and every lock free. Calls nest (counted per thread),
// so a test may bracket fork() itself as well.
void atfork_prepare();
void atfork_parent();
void atfork_child();

// Diagnostics. Never inside a stop (they may take the dynamic loader's lock).
//
// The name of the function containing code address pc, demangled if it can
// be (truncated to name_len - 1), and pc's offset into it. For a return
// address pass pc - 1 to name the calling function. False if unknown.
bool symbolize(std::uintptr_t pc, char* name, std::size_t name_len, std::uintptr_t* offset);
// Could v be a return address: inside a loaded object's code, just after a
// call instruction (x86-64; elsewhere any code address)? For naming frames
// of a stack copied while its thread was stopped (explain_roots). Not
// during a stop (dl_iterate_phdr takes the loader's lock).
bool is_return_address(std::uintptr_t v);

// Fills out[0..n) with the calling thread's frames, innermost first,
// starting with current_frames' caller: pc is the return address into the
// frame (pass pc - 1 to symbolize), sp the frame's stack pointer. A stack
// word at address a belongs to frame i when out[i].sp <= a < out[i+1].sp.
// Returns how many it filled.
struct frame {
  std::uintptr_t pc, sp;
};
std::size_t current_frames(frame* out, std::size_t n);

// For gort's own tests and for tuning. Not for programs.
namespace testing {
// Stop signals the handler received, in the whole process / on one thread
// (including ones that arrived late and found no stop to park for).
std::uint64_t stop_signals_received();
std::uint64_t stop_signals_received(const thread_info* t);
// Parks made by a deferred stop (at the last rank_mutex unlock).
std::uint64_t deferred_parks();
// The signal used to stop threads (GORT_STOP_SIGNAL or SIGURG).
int stop_signal();
// How long stop_the_world waits for threads to reach a safepoint before it
// signals those that have not (default 20 000 ns; a thread that needed the
// signal in its last stop gets 5 000 ns or this, the shorter). Returns the
// old value.
std::uint64_t set_signal_grace_ns(std::uint64_t ns);
// The pure part of reading GORT_STOP_SIGNAL: text (null or empty = unset)
// to a signal number. A bad value gives SIGURG and sets *warning to the one
// line to print (without "gort: warning: "); otherwise *warning is cleared.
int parse_stop_signal(const char* text, std::string* warning);
}  // namespace testing

}  // namespace gc::internal::stack
