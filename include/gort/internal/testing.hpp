// gort/internal/testing.hpp: entry points for gort's own tests and
// benchmarks. NOT for programs: freeing by hand defeats the collector, and
// these functions exist only until the collector's sweep reclaims memory.
#pragma once

#include <cstddef>

namespace gc::internal::testing {

// Frees the objects at ptrs[0..n). Each must be the start of a live gc
// object; freeing anything else aborts with a message naming it. Objects in
// a span that another thread's mcache currently owns are left allocated
// (their bitmap belongs to that thread). Flushes the calling thread's mcache
// first. Returns how many objects were freed.
std::size_t free_objects(void* const* ptrs, std::size_t n);

// Verifies the page heap's invariants (free lists, page map, counters);
// aborts with a message on the first broken one.
void verify_heap();

}  // namespace gc::internal::testing
