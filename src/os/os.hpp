// src/os/os.hpp: the one interface between gort and the operating system.
// Every mmap, mprotect, madvise and munmap in the runtime is here, and so are
// the thread, signal, futex and stack-bounds calls of src/stack, so src/alloc
// and src/gc contain no system headers and no #ifdefs, and src/stack none but
// libunwind's.
//
// Memory. Address-space states, as in Go's mem.go:
//   None --reserve--> Reserved --commit--> Ready --release--> Released
//                                 ^                              |
//                                 +-------- (touch again) -------+
// 1. reserve: address space only, PROT_NONE and MAP_NORESERVE: no memory is
//    charged and any access faults (a stray pointer into an uncommitted part
//    of an arena crashes instead of reading garbage).
// 2. commit: make a reserved range readable and writable. Pages still cost
//    nothing until first touched; they read as zero.
// 3. release: give the physical pages back (madvise). With MADV_DONTNEED the
//    pages are dropped at once and read as zero afterwards; with MADV_FREE
//    the kernel may keep them until it needs memory, and they may keep their
//    old contents until then (the caller must treat them as dirty).
// 4. Metadata (span structs, arena page maps) comes from map_metadata, plain
//    read-write anonymous memory outside every heap arena, so no object
//    overflow can reach it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gc::internal::os {

// Reserves `bytes` of address space at `hint` if the kernel agrees, else
// nowhere (returns nullptr); never at another address.
void* reserve_at(void* hint, std::size_t bytes);
// Reserves `bytes` aligned to `align` (a power of two) anywhere; nullptr on failure.
void* reserve_aligned(std::size_t bytes, std::size_t align);
// Makes [p, p+bytes) of a reservation readable and writable; false on failure.
bool commit(void* p, std::size_t bytes);
// Returns the physical pages of [p, p+bytes) (page-aligned) to the OS.
// use_madv_free selects MADV_FREE (falls back to MADV_DONTNEED where the
// kernel lacks it). Returns true if the pages now read as zero.
bool release(void* p, std::size_t bytes, bool use_madv_free);
// Backs [p, p+bytes) (page-aligned, committed) with physical pages now, in
// one call, as writes would one fault at a time (MADV_POPULATE_WRITE). False
// where the kernel cannot (before 5.14): the pages then fault in on use.
bool populate(void* p, std::size_t bytes);
// Unmaps a whole reservation.
void unreserve(void* p, std::size_t bytes);
// Read-write zeroed memory for runtime metadata; nullptr on failure.
void* map_metadata(std::size_t bytes);

// Tells LeakSanitizer, when the program runs under it, to scan [p, p+bytes)
// for pointers: malloc memory held by gc objects is then not reported as
// leaked. LSan scans only the readable parts, so a whole arena reservation
// can be registered up front. A no-op without LSan.
void register_leak_scan_root(void* p, std::size_t bytes);

// The kernel's page size (4 KiB on x86-64 Linux).
std::size_t page_size();
// Resident set size of this process in bytes, from /proc/self/statm.
std::size_t resident_bytes();

// ---------------------------------------------------------------------------
// Threads, signals, futexes and stack bounds (used by src/stack only).
//
// Functions marked [signal-safe] are async-signal-safe: they make one system
// call or none, never allocate, never take a lock, and leave errno as they
// found it. Only those may run in a signal handler or while the world is
// stopped (a stopped thread may hold malloc's or the dynamic loader's lock).

// The calling thread's kernel thread id. [signal-safe]
int gettid();
// True on the process's initial thread (its tid is the process id). [signal-safe]
bool is_main_thread();
// The calling thread's pthread handle, as an integer. [signal-safe]
std::uintptr_t thread_self();
// Sends `sig` to the thread `thread` (a thread_self() value of a live thread).
// Returns false if the kernel refused (the thread has exited). [signal-safe]
bool signal_thread(std::uintptr_t thread, int sig);

// Sleeps while `word` holds `expected`, at most `timeout_ns` nanoseconds
// (negative: no limit). May return early, spuriously or on a signal: callers
// re-check their condition in a loop. Process-private futex. [signal-safe]
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::int64_t timeout_ns);
// Wakes up to `count` threads sleeping in futex_wait on `word`. [signal-safe]
void futex_wake(std::atomic<std::uint32_t>& word, int count);
// CLOCK_MONOTONIC in nanoseconds. [signal-safe]
std::uint64_t monotonic_ns();
// CPU time consumed by the calling thread, in nanoseconds.
std::uint64_t thread_cpu_ns();
// The processors this process may run on (its CPU affinity mask, as Go sets
// GOMAXPROCS), at least 1. Read once, cached.
int usable_cpus();
// Sleeps about `ns` nanoseconds (nanosleep; an interrupting signal ends it early). [signal-safe]
void sleep_ns(std::uint64_t ns);
// Writes all of [text, text+len) to stderr with write(2). [signal-safe]
void write_stderr(const char* text, std::size_t len);

// The stack of the calling thread: [lo, hi), hi being the base (stacks grow
// down). Threads other than the initial one use pthread_getattr_np. For the
// initial thread, whose pthread_getattr_np size comes from RLIMIT_STACK, hi is
// the top of the /proc/self/maps mapping holding the caller's stack pointer
// and lo is where that mapping may grow to: the end of the mapping below it,
// or hi - RLIMIT_STACK if that is higher. False if neither source answered.
// Not signal-safe (pthread_getattr_np allocates).
struct stack_range {
  std::uintptr_t lo = 0;
  std::uintptr_t hi = 0;
};
bool current_thread_stack(stack_range* out);

// A signal handler that receives the interrupted context (the kernel's
// ucontext, opaque here): fn(sig, ucontext).
using signal_fn = void (*)(int sig, void* ucontext);
// Installs fn as the handler of `sig` for the whole process: SA_RESTART, `sig`
// blocked while fn runs, on the thread's own stack (no SA_ONSTACK). False on failure.
bool install_signal_handler(int sig, signal_fn fn);
// True if the process has a handler of its own for `sig` (neither SIG_DFL nor SIG_IGN).
bool signal_has_handler(int sig);
// True if fn is the installed handler of `sig`.
bool signal_handler_is(int sig, signal_fn fn);

// The interrupted code's state, from a handler's ucontext (async-signal-
// safe): its stack pointer, and its general and vector registers copied
// into regs[0 .. return value). Returns 0 where the platform is not known
// (then *sp is 0). Words below the stack pointer that code may still use
// (the x86-64 red zone) are red_zone_bytes long.
std::size_t interrupted_state(const void* ucontext, std::uintptr_t* sp, std::uintptr_t* regs, std::size_t max_words);
#if defined(__x86_64__)
inline constexpr std::size_t red_zone_bytes = 128;
#else
inline constexpr std::size_t red_zone_bytes = 0;
#endif
// Removes `sig` from the calling thread's blocked-signal mask.
void unblock_signal(int sig);
// The real-time signal range usable by programs (glibc keeps the first few).
int signal_rtmin();
int signal_rtmax();
// "URG" for SIGURG, "RTMIN+3" for SIGRTMIN+3, nullptr-free: "?" when unknown.
// Writes into buf (at least 16 bytes) and returns it.
const char* signal_abbrev(int sig, char* buf, std::size_t len);

// Thread-exit hook: creates a pthread key whose destructor calls fn(value)
// when a thread exits with a non-null value set by set_thread_exit_value.
// Key destructors run in key-creation order, after the thread's C++
// thread_local destructors. Returns the key, or -1 on failure.
int create_thread_exit_key(void (*fn)(void*));
void set_thread_exit_value(int key, void* value);

}  // namespace gc::internal::os
