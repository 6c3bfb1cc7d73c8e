// bench/alloc_bench.cpp: allocation micro-benchmarks of gort's gc_new against
// the malloc+free pair of glibc, mimalloc and jemalloc.
//
// What is measured
//   For each size in {8, 16, 64, 256, 4096, 65536} bytes, single-threaded and
//   with two threads each running the same loop:
//   - gort/<size>: gc::gc_new<T>() in a loop. T is std::uint64_t for size 8
//     (pointer-free, so the tiny allocator packs two of them into a 16-byte
//     block of a noscan span) and payload<size> (an array of void*, so a
//     "scan" span: the usual gc object) for the others. 65536 is a large
//     object: its own 8-page span straight from the page heap.
//   - glibc/<size>, mimalloc/<size>, jemalloc/<size>: one allocation and one
//     free per iteration, through each allocator's own entry point:
//     __libc_malloc/__libc_free, mi_malloc/mi_free, mallocx/dallocx. (Both
//     libmimalloc and Debian's unprefixed libjemalloc export `malloc`, so the
//     plain malloc of this process goes to one of them; calling each through
//     its own API keeps every column the allocator it names.)
//
// How gort is timed
//   Nothing is reclaimed until the collector lands, so an endless gc_new loop
//   would grow without bound. Each thread keeps the pointers of its last
//   batch_bytes (1 MiB, at least 16 objects) of allocations in a preallocated
//   vector; when the batch is full the timer is paused, the batch is handed to
//   the test-only gc::internal::testing::free_objects (which flushes the
//   thread's mcache first), and the timer resumes. For the tiny size only the
//   first object of each 16-byte block is freed (the second is not the start
//   of a gc object). The timed part is thus the inline fast path plus its
//   amortized refills: new 64-object windows, spans from the central lists,
//   pages from the page heap. Reclamation is NOT timed for gort, while the
//   malloc peers pay for their free on every iteration.
//
// Caveats (read before quoting a number)
//   - Not like for like, in both directions. gort is flattered: its frees are
//     untimed (a sweep will cost something once the collector exists). gort
//     is handicapped: it hands out zeroed memory (malloc does not zero) and
//     walks through 1 MiB of fresh objects per batch, as a gc allocator does
//     between collections, whereas a malloc+free pair reuses one hot block.
//     At 4096 and 65536 bytes the zeroing dominates gort's time; at 65536
//     gort also takes the page-heap lock for every object.
//   - gort's figures are whatever gc_new compiles to today: one clear of the
//     object (gc_new<T>() with no arguments does not value-initialise a
//     trivially constructible T a second time), inline stores up to 64
//     bytes, libc's memset above (a constant-size clear compiled inline
//     becomes `rep stosq`, slow to start on some CPUs). Check the
//     disassembly of BM_gort<N> before explaining a surprising size.
//   - Pausing the timer costs a few clock reads per batch; at 65536 bytes a
//     batch is only 16 objects, so that overhead is spread over 16 ops.
//   - Threads: Google Benchmark reports for threads:2 the real time per op as
//     (mean per-thread wall time) / (ops of all threads), i.e. an aggregate
//     throughput figure; bench/report.py multiplies it by the thread count to
//     show the wall time each thread spent per op. The threads free their
//     batches together (all pause, meet at a barrier, free, meet, resume), so
//     that one thread's untimed frees do not run against the other's timed
//     allocations: free_objects takes a central-list lock per object, gort's
//     locks are sleeping std::mutexes, and a refill that hits one would sleep
//     for the other thread's free loop (that made threads:2 several times
//     slower per op in an unsynchronised version). So threads:2 measures
//     allocation against allocation only. Objects in a span that another
//     thread's mcache owns are not freed; the "unfreed" counter says how many
//     stayed behind in the reported run.
//   - Real time everywhere (UseRealTime): on a loaded machine that includes
//     time the thread was descheduled. Repeat runs before trusting a digit
//     (--benchmark_repetitions=5: report.py then uses the medians).
//   - Debian's libbenchmark is built as "DEBUG" (it warns so); that affects
//     the library's bookkeeping between timed loops, not the loops.
#include <algorithm>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include <benchmark/benchmark.h>
#include <jemalloc/jemalloc.h>
#include <mimalloc.h>

#include <gort/gort.hpp>
#include <gort/internal/testing.hpp>

// glibc's own allocator, whatever `malloc` resolves to in this process.
extern "C" void* __libc_malloc(std::size_t size);
extern "C" void __libc_free(void* p);

