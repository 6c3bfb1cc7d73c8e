// src/gc/collector.cpp: the cycle, triggering, the public collector API
// (collect, set_gc_percent, safepoint, thread_scope, blocking_region), the
// finalizer thread, statistics and fork. The cycle's steps are in
// collector.hpp.
#include "gc/collector.hpp"

#include <gort/gort.hpp>

#include <algorithm>
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
#include <gort/internal/barrier.hpp>

#include "gc/barrier.hpp"
#include "gc/cards.hpp"
#include "gc/checkmark.hpp"
#include "gc/cpu_limiter.hpp"
#include "gc/gctrace.hpp"
#include "gc/mark.hpp"
#include "gc/pacer.hpp"
#include "gc/roots.hpp"
#include "gc/scavenger.hpp"
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

// What one cycle measured, for statistics and gctrace.
struct cycle_timing {
  clock::time_point t0;
  std::uint64_t stop1_ns = 0;  // concurrent: the mark-start stop; stop-the-world: stopping
  std::uint64_t mark_ns = 0;   // marking (concurrent, or inside the one stop)
  std::uint64_t stop2_ns = 0;  // mark termination and sweep (a stop)
  std::uint64_t heap_start = 0, heap_end = 0, stack_bytes = 0;
  std::uint64_t mark_cpu_ns = 0;  // concurrent: the CPU time of dedicated and fractional marking
  std::uint64_t idle_cpu_ns = 0;  // concurrent: the CPU time of marking on idle cores
  bool concurrent = false;
  bool minor = false;  // a minor mark (generational mode): old objects were not marked again
  // gctrace=2: where the stops went (gctrace.hpp, step 4).
  gc_cycle_record::stop_parts start_stop, term_stop;
  std::uint64_t term_sweep_ns = 0;
  std::uint64_t term_drained_bytes = 0;  // scan work done inside mark termination
  std::uint64_t scan_bytes = 0;          // concurrent: all the cycle's scan work (gctrace=2)
  std::uint64_t assist_scan_bytes = 0;   // concurrent: the assists' part of it
  std::uint64_t assist_wait_ns = 0;      // concurrent: threads' waits past the goal
};

// The stop just made, for gctrace=2: how long the threads took to stop.
void record_stop_threads(gc_cycle_record::stop_parts& p) {
  const stack::stop_stats st = stack::last_stop_stats();
  p.threads_ns = st.wait_ns;
  p.signalled = st.signalled;
  p.deferred = st.deferred;
}

// A thread started on the first request, that then waits for requests and
// serves each (requests arriving while it works are served by one more
// round). The finalizer and the background collector are two of these.
struct demand_thread {
  std::mutex mu;
  std::condition_variable wake;
  bool started = false;        // guarded by mu
  std::uint64_t requests = 0;  // guarded by mu

  void request(void (*main)()) {
    std::lock_guard g(mu);
    if (!started) {
      started = true;
      std::thread(main).detach();
    }
    ++requests;
    wake.notify_one();
  }
  // The thread's wait: returns when requests moved past `seen`, and its value.
  std::uint64_t wait(std::uint64_t seen) {
    std::unique_lock g(mu);
    wake.wait(g, [&] { return requests != seen; });
    return requests;
  }
  // fork child: the thread does not exist there.
  void reset_after_fork() {
    new (&mu) std::mutex();
    new (&wake) std::condition_variable();
    started = false;
  }
};

struct state {
  std::mutex world;  // plain: held across the stop (collector.hpp)
  pacer pace;        // guarded by world
  gc_stats stats;    // guarded by world
  // GC CPU limiter (cpu_limiter.hpp), fed with pauses and the time between
  // them since limiter_last. Guarded by world.
  cpu_limiter limiter{os::usable_cpus()};
  clock::time_point limiter_last = clock::now();  // guarded by world
  std::atomic<std::uint64_t> limited{0};  // limit-only triggers the limiter postponed
  std::uint64_t last_gc_cpu_ns = 0;       // guarded by world: the last cycle's GC CPU time

  // Concurrent marking (default) or GODEBUG=gcstoptheworld=1. Atomic; read
  // at the start of each cycle.
  std::atomic<bool> concurrent{true};
  bool mode_resolved = false;  // guarded by world: GODEBUG read for the mode
  // Minor collections (GODEBUG=gcgen=1, set_generational; collector.hpp,
  // "Minor cycles"). All guarded by world.
  bool generational = false;  // on, and the card table is there
  bool marks_kept = false;    // the last sweep left the survivors marked (old)
  bool major_due = true;      // the next cycle must be a full one
  std::uint64_t major_live = 0;  // bytes the last full cycle kept
  // Bytes of the old objects (kept marks) the last sweep left: what the
  // next minor mark takes as marked without marking it. Concurrent cycles
  // count it (their sweep finishes after the policy is decided).
  std::uint64_t old_bytes = 0;
  // Scan work of the last minor mark: the next minor mark's expected work.
  std::uint64_t last_minor_scan = 0;
  minor_policy policy;  // pacer.hpp step 12
  // The card table this mark reads (cards.hpp step 2): set at the mark
  // start's flip, read by the marking thread. Null outside minor mode.
  std::uint8_t* card_read = nullptr;
  std::atomic<std::uint64_t> minor_count{0};  // minor cycles run (atomic: read without the mutex)
  // True between the two stops of a concurrent cycle. Atomic.
  std::atomic<bool> marking{false};
  // The background collector thread: marks and finishes the concurrent
  // cycles that allocating threads start, so that they go on allocating.
  demand_thread background;
  std::mutex cycle_mu;
  std::condition_variable cycle_done;   // a concurrent cycle finished
  std::uint64_t cycles_done = 0;        // guarded by cycle_mu
  // The running concurrent cycle, for mark assists (atomic: read by every
  // allocating thread; written at mark start, with the world stopped).
  std::atomic<std::uint64_t> mark_goal{0};        // the heap goal of the cycle
  std::atomic<std::uint64_t> mark_hard_goal{0};   // pacer::hard_goal() at mark start (pacer.hpp step 10)
  std::atomic<std::uint64_t> mark_heap_start{0};  // heap_live at mark start
  std::atomic<std::uint64_t> mark_expected{0};    // scan work expected: what the last mark reached
  std::atomic<std::uint64_t> mark_cycle{0};       // +1 at every concurrent mark start (assist credit's cycle)
  std::atomic<std::uint64_t> assist_ns{0};        // time spent in assists this cycle (wall, as Go)
  std::atomic<std::uint64_t> assist_wait_ns{0};   // time threads waited past the goal this cycle (gctrace=2)
  // For pacer.hpp step 11: when the mark started (monotonic ns), the scan
  // work the assists did in it, and the last mark's rates (scan bytes of the
  // background workers, heap bytes of the program, per ns; 0: none yet).
  std::atomic<std::uint64_t> mark_start_ns{0};
  std::atomic<std::uint64_t> assist_scan{0};
  std::atomic<double> last_bg_rate{0};
  std::atomic<double> last_alloc_rate{0};
  // True from the mark-start stop to the end of mark termination; written
  // under the world mutex. Atomic: read by allocating threads.
  std::atomic<bool> cycle_active{false};
  // The active concurrent cycle: written by the thread that starts it, then
  // by the one that marks it (handed over through cycle_mu).
  cycle_timing cur;
  std::uint64_t cur_goal = 0;
  bool mark_converged = false;  // the concurrent mark ended with no work left anywhere
  std::uint64_t pending_at_mark_start = 0;  // sweep::pending_bytes() in the mark-start stop
  // World mutex: the part of the pacer's live heap (pace.heap_marked())
  // that the last cycle allocated black (0 after a stop-the-world cycle).
  std::uint64_t last_black = 0;
  bool cur_forced = false;
  // The allocation rate between cycles (pacer step 8): heap and time at the
  // end of the last cycle, and the rate measured at the start of this one.
  // Written by the thread that starts or finishes a cycle, in its stops.
  std::uint64_t last_end_heap = 0;
  clock::time_point last_end_time = clock::now();
  double alloc_rate_per_ns = 0;
  std::atomic<std::uint64_t> trigger{pacer::min_heap_goal};
  // The sweep phase after a concurrent mark (sweep.hpp): heap_live still
  // counts the garbage that sweeping has not freed yet. sweep_debt is that
  // garbage as estimated at mark termination (the heap less what the mark
  // kept), sweep_freed_base the sweep's freed bytes then; the pacer's view
  // of the heap is heap_live less the debt not yet paid (pacing_heap).
  // Atomic; written at mark termination (world stopped) and set to 0 when
  // a sweep finishes.
  std::atomic<std::uint64_t> sweep_debt{0};
  std::atomic<std::uint64_t> sweep_freed_base{0};
  clock::time_point start = clock::now();

  // The finalizer thread: runs destructors queued by automatic cycles.
  demand_thread finalizer;
};

state& st() {
  static state* s = new state();
  return *s;
}

