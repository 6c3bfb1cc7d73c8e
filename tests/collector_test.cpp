// tests/collector_test.cpp: what the collector keeps and what it reclaims
// (src/gc), through the public API only.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "alloc/alloc.hpp"
#include "gc/collector.hpp"
#include "gc/mark.hpp"
#include "gc_test_util.hpp"
#include "test_util.hpp"

using gort_test::on_fresh_thread;
using gort_test::tracked;

namespace {

// A chain of n tracked objects linked through gc::member; returns the head.
tracked* chain(long n) {
  tracked* head = nullptr;
  for (long i = 0; i < n; ++i) {
    tracked* t = gc::gc_new<tracked>(i);
    t->next = head;
    head = t;
  }
  return head;
}

// A complete binary tree, 2^depth - 1 nodes linked through gc::member (so
// that building it while a concurrent mark runs is barriered), counting the
// destructions of nodes built since reset_count.
struct tree_node {
  static inline std::atomic<long> destroyed{0};
  gc::member<tree_node> left, right;
  ~tree_node() { destroyed.fetch_add(1); }
  void trace(gc::tracer& t) const {
    t.visit(left);
    t.visit(right);
  }
};

tree_node* tree(int depth) {
  if (depth == 0) return nullptr;
  tree_node* t = gc::gc_new<tree_node>();
  t->left = tree(depth - 1);
  t->right = tree(depth - 1);
  return t;
}

long tree_size(const tree_node* t) {
  return t == nullptr ? 0 : 1 + tree_size(t->left.get()) + tree_size(t->right.get());
}

long length(const tracked* t) {
  long n = 0;
  for (; t != nullptr; t = t->next.get()) ++n;
  return n;
}

// An untyped object (no trace, trivial destructor): scanned conservatively.
struct plain_node {
  plain_node* next;
  long value;
};

}  // namespace

TEST_CASE("collector: unreachable objects are reclaimed and their destructors run", "[collector]") {
  tracked::reset();
  on_fresh_thread([] {
    for (int i = 0; i < 10000; ++i) gc::gc_new<tracked>(i);
    gc::gc_new<tracked[]>(100);  // arrays: each element's destructor runs
  });
  REQUIRE(tracked::built == 10100);
  gc::mem_stats before = gc::read_mem_stats();
  gc::collect();
  // Exact but under the sanitizers, where a stale word can keep one object
  // (gc_test_util.hpp); in Release no survivor is allowed.
  const long stray = gort_test::sanitizer_strays;
  CHECK(tracked::destroyed >= 10100 - stray);
  CHECK(tracked::destroyed <= 10100);
  gc::mem_stats after = gc::read_mem_stats();
  // An automatic cycle the fresh thread started may end inside collect()
  // (which finishes it first), so num_gc may grow by two.
  CHECK(after.num_gc >= before.num_gc + 1);
  CHECK(after.num_gc <= before.num_gc + 2);
  CHECK(after.num_forced_gc == before.num_forced_gc + 1);
  // Their memory is freed once the destructors ran, in the same collect().
  CHECK(before.heap_objects - after.heap_objects >= static_cast<std::uint64_t>(10001 - stray));
  CHECK(after.heap_alloc < before.heap_alloc);
}

TEST_CASE("collector: a typed array longer than its metadata word's count field is traced and destroyed whole",
          "[collector]") {
  // obj_meta packs the element count into 16 bits; from 65535 elements on
  // (a large object) the count sits in the span's large_meta instead.
  for (const long n : {65534L, 65535L, 70000L}) {
    INFO("elements: " << n);
    tracked::reset();
    auto* slot = static_cast<tracked**>(std::calloc(1, sizeof(tracked*)));
    gc::add_roots(slot, slot + 1);
    on_fresh_thread([&] {
      tracked* arr = gc::gc_new<tracked[]>(static_cast<std::size_t>(n));
      arr[n - 1].next = gc::gc_new<tracked>(-1);  // reachable only through the last element
      *slot = arr;
    });
    REQUIRE(tracked::built == n + 1);
    gc::collect();
    CHECK(tracked::destroyed == 0);
    CHECK(gort_test::elsewhere([&] { return (*slot)[n - 1].next->value; }) == -1);
    gc::remove_roots(slot, slot + 1);
    std::free(slot);
    gc::collect();
    CHECK(tracked::destroyed >= n + 1 - gort_test::sanitizer_strays);
  }
}

