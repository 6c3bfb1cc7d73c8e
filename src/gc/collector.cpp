// src/gc/collector.cpp: the cycle, triggering, the public collector API
// (collect, set_gc_percent, safepoint, thread_scope, blocking_region), the
// finalizer thread, statistics and fork. The cycle's steps are in
// collector.hpp.
#include "gc/collector.hpp"

#include <gort/gort.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <pthread.h>
#include <thread>

#include "alloc/alloc.hpp"
#include "common/check.hpp"
#include "common/godebug.hpp"
#include "gc/checkmark.hpp"
#include "gc/cpu_limiter.hpp"
#include "gc/gctrace.hpp"
#include "gc/mark.hpp"
#include "gc/pacer.hpp"
#include "gc/roots.hpp"
#include "gc/sweep.hpp"
#include "os/os.hpp"
#include "stack/stack.hpp"

namespace gc::internal::collector {

namespace {

using clock = std::chrono::steady_clock;

std::uint64_t ns_since(clock::time_point t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t).count());
}

struct gc_stats {
  std::uint32_t num_gc = 0;
  std::uint32_t num_forced_gc = 0;
  std::uint64_t pause_total_ns = 0;
  std::uint64_t pause_ns[256] = {};
  std::uint64_t last_gc_unix_ns = 0;
  std::uint64_t gc_cpu_ns = 0;  // estimated CPU time spent collecting
};

struct state {
  std::mutex world;  // plain: held across the stop (collector.hpp)
  pacer pace;        // guarded by world
  gc_stats stats;    // guarded by world
  // GC CPU limiter (cpu_limiter.hpp), fed with pauses and the time between
  // them since limiter_last. Guarded by world.
  cpu_limiter limiter{static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};
  clock::time_point limiter_last = clock::now();  // guarded by world
  std::atomic<std::uint64_t> limited{0};  // limit-only triggers the limiter postponed
  std::atomic<std::uint64_t> trigger{pacer::min_heap_goal};
  clock::time_point start = clock::now();

  // The finalizer thread: runs destructors queued by automatic cycles.
  std::mutex fin_mu;
  std::condition_variable fin_wake;
  bool fin_started = false;  // guarded by fin_mu
  std::uint64_t fin_requests = 0;  // guarded by fin_mu
};

state& st() {
  static state* s = new state();
  return *s;
}

// Conservative scanning sees every word of a live frame, including slots the
// current call has not written yet, which still hold what an earlier, deeper
// call left there (pointers to objects now dead). Zeroing the unused stack
// below the caller before a cycle, and after destructors ran, removes most
// of that false retention (bdwgc clears its stack the same way).
__attribute__((noinline)) void clear_stack_below() {
  volatile char scratch[16 * 1024];
  for (std::size_t i = 0; i < sizeof scratch; i += 8) *reinterpret_cast<volatile std::uint64_t*>(&scratch[i]) = 0;
}

// Takes the world mutex. A registered thread waits for it inside a blocking
// region: the holder may be stopping the world, and a thread blocked in
// pthread_mutex_lock must count as stopped without a signal (under TSan a
// signal is not even delivered until the wait ends).
void lock_world(state& s) {
  if (stack::current_thread() != nullptr) {
    stack::enter_blocking();
    s.world.lock();
    stack::exit_blocking();
  } else {
    s.world.lock();
  }
}

// The thread running a cycle or destructors must not start another from an
// allocation inside it.
constinit thread_local bool in_collector = false;
constinit thread_local int scope_depth = 0;

// gort's memory that is neither live objects nor free heap pages, for the
// memory limit (pacer.hpp step 7): the free slots of in-use spans, span
// structs, caches and arena metadata.
std::uint64_t metadata_memory(const page_heap_counters& c) {
  return c.mspan_sys + c.other_sys + counters.mcache_sys.load(std::memory_order_relaxed);
}
std::uint64_t other_memory(std::uint64_t live_bytes) {
  const page_heap_counters c = page_heap::instance().counters();
  return (c.heap_inuse > live_bytes ? c.heap_inuse - live_bytes : 0) + metadata_memory(c);
}