// The heap as the pacer sees it: heap_live, less the garbage of the current
// sweep phase that sweeping has not yet freed.
std::uint64_t pacing_heap(state& s) {
  const std::uint64_t live = counters.heap_live.load(std::memory_order_relaxed);
  const std::uint64_t debt = s.sweep_debt.load(std::memory_order_relaxed);
  if (debt == 0) return live;
  const std::uint64_t freed = sweep::freed_bytes() - s.sweep_freed_base.load(std::memory_order_relaxed);
  const std::uint64_t left = debt > freed ? debt - freed : 0;
  return live > left ? live - left : 0;
}

// Sweep termination, and the end of a background sweep: nothing is left
// unswept, so heap_live is exact again.
void finish_sweep(state& s) {
  sweep::finish();
  s.sweep_debt.store(0, std::memory_order_relaxed);
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
// True on the background collector thread, the one thread that sweeps
// while another may have stopped the world (sweep_background is not
// stopped: the thread is unregistered).
constinit thread_local bool on_background_thread = false;
constinit thread_local int scope_depth = 0;

// Every registration the collector makes (a thread's first allocation, a
// thread_scope, the finalizer thread): with the stack registry, and with
// the barrier, which counts it grey for a mark in progress (barrier.cpp,
// step 8) before the thread runs the program's code.
void register_current_thread() {
  stack::register_thread();
  barrier::thread_registered();
}

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

// Scans one thread's view (stack and saved registers) as roots; the region
// names say how the thread was stopped (for checkmark reports).
void scan_stack_view(const stack::stack_view& v) {
  static constexpr const char* stacks[] = {"a thread's stack (parked at a safe point)",
                                           "a thread's stack (stopped by the signal)",
                                           "a thread's stack (in a blocking region)",
                                           "the collecting thread's stack"};
  static constexpr const char* regs[] = {"a thread's saved registers (parked at a safe point)",
                                         "a thread's saved registers (stopped by the signal)",
                                         "a thread's saved registers (in a blocking region)",
                                         "the collecting thread's registers"};
  const auto k = static_cast<std::size_t>(v.kind);
  mark::scan_roots(v.lo, v.hi, stacks[k], true);
  if (v.regs != nullptr)
    mark::scan_roots(reinterpret_cast<std::uintptr_t>(v.regs), reinterpret_cast<std::uintptr_t>(v.regs) + v.regs_bytes,
                     regs[k], true);
}

// Roots readable only with the world stopped: each mcache's current tiny
// block, and the objects queued for their destructor.
void mark_cache_roots() {
  for_each_mcache([](mcache& c) {
    if (c.tiny != 0) mark::mark_root(reinterpret_cast<const void*>(c.tiny), "a thread's tiny allocation block");
  });
  sweep::mark_queued();
}

// Step 3's roots, through the collector's mark worker; returns the bytes of
// stack scanned. World stopped. The checkmark pass calls it again.
std::uint64_t mark_roots(const stack::self_context& self) {
  std::uint64_t stack_bytes = 0;
  stack::for_each_stack([&](const stack::stack_view& v) {
    scan_stack_view(v);
    stack_bytes += v.hi - v.lo;
  }, &self);
  roots::for_each_root_range([](std::uintptr_t lo, std::uintptr_t hi, bool slots) {
    mark::scan_roots(lo, hi, slots ? "the gc::root slots" : "an add_roots range");
  });
  mark_cache_roots();
  return stack_bytes;
}

// GODEBUG=gccheckmark=1 (src/gc/checkmark.hpp): mark again from the same
// roots into the checkmark bits; aborts with a report if the first mark
// left a reachable object white. World stopped, before the sweep.
void verify_mark(const stack::self_context& self, bool after_concurrent_mark) {
  mark::set_checkmark_mode(true, after_concurrent_mark);
  mark_roots(self);
  mark::drain();
  mark::set_checkmark_mode(false);
  checkmark::clear_all();
}

// Marking is over (world stopped): the checkmark pass, the sweep, the pacer.
// Returns the sweep's result.
// Minor cycles: records what this mark cost and chooses the next cycle's
// kind (pacer.hpp step 12). `full_live`: what the last full cycle kept (this
// one's, if it was full); `goal_base`: the live heap the next goal is paced
// from; `old_next`: the old bytes the next minor mark would start from.
// World stopped.
bool next_is_minor(state& s, bool minor, bool forced, std::uint64_t full_live, std::uint64_t goal_base,
                   std::uint64_t old_next) {
  minor_policy::cycle c;
  c.minor = minor;
  c.forced = forced;
  c.work = mark::scan_work_done();
  c.goal = pacer::goal_for(s.pace.gc_percent(), goal_base, 0, 0);
  c.heap = std::min(c.goal, counters.heap_live.load(std::memory_order_relaxed));
  c.old = old_next;
  c.full_live = full_live;
  if (minor) s.last_minor_scan = std::max<std::uint64_t>(c.work, 1);
  const bool next = s.policy.next(c) || test_minor_always;
  return next;
}

sweep::sweep_result finish_mark(state& s, const stack::self_context& self, const cycle_timing& t, bool forced) {
  if (test_after_mark != nullptr) test_after_mark();
  if (godebug().gccheckmark) verify_mark(self, t.concurrent);
  barrier::set_marking(false);
  if (t.concurrent) end_allocate_black();
  // The live heap for the pacer. Concurrent: what marking marked, plus what
  // was allocated black meanwhile, which this cycle keeps whether reachable
  // or not, as Go counts it (gcmarknewobject adds to work.bytesMarked).
  // Counting only what marking marked had set the goal below the heap that
  // the cycle leaves: the next runway began with the black bytes already
  // spent (binary-trees: 199 cycles of 44 MB each where the stop-the-world
  // mode runs 142 of 65 MB). Stop-the-world: what the sweep kept.
  const std::uint64_t marked = t.concurrent ? mark::marked_bytes() : 0;
  const std::uint64_t black = t.heap_end > t.heap_start ? t.heap_end - t.heap_start : 0;
  // The sweep phase begins: the spans mcaches own are swept here; the rest
  // after the world restarts (concurrent), or here too (stop-the-world).
  // Generational mode: a stop-the-world sweep leaves the survivors marked,
  // old for the next cycle if it is a minor one.
  bool keep_marks = s.generational && !t.concurrent;
  // Concurrent minor cycles (collector.hpp, "Minor cycles", step 3): the
  // policy is decided here, before the sweep begins, since marks it keeps
  // could only be dropped again by a pass over every span. The old bytes
  // after the sweep: those of the last sweep (a minor mark) and what this
  // mark marked. (This cycle's goal stands in for the next: after a minor
  // cycle they are one, both paced from the last full cycle.) After a full
  // cycle the policy always allows the next to be minor.
  // A cycle that began with the mode off (it was switched on during the
  // mark: set_generational takes only the world mutex, which a concurrent
  // mark does not hold) flipped no card table (card_read is null), so
  // stores made during its mark before the switch dirtied none: it keeps
  // no marks (keep_marks stays false), and the next cycle is a full one.
  std::uint64_t old_next = 0;
  if (s.generational && t.concurrent && s.card_read != nullptr) {
    old_next = (t.minor ? s.old_bytes : 0) + marked;
    keep_marks = cards::usable(heap_lo.load(std::memory_order_relaxed), heap_hi.load(std::memory_order_relaxed)) &&
                 next_is_minor(s, t.minor, forced, t.minor ? s.major_live : marked,
                               (t.minor ? s.major_live : marked) + black, old_next);
  }
  sweep::begin_phase(/*others_may_sweep=*/!on_background_thread, keep_marks);
  // Owned spans are swept by their owners, except in a forced cycle
  // (gc::collect() promises a finished sweep) and in stop-the-world mode.
  if (forced || !t.concurrent) sweep::sweep_owned_now();
  sweep::sweep_result swept;
  if (t.concurrent) {
    swept = sweep::totals();
    // A minor mark did not mark the old objects: they are kept all the same.
    swept.marked_bytes = (t.minor ? s.old_bytes : 0) + marked + black;
    // What the sweep will free: the heap less what marking kept (the old
    // objects included) and what was allocated (black) during the mark.
    const std::uint64_t live = counters.heap_live.load(std::memory_order_relaxed);
    const std::uint64_t kept = swept.marked_bytes;
    s.sweep_freed_base.store(swept.freed_bytes, std::memory_order_relaxed);
    s.sweep_debt.store(live > kept ? live - kept : 0, std::memory_order_relaxed);
  } else {
    sweep::finish();
    swept = sweep::totals();
    swept.marked_bytes = swept.live_bytes;
  }
  // Objects waiting for their destructor (queued by this sweep, or still
  // pending from an earlier one and so marked through the queue) are
  // garbage kept until their destructor ran, not live heap: counted as live
  // they raised the goal, which let more garbage with destructors pile up
  // before the next cycle (a backlog of ~66 million in the fork test under
  // gcstoptheworld and gccheckmark).
  // Concurrent: the queued objects marked were those pending at mark start
  // (some have been destroyed since, all are garbage); stop-the-world: the
  // sweep kept all that are pending now.
  const std::uint64_t pending = t.concurrent ? s.pending_at_mark_start : sweep::pending_bytes();
  swept.marked_bytes = swept.marked_bytes > pending ? swept.marked_bytes - pending : 0;
  s.marks_kept = keep_marks;
  // The live heap the goal is paced from: what this mark kept, except after
  // a minor mark, which keeps the old objects whether they are still
  // reachable or not: then the last full cycle's (collector.hpp, "Minor
  // cycles", step 3), so that the dead old objects eat into the room for
  // new ones instead of raising the goal.
  std::uint64_t live_for_goal = swept.marked_bytes;
  if (keep_marks || t.minor) {
    if (!t.minor) s.major_live = swept.marked_bytes - (t.concurrent ? std::min(black, swept.marked_bytes) : 0);
    // A concurrent minor cycle also keeps what it allocated black, as any
    // concurrent cycle does (Go counts it live): the goal's base is the
    // last full cycle's live heap plus this cycle's black bytes.
    live_for_goal = s.major_live + (t.concurrent ? std::min(black, swept.marked_bytes) : 0);
  }
  s.old_bytes = !keep_marks ? 0 : t.concurrent ? old_next : swept.marked_bytes;
  s.pace.end_cycle(live_for_goal, t.stack_bytes, roots::range_bytes());
  if (t.concurrent) {
    s.major_due = false;  // decided above: a sweep that keeps no marks makes the next cycle full
  } else if (keep_marks) {
    // The policy (pacer.hpp step 12), from what this sweep kept.
    s.major_due = !next_is_minor(s, t.minor, forced, s.major_live, s.major_live, swept.marked_bytes);
  }
  s.last_black = t.concurrent ? std::min(black, swept.marked_bytes) : 0;
  s.pace.set_other_memory(other_memory(swept.marked_bytes));
  if (t.concurrent) {
    // The runway for the next trigger (pacer step 8): the program's
    // allocation rate between the last two cycles, over a mark as long.
    const double runway = s.alloc_rate_per_ns * static_cast<double>(t.mark_ns);
    s.pace.set_runway(runway > 0 ? static_cast<std::uint64_t>(runway) : 0);
  }
  s.trigger.store(s.pace.enabled() ? s.pace.trigger() : ~std::uint64_t{0}, std::memory_order_relaxed);
  return swept;
}

void record_cycle(state& s, bool forced, const cycle_timing& t, const sweep::sweep_result& swept,
                  std::uint64_t goal_of_this_cycle) {
  const std::uint64_t pause = t.concurrent ? t.stop1_ns + t.stop2_ns : t.stop1_ns + t.mark_ns + t.stop2_ns;
  gc_stats& g = s.stats;
  const int procs = mark::helper_count() + 1;
  const std::uint64_t mark_cpu = t.concurrent ? t.mark_cpu_ns : t.mark_ns * static_cast<std::uint64_t>(procs);
  const std::uint64_t idle_cpu = t.concurrent ? t.idle_cpu_ns : 0;
  const std::uint64_t assist_cpu = t.concurrent ? s.assist_ns.load(std::memory_order_relaxed) : 0;
  const std::uint64_t gc_cpu =
      (t.stop1_ns + t.stop2_ns) * static_cast<std::uint64_t>(procs) + mark_cpu + idle_cpu + assist_cpu;
  {
    // The limiter: GC time against the program's time since its last update.
    const clock::time_point now = clock::now();
    const auto since = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.limiter_last).count());
    const std::uint64_t p = static_cast<std::uint64_t>(procs);
    const std::uint64_t total = since * p;
    s.limiter.update(gc_cpu, total > gc_cpu ? total - gc_cpu : 0);
    s.limiter_last = now;
  }
  g.pause_ns[g.num_gc % 256] = pause;
  g.num_gc++;
  if (forced) g.num_forced_gc++;
  g.pause_total_ns += pause;
  g.last_gc_unix_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  g.gc_cpu_ns += gc_cpu;
  s.last_gc_cpu_ns = gc_cpu;

  if (godebug().gctrace > 0) {
    gc_cycle_record r;
    r.cycle = g.num_gc;
    r.start_ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t.t0 - s.start).count());
    const std::uint64_t elapsed = ns_since(s.start) * static_cast<std::uint64_t>(os::usable_cpus());
    r.gc_cpu_fraction = elapsed ? static_cast<double>(g.gc_cpu_ns) / static_cast<double>(elapsed) : 0.0;
    r.sweep_term_clock_ns = t.stop1_ns;
    r.mark_clock_ns = t.mark_ns;
    r.mark_term_clock_ns = t.stop2_ns;
    r.sweep_term_cpu_ns = t.stop1_ns * static_cast<std::uint64_t>(t.concurrent ? procs : 1);
    r.background_cpu_ns = mark_cpu;
    r.idle_cpu_ns = idle_cpu;
    r.assist_cpu_ns = assist_cpu;
    r.mark_term_cpu_ns = t.stop2_ns * static_cast<std::uint64_t>(t.concurrent ? procs : 1);
    r.heap_start_bytes = t.heap_start;
    r.heap_end_bytes = t.heap_end;
    r.heap_live_bytes = swept.marked_bytes;
    r.heap_goal_bytes = goal_of_this_cycle;
    r.stacks_bytes = t.stack_bytes;
    r.globals_bytes = roots::range_bytes();
    r.procs = static_cast<std::uint64_t>(procs);
    r.forced = forced;
    r.minor = t.minor;
    r.concurrent = t.concurrent;
    r.start_stop = t.start_stop;
    r.term_stop = t.term_stop;
    r.term_sweep_ns = t.term_sweep_ns;
    r.term_drained_bytes = t.term_drained_bytes;
    r.scan_bytes = t.scan_bytes;
    r.assist_scan_bytes = t.assist_scan_bytes;
    r.assist_wait_ns = t.assist_wait_ns;
    emit_gctrace(r, godebug().gctrace >= 2);
  }
}

