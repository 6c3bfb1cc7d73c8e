// src/stack/stop_world.cpp: stopping and restarting the world, safepoints,
// blocking regions, the stop signal's handler, and for_each_stack. The
// per-thread state machine this code drives is drawn in thread_registry.hpp.
//
// Algorithm
// stop_the_world (the stopper, registered or not):
// 1. Take registry_lock (a registered stopper waits inside a blocking region,
//    so a concurrent stopper counts it as stopped). The lock serialises
//    stoppers and freezes registration until start_the_world.
// 2. Claim every other registered thread by CAS on its state word: running
//    -> must_park (pending_acks + 1), blocking -> blocking_stopped (stopped
//    already: its registers were saved when it entered the region).
// 3. Raise detail::stop_requested, the flag safepoint() polls.
// 4. Grace period: wait up to signal_grace_ns (20 us by default; Go signals
//    after about 5 us), spinning when the machine has more than one core,
//    for the claimed threads to park at a safepoint. Poll first, then signal: a
//    thread that polls is stopped cooperatively, so the park callback
//    flushes its allocation cache; only the stragglers get the signal.
//    A thread whose last park was in the signal handler (step 2 copies its
//    stopped_kind into signal_first: a thread that runs without safepoints,
//    a compute loop) is signalled after signal_first_ns (5 us) instead: the
//    stop does not wait out the grace period for it every time.
// 5. Send the stop signal to each thread still in must_park, after checking
//    (one sigaction call, made only at the first signal of a stop) that the
//    program has not replaced gort's handler. A stop that needs no signal
//    makes no system call. pthread_kill takes 33-41 us on a 2-vCPU VM, and
//    the stopper sees no acknowledgement until it returns.
// 6. Spin up to signal_spin_ns (more than one core), then sleep on
//    pending_acks until it reaches 0 (each acknowledgement decrements it;
//    the last one wakes the stopper). A futex sleep on a VM can end 100-200
//    us after its wake-up or timeout: longer than the whole stop should be.
//    After 5 s print one warning naming a thread that has not stopped
//    (signal blocked?).
// A claimed thread acknowledges exactly once, by its own CAS out of
// must_park, in one of four places:
//   - safepoint() (or the deferred-stop hook at its last rank_mutex unlock):
//     run the park callback, save registers (unw_getcontext into a local of
//     the parking frame) and sp, CAS must_park -> parked (kind safepoint);
//   - the signal handler, if the thread holds no rank_mutex: save registers
//     and sp in the handler's frame, CAS -> parked (kind signal). With a
//     rank_mutex held or being acquired it only sets stop_deferred (see
//     common/lock.hpp) and returns;
//   - enter_blocking: its registers are saved already; CAS -> blocking_stopped.
// Then it sleeps on its own state word until start_the_world changes it.
// start_the_world: lower stop_requested; parked -> running and
// blocking_stopped -> blocking, waking each thread; release registry_lock.
// A thread that parked and is released loops: if a new stop has already
// claimed it again (must_park), it parks again for that stop.
//
// Blocking regions (enter_blocking / exit_blocking, outermost level only):
// 1. enter: save the registers into the record (unw_getcontext), and copy
//    enter_blocking's own frame, where the compiler spilled the caller's
//    callee-saved registers (__builtin_unwind_init forces the spill). Record
//    the caller's stack pointer (enter_blocking's CFA): the caller's frames
//    stay intact during the region, enter_blocking's do not.
//    enter_blocking_from(cfa) saves the frames up to a given CFA instead:
//    that of an entry function that returns before the region ends (the
//    constructor of gc::blocking_region), whose frame holds the spill of
//    its own caller's registers. Copying only enter_blocking's frame there
//    lost a pointer that the program kept in a callee-saved register across
//    the region: the constructor had saved it in its frame, which the
//    region's system call then overwrote (seen once gc_new was inlined).
// 2. enter: CAS running -> blocking; or, if a stop in progress already
//    claimed the thread, must_park -> blocking_stopped and acknowledge (it
//    is stopped from the stopper's point of view, and its saved state is
//    complete). Never both, never neither: the CAS decides.
// 3. exit: CAS blocking -> running; while the state is blocking_stopped,
//    sleep on it (the world is stopped: the region may not end yet).
//
// Invariants
// - Nothing here allocates, formats, or calls unw_step/unw_init_local on a
//   path that runs while a stop is in progress: failures on those paths use
//   GORT_RAW_CHECK (thread_registry.hpp), which only write(2)s and aborts.
// - pending_acks = threads claimed into must_park and not yet acknowledged;
//   it is modified only between a stopper's step 2 and the end of step 6.
// - stop_requested is 1 only between step 3 and start_the_world.
// - The signal handler parks only a registered thread whose state is
//   must_park, that is not already parking cooperatively (in_park), and
//   that holds no rank_mutex; any other time it returns at once, so a late
//   or stray signal is harmless. It saves and restores errno.
//
// References: Go's runtime (stopTheWorldWithSema, preemptall, the
// entersyscall/exitsyscall handshake, SIGURG as its preemption signal) and
// Boehm GC's signal-based stop (GC_suspend_handler); design only.
#include <cerrno>
#include <ucontext.h>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