// Step 3's roots, through the collector's mark worker; returns the bytes of
// stack scanned. World stopped. The checkmark pass calls it again.
std::uint64_t mark_roots(const stack::self_context& self) {
  std::uint64_t stack_bytes = 0;
  stack::for_each_stack([&](const stack::stack_view& v) {
    mark::scan_roots(v.lo, v.hi, "a thread's stack");
    if (v.regs != nullptr)
      mark::scan_roots(reinterpret_cast<std::uintptr_t>(v.regs), reinterpret_cast<std::uintptr_t>(v.regs) + v.regs_bytes,
                       "a thread's saved registers");
    stack_bytes += v.hi - v.lo;
  }, &self);
  roots::for_each_root_range([](std::uintptr_t lo, std::uintptr_t hi, bool slots) {
    mark::scan_roots(lo, hi, slots ? "the gc::root slots" : "an add_roots range");
  });
  for_each_mcache([](mcache& c) {
    if (c.tiny != 0) mark::mark_root(reinterpret_cast<const void*>(c.tiny), "a thread's tiny allocation block");
  });
  sweep::mark_queued();
  return stack_bytes;
}

// GODEBUG=gccheckmark=1 (src/gc/checkmark.hpp): mark again from the same
// roots into the checkmark bits; aborts with a report if the first mark
// left a reachable object white. World stopped, before the sweep.
void verify_mark(const stack::self_context& self) {
  mark::set_checkmark_mode(true);
  mark_roots(self);
  mark::drain();
  mark::set_checkmark_mode(false);
  checkmark::clear_all();
}

void run_cycle(state& s, bool forced) {
  in_collector = true;
  mark::ensure_helpers();
  flush_own_mcache();
  const clock::time_point t0 = clock::now();
  const std::uint64_t heap_start = counters.heap_live.load(std::memory_order_relaxed);

  // This thread is scanned from here up: the collector's own deeper frames
  // are not roots (stack::self_context).
  stack::self_context self;
  stack::capture_self(self);
  stack::stop_the_world();
  const std::uint64_t stop_ns = ns_since(t0);
  const clock::time_point t1 = clock::now();

  mark::begin_cycle();
  const std::uint64_t stack_bytes = mark_roots(self);
  mark::drain();
  if (test_after_mark != nullptr) test_after_mark();
  if (godebug().gccheckmark) verify_mark(self);
  const std::uint64_t mark_ns = ns_since(t1);
  const clock::time_point t2 = clock::now();

  sweep::sweep_result swept = sweep::sweep_all();
  const std::uint64_t goal_of_this_cycle = s.pace.heap_goal();
  const std::uint64_t globals = roots::range_bytes();
  s.pace.end_cycle(swept.live_bytes, stack_bytes, globals);
  s.pace.set_other_memory(other_memory(swept.live_bytes));
  s.trigger.store(s.pace.enabled() ? s.pace.trigger() : ~std::uint64_t{0}, std::memory_order_relaxed);

  stack::start_the_world();
  const std::uint64_t term_ns = ns_since(t2);
  const std::uint64_t pause = stop_ns + mark_ns + term_ns;

  gc_stats& g = s.stats;
  const int procs = mark::helper_count() + 1;
  {
    // The limiter: the pause was GC time on every processor, the rest of
    // the time since the last update was the program's.
    const clock::time_point now = clock::now();
    const auto since = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.limiter_last).count());
    const std::uint64_t p = static_cast<std::uint64_t>(procs);
    s.limiter.update(pause * p, (since > pause ? since - pause : 0) * p);
    s.limiter_last = now;
  }
  g.pause_ns[g.num_gc % 256] = pause;
  g.num_gc++;
  if (forced) g.num_forced_gc++;
  g.pause_total_ns += pause;
  g.last_gc_unix_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  g.gc_cpu_ns += stop_ns + mark_ns * static_cast<std::uint64_t>(procs) + term_ns;
  in_collector = false;

  if (godebug().gctrace > 0) {
    gc_cycle_record r;
    r.cycle = g.num_gc;
    r.start_ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t0 - s.start).count());
    const std::uint64_t elapsed = ns_since(s.start) * static_cast<std::uint64_t>(std::max(1u, std::thread::hardware_concurrency()));
    r.gc_cpu_fraction = elapsed ? static_cast<double>(g.gc_cpu_ns) / static_cast<double>(elapsed) : 0.0;
    r.sweep_term_clock_ns = stop_ns;
    r.mark_clock_ns = mark_ns;
    r.mark_term_clock_ns = term_ns;
    r.sweep_term_cpu_ns = stop_ns;
    r.background_cpu_ns = mark_ns * static_cast<std::uint64_t>(procs);
    r.mark_term_cpu_ns = term_ns;
    r.heap_start_bytes = heap_start;
    r.heap_end_bytes = heap_start;  // nothing is allocated during a stop-the-world mark
    r.heap_live_bytes = swept.live_bytes;
    r.heap_goal_bytes = goal_of_this_cycle;
    r.stacks_bytes = stack_bytes;
    r.globals_bytes = globals;
    r.procs = static_cast<std::uint64_t>(procs);
    r.forced = forced;
    emit_gctrace(r);
  }
}