// World stopped, at a mark start: may this mark be a minor one
// (collector.hpp, "Minor cycles", step 3)?
bool minor_allowed(const state& s, bool forced) {
  return s.generational && s.marks_kept && !s.major_due && !forced &&
         cards::usable(heap_lo.load(std::memory_order_relaxed), heap_hi.load(std::memory_order_relaxed));
}

// World stopped, before a full mark: no object is old any more.
void begin_full_mark(state& s) {
  if (s.marks_kept) sweep::clear_kept_marks();
  s.marks_kept = false;
}

// The stop-the-world cycle (GODEBUG=gcstoptheworld=1): collector.hpp steps 1-7.
void run_cycle_stw(state& s, bool forced, const stack::self_context& self) {
  cycle_timing t;
  finish_sweep(s);  // sweep termination: a concurrent cycle's sweep may still be running
  t.t0 = clock::now();
  t.heap_start = t.heap_end = counters.heap_live.load(std::memory_order_relaxed);
  const std::uint64_t goal = s.pace.heap_goal();
  stack::stop_the_world();
  record_stop_threads(t.start_stop);
  sweep::sweep_owned_now();  // sweep termination's part that needs the stop
  if (GORT_DEBUG) sweep::verify_all_swept(s.marks_kept);
  t.minor = minor_allowed(s, forced);
  if (!t.minor) begin_full_mark(s);
  // The stores since the last mark start are in the table the barrier wrote
  // until now (cards.hpp step 2). A full mark sees every object, and its
  // sweep leaves no old object pointing to a young one (collector.hpp,
  // "Minor cycles"): it only clears them.
  std::uint8_t* const card_read = s.generational ? cards::flip() : nullptr;
  if (!t.minor && card_read != nullptr)
    cards::clear_range(card_read, heap_lo.load(std::memory_order_relaxed), heap_hi.load(std::memory_order_relaxed));
  t.stop1_ns = ns_since(t.t0);
  const clock::time_point t1 = clock::now();
  mark::begin_cycle();
  if (t.minor) {
    mark::scan_dirty_cards(card_read);  // mark.hpp step 6: the old objects written since the last mark
    s.minor_count.fetch_add(1, std::memory_order_relaxed);
  }
  t.stack_bytes = mark_roots(self);
  mark::drain(-1, nullptr, /*stopped=*/true);
  t.mark_ns = ns_since(t1);
  const clock::time_point t2 = clock::now();
  const sweep::sweep_result swept = finish_mark(s, self, t, forced);
  // A stop is timed from the stop request to the moment the restart
  // begins, as Go times it (startTheWorldWithSema reads the clock before
  // it wakes the Ps). Read after start_the_world, it included any time the
  // stopper spent preempted by a thread it had just released, which then
  // ran: two latency benchmarks side by side showed a termination of 60 us
  // to the restart reported as 2815 us.
  t.stop2_ns = ns_since(t2);
  stack::start_the_world();
  record_cycle(s, forced, t, swept, goal);
}

// The background mark's workers now (pacer.hpp step 9), from the cores and
// the registered threads outside blocking regions.
mark_workers current_mark_workers() {
  if (test_fractional_only) return plan_mark_workers(1, 1);
  if (test_helpers_leave) return plan_mark_workers(os::usable_cpus(), 0);
  return plan_mark_workers(os::usable_cpus(), static_cast<int>(stack::running_threads()));
}

