// src/common/godebug.hpp: the GODEBUG environment variable, read as Go reads it.
//
// Algorithm
// 1. On first use (godebug() is called from slow paths only), read GODEBUG
//    once: a comma-separated list of key=value pairs, e.g.
//    "madvdontneed=0,gctrace=1". Empty items are skipped.
// 2. Each key is looked up in the table of known settings (godebug.cpp).
//    A known key with an integer value in its range sets that setting.
// 3. A known key with a bad value prints one warning naming the key, the
//    value and the default, and keeps the default. An unknown key prints one
//    warning and is ignored. Nothing else is printed, ever.
// 4. The parsed settings are immutable afterwards, so readers need no lock.
//
// parse_godebug() is the pure part (a string in, settings and warnings out),
// tested on its own in tests/godebug_test.cpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gc::internal {

struct godebug_settings {
  // madvdontneed=1 (default): return memory with MADV_DONTNEED, so RSS falls
  // at once. madvdontneed=0: MADV_FREE, which is cheaper but leaves RSS high
  // until the kernel is short of memory (docs/design.md, "Returning memory").
  int madvdontneed = 1;

  // gctrace=1: one line on stderr per collection, in Go's format
  // (docs/gctrace.md, src/gc/gctrace.hpp). gctrace=2 adds a line of gort's
  // own per collection: where each stop of the world's time went.
  int gctrace = 0;
  // gcstoptheworld=1: every collection marks with the world stopped (no
  // concurrent mark); 2 also sweeps with the world stopped, as in Go.
  int gcstoptheworld = 0;
  // gccheckmark=1: after each mark, mark again with the world stopped and
  // fail if the second pass finds a reachable object the first left white
  // (src/gc/checkmark.hpp).
  int gccheckmark = 0;
  // gcgen=1: minor collections with sticky mark bits in stop-the-world
  // cycles (docs/design.md section 3; src/gc/collector.hpp). Concurrent
  // cycles stay full ones, so it acts with gcstoptheworld=1.
  int gcgen = 0;
};

struct godebug_parse_result {
  godebug_settings settings;
  std::vector<std::string> warnings;  // one line each, without "gort: warning: "
};

// Pure parser: no environment access, no output.
godebug_parse_result parse_godebug(std::string_view text);

// The process's settings, parsed from getenv("GODEBUG") on first call
// (thread-safe); warnings are printed to stderr then, once.
const godebug_settings& godebug();

}  // namespace gc::internal
