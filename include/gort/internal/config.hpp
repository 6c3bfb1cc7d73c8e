// gort/internal/config.hpp: compiler and build-mode macros shared by the
// public headers and the library. Not part of the API: users must not use
// anything declared here.
//
// GORT_DEBUG          1 in debug builds (CMake's Debug config or -DGORT_DEBUG=1):
//                     turns on GORT_DCHECK and the lock-rank checker.
// GORT_LIKELY(x)      branch hints for the fast paths.
// GORT_NOINLINE       keeps a slow path out of line, so the fast path stays small.
// GORT_ALWAYS_INLINE  forces the fast path inline into gc_new's caller.
// GORT_ASAN, GORT_TSAN 1 when this translation unit is built with
//                     AddressSanitizer / ThreadSanitizer (GCC's and Clang's
//                     ways of saying so), else 0: the one place that asks.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#  define GORT_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define GORT_ASAN 1
#  endif
#endif
#ifndef GORT_ASAN
#  define GORT_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__)
#  define GORT_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define GORT_TSAN 1
#  endif
#endif
#ifndef GORT_TSAN
#  define GORT_TSAN 0
#endif

#ifndef GORT_DEBUG
#  ifdef NDEBUG
#    define GORT_DEBUG 0
#  else
#    define GORT_DEBUG 1
#  endif
#endif

#define GORT_LIKELY(x) __builtin_expect(!!(x), 1)
#define GORT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GORT_NOINLINE __attribute__((noinline))
#define GORT_ALWAYS_INLINE inline __attribute__((always_inline))
#define GORT_COLD __attribute__((cold))