TEST_CASE("collector: plain garbage is reclaimed and its memory reused", "[collector]") {
  on_fresh_thread([] {
    for (int i = 0; i < 200000; ++i) gc::gc_new<plain_node>();
  });
  gc::mem_stats before = gc::read_mem_stats();
  REQUIRE(before.heap_objects >= 200000);
  gc::collect();
  gc::mem_stats after = gc::read_mem_stats();
  CHECK(after.heap_objects < 1000);
  CHECK(after.frees - before.frees >= 199000);
  CHECK(after.heap_alloc < 1u << 20);
}

TEST_CASE("collector: an object reachable only from a local variable survives", "[collector]") {
  tracked::reset();
  tracked* local = gc::gc_new<tracked>(42);
  plain_node* plain = gc::gc_new<plain_node>(plain_node{nullptr, 7});
  gc::collect();
  CHECK(tracked::destroyed == 0);
  CHECK(local->value == 42);
  CHECK(plain->value == 7);
  // Still allocated: a new object never lands on it.
  for (int i = 0; i < 1000; ++i) CHECK(static_cast<void*>(gc::gc_new<plain_node>()) != static_cast<void*>(plain));
}

TEST_CASE("collector: an object reachable only from another thread's stack survives", "[collector]") {
  tracked::reset();
  std::atomic<int> phase{0};
  std::atomic<long> seen{-1};
  std::thread t([&] {
    tracked* mine = gc::gc_new<tracked>(99);
    gc::member<tracked> chain_head = gc::gc_new<tracked>(98);
    mine->next = chain_head;
    phase = 1;
    while (phase.load() != 2) {  // spin: no safepoint, so the stop must interrupt it with a signal
    }
    seen = mine->value + mine->next->value;
  });
  while (phase.load() != 1) std::this_thread::yield();
  gc::collect();
  gc::collect();
  CHECK(tracked::destroyed == 0);
  phase = 2;
  t.join();
  CHECK(seen == 99 + 98);
}