// How much heap memory (in use or free, not yet returned) the scavenger
// lets the heap keep after a cycle: about 10% over the goal (Go's scavenger
// keeps ~10% over the goal too), and under a memory limit no more than the
// limit less gort's metadata. UINT64_MAX: no bound (GC off, no limit).
// Caller holds the world mutex.
std::uint64_t retain_target(const pacer& pace) {
  if (!pace.enabled()) return ~std::uint64_t{0};
  const std::uint64_t goal = pace.heap_goal();
  std::uint64_t keep = goal > ~std::uint64_t{0} / 11 * 10 ? goal : goal + goal / 10;
  if (pace.has_memory_limit()) {
    const std::uint64_t meta = metadata_memory(page_heap::instance().counters());
    const auto limit = static_cast<std::uint64_t>(pace.memory_limit());
    const std::uint64_t cap = limit > meta ? limit - meta : 0;
    if (cap < keep) keep = cap;
  }
  return keep;
}

// After a cycle, outside the stop: return free pages to the OS until the
// heap retains at most `keep` bytes. (Go's scavenger paces itself in the
// background; this version releases at once, holding the heap lock for the
// madvise calls.)
void scavenge_to(std::uint64_t keep) {
  if (keep == ~std::uint64_t{0}) return;
  const page_heap_counters c = page_heap::instance().counters();
  const std::uint64_t retained = c.heap_sys - c.heap_released;
  if (retained > keep) page_heap::instance().release(retained - keep);
}

// Should an automatic cycle start for this heap? The trigger says so; the
// CPU limiter may postpone a cycle that only the memory limit asks for.
// Caller holds the world mutex.
bool want_cycle(state& s, std::uint64_t heap_live) {
  if (heap_live < s.trigger.load(std::memory_order_relaxed)) return false;
  if (!s.pace.has_memory_limit() || heap_live >= s.pace.gogc_goal()) return true;
  const clock::time_point now = clock::now();
  const auto since = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.limiter_last).count());
  const auto procs = static_cast<std::uint64_t>(mark::helper_count() + 1);
  s.limiter.update(0, since * procs);
  s.limiter_last = now;
  const std::uint64_t last_pause = s.stats.num_gc ? s.stats.pause_ns[(s.stats.num_gc - 1) % 256] : 0;
  if (s.limiter.admits(last_pause * procs)) return true;
  s.limited.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void finalizer_main() {
  state& s = st();
  stack::register_thread();
  std::uint64_t seen = 0;
  for (;;) {
    {
      stack::enter_blocking();  // waiting touches no gc memory: never interrupted
      std::unique_lock g(s.fin_mu);
      s.fin_wake.wait(g, [&] { return s.fin_requests != seen; });
      seen = s.fin_requests;
      g.unlock();
      stack::exit_blocking();
    }
    in_collector = true;
    sweep::run_destructors();
    in_collector = false;
  }
}

