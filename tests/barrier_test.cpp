// tests/barrier_test.cpp: the write barrier (src/gc/barrier.cpp) on its own:
// with the barrier flag set by the test, as a concurrent mark sets it, every
// barriered store shades (marks, and queues if scannable) the values it
// overwrites and stores; with it clear, nothing is shaded.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>

#include <thread>
#include <vector>

#include "alloc/alloc.hpp"
#include "gc/barrier.hpp"
#include "gc/mark.hpp"
#include "stack/stack.hpp"

namespace {

using gc::internal::init_barrier_state;
using gc::internal::write_barrier_on;

struct node {
  long value = 0;
  gc::member<node> next;
  void trace(gc::tracer& t) const { t.visit(next); }
};

struct leaf {  // pointer-free: marked, never queued
  static constexpr bool gc_noscan = true;
  long value[2];
};

// A thread's barrier buffers what it shades (barrier.cpp, step 6): the
// checks below shade the buffer first, as a full buffer or mark termination
// would.
bool marked_now(const void* p) {
  gc::internal::object_ref ref = gc::internal::find_object(p);
  REQUIRE(ref);
  return ref.s->is_marked(ref.s->object_index(reinterpret_cast<std::uintptr_t>(ref.base)));
}
bool marked(const void* p) {
  gc::internal::barrier::flush_own();
  return marked_now(p);
}
std::size_t grey_pending() {
  gc::internal::barrier::flush_own();
  return gc::internal::mark::grey_pending();
}

// The flag on for the scope, as between a concurrent mark's two stops. No
// mark is running, so the mark bits the barrier set are cleared afterwards
// (a mark must begin with every mark bit clear: debug builds check it), and
// a full collection drains the grey objects the barrier queued. Automatic
// collection is off for the scope, and a cycle an earlier test left running
// is finished first: a real mark would turn the flags off under the test.
// As a mark start does, it begins a scan epoch: every stack is grey until a
// handshake (an earlier test's cycles left this thread's stack black
// otherwise). Both are needed when the tests share a process.
struct barrier_on {
  int percent = gc::set_gc_percent(-1);
  barrier_on() {
    gc::collect();
    gc::internal::stack::begin_scan_epoch();
    gc::internal::barrier::set_marking(true);
  }
  ~barrier_on() {
    gc::internal::barrier::flush_own();
    gc::internal::barrier::set_marking(false);
    gc::internal::page_heap::instance().for_each_span_struct([](gc::internal::span* s) {
      if (s->state.load() != gc::internal::span_state::in_use) return;
      for (std::size_t w = 0; w < s->bitmap_nwords(); ++w) s->mark_word(w) = s->owned_word(0, w) = s->owned_word(1, w) = 0;
    });
    gc::collect();
    gc::set_gc_percent(percent);
  }
};

}  // namespace

TEST_CASE("barrier: with marking off, stores shade nothing", "[barrier]") {
  const int percent = gc::set_gc_percent(-1);  // and no cycle left running by an earlier test
  gc::collect();
  node* a = gc::gc_new<node>();
  node* b = gc::gc_new<node>();
  gc::root<node> r(a);
  a->next = b;
  r = b;
  CHECK_FALSE(marked(a));
  CHECK_FALSE(marked(b));
  CHECK(grey_pending() == 0);
  gc::set_gc_percent(percent);
}

TEST_CASE("barrier: a member store shades the old and the new value", "[barrier]") {
  gc::root<node> a = gc::gc_new<node>();
  node* b = gc::gc_new<node>();
  node* c = gc::gc_new<node>();
  a->next = b;
  {
    barrier_on on;
    const std::size_t before = grey_pending();
    a->next = c;
    CHECK(marked(b));  // deletion (Yuasa): the overwritten value
    CHECK(marked(c));  // insertion (Dijkstra): the stored value
    CHECK_FALSE(marked(a.get()));  // the object written is not shaded
    CHECK(grey_pending() == before + 2);  // both may hold pointers: queued
    a->next = c;  // already grey: shaded once only
    CHECK(grey_pending() == before + 2);
  }
  CHECK(a->next.get() == c);
}

