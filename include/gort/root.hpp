// <gort/root.hpp>: gc::root<T>, a strong reference that can live anywhere,
// and registered root ranges.
//
//   std::vector<gc::root<node>> cache;          // in malloc memory: still roots
//   cache.emplace_back(gc::gc_new<node>());
//   static gc::root<config> current;            // a global: must be a root
//   current = gc::gc_new<config>();
//
// Contract
// - A root keeps its object alive wherever the root itself lives: malloc
//   memory, std containers, globals, thread-local storage, other threads.
// - Copyable (each copy is a root of its own) and movable; get(), reset(),
//   ->, *, explicit bool, comparison.
// - Cheap: creating, copying and destroying a root takes a slot from a
//   per-thread free list; no global lock on the common path. A null root
//   holds no slot.
// - Stores into a root run the write barrier while the collector marks
//   concurrently (roots are scanned while the program runs).
// - Threading: any number of roots may be created and destroyed from any
//   thread. One root object is like a T*: don't write it from two threads
//   at once.
//
// Globals and foreign memory: data segments are NOT scanned. A global that
// holds gc pointers must be a gc::root, or its range registered with
// gc::add_roots(begin, end), which is scanned conservatively at every
// collection until gc::remove_roots(begin, end).
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include <gort/internal/barrier.hpp>

namespace gc {

namespace internal {
void** root_slot_new(const void* value);  // src/gc/roots.cpp
void root_slot_free(void** slot) noexcept;
}  // namespace internal

template <class T>
class root {
 public:
  root() noexcept = default;
  root(std::nullptr_t) noexcept {}
  root(T* p) : slot_(p != nullptr ? internal::root_slot_new(p) : nullptr) {}
  root(const root& other) : root(other.get()) {}
  root(root&& other) noexcept : slot_(std::exchange(other.slot_, nullptr)) {}
  template <class U>
    requires std::is_convertible_v<U*, T*>
  root(const root<U>& other) : root(static_cast<T*>(other.get())) {}
  ~root() { release(); }

  root& operator=(const root& other) {
    if (this != &other) reset(other.get());
    return *this;
  }
  root& operator=(root&& other) noexcept {
    if (this != &other) {
      release();
      slot_ = std::exchange(other.slot_, nullptr);
    }
    return *this;
  }
  root& operator=(T* p) {
    reset(p);
    return *this;
  }
  root& operator=(std::nullptr_t) noexcept {
    release();
    return *this;
  }

  T* get() const noexcept { return slot_ != nullptr ? static_cast<T*>(internal::slot_load(slot_)) : nullptr; }
  T* operator->() const noexcept { return get(); }
  T& operator*() const noexcept { return *get(); }
  explicit operator bool() const noexcept { return slot_ != nullptr; }

  // Points the root at p (nullptr releases its slot).
  void reset(T* p = nullptr) {
    if (p == nullptr) {
      release();
    } else if (slot_ != nullptr) {
      internal::barriered_store(slot_, static_cast<void*>(const_cast<std::remove_cv_t<T>*>(p)));
    } else {
      slot_ = internal::root_slot_new(p);
    }
  }

  friend bool operator==(const root& a, const root& b) noexcept { return a.get() == b.get(); }
  friend bool operator==(const root& a, const T* b) noexcept { return a.get() == b; }
  friend bool operator==(const root& a, std::nullptr_t) noexcept { return a.slot_ == nullptr; }

 private:
  void release() noexcept {
    if (slot_ != nullptr) {
      internal::root_slot_free(slot_);
      slot_ = nullptr;
    }
  }
  void** slot_ = nullptr;
};

// Scans [begin, end) conservatively at every collection. Ranges may overlap;
// each add needs its own remove.
void add_roots(const void* begin, const void* end);
// Stops scanning a range given to add_roots (the same begin and end).
// Removing a range that was never added aborts with a message.
void remove_roots(const void* begin, const void* end);

}  // namespace gc