// A concurrent drain's helper i (mark.hpp step 5) leaves once the plan has
// no whole worker for it: the marking thread is the first, so helper i is
// whole worker i + 2. Called by the helper threads every 256 objects.
bool helper_leaves(int i) { return test_helpers_leave || i + 1 >= current_mark_workers().whole(); }

// Scan work done inside the last mark termination (collector.hpp). Atomic.
std::atomic<std::uint64_t> termination_scan_bytes{0};

// How much heap memory (in use or free, not yet returned) the heap may
// retain after a cycle (scavenger.hpp step 1): about 10% over the goal
// (Go's gcPercentGoal), and under a memory limit no more than the limit less
// gort's metadata. UINT64_MAX: no bound (GC off, no limit). Caller holds the
// world mutex.
struct retain_bounds {
  std::uint64_t goal = ~std::uint64_t{0};   // released in the background
  std::uint64_t limit = ~std::uint64_t{0};  // released at once
  std::uint64_t both() const { return std::min(goal, limit); }
};
retain_bounds retain_target(const pacer& pace) {
  retain_bounds b;
  if (!pace.enabled()) return b;
  const std::uint64_t goal = pace.heap_goal();
  b.goal = goal > ~std::uint64_t{0} / 11 * 10 ? goal : goal + goal / 10;
  if (pace.has_memory_limit()) {
    const std::uint64_t meta = metadata_memory(page_heap::instance().counters());
    const auto limit = static_cast<std::uint64_t>(pace.memory_limit());
    b.limit = limit > meta ? limit - meta : 0;
  }
  return b;
}

// The concurrent cycle, in three parts. The world mutex is held only
// around each stop; s.cycle_active spans the whole cycle, so that no second
// cycle starts meanwhile.

// Part 1, by the thread that starts the cycle, holding the world mutex: the
// mark-start stop. The barrier and allocate-black go on; the roots that can
// be read only with the world stopped are marked. No stack is scanned here.
// The thread that crosses the trigger runs it itself (as Go's gcStart runs
// on the allocating goroutine), so marking, and with it mark assists, start
// at once even when the background thread is slow to be scheduled.
void start_concurrent_cycle(state& s, bool forced) {
  // Sweep termination: the last cycle's spans are all swept before this
  // mark touches a mark bit (the background sweeper may still be at it).
  finish_sweep(s);
  cycle_timing& t = s.cur;
  t = cycle_timing{};
  t.concurrent = true;
  t.t0 = clock::now();
  t.heap_start = counters.heap_live.load(std::memory_order_relaxed);
  s.cur_goal = s.pace.heap_goal();
  s.cur_forced = forced;
  {
    const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(t.t0 - s.last_end_time).count();
    if (since > 0 && t.heap_start > s.last_end_heap)
      s.alloc_rate_per_ns = static_cast<double>(t.heap_start - s.last_end_heap) / static_cast<double>(since);
  }
  stack::stop_the_world();
  record_stop_threads(t.start_stop);
  const std::uint64_t p0 = os::monotonic_ns();
  sweep::sweep_owned_now();  // sweep termination's part that needs the stop
  if (GORT_DEBUG) sweep::verify_all_swept(s.marks_kept);
  t.minor = minor_allowed(s, forced);
  // A full mark after a sweep that kept marks (gc::collect(), or the mode
  // switched) clears them here, in the stop; the policy otherwise has the
  // last sweep keep none before a full mark (finish_mark).
  if (!t.minor) begin_full_mark(s);
  // The card tables swap (cards.hpp step 2); the marking thread reads the
  // old write table: a minor mark's card pass, or a full mark's clear.
  s.card_read = s.generational ? cards::flip() : nullptr;
  if (t.minor) s.minor_count.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t p1 = os::monotonic_ns();
  t.start_stop.phase_ns[0] = p1 - p0;
  mark::begin_cycle();
  s.mark_goal.store(s.cur_goal, std::memory_order_relaxed);
  s.mark_hard_goal.store(s.pace.hard_goal(), std::memory_order_relaxed);
  s.mark_heap_start.store(t.heap_start, std::memory_order_relaxed);
  // The expected scan work: what the last mark reached, without the black
  // bytes (allocated during that mark, they were not scanned either).
  // A minor mark: what the last minor mark scanned (the old objects are not
  // marked again).
  s.mark_expected.store(t.minor && s.last_minor_scan != 0
                            ? s.last_minor_scan
                            : std::max<std::uint64_t>(s.pace.heap_marked() - s.last_black, 1),
                        std::memory_order_relaxed);
  s.assist_ns.store(0, std::memory_order_relaxed);
  s.assist_wait_ns.store(0, std::memory_order_relaxed);
  s.assist_scan.store(0, std::memory_order_relaxed);
  s.mark_start_ns.store(os::monotonic_ns(), std::memory_order_relaxed);
  s.mark_cycle.fetch_add(1, std::memory_order_relaxed);
  stack::begin_scan_epoch();  // every stack is grey until its handshake (barrier.cpp, step 2)
  barrier::check_all_empty_stopped();
  barrier::set_marking(true);
  // Allocate-black keeps its record (column 1, span.hpp) when this cycle
  // may keep marks: a full or minor mark of minor-collection mode that
  // flipped the card tables. Otherwise column 1 is the first assist slot's
  // marks (mark.cpp).
  begin_allocate_black(/*record=*/s.card_read != nullptr);
  mark_cache_roots();
  s.pending_at_mark_start = sweep::pending_bytes();
  s.cycle_active.store(true, std::memory_order_release);
  s.marking.store(true, std::memory_order_release);
  t.start_stop.phase_ns[1] = os::monotonic_ns() - p1;
  t.stop1_ns = ns_since(t.t0);  // the stop ends as the restart begins (see run_cycle_stw)
  stack::start_the_world();
}

