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
// - Its stores are where the concurrent collector's write barrier will run
//   (the next stage of gort); with the stop-the-world collector a store is a
//   plain store. Keeping pointer fields as members now keeps a program
//   correct when marking becomes concurrent.
// - A member is not a root: a member outside the gc heap (in malloc memory, a
//   global) keeps nothing alive. Use gc::root<T> there.
// - Threading: as a T*: unsynchronised concurrent access is a data race.
#pragma once

#include <compare>
#include <cstddef>
#include <type_traits>

namespace gc {

template <class T>
class member {
 public:
  constexpr member() noexcept = default;
  constexpr member(std::nullptr_t) noexcept {}
  member(T* p) noexcept : ptr_(p) {}
  template <class U>
    requires std::is_convertible_v<U*, T*>
  member(const member<U>& other) noexcept : ptr_(other.get()) {}
  member(const member& other) noexcept = default;

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

  T* get() const noexcept { return ptr_; }
  T* operator->() const noexcept { return ptr_; }
  T& operator*() const noexcept { return *ptr_; }
  explicit operator bool() const noexcept { return ptr_ != nullptr; }
  operator T*() const noexcept { return ptr_; }

  friend bool operator==(const member& a, const member& b) noexcept { return a.ptr_ == b.ptr_; }
  friend bool operator==(const member& a, std::nullptr_t) noexcept { return a.ptr_ == nullptr; }
  friend bool operator==(const member& a, const T* b) noexcept { return a.ptr_ == b; }
  friend auto operator<=>(const member& a, const member& b) noexcept { return a.ptr_ <=> b.ptr_; }

 private:
  void store(T* p) noexcept { ptr_ = p; }  // the write barrier goes here
  T* ptr_ = nullptr;
};

static_assert(sizeof(member<int>) == sizeof(int*), "gc::member must stay one word");

}  // namespace gc
