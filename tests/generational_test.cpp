// tests/generational_test.cpp: minor collections with sticky mark bits
// (GODEBUG=gcgen=1; src/gc/collector.hpp, "Minor cycles"). Each case turns
// the mode on with automatic collection off, once with the stop-the-world
// collector and once with concurrent marking (GENERATE), runs cycles itself
// (gc::collect() is a full one, collect_unforced a minor one when allowed),
// and checks that the cycle it expected to be minor was one, so that no
// case passes on full cycles alone.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>

#include <atomic>
#include <utility>
#include <vector>

#include "alloc/arena.hpp"
#include "gc/cards.hpp"
#include "gc/collector.hpp"
#include "gc_test_util.hpp"

using gort_test::elsewhere;
using gort_test::on_fresh_thread;
using gort_test::tracked;
namespace collector = gc::internal::collector;

namespace {

// The collector's settings for one case, restored after it: the marking
// mode and minor cycles as asked, no automatic cycle, minor cycles whenever
// the mode is on (the cases ask for them themselves), and a full cycle first.
struct mode_settings {
  int percent;
  bool concurrent;
  bool was;
  bool always;
  mode_settings(bool concurrent_marking, bool generational)
      : percent(gc::set_gc_percent(-1)),
        concurrent(gc::set_concurrent_marking(concurrent_marking)),
        was(collector::set_generational(generational)),
        always(std::exchange(collector::test_minor_always, true)) {
    gc::collect();
  }
  ~mode_settings() {
    collector::test_minor_always = always;
    collector::set_generational(was);
    gc::collect();
    gc::set_concurrent_marking(concurrent);
    gc::set_gc_percent(percent);
  }
};

// The mode on for one case: stop-the-world or concurrent marking (each case
// runs with both), after a full cycle (the mode's first cycle is always a
// full one).
struct generational_mode : mode_settings {
  generational_mode() : mode_settings(GENERATE(false, true), true) { tracked::reset(); }
};

// A minor cycle, checked to be one.
void minor_cycle() {
  const std::uint64_t before = collector::minor_cycles();
  collector::collect_unforced();
  REQUIRE(collector::minor_cycles() == before + 1);
}

// An object with a payload that a reclaimed and reused slot would lose.
struct holder {
  static inline std::atomic<long> destroyed{0};
  long check = 0x600d;
  gc::member<tracked> child;
  gc::member<tracked> more[3];
  ~holder() { destroyed.fetch_add(1); }
  void trace(gc::tracer& t) const {
    t.visit(child);
    for (const auto& m : more) t.visit(m);
  }
};

// A child made by a noinline call on another thread, so that no stale word
// of the test's own stack holds it.
tracked* young_child(long v) { return gc::gc_new<tracked>(v); }

}  // namespace

TEST_CASE("generational: a young object stored into an old one after the last cycle survives a minor cycle",
          "[generational]") {
  generational_mode mode;
  gc::root<holder> old = gc::gc_new<holder>();
  gc::collect();  // `old` is old now
  // The only reference to the child is the member of the old object: the
  // minor mark does not scan `old` (it is marked already) unless the store
  // dirtied its card (src/gc/cards.hpp).
  on_fresh_thread([&] { old->child = young_child(42); });
  minor_cycle();
  CHECK(tracked::destroyed == 0);
  CHECK(gort_test::inspect([&] { return old->child->value; }) == 42);
  // Once the child has been marked by that minor cycle it is old too, and a
  // second minor cycle keeps it without any card.
  minor_cycle();
  CHECK(tracked::destroyed == 0);
  CHECK(gort_test::inspect([&] { return old->child->value; }) == 42);
}

namespace {
// Objects of three size classes, so that each lies in a span (and so on a
// card) of its own: a store into one dirties no card of another.
struct wide {
  gc::member<tracked> more[3];
  long pad[61] = {};
  void trace(gc::tracer& t) const {
    for (const auto& m : more) t.visit(m);
  }
};
struct raw_holder {
  tracked* raw = nullptr;  // written with gc::write_barrier
  long pad[13] = {};
  void trace(gc::tracer& t) const { t.visit(raw); }
};
}  // namespace

