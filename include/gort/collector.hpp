// <gort/collector.hpp>: controlling the collector, and telling it about
// threads.
//
//   gc::collect();                         // full blocking collection (Go's runtime.GC)
//   int old = gc::set_gc_percent(50);      // Go's debug.SetGCPercent; GOGC sets the initial value
//   gc::set_memory_limit(1ll << 30);       // Go's debug.SetMemoryLimit; GOMEMLIMIT sets it
//
//   std::thread t([] {
//     gc::thread_scope registered;         // needed only if t holds gc pointers
//     ...                                  // but never allocates
//   });
//
//   {
//     gc::blocking_region quiet;           // no gc memory touched in here:
//     n = ::read(fd, buf, sizeof buf);     // the collector scans this thread's
//   }                                      // saved stack without stopping it
//
// Threads: a thread is registered by its first gc_new and unregistered when
// it exits; registered threads' stacks and registers are scanned
// conservatively at every collection. A thread that holds gc pointers but
// never allocates must hold a gc::thread_scope while it does.
//
// Stopping: the collector stops registered threads at safe points (inside
// allocation, gc::safepoint()), and interrupts a thread that does not reach
// one promptly with a signal (SIGURG by default; GORT_STOP_SIGNAL=N or a
// name such as SIGUSR2 picks another). Threads in a blocking_region are not
// interrupted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gc {

// A full, blocking collection. When it returns, every object that was
// unreachable when it was called has been reclaimed and its destructor has
// run (see docs/guide.md for the one exception: objects in another thread's
// current 64-object allocation window, if that thread was interrupted by a
// signal, are reclaimed by the next cycle).
void collect();

// Sets the collection target percentage, as Go's debug.SetGCPercent: a
// collection starts when the heap has grown by `percent`% over the live heap
// of the last collection. A negative value turns automatic collection off
// (gc::collect() still works). Returns the previous value. The initial value
// comes from GOGC ("off", or an integer; unset means 100; anything else
// prints one warning and means 100).
int set_gc_percent(int percent);

// Chooses how the collector marks, and returns the previous choice. On (the
// default): concurrently, as Go does: the world stops twice per cycle, for
// short moments, and the program runs while the heap is marked. Off: every
// cycle marks with the world stopped (GODEBUG=gcstoptheworld=1 sets this at
// start-up). A program that stores gc pointers in raw T* fields of gc
// objects (not gc::member, not through gc::write_barrier) must turn it off:
// those stores have no write barrier. GODEBUG=gccheckmark=1 finds them.
bool set_concurrent_marking(bool on);

// Sets the soft memory limit, as Go's debug.SetMemoryLimit: the collector
// runs more often as gort's memory (heap, free pages not yet returned, and
// its metadata; not the program's malloc memory) approaches `bytes`, and
// returns free pages to the OS to stay under it. Soft: a live heap larger
// than the limit is not an error; the heap then grows past it, and the
// collector takes at most about half of the CPU time rather than
// collecting back to back. A negative value changes nothing (a query).
// Returns the previous limit; INT64_MAX means none. The initial value comes
// from GOMEMLIMIT (Go's syntax: bytes with an optional B, KiB, MiB, GiB or
// TiB suffix, or "off"; anything else prints one warning and means none).
//
//   gc::set_memory_limit(512ll << 20);                 // 512 MiB
//   std::int64_t now = gc::set_memory_limit(-1);       // query
std::int64_t set_memory_limit(std::int64_t bytes);

// A safe point: if a collection is waiting to stop this thread, stop here.
// Long loops that neither allocate nor block can call it to keep pauses short.
void safepoint();

// Registers the calling thread with the collector for its lifetime (RAII).
// Nests. Not copyable.
class thread_scope {
 public:
  thread_scope();
  ~thread_scope();
  thread_scope(const thread_scope&) = delete;
  thread_scope& operator=(const thread_scope&) = delete;
};

// Marks a stretch in which the calling thread touches no gc memory (a long
// syscall, a lock wait). The collector scans the thread's stack as saved at
// entry, without interrupting it; leaving the region waits for a collection
// in progress to finish. Nests. The pointers the thread holds at entry,
// in its frames or registers, stay visible: the registers are saved at
// entry. Construct the region as a local of the frame that holds them,
// not through a helper function that returns before the region ends (that
// helper's dead frame is not saved).
class blocking_region {
 public:
  blocking_region();
  ~blocking_region();
  blocking_region(const blocking_region&) = delete;
  blocking_region& operator=(const blocking_region&) = delete;
};

namespace debug {

// Why is an object alive? One entry per root that points straight at it.
struct root_reference {
  enum class kind { stack, root_handle, root_range } where;
  int thread_id = 0;              // stack: OS thread id
  std::uintptr_t address = 0;     // where the pointer was found (a stack slot, a root slot, a range word)
  std::string frame;              // stack: "function+0xoffset" of the frame holding the word, when known
};

// Stops the world, scans the roots for words that point into `object` (a
// gc object or any address inside one), restarts the world, then names the
// frames (outside the stop). The calling thread's frames come from
// libunwind; another thread's frame is named from a copy of its stack taken
// during the stop, by the nearest return address below the word (a
// heuristic: a stale one can name the frame's callee; none found, no name).
// Objects reachable only through other objects have no entry.
std::vector<root_reference> explain_roots(const void* object);

}  // namespace debug
}  // namespace gc
