// latency: pause times under a large live heap (issue 4's benchmark), over
// one of two collectors, picked at compile time by exactly one of:
//
//   LAT_GORT    gc::gc_new, slots and links are gc::member (barriered)
//   LAT_BOEHM   GC_MALLOC, plain pointers (Boehm GC)
//
// The same program is bench/latency/latency.go. Algorithm:
//   1. slots: an array of `slots` pointers, each to a list of 3 nodes of 32
//      bytes (2,000,000 slots: about 200 MB live).
//   2. `replacements` times: pick a slot at random (xorshift64*, fixed seed)
//      and point it at a fresh 3-node list; the old list is garbage.
//   3. Every batch of 1000 replacements is timed (steady clock); a batch
//      that contains a collection's stop, or a mark assist, is slow.
//   4. With LAT_SPINNERS=n in the environment, n more threads spin on
//      arithmetic, registered with the collector but never allocating: a
//      stop must interrupt them (gort and Boehm by signal, Go by async
//      preemption), and they compete with the collector for the cores.
//   5. With LAT_SLOW=us in the environment, each batch slower than that
//      many microseconds is printed to stderr as it ends ("SLOW @t d us",
//      t in seconds since main began), to set beside gctrace's lines, with
//      the steady clock's reading at its start (abs, seconds: perf record
//      -k CLOCK_MONOTONIC uses the same clock) and what the thread did
//      meanwhile: its CPU time, its voluntary and involuntary context
//      switches and its minor page faults. A batch whose CPU time is far
//      below its time waited: blocked (vcsw) or preempted (ivcsw), on this
//      2-vCPU VM often by another process (twenty-third session).
// Output (stdout, one line): over1ms and over2ms (batches slower than 1
// and 2 ms), total_s, median_us, p99_us, p999_us, worst_us, cycles, and
// for Boehm longest_stop_us (gort's and Go's stops come from their gctrace
// lines, which run.py reads from stderr).
//
//   lat_<variant> [slots [replacements]]    defaults 2000000 20000000
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <time.h>

#include "batch_common.hpp"

#if (defined(LAT_GORT) + defined(LAT_BOEHM)) != 1
#error "define exactly one of LAT_GORT, LAT_BOEHM"
#endif

#if defined(LAT_GORT)
#include <gort/gort.hpp>
#else
#define GC_THREADS  // thread registration (the spinning threads, step 4)
#include <gc.h>
#endif

namespace {

using clock_type = std::chrono::steady_clock;

#if defined(LAT_GORT)
struct node {
  gc::member<node> next;
  long a, b, c;
};
using slot_type = gc::member<node>;
node* new_node(node* next, long v) {
  node* n = gc::gc_new<node>();
  n->next = next;
  n->a = v;
  return n;
}
#else
struct node {
  node* next;
  long a, b, c;
};
using slot_type = node*;
node* new_node(node* next, long v) {
  auto* n = static_cast<node*>(GC_MALLOC(sizeof(node)));
  if (n == nullptr) {
    std::fputs("latency: out of memory\n", stderr);
    std::abort();
  }
  n->next = next;
  n->a = v;
  return n;
}
// Boehm's stops: the whole collection (it is stop-the-world here).
clock_type::time_point gc_started;
std::int64_t longest_stop_ns = 0;
void on_event(GC_EventType e) {
  if (e == GC_EVENT_START) gc_started = clock_type::now();
  if (e == GC_EVENT_END) {
    const auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - gc_started).count();
    longest_stop_ns = std::max<std::int64_t>(longest_stop_ns, d);
  }
}
#endif

node* make_list(long v) { return new_node(new_node(new_node(nullptr, v + 2), v + 1), v); }

using batch_common::next_random;