TEST_CASE("barrier: once this thread's stack was scanned, a store shades only the old value", "[barrier]") {
  // The hybrid barrier's "is the stack grey?" (barrier.cpp, step 2(b)): a
  // handshake in the current scan epoch makes the stack black; a new epoch
  // (every mark start) makes it grey again; a thread registered after the
  // handshake stays grey. No cycle may run meanwhile: the test's own
  // handshake would record the epoch on stacks a real mark has not scanned.
  const int percent = gc::set_gc_percent(-1);
  gc::collect();  // finishes a cycle in progress
  gc::root<node> a = gc::gc_new<node>();
  node* b = gc::gc_new<node>();
  node* c = gc::gc_new<node>();
  node* d = gc::gc_new<node>();
  node* e = gc::gc_new<node>();
  a->next = b;
  namespace stack = gc::internal::stack;
  {
    barrier_on on;  // begins a scan epoch
    CHECK_FALSE(stack::self_stack_scanned());
    stack::handshake_each_stack([](const stack::stack_view&) {});
    CHECK(stack::self_stack_scanned());
    a->next = c;
    CHECK(marked(b));        // deletion: always
    CHECK_FALSE(marked(c));  // insertion: not from a black stack
    bool other_scanned = true;
    std::thread([&] {
      node* f = gc::gc_new<node>();  // registers this thread, after the handshake
      other_scanned = stack::self_stack_scanned();
      f->next = d;
    }).join();
    CHECK_FALSE(other_scanned);
    CHECK(marked(d));  // a thread registered after the handshake is grey
    stack::begin_scan_epoch();  // the next mark: grey again
    CHECK_FALSE(stack::self_stack_scanned());
    a->next = e;
    CHECK(marked(c));
    CHECK(marked(e));
  }
  gc::set_gc_percent(percent);
}

TEST_CASE("barrier: once every stack is scanned, initialising stores skip it until a thread registers",
          "[barrier]") {
  // barrier.cpp, step 8. As in the test above, no cycle may run meanwhile.
  const int percent = gc::set_gc_percent(-1);
  gc::collect();
  node* b = gc::gc_new<node>();
  node* c = gc::gc_new<node>();
  node* d = gc::gc_new<node>();
  namespace stack = gc::internal::stack;
  namespace barrier = gc::internal::barrier;
  {
    barrier_on on;  // as the mark-start stop: both flags on, every stack grey
    auto init_on = [] { return (init_barrier_state.load() & 1) != 0; };
    CHECK(init_on());
    const std::uint64_t before = barrier::init_barrier_snapshot();
    stack::handshake_each_stack([](const stack::stack_view&) {});
    barrier::stacks_scanned(before);
    CHECK_FALSE(init_on());
    CHECK(write_barrier_on.load());  // stores still shade their old values
    gc::member<node> m(b);
    CHECK_FALSE(marked(b));
    // A thread that registers now is grey: the flag goes back on before its
    // first store, and its initialising store shades.
    bool flag_after_registering = false;
    std::thread([&] {
      node* n = gc::gc_new<node>();  // registers this thread
      flag_after_registering = init_on();
      gc::member<node> m2(c);
      n->next = nullptr;
    }).join();
    CHECK(flag_after_registering);
    CHECK(marked(c));
    // A thread that registers between the marking thread's snapshot and
    // the end of its handshakes keeps the bit set: the clear fails.
    barrier::set_marking(false);
    barrier::set_marking(true);  // a second mark, for the test
    const std::uint64_t before2 = barrier::init_barrier_snapshot();
    std::thread([] { gc::gc_new<node>(); }).join();
    stack::handshake_each_stack([](const stack::stack_view&) {});
    barrier::stacks_scanned(before2);
    CHECK(init_on());
    gc::member<node> m3(d);  // this thread's stack is black: the slow path shades nothing
    CHECK_FALSE(marked(d));
  }
  gc::set_gc_percent(percent);
}

