// tests/gc_stress_test.cpp: a multi-threaded random-graph mutation stress
// test of the collector and its write barrier. Several threads each own a
// graph of nodes (so the test itself has no data race) and mutate it at
// random through gc::member and gc::root stores: swap two edges, cut an
// edge, add an edge to a new node or to another node of the graph, move a
// root, link in a node that only this thread's stack held; meanwhile another thread forces collections back to back and the
// pacer starts its own. Every node carries a checksum of its id, checked on
// every visit: a node freed while reachable and reused would fail it.
// Deterministic inputs (a fixed seed per thread); the interleaving is not,
// and each mutator stops after its steps or a time bound, whichever first.
// CTest runs it in every mode: concurrent (default), GODEBUG=gccheckmark=1
// (each cycle verified), and GODEBUG=gcstoptheworld=1.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>

#include "test_util.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

constexpr int edges_per_node = 4;
constexpr std::uint64_t check_salt = 0x9e3779b97f4a7c15ull;

struct node {
  std::uint64_t id = 0;
  std::uint64_t checksum = 0;  // id ^ check_salt, written once
  gc::member<node> edges[edges_per_node];
  void trace(gc::tracer& t) const { t.visit(edges); }
};

struct rng {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
  unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }
};

struct counters {
  std::atomic<long> visits{0};
  std::atomic<long> bad{0};
  std::atomic<long> mutations{0};
};

node* new_node(std::uint64_t& next_id, std::uint64_t thread) {
  node* n = gc::gc_new<node>();
  n->id = (thread << 40) | next_id++;
  n->checksum = n->id ^ check_salt;
  return n;
}

bool ok(const node* n) { return n->checksum == (n->id ^ check_salt); }

// One mutator: a private graph rooted in `roots`, mutated `steps` times or
// until `deadline` (stop-the-world mode with back-to-back forced cycles
// leaves the mutators little time: the run would last minutes otherwise).
void mutator(std::uint64_t thread, int steps, std::chrono::steady_clock::time_point deadline, counters& c) {
  rng r{0x1234567ull + thread * 0x9e37ull};
  std::uint64_t next_id = 0;
  constexpr int nroots = 16;
  std::vector<gc::root<node>> roots(nroots);
  for (auto& root : roots) root = new_node(next_id, thread);
  // Nodes held only in this frame, in no root and no other node: a grey
  // stack's private pointers, which the barrier's insertion half must shade
  // when one is stored into a (possibly black) node and then dropped here
  // before this thread's handshake (barrier.cpp, step 2(b)).
  constexpr int nstash = 8;
  node* stash[nstash] = {};
  long visits = 0, bad = 0;
  int step = 0;
  for (; step < steps; ++step) {
    if ((step & 1023) == 0 && std::chrono::steady_clock::now() > deadline) break;
    // Walk from a random root along random edges, checking every node.
    node* cur = roots[r.below(nroots)].get();
    node* prev = cur;
    const int depth = 1 + static_cast<int>(r.below(8));
    for (int d = 0; d < depth && cur != nullptr; ++d) {
      ++visits;
      if (!ok(cur)) ++bad;
      prev = cur;
      cur = cur->edges[r.below(edges_per_node)].get();
    }
    node* n = prev;  // the node to mutate: reachable from a root
    switch (r.below(7)) {
      case 0: {  // swap two edges
        const unsigned a = r.below(edges_per_node), b = r.below(edges_per_node);
        node* x = n->edges[a].get();
        n->edges[a] = n->edges[b].get();
        n->edges[b] = x;
        break;
      }
      case 1:  // cut an edge: what hung there may become garbage
        n->edges[r.below(edges_per_node)] = nullptr;
        break;
      case 2:  // a new node, linked from n and linking back into the graph
      {
        node* fresh = new_node(next_id, thread);
        fresh->edges[0] = n->edges[r.below(edges_per_node)].get();
        fresh->edges[1] = roots[r.below(nroots)].get();
        n->edges[r.below(edges_per_node)] = fresh;
        break;
      }
      case 3:  // an edge to another reachable node (a cycle, possibly)
        n->edges[r.below(edges_per_node)] = roots[r.below(nroots)].get();
        break;
      case 4: {  // a node kept only in this frame, for later
        node*& slot = stash[r.below(nstash)];
        if (slot == nullptr) slot = new_node(next_id, thread);
        break;
      }
      case 5: {  // a stashed node linked into the graph and dropped from the frame
        node*& slot = stash[r.below(nstash)];
        if (slot != nullptr) {
          ++visits;
          if (!ok(slot)) ++bad;
          n->edges[r.below(edges_per_node)] = slot;
          slot = nullptr;
        }
        break;
      }
      default:  // move a root: the old target may survive only through edges
        roots[r.below(nroots)] = r.below(4) == 0 ? new_node(next_id, thread) : n;
        break;
    }
    // Some garbage between mutations, so that the pacer runs its own cycles.
    if (r.below(4) == 0) gc::gc_new<node>();
  }
  // A last full check of everything still reachable from the roots.
  std::vector<node*> stack;
  std::unordered_set<std::uint64_t> seen;
  for (auto& root : roots)
    if (root) stack.push_back(root.get());
  while (!stack.empty() && seen.size() < 200000) {
    node* x = stack.back();
    stack.pop_back();
    ++visits;
    if (!ok(x)) {
      ++bad;
      continue;
    }
    if (!seen.insert(x->id).second) continue;
    for (auto& e : x->edges)
      if (e) stack.push_back(e.get());
  }
  c.visits += visits;
  c.bad += bad;
  c.mutations += step;
}

}  // namespace

TEST_CASE("gc stress: threads mutate random graphs through members and roots while cycles run", "[gc_stress]") {
  counters c;
  std::atomic<bool> done{false};
  std::atomic<long> forced{0};
  std::thread collector([&] {
    while (!done.load()) {
      gc::collect();
      forced.fetch_add(1);
    }
  });
  constexpr int threads = 3;
  // Sanitizer builds run 10-20x slower: fewer steps there.
  constexpr int steps = gort_test::asan || gort_test::tsan ? 200000 : 3000000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(gort_test::asan || gort_test::tsan ? 20 : 8);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back(mutator, static_cast<std::uint64_t>(t + 1), steps, deadline, std::ref(c));
  for (auto& t : ts) t.join();
  done = true;
  collector.join();
  INFO("visits " << c.visits << ", forced collections " << forced << ", cycles " << gc::read_mem_stats().num_gc);
  CHECK(c.mutations >= threads * 10000);  // all steps, or as many as the time allowed
  CHECK(c.visits > c.mutations);
  CHECK(c.bad == 0);
  CHECK(forced > 3);  // collections ran while the graphs changed
}
