// tests/gc_env_probe.cpp: a program run by CTest under a chosen environment
// (GOGC, GODEBUG), since gort reads those once, at start-up. Exit status 0
// means the check passed; the reason for a failure is printed.
//
//   gc_env_probe gogc-off   with GOGC=off: 100 MiB of garbage, no automatic cycle
//   gc_env_probe gogc-50    with GOGC=50: set_gc_percent reports 50
//   gc_env_probe gogc-bad   with GOGC=abc: exactly one warning line, naming it and the default
//   gc_env_probe gctrace    with GODEBUG=gctrace=1: one line per cycle, in Go's format
#include <gort/gort.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <string>
#include <unistd.h>

#include "gc/gctrace.hpp"

namespace {

struct blob {
  void* words[16];
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
  return fail("unknown mode '" + mode + "'");
}
