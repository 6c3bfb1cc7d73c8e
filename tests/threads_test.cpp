// tests/threads_test.cpp: deterministic multi-threaded stress of the
// allocator: many threads allocating at once never get overlapping objects.
//
// Each thread runs a fixed pseudo-random sequence (seeded by its index) of
// allocations over many size classes, tiny, small and large, and writes a
// pattern naming (thread, object) into every byte of each object. After all
// threads join, every object must still hold its own pattern, and sorting all
// objects by address must show no overlap. Threads also free some of their
// objects (test-only free) so that slots are reused while others allocate.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>
#include <gort/internal/testing.hpp>

#include <algorithm>
#include <cstring>
#include <thread>

#include "alloc/alloc.hpp"
#include "test_util.hpp"

namespace {

struct record {
  unsigned char* p;
  std::size_t size;
  unsigned char tag;
};

std::size_t pick_size(std::uint64_t& seed) {
  seed = seed * 6364136223846793005ull + 1442695040888963407ull;
  std::uint64_t r = seed >> 33;
  switch (r % 8) {
    case 0: return 1 + r % 15;          // tiny (noscan char arrays)
    case 1: return 16;
    case 2: return 8 + (r % 64) * 8;    // 8..512
    case 3: return 512 + r % 3000;
    case 4: return 4096;
    case 5: return 24 + r % 200;
    case 6: return r % 50 == 0 ? 40000 + r % 200000 : 100;  // sometimes large
    default: return 1 + r % 32768;
  }
}

// Runs in a worker thread: no Catch2 assertions here (they are not
// thread-safe); problems are counted in `bad` and checked by the main thread.
void worker(int id, int count, std::vector<record>& out, int& bad) {
  std::uint64_t seed = 0x9E3779B97F4A7C15ull * (id + 1);
  std::vector<record> mine;
  std::vector<void*> to_free;
  for (int i = 0; i < count; ++i) {
    std::size_t n = pick_size(seed);
    unsigned char tag = static_cast<unsigned char>((id * 31 + i) | 1);
    unsigned char* p = (i % 3 == 0) ? reinterpret_cast<unsigned char*>(gc::gc_new<void*[]>((n + 7) / 8))
                                    : gc::gc_new<unsigned char[]>(n);
    if (i % 3 == 0) n = (n + 7) / 8 * 8;
    for (std::size_t k = 0; k < n; ++k) bad += p[k] != 0;  // fresh memory is zeroed
    std::memset(p, tag, n);
    const bool tiny = i % 3 != 0 && n < 16;  // shares a block: cannot be freed on its own
    if (i % 7 == 6 && !tiny) {
      to_free.push_back(p);
    } else {
      mine.push_back({p, n, tag});
    }
    if (to_free.size() == 64) {
      gc::internal::testing::free_objects(to_free.data(), to_free.size());
      to_free.clear();
    }
  }
  out = std::move(mine);
}

}  // namespace

TEST_CASE("threads: concurrent allocation never hands out overlapping memory", "[threads]") {
  const int nthreads = 4;
  // Under TSan a third: there the byte-by-byte check below took 30 s of
  // make test's budget (2026-12-02), the longest test in the suite.
  const int per_thread = gort_test::tsan ? 10000 : 30000;
  std::vector<std::vector<record>> results(nthreads);
  std::vector<int> bad(nthreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < nthreads; ++t)
    threads.emplace_back(worker, t, per_thread, std::ref(results[t]), std::ref(bad[t]));
  for (auto& t : threads) t.join();
  for (int t = 0; t < nthreads; ++t) CHECK(bad[t] == 0);

  std::vector<record> all;
  for (auto& r : results) all.insert(all.end(), r.begin(), r.end());
  REQUIRE(all.size() > nthreads * per_thread / 2);
  for (const record& r : all) {
    for (std::size_t k = 0; k < r.size; ++k) {
      if (r.p[k] != r.tag) FAIL("object " << static_cast<void*>(r.p) << " byte " << k << " was overwritten");
    }
  }
  std::sort(all.begin(), all.end(), [](const record& a, const record& b) { return a.p < b.p; });
  for (std::size_t i = 1; i < all.size(); ++i) {
    if (all[i - 1].p + all[i - 1].size > all[i].p)
      FAIL("objects " << static_cast<void*>(all[i - 1].p) << " and " << static_cast<void*>(all[i].p) << " overlap");
  }
  gc::internal::testing::verify_heap();
  gc::mem_stats st = gc::read_mem_stats();
  CHECK(st.heap_objects >= all.size() / 2);  // tiny objects share blocks
}

TEST_CASE("threads: threads created and exiting in a loop leave a consistent heap", "[threads]") {
  const std::uint64_t mallocs_before = gc::read_mem_stats().mallocs;  // other cases may run in this process first
  std::vector<void*> kept;
  for (int round = 0; round < 50; ++round) {
    std::vector<std::thread> ts;
    std::vector<void*> got(3);
    for (int t = 0; t < 3; ++t) {
      ts.emplace_back([&got, t] {
        void* last = nullptr;
        for (int i = 0; i < 300; ++i) last = gc::gc_new<void*[]>(1 + i % 40);
        got[t] = last;
      });
    }
    for (auto& t : ts) t.join();
    kept.insert(kept.end(), got.begin(), got.end());
  }
  for (void* p : kept) CHECK(gc::internal::find_object(p).base == p);
  gc::mem_stats st = gc::read_mem_stats();
  CHECK(st.mallocs - mallocs_before == 50u * 3 * 300);
  // Exited threads' caches are unregistered and pooled: at most the main
  // thread's is live, and no more caches were ever made than threads ran at once.
  CHECK(st.mcache_inuse <= sizeof(gc::internal::mcache));
  CHECK(st.mcache_sys <= 4 * sizeof(gc::internal::mcache));
  gc::internal::testing::verify_heap();
}
