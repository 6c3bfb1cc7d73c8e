// demo: allocates through gort, prints what the allocator did, then drops
// half of it and shows the collector reclaim it.
//
//   make demo
//
// Builds a linked list of small nodes, a binary tree, a few arrays of
// numbers (pointer-free, so they go to noscan spans, the smallest ones packed
// into shared 16-byte blocks) and one large buffer, then prints the heap's
// statistics from gc::read_mem_stats().
#include <gort/gort.hpp>

#include <cstdio>

struct list_node {
  long value;
  list_node* next;
};

struct tree {
  tree* left;
  tree* right;
  int depth;
};

static tree* build(int depth) {
  tree* t = gc::gc_new<tree>();
  t->depth = depth;
  if (depth > 0) {
    t->left = build(depth - 1);
    t->right = build(depth - 1);
  }
  return t;
}

static long count(const tree* t) { return t ? 1 + count(t->left) + count(t->right) : 0; }

int main() {
  list_node* head = nullptr;
  for (long i = 0; i < 100000; ++i) head = gc::gc_new<list_node>(list_node{i, head});
  long sum = 0;
  for (list_node* n = head; n; n = n->next) sum += n->value;

  tree* t = build(16);

  int* small_ints = nullptr;
  for (int i = 0; i < 10000; ++i) small_ints = gc::gc_new<int>(i);  // tiny: 4 per 16-byte block
  double* samples = gc::gc_new<double[]>(1000);
  char* big = gc::gc_new<char[]>(1 << 20);                          // large object: its own span
  big[0] = 'x';

  gc::mem_stats st = gc::read_mem_stats();
  std::printf("gort demo: list sum %ld, tree nodes %ld, last int %d, samples[999] %.1f\n", sum, count(t),
              *small_ints, samples[999]);
  std::printf("  objects allocated (mallocs)   %12llu\n", (unsigned long long)st.mallocs);
  std::printf("    of which tiny (shared 16 B) %12llu\n", (unsigned long long)st.tiny_allocs);
  std::printf("  heap objects (blocks)         %12llu\n", (unsigned long long)st.heap_objects);
  std::printf("  bytes allocated (heap_alloc)  %12llu\n", (unsigned long long)st.heap_alloc);
  std::printf("  spans in use                  %12llu\n", (unsigned long long)st.spans_inuse);
  std::printf("  heap in use (heap_inuse)      %12llu\n", (unsigned long long)st.heap_inuse);
  std::printf("  heap committed (heap_sys)     %12llu\n", (unsigned long long)st.heap_sys);
  std::printf("  heap idle / released          %12llu / %llu\n", (unsigned long long)st.heap_idle,
              (unsigned long long)st.heap_released);
  std::printf("  total from the OS (sys)       %12llu\n", (unsigned long long)st.sys);
  std::printf("  heap address of the list head %12p\n", static_cast<void*>(head));
  std::printf("  busiest size classes:\n");
  for (const gc::size_class_stats& c : st.by_size)
    if (c.mallocs >= 1000) std::printf("    %6u bytes: %8llu objects\n", c.size, (unsigned long long)c.mallocs);

  // Drop the tree and the big buffer; keep the list. Collect.
  t = nullptr;
  big = nullptr;
  gc::collect();
  gc::mem_stats after = gc::read_mem_stats();
  long still = 0;
  for (list_node* n = head; n; n = n->next) ++still;
  std::printf("after dropping the tree and gc::collect():\n");
  std::printf("  collections (num_gc)          %12u, last pause %llu us\n", after.num_gc,
              (unsigned long long)(after.pause_ns[(after.num_gc + 255) % 256] / 1000));
  std::printf("  objects freed (frees)         %12llu\n", (unsigned long long)(after.frees - st.frees));
  std::printf("  bytes allocated (heap_alloc)  %12llu\n", (unsigned long long)after.heap_alloc);
  std::printf("  list nodes still reachable    %12ld\n", still);
  return 0;
}
