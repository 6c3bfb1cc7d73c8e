// src/common/check.cpp: the out-of-line ends of GORT_CHECK and warnings.
// See check.hpp for the three levels of checks.
#include "common/check.hpp"

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace gc::internal {

void fatal(const char* file, int line, const std::string& msg) {
  // One write(2) so the line is not interleaved with other threads' output,
  // and no allocation after the message is built.
  std::string line_text = fmt::format("gort: fatal error: {} ({}:{})\n", msg, file, line);
  ssize_t ignored = ::write(2, line_text.data(), line_text.size());
  (void)ignored;
  std::abort();
}

void fatal_raw(const char* file, int line, const char* msg, std::size_t len) {
  char tail[256];
  auto r = fmt::format_to_n(tail, sizeof tail, " ({}:{})\n", file, line);
  const std::size_t tail_len = r.size < sizeof tail ? r.size : sizeof tail;
  static constexpr char head[] = "gort: fatal error: ";
  ssize_t ignored = ::write(2, head, sizeof head - 1);
  ignored = ::write(2, msg, len);
  ignored = ::write(2, tail, tail_len);
  (void)ignored;
  std::abort();
}

void warn(const std::string& msg) {
  std::string line_text = fmt::format("gort: warning: {}\n", msg);
  ssize_t ignored = ::write(2, line_text.data(), line_text.size());
  (void)ignored;
}

}  // namespace gc::internal
