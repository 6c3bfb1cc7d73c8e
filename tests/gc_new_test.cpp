// tests/gc_new_test.cpp: the public gc_new (include/gort/gort.hpp): zeroing,
// construction, arrays, alignment, scan/noscan placement, the tiny allocator.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>
#include <gort/internal/testing.hpp>

#include <cstring>
#include <stdexcept>
#include <string>

#include "alloc/alloc.hpp"
#include "test_util.hpp"

using namespace gc::internal;
using gort_test::payload;

namespace {
template <class T>
bool all_zero(const T* p, std::size_t bytes = sizeof(T)) {
  auto* b = reinterpret_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < bytes; ++i)
    if (b[i] != 0) return false;
  return true;
}

struct point {
  double x, y;
  point(double a, double b) : x(a), y(b) {}
};

struct counted {
  static inline int built = 0, destroyed = 0, throw_at = -1;
  int id;
  counted() : id(built) {
    if (built == throw_at) throw std::runtime_error("boom");
    ++built;
  }
  ~counted() { ++destroyed; }
};

struct opted_out {
  static constexpr bool gc_noscan = true;
  std::uintptr_t hash[4];
};
struct with_pointer {
  int* p;
};
enum class colour : std::uint8_t { red, green };
struct alignas(64) cache_line {
  char bytes[64];
};
struct alignas(4096) page_aligned {
  char bytes[100];
};
}  // namespace

TEST_CASE("gc_new: memory is zeroed, also when a slot is reused", "[gc_new]") {
  // Dirty a span's worth of objects, free them, and allocate again: every
  // reused slot must come back zeroed.
  std::vector<void*> objs;
  for (int i = 0; i < 500; ++i) {
    auto* p = gc::gc_new<payload<256>>();
    REQUIRE(all_zero(p));
    std::memset(p, 0xAB, sizeof(*p));
    objs.push_back(p);
  }
  REQUIRE(testing::free_objects(objs.data(), objs.size()) == objs.size());
  for (int i = 0; i < 500; ++i) REQUIRE(all_zero(gc::gc_new<payload<256>>()));

  // Large objects: dirty pages go back to the page heap and come out zeroed.
  auto* big = gc::gc_new<char[]>(200000);
  std::memset(big, 0xCD, 200000);
  void* bigp = big;
  REQUIRE(testing::free_objects(&bigp, 1) == 1);
  auto* big2 = gc::gc_new<char[]>(200000);
  CHECK(static_cast<void*>(big2) == bigp);  // the same pages came back
  CHECK(all_zero(big2, 200000));

  // Run-time sized arrays of every small class.
  for (std::size_t n = 1; n <= max_small_size; n = n * 3 / 2 + 1) {
    auto* a = gc::gc_new<unsigned char[]>(n);
    INFO("n = " << n);
    REQUIRE(all_zero(a, n));
    std::memset(a, 0xEE, n);
  }
}

TEST_CASE("gc_new: constructs with the given arguments", "[gc_new]") {
  point* p = gc::gc_new<point>(1.5, -2.0);
  CHECK(p->x == 1.5);
  CHECK(p->y == -2.0);
  auto* s = gc::gc_new<std::string>("a string long enough to live on the malloc heap");
  CHECK(*s == "a string long enough to live on the malloc heap");
  int* i = gc::gc_new<int>(42);
  CHECK(*i == 42);
  CHECK(*gc::gc_new<int>() == 0);  // value-initialised
}

TEST_CASE("gc_new<T[]>: value-initialised elements; a throwing element unwinds", "[gc_new]") {
  double* d = gc::gc_new<double[]>(1000);
  CHECK(all_zero(d, 1000 * sizeof(double)));
  CHECK(d[999] == 0.0);

  counted::built = counted::destroyed = 0;
  counted::throw_at = -1;
  counted* c = gc::gc_new<counted[]>(10);
  CHECK(counted::built == 10);
  CHECK(c[9].id == 9);

  counted::built = counted::destroyed = 0;
  counted::throw_at = 4;
  CHECK_THROWS_AS(gc::gc_new<counted[]>(10), std::runtime_error);
  CHECK(counted::built == 4);
  CHECK(counted::destroyed == 4);  // the four built are destroyed, in reverse

  int* none = gc::gc_new<int[]>(0);
  int* none2 = gc::gc_new<int[]>(0);
  CHECK(none != nullptr);
  CHECK(none != none2);
}

