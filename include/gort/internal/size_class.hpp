// gort/internal/size_class.hpp: from a request (bytes, alignment, scan or
// noscan) to a span class, at compile time when the size is a constant.
//
// 1. Sizes 1..1024 index size_to_class8 by (size + 7) >> 3; sizes
//    1025..32768 index size_to_class128 by (size - 1024 + 127) >> 7. Both
//    tables come from tools/mksizeclasses.cpp (size_classes.hpp, generated)
//    and give the smallest class whose size is >= the request.
// 2. Alignment: spans start on a page boundary and object i sits at
//    base + i * size, so an object is aligned to A when the class size is a
//    multiple of A. class_for() walks up from the smallest fitting class to
//    the first whose size is a multiple of A; every power of two up to 8192
//    is a class, so the walk always ends by the power of two >= max(size, A).
// 3. A span class is size_class * 4 + typed * 2 + noscan. Class 0 means
//    "large object": its span holds one object straight from the page heap.
//    noscan: the objects hold no pointers and are never scanned. typed: each
//    object has a metadata entry (obj_meta: its type's trace and destroy
//    functions, and an element count) in a table beside the span, so spans
//    of untyped objects stay plain bitmaps that sweep by swapping.
// 4. Tiny: noscan requests under 16 bytes are packed by the mcache into
//    16-byte blocks taken from the 16-byte noscan class.
#pragma once

#include <cstddef>
#include <cstdint>

#include <gort/internal/size_classes.hpp>

namespace gc::internal {

inline constexpr int num_span_classes = num_size_classes * 4;
inline constexpr std::size_t tiny_block_bytes = 16;
// The largest request gc_new accepts. Larger requests can never be met on a
// 48-bit address space; they throw std::bad_alloc before touching the heap.
inline constexpr std::size_t max_alloc_bytes = std::size_t{1} << 46;

constexpr int size_to_class(std::size_t size) {
  return size <= 1024 ? size_to_class8[(size + 7) >> 3] : size_to_class128[(size - 1024 + 127) >> 7];
}

// The smallest class that fits `size` bytes at alignment `align`, or 0 when
// the request is large (> max_small_size, or alignment above a page).
constexpr int class_for(std::size_t size, std::size_t align) {
  if (size > max_small_size || align > page_bytes) return 0;
  if (size == 0) size = 1;
  int c = size_to_class(size);
  while (c < num_size_classes && class_to_size[c] % align != 0) ++c;
  return c < num_size_classes ? c : 0;
}

constexpr int make_span_class(int size_class, bool noscan, bool typed = false) {
  return size_class * 4 + (typed ? 2 : 0) + (noscan ? 1 : 0);
}
constexpr int span_class_size(int span_class) { return span_class >> 2; }
constexpr bool span_class_noscan(int span_class) { return span_class & 1; }
constexpr bool span_class_typed(int span_class) { return (span_class >> 1) & 1; }

static_assert(class_to_size[num_size_classes - 1] == max_small_size, "size classes must end at max_small_size");
static_assert(class_to_size[size_to_class(tiny_block_bytes)] == tiny_block_bytes, "the tiny allocator needs a 16-byte class");
static_assert(class_for(24, 16) != 0 && class_to_size[class_for(24, 16)] % 16 == 0, "alignment walk");
static_assert(class_for(max_small_size + 1, 8) == 0, "large requests map to class 0");

}  // namespace gc::internal