namespace {

// ---- gort --------------------------------------------------------------------

// A scan object of N bytes: the collector would scan its words.
template <std::size_t N>
struct payload {
  void* words[N / 8];
};

template <std::size_t N>
struct gc_type {
  using type = payload<N>;
};
template <>
struct gc_type<8> {
  using type = std::uint64_t;  // noscan and < 16 bytes: the tiny allocator
};

template <class T>
inline constexpr bool uses_tiny = gc::is_pointer_free_v<T> && std::is_trivially_destructible_v<T> &&
                                  sizeof(T) < gc::internal::tiny_block_bytes;

constexpr std::size_t batch_bytes = std::size_t{1} << 20;
constexpr std::size_t min_batch_objects = 16;

template <class T>
inline constexpr std::size_t batch_objects = std::max(min_batch_objects, batch_bytes / sizeof(T));

// Frees the n objects at ptrs (untimed); returns how many were meant to be
// freed but stayed allocated (spans owned by another thread's mcache).
template <class T>
std::size_t free_batch(std::vector<void*>& ptrs, std::size_t n) {
  if constexpr (uses_tiny<T>) {
    // Tiny objects share 16-byte blocks; only a block's start is a gc object.
    // A batch never straddles blocks: free_objects' flush drops the thread's
    // current tiny block, so the next batch starts a fresh one.
    std::size_t m = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (reinterpret_cast<std::uintptr_t>(ptrs[i]) % gc::internal::tiny_block_bytes == 0) ptrs[m++] = ptrs[i];
    n = m;
  }
  if (n == 0) return 0;
  return n - gc::internal::testing::free_objects(ptrs.data(), n);
}

// With several threads, every thread frees its batches at the same moment:
// all threads pause, meet, free, meet again and resume. Otherwise one
// thread's untimed free_objects (a lock per object on the central lists and
// the page heap) would run against the other's timed allocations, whose
// refills then sleep on those locks, and the timed figure would mostly
// measure the test-only free path. Google Benchmark gives every thread the
// same iteration count, so all threads reach the same number of batch ends.
class batch_sync {
 public:
  explicit batch_sync(int threads) : b_(threads > 1 ? barrier_for(threads) : nullptr) {}
  void arrive_and_wait() {
    if (b_ != nullptr) b_->arrive_and_wait();
  }

 private:
  static std::barrier<>* barrier_for(int threads) {
    static std::mutex mu;
    static std::map<int, std::unique_ptr<std::barrier<>>> barriers;  // never destroyed while in use
    std::lock_guard g(mu);
    auto& b = barriers[threads];
    if (!b) b = std::make_unique<std::barrier<>>(threads);
    return b.get();
  }
  std::barrier<>* b_;
};

template <std::size_t N>
const char* gort_label() {
  if constexpr (uses_tiny<typename gc_type<N>::type>) {
    return "tiny: uint64 noscan, 2 per 16B block; alloc only, reclamation untimed";
  } else if constexpr (N > gc::internal::max_small_size) {
    return "large: own span from the page heap, zeroed; alloc only, reclamation untimed";
  } else {
    return "scan span (void* array); alloc only, reclamation untimed";
  }
}

template <std::size_t N>
void BM_gort(benchmark::State& state) {
  using T = typename gc_type<N>::type;
  static_assert(sizeof(T) == N);
  constexpr std::size_t batch = batch_objects<T>;
  std::vector<void*> ptrs(batch);
  std::size_t n = 0;
  std::size_t unfreed = 0;
  batch_sync sync(state.threads());
  for (auto _ : state) {
    T* p = gc::gc_new<T>();
    benchmark::DoNotOptimize(p);
    ptrs[n++] = p;
    if (n == batch) [[unlikely]] {
      state.PauseTiming();
      sync.arrive_and_wait();
      unfreed += free_batch<T>(ptrs, n);
      n = 0;
      sync.arrive_and_wait();
      state.ResumeTiming();
    }
  }
  sync.arrive_and_wait();  // the timer is already stopped here
  unfreed += free_batch<T>(ptrs, n);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["unfreed"] = benchmark::Counter(static_cast<double>(unfreed));
  state.counters["batch"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kAvgThreads);
  state.SetLabel(gort_label<N>());
}

// ---- malloc peers ---------------------------------------------------------------

struct glibc_api {
  static void* alloc(std::size_t n) { return __libc_malloc(n); }
  static void release(void* p) { __libc_free(p); }
};
struct mimalloc_api {
  static void* alloc(std::size_t n) { return mi_malloc(n); }
  static void release(void* p) { mi_free(p); }
};
struct jemalloc_api {
  static void* alloc(std::size_t n) { return mallocx(n, 0); }
  static void release(void* p) { dallocx(p, 0); }
};

template <class Api, std::size_t N>
void BM_malloc_free(benchmark::State& state) {
  for (auto _ : state) {
    void* p = Api::alloc(N);
    benchmark::DoNotOptimize(p);
    Api::release(p);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetLabel("malloc+free pair");
}

// ---- registration ----------------------------------------------------------------

void configure(benchmark::internal::Benchmark* b) { b->UseRealTime()->Threads(1)->Threads(2); }

template <std::size_t N>
void register_size() {
  const std::string size = "/" + std::to_string(N);
  configure(benchmark::RegisterBenchmark(("gort" + size).c_str(), BM_gort<N>));
  configure(benchmark::RegisterBenchmark(("glibc" + size).c_str(), BM_malloc_free<glibc_api, N>));
  configure(benchmark::RegisterBenchmark(("mimalloc" + size).c_str(), BM_malloc_free<mimalloc_api, N>));
  configure(benchmark::RegisterBenchmark(("jemalloc" + size).c_str(), BM_malloc_free<jemalloc_api, N>));
}

}  // namespace

int main(int argc, char** argv) {
  // The batches live in std::vectors, which the collector does not scan:
  // automatic collection must stay off (each batch is freed by hand, untimed).
  gc::set_gc_percent(-1);
  register_size<8>();
  register_size<16>();
  register_size<64>();
  register_size<256>();
  register_size<4096>();
  register_size<65536>();

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("gort_batch_bytes", std::to_string(batch_bytes));
  benchmark::AddCustomContext("gort_reclamation", "excluded from timing (test-only free of each batch, timer paused)");
  benchmark::AddCustomContext("gort_debug_checks", std::to_string(GORT_DEBUG));
  benchmark::AddCustomContext("threaded_real_time", "Google Benchmark: wall time / ops of all threads");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