// Part 2, by the marking thread (the background thread, or gc::collect()'s
// caller), holding no lock: root slots and ranges, then each thread's stack
// at its own handshake, then the heap, while the program runs.
void concurrent_mark(state& s, const stack::self_context* self) {
  cycle_timing& t = s.cur;
  const clock::time_point t1 = clock::now();
  const std::uint64_t cpu_start = os::thread_cpu_ns();
  if (test_during_mark != nullptr) test_during_mark();
  // Minor mode: the card pass of a minor mark (mark.hpp step 6), or the
  // clear of a full one, over the table the mark start took from the
  // barrier (cards.hpp step 2).
  if (s.card_read != nullptr) {
    if (t.minor) {
      mark::scan_dirty_cards(s.card_read);
    } else {
      cards::clear_range(s.card_read, heap_lo.load(std::memory_order_relaxed), heap_hi.load(std::memory_order_relaxed));
    }
  }
  roots::for_each_root_range_locked([](std::uintptr_t lo, std::uintptr_t hi, bool slots) {
    mark::scan_roots(lo, hi, slots ? "the gc::root slots" : "an add_roots range");
  });
  const std::uint64_t init_barrier = barrier::init_barrier_snapshot();
  stack::handshake_each_stack([&](const stack::stack_view& v) {
    scan_stack_view(v);
    t.stack_bytes += v.hi - v.lo;
  }, self);
  barrier::stacks_scanned(init_barrier);  // initialising stores stop calling the barrier (barrier.cpp, step 8)
  // The roots' grey objects sit in this thread's worker; the fractional
  // worker below marks through an assist worker, which takes work from the
  // shared lists only. (Without this, a fractional mark found nothing to
  // do, declared itself done, and left the whole mark to termination's
  // stop: 2-5 ms with a compute-bound thread beside an allocating one.)
  mark::publish_root_work();
  // Marking CPU: this thread's own CPU time (a marker that the OS did not
  // schedule takes none), and the helpers' drain time, split as Go's
  // gctrace splits it (pacer.hpp step 9): dedicated and fractional workers
  // are "background", the rest "idle". This thread's roots and handshakes
  // above count as background.
  std::uint64_t background_ns = os::thread_cpu_ns() - cpu_start;
  std::uint64_t idle_ns = 0;
  // Drain until no work is left anywhere: the shared lists empty and no
  // assist running (an assist holds grey objects in its own buffer until it
  // returns them, within max_assist_ns); what the program shades meanwhile
  // comes back as work. Rounds that drain are not counted: every object is
  // shaded at most once per cycle, so they end. Waiting for assists that
  // give nothing back is bounded in time (the program may assist at every
  // refill, finding nothing): whatever is
  // left then is drained by mark termination, inside its stop. (A bound of
  // 1000 rounds, waits included, once ended a mark with an assist holding
  // the latency benchmark's slot array: a 194 ms termination.)
  //
  // Workers (pacer.hpp step 9): this thread is the first whole worker, and
  // helper threads the others. With no whole worker (a small machine whose
  // cores the program keeps busy), this thread is the fractional worker:
  // it marks for its share of each slice and sleeps for the rest.
  constexpr std::uint64_t slice_ns = 1'000'000;
  constexpr std::uint64_t max_assist_wait_ns = 50'000'000;
  // Once no work is left, the threads shade their write-barrier buffers
  // themselves (barrier.cpp, step 7), so that mark termination does not
  // have to inside its stop; waited for at most this long.
  constexpr std::uint64_t max_ragged_flush_ns = 1'000'000;
  std::uint64_t ragged_since = 0;  // when the flush was requested; 0: not yet
  std::uint64_t waited_ns = 0;
  s.mark_converged = false;
  for (;;) {
    const mark_workers plan = current_mark_workers();
    const std::uint64_t c0 = os::thread_cpu_ns();
    if (plan.whole() == 0) {
      const auto on = static_cast<std::uint64_t>(plan.fractional * static_cast<double>(slice_ns));
      const bool done = mark::assist(~std::uint64_t{0}, on);
      background_ns += os::thread_cpu_ns() - c0;
      if (!done) {
        std::this_thread::sleep_for(std::chrono::nanoseconds(slice_ns - on));
        continue;
      }
    } else {
      const int helpers = std::min(plan.whole() - 1, mark::helper_count());
      const std::uint64_t helper_ns = mark::drain(helpers, helper_leaves);
      const std::uint64_t own = os::thread_cpu_ns() - c0;
      // This thread: a dedicated worker, or the fractional one on an idle
      // core (its share background, the rest idle).
      if (plan.dedicated > 0) {
        background_ns += own;
      } else {
        const auto share = static_cast<std::uint64_t>(plan.fractional * static_cast<double>(own));
        background_ns += share;
        idle_ns += own - share;
      }
      // The helpers' time, split in their proportion (one that left early
      // counts only its own time).
      if (helpers > 0) {
        const int dedicated_helpers = std::min(helpers, std::max(plan.dedicated - 1, 0));
        const std::uint64_t dedicated_ns = helper_ns / static_cast<std::uint64_t>(helpers) *
                                           static_cast<std::uint64_t>(dedicated_helpers);
        background_ns += dedicated_ns;
        idle_ns += helper_ns - dedicated_ns;
      }
    }
    if (mark::grey_pending() != 0) {
      waited_ns = 0;  // the assists gave work back: not stuck
      continue;
    }
    if (mark::mark_quiescent()) {
      if (ragged_since == 0) {
        barrier::request_flush();
        ragged_since = os::monotonic_ns();
        continue;
      }
      // Wait for the flushes (without a drain, which wakes the helpers, per
      // look), then drain what they shaded; quiescent after that (what they
      // shaded is visible here: all_flushed acquires each buffer's epoch),
      // the mark has converged.
      bool flushed = barrier::all_flushed();
      if (flushed && mark::mark_quiescent()) {
        s.mark_converged = true;
        break;
      }
      while (!flushed && os::monotonic_ns() - ragged_since < max_ragged_flush_ns) {
        for (int i = 0; i < 64; ++i) cpu_relax();
        flushed = barrier::all_flushed();
      }
      if (!flushed) {  // a thread made no slow-path call in time: mark termination shades its buffer
        s.mark_converged = mark::mark_quiescent();
        if (s.mark_converged) break;
      }
      continue;
    }
    if (waited_ns >= max_assist_wait_ns) break;
    const clock::time_point w0 = clock::now();
    std::this_thread::yield();
    waited_ns += ns_since(w0);
  }
  t.mark_ns = ns_since(t1);
  t.mark_cpu_ns = background_ns;
  t.idle_cpu_ns = idle_ns;
}

// This mark's rates so far (pacer.hpp step 11): scan bytes per ns of the
// background workers (all the scanning but the assists'), and heap bytes
// per ns of the program. Zeros while the heap has not grown.
using mark_rates = pacer::mark_rates;
mark_rates measure_mark_rates(const state& s, std::uint64_t scanned, std::uint64_t heap, std::uint64_t now) {
  mark_rates r;
  const std::uint64_t start = s.mark_heap_start.load(std::memory_order_relaxed);
  const std::uint64_t elapsed = now - s.mark_start_ns.load(std::memory_order_relaxed);
  if (elapsed == 0 || heap <= start) return r;
  const std::uint64_t assisted = s.assist_scan.load(std::memory_order_relaxed);
  r.bg = static_cast<double>(scanned > assisted ? scanned - assisted : 0) / static_cast<double>(elapsed);
  r.alloc = static_cast<double>(heap - start) / static_cast<double>(elapsed);
  return r;
}

// Part 3, by the marking thread: mark termination, a short stop, taken under
// the world mutex. What the barrier cannot cover is scanned again: threads
// the signal interrupted (they may be inside a barrier sequence: barrier.cpp,
// step 3) and add_roots ranges (no barrier); the values left in the
// threads' barrier buffers are shaded (step 6). The rest of the work is
// drained, then the sweep. Returns how much heap the scavenger may keep.
retain_bounds finish_concurrent_cycle(state& s, const stack::self_context& self) {
  lock_world(s);
  std::lock_guard g(s.world, std::adopt_lock);
  cycle_timing& t = s.cur;
  const clock::time_point t2 = clock::now();
  stack::stop_the_world();
  record_stop_threads(t.term_stop);
  const std::uint64_t p0 = os::monotonic_ns();
  t.heap_end = counters.heap_live.load(std::memory_order_relaxed);
  stack::for_each_stack([](const stack::stack_view& v) {
    if (v.kind == stack::stop_kind::signal) scan_stack_view(v);
  }, &self);
  roots::for_each_root_range([](std::uintptr_t lo, std::uintptr_t hi, bool slots) {
    if (!slots) mark::scan_roots(lo, hi, "an add_roots range");
  });
  const std::uint64_t p1 = os::monotonic_ns();
  barrier::flush_all_stopped();  // the values the threads' barriers buffered (barrier.cpp, step 6)
  const std::uint64_t p2 = os::monotonic_ns();
  // What is left is what the program shaded since the last round of the
  // concurrent mark: little, unless that mark gave up (mark_converged). Waking
  // the helper threads for it costs more than it saves: the drain would wait
  // for every helper to wake and find nothing (measured 50-130 us on a
  // 2-core VM, against a few us for the work itself).
  const std::uint64_t scan_before = mark::scan_work_done();
  mark::drain(s.mark_converged ? 0 : -1, nullptr, /*stopped=*/true);
  t.term_drained_bytes = mark::scan_work_done() - scan_before;
  t.scan_bytes = mark::scan_work_done();
  t.assist_scan_bytes = s.assist_scan.load(std::memory_order_relaxed);
  t.assist_wait_ns = s.assist_wait_ns.load(std::memory_order_relaxed);
  termination_scan_bytes.store(t.term_drained_bytes, std::memory_order_relaxed);
  const std::uint64_t p3 = os::monotonic_ns();
  t.term_stop.phase_ns[0] = p1 - p0;
  t.term_stop.phase_ns[1] = p2 - p1;
  t.term_stop.phase_ns[2] = p3 - p2;
  // The mark's rates, for the next mark's first assists (pacer.hpp step 11).
  if (const mark_rates r = measure_mark_rates(s, scan_before, t.heap_end, os::monotonic_ns()); r.alloc > 0) {
    s.last_bg_rate.store(r.bg, std::memory_order_relaxed);
    s.last_alloc_rate.store(r.alloc, std::memory_order_relaxed);
  }
  s.marking.store(false, std::memory_order_release);
  const std::uint64_t p4 = os::monotonic_ns();
  const sweep::sweep_result swept = finish_mark(s, self, t, s.cur_forced);
  t.term_sweep_ns = os::monotonic_ns() - p4;
  s.cycle_active.store(false, std::memory_order_release);
  s.last_end_heap = pacing_heap(s);
  s.last_end_time = clock::now();
  t.stop2_ns = ns_since(t2);  // the stop ends as the restart begins (see run_cycle_stw)
  stack::start_the_world();
  record_cycle(s, s.cur_forced, t, swept, s.cur_goal);
  {
    std::lock_guard c(s.cycle_mu);
    ++s.cycles_done;
  }
  s.cycle_done.notify_all();
  return retain_target(s.pace);
}

// Minor cycles on or off (world mutex held). On: the card table is made
// and the barrier starts dirtying cards; the next cycle is a full one, since
// stores made before then dirtied none.
void set_generational_locked(state& s, bool on) {
  if (on && !cards::enable()) {
    std::fprintf(stderr, "gort: warning: GODEBUG: gcgen=1: cannot reserve the card table; collections stay full\n");
    on = false;
  }
  s.generational = on;
  s.major_due = true;
}

// Resolves the mode at the first cycle, from GODEBUG (not earlier: GODEBUG
// is read on first use). World mutex held.
void resolve_mode(state& s) {
  if (s.mode_resolved) return;
  s.mode_resolved = true;
  s.concurrent.store(godebug().gcstoptheworld == 0, std::memory_order_relaxed);
  s.pace.set_concurrent(godebug().gcstoptheworld == 0);
  if (godebug().gcgen != 0) set_generational_locked(s, true);
}