void wake_finalizer(state& s) {
  if (sweep::pending_destructors() == 0) return;
  std::lock_guard g(s.fin_mu);
  if (!s.fin_started) {
    s.fin_started = true;
    std::thread(finalizer_main).detach();
  }
  ++s.fin_requests;
  s.fin_wake.notify_one();
}

void collect_automatic() {
  state& s = st();
  if (!s.world.try_lock()) return;  // a cycle is running: it will stop this thread
  bool ran = false;
  std::uint64_t keep = 0;
  if (want_cycle(s, counters.heap_live.load(std::memory_order_relaxed))) {
    run_cycle(s, false);
    ran = true;
    keep = retain_target(s.pace);
  }
  s.world.unlock();
  wake_finalizer(s);
  if (ran) scavenge_to(keep);
}

// ---- allocator hooks ------------------------------------------------------------

// Destructor assist: when the finalizer thread falls this far behind, an
// allocating thread runs a batch itself, so that garbage with destructors
// cannot pile up faster than it is destroyed (Oilpan likewise runs
// destructors inside allocation).
constexpr std::size_t assist_threshold = 4096;
constexpr std::size_t assist_batch = 64;

void on_slow_path() {
  if (stack::current_thread() == nullptr) return;
  stack::safepoint();
  if (in_collector) return;
  if (counters.heap_live.load(std::memory_order_relaxed) >= st().trigger.load(std::memory_order_relaxed))
    collect_automatic();
  if (sweep::queued_hint() > assist_threshold) {
    in_collector = true;
    sweep::run_destructors(assist_batch);
    in_collector = false;
  }
}

void on_thread_started() { stack::register_thread(); }
void on_thread_exiting() {
  if (scope_depth == 0) stack::unregister_thread();
}
void on_park() { flush_own_mcache(); }

// ---- fork -------------------------------------------------------------------------

// Order: the world mutex (no cycle runs across fork), then src/stack (which
// must come before any rank_mutex), then the runtime's locks, so that the
// child finds every structure consistent and every lock free.
void fork_prepare() {
  st().world.lock();
  stack::atfork_prepare();
  alloc_atfork_prepare();
  roots::atfork_prepare();
  sweep::atfork_prepare();
}
void fork_parent() {
  sweep::atfork_parent();
  roots::atfork_release();
  alloc_atfork_parent();
  stack::atfork_parent();
  st().world.unlock();
}
void fork_child() {
  sweep::atfork_child();
  roots::atfork_release();
  alloc_atfork_child();
  stack::atfork_child();
  mark::atfork_child();
  state& s = st();
  {
    // The finalizer thread does not exist in the child.
    new (&s.fin_mu) std::mutex();
    new (&s.fin_wake) std::condition_variable();
    s.fin_started = false;
  }
  s.world.unlock();
}

}  // namespace

int init() {
  static const int once = [] {
    state& s = st();
    s.pace.set_gc_percent(gogc_from_environment());
    s.pace.set_memory_limit(memory_limit_from_environment());
    s.trigger.store(s.pace.enabled() ? s.pace.trigger() : ~std::uint64_t{0}, std::memory_order_relaxed);
    hooks.slow_path = on_slow_path;
    hooks.thread_started = on_thread_started;
    hooks.thread_exiting = on_thread_exiting;
    stack::set_park_callback(on_park);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    return 1;
  }();
  return once;
}

void (*test_after_mark)() = nullptr;

std::uint64_t limited_triggers() { return st().limited.load(std::memory_order_relaxed); }

std::mutex& world_mutex() { return st().world; }
void lock_world_mutex() { lock_world(st()); }