TEST_CASE("generational: stores through copy_members and gc::write_barrier dirty their cards", "[generational]") {
  generational_mode mode;
  gc::root<holder> old = gc::gc_new<holder>();
  gc::root<raw_holder> old_raw = gc::gc_new<raw_holder>();
  gc::root<wide> source = gc::gc_new<wide>();
  gc::collect();
  on_fresh_thread([&] {
    // Young children stored into the old `source`, copied into the old
    // `old`, then cleared from `source`: only the copies hold them.
    for (long i = 0; i < 3; ++i) source->more[i] = young_child(i + 1);
    gc::copy_members(old->more, source->more, 3);
    for (auto& m : source->more) m = nullptr;
    gc::write_barrier(reinterpret_cast<void**>(&old_raw->raw), young_child(7));
  });
  minor_cycle();
  CHECK(tracked::destroyed == 0);
  CHECK(gort_test::inspect([&] {
          return old->more[0]->value + 10 * old->more[1]->value + 100 * old->more[2]->value + 1000 * old_raw->raw->value;
        }) == 7321);
}

namespace {
// A constructor that outlives a cycle: `this` is found on the constructing
// thread's stack and marked, so the object is old before its initialising
// store of a child made after that cycle (docs/design.md section 3,
// correction 1).
struct slow_builder {
  gc::member<tracked> child;
  long check = 0;
  static tracked* make_after_a_cycle() {
    gc::collect();
    return young_child(99);
  }
  slow_builder() : child(make_after_a_cycle()), check(0xb1d) {}
  void trace(gc::tracer& t) const { t.visit(child); }
};
}  // namespace

TEST_CASE("generational: an initialising store into an object that turned old during its constructor", "[generational]") {
  generational_mode mode;
  gc::root<slow_builder> b;
  on_fresh_thread([&] { b = gc::gc_new<slow_builder>(); });
  minor_cycle();
  CHECK(tracked::destroyed == 0);
  CHECK(gort_test::inspect([&] { return b->child->value; }) == 99);
  CHECK(b->check == 0xb1d);
}

TEST_CASE("generational: a minor cycle frees young garbage and leaves dead old objects to a full cycle",
          "[generational]") {
  generational_mode mode;
  holder::destroyed = 0;
  gc::root<holder> r;
  on_fresh_thread([&] { r = gc::gc_new<holder>(); });
  gc::collect();  // the holder is old
  r = nullptr;    // and now dead, but old
  on_fresh_thread([] {
    for (int i = 0; i < 1000; ++i) gc::gc_new<tracked>(i);  // young garbage
  });
  minor_cycle();
  CHECK(tracked::destroyed + gort_test::sanitizer_strays >= 1000);
  CHECK(holder::destroyed == 0);  // old: not marked again, not swept
  gc::collect();                  // a full cycle
  CHECK(holder::destroyed + gort_test::sanitizer_strays >= 1);
}

TEST_CASE("generational: old garbage that leaves a minor cycle little to free brings a full cycle", "[generational]") {
  generational_mode mode;
  collector::test_minor_always = false;  // the policy's own choice (pacer.hpp step 12); restored by `mode`
  gc::set_gc_percent(100);  // the policy reads GOGC; automatic cycles may start too, which is fine
  tracked::reset();
  const std::uint64_t minors0 = collector::minor_cycles();
  // Each round makes a list that is reachable across one cycle (so it turns
  // old) and is then dropped: old garbage that only a full cycle frees.
  gc::root<tracked> keep;
  long made = 0;
  for (int round = 0; round < 40 && tracked::destroyed == 0; ++round) {
    on_fresh_thread([&] {
      tracked* head = nullptr;
      for (int i = 0; i < 2000; ++i, ++made) {
        tracked* n = gc::gc_new<tracked>(i);
        n->next = head;
        head = n;
      }
      keep = head;
    });
    collector::collect_unforced();
    keep = nullptr;
  }
  gc::set_gc_percent(-1);
  CHECK(collector::minor_cycles() > minors0);  // minor cycles ran
  CHECK(tracked::destroyed > 0);               // and a full one freed old garbage without gc::collect()
}

TEST_CASE("generational: gc::collect() clears every card and every old mark first", "[generational]") {
  generational_mode mode;
  gc::root<holder> old = gc::gc_new<holder>();
  gc::collect();
  on_fresh_thread([&] { old->child = young_child(1); });
  gc::collect();  // full: the child is marked by tracing, the card cleared
  CHECK(gc::internal::cards::count_dirty(gc::internal::heap_lo.load(), gc::internal::heap_hi.load()) == 0);
  minor_cycle();
  CHECK(tracked::destroyed == 0);
  CHECK(gort_test::inspect([&] { return old->child->value; }) == 1);
}

namespace {
holder* during_mark_target = nullptr;
std::atomic<int> during_mark_calls{0};
}  // namespace