#if defined(__x86_64__)
TEST_CASE("collector: an object whose only reference is in a register survives", "[collector]") {
  if (gort_test::tsan) {
    WARN("skipped: TSan delivers a signal only when the thread enters its runtime, never in a pure asm loop");
    return;
  }
  tracked::reset();
  constexpr std::uintptr_t mask = 0x5a5a5a5a5a5a5a5aull;
  std::atomic<int> phase{0};
  std::uintptr_t result = 0;
  std::thread t([&] {
    // The pointer is kept in memory only masked (not a pointer); inside the
    // asm block it is unmasked into r12 and held there while the thread spins.
    std::uintptr_t masked = reinterpret_cast<std::uintptr_t>(gc::gc_new<tracked>(1234)) ^ mask;
    std::uintptr_t out = 0;
    // The vector registers are cleared first: stale values there (the kernel
    // saves them in the signal frame, which is scanned) could keep garbage alive.
    asm volatile(
        "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
        "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\tpxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
        "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
        "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15\n\t"
        "mov %[m], %%r12\n\t"
        "xor %[k], %%r12\n\t"
        "movl $1, %[ph]\n\t"
        "1: pause\n\t"
        "cmpl $2, %[ph]\n\t"
        "jne 1b\n\t"
        "mov %%r12, %[out]\n\t"
        : [out] "=&r"(out), [ph] "+m"(phase)
        : [m] "r"(masked), [k] "r"(mask)
        : "r12", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
    result = reinterpret_cast<tracked*>(out)->value;
  });
  while (phase.load() != 1) std::this_thread::yield();
  for (int i = 0; i < 3; ++i) {
    on_fresh_thread([] {
      for (int j = 0; j < 20000; ++j) gc::gc_new<tracked>(-1);  // garbage that could reuse the slot
    });
    gc::collect();
  }
  // All the garbage goes. (The spinning thread's whole register file is
  // scanned from the kernel's signal frame; without the pxor above, a stale
  // address left in xmm0 by its first allocation kept one object alive.)
  CHECK(tracked::destroyed == 3 * 20000);
  phase = 2;
  t.join();
  CHECK(result == 1234);
}
#endif

TEST_CASE("collector: roots in malloc memory and in std containers keep objects alive", "[collector]") {
  tracked::reset();
  auto* heap_root = new gc::root<tracked>();
  std::vector<gc::root<tracked>> roots;
  on_fresh_thread([&] {
    *heap_root = gc::gc_new<tracked>(1);
    for (int i = 0; i < 1000; ++i) roots.emplace_back(gc::gc_new<tracked>(i));
  });
  gc::collect();
  CHECK(tracked::destroyed == 0);
  CHECK(gort_test::elsewhere([&] { return (*heap_root)->value; }) == 1);
  CHECK(gort_test::elsewhere([&] {
    long wrong = 0;
    for (long i = 0; i < 1000; ++i) wrong += roots[static_cast<std::size_t>(i)]->value != i;
    return wrong;
  }) == 0);

  // Copies are roots of their own; moves transfer.
  gc::root<tracked> copy = roots[5];
  gc::root<tracked> moved = std::move(roots[6]);
  CHECK_FALSE(roots[6]);
  roots.clear();
  delete heap_root;
  gc::collect();
  // Exact but under the sanitizers, where a stale word can keep one object.
  CHECK(tracked::destroyed >= 1000 + 1 - 2 - gort_test::sanitizer_strays);
  CHECK(tracked::destroyed <= 1000 + 1 - 2);
  CHECK(gort_test::elsewhere([&] { return copy->value; }) == 5);
  CHECK(gort_test::elsewhere([&] { return moved->value; }) == 6);
  copy.reset();
  moved = nullptr;
  gc::collect();
  CHECK(tracked::destroyed >= 1001 - gort_test::sanitizer_strays);
  CHECK(tracked::destroyed <= 1001);
}

TEST_CASE("collector: an add_roots range keeps objects alive until removed", "[collector]") {
  tracked::reset();
  auto* table = static_cast<tracked**>(std::calloc(64, sizeof(tracked*)));
  gc::add_roots(table, table + 64);
  on_fresh_thread([&] {
    for (int i = 0; i < 64; ++i) table[i] = gc::gc_new<tracked>(i);
  });
  gc::collect();
  CHECK(tracked::destroyed == 0);
  CHECK(gort_test::elsewhere([&] {
    long wrong = 0;
    for (long i = 0; i < 64; ++i) wrong += table[i]->value != i;
    return wrong;
  }) == 0);
  gc::remove_roots(table, table + 64);
  gc::collect();
  CHECK(tracked::destroyed >= 64 - gort_test::sanitizer_strays);
  CHECK(tracked::destroyed <= 64);
  std::free(table);
}

namespace {
struct dd_child {
  static inline std::atomic<long> destroyed{0};
  ~dd_child() { destroyed.fetch_add(1); }
};
struct dd_node {
  static inline std::atomic<long> destroyed{0};  // of nodes with chosen set
  gc::member<dd_child> child;
  bool chosen = false;
  ~dd_node() {
    if (chosen) destroyed.fetch_add(1);
  }
  void trace(gc::tracer& t) const { t.visit(child); }
};
struct dd_filler {  // typed, the size of a dd_node, no destructor
  gc::member<dd_child> child;
  long pad = 0;
  void trace(gc::tracer& t) const { t.visit(child); }
};
static_assert(sizeof(dd_filler) == sizeof(dd_node));
}  // namespace

TEST_CASE("collector: an object left allocated after its destructor keeps nothing alive", "[collector]") {
  // A destroyed object whose span some thread's mcache owns stays allocated
  // until a later sweep (sweep.hpp step 4). Its type is gone, so a mark that
  // reaches it through a stale word scans it conservatively: what its
  // destructor left in it must not keep anything alive. The node is
  // allocated by a thread that stays (not in a blocking region, which would
  // flush its mcache) while this one collects: its span stays owned.
  constexpr std::uintptr_t disguise = 0x5a5a5a5a5a5a5a5a;
  auto* slots = static_cast<std::uintptr_t*>(std::calloc(2, sizeof(std::uintptr_t)));
  gc::add_roots(slots, slots + 2);
  dd_child::destroyed = 0;
  dd_node::destroyed = 0;
  std::atomic<std::uintptr_t> node{0};
  std::atomic<bool> done{false};
  std::thread owner([&] {
    // A node whose bitmap word this thread's window has left behind (the
    // word under the window is not swept), its span still owned; slots[0]
    // holds its child; the node is garbage at once. A try whose span fills
    // up (the mcache lets it go) is left as garbage.
    node = gort_test::inspect([&]() -> std::uintptr_t {
      for (int tries = 0; tries < 16; ++tries) {
        auto* n = gc::gc_new<dd_node>();
        gc::internal::span* sp = gc::internal::find_object(n).s;
        const std::size_t word = sp->object_index(reinterpret_cast<std::uintptr_t>(n)) / 64;
        for (int k = 0; k < 256 && sp->owner.load() != nullptr && sp->window.load() == word; ++k)
          gc::gc_new<dd_filler>();
        if (sp->owner.load() == nullptr || sp->window.load() == word) continue;
        // The child from a thread that exits: not in this thread's window
        // (whose word is not swept either), rooted by slots[0].
        gort_test::on_fresh_thread([&] { slots[0] = reinterpret_cast<std::uintptr_t>(gc::gc_new<dd_child>()); });
        n->child = reinterpret_cast<dd_child*>(slots[0]);
        n->chosen = true;
        return reinterpret_cast<std::uintptr_t>(n) ^ disguise;
      }
      return disguise;  // no try worked: reported below
    });
    gort_test::scrub_stack();  // the frames that saw the node and its child are dead: zero them
    while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (node.load() == 0) std::this_thread::yield();
  REQUIRE(node.load() != disguise);  // else no node could be placed as the case needs
  gc::collect();
  const std::uintptr_t addr = node.load() ^ disguise;
  const gc::internal::object_ref ref = gc::internal::find_object(addr);
  CHECK(dd_child::destroyed == 0);
  if (dd_node::destroyed == 0 &&
      (gort_test::asan || gort_test::tsan ||
       !gc::debug::explain_roots(reinterpret_cast<const void*>(addr)).empty())) {
    // A stale word kept the node, and the case did not arise: the sanitizer
    // builds' frames keep many (gc_test_util.hpp, sanitizer_strays); the
    // Release build, rarely, a register of the owner thread saved at its
    // stop (seen twice in 2026-12-07's runs of the generational suites,
    // each beside the other under `ctest -j2`, where the test passes alone).
    WARN("stale words kept the node alive (" << gc::debug::explain_roots(reinterpret_cast<const void*>(addr)).size()
                                             << " found now): nothing tested");
  } else if (dd_node::destroyed == 1 && ref && reinterpret_cast<std::uintptr_t>(ref.base) == addr) {
    CHECK(gort_test::inspect([&] {
      long nonzero = 0;
      for (std::size_t i = 0; i < ref.s->elem_size / sizeof(std::uintptr_t); ++i)
        nonzero += reinterpret_cast<const std::uintptr_t*>(addr)[i] != 0;
      return nonzero;
    }) == 0);
    // Now only a stale word names the dead node, and nothing names the child.
    slots[1] = addr;
    slots[0] = 0;
    gc::collect();
    CHECK(dd_child::destroyed >= 1 - gort_test::sanitizer_strays);
  } else {
    // The node was kept, or freed at once (its span not owned at the sweep:
    // the owner's mcache flushed). Either way the case did not arise.
    FAIL_CHECK("the node was not left allocated after its destructor; the case under test did not arise (node "
               << (dd_node::destroyed == 0 ? "kept alive with no root" : "freed at once") << ", span "
               << (ref ? (ref.s->owner.load() != nullptr ? "owned" : "not owned") : "gone") << ")");
  }
  done = true;
  owner.join();
  gc::remove_roots(slots, slots + 2);
  std::free(slots);
}

namespace {
struct dd_large {  // a large object (one span, no mcache window), short enough to be populated
  static inline std::atomic<long> destroyed{0};
  unsigned char bytes[64 * 1024];
  ~dd_large() { destroyed.fetch_add(1); }
};
}  // namespace

TEST_CASE("collector: the allocator's thread-local state keeps no dead object alive", "[collector]") {
  // A thread's static TLS lies in its scanned stack range. The populate of
  // a cold span, put off to the end of the allocation's slow path
  // (page_heap.hpp step 2(c)), noted the span's base there, which is its
  // first object's address: it kept that object alive while the thread
  // lived. The owner thread stays (registered, not blocking) while this one
  // collects.
  dd_large::destroyed = 0;
  gc::internal::page_heap::instance().release_all();  // the object's span is cold
  std::atomic<bool> allocated{false}, done{false};
  std::thread owner([&] {
    gort_test::inspect([] { return gc::gc_new<dd_large>() != nullptr; });
    gort_test::scrub_stack();
    allocated = true;
    while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!allocated.load()) std::this_thread::yield();
  gc::collect();
  CHECK(dd_large::destroyed >= 1 - gort_test::sanitizer_strays);
  done = true;
  owner.join();
}

namespace {
// Fills the stack below its caller with the address `disguised` hides, as
// an earlier, deeper call of a program leaves its locals behind.
__attribute__((noinline)) void paint_stack(std::uintptr_t disguised) {
  volatile std::uintptr_t words[2048];
  for (auto& w : words) w = disguised ^ 0x5a5a5a5a5a5a5a5a;
}
}  // namespace

TEST_CASE("collector: gc::collect() does not take what earlier calls left on the stack for roots", "[collector]") {
  // gc::collect()'s own frames are built where the program's earlier calls
  // were; their slots not yet written when it scans its own stack must not
  // hold those calls' words.
  tracked::reset();
  const std::uintptr_t x = gort_test::elsewhere(
      [] { return reinterpret_cast<std::uintptr_t>(gc::gc_new<tracked>(1)) ^ 0x5a5a5a5a5a5a5a5a; });
  paint_stack(x);
  gc::collect();
  CHECK(tracked::destroyed >= 1 - gort_test::sanitizer_strays);
}

TEST_CASE("collector: an interior pointer keeps the whole object alive", "[collector]") {
  struct big {
    long values[100];
  };
  long* inner = nullptr;
  on_fresh_thread([&] {
    big* b = gc::gc_new<big>();
    for (int i = 0; i < 100; ++i) b->values[i] = i;
    inner = &b->values[57];
  });
  gc::root<long> r(inner);  // a root holding an interior pointer
  on_fresh_thread([] {
    for (int i = 0; i < 100000; ++i) gc::gc_new<plain_node>();
  });
  gc::collect();
  CHECK(*inner == 57);
  CHECK(inner[-57] == 0);
  CHECK(inner[42] == 99);
}

// Conservative scanning resolves a small object's words that point into its
// own span without the page map (mark.cpp, scan_small): an interior pointer
// there keeps its object, and a word naming a free slot marks nothing (a
// marked free slot would be allocated again by the sweep, and leak).
TEST_CASE("collector: words into the scanned object's own span: an object is kept, a free slot is not", "[collector]") {
  using gc::internal::find_object;
  constexpr std::uintptr_t mask = 0x5a5a5a5a5a5a5a5a;  // b's address, hidden from the conservative scans
  gc::root<plain_node> a;
  std::uintptr_t hidden_b = 0;
  // Three objects in a row of one span: a holds an interior pointer to the
  // second (reachable only through it) and, in its value field (below), the
  // address of the third, b, which is garbage.
  for (int attempt = 0; attempt < 20 && hidden_b == 0; ++attempt) {
    on_fresh_thread([&] {
      for (;;) {
        plain_node* x = gc::gc_new<plain_node>();
        plain_node* y = gc::gc_new<plain_node>(plain_node{nullptr, 1234});
        plain_node* z = gc::gc_new<plain_node>();
        if (find_object(x).s == find_object(y).s && find_object(y).s == find_object(z).s) {
          x->next = reinterpret_cast<plain_node*>(reinterpret_cast<char*>(y) + sizeof(long));
          a = x;
          hidden_b = reinterpret_cast<std::uintptr_t>(z) ^ mask;
          return;
        }
      }
    });
    gc::collect();
    // A stale word (sanitizer builds) may keep b: try another triple.
    if (find_object(hidden_b ^ mask)) hidden_b = 0;
  }
  REQUIRE(hidden_b != 0);
  const std::uintptr_t b = hidden_b ^ mask;
  REQUIRE(gc::internal::span_of(b) == find_object(a.get()).s);  // a free slot of a's span
  a->value = static_cast<long>(b);
  gc::collect();
  gc::collect();
  const plain_node* kept = gort_test::inspect([&] {
    return reinterpret_cast<const plain_node*>(reinterpret_cast<const char*>(a->next) - sizeof(long));
  });
  CHECK(find_object(kept).base == kept);
  CHECK(kept->value == 1234);
  CHECK_FALSE(find_object(b));  // still free: the word in a marked nothing
}

TEST_CASE("collector: a member chain a million long survives and is reclaimed without deep recursion", "[collector]") {
  tracked::reset();
  gc::root<tracked> head;
  on_fresh_thread([&] { head = chain(1000000); });
  gc::collect();
  CHECK(tracked::destroyed == 0);
  // Walk the chain on a thread that then exits: the walk's last pointer (the tail) must not be left in a
  // dead register or spill slot of this thread, where a conservative scan could keep the tail alive.
  long n = 0;
  on_fresh_thread([&] { n = length(head.get()); });
  CHECK(n == 1000000);
  head.reset();
  gc::collect();
  // Under the sanitizers a stale word can still keep the tail (seen once in
  // ~10 ASan runs after the walk moved off this thread): tolerated there, as
  // in the other exact counts; a stray into the middle would keep far more.
  CHECK(tracked::destroyed >= 1000000 - gort_test::sanitizer_strays);
  if (gort_test::sanitizer_strays == 0) CHECK(tracked::destroyed == 1000000);
}

TEST_CASE("collector: a cycle linked by raw pointers lives while rooted and dies after", "[collector]") {
  // Untyped objects: found by the conservative scan of each object.
  static std::atomic<int> alive_checks{0};
  gc::root<plain_node> r;
  // The nodes' addresses, disguised (no conservative scan takes them for
  // pointers): if the cycle outlives its root, explain_roots says who holds it.
  constexpr std::uintptr_t disguise = 0x5a5a5a5a5a5a5a5a;
  std::vector<std::uintptr_t> hidden;
  on_fresh_thread([&] {
    plain_node* first = gc::gc_new<plain_node>(plain_node{nullptr, 0});
    plain_node* prev = first;
    hidden.push_back(reinterpret_cast<std::uintptr_t>(first) ^ disguise);
    for (int i = 1; i < 1000; ++i) {
      prev = prev->next = gc::gc_new<plain_node>(plain_node{nullptr, i});
      hidden.push_back(reinterpret_cast<std::uintptr_t>(prev) ^ disguise);
    }
    prev->next = first;  // close the cycle
    r = first->next;     // root somewhere in the middle
  });
  gc::mem_stats before = gc::read_mem_stats();
  gc::collect();
  // Walked on a thread that then exits: a node pointer left in a dead slot
  // of this thread would keep the whole cycle alive.
  bool closed = false;
  on_fresh_thread([&] {
    plain_node* p = r.get();
    for (int i = 0; i < 1000; ++i) {
      alive_checks += p->value == (i + 1) % 1000;
      p = p->next;
    }
    closed = p == r.get();
  });
  CHECK(closed);
  CHECK(alive_checks == 1000);
  // Dropped on another thread too: reset() reads the old pointer (the write
  // barrier shades it), and a copy left in a dead frame of this thread,
  // reused by collect()'s frames, kept the cycle alive once under ASan.
  on_fresh_thread([&] { r.reset(); });
  gc::collect();
  gc::mem_stats after = gc::read_mem_stats();
  if (before.heap_objects - after.heap_objects >= 1000) return;  // reclaimed: the usual outcome
  // Still there. The stacks are scanned conservatively, so a stale word in
  // a live frame of this thread (a slot the compiler left uninitialised,
  // holding a copy from an earlier call) may pin one node and with it the
  // cycle: seen about once in 30 runs under ASan, words in this thread's
  // stack pointing at a node. That is conservative scanning working as
  // documented, and explain_roots must then name such a word. Anything else
  // (a root slot not cleared, or no root at all) is a bug.
  int stack_refs = 0, other_refs = 0;
  for (std::uintptr_t h : hidden) {
    for (const auto& ref : gc::debug::explain_roots(reinterpret_cast<const void*>(h ^ disguise))) {
      UNSCOPED_INFO("node " << std::hex << (h ^ disguise) << " held by kind " << static_cast<int>(ref.where)
                            << " thread " << std::dec << ref.thread_id << " at " << std::hex << ref.address
                            << " frame " << ref.frame);
      (ref.where == gc::debug::root_reference::kind::stack ? stack_refs : other_refs) += 1;
    }
  }
  CHECK(other_refs == 0);
  CHECK(stack_refs > 0);  // kept, but not by a stale stack word: a real leak
  WARN("the cycle outlived its root, pinned by " << stack_refs << " conservative stack word(s)");
}

TEST_CASE("collector: precise tracing sees only what trace() visits", "[collector]") {
  struct half_traced {
    gc::member<tracked> seen;
    tracked* hidden = nullptr;  // deliberately not visited
    void trace(gc::tracer& t) const { t.visit(seen); }
  };
  tracked::reset();
  gc::root<half_traced> r;
  on_fresh_thread([&] {
    r = gc::gc_new<half_traced>();
    r->seen = gc::gc_new<tracked>(1);
    r->hidden = gc::gc_new<tracked>(2);
  });
  gc::collect();
  CHECK(tracked::destroyed == 1);  // the hidden one: reclaimed
  CHECK(gort_test::elsewhere([&] { return r->seen->value; }) == 1);
}

TEST_CASE("collector: pointer-free objects are never scanned", "[collector]") {
  tracked::reset();
  gc::root<std::uintptr_t> numbers;
  on_fresh_thread([&] {
    std::uintptr_t* arr = gc::gc_new<std::uintptr_t[]>(16);
    for (int i = 0; i < 16; ++i) arr[i] = reinterpret_cast<std::uintptr_t>(gc::gc_new<tracked>(i));
    numbers = arr;
  });
  gc::collect();
  CHECK(tracked::destroyed == 16);  // addresses held as integers keep nothing alive
}

TEST_CASE("collector: a throwing constructor leaves no destructor call and no leak", "[collector]") {
  struct throws_after_alloc {
    tracked inner;
    explicit throws_after_alloc(bool t) : inner(5) {
      if (t) throw std::runtime_error("constructor failed");
    }
  };
  tracked::reset();
  int thrown = 0;
  on_fresh_thread([&] {
    for (int i = 0; i < 100; ++i) {
      try {
        gc::gc_new<throws_after_alloc>(true);
      } catch (const std::runtime_error&) {
        ++thrown;
      }
    }
  });
  REQUIRE(thrown == 100);
  REQUIRE(tracked::destroyed == 100);  // the member's destructor ran during unwinding, once
  gc::mem_stats before = gc::read_mem_stats();
  gc::collect();
  gc::mem_stats after = gc::read_mem_stats();
  CHECK(tracked::destroyed == 100);  // ~throws_after_alloc never runs: no second ~tracked
  CHECK(before.heap_objects - after.heap_objects >= static_cast<std::uint64_t>(100 - gort_test::sanitizer_strays));
}

TEST_CASE("collector: after an automatic cycle the garbage is swept and destroyed while the program only waits",
          "[collector]") {
  // Concurrent mode sweeps after mark termination, in the background (and
  // in allocating threads); stop-the-world mode inside its stop. Either way
  // no further allocation and no gc::collect() is needed for the garbage of
  // a finished cycle to be freed and its destructors run.
  tracked::reset();
  const std::uint32_t n0 = gc::read_mem_stats().num_gc;
  // Objects surely made before cycle n0+2's mark began: those made before
  // cycle n0+1 was seen to end, less the last batch (n0+2 may have started
  // during it: those are allocated black) and less one window (64 objects
  // of the thread's current window at n0+2's mark termination are left for
  // the next cycle, sweep.hpp step 3).
  constexpr long batch = 100;
  long garbage_before_second_cycle = -1;
  long made = 0;
  on_fresh_thread([&] {
    while (gc::read_mem_stats().num_gc < n0 + 2 && made < 100'000'000) {
      for (long i = 0; i < batch; ++i) gc::gc_new<tracked>(i);
      made += batch;
      if (garbage_before_second_cycle < 0 && gc::read_mem_stats().num_gc >= n0 + 1)
        garbage_before_second_cycle = made - batch - 64;
    }
  });
  REQUIRE(gc::read_mem_stats().num_gc >= n0 + 2);
  REQUIRE(garbage_before_second_cycle > 0);
  const std::uint64_t frees_before = gc::read_mem_stats().frees;
  // Wait (not allocating) for the sweep and the finalizer thread.
  for (int i = 0; i < 1000 && tracked::destroyed < garbage_before_second_cycle - gort_test::sanitizer_strays; ++i) {
    gc::blocking_region quiet;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(tracked::destroyed >= garbage_before_second_cycle - gort_test::sanitizer_strays);
  CHECK(tracked::destroyed <= tracked::built);
  CHECK(gc::read_mem_stats().frees >= frees_before);
}

TEST_CASE("collector: a fractional mark worker marks while the program runs, leaving little to mark termination",
          "[collector]") {
  // As on a machine whose cores the program keeps busy (pacer.hpp step 9):
  // the collector's thread marks a share of its time, through an assist
  // worker. The roots' grey objects must reach it: once they did not, and
  // mark termination did the whole mark inside its stop.
  const bool was_concurrent = gc::set_concurrent_marking(true);
  gc::internal::collector::test_fractional_only = true;
  gc::root<tracked> head;
  on_fresh_thread([&] { head = chain(200000); });
  gc::collect();
  const std::uint64_t left = gc::internal::collector::last_termination_scan_bytes();
  gc::internal::collector::test_fractional_only = false;
  gc::set_concurrent_marking(was_concurrent);
  INFO("scan work left to mark termination: " << left << " bytes");
  CHECK(left < 64 * 1024);  // the chain alone is 200000 objects, several MB of scanning
  CHECK(gort_test::elsewhere([&] { return length(head.get()); }) == 200000);
}

TEST_CASE("collector: a mark helper that leaves a drain hands back its work and the mark loses nothing",
          "[collector]") {
  // mark.hpp step 5: a helper marking on a core the program left idle leaves
  // when the program wants the core back, publishing what it holds. Here
  // every helper joins every drain and is told to leave at its first check,
  // with a wide tree to mark (helpers take work from the start), so each
  // leaves holding grey objects that the marking thread must then finish.
  const bool was_concurrent = gc::set_concurrent_marking(true);
  gc::root<tree_node> top;
  on_fresh_thread([&] { top = tree(17); });
  gc::collect();  // an automatic cycle may have started during the build: its garbage goes first
  const long destroyed_before = tree_node::destroyed.load();
  const std::uint64_t departed = gc::internal::mark::helper_departures();
  gc::internal::collector::test_helpers_leave = true;
  // A helper joins a drain only if it is scheduled before the mark ends: on
  // a loaded machine (ctest -j2, 1 failure in 40 runs beside two busy
  // loops) two cycles could pass without one. Up to 20 cycles, until one
  // has left.
  for (int i = 0; i < 20 && (i < 2 || gc::internal::mark::helper_departures() == departed); ++i) gc::collect();
  gc::internal::collector::test_helpers_leave = false;
  gc::set_concurrent_marking(was_concurrent);
  if (gc::internal::mark::helper_count() > 0)
    CHECK(gc::internal::mark::helper_departures() > departed);
  else
    WARN("one usable CPU: no mark helper to leave");
  CHECK(tree_node::destroyed.load() == destroyed_before);  // nothing reachable was reclaimed
  CHECK(gort_test::elsewhere([&] { return tree_size(top.get()); }) == (1 << 17) - 1);
}