double percentile(std::vector<std::int64_t>& sorted, double p) {
  const std::size_t i = std::min(sorted.size() - 1, static_cast<std::size_t>(p * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[i]) / 1000.0;
}

long parse(const char* s, long fallback) {
  return batch_common::parse_positive(s, fallback, "lat [slots [replacements]]");
}

// Step 4: a thread that spins until `stop`, registered with the collector.
void spin(const std::atomic<bool>* stop) {
#if defined(LAT_GORT)
  gc::thread_scope registered;
#else
  GC_stack_base sb;
  GC_get_stack_base(&sb);
  GC_register_my_thread(&sb);
#endif
  volatile std::uint64_t x = 1;
  while (!stop->load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1442695040888963407ull;
#if defined(LAT_BOEHM)
  GC_unregister_my_thread();
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const long nslots = parse(argc > 1 ? argv[1] : nullptr, 2'000'000);
  const long replacements = parse(argc > 2 ? argv[2] : nullptr, 20'000'000);
  constexpr long batch = 1000;
  const auto main_start = clock_type::now();
  const long slow_ns = std::getenv("LAT_SLOW") ? std::atol(std::getenv("LAT_SLOW")) * 1000 : 0;

#if defined(LAT_GORT)
  gc::root<slot_type> keep(gc::gc_new<slot_type[]>(static_cast<std::size_t>(nslots)));
  slot_type* slots = keep.get();
#else
  GC_INIT();
  GC_set_on_collection_event(on_event);
  auto* slots = static_cast<slot_type*>(GC_MALLOC(sizeof(slot_type) * static_cast<std::size_t>(nslots)));
#endif
  for (long i = 0; i < nslots; ++i) slots[i] = make_list(i);
#if defined(LAT_BOEHM)
  GC_allow_register_threads();
#endif
  std::atomic<bool> stop_spinners{false};
  std::vector<std::thread> spinners;
  for (long i = 0; i < (std::getenv("LAT_SPINNERS") ? std::atol(std::getenv("LAT_SPINNERS")) : 0); ++i)
    spinners.emplace_back(spin, &stop_spinners);

  std::vector<std::int64_t> batches;
  batches.reserve(static_cast<std::size_t>(replacements / batch + 1));
  const auto start = clock_type::now();
  struct thread_usage {
    double cpu_us = 0;
    rusage ru{};
    void read() {
      timespec c{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
      cpu_us = static_cast<double>(c.tv_sec) * 1e6 + static_cast<double>(c.tv_nsec) / 1e3;
      getrusage(RUSAGE_THREAD, &ru);
    }
  } u0, u1;
  for (long done = 0; done < replacements; done += batch) {
    if (slow_ns != 0) u0.read();  // step 5
    const auto t0 = clock_type::now();
    for (long k = 0; k < batch; ++k) {
      const auto i = static_cast<std::size_t>(next_random() % static_cast<std::uint64_t>(nslots));
      slots[i] = make_list(static_cast<long>(i));
    }
    batches.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count());
    if (slow_ns != 0 && batches.back() > slow_ns) {  // step 5
      u1.read();
      std::fprintf(stderr, "SLOW @%.3f %.0f us abs %.6f cpu %.0f us vcsw %ld ivcsw %ld minflt %ld\n",
                   std::chrono::duration<double>(t0 - main_start).count(), static_cast<double>(batches.back()) / 1000.0,
                   std::chrono::duration<double>(t0.time_since_epoch()).count(), u1.cpu_us - u0.cpu_us,
                   u1.ru.ru_nvcsw - u0.ru.ru_nvcsw, u1.ru.ru_nivcsw - u0.ru.ru_nivcsw, u1.ru.ru_minflt - u0.ru.ru_minflt);
    }
  }
  const double total = std::chrono::duration<double>(clock_type::now() - start).count();
  stop_spinners = true;
  for (auto& t : spinners) t.join();

  // Check the structure survived: every slot a 3-node list with its values.
  long bad = 0;
  for (long i = 0; i < nslots; ++i) {
    const node* n = slots[i];
    bad += !(n && n->a == i && n->next && n->next->a == i + 1 && n->next->next && n->next->next->a == i + 2 &&
             !n->next->next->next);
  }
  if (bad != 0) {
    std::fprintf(stderr, "latency: %ld slots corrupted\n", bad);
    return 1;
  }

  std::sort(batches.begin(), batches.end());
  // The tail in counts (less noisy than one worst batch): batches over 1 and 2 ms.
  const auto over = [&](std::int64_t ns) {
    return static_cast<long>(batches.end() - std::upper_bound(batches.begin(), batches.end(), ns));
  };
  std::printf("over1ms=%ld over2ms=%ld ", over(1'000'000), over(2'000'000));
#if defined(LAT_GORT)
  const unsigned cycles = gc::read_mem_stats().num_gc;
  std::printf("total_s=%.3f median_us=%.1f p99_us=%.1f p999_us=%.1f worst_us=%.1f cycles=%u\n", total,
              percentile(batches, 0.5), percentile(batches, 0.99), percentile(batches, 0.999),
              static_cast<double>(batches.back()) / 1000.0, cycles);
#else
  std::printf("total_s=%.3f median_us=%.1f p99_us=%.1f p999_us=%.1f worst_us=%.1f cycles=%lu longest_stop_us=%.1f\n",
              total, percentile(batches, 0.5), percentile(batches, 0.99), percentile(batches, 0.999),
              static_cast<double>(batches.back()) / 1000.0, static_cast<unsigned long>(GC_get_gc_no()),
              static_cast<double>(longest_stop_ns) / 1000.0);
#endif
  return 0;
}
