// tests/gc_env_probe.cpp: a program run by CTest under a chosen environment
// (GOGC, GODEBUG), since gort reads those once, at start-up. Exit status 0
// means the check passed; the reason for a failure is printed.
//
//   gc_env_probe gogc-off   with GOGC=off: 100 MiB of garbage, no automatic cycle
//   gc_env_probe gogc-50    with GOGC=50: set_gc_percent reports 50
//   gc_env_probe gogc-bad   with GOGC=abc: exactly one warning line, naming it and the default
//   gc_env_probe gctrace    with GODEBUG=gctrace=1: one line per cycle, in Go's format
//   gc_env_probe gomemlimit         with GOMEMLIMIT=48MiB GOGC=off: cycles run near the
//                                   limit and the heap's memory stays under it
//   gc_env_probe gomemlimit-bad     with GOMEMLIMIT=12XB: no limit (the warning is
//                                   checked by CTest)
//   gc_env_probe gomemlimit-below-live  with GOMEMLIMIT=4MiB and 24 MiB live, stop-the-
//                                   world: the program finishes; the CPU limiter postpones cycles
//   gc_env_probe checkmark-clean   with GODEBUG=gccheckmark=1: every cycle is verified,
//                                  and a correct mark passes with every shape kept
//   gc_env_probe checkmark-missed  with GODEBUG=gccheckmark=1: a mark bit cleared after
//                                  marking aborts the cycle with a report naming the
//                                  object, its span and the word that points to it
#include <gort/gort.hpp>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <regex>
#include <thread>
#include <vector>
#include <string>
#include <unistd.h>

#include "alloc/alloc.hpp"
#include "gc/checkmark.hpp"
#include "gc/collector.hpp"
#include "gc/gctrace.hpp"
#include "test_util.hpp"

namespace {

struct blob {
  void* words[16];
};
struct page {
  static constexpr bool gc_noscan = true;
  char bytes[8192];
};

// Runs f with stderr captured into the returned string.
template <class F>
std::string capture_stderr(F f) {
  std::FILE* tmp = std::tmpfile();
  int saved = ::dup(2);
  ::dup2(::fileno(tmp), 2);
  f();
  ::dup2(saved, 2);
  ::close(saved);
  std::string text;
  std::rewind(tmp);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, tmp)) > 0;) text.append(buf, n);
  std::fclose(tmp);
  return text;
}

int fail(const std::string& why) {
  std::fprintf(stderr, "gc_env_probe: FAILED: %s\n", why.c_str());
  return 1;
}

// A precisely traced pair and a conservatively scanned node, for checkmark.
struct traced {
  long value = 0;
  gc::member<traced> next;  // offset 8
  void trace(gc::tracer& t) const { t.visit(next); }
};
struct untraced {
  untraced* next;
  long value;
};

// The object whose mark the fault injection clears, its address kept
// complemented so that this global does not keep it alive by itself.
std::uintptr_t hidden_victim = 0;

