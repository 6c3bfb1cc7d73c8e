// gort/internal/config.hpp: compiler and build-mode macros shared by the
// public headers and the library. Not part of the API: users must not use
// anything declared here.
//
// GORT_DEBUG          1 in debug builds (CMake's Debug config or -DGORT_DEBUG=1):
//                     turns on GORT_DCHECK and the lock-rank checker.
// GORT_LIKELY(x)      branch hints for the fast paths.
// GORT_NOINLINE       keeps a slow path out of line, so the fast path stays small.
// GORT_ALWAYS_INLINE  forces the fast path inline into gc_new's caller.
#pragma once

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