#include <fmt/format.h>

#include "common/check.hpp"
#include "common/lock.hpp"
#include "stack/thread_registry.hpp"

namespace gc::internal::stack {

namespace detail {
constinit std::atomic<std::uint32_t> stop_requested{0};
}  // namespace detail

namespace {

constexpr int default_stop_signal = SIGURG;
constexpr std::uint64_t stuck_warning_ns = 5'000'000'000;

// The stop signal, chosen once by init_stop_machinery. Atomic.
constinit std::atomic<int> stop_sig{0};
std::once_flag init_once;

// Threads claimed into must_park and not yet acknowledged (a futex word the
// stopper sleeps on). Atomic.
constinit std::atomic<std::uint32_t> pending_acks{0};

// Atomic; set by the program or tests.
constinit std::atomic<void (*)()> park_callback{nullptr};
// 20 us: with 100 us, a thread that never reaches a safe point made every
// mark-start stop at least that long (measured: a compute-bound thread
// beside an allocating one on 2 cores, mean mark-start stop 0.43-0.57 ms
// at 100 us, 0.13-0.17 ms at 20 us).
constinit std::atomic<std::uint64_t> signal_grace_ns{20'000};
// A thread that parked in the signal handler the last time it was claimed
// (signal_first) is signalled after this much instead (step 4). Measured
// with one compute-bound thread beside the latency benchmark's allocating
// one on 2 cores (docs/benchmarks.md, 2026-12-02 eleventh session).
constexpr std::uint64_t signal_first_ns = 5'000;
// After the signal (step 6), how long the stopper spins before it sleeps.
constexpr std::uint64_t signal_spin_ns = 100'000;

// Registered threads inside a blocking region (outermost level). Atomic.
constinit std::atomic<std::size_t> threads_blocking{0};

// Statistics for tests. Atomic.
constinit std::atomic<std::uint64_t> signals_total{0};
constinit std::atomic<std::uint64_t> deferred_total{0};
// The last stop_the_world's figures (last_stop_stats): written by the
// stopper during its stop, read by it before start_the_world.
stop_stats last_stop;

// Only this thread: true between its stop_the_world and start_the_world.
constinit thread_local bool tls_is_stopper __attribute__((tls_model("initial-exec"))) = false;
// Only this thread: the stack bounds of an unregistered stopper, found
// before it stops the world (finding them may allocate).
constinit thread_local os::stack_range tls_stopper_bounds;

// Defined below; declared here for stop_the_world.
void claim_thread(thread_info* t, const char* who);
void release_thread(thread_info* t, const char* who);
stack_view view_of(thread_info* t, const char* who);
std::uint32_t await_acknowledgements(thread_info* self, int sig);
void visit_self(detail::stack_visitor visit, void* closure, const self_context* self_ctx);

// Registers saved at a call boundary (unw_getcontext called from a
// function): the caller-saved ones are dead there, and hold whatever
// earlier calls left in them; cleared so that the conservative scan does
// not keep garbage alive through them. The callee-saved registers, the
// stack and instruction pointers stay. Not for the signal handler's
// context, where every register of the interrupted code may be live.
void scrub_caller_saved(unw_context_t* context) {
#if defined(__x86_64__) && defined(__linux__)
  auto* uc = reinterpret_cast<ucontext_t*>(context);
  for (int r : {REG_RAX, REG_RCX, REG_RDX, REG_RSI, REG_RDI, REG_R8, REG_R9, REG_R10, REG_R11})
    uc->uc_mcontext.gregs[r] = 0;
  // Every vector and x87 register is caller-saved in the SysV ABI.
  std::memset(uc->__fpregs_mem._xmm, 0, sizeof uc->__fpregs_mem._xmm);
  std::memset(uc->__fpregs_mem._st, 0, sizeof uc->__fpregs_mem._st);
#else
  (void)context;
#endif
}

// Saves the calling code's registers at a call boundary into `context`,
// which is scanned conservatively: first cleared whole (unw_getcontext does
// not write every byte of it: the signal mask, reserved areas and padding
// would keep stale stack words), then the caller-saved registers scrubbed.
__attribute__((always_inline)) inline void save_context(unw_context_t* context) {
  std::memset(static_cast<void*>(context), 0, sizeof *context);
  unw_getcontext(context);
  scrub_caller_saved(context);
}

void acknowledge() {
  if (pending_acks.fetch_sub(1, std::memory_order_acq_rel) == 1) os::futex_wake(pending_acks, 1);
}

// Sleeps while the thread's state is `value` (parked or blocking_stopped).
void wait_while_state(thread_info* t, std::uint32_t value) {
  while (t->state.load(std::memory_order_acquire) == value) os::futex_wait(t->state, value, -1);
}

[[noreturn]] void bad_state(const char* where, const thread_info* t, std::uint32_t s) {
  raw_message m;
  m.text(where).text(": thread ").dec(t->tid).text(" is in the impossible stop state ").dec(s);
  raw_fatal(m, __FILE__, __LINE__);
}

// Parks a claimed thread cooperatively (safepoint or deferred stop).
GORT_NOINLINE void park_cooperative(thread_info* t) {
  t->in_park = 1;  // from here the signal handler leaves this thread alone
  std::atomic_signal_fence(std::memory_order_seq_cst);
  unw_context_t context;  // lives in this frame, inside the scanned range
  for (;;) {
    std::uint32_t s = t->state.load(std::memory_order_acquire);
    if (s == parked) {
      wait_while_state(t, parked);
      continue;
    }
    if (s != must_park) break;  // released (or the callback entered a blocking region)
    if (void (*callback)() = park_callback.load(std::memory_order_acquire)) callback();
    save_context(&context);
    const std::uintptr_t sp = current_sp();
    check_sp_in_bounds(t, sp, "safepoint");
    t->stopped_sp = sp;
    t->stopped_kind = stop_kind::safepoint;
    if (t->state.compare_exchange_strong(s, parked, std::memory_order_acq_rel, std::memory_order_acquire)) {
      acknowledge();
    }
  }
  asm volatile("" : : "r"(&context) : "memory");  // the saved registers stay live until here
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t->in_park = 0;
}

// Parks a claimed thread inside the stop signal's handler.
GORT_NOINLINE void park_in_handler(thread_info* t, const void* ucontext) {
  // Scan from the interrupted stack pointer (less the red zone), with the
  // interrupted registers copied from the kernel's ucontext: the handler's
  // own frames, whose uninitialised slots hold stale words, are not roots.
  // Under ThreadSanitizer the handler runs later than the signal, from the
  // runtime's own frames, and the ucontext does not describe the program's
  // code: there (and where the platform is unknown) scan from this frame,
  // with the registers saved here and the kernel's signal frame above.
  unw_context_t context;
  unw_getcontext(&context);
  std::uintptr_t sp = current_sp();
  std::size_t words = 0;
#if !GORT_TSAN
  std::uintptr_t interrupted_sp = 0;
  words = os::interrupted_state(ucontext, &interrupted_sp, t->signal_regs, thread_info::signal_regs_words);
  if (words != 0 && interrupted_sp - os::red_zone_bytes >= t->stack_lo && interrupted_sp < t->stack_hi) {
    sp = interrupted_sp - os::red_zone_bytes;
  } else {
    words = 0;
  }
#else
  (void)ucontext;
#endif
  t->signal_words = words;
  check_sp_in_bounds(t, sp, "stop signal handler");
  for (;;) {
    std::uint32_t s = t->state.load(std::memory_order_acquire);
    if (s == parked) {
      wait_while_state(t, parked);
      continue;
    }
    if (s != must_park) break;
    t->stopped_sp = sp;
    t->stopped_kind = stop_kind::signal;
    if (t->state.compare_exchange_strong(s, parked, std::memory_order_acq_rel, std::memory_order_acquire)) {
      acknowledge();
    }
  }
  asm volatile("" : : "r"(&context) : "memory");
}

void on_stop_signal(int, void* ucontext) {
  const int saved_errno = errno;
  signals_total.fetch_add(1, std::memory_order_relaxed);
  if (thread_info* t = tls_current) {
    t->signals_received.fetch_add(1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (t->in_park == 0 && t->state.load(std::memory_order_acquire) == must_park) {
      if (tls_lock_state.locks > 0) defer_stop();  // park at the last unlock instead
      else park_in_handler(t, ucontext);
    }
  }
  errno = saved_errno;
}

// Installed as common/lock.hpp's deferred-stop hook: the last rank_mutex
// of a thread the stop signal found holding one was just released.
void on_deferred_stop() {
  thread_info* t = tls_current;
  if (t == nullptr || t->in_park != 0) return;
  if (t->state.load(std::memory_order_acquire) != must_park) return;
  deferred_total.fetch_add(1, std::memory_order_relaxed);
  park_cooperative(t);
}

// Signals allowed for GORT_STOP_SIGNAL besides the real-time ones: those a
// program does not need for its own defaults (ignored by default, or meant
// for applications). A terminating signal such as SIGINT or SIGTERM would
// lose its meaning, and a synchronous one (SIGSEGV...) cannot work.
bool allowed_stop_signal(int sig) {
  switch (sig) {
    case SIGURG: case SIGUSR1: case SIGUSR2: case SIGWINCH: case SIGPWR:
    case SIGXCPU: case SIGVTALRM: case SIGPROF: case SIGIO:
      return true;
    default:
      return sig >= os::signal_rtmin() && sig <= os::signal_rtmax();
  }
}

// "SIGURG" for messages.
std::string signal_name(int sig) {
  char buf[32];
  return fmt::format("SIG{}", os::signal_abbrev(sig, buf, sizeof buf));
}

}  // namespace

void init_stop_machinery() {
  std::call_once(init_once, [] {
    std::string warning;
    const int sig = testing::parse_stop_signal(std::getenv("GORT_STOP_SIGNAL"), &warning);
    if (!warning.empty()) warn(warning);
    GORT_CHECK(!os::signal_has_handler(sig),
               "the program has its own handler for {} (signal {}), the signal gort uses to stop threads for "
               "garbage collection; choose another with the environment variable GORT_STOP_SIGNAL (a number or a "
               "name, e.g. GORT_STOP_SIGNAL=SIGUSR2)",
               signal_name(sig), sig);
    GORT_CHECK(os::install_signal_handler(sig, on_stop_signal),
               "cannot install the handler of {} (signal {}), which gort uses to stop threads", signal_name(sig), sig);
    set_deferred_stop_hook(on_deferred_stop);
    stop_sig.store(sig, std::memory_order_release);
  });
}

void unblock_stop_signal() {
  init_stop_machinery();
  os::unblock_signal(stop_sig.load(std::memory_order_acquire));
}

bool calling_thread_is_stopper() { return tls_is_stopper; }

void reset_stop_state_after_fork() {
  detail::stop_requested.store(0, std::memory_order_relaxed);
  pending_acks.store(0, std::memory_order_relaxed);
  tls_is_stopper = false;
  const thread_info* self = tls_current;
  threads_blocking.store(self != nullptr && self->blocking_depth > 0 ? 1 : 0, std::memory_order_relaxed);
}

park_callback_fn set_park_callback(park_callback_fn callback) {
  return park_callback.exchange(callback, std::memory_order_acq_rel);
}

void detail::safepoint_slow() {
  thread_info* t = tls_current;
  if (t == nullptr || t->in_park != 0) return;
  if (t->state.load(std::memory_order_acquire) != must_park) return;
  if (tls_lock_state.locks > 0) {  // never park holding a runtime lock
    defer_stop();
    return;
  }
  park_cooperative(t);
}

namespace {

// Copies [from, from + bytes) of this thread's own stack word by word:
// not memcpy, which AddressSanitizer checks against the frame's redzones.
__attribute__((no_sanitize("address"))) GORT_NOINLINE void copy_own_stack(std::uintptr_t* to, std::uintptr_t from,
                                                                          std::size_t bytes) {
  const volatile std::uintptr_t* src = reinterpret_cast<const volatile std::uintptr_t*>(from);
  for (std::size_t i = 0; i < bytes / sizeof(std::uintptr_t); ++i) to[i] = src[i];
}

// enter_blocking's second half (steps 1-2 after the capture), out of line
// so that enter_blocking's own frame, which is copied, stays small.
GORT_NOINLINE void publish_blocking(thread_info* t, std::uintptr_t sp, std::uintptr_t cfa) {
  GORT_RAW_CHECK(runtime_locks_held() == 0,
                 .text("enter_blocking: thread ").dec(t->tid).text(" holds or is acquiring ").dec(runtime_locks_held())
                 .text(" runtime lock(s) (rank_mutex); the collector would wait for them with the world stopped"));
  GORT_RAW_CHECK(cfa > sp && cfa - sp <= sizeof t->saved.frame,
                 .text("enter_blocking: its frame [").hex(sp).text(", ").hex(cfa).text(") is larger than the ")
                 .dec(sizeof t->saved.frame).text(" bytes saved"));
  check_sp_in_bounds(t, cfa, "enter_blocking");
  for (;;) {
    std::uint32_t s = t->state.load(std::memory_order_acquire);
    if (s == running) {
      if (t->state.compare_exchange_strong(s, blocking, std::memory_order_acq_rel, std::memory_order_acquire)) return;
    } else if (s == must_park) {  // a stop claimed us first: we are stopped, as blocking
      if (t->state.compare_exchange_strong(s, blocking_stopped, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
        acknowledge();
        return;
      }
    } else {
      bad_state("enter_blocking", t, s);
    }
  }
}

// Steps 1-2 for a region whose dead frames end at `cfa`: the registers
// and [sp, cfa), this frame and its callers' up to cfa, are saved; the
// frames above cfa are scanned live. Inlined into each entry, so that the
// copy holds no frame but the entry's own (and, for enter_blocking_from,
// its caller's): every frame copied brings the stale words of its
// unwritten slots along (a test that counted reclaimed objects failed
// once, under load, while enter_blocking's body was a frame of its own).
// The entries are never inlined: their CFA must be their own.
GORT_ALWAYS_INLINE void enter_blocking_at(std::uintptr_t cfa) {
  thread_info* t = tls_current;
  if (t == nullptr) return;
  if (t->blocking_depth++ != 0) return;
  save_context(&t->saved.context);
  const std::uintptr_t sp = current_sp();
  const std::size_t bytes = cfa > sp && cfa - sp <= sizeof t->saved.frame ? cfa - sp : 0;
  copy_own_stack(t->saved.frame, sp, bytes);
  t->blocking_bytes = offsetof(blocking_save, frame) + bytes;
  t->blocking_sp = cfa;
  publish_blocking(t, sp, cfa);  // checks that the frames fitted
  threads_blocking.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

GORT_NOINLINE void enter_blocking() {
  __builtin_unwind_init();  // spill the caller's callee-saved registers into this frame
  enter_blocking_at(GORT_FRAME_CFA());
}

GORT_NOINLINE void enter_blocking_from(std::uintptr_t cfa) {
  __builtin_unwind_init();
  enter_blocking_at(cfa);
}

void exit_blocking() {
  thread_info* t = tls_current;
  if (t == nullptr) return;
  GORT_RAW_CHECK(t->blocking_depth > 0,
                 .text("exit_blocking: thread ").dec(t->tid).text(" is not in a blocking region (no enter_blocking)"));
  if (--t->blocking_depth != 0) return;
  threads_blocking.fetch_sub(1, std::memory_order_relaxed);
  for (;;) {
    std::uint32_t s = t->state.load(std::memory_order_acquire);
    if (s == blocking) {
      if (t->state.compare_exchange_strong(s, running, std::memory_order_acq_rel, std::memory_order_acquire)) return;
    } else if (s == blocking_stopped) {
      wait_while_state(t, blocking_stopped);  // the world is stopped: not yet
    } else {
      bad_state("exit_blocking", t, s);
    }
  }
}

std::size_t running_threads() {
  const std::size_t registered = registered_threads();
  const std::size_t blocking = threads_blocking.load(std::memory_order_relaxed);
  return registered > blocking ? registered - blocking : 0;
}

void stop_the_world() {
  thread_info* self = tls_current;
  GORT_RAW_CHECK(!tls_is_stopper,
                 .text("stop_the_world: this thread (tid ").dec(os::gettid())
                 .text(") has already stopped the world; call start_the_world first"));
  GORT_RAW_CHECK(runtime_locks_held() == 0,
                 .text("stop_the_world: the calling thread (tid ").dec(os::gettid()).text(") holds or is acquiring ")
                 .dec(runtime_locks_held()).text(" runtime lock(s) (rank_mutex); threads deferring their stop on "
                                                 "them would never stop"));
  init_stop_machinery();
  if (self == nullptr && tls_stopper_bounds.hi == 0) {
    GORT_CHECK(os::current_thread_stack(&tls_stopper_bounds),
               "stop_the_world: cannot find the stack bounds of the calling thread {}", os::gettid());
  }

  // 1. One stopper at a time; registration waits until start_the_world.
  lock_registry(self);
  const int sig = stop_sig.load(std::memory_order_acquire);
  tls_is_stopper = true;

  // 2. Claim every other thread.
  const std::uint64_t wait_start = os::monotonic_ns();
  const std::uint64_t deferred_before = deferred_total.load(std::memory_order_relaxed);
  pending_acks.store(0, std::memory_order_relaxed);
  for (thread_info* t = registry_head; t != nullptr; t = t->next) {
    if (t != self) claim_thread(t, "stop_the_world");
  }

  // 3. Ask the claimed threads to park at their next safepoint.
  detail::stop_requested.store(1, std::memory_order_seq_cst);

  // 4-6.
  last_stop.signalled = await_acknowledgements(self, sig);
  last_stop.wait_ns = os::monotonic_ns() - wait_start;
  last_stop.deferred = static_cast<std::uint32_t>(deferred_total.load(std::memory_order_relaxed) - deferred_before);
}

stop_stats last_stop_stats() { return last_stop; }

namespace {

// Step 2 for one thread: running -> must_park (one more acknowledgement to
// wait for) or blocking -> blocking_stopped (stopped already).
void claim_thread(thread_info* t, const char* who) {
  t->signalled = false;
  for (;;) {
    std::uint32_t s = t->state.load(std::memory_order_acquire);
    if (s == blocking) {
      if (t->state.compare_exchange_strong(s, blocking_stopped, std::memory_order_acq_rel, std::memory_order_acquire))
        return;
    } else if (s == running) {
      // Step 4: how it parked last time. Its stopped_kind is from that park
      // (ordered before this load of `running` through the last stopper's
      // release); it writes the field again only after this claim.
      t->signal_first = t->stopped_kind == stop_kind::signal;
      pending_acks.fetch_add(1, std::memory_order_relaxed);
      if (t->state.compare_exchange_strong(s, must_park, std::memory_order_acq_rel, std::memory_order_acquire)) return;
      pending_acks.fetch_sub(1, std::memory_order_relaxed);  // it entered a region meanwhile: retry
    } else {
      bad_state(who, t, s);
    }
  }
}

// The start_the_world half for one thread.
void release_thread(thread_info* t, const char* who) {
  const std::uint32_t s = t->state.load(std::memory_order_acquire);
  if (s == parked) t->state.store(running, std::memory_order_release);
  else if (s == blocking_stopped) t->state.store(blocking, std::memory_order_release);
  else bad_state(who, t, s);
  os::futex_wake(t->state, 1);
}

// What for_each_stack reports for a stopped thread other than the caller.
stack_view view_of(thread_info* t, const char* who) {
  stack_view v{};
  const std::uint32_t s = t->state.load(std::memory_order_acquire);
  if (s == parked) {
    v.lo = t->stopped_sp;
    v.kind = t->stopped_kind;
    if (v.kind == stop_kind::signal && t->signal_words != 0) {
      v.regs = t->signal_regs;
      v.regs_bytes = t->signal_words * sizeof(std::uintptr_t);
    }
  } else if (s == blocking_stopped) {
    v.lo = t->blocking_sp;
    v.regs = &t->saved;
    v.regs_bytes = t->blocking_bytes;
    v.kind = stop_kind::blocking;
  } else {
    bad_state(who, t, s);
  }
  check_sp_in_bounds(t, v.lo, who);
  v.hi = t->stack_hi;
  v.tid = t->tid;
  v.thread = t;
  return v;
}

}  // namespace

namespace {
// Steps 4-6 of stop_the_world: wait for every claimed thread's acknowledgement.
// Returns how many threads it signalled.
std::uint32_t await_acknowledgements(thread_info* self, int sig) {
  std::uint32_t signalled = 0;
  // 4. Grace period for safepoints.
  const std::uint64_t start = os::monotonic_ns();
  const std::uint64_t grace_end = start + signal_grace_ns.load(std::memory_order_relaxed);
  // Spin where another core can run the threads being waited for: a futex
  // sleep with a 20 us timeout returned after 127-186 us on a 2-vCPU VM, and
  // a wake-up by the last acknowledgement came as late. With one core, the
  // threads need it: sleep.
  const bool spin = os::usable_cpus() > 1;
  bool checked = false;
  // 5. Signal the threads that have not parked (only those marked
  // signal_first when `all` is false). Only now is the handler checked (a
  // sigaction call: 2 us on a VM, where a stop that needs no signal takes
  // 10-20 us).
  auto signal_stragglers = [&](bool all) {
    for (thread_info* t = registry_head; t != nullptr; t = t->next) {
      if (t == self || t->signalled || (!all && !t->signal_first) ||
          t->state.load(std::memory_order_acquire) != must_park)
        continue;
      if (!checked) {
        checked = true;
        char name[32];
        GORT_RAW_CHECK(os::signal_handler_is(sig, on_stop_signal),
                       .text("stop_the_world: the handler of SIG").text(os::signal_abbrev(sig, name, sizeof name))
                       .text(" (signal ").dec(sig)
                       .text(") is no longer gort's: the program replaced it; choose another signal for gort with "
                             "GORT_STOP_SIGNAL (e.g. GORT_STOP_SIGNAL=SIGUSR2)"));
      }
      t->signalled = true;
      ++signalled;
      GORT_RAW_CHECK(os::signal_thread(t->pthread, sig),
                     .text("stop_the_world: cannot signal thread ").dec(t->tid)
                     .text(": it exited while registered"));
    }
  };
  std::uint64_t first_end = start + std::min(signal_first_ns,
                                             signal_grace_ns.load(std::memory_order_relaxed));
  bool any_first = false;
  for (thread_info* t = registry_head; t != nullptr; t = t->next) any_first |= t != self && t->signal_first;
  if (!any_first) first_end = grace_end;
  for (std::uint32_t p; (p = pending_acks.load(std::memory_order_acquire)) != 0;) {
    const std::uint64_t now = os::monotonic_ns();
    if (now >= first_end && first_end < grace_end) {
      signal_stragglers(false);
      first_end = grace_end;
      continue;
    }
    if (now >= grace_end) break;
    if (spin) cpu_relax();
    else os::futex_wait(pending_acks, p, static_cast<std::int64_t>(first_end - now));
  }
  if (pending_acks.load(std::memory_order_acquire) != 0) signal_stragglers(true);

  // 6. Wait for every acknowledgement.
  bool warned = false;
  const std::uint64_t spin_end = os::monotonic_ns() + (spin ? signal_spin_ns : 0);
  while (pending_acks.load(std::memory_order_acquire) != 0 && os::monotonic_ns() < spin_end) cpu_relax();
  for (std::uint32_t p; (p = pending_acks.load(std::memory_order_acquire)) != 0;) {
    os::futex_wait(pending_acks, p, 100'000'000);
    if (!warned && os::monotonic_ns() - start > stuck_warning_ns) {
      warned = true;
      for (thread_info* t = registry_head; t != nullptr; t = t->next) {
        if (t == self || t->state.load(std::memory_order_acquire) != must_park) continue;
        raw_message m;
        char name[32];
        m.text("stop_the_world: thread ").dec(t->tid).text(" has not stopped after 5 s")
            .text(t->signalled ? " although it was sent SIG" : " and was not signalled; SIG")
            .text(os::signal_abbrev(sig, name, sizeof name))
            .text(t->signalled ? "; is that signal blocked in the thread?" : "");
        raw_warn(m);
        break;
      }
    }
  }
  return signalled;
}
}  // namespace

void start_the_world() {
  GORT_RAW_CHECK(tls_is_stopper, .text("start_the_world: the calling thread (tid ").dec(os::gettid())
                                     .text(") did not stop the world"));
  thread_info* self = tls_current;
  detail::stop_requested.store(0, std::memory_order_seq_cst);
  for (thread_info* t = registry_head; t != nullptr; t = t->next) {
    if (t != self) release_thread(t, "start_the_world");
  }
  tls_is_stopper = false;
  unlock_registry();
}

static_assert(sizeof(unw_context_t) <= sizeof(self_context::regs), "self_context::regs must hold an unw_context_t");

void capture_self(self_context& ctx) {
  // The buffer is larger than the context, and it is scanned: clear the
  // tail, which would otherwise hold stale stack words (old pointers).
  std::memset(ctx.regs + sizeof(unw_context_t), 0, sizeof ctx.regs - sizeof(unw_context_t));
  save_context(reinterpret_cast<unw_context_t*>(ctx.regs));
#if defined(__GNUC__) && !defined(__clang__)
  ctx.lo = reinterpret_cast<std::uintptr_t>(__builtin_dwarf_cfa());
#else
  ctx.lo = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) + 2 * sizeof(void*);
#endif
}

void detail::for_each_stack_erased(stack_visitor visit, void* closure, const self_context* self_ctx) {
  GORT_RAW_CHECK(tls_is_stopper, .text("for_each_stack: the calling thread (tid ").dec(os::gettid())
                                     .text(") has not stopped the world"));
  thread_info* self = tls_current;
  for (thread_info* t = registry_head; t != nullptr; t = t->next) {
    if (t != self) visit(closure, view_of(t, "for_each_stack"));
  }
  visit_self(visit, closure, self_ctx);
}

namespace {
// The caller's own view (for_each_stack and the handshake): its registers go
// into this frame, which lies inside the range reported, and stays live
// until the visit has returned; or those of self_ctx, from its frame up.
GORT_NOINLINE void visit_self(detail::stack_visitor visit, void* closure, const self_context* self_ctx) {
  thread_info* self = tls_current;
  unw_context_t context;
  save_context(&context);
  stack_view v{};
  v.lo = current_sp();
  if (self_ctx != nullptr) {
    // The captured frame: its registers lie in the caller's frame, above lo.
    GORT_RAW_CHECK(self_ctx->lo > v.lo && reinterpret_cast<std::uintptr_t>(self_ctx) >= self_ctx->lo,
                   .text("for_each_stack: the self_context at ").hex(reinterpret_cast<std::uintptr_t>(self_ctx))
                   .text(" (sp ").hex(self_ctx->lo).text(") is not a live frame above the caller's sp ").hex(v.lo));
    v.lo = self_ctx->lo;
  }
  if (self != nullptr) {
    check_sp_in_bounds(self, v.lo, "for_each_stack (caller)");
    v.hi = self->stack_hi;
    v.tid = self->tid;
  } else {
    GORT_RAW_CHECK(tls_stopper_bounds.lo <= v.lo && v.lo < tls_stopper_bounds.hi,
                   .text("for_each_stack: the caller's stack pointer ").hex(v.lo).text(" lies outside its stack [")
                   .hex(tls_stopper_bounds.lo).text(", ").hex(tls_stopper_bounds.hi).text(")"));
    v.hi = tls_stopper_bounds.hi;
    v.tid = os::gettid();
  }
  v.kind = stop_kind::self;
  v.thread = self;
  visit(closure, v);
  asm volatile("" : : "r"(&context) : "memory");
}
}  // namespace

namespace {
// The current scan epoch (stack.hpp). Written with the world stopped (or by
// the handshaking thread before its handshake); atomic. Starts at 1, so a
// new record's 0 never matches.
std::atomic<std::uint32_t> scan_epoch{1};
}  // namespace

void begin_scan_epoch() {
  std::uint32_t next = scan_epoch.load(std::memory_order_relaxed) + 1;
  if (next == 0) next = 1;
  scan_epoch.store(next, std::memory_order_release);
}

bool self_stack_scanned() {
  const thread_info* t = tls_current;
  return t != nullptr &&
         t->scanned_epoch.load(std::memory_order_acquire) == scan_epoch.load(std::memory_order_acquire);
}

void detail::handshake_each_stack_erased(stack_visitor visit, void* closure, const self_context* self_ctx) {
  thread_info* self = tls_current;
  GORT_RAW_CHECK(!tls_is_stopper, .text("handshake: this thread (tid ").dec(os::gettid())
                                      .text(") has stopped the world; call start_the_world first"));
  GORT_RAW_CHECK(runtime_locks_held() == 0,
                 .text("handshake: the calling thread (tid ").dec(os::gettid()).text(") holds or is acquiring ")
                 .dec(runtime_locks_held()).text(" runtime lock(s)"));
  init_stop_machinery();
  if (self == nullptr && tls_stopper_bounds.hi == 0) {
    GORT_CHECK(os::current_thread_stack(&tls_stopper_bounds),
               "handshake: cannot find the stack bounds of the calling thread {}", os::gettid());
  }
  // Registration waits until every thread has been visited: a thread that
  // registers later starts with a stack that holds only what it got from
  // the heap (through the barrier) or allocated (black).
  lock_registry(self);
  const int sig = stop_sig.load(std::memory_order_acquire);
  tls_is_stopper = true;
  detail::stop_requested.store(1, std::memory_order_seq_cst);  // a claimed thread parks at its safepoint
  for (thread_info* t = registry_head; t != nullptr; t = t->next) {
    if (t == self) continue;
    pending_acks.store(0, std::memory_order_relaxed);
    claim_thread(t, "handshake");
    await_acknowledgements(self, sig);
    visit(closure, view_of(t, "handshake"));
    t->scanned_epoch.store(scan_epoch.load(std::memory_order_relaxed), std::memory_order_release);
    release_thread(t, "handshake");
  }
  detail::stop_requested.store(0, std::memory_order_seq_cst);
  visit_self(visit, closure, self_ctx);
  if (self != nullptr) self->scanned_epoch.store(scan_epoch.load(std::memory_order_relaxed), std::memory_order_release);
  tls_is_stopper = false;
  unlock_registry();
}

// --- testing ----------------------------------------------------------------

std::uint64_t testing::stop_signals_received() { return signals_total.load(std::memory_order_relaxed); }

std::uint64_t testing::stop_signals_received(const thread_info* t) {
  return t->signals_received.load(std::memory_order_relaxed);
}

std::uint64_t testing::deferred_parks() { return deferred_total.load(std::memory_order_relaxed); }

int testing::stop_signal() {
  init_stop_machinery();
  return stop_sig.load(std::memory_order_acquire);
}

std::uint64_t testing::set_signal_grace_ns(std::uint64_t ns) {
  return signal_grace_ns.exchange(ns, std::memory_order_relaxed);
}

int testing::parse_stop_signal(const char* text, std::string* warning) {
  warning->clear();
  if (text == nullptr || *text == '\0') return default_stop_signal;
  const std::string_view value(text);
  int sig = 0;
  if (value.front() >= '0' && value.front() <= '9') {
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), sig);
    if (ec != std::errc{} || end != value.data() + value.size()) sig = 0;
  } else {
    std::string_view name = value.substr(0, 3) == "SIG" ? value.substr(3) : value;
    auto offset = [&](std::string_view base, int sign) -> int {  // "RTMIN", "RTMIN+3", "RTMAX-2"
      if (name.substr(0, base.size()) != base) return -1;
      std::string_view rest = name.substr(base.size());
      if (rest.empty()) return 0;
      if (rest.front() != (sign > 0 ? '+' : '-')) return -1;
      int n = -1;
      auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), n);
      if (ec != std::errc{} || end != rest.data() + rest.size() || rest.size() == 1) return -1;
      return n;
    };
    if (int n = offset("RTMIN", 1); n >= 0) {
      sig = os::signal_rtmin() + n;
    } else if (int m = offset("RTMAX", -1); m >= 0) {
      sig = os::signal_rtmax() - m;
    } else {
      for (int i = 1; i < os::signal_rtmin() && sig == 0; ++i) {
        char buf[32];
        if (name == os::signal_abbrev(i, buf, sizeof buf)) sig = i;
      }
    }
  }
  if (sig <= 0 || !allowed_stop_signal(sig)) {
    *warning = fmt::format(
        "GORT_STOP_SIGNAL: invalid value '{}' (want a signal number or name among SIGURG, SIGUSR1, SIGUSR2, "
        "SIGWINCH, SIGPWR, SIGXCPU, SIGVTALRM, SIGPROF, SIGIO, SIGRTMIN..SIGRTMAX); using the default {}",
        value, signal_name(default_stop_signal));
    return default_stop_signal;
  }
  return sig;
}

}  // namespace gc::internal::stack