// Waits, with the world mutex held on entry and on return, until no
// concurrent cycle is active.
void wait_for_active_cycle(state& s) {
  while (s.cycle_active.load(std::memory_order_acquire)) {
    const std::uint64_t done = [&] {
      std::lock_guard c(s.cycle_mu);
      return s.cycles_done;
    }();
    s.world.unlock();
    {
      if (stack::current_thread() != nullptr) stack::enter_blocking();
      std::unique_lock c(s.cycle_mu);
      s.cycle_done.wait_for(c, std::chrono::milliseconds(10), [&] { return s.cycles_done != done; });
      c.unlock();
      if (stack::current_thread() != nullptr) stack::exit_blocking();
    }
    lock_world(s);
  }
}

// A whole stop-the-world cycle. `self` was captured by gort's entry point
// (collect(), the automatic trigger) in a frame that stays live: the calling
// thread is scanned from there up, so that no frame of the collector itself
// (whose stale slots hold heap addresses the runtime used) is taken for a
// root. World mutex held.
void run_cycle(state& s, bool forced, const stack::self_context& self) {
  in_collector = true;
  mark::ensure_helpers();
  flush_own_mcache();
  run_cycle_stw(s, forced, self);
  in_collector = false;
}

// After a cycle, outside the stop: return free pages to the OS until the
// heap retains at most `keep` bytes, at once (gc::collect, and memory over
// the limit: scavenger.hpp steps 2 and 4).
void scavenge_to(std::uint64_t keep) {
  if (keep == ~std::uint64_t{0}) return;
  const page_heap_counters c = page_heap::instance().counters();
  const std::uint64_t retained = c.heap_sys - c.heap_released;
  if (retained > keep) page_heap::instance().release(retained - keep);
}

