// bench/latency/batch_floor.cpp: what this machine gives the latency
// benchmark's batches with no memory manager at all, with the other cores
// idle and with them busy.
//
// The latency benchmark (latency.cpp) times batches of 1000 replacements of
// a random slot's 3-node list. Its targets (issue 4) are absolute: the worst
// batch under 1 ms. A batch can also be slow for reasons no collector
// controls: the machine itself (a shared VM's host), and it can be slow in
// different ways when the collector keeps another core busy, as a
// concurrent marker does. This program measures that floor.
//
// 1. The same data as latency.cpp: `slots` slots (default 2,000,000), each
//    pointing to a list of 3 nodes of the same 32-byte layout, and the same
//    random slot choice (xorshift64*, the same seed).
// 2. A replacement takes its 3 nodes from a pool that is filled once and
//    then reused in a ring (three times the nodes the slots hold), so no
//    memory is allocated, freed, or touched for the first time while
//    batches are timed: what is left is the work itself, its cache misses,
//    and the machine. The ring reuses nodes that slots not replaced for a
//    while still name; nothing reads the lists, so that is harmless here.
// 3. `rounds` rounds (default 3), each timing `replacements` replacements
//    (default 20,000,000) in batches of 1000 twice: alone, then with one
//    thread spinning per other usable core (the cores a concurrent
//    collector's background worker would take).
// Output (stdout, one line): for each of `alone` and `busy`, the median,
// p99, p99.9 and worst batch over all rounds (us), the number of batches
// over 1 ms, and the worst of each round; and a checksum of the slots'
// head values, which keeps the stores alive.
//
//   batch_floor [slots [replacements [rounds]]]
#include <sched.h>

#include "batch_common.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct node {
  node* next;
  long a, b, c;
};
static_assert(sizeof(node) == 32, "the latency benchmark's node is 32 bytes");

using batch_common::next_random;

long parse(const char* s, long fallback) {
  return batch_common::parse_positive(s, fallback, "batch_floor [slots [replacements [rounds]]]");
}

struct pool {
  std::vector<node> nodes;
  std::size_t next = 0;
  node* take(node* link, long v) {
    node* n = &nodes[next];
    next = next + 1 == nodes.size() ? 0 : next + 1;
    n->next = link;
    n->a = v;
    return n;
  }
  node* list(long v) { return take(take(take(nullptr, v + 2), v + 1), v); }
};

// Times `replacements` replacements in batches of 1000; appends each batch's
// nanoseconds to `out` and returns the worst.
std::int64_t time_batches(std::vector<node*>& slots, pool& p, long replacements, std::vector<std::int64_t>& out) {
  constexpr long batch = 1000;
  std::int64_t worst = 0;
  const auto n = static_cast<std::uint64_t>(slots.size());
  for (long done = 0; done < replacements; done += batch) {
    const auto t0 = clock_type::now();
    for (long k = 0; k < batch; ++k) {
      const auto i = static_cast<std::size_t>(next_random() % n);
      slots[i] = p.list(static_cast<long>(i));
    }
    const std::int64_t d = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count();
    out.push_back(d);
    worst = std::max(worst, d);
  }
  return worst;
}

int usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

std::string summary(const char* name, std::vector<std::int64_t>& all, const std::vector<std::int64_t>& worsts) {
  std::sort(all.begin(), all.end());
  auto at = [&](double q) {
    return static_cast<double>(all[std::min(all.size() - 1, static_cast<std::size_t>(q * static_cast<double>(all.size())))]) /
           1000.0;
  };
  const long over1ms = std::count_if(all.begin(), all.end(), [](std::int64_t d) { return d > 1'000'000; });
  std::string per_round;
  for (std::int64_t w : worsts) per_round += (per_round.empty() ? "" : ",") + std::to_string(w / 1000);
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s_median_us=%.1f %s_p99_us=%.1f %s_p999_us=%.1f %s_worst_us=%.0f %s_over1ms=%ld %s_round_worst_us=%s",
                name, at(0.5), name, at(0.99), name, at(0.999), name, static_cast<double>(all.back()) / 1000.0, name,
                over1ms, name, per_round.c_str());
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const long nslots = parse(argc > 1 ? argv[1] : nullptr, 2'000'000);
  const long replacements = parse(argc > 2 ? argv[2] : nullptr, 20'000'000);
  const long rounds = parse(argc > 3 ? argv[3] : nullptr, 3);

  pool p;
  p.nodes.resize(static_cast<std::size_t>(nslots) * 3 * 3);  // step 2: touched here, once
  std::vector<node*> slots(static_cast<std::size_t>(nslots));
  for (long i = 0; i < nslots; ++i) slots[static_cast<std::size_t>(i)] = p.list(i);
  for (node& n : p.nodes) n.b = n.c = 0;  // every node's memory written before timing

  std::vector<std::int64_t> alone, busy, alone_worst, busy_worst;
  alone.reserve(static_cast<std::size_t>(rounds * (replacements / 1000 + 1)));
  busy.reserve(alone.capacity());
  const int others = usable_cpus() - 1;
  for (long r = 0; r < rounds; ++r) {
    alone_worst.push_back(time_batches(slots, p, replacements, alone));
    std::atomic<bool> stop{false};
    std::vector<std::thread> spinners;
    for (int i = 0; i < others; ++i)
      spinners.emplace_back([&stop] {
        volatile std::uint64_t x = 1;
        while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1442695040888963407ull;
      });
    busy_worst.push_back(time_batches(slots, p, replacements, busy));
    stop = true;
    for (auto& t : spinners) t.join();
  }
  // The slots are read once at the end, so that no store above is dead.
  // (The ring reuses nodes that slots not replaced for a while still name:
  // the lists are not checked, since nothing here manages memory.)
  std::uint64_t sum = 0;
  for (node* n : slots) sum += static_cast<std::uint64_t>(n->a);
  std::printf("busy_threads=%d %s %s checksum=%llu\n", others, summary("alone", alone, alone_worst).c_str(),
              summary("busy", busy, busy_worst).c_str(), static_cast<unsigned long long>(sum));
  return 0;
}