void fill_gc_stats(mem_stats& out) {
  state& s = st();
  lock_world(s);
  std::lock_guard g(s.world, std::adopt_lock);
  const gc_stats& g2 = s.stats;
  out.num_gc = g2.num_gc;
  out.num_forced_gc = g2.num_forced_gc;
  out.pause_total_ns = g2.pause_total_ns;
  for (int i = 0; i < 256; ++i) out.pause_ns[i] = g2.pause_ns[i];
  out.last_gc = g2.last_gc_unix_ns;
  out.next_gc = s.pace.enabled() ? s.pace.heap_goal() : 0;
  const std::uint64_t elapsed = ns_since(s.start) * std::max(1u, std::thread::hardware_concurrency());
  out.gc_cpu_fraction = elapsed ? static_cast<double>(g2.gc_cpu_ns) / static_cast<double>(elapsed) : 0.0;
}

}  // namespace gc::internal::collector

namespace gc {

using namespace gc::internal;

int internal::collector_init() { return collector::init(); }

void collect() {
  collector::init();
  // Registered for the duration: the destructors this thread runs below keep
  // their objects alive only through its frames, which a cycle started by
  // another thread must scan.
  thread_scope registered;
  collector::state& s = collector::st();
  collector::clear_stack_below();
  std::uint64_t keep;
  {
    collector::lock_world(s);
    std::lock_guard g(s.world, std::adopt_lock);
    collector::run_cycle(s, true);
    keep = collector::retain_target(s.pace);
  }
  // Run the destructors queued by this cycle (and any earlier ones), here.
  collector::in_collector = true;
  sweep::run_destructors();
  collector::in_collector = false;
  collector::clear_stack_below();
  // Another thread (the finalizer thread) may still be running one it claimed.
  while (sweep::pending_destructors() != 0) {
    blocking_region quiet;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  collector::scavenge_to(keep);
}

std::int64_t set_memory_limit(std::int64_t limit) {
  collector::init();
  collector::state& s = collector::st();
  collector::lock_world(s);
  std::lock_guard g(s.world, std::adopt_lock);
  const std::int64_t old = s.pace.set_memory_limit(limit);
  s.trigger.store(s.pace.enabled() ? s.pace.trigger() : ~std::uint64_t{0}, std::memory_order_relaxed);
  return old;
}

int set_gc_percent(int percent) {
  collector::init();
  collector::state& s = collector::st();
  collector::lock_world(s);
  std::lock_guard g(s.world, std::adopt_lock);
  int old = s.pace.set_gc_percent(percent);
  s.trigger.store(s.pace.enabled() ? s.pace.trigger() : ~std::uint64_t{0}, std::memory_order_relaxed);
  return old;
}

void safepoint() {
  if (stack::current_thread() != nullptr) stack::safepoint();
}

thread_scope::thread_scope() {
  if (collector::scope_depth++ == 0) stack::register_thread();
}

thread_scope::~thread_scope() {
  if (--collector::scope_depth == 0 && mcache_is_empty_sentinel(tls_mcache)) stack::unregister_thread();
}

namespace {
// Bit d set: the blocking_region at nesting depth d entered the stack layer's
// region (the thread was registered then). Nesting beyond 64 enters nothing more.
constinit thread_local std::uint64_t blocking_entered = 0;
constinit thread_local int blocking_depth = 0;
}  // namespace

blocking_region::blocking_region() {
  const int d = blocking_depth++;
  if (d >= 64 || stack::current_thread() == nullptr) return;
  flush_own_mcache();  // no half-used window may stay cached while the stack is scanned unstopped
  stack::enter_blocking();
  blocking_entered |= std::uint64_t{1} << d;
}

blocking_region::~blocking_region() {
  const int d = --blocking_depth;
  if (d < 64 && (blocking_entered >> d) & 1) {
    blocking_entered &= ~(std::uint64_t{1} << d);
    stack::exit_blocking();
  }
}

mem_stats read_mem_stats() {
  mem_stats st;
  fill_alloc_stats(st);
  collector::fill_gc_stats(st);
  return st;
}

void free_os_memory() {
  collect();
  page_heap::instance().release_all();
}

}  // namespace gc
