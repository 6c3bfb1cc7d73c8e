// binary-trees (the Benchmarks Game program shape, one thread) over one of
// five memory managers, picked at compile time by exactly one of:
//
//   BT_GORT      gc::gc_new<node>, never freed (gort's collector reclaims)
//   BT_BOEHM     GC_MALLOC, never freed (Boehm GC reclaims)
//   BT_GLIBC     __libc_malloc / __libc_free, each tree freed when dropped
//   BT_MIMALLOC  mi_malloc / mi_free, each tree freed when dropped
//   BT_JEMALLOC  mallocx / dallocx, each tree freed when dropped
//
// The explicit allocators are called through their own entry points, not
// malloc/free, so that the measurement is that allocator whatever else the
// executable happens to link.
//
//   bt_<variant> [depth]     depth defaults to 21
//
// Algorithm (identical in every variant and in binarytrees.go):
//   max_depth = max(6, depth)
//   1. a stretch tree of depth max_depth+1: build, count, drop
//   2. a long-lived tree of depth max_depth, kept to the end
//   3. for d = 4, 6, ..., max_depth: 2^(max_depth-d+4) trees of depth d,
//      each built, counted and dropped
//   4. count the long-lived tree
// A tree of depth 0 is one node with no children; a tree of depth d > 0 is a
// node whose two children are trees of depth d-1 (children built first, left
// then right). check(tree) is its node count.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#if (defined(BT_GORT) + defined(BT_BOEHM) + defined(BT_GLIBC) + defined(BT_MIMALLOC) + defined(BT_JEMALLOC)) != 1
#error "define exactly one of BT_GORT, BT_BOEHM, BT_GLIBC, BT_MIMALLOC, BT_JEMALLOC"
#endif

#if defined(BT_GORT)
#include <gort/gort.hpp>
#elif defined(BT_BOEHM)
#include <gc.h>
#elif defined(BT_GLIBC)
extern "C" void* __libc_malloc(std::size_t);
extern "C" void __libc_free(void*);
#elif defined(BT_MIMALLOC)
#include <mimalloc.h>
#elif defined(BT_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif

namespace {

// ---- the node and the memory manager -----------------------------------

#if defined(BT_GORT)

// GORT_HAS_MEMBER comes from bench/binarytrees/CMakeLists.txt: 1 when
// gc::member<node> compiles with the uses below (construct from node*, read
// back as node*). No trace() method: the collector scans the node's two words
// conservatively, which for a node of two pointers finds exactly what a
// precise trace would, and gc_new takes its plain (untyped) path.
struct node {
#if GORT_HAS_MEMBER
  gc::member<node> left;
  gc::member<node> right;
#else
  node* left;
  node* right;
#endif
  node(node* l, node* r) : left(l), right(r) {}
};

node* make_node(node* l, node* r) { return gc::gc_new<node>(l, r); }
void drop_tree(node*) {}  // garbage: the collector reclaims it
void init() {}

#else  // Boehm and the explicit allocators: a plain two-pointer struct

struct node {
  node* left;
  node* right;
};

#if defined(BT_BOEHM)
void* raw_alloc(std::size_t n) { return GC_MALLOC(n); }
void init() { GC_INIT(); }
#elif defined(BT_GLIBC)
void* raw_alloc(std::size_t n) { return __libc_malloc(n); }
void raw_free(void* p) { __libc_free(p); }
void init() {}
#elif defined(BT_MIMALLOC)
void* raw_alloc(std::size_t n) { return mi_malloc(n); }
void raw_free(void* p) { mi_free(p); }
void init() {}
#elif defined(BT_JEMALLOC)
void* raw_alloc(std::size_t n) { return mallocx(n, 0); }
void raw_free(void* p) { dallocx(p, 0); }
void init() {}
#endif

node* make_node(node* l, node* r) {
  void* p = raw_alloc(sizeof(node));
  if (p == nullptr) {
    std::fputs("binarytrees: out of memory\n", stderr);
    std::abort();
  }
  node* n = static_cast<node*>(p);
  n->left = l;
  n->right = r;
  return n;
}

#if defined(BT_BOEHM)
void drop_tree(node*) {}  // garbage: the collector reclaims it
#else
// Frees a whole tree, children before their parent.
void drop_tree(node* n) {
  if (n->left != nullptr) {
    drop_tree(n->left);
    drop_tree(n->right);
  }
  raw_free(n);
}
#endif

#endif

// ---- the program, the same for every variant ---------------------------

node* build_tree(int depth) {
  if (depth <= 0) return make_node(nullptr, nullptr);
  node* l = build_tree(depth - 1);
  node* r = build_tree(depth - 1);
  return make_node(l, r);
}

std::int64_t check_tree(const node* n) {
  if (n->left == nullptr) return 1;
  return 1 + check_tree(n->left) + check_tree(n->right);
}

}  // namespace

int main(int argc, char** argv) {
  constexpr int min_depth = 4;
  int depth = 21;
  if (argc > 1) {
    char* end = nullptr;
    long v = std::strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || v < 0 || v > 40) {
      std::fprintf(stderr, "usage: %s [depth 0..40]\n", argv[0]);
      return 2;
    }
    depth = static_cast<int>(v);
  }
  const int max_depth = depth > min_depth + 2 ? depth : min_depth + 2;

  init();

  {
    node* stretch = build_tree(max_depth + 1);
    std::printf("stretch tree of depth %d\t check: %lld\n", max_depth + 1,
                static_cast<long long>(check_tree(stretch)));
    drop_tree(stretch);
  }

  node* long_lived = build_tree(max_depth);

  for (int d = min_depth; d <= max_depth; d += 2) {
    const std::int64_t iterations = std::int64_t{1} << (max_depth - d + min_depth);
    std::int64_t check = 0;
    for (std::int64_t i = 0; i < iterations; ++i) {
      node* t = build_tree(d);
      check += check_tree(t);
      drop_tree(t);
    }
    std::printf("%lld\t trees of depth %d\t check: %lld\n", static_cast<long long>(iterations), d,
                static_cast<long long>(check));
  }

  std::printf("long lived tree of depth %d\t check: %lld\n", max_depth,
              static_cast<long long>(check_tree(long_lived)));
  drop_tree(long_lived);
  return 0;
}
