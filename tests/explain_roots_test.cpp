// tests/explain_roots_test.cpp: gc::debug::explain_roots, "why is this
// object alive?" (src/gc/explain.cpp).
#include <catch2/catch.hpp>

#include <gort/gort.hpp>

#include <algorithm>
#include <atomic>
#include <thread>
#include <unistd.h>

#include "gc_test_util.hpp"

using gc::debug::root_reference;
using gort_test::tracked;

namespace {

std::vector<root_reference> answer;

// Holds `obj` in a local of a named frame while it asks.
__attribute__((noinline)) void holder_frame_for_explain(tracked* obj) {
  tracked* volatile local = obj;
  answer = gc::debug::explain_roots(local);
  asm volatile("" : : "r"(local) : "memory");
}

}  // namespace

TEST_CASE("explain_roots: a stack word names its thread and frame", "[explain_roots]") {
  tracked* obj = gc::gc_new<tracked>(1);
  holder_frame_for_explain(obj);
  bool found_frame = false;
  for (const root_reference& r : answer) {
    if (r.where != root_reference::kind::stack) continue;
    CHECK(r.thread_id == ::gettid());
    if (r.frame.find("holder_frame_for_explain") != std::string::npos) found_frame = true;
  }
  INFO("references found: " << answer.size());
  CHECK(found_frame);
}

TEST_CASE("explain_roots: a gc::root and an add_roots range are named as such", "[explain_roots]") {
  gc::root<tracked> handle;
  static tracked* table[4];
  gort_test::on_fresh_thread([&] {
    handle = gc::gc_new<tracked>(2);
    table[1] = gc::gc_new<tracked>(3);
  });
  gc::add_roots(table, table + 4);
  auto by_handle = gort_test::inspect([&] { return gc::debug::explain_roots(handle.get()); });
  auto by_range = gort_test::inspect([&] { return gc::debug::explain_roots(table[1]); });
  gc::remove_roots(table, table + 4);
  // Besides these, a caller's frame may hold a spilled copy of the argument:
  // a stack entry, rightly reported. So look for the expected kinds.
  auto count = [](const std::vector<root_reference>& refs, root_reference::kind k) {
    return std::count_if(refs.begin(), refs.end(), [k](const root_reference& r) { return r.where == k; });
  };
  CHECK(count(by_handle, root_reference::kind::root_handle) == 1);
  CHECK(count(by_handle, root_reference::kind::root_range) == 0);
  CHECK(count(by_range, root_reference::kind::root_range) == 1);
  CHECK(count(by_range, root_reference::kind::root_handle) == 0);
  for (const root_reference& r : by_range)
    if (r.where == root_reference::kind::root_range) CHECK(r.address == reinterpret_cast<std::uintptr_t>(&table[1]));
}

TEST_CASE("explain_roots: an address outside the heap has no answer", "[explain_roots]") {
  int local = 0;
  CHECK(gc::debug::explain_roots(&local).empty());
}

namespace {
std::atomic<int> other_phase{0};

// Holds `obj` in a local of a named frame on another thread, until told.
__attribute__((noinline)) void other_thread_holder_frame(tracked* obj) {
  tracked* volatile local = obj;
  other_phase = 1;
  while (other_phase.load() != 2) std::this_thread::yield();
  asm volatile("" : : "r"(local) : "memory");
}
}  // namespace

TEST_CASE("explain_roots: a word on another thread's stack names that thread and its frame", "[explain_roots]") {
  int tid = 0;
  tracked* obj = nullptr;
  std::thread t([&] {
    tid = ::gettid();
    obj = gc::gc_new<tracked>(4);
    other_thread_holder_frame(obj);
  });
  while (other_phase.load() != 1) std::this_thread::yield();
  auto refs = gort_test::inspect([&] { return gc::debug::explain_roots(obj); });
  other_phase = 2;
  t.join();
  other_phase = 0;
  bool found_thread = false, found_frame = false;
  for (const root_reference& r : refs) {
    if (r.where != root_reference::kind::stack || r.thread_id != tid) continue;
    found_thread = true;
    if (r.frame.find("other_thread_holder_frame") != std::string::npos) found_frame = true;
  }
  std::string seen;
  for (const root_reference& r : refs) seen += " [tid " + std::to_string(r.thread_id) + " frame '" + r.frame + "']";
  INFO("references found:" << seen);
  CHECK(found_thread);
  CHECK(found_frame);
}
