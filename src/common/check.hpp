// src/common/check.hpp: the three levels of runtime checks.
//
// 1. GORT_CHECK(cond, fmt, args...): always on. For cheap invariants whose
//    failure means the heap can no longer be trusted. On failure it prints
//    "gort: fatal error: <message>" with the file and line, and aborts.
//    The message must name the object, the span and the rule broken.
// 2. GORT_DCHECK(cond, fmt, args...): the same, compiled only when GORT_DEBUG
//    is 1 (debug builds). For checks on fast paths.
// 3. Expensive verifiers (whole-heap walks) are functions of their own,
//    called only when a GODEBUG flag asks for them; they report through
//    gc::internal::fatal as well.
//
// All formatting goes through libfmt (fmt::format syntax, "{}").
#pragma once

#include <fmt/format.h>

#include <gort/internal/config.hpp>

namespace gc::internal {

// Prints "gort: fatal error: MSG (FILE:LINE)" to stderr and aborts. Never returns.
[[noreturn]] GORT_COLD GORT_NOINLINE void fatal(const char* file, int line, const std::string& msg);

// The same, for a message already formatted into the caller's buffer: no
// allocation at all, for failures found while the world is stopped (a
// stopped thread may hold malloc's lock).
[[noreturn]] GORT_COLD GORT_NOINLINE void fatal_raw(const char* file, int line, const char* msg, std::size_t len);

// Prints "gort: warning: MSG" to stderr, one line.
GORT_COLD void warn(const std::string& msg);

}  // namespace gc::internal

#define GORT_FATAL(...) ::gc::internal::fatal(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__))

// GORT_FATAL without allocating: formats into a stack buffer (messages
// longer than 2 KiB are cut).
#define GORT_FATAL_NOALLOC(...)                                                                   \
  do {                                                                                            \
    char gort_fatal_buf_[2048];                                                                   \
    auto gort_fatal_r_ = ::fmt::format_to_n(gort_fatal_buf_, sizeof gort_fatal_buf_, __VA_ARGS__); \
    std::size_t gort_fatal_n_ = gort_fatal_r_.size < sizeof gort_fatal_buf_ ? gort_fatal_r_.size   \
                                                                            : sizeof gort_fatal_buf_; \
    ::gc::internal::fatal_raw(__FILE__, __LINE__, gort_fatal_buf_, gort_fatal_n_);               \
  } while (0)

#define GORT_CHECK(cond, ...)                  \
  do {                                         \
    if (GORT_UNLIKELY(!(cond))) GORT_FATAL(__VA_ARGS__); \
  } while (0)

#if GORT_DEBUG
#  define GORT_DCHECK(cond, ...) GORT_CHECK(cond, __VA_ARGS__)
#else
#  define GORT_DCHECK(cond, ...) \
    do {                         \
      if (false && (cond)) {     \
      }                          \
    } while (0)
#endif