// After an automatic cycle: over the limit at once, the rest paced in the
// background (scavenger.hpp steps 2 and 3).
void scavenge_after_cycle(const retain_bounds& b) {
  scavenge_to(b.limit);
  scavenger::set_goal(b.both());
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
  s.limiter.update(0, since * static_cast<std::uint64_t>(mark::helper_count() + 1));
  s.limiter_last = now;
  // The expected cost of the cycle: what the last one took (its stops on
  // every processor, and its marking).
  if (s.limiter.admits(s.last_gc_cpu_ns)) return true;
  s.limited.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void finalizer_main() {
  state& s = st();
  register_current_thread();
  std::uint64_t seen = 0;
  for (;;) {
    // The destructors just run left pointers to their (now free) objects in
    // the dead frames below this one; enter_blocking's saved frame would
    // overlay them, and a freed slot, reused, would be kept alive through
    // them. Zero them first (as collect() does).
    clear_stack_below();
    stack::enter_blocking();  // waiting touches no gc memory: never interrupted
    seen = s.finalizer.wait(seen);
    stack::exit_blocking();
    in_collector = true;
    sweep::run_destructors();
    in_collector = false;
  }
}

void wake_finalizer(state& s) {
  if (sweep::pending_destructors() != 0) s.finalizer.request(finalizer_main);
}

// The background collector thread (concurrent mode): waits for requests
// and runs each as a cycle. Unregistered: it is never stopped, and holds no
// gc pointer of its own.
void background_main() {
  on_background_thread = true;
  state& s = st();
  std::uint64_t seen = 0;
  for (;;) {
    seen = s.background.wait(seen);
    // This thread holds no gc pointer: its own frames do not matter.
    stack::self_context self;
    stack::capture_self(self);
    in_collector = true;
    concurrent_mark(s, &self);
    const retain_bounds keep = finish_concurrent_cycle(s, self);
    // The sweep, while the program runs. Allocating threads sweep the
    // classes they refill from; this thread sweeps the others, and all of
    // them once the program stops refilling (mcentral.hpp, sweep phase step
    // 2), looking again every millisecond. A cycle that starts before the
    // sweep ends finishes it first (sweep termination), and this thread
    // then goes on to mark.
    const std::uint64_t debt = s.sweep_debt.load(std::memory_order_relaxed);
    sweep_watch watch;
    for (;;) {
      if (sweep::sweep_background(watch) != 0) continue;
      if (sweep::finished() || s.cycle_active.load(std::memory_order_acquire)) break;
      wake_finalizer(s);  // for what the refills' sweeps queued meanwhile
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const bool swept_all = sweep::finished();
    if (swept_all) {
      std::uint64_t d = debt;
      s.sweep_debt.compare_exchange_strong(d, 0, std::memory_order_relaxed);
    }
    in_collector = false;
    wake_finalizer(s);
    scavenge_after_cycle(keep);
    // Then the spans the refills' sweeps kept empty (mcentral.hpp step 6):
    // back to the page heap once their class is quiet, looking every
    // millisecond while a busy class keeps some and no cycle has begun.
    // After the scavenger's step, which must not wait for a busy class.
    if (swept_all) {
      while (sweep::trim_kept_background(watch) && !s.cycle_active.load(std::memory_order_acquire))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}


// A mark assist (pacer.hpp step 10, Go's gcAssistAlloc): an allocating
// thread pays for what it allocated since its last assist with scan work, in
// proportion to the marking still expected per byte of runway left to the
// goal:
//     work = allocated * (expected - scanned) / (goal - heap)
// all of what is left once the heap is past the goal. The goal and the
// expected work move out when the mark finds more than the last one did
// once the heap reaches the goal (pacer::assist_target): a live heap that
// grew since the last mark must not leave the program at the goal with no
// assist work and a wait for the whole mark (the latency benchmark's cycles
// during its fill: 1-34 ms waits, scan work at twice the expectation; one
// falling after the fill was the run's 24-35 ms worst batch). (Unlike Go, the background
// marker's work is not credit that pays first: measured on the latency
// benchmark, such credit let the program run to the goal and then wait
// there for the mark, 38-55 ms worst batch against 3.7-4.6 ms without.)
// One call is bounded
// by max_assist_ns, so no allocation stalls for long: when the bound is hit
// the heap grows past the goal, and the next runway (the heap growth during
// this mark) makes the next cycle start earlier.
//
// Over-assist (Go's gcOverAssistWork): an assist that runs asks for at least
// 64 KiB of scan work, and what it does beyond what it owed is this thread's
// credit, which pays for its next allocations before any assist runs. The
// total work is the same; the fixed cost of an assist (a slot, two epoch
// steps, the work lists' lock, clock readings) is paid once per 64 KiB
// instead of at every refill (binary-trees, 16-byte nodes: a refill owed
// ~2 KB of scanning).
constexpr std::uint64_t max_assist_ns = 100'000;
constexpr std::uint64_t over_assist_bytes = 64 * 1024;
constinit thread_local std::uint64_t tls_assist_heap = 0;    // heap_live at this thread's last assist
constinit thread_local std::uint64_t tls_assist_credit = 0;  // scan bytes done ahead, in cycle tls_assist_cycle
constinit thread_local std::uint64_t tls_assist_cycle = 0;
// The fast path of assist_mark (Go's gcAssistBytes: a debt paid from credit
// at a rate fixed now and then, not recomputed at every allocation). After
// a full computation that asked for work, this thread's allocation is
// charged at that computation's rate (scan bytes per allocated byte, in
// 1/65536ths) against its credit, without the pacer's arithmetic and the
// clock, until the credit runs out, the heap reaches tls_assist_fast_limit
// (the point past which assist_mark waits or gives up), or the thread has
// allocated assist_fast_window bytes since: then the full computation
// again. perf, binary-trees: the full computation at every refill (about
// every kilobyte allocated) was 3-4% of the program's thread, mostly
// returning early on credit.
constexpr std::uint64_t assist_fast_window = 64 * 1024;
constinit thread_local std::uint64_t tls_assist_rate = 0;        // in cycle tls_assist_cycle
constinit thread_local std::uint64_t tls_assist_fast_from = 0;   // heap_live at the last full computation
constinit thread_local std::uint64_t tls_assist_fast_limit = 0;  // 0: no fast path

// Past goal' (pacer.hpp step 10) with no grey object to take: the
// background workers hold what is left in their own buffers. The thread
// waits, as Go parks such an assist, until the background has scanned what
// this allocation owed, or the mark has ended, or max_owed_wait_ns has
// passed; then it allocates on. So the heap may pass goal' while the mark
// finishes, as fast as the background's scanning pays for it, and never
// past goal'' (where the thread waits for the whole cycle, wait_for_mark).
// Waiting here for the end of the mark, as before, made batches of 1-2.3 ms
// in the latency benchmark: the rest of the mark, by one worker, while the
// program stood still (benchmarks.md).
constexpr std::uint64_t max_owed_wait_ns = 1'000'000;
void wait_for_scan(state& s, std::uint64_t owed) {
  // A thread about to wait for the mark shades its barrier buffer first: the
  // mark may be waiting for exactly that (barrier.cpp, step 7), and the
  // wait, a blocking region, makes no slow-path call that would do it.
  barrier::flush_if_requested();
  const std::uint64_t target = mark::scan_work_done() + owed;
  const std::uint64_t t0 = os::monotonic_ns();
  const std::uint64_t deadline = t0 + max_owed_wait_ns;
  stack::enter_blocking();
  while (s.marking.load(std::memory_order_acquire) && mark::scan_work_done() < target &&
         os::monotonic_ns() < deadline)
    std::this_thread::yield();
  stack::exit_blocking();
  s.assist_wait_ns.fetch_add(os::monotonic_ns() - t0, std::memory_order_relaxed);
}

// Returns true if the thread must wait for the end of the cycle (Go parks
// such an assist): it is 10% past the goal (pacer.hpp step 10(b): the
// program outruns every bounded assist). Past the goal with nothing to do,
// it waits here for the background's scanning instead (wait_for_scan).
bool assist_mark(state& s) {
  const std::uint64_t heap = counters.heap_live.load(std::memory_order_relaxed);
  if (heap < tls_assist_fast_limit && heap > tls_assist_heap && heap - tls_assist_fast_from < assist_fast_window &&
      tls_assist_cycle == s.mark_cycle.load(std::memory_order_relaxed)) {
    // (heap - tls_assist_heap) < assist_fast_window and rate < 2^40 (set
    // below): the product fits.
    const std::uint64_t owed = ((heap - tls_assist_heap) * tls_assist_rate) >> 16;
    if (owed <= tls_assist_credit) {
      tls_assist_credit -= owed;
      tls_assist_heap = heap;
      return false;
    }
  }
  tls_assist_fast_limit = 0;
  const std::uint64_t start = s.mark_heap_start.load(std::memory_order_relaxed);
  const std::uint64_t scanned = mark::scan_work_done();
  const pacer::assist_pace pace =
      pacer::assist_target(start, s.mark_goal.load(std::memory_order_relaxed),
                           s.mark_hard_goal.load(std::memory_order_relaxed),
                           s.mark_expected.load(std::memory_order_relaxed), scanned, heap);
  const std::uint64_t goal = pace.goal;
  const std::uint64_t expected = pace.expected;
  const bool past_hard_bound = heap > goal;
  const std::uint64_t from = std::max(tls_assist_heap, start);
  tls_assist_heap = heap;
  if (heap <= from) return past_hard_bound;
  if (scanned >= expected) {
    if (!past_hard_bound && heap >= pace.soft) wait_for_scan(s, over_assist_bytes);
    return past_hard_bound;
  }
  const std::uint64_t remaining = expected - scanned;
  const std::uint64_t allocated = heap - from;
  // Step 11's rates: this mark's so far, with the last mark's as a prior
  // (the roots and handshakes come first, and few samples).
  // The clock read here also times the assist below.
  const std::uint64_t now = os::monotonic_ns();
  mark_rates rates{s.last_bg_rate.load(std::memory_order_relaxed), s.last_alloc_rate.load(std::memory_order_relaxed)};
  if (const mark_rates r = measure_mark_rates(s, scanned, heap, now); r.alloc > 0)
    rates = pacer::blend_rates(rates, r, now - s.mark_start_ns.load(std::memory_order_relaxed));
  std::uint64_t work = pacer::assist_work(remaining, allocated, goal, heap, rates.bg, rates.alloc);
  if (work == 0) return past_hard_bound;
  // Credit from this cycle's earlier over-assists pays first.
  const std::uint64_t cycle = s.mark_cycle.load(std::memory_order_relaxed);
  if (tls_assist_cycle != cycle) {
    tls_assist_cycle = cycle;
    tls_assist_credit = 0;
  }
  // The rate the fast path charges until the next full computation.
  constexpr std::uint64_t max_rate = std::uint64_t{1} << 40;
  tls_assist_rate = work < (std::uint64_t{1} << 47) ? std::min((work << 16) / allocated, max_rate) : max_rate;
  tls_assist_fast_from = heap;
  tls_assist_fast_limit = std::min(pace.soft, goal);
  if (work <= tls_assist_credit) {
    tls_assist_credit -= work;
    return past_hard_bound;
  }
  work -= tls_assist_credit;
  tls_assist_credit = 0;
  const std::uint64_t ask = std::min(std::max(work, over_assist_bytes), remaining);
  // Wall time, as Go's gcAssistAlloc measures it: an assist runs on its
  // thread without blocking, and the thread's CPU clock is a system call
  // (perf, binary-trees: 6% of all CPU in two readings per assist).
  const std::uint64_t t0 = now;
  bool none_left = false;
  std::uint64_t done = 0;
  {
    no_stop_scope no_stop;  // a stop must not find grey objects in this thread's buffer
    if (s.marking.load(std::memory_order_acquire)) none_left = mark::assist(ask, max_assist_ns, &done);
  }
  if (done > work) tls_assist_credit = done - work;
  s.assist_ns.fetch_add(os::monotonic_ns() - t0, std::memory_order_relaxed);
  if (done != 0) s.assist_scan.fetch_add(done, std::memory_order_relaxed);
  if (!past_hard_bound && none_left && heap >= pace.soft) wait_for_scan(s, ask > done ? ask - done : over_assist_bytes);
  return past_hard_bound;
}

// Allocation past the goal while a concurrent mark runs, with nothing left
// to assist with, or far past it (the program outruns the marker): the
// allocating thread waits for the cycle to end, inside a blocking region.
// Mark assists are the gentler mechanism; this bounds the heap.
void wait_for_mark(state& s) {
  barrier::flush_if_requested();  // as in wait_for_scan
  const std::uint64_t t0 = os::monotonic_ns();
  stack::enter_blocking();
  {
    std::unique_lock g(s.cycle_mu);
    const std::uint64_t done = s.cycles_done;
    while (s.cycles_done == done && s.marking.load(std::memory_order_acquire))
      s.cycle_done.wait_for(g, std::chrono::milliseconds(10));
  }
  stack::exit_blocking();
  // Counted in the cycle that ended meanwhile only if its record is not
  // written yet; a wait that outlasts the mark is rare (10% past the goal).
  s.assist_wait_ns.fetch_add(os::monotonic_ns() - t0, std::memory_order_relaxed);
}

GORT_NOINLINE void collect_automatic_stw(state& s);

void collect_automatic() {
  state& s = st();
  if (s.cycle_active.load(std::memory_order_acquire)) {
    if (s.marking.load(std::memory_order_acquire)) {
      // 10% past the goal: wait for the end of the cycle, in a blocking
      // region. (At 50% over, a marker short of CPU let the heap peak 17.5%
      // over the goal at GOGC=50 under ctest -j2.) Past the goal with no
      // work to help with, assist_mark waits for the background's scanning.
      if (assist_mark(s)) wait_for_mark(s);
    }
    return;
  }
  if (!s.world.try_lock()) return;  // a stop is in progress: it will stop this thread
  resolve_mode(s);
  if (s.concurrent.load(std::memory_order_relaxed)) {
    // Start a concurrent cycle here (its first stop), hand the marking to
    // the background thread, and go on allocating.
    bool started = false;
    if (!s.cycle_active.load(std::memory_order_relaxed) && want_cycle(s, pacing_heap(s))) {
      in_collector = true;
      mark::ensure_helpers();
      flush_own_mcache();
      start_concurrent_cycle(s, false);
      in_collector = false;
      started = true;
    }
    s.world.unlock();
    if (started) s.background.request(background_main);
    return;
  }
  collect_automatic_stw(s);
}

// The stop-the-world automatic cycle, with the world mutex held (released
// here). Its own function so that the 1 KiB self_context lives only in this
// frame: uninitialised in the frame of a thread that takes the concurrent
// path and then waits, its stale words would be scanned as roots.
GORT_NOINLINE void collect_automatic_stw(state& s) {
  stack::self_context self;  // this thread is scanned from here up
  stack::capture_self(self);
  bool ran = false;
  retain_bounds keep;
  if (want_cycle(s, pacing_heap(s))) {
    run_cycle(s, false, self);
    ran = true;
    keep = retain_target(s.pace);
  }
  s.world.unlock();
  wake_finalizer(s);
  if (ran) scavenge_after_cycle(keep);
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
  barrier::flush_if_requested();  // barrier.cpp, step 7
  if (in_collector) return;
  if (pacing_heap(st()) >= st().trigger.load(std::memory_order_relaxed)) {
    collect_automatic();
    // An assist ends early when a stop is pending (mark.cpp, drain_until):
    // park now rather than at the next slow path, or the stop signals.
    stack::safepoint();
  }
  if (sweep::queued_hint() > assist_threshold) {
    in_collector = true;
    sweep::run_destructors(assist_batch);
    in_collector = false;
  }
}

void on_thread_started() { register_current_thread(); }
void on_thread_exiting() {
  if (scope_depth == 0) {
    barrier::detach_thread();
    stack::unregister_thread();
  }
}
void on_park() { flush_own_mcache(); }

// ---- fork -------------------------------------------------------------------------

// Order: the world mutex (no cycle runs across fork), then src/stack (which
// must come before any rank_mutex), then the runtime's locks, so that the
// child finds every structure consistent and every lock free.
void fork_prepare() {
  state& s = st();
  // No cycle may be half done across fork: the child has no thread to
  // finish it. Wait for an active concurrent cycle to end.
  lock_world(s);
  wait_for_active_cycle(s);
  finish_sweep(s);  // no span may be left claimed by a sweeper the child will not have
  stack::atfork_prepare();
  alloc_atfork_prepare();
  roots::atfork_prepare();
  sweep::atfork_prepare();
  mark::atfork_prepare();
  barrier::atfork_prepare();
}
void fork_parent() {
  barrier::atfork_parent();
  mark::atfork_parent();
  sweep::atfork_parent();
  roots::atfork_release();
  alloc_atfork_parent();
  stack::atfork_parent();
  st().world.unlock();
}
void fork_child() {
  barrier::atfork_child();  // the last lock prepare took: released first
  sweep::atfork_child();
  roots::atfork_release();
  alloc_atfork_child();
  stack::atfork_child();
  mark::atfork_child();
  scavenger::atfork_child();
  state& s = st();
  {
    // The finalizer and background threads do not exist in the child.
    s.finalizer.reset_after_fork();
    s.background.reset_after_fork();
    new (&s.cycle_mu) std::mutex();
    new (&s.cycle_done) std::condition_variable();
  }
  s.world.unlock();
}

}  // namespace

int init() {
  static const int once = [] {
    alloc_init();  // its thread-exit key before src/stack's (alloc.hpp)
    // Build the lazily built singletons now, while the program has one
    // thread: one still under construction in another thread when the
    // process forks would leave the child's fork handlers waiting forever
    // on its initialisation guard.
    scavenger::init();
    page_heap::instance();
    central(0);
    (void)mark::grey_pending();
    (void)roots::range_bytes();
    state& s = st();
    s.pace.set_gc_percent(gogc_from_environment());
    s.pace.set_memory_limit(memory_limit_from_environment());
    s.trigger.store(s.pace.enabled() ? s.pace.trigger() : ~std::uint64_t{0}, std::memory_order_relaxed);
    hooks.slow_path = on_slow_path;
    hooks.thread_started = on_thread_started;
    hooks.thread_exiting = on_thread_exiting;
    hooks.sweep_span = sweep::sweep_span;
    hooks.sweep_owned_span = sweep::sweep_owned_span;
    hooks.enter_blocking = stack::enter_blocking;
    hooks.exit_blocking = stack::exit_blocking;
    stack::set_park_callback(on_park);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    return 1;
  }();
  return once;
}

void (*test_after_mark)() = nullptr;
void (*test_during_mark)() = nullptr;
bool test_minor_always = false;

std::uint64_t limited_triggers() { return st().limited.load(std::memory_order_relaxed); }

bool test_fractional_only = false;
bool test_helpers_leave = false;
std::uint64_t minor_cycles() { return st().minor_count.load(std::memory_order_relaxed); }

bool set_generational(bool on) {
  init();
  state& s = st();
  lock_world(s);
  std::lock_guard g(s.world, std::adopt_lock);
  resolve_mode(s);
  const bool old = s.generational;
  set_generational_locked(s, on);
  return old;
}
std::uint64_t last_termination_scan_bytes() { return termination_scan_bytes.load(std::memory_order_relaxed); }
pacing_snapshot last_cycle_pacing() {
  state& s = st();
  lock_world(s);
  std::lock_guard g(s.world, std::adopt_lock);
  return {s.pace.heap_marked(), s.last_black, s.pace.heap_goal()};
}


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
  const std::uint64_t elapsed = ns_since(s.start) * static_cast<std::uint64_t>(os::usable_cpus());
  out.gc_cpu_fraction = elapsed ? static_cast<double>(g2.gc_cpu_ns) / static_cast<double>(elapsed) : 0.0;
}

}  // namespace gc::internal::collector

namespace gc::internal::collector {

// Runs every queued destructor on this thread, then waits for those
// another thread (the finalizer thread) claimed. A registered thread.
void drain_destructors() {
  in_collector = true;
  sweep::run_destructors();
  in_collector = false;
  clear_stack_below();
  while (sweep::pending_destructors() != 0) {
    blocking_region quiet;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

// gc::collect() (forced), and collect_unforced for tests: one whole cycle,
// its sweep finished and its destructors run. Not inlined: its callers
// clear the stack its frame will take (gc::collect()).
GORT_NOINLINE void collect_cycle(bool forced) {
  collector::init();
  // Registered for the duration: the destructors this thread runs below keep
  // their objects alive only through its frames, which a cycle started by
  // another thread must scan.
  thread_scope registered;
  collector::state& s = collector::st();
  // The destructors already queued run first. A queued object is a root
  // until its destructor has run (sweep.hpp step 4), so it would keep what
  // it points to through this cycle, and gc::collect() would return with
  // those objects unreachable and not reclaimed. Objects that die together
  // are queued together, but not always: a minor cycle (GODEBUG=gcgen=1)
  // queues the young part of a dead list and leaves its old part to a full
  // cycle (seen: 1109 nodes of a thread's list left after gc::collect() in
  // the thread-churn test).
  drain_destructors();
  collector::retain_bounds keep;
  collector::lock_world(s);
  collector::wait_for_active_cycle(s);  // Go's runtime.GC also finishes the running cycle first
  collector::resolve_mode(s);
  // This thread is scanned from here up (run_cycle). Captured after the
  // calls above: callee-saved registers still holding what the program's
  // last calls left in them are scanned (they may be live in a caller), and
  // the fewer such stale values, the less garbage is kept by mistake.
  stack::self_context self;
  stack::capture_self(self);
  if (s.concurrent.load(std::memory_order_relaxed)) {
    // The whole concurrent cycle on this thread: the stops, and the marking
    // between them while other threads run.
    collector::in_collector = true;
    mark::ensure_helpers();
    flush_own_mcache();
    collector::start_concurrent_cycle(s, forced);
    s.world.unlock();
    collector::concurrent_mark(s, &self);
    keep = collector::finish_concurrent_cycle(s, self);
    collector::in_collector = false;
  } else {
    std::lock_guard g(s.world, std::adopt_lock);
    collector::run_cycle(s, forced, self);
    keep = collector::retain_target(s.pace);
  }
  // Finish the sweep (gc::collect promises every unreachable object
  // reclaimed), then run the destructors it queued (and any earlier ones).
  collector::in_collector = true;
  collector::finish_sweep(s);
  collector::in_collector = false;
  drain_destructors();
  collector::scavenge_to(keep.both());
  scavenger::set_goal(keep.both());  // the thread, if releasing, stops at the same bound
}

void collect_unforced() {
  clear_stack_below();  // as gc::collect()
  collect_cycle(false);
}

}  // namespace gc::internal::collector

namespace gc {

using namespace gc::internal;

int internal::collector_init() { return collector::init(); }

void collect() {
  // collect_cycle's frame goes where this clears (it is not inlined): its
  // slots not yet written when it captures its registers and scans its own
  // stack (spill slots, locals of later branches) then hold zeros, not what
  // the program's earlier, deeper calls left there. Seen: four such words,
  // between the capture's stack pointer and its context, kept the last 48 to
  // 918 nodes of a dead list through gc::collect() (gc threads churn test,
  // under gcgen=1, about one run in ten).
  collector::clear_stack_below();
  collector::collect_cycle(true);
}

bool set_concurrent_marking(bool on) {
  collector::init();
  collector::state& s = collector::st();
  collector::lock_world(s);
  std::lock_guard g(s.world, std::adopt_lock);
  collector::resolve_mode(s);
  const bool old = s.concurrent.exchange(on, std::memory_order_relaxed);
  s.pace.set_concurrent(on);
  s.trigger.store(s.pace.enabled() ? s.pace.trigger() : ~std::uint64_t{0}, std::memory_order_relaxed);
  return old;
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
  collector::init();
  if (collector::scope_depth++ == 0) collector::register_current_thread();
}

thread_scope::~thread_scope() {
  if (--collector::scope_depth == 0 && mcache_is_empty_sentinel(tls_mcache)) {
    barrier::detach_thread();
    stack::unregister_thread();
  }
}

namespace {
// Bit d set: the blocking_region at nesting depth d entered the stack layer's
// region (the thread was registered then). Nesting beyond 64 enters nothing more.
constinit thread_local std::uint64_t blocking_entered = 0;
constinit thread_local int blocking_depth = 0;
}  // namespace

// Never inlined (even under LTO): GORT_FRAME_CFA must be this frame's.
GORT_NOINLINE blocking_region::blocking_region() {
  // The caller's callee-saved registers are spilled into this frame, which
  // is saved with the region (this constructor returns before it ends).
  __builtin_unwind_init();
  const int d = blocking_depth++;
  if (d >= 64 || stack::current_thread() == nullptr) return;
  flush_own_mcache();  // no half-used window may stay cached while the stack is scanned unstopped
  stack::enter_blocking_from(GORT_FRAME_CFA());
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
  internal::release_all_kept_empty();  // mcentral.hpp step 6
  page_heap::instance().release_all();
}

}  // namespace gc
