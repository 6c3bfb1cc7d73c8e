// <gort/member.hpp>: gc::member<T>, the type of a pointer field inside a gc
// object.
//
//   struct node {
//     gc::member<node> next;                  // one word, like node*
//     void trace(gc::tracer& t) const { t.visit(next); }
//   };
//   node* a = gc::gc_new<node>();
//   a->next = gc::gc_new<node>();             // a store: the write barrier's place
//
// Contract
// - One word; implicit from T* and nullptr; get(), ->, *, explicit bool,
//   comparison with members, raw pointers and nullptr.
// - Every store (construction, assignment) runs the write barrier while the
//   collector marks concurrently (src/gc/barrier.cpp); otherwise it costs one
//   load of a global flag and a predictable branch. This is what keeps a
//   program correct under concurrent marking: a raw T* field in a gc object
//   has no barrier (such programs must run with GODEBUG=gcstoptheworld=1).
// - Copying arrays of members: gc::copy_members (one bulk barrier).
// - A member is not a root: a member outside the gc heap (in malloc memory, a
//   global) keeps nothing alive. Use gc::root<T> there.
// - Threading: as a T*: unsynchronised concurrent access is a data race.
#pragma once

#include <compare>
#include <cstddef>
#include <type_traits>

#include <gort/internal/barrier.hpp>

namespace gc {

template <class T>
class member {
 public:
  constexpr member() noexcept = default;
  constexpr member(std::nullptr_t) noexcept {}
  member(T* p) noexcept { internal::barriered_init(&ptr_, p); }
  template <class U>
    requires std::is_convertible_v<U*, T*>
  member(const member<U>& other) noexcept {
    internal::barriered_init(&ptr_, static_cast<T*>(other.get()));
  }
  member(const member& other) noexcept { internal::barriered_init(&ptr_, other.get()); }

  member& operator=(T* p) noexcept {
    store(p);
    return *this;
  }
  member& operator=(std::nullptr_t) noexcept {
    store(nullptr);
    return *this;
  }
  member& operator=(const member& other) noexcept {
    store(other.get());
    return *this;
  }
  template <class U>
    requires std::is_convertible_v<U*, T*>
  member& operator=(const member<U>& other) noexcept {
    store(other.get());
    return *this;
  }

  // A plain load: the program's own reads race with no collector write (the
  // collector only reads members, through gc::tracer, atomically).
  T* get() const noexcept { return ptr_; }
  T* operator->() const noexcept { return get(); }
  T& operator*() const noexcept { return *get(); }
  explicit operator bool() const noexcept { return get() != nullptr; }
  operator T*() const noexcept { return get(); }

  friend bool operator==(const member& a, const member& b) noexcept { return a.get() == b.get(); }
  friend bool operator==(const member& a, std::nullptr_t) noexcept { return a.get() == nullptr; }
  friend bool operator==(const member& a, const T* b) noexcept { return a.get() == b; }
  friend auto operator<=>(const member& a, const member& b) noexcept { return a.get() <=> b.get(); }

 private:
  void store(T* p) noexcept { internal::barriered_store(&ptr_, p); }
  T* ptr_ = nullptr;
};

static_assert(sizeof(member<int>) == sizeof(int*), "gc::member must stay one word");

// Copies n members from src to dst (the ranges may overlap, as memmove), with
// one bulk write barrier instead of one per element:
//   gc::copy_members(bigger->items, old->items, old->size);
template <class T>
void copy_members(member<T>* dst, const member<T>* src, std::size_t n) noexcept {
  static_assert(sizeof(member<T>) == sizeof(void*));
  internal::barriered_copy(reinterpret_cast<void**>(dst), reinterpret_cast<void* const*>(src), n);
}

// A store into a raw pointer slot of a gc object (a field that is not a
// gc::member), with the write barrier: *slot = value.
//   gc::write_barrier(reinterpret_cast<void**>(&obj->raw_field), target);
inline void write_barrier(void** slot, void* value) noexcept { internal::barriered_store(slot, value); }

}  // namespace gc