TEST_CASE("barrier: a store over a null member is an initialising store", "[barrier]") {
  // barrier.cpp, step 8, last point: barriered_store with a null old value
  // reads init_barrier_state as an initialising store does. Once every
  // stack is scanned it shades nothing; a thread that registers afterwards
  // is grey, and its stores over null members shade the new value; a store
  // over a non-null value shades the old one whatever the flag.
  const int percent = gc::set_gc_percent(-1);
  gc::collect();
  gc::root<node> holder = gc::gc_new<node>();
  node* b = gc::gc_new<node>();
  node* c = gc::gc_new<node>();
  node* d = gc::gc_new<node>();
  namespace stack = gc::internal::stack;
  namespace barrier = gc::internal::barrier;
  {
    barrier_on on;
    const std::uint64_t before = barrier::init_barrier_snapshot();
    stack::handshake_each_stack([](const stack::stack_view&) {});
    barrier::stacks_scanned(before);
    REQUIRE((init_barrier_state.load() & 1) == 0);
    holder->next = b;  // over null, from a black stack: nothing to shade
    CHECK_FALSE(marked(b));
    holder->next = c;  // over b: the deletion half shades b
    CHECK(marked(b));
    CHECK_FALSE(marked(c));
    holder->next = nullptr;  // over c: shades c
    CHECK(marked(c));
    std::thread([&] {
      node* n = gc::gc_new<node>();  // registers this thread: grey, the flag back on
      n->next = d;                   // over null, from a grey stack: shades d
    }).join();
    CHECK(marked(d));
  }
  gc::set_gc_percent(percent);
}

TEST_CASE("barrier: constructing and copying members shades the stored value", "[barrier]") {
  node* b = gc::gc_new<node>();
  node* c = gc::gc_new<node>();
  {
    barrier_on on;
    gc::member<node> m(b);
    CHECK(marked(b));
    gc::member<node> copy(m);
    CHECK(copy.get() == b);
    gc::member<node> n(nullptr);  // nothing to shade, and no crash
    n = c;
    CHECK(marked(c));
  }
}

TEST_CASE("barrier: pointer-free objects are marked but never queued", "[barrier]") {
  gc::root<node> a = gc::gc_new<node>();
  leaf* l = gc::gc_new<leaf>();
  struct holder {
    gc::member<leaf> l;
  };
  holder* h = gc::gc_new<holder>();
  gc::root<holder> keep(h);
  {
    barrier_on on;
    const std::size_t before = grey_pending();
    h->l = l;
    CHECK(marked(l));
    CHECK(grey_pending() == before);
  }
}

TEST_CASE("barrier: root stores shade, creation and destruction included", "[barrier]") {
  node* a = gc::gc_new<node>();
  node* b = gc::gc_new<node>();
  node* c = gc::gc_new<node>();
  gc::root<node> r(a);
  {
    barrier_on on;
    r = b;  // a store into an existing slot
    CHECK(marked(a));
    CHECK(marked(b));
    {
      gc::root<node> fresh(c);  // creation: the new value
      CHECK(marked(c));
    }
    node* d = gc::gc_new<node>();
    gc::root<node> held(d);
    CHECK(marked(d));  // allocated while the flag is on: shaded by the root's creation
    held.reset();      // destruction: the old value (already black: no change)
    CHECK(marked(d));
  }
}

TEST_CASE("barrier: gc::write_barrier stores into a raw slot with the barrier", "[barrier]") {
  struct raw_holder {
    void* p;
  };
  gc::root<raw_holder> h = gc::gc_new<raw_holder>();
  node* a = gc::gc_new<node>();
  node* b = gc::gc_new<node>();
  gc::write_barrier(&h->p, a);
  CHECK(h->p == a);
  CHECK_FALSE(marked(a));
  {
    barrier_on on;
    gc::write_barrier(&h->p, b);
    CHECK(h->p == b);
    CHECK(marked(a));
    CHECK(marked(b));
  }
}

