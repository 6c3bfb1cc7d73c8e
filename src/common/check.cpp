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

void warn(const std::string& msg) {
  std::string line_text = fmt::format("gort: warning: {}\n", msg);
  ssize_t ignored = ::write(2, line_text.data(), line_text.size());
  (void)ignored;
}

}  // namespace gc::internal
