// tests/install/consumer/main.cpp: the smallest whole program on an
// installed gort: objects linked through members, kept by a root, a
// collection that must keep them and reclaim the rest.
#include <gort/gort.hpp>

#include <cstdio>

static_assert(GORT_BARRIER_LAYOUT_GENERATIONAL == EXPECT_GENERATIONAL,
              "the exported gort::gort target did not pass on the barrier layout the library was built with");

struct node {
  gc::member<node> next;
  long value = 0;
};

int main() {
  gc::root<node> head(gc::gc_new<node>());
  node* n = head.get();
  for (long i = 1; i <= 1000; ++i) {
    n->next = gc::gc_new<node>();
    n = n->next.get();
    n->value = i;
  }
  for (int i = 0; i < 100000; ++i) gc::gc_new<node>()->value = i;  // garbage
  gc::collect();
  long sum = 0;
  for (node* p = head.get(); p != nullptr; p = p->next.get()) sum += p->value;
  const gc::mem_stats st = gc::read_mem_stats();
  if (sum != 1000 * 1001 / 2 || st.num_gc == 0 || st.frees == 0) {
    std::printf("consumer: wrong: sum %ld, cycles %u, frees %llu\n", sum, st.num_gc,
                static_cast<unsigned long long>(st.frees));
    return 1;
  }
  std::printf("consumer: ok\n");
  return 0;
}