TEST_CASE("barrier: a registered thread buffers its shades until the buffer fills or the thread exits",
          "[barrier]") {
  // barrier.cpp, step 6: the values wait in the thread's buffer (mark
  // termination shades what is left there); a full buffer is shaded at once,
  // and so is the buffer of a thread that leaves.
  const int percent = gc::set_gc_percent(-1);
  gc::collect();
  constexpr std::size_t n = 400;  // more than one buffer's worth of old values
  std::vector<gc::root<node>> v;
  for (std::size_t i = 0; i < n; ++i) v.emplace_back(gc::gc_new<node>());
  gc::root<node> a = gc::gc_new<node>();
  a->next = v[0].get();
  gc::root<node> b = gc::gc_new<node>();
  node* kept_by_b = gc::gc_new<node>();
  b->next = kept_by_b;
  {
    barrier_on on;
    a->next = v[1].get();
    CHECK_FALSE(marked_now(v[0].get()));  // buffered, not yet shaded
    for (std::size_t i = 2; i < n; ++i) a->next = v[i].get();
    CHECK(marked_now(v[0].get()));  // the buffer filled: shaded without being asked
    for (std::size_t i = 0; i + 1 < n; ++i) CHECK(marked(v[i].get()));
    std::thread([&] {
      gc::thread_scope registered;
      b->next = nullptr;  // old value buffered in this thread's buffer
    }).join();
    CHECK(marked_now(kept_by_b));  // the thread shaded its buffer as it left
  }
  gc::set_gc_percent(percent);
}

TEST_CASE("barrier: a thread asked to flush shades its buffer at its next slow path", "[barrier]") {
  // barrier.cpp, step 7: the collector asks (request_flush); each thread
  // shades its own buffer at its next barrier or allocation slow path, and
  // all_flushed says when every buffer holding values has.
  const int percent = gc::set_gc_percent(-1);
  gc::collect();
  node* a = gc::gc_new<node>();
  gc::root<node> keep_a(a);
  gc::root<node> old1 = gc::gc_new<node>();
  gc::root<node> old2 = gc::gc_new<node>();
  gc::root<node> other = gc::gc_new<node>();
  a->next = old1.get();
  {
    barrier_on on;
    a->next = nullptr;  // old1 buffered
    CHECK_FALSE(marked_now(old1.get()));
    CHECK(gc::internal::barrier::all_flushed());  // nothing asked yet
    gc::internal::barrier::request_flush();
    CHECK_FALSE(gc::internal::barrier::all_flushed());  // this thread holds a value
    // An allocation slow path flushes: allocate until a refill happens.
    for (int i = 0; i < 1000 && !marked_now(old1.get()); ++i) gc::gc_new<leaf>();
    CHECK(marked_now(old1.get()));
    CHECK(gc::internal::barrier::all_flushed());
    // A barrier after a request flushes at once, the new values with the old.
    a->next = old2.get();
    gc::internal::barrier::request_flush();
    a->next = other.get();  // the barrier's slow path: old2 and everything before it shaded
    CHECK(marked_now(old2.get()));
    CHECK(gc::internal::barrier::all_flushed());
  }
  gc::set_gc_percent(percent);
}

TEST_CASE("barrier: copy_members copies like memmove and shades both sides", "[barrier]") {
  struct array {
    gc::member<node> items[8];
    void trace(gc::tracer& t) const { t.visit(items); }
  };
  gc::root<array> x = gc::gc_new<array>();
  gc::root<array> y = gc::gc_new<array>();
  std::vector<node*> nodes;
  for (int i = 0; i < 8; ++i) {
    nodes.push_back(gc::gc_new<node>());
    nodes.back()->value = i;
    x->items[i] = nodes.back();
  }
  std::vector<node*> old_y;
  for (int i = 0; i < 8; ++i) {
    old_y.push_back(gc::gc_new<node>());
    y->items[i] = old_y.back();
  }
  // Off: a plain copy, overlapping forwards and backwards.
  gc::copy_members(x->items + 1, x->items, 4);  // [0 0 1 2 3 5 6 7]
  CHECK(x->items[0].get() == nodes[0]);
  CHECK(x->items[1].get() == nodes[0]);
  CHECK(x->items[4].get() == nodes[3]);
  CHECK(x->items[5].get() == nodes[5]);
  gc::copy_members(x->items, x->items + 1, 4);  // [0 1 2 3 3 5 6 7]
  for (int i = 0; i < 4; ++i) CHECK(x->items[i].get() == nodes[static_cast<std::size_t>(i)]);
  for (node* n : nodes) CHECK_FALSE(marked(n));
  {
    barrier_on on;
    gc::copy_members(y->items, x->items, 8);
    for (int i = 0; i < 8; ++i) {
      CHECK(marked(old_y[static_cast<std::size_t>(i)]));  // overwritten
      CHECK(marked(x->items[i].get()));                  // copied
      CHECK(y->items[i].get() == x->items[i].get());
    }
  }
}