void clear_victim_mark() {
  using namespace gc::internal;
  object_ref ref = find_object(~hidden_victim);
  std::uintptr_t idx = ref.s->object_index(reinterpret_cast<std::uintptr_t>(ref.base));
  ref.s->unmark(idx);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "gogc-off") {
    for (int i = 0; i < 800000; ++i) gc::gc_new<blob>();
    auto n = gc::read_mem_stats().num_gc;
    return n == 0 ? 0 : fail("GOGC=off, yet " + std::to_string(n) + " automatic cycles ran");
  }
  if (mode == "gogc-50") {
    int old = gc::set_gc_percent(100);
    return old == 50 ? 0 : fail("GOGC=50 read as " + std::to_string(old));
  }
  if (mode == "gogc-bad") {
    std::string err = capture_stderr([] {
      gc::gc_new<blob>();
      gc::collect();
    });
    const std::string want = "gort: warning: GOGC: invalid value \"abc\"; using the default 100\n";
    // The warning is printed when gort starts (before main, at the first
    // include's initialiser), so it went to the real stderr, not the capture;
    // CTest checks it with PASS_REGULAR_EXPRESSION. Here: no further warning.
    if (!err.empty()) return fail("unexpected output: " + err);
    int old = gc::set_gc_percent(100);
    return old == 100 ? 0 : fail("bad GOGC did not fall back to 100: " + std::to_string(old));
  }
  if (mode == "gctrace") {
    std::string err = capture_stderr([] {
      for (int i = 0; i < 3; ++i) gc::collect();
    });
    std::regex line(gc::internal::gctrace_line_regex);
    int lines = 0;
    std::size_t start = 0;
    while (start < err.size()) {
      std::size_t nl = err.find('\n', start);
      std::string l = err.substr(start, nl - start);
      start = nl == std::string::npos ? err.size() : nl + 1;
      if (!std::regex_match(l, line)) return fail("not a gctrace line: " + l);
      if (l.find(" (forced)") == std::string::npos) return fail("a gc::collect() line without (forced): " + l);
      ++lines;
    }
    std::fputs(err.c_str(), stdout);
    return lines == 3 ? 0 : fail("expected 3 lines, got " + std::to_string(lines));
  }
  if (mode == "gctrace2") {
    // GODEBUG=gctrace=2: each gctrace line is followed by the stops line;
    // a registered thread that spins without safe points must be signalled
    // to stop, and the parts of each stop add up to its total (each
    // printed figure is truncated on its own: within one us per part).
    // Signalled at every stop, once each: not quite. A thread still inside
    // the handler of one stop when the next begins (mark termination can
    // follow the mark-start stop by 80 us on this tiny heap) parks there
    // without a new signal, which is correct; the old check that every stop
    // signalled it failed 4-6 runs in 60 under ASan for that reason. So:
    // in the three cycles, some mark-start stop and some termination stop
    // signalled it.
    std::atomic<bool> quit{false}, running{false};
    std::thread spinner([&] {
      gc::thread_scope registered;
      running = true;
      volatile unsigned long x = 0;
      while (!quit.load(std::memory_order_relaxed)) x = x + 1;
    });
    while (!running.load()) std::this_thread::yield();
    std::string err = capture_stderr([] {
      for (int i = 0; i < 3; ++i) gc::collect();
    });
    quit = true;
    spinner.join();
    std::regex trace(gc::internal::gctrace_line_regex), stops(gc::internal::gctrace_stops_line_regex),
        work(gc::internal::gctrace_work_line_regex);
    std::vector<std::string> lines;
    for (std::size_t start = 0; start < err.size();) {
      std::size_t nl = err.find('\n', start);
      lines.push_back(err.substr(start, nl - start));
      start = nl == std::string::npos ? err.size() : nl + 1;
    }
    std::fputs(err.c_str(), stdout);
    // Three lines per (concurrent) cycle: gctrace, stops, mark work.
    if (lines.size() != 9) return fail("expected 9 lines, got " + std::to_string(lines.size()));
    int start_signalled = 0, term_signalled = 0;
    for (std::size_t i = 0; i < lines.size(); i += 3) {
      std::smatch m, w;
      if (!std::regex_match(lines[i], trace)) return fail("not a gctrace line: " + lines[i]);
      if (!std::regex_match(lines[i + 2], w, work)) return fail("not a mark work line: " + lines[i + 2]);
      if (w[1].str() != std::to_string(i / 3 + 1)) return fail("the work line names another cycle: " + lines[i + 2]);
      if (!std::regex_match(lines[i + 1], m, stops)) return fail("not a stops line: " + lines[i + 1]);
      if (m[1].str() != std::to_string(i / 3 + 1)) return fail("the stops line names another cycle: " + lines[i + 1]);
      if (!m[2].matched) return fail("gc::collect() runs a concurrent cycle, not this: " + lines[i + 1]);
      auto n = [&](int g) { return std::stol(m[g].str()); };
      start_signalled += n(4) >= 1;
      term_signalled += n(11) >= 1;
      const long start_parts = n(3) + n(6) + n(7) + n(8), term_parts = n(10) + n(13) + n(14) + n(15) + n(17) + n(18);
      if (start_parts > n(2) || n(2) > start_parts + 4) return fail("the start stop's parts do not add up: " + lines[i + 1]);
      if (term_parts > n(9) || n(9) > term_parts + 6) return fail("termination's parts do not add up: " + lines[i + 1]);
    }
    if (start_signalled == 0) return fail("the spinning thread was signalled at no mark-start stop");
    if (term_signalled == 0) return fail("the spinning thread was signalled at no termination stop");
    return 0;
  }
  if (mode == "gomemlimit") {
    const std::int64_t limit = std::int64_t{48} << 20;
    if (gc::set_memory_limit(-1) != limit) return fail("GOMEMLIMIT=48MiB read as " + std::to_string(gc::set_memory_limit(-1)));
    if (gc::set_gc_percent(-1) != -1) return fail("GOGC=off not read");
    gc::root<page> keep[1024];  // 1024 * 8 KiB = 8 MiB live
    for (auto& k : keep) k = gc::gc_new<page>();
    std::uint64_t worst = 0;
    for (int i = 0; i < 3'000'000; ++i) {  // 3M * 128 B = 384 MB of garbage
      gc::gc_new<blob>();
      if (i % 20000 == 0) {
        gc::mem_stats st = gc::read_mem_stats();
        worst = std::max<std::uint64_t>(worst, st.heap_sys - st.heap_released);
      }
    }
    gc::mem_stats st = gc::read_mem_stats();
    std::printf("%u cycles, largest retained heap %llu bytes, limit %lld\n", st.num_gc,
                static_cast<unsigned long long>(worst), static_cast<long long>(limit));
    if (st.num_gc < 5) return fail("GOGC=off with a limit: only " + std::to_string(st.num_gc) + " cycles for 384 MB");
    if (worst > static_cast<std::uint64_t>(limit)) return fail("the heap retained " + std::to_string(worst) + " bytes, over the limit");
    if (worst < static_cast<std::uint64_t>(limit) / 2) return fail("the heap never came near the limit: " + std::to_string(worst));
    return 0;
  }
  if (mode == "gomemlimit-bad") {
    const std::int64_t v = gc::set_memory_limit(-1);
    return v == INT64_MAX ? 0 : fail("a bad GOMEMLIMIT gave a limit of " + std::to_string(v));
  }
  if (mode == "gomemlimit-below-live") {
    gc::root<page> keep[3072];  // 3072 * 8 KiB = 24 MiB live, over the 4 MiB limit
    for (auto& k : keep) k = gc::gc_new<page>();
    for (int i = 0; i < 1'200'000; ++i) gc::gc_new<blob>();  // 150 MB of garbage
    const gc::mem_stats st = gc::read_mem_stats();
    const std::uint64_t limited = gc::internal::collector::limited_triggers();
    std::printf("%u cycles, %llu postponed by the CPU limiter\n", st.num_gc, static_cast<unsigned long long>(limited));
    // The goal is the live heap, so every allocation refill wants a cycle;
    // once the collector has used more than its share (the bucket holds
    // 1 s of CPU per processor), the limiter must postpone some of them.
    if (limited == 0) return fail("the CPU limiter never postponed a cycle (" + std::to_string(st.num_gc) + " cycles)");
    return 0;
  }
  if (mode == "checkmark-clean") {
    // Every kind of root and edge: a traced chain in a root, an untraced
    // (conservative) chain held by a local, a large object, an add_roots range.
    gc::root<traced> head;
    for (int i = 0; i < 2000; ++i) {
      traced* t = gc::gc_new<traced>();
      t->value = i;
      t->next = head.get();
      head = t;
    }
    untraced* volatile list = nullptr;
    for (int i = 0; i < 2000; ++i) list = gc::gc_new<untraced>(untraced{list, i});
    auto* big = gc::gc_new<void*[]>(100000);
    big[99999] = gc::gc_new<traced>();
    static void* range[4];
    range[2] = gc::gc_new<traced>();
    gc::add_roots(range, range + 4);
    for (int i = 0; i < 50000; ++i) gc::gc_new<untraced>();  // garbage
    const std::uint64_t before = gc::internal::checkmark::cycles_verified();
    for (int i = 0; i < 3; ++i) gc::collect();
    const std::uint64_t verified = gc::internal::checkmark::cycles_verified() - before;
    if (verified < 3) return fail("3 collections but " + std::to_string(verified) + " checkmark passes");
    long n = 0;
    for (const traced* t = head.get(); t != nullptr; t = t->next.get()) ++n;
    long m = 0;
    for (const untraced* u = list; u != nullptr; u = u->next) ++m;
    gc::remove_roots(range, range + 4);
    if (n != 2000 || m != 2000) return fail("chains lost objects: " + std::to_string(n) + ", " + std::to_string(m));
    return static_cast<traced*>(big[99999])->value == 0 ? 0 : fail("large object's referent changed");
  }
  if (mode == "checkmark-missed") {
    static gc::root<traced> holder;
    auto [status, err] = gort_test::run_capturing([] {
      // The victim is reachable through holder->next (offset 8); its address
      // is also printed, so the parent can check the report names it.
      [] {
        holder = gc::gc_new<traced>();
        traced* v = gc::gc_new<traced>();
        holder->next = v;
        hidden_victim = ~reinterpret_cast<std::uintptr_t>(v);
        std::fprintf(stderr, "victim=%#lx holder=%#lx\n", static_cast<unsigned long>(~hidden_victim),
                     static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(holder.get())));
      }();
      gc::internal::collector::test_after_mark = clear_victim_mark;
      gc::collect();
      return 0;  // not reached: the checkmark pass must abort
    });
    if (status != 128 + SIGABRT) return fail("expected an abort, got status " + std::to_string(status) + ": " + err);
    std::smatch ids;
    if (!std::regex_search(err, ids, std::regex("victim=(0x[0-9a-f]+) holder=(0x[0-9a-f]+)\n")))
      return fail("the child printed no addresses: " + err);
    std::smatch m;
    std::regex report(
        "gort: fatal error: gccheckmark: object (0x[0-9a-f]+) \\(16 bytes, span 0x[0-9a-f]+ \\[0x[0-9a-f]+, "
        "0x[0-9a-f]+\\), size class [0-9]+\\) is reachable from (.*) but the collector's mark left it "
        "unmarked; rule broken: .*\n");
    if (!std::regex_search(err, m, report)) return fail("no checkmark report in: " + err);
    if (m[1] != ids[1]) return fail("the report names " + m[1].str() + ", not the victim " + ids[1].str());
    // Reached through the holder (the only reference the test keeps), or
    // through a stale copy of the victim's address on the child's stack
    // (conservative scanning; seen in the ASan build): both are true reports.
    const std::string from = m[2];
    const bool via_holder =
        std::regex_match(from, std::regex("object " + ids[2].str() + " \\(16 bytes, span 0x[0-9a-f]+\\), in its word at offset 8"));
    const bool via_stack = std::regex_match(from, std::regex("(a thread's|the collecting thread's) (stack|saved registers|registers).*"));
    if (!via_holder && !via_stack) return fail("the report names an unexpected source: " + from);
    std::fputs(err.c_str(), stdout);
    return 0;
  }
  return fail("unknown mode '" + mode + "'");
}
