// tests/test_util.hpp: small helpers shared by the test files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace gort_test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool asan = true;
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
inline constexpr bool asan = true;
#  else
inline constexpr bool asan = false;
#  endif
#else
inline constexpr bool asan = false;
#endif

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

}  // namespace gort_test
