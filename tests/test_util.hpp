// tests/test_util.hpp: small helpers shared by the test files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <functional>
#include <string>
#include <utility>

#include <gort/internal/config.hpp>  // GORT_ASAN, GORT_TSAN

namespace gort_test {

inline constexpr bool asan = GORT_ASAN;
inline constexpr bool tsan = GORT_TSAN;

// A gc object of exactly N bytes whose words may hold pointers (a scan class).
template <std::size_t N>
struct payload {
  static_assert(N % sizeof(void*) == 0);
  void* words[N / sizeof(void*)];
};

// Runs body() in a forked child and returns its exit status (0 = passed).
// For tests that change process-wide state (rlimits) or must run on a fresh heap.
inline int in_child(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Reads back the temporary file `path` written through fd, then closes and
// removes it.
inline std::string read_and_remove(int fd, const char* path) {
  std::string text;
  char buf[4096];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  ::unlink(path);
  return text;
}

// Runs body() in a forked child with its stderr captured; returns the exit
// status (as in_child) and what it wrote to stderr.
inline std::pair<int, std::string> run_capturing(const std::function<int()>& body) {
  char path[] = "/tmp/gort_test_XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return {-1, "mkstemp failed"};
  int status = in_child([&] {
    ::dup2(fd, 2);
    return body();
  });
  return {status, read_and_remove(fd, path)};
}

}  // namespace gort_test