TEST_CASE("generational: a black-allocated object stored into an old one during a concurrent mark survives the next "
          "minor cycle", "[generational]") {
  mode_settings mode(/*concurrent_marking=*/true, /*generational=*/true);
  tracked::reset();
  {
    gc::root<holder> old = gc::gc_new<holder>();
    gc::collect();  // `old` is old now
    // A store before the cycle dirties old's card in the table that the
    // next mark start hands to its card pass (src/gc/cards.hpp, step 2).
    on_fresh_thread([&] { old->child = young_child(1); });
    // During that mark, before its card pass: a child allocated black,
    // stored into `old`. The pass then clears old's card in the table it
    // reads; the store's card is in the other table, the barrier's, where
    // the next minor mark finds it. (With one table, the pass would clear
    // the only record of the edge, and the child, young after this cycle's
    // sweep, would be freed by the next minor cycle.)
    during_mark_target = old.get();
    during_mark_calls = 0;
    collector::test_during_mark = [] {
      if (during_mark_calls.fetch_add(1) == 0)
        on_fresh_thread([] { during_mark_target->more[0] = young_child(2); });
    };
    const std::uint64_t before = collector::minor_cycles();
    collector::collect_unforced();
    collector::test_during_mark = nullptr;
    REQUIRE(during_mark_calls == 1);
    REQUIRE(collector::minor_cycles() == before + 1);
    minor_cycle();  // the child is young: only old's card keeps it
    CHECK(tracked::destroyed == 0);
    CHECK(gort_test::inspect([&] { return old->child->value + 10 * old->more[0]->value; }) == 21);
  }
}

TEST_CASE("generational: objects allocated during a concurrent mark are young after it", "[generational]") {
  mode_settings mode(/*concurrent_marking=*/true, /*generational=*/true);
  tracked::reset();
  // Garbage allocated black during a mark: kept by that cycle, but not as
  // old objects (span::black_word), so the next minor cycle frees it.
  // (Were its allocation marks kept as old marks, only a full cycle would.)
  during_mark_calls = 0;
  collector::test_during_mark = [] {
    if (during_mark_calls.fetch_add(1) == 0)
      on_fresh_thread([] {
        for (int i = 0; i < 1000; ++i) gc::gc_new<tracked>(i);
      });
  };
  const std::uint64_t before = collector::minor_cycles();
  collector::collect_unforced();
  collector::test_during_mark = nullptr;
  REQUIRE(during_mark_calls == 1);
  CHECK(tracked::destroyed < 1000);  // allocated black: this cycle kept them
  minor_cycle();
  CHECK(collector::minor_cycles() == before + 2);
  CHECK(tracked::destroyed + gort_test::sanitizer_strays >= 1000);
}

// The same for objects without trace() or a destructor, which live in
// untyped spans: their sweep reads allocate-black's record (column 1 of
// the span's bitmap rows, span.hpp) before it folds the owners' marks,
// which clears that column.
TEST_CASE("generational: untyped objects allocated during a concurrent mark are young after it", "[generational]") {
  struct plain {
    long a, b, c, d;
  };
  mode_settings mode(/*concurrent_marking=*/true, /*generational=*/true);
  during_mark_calls = 0;
  collector::test_during_mark = [] {
    if (during_mark_calls.fetch_add(1) == 0)
      on_fresh_thread([] {
        for (int i = 0; i < 1000; ++i) gc::gc_new<plain>();
      });
  };
  const std::uint64_t before = collector::minor_cycles();
  collector::collect_unforced();
  collector::test_during_mark = nullptr;
  REQUIRE(during_mark_calls == 1);
  const gc::mem_stats kept = gc::read_mem_stats();
  minor_cycle();
  const gc::mem_stats after = gc::read_mem_stats();
  CHECK(collector::minor_cycles() == before + 2);
  // Young: the minor cycle frees them (were their allocation marks kept as
  // old marks, only a full cycle would).
  CHECK(kept.heap_objects - after.heap_objects + gort_test::sanitizer_strays >= 1000);
}

TEST_CASE("generational: minor cycles switched on during a concurrent mark begin after a full cycle",
          "[generational]") {
  mode_settings mode(/*concurrent_marking=*/true, /*generational=*/false);
  // The switch lands inside a mark that began with the mode off: that mark
  // flipped no card table, so the stores of its mark before the switch
  // dirtied no card, and the cycle after it must not be a minor one.
  during_mark_calls = 0;
  collector::test_during_mark = [] {
    if (during_mark_calls.fetch_add(1) == 0) collector::set_generational(true);
  };
  collector::collect_unforced();
  collector::test_during_mark = nullptr;
  REQUIRE(during_mark_calls == 1);
  const std::uint64_t before = collector::minor_cycles();
  collector::collect_unforced();
  CHECK(collector::minor_cycles() == before);  // a full cycle
  collector::collect_unforced();
  CHECK(collector::minor_cycles() == before + 1);  // then minor ones
}
