// bench/mark_throughput.cpp: how fast the collector marks the heaps of the
// two benchmarks, measured without a mutator beside it.
//
//   mark_throughput [lists|tree] [collections]     defaults: lists 8
//
// Algorithm
// 1. Build one heap and keep it live from a gc::root, with automatic
//    collection off (gc::set_gc_percent(-1)):
//    - lists: the latency benchmark's heap (bench/latency): 2,000,000
//      member slots, each naming a list of three 32-byte nodes, then
//      8,000,000 replacements at the slots that benchmark's random sequence
//      picks (batch_common.hpp), so that the lists lie scattered over a
//      heap of about 600 MB as they do in its steady state;
//    - tree: binary-trees' long-lived tree (bench/binarytrees), depth 21:
//      4,194,303 nodes of two members, allocated children first.
// 2. One gc::collect() to sweep what the build left behind, then
//    `collections` more, each timed: the call's wall time, and its stop
//    (mem_stats.pause_ns), which under GODEBUG=gcstoptheworld=1 is the whole
//    mark.
// 3. Print the minimum and the median of each, and the marked heap. The
//    minimum is the figure to compare builds with on a shared VM: noise
//    only ever adds time. Run it as
//        GODEBUG=gcstoptheworld=1 taskset -c 0 mark_throughput lists
//    for one marker on one core, or without taskset for the parallel mark.
//
// Every collection marks the same live graph, so a change to the mark loop,
// the span layout or the prefetching shows in these figures directly; the
// latency benchmark shows it only through assists and goal overshoot, under
// the VM's noise (docs/benchmarks.md, twenty-first session).
#include <gort/gort.hpp>

#include "latency/batch_common.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

struct list_node {
  gc::member<list_node> next;
  long a, b, c;
};
static_assert(sizeof(list_node) == 32, "the latency benchmark's node is 32 bytes");

struct tree_node {
  gc::member<tree_node> left, right;
  tree_node(tree_node* l, tree_node* r) : left(l), right(r) {}
};

list_node* make_list(long v) {
  list_node* c = gc::gc_new<list_node>();
  c->a = v + 2;
  list_node* b = gc::gc_new<list_node>();
  b->next = c;
  b->a = v + 1;
  list_node* a = gc::gc_new<list_node>();
  a->next = b;
  a->a = v;
  return a;
}

tree_node* make_tree(int depth) {
  if (depth == 0) return gc::gc_new<tree_node>(nullptr, nullptr);
  tree_node* l = make_tree(depth - 1);
  tree_node* r = make_tree(depth - 1);
  return gc::gc_new<tree_node>(l, r);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const char* shape = argc > 1 ? argv[1] : "lists";
  const bool lists = std::strcmp(shape, "lists") == 0;
  if (!lists && std::strcmp(shape, "tree") != 0) {
    std::fprintf(stderr, "usage: %s [lists|tree] [collections]\n", argv[0]);
    return 2;
  }
  const long n = batch_common::parse_positive(argc > 2 ? argv[2] : nullptr, 8, "mark_throughput [lists|tree] [collections]");

  gc::root<gc::member<list_node>> slots;
  gc::root<tree_node> tree;
  if (lists) {
    constexpr long nslots = 2'000'000;
    slots = gc::gc_new<gc::member<list_node>[]>(nslots);
    gc::member<list_node>* s = slots.get();
    for (long i = 0; i < nslots; ++i) s[i] = make_list(i);
    for (long k = 0; k < 4 * nslots; ++k) {
      const auto i = static_cast<long>(batch_common::next_random() % static_cast<std::uint64_t>(nslots));
      s[i] = make_list(i);
    }
  } else {
    tree = make_tree(21);
  }

  gc::set_gc_percent(-1);
  gc::collect();
  std::vector<double> call_ms, stop_ms;
  for (long i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    gc::collect();
    call_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    const gc::mem_stats st = gc::read_mem_stats();
    stop_ms.push_back(static_cast<double>(st.pause_ns[(st.num_gc + 255) % 256]) / 1e6);
  }
  const gc::mem_stats st = gc::read_mem_stats();
  std::printf("shape=%s collections=%ld heap_mb=%.1f stop_min_ms=%.1f stop_median_ms=%.1f call_min_ms=%.1f call_median_ms=%.1f\n",
              shape, n, static_cast<double>(st.heap_alloc) / 1e6, *std::min_element(stop_ms.begin(), stop_ms.end()),
              median(stop_ms), *std::min_element(call_ms.begin(), call_ms.end()), median(call_ms));
  // The graph is read once more, so that nothing above is dead.
  long check = 0;
  if (lists) {
    for (long i = 0; i < 2'000'000; i += 1000) check += slots.get()[i]->next->next->a - i;
  } else {
    check = tree->left ? 1 : 0;
  }
  return check == (lists ? 2 * 2000 : 1) ? 0 : 1;
}
