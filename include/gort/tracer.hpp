// <gort/tracer.hpp>: precise tracing of gc objects, and the per-type
// information the collector keeps for objects that need it.
//
//   struct pair {
//     gc::member<pair> left, right;
//     std::string name;                        // has a destructor: runs when reclaimed
//     void trace(gc::tracer& t) const { t.visit(left); t.visit(right); }
//   };
//
// A type with `void trace(gc::tracer&) const` is scanned precisely: the
// collector calls it and looks only at what it visits. A type without one is
// scanned conservatively, word by word (any word that looks like a pointer
// into a gc object keeps that object alive). Pointer-free types are never
// scanned (see gc::is_pointer_free_v).
//
// Contract for trace(): visit every gc::member and every raw pointer field
// that may point into the gc heap; do not allocate, lock, or touch anything
// but the object itself; it may run on a collector thread, while the program
// is stopped.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>

#include <gort/member.hpp>

namespace gc {

class tracer;

namespace internal {
// Out of line in src/gc/mark.cpp: mark the object containing p (any
// interior address; null and non-heap addresses are ignored). `slot` is the
// field p was read from, or null: only reports use it.
void tracer_visit(void* impl, const void* p, const void* slot);
struct tracer_access;
}  // namespace internal

class tracer {
 public:
  tracer(const tracer&) = delete;
  tracer& operator=(const tracer&) = delete;

  // Members are read atomically: the program may be storing into them while
  // the collector marks concurrently.
  template <class T>
  void visit(const member<T>& m) {
    visit_slot(internal::slot_load(reinterpret_cast<T* const*>(&m)), &m);
  }
  template <class T>
  void visit(T* const& p) {
    static_assert(!std::is_function_v<T>, "gc::tracer::visit: a function pointer is not a gc pointer");
    visit_slot(p, &p);
  }
  template <class T, std::size_t N>
  void visit(const member<T> (&array)[N]) {
    for (const member<T>& m : array) visit(m);
  }
  // Any address: a gc object's base or interior, or anything else (ignored).
  void visit_address(const void* p) { visit_slot(p, nullptr); }

 private:
  friend struct internal::tracer_access;
  explicit tracer(void* impl) : impl_(impl) {}
  void visit_slot(const void* p, const void* slot) {
    if (p != nullptr) internal::tracer_visit(impl_, p, slot);
  }
  void* impl_;
};

namespace internal {

struct tracer_access {
  static tracer make(void* impl) { return tracer(impl); }
};

// What the collector knows of a type whose objects need it: a trace method
// (precise scanning) or a non-trivial destructor. One constant per type.
struct type_info {
  void (*trace)(const void* object, tracer& t);     // null: scan conservatively
  void (*destroy)(void* first, std::size_t count);  // null: nothing to run
  std::size_t size;                                 // sizeof(T): array element stride
};

template <class T>
concept has_trace = requires(const T& object, tracer& t) { object.trace(t); };

template <class T>
inline constexpr bool needs_type_info = has_trace<T> || !std::is_trivially_destructible_v<T>;

template <class T>
void trace_of(const void* object, tracer& t) {
  static_cast<const T*>(object)->trace(t);
}
template <class T>
void destroy_of(void* first, std::size_t count) {
  T* p = std::launder(static_cast<T*>(first));
  for (std::size_t i = count; i > 0; --i) p[i - 1].~T();  // reverse order, as delete[]
}

template <class T>
constexpr type_info make_type_info() {
  type_info ti{nullptr, nullptr, sizeof(T)};
  if constexpr (has_trace<T>) ti.trace = &trace_of<T>;
  if constexpr (!std::is_trivially_destructible_v<T>) ti.destroy = &destroy_of<T>;
  return ti;
}

template <class T>
inline constexpr type_info type_info_of = make_type_info<T>();

}  // namespace internal
}  // namespace gc
