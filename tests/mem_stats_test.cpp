// tests/mem_stats_test.cpp: gc::read_mem_stats counts what was allocated,
// with Go's rules (see mem_stats in <gort/gort.hpp>).
#include <catch2/catch.hpp>

#include <gort/gort.hpp>
#include <gort/internal/testing.hpp>

#include <thread>

#include "alloc/alloc.hpp"
#include "test_util.hpp"

using namespace gc::internal;
using gort_test::payload;

TEST_CASE("mem_stats: small, tiny and large allocations are counted exactly", "[mem_stats]") {
  gc::mem_stats s0 = gc::read_mem_stats();
  const int c16 = class_for(16, 8);
  for (int i = 0; i < 1000; ++i) gc::gc_new<payload<16>>();
  gc::mem_stats s1 = gc::read_mem_stats();
  CHECK(s1.mallocs - s0.mallocs == 1000);
  CHECK(s1.by_size[c16].mallocs - s0.by_size[c16].mallocs == 1000);
  CHECK(s1.by_size[c16].size == 16);
  CHECK(s1.heap_alloc - s0.heap_alloc == 16000);
  CHECK(s1.total_alloc - s0.total_alloc == 16000);
  CHECK(s1.heap_objects - s0.heap_objects == 1000);

  // Tiny: ten 4-byte ints in fresh blocks of four. Go counts each request in
  // mallocs, each block as one heap object.
  while (tls_mcache->tiny_offset != tiny_block_bytes) gc::gc_new<char>();
  gc::mem_stats s2 = gc::read_mem_stats();
  for (int i = 0; i < 12; ++i) gc::gc_new<std::uint32_t>(1u);
  gc::mem_stats s3 = gc::read_mem_stats();
  CHECK(s3.mallocs - s2.mallocs == 12);
  CHECK(s3.heap_objects - s2.heap_objects == 3);
  CHECK(s3.tiny_allocs - s2.tiny_allocs == 9);
  CHECK(s3.heap_alloc - s2.heap_alloc == 48);

  // Large: a 100000-byte object takes 13 pages.
  void* big = gc::gc_new<char[]>(100000);
  gc::mem_stats s4 = gc::read_mem_stats();
  CHECK(s4.mallocs - s3.mallocs == 1);
  CHECK(s4.heap_alloc - s3.heap_alloc == 13 * page_bytes);
  CHECK(s4.spans_inuse - s3.spans_inuse == 1);

  // Frees (test-only) are counted too; total_alloc never falls.
  REQUIRE(testing::free_objects(&big, 1) == 1);
  gc::mem_stats s5 = gc::read_mem_stats();
  CHECK(s5.frees - s4.frees == 1);
  CHECK(s5.heap_alloc == s3.heap_alloc);
  CHECK(s5.total_alloc == s4.total_alloc);
  CHECK(s5.heap_objects == s3.heap_objects);
}

TEST_CASE("mem_stats: heap sizes add up", "[mem_stats]") {
  for (int i = 0; i < 5000; ++i) gc::gc_new<payload<512>>();
  gc::gc_new<char[]>(3u << 20);
  gc::mem_stats st = gc::read_mem_stats();
  CHECK(st.heap_sys == st.heap_inuse + st.heap_idle);
  CHECK(st.heap_inuse >= st.heap_alloc);
  CHECK(st.heap_alloc >= 5000 * 512 + (3u << 20));
  CHECK(st.heap_released <= st.heap_idle);
  CHECK(st.sys >= st.heap_sys + st.mspan_sys + st.mcache_sys);
  CHECK(st.mspan_inuse <= st.mspan_sys);
  CHECK(st.mcache_inuse <= st.mcache_sys);
  CHECK(st.alloc == st.heap_alloc);
  CHECK(st.num_gc == 0);  // no collector yet
  CHECK(st.next_gc == 0);
  std::uint64_t by_size_total = 0;
  for (const auto& c : st.by_size) by_size_total += c.mallocs;
  CHECK(by_size_total + 1 == st.mallocs - st.tiny_allocs);  // + the large object
}

TEST_CASE("mem_stats: counts of exited threads are kept, other threads' windows count", "[mem_stats]") {
  gc::mem_stats s0 = gc::read_mem_stats();
  std::thread([] {
    for (int i = 0; i < 777; ++i) gc::gc_new<payload<32>>();
  }).join();
  gc::mem_stats s1 = gc::read_mem_stats();
  CHECK(s1.mallocs - s0.mallocs == 777);
  CHECK(s1.heap_alloc - s0.heap_alloc == 777 * 32);
}