TEST_CASE("gc_new: objects are aligned as their type asks", "[gc_new]") {
  for (int i = 0; i < 100; ++i) {
    CHECK(reinterpret_cast<std::uintptr_t>(gc::gc_new<cache_line>()) % 64 == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(gc::gc_new<page_aligned>()) % 4096 == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(gc::gc_new<long double>()) % alignof(long double) == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(gc::gc_new<payload<24>>()) % 8 == 0);
  }
  static_assert(class_to_size[class_for(sizeof(page_aligned), alignof(page_aligned))] % 4096 == 0);
}

TEST_CASE("gc_new: pointer-free types go to noscan spans", "[gc_new]") {
  static_assert(gc::is_pointer_free_v<int>);
  static_assert(gc::is_pointer_free_v<double[8]>);
  static_assert(gc::is_pointer_free_v<colour>);
  static_assert(gc::is_pointer_free_v<opted_out>);
  static_assert(!gc::is_pointer_free_v<with_pointer>);
  static_assert(!gc::is_pointer_free_v<int*>);
  static_assert(!gc::is_pointer_free_v<point>);  // a class must opt in explicitly

  CHECK(find_object(gc::gc_new<opted_out>()).s->noscan);
  CHECK(find_object(gc::gc_new<double[]>(100)).s->noscan);
  CHECK(find_object(gc::gc_new<long[]>(100000)).s->noscan);  // large noscan
  CHECK_FALSE(find_object(gc::gc_new<with_pointer>()).s->noscan);
  CHECK_FALSE(find_object(gc::gc_new<void*[]>(100000)).s->noscan);  // large scan
  CHECK_FALSE(find_object(gc::gc_new<payload<64>>()).s->noscan);
}

TEST_CASE("gc_new: the tiny allocator packs small noscan objects into 16-byte blocks", "[gc_new]") {
  // Start a fresh block by filling the current one.
  auto* a = gc::gc_new<std::uint64_t>(1u);
  auto* b = gc::gc_new<std::uint64_t>(2u);
  auto* c = gc::gc_new<std::uint64_t>(3u);
  auto ua = reinterpret_cast<std::uintptr_t>(a), ub = reinterpret_cast<std::uintptr_t>(b),
       uc = reinterpret_cast<std::uintptr_t>(c);
  // Two 8-byte objects share each block.
  CHECK(((ub == ua + 8 && ub % 16 == 8) || (uc == ub + 8 && uc % 16 == 8)));
  CHECK(*a == 1);
  CHECK(*b == 2);
  CHECK(*c == 3);

  // Sixteen chars fill exactly one block (after aligning to a fresh one).
  while (tls_mcache->tiny_offset != tiny_block_bytes) gc::gc_new<char>('x');
  char* first = gc::gc_new<char>('a');
  for (int i = 1; i < 16; ++i) CHECK(gc::gc_new<char>(static_cast<char>('a' + i)) == first + i);
  CHECK(std::string(first, 16) == "abcdefghijklmnop");
  CHECK(reinterpret_cast<std::uintptr_t>(first) % 16 == 0);

  // Alignment inside a block: a uint32 after a char lands on a 4-byte boundary.
  while (tls_mcache->tiny_offset != tiny_block_bytes) gc::gc_new<char>('x');
  char* ch = gc::gc_new<char>('c');
  auto* u = gc::gc_new<std::uint32_t>(7u);
  CHECK(reinterpret_cast<std::uintptr_t>(u) == reinterpret_cast<std::uintptr_t>(ch) + 4);

  // Tiny blocks are zeroed: a fresh block's bytes are all zero before use.
  while (tls_mcache->tiny_offset != tiny_block_bytes) gc::gc_new<char>('x');
  auto* z = gc::gc_new<std::uint8_t>();
  CHECK(all_zero(z, 16));

  // Pointer types and types with destructors are never tiny.
  CHECK(find_object(gc::gc_new<int*>()).s->elem_size == 8);
}
