// src/alloc/mcentral.cpp: central free lists. See mcentral.hpp.
#include "alloc/mcentral.hpp"

#include <new>

#include "alloc/page_heap.hpp"
#include "common/check.hpp"
#include "os/os.hpp"

namespace gc::internal {

mcentral& central(int span_class) {
  // Built on first use in metadata memory and never destroyed, so that
  // allocation works during static initialisation and destruction.
  static mcentral* table = [] {
    auto* t = static_cast<mcentral*>(os::map_metadata(sizeof(mcentral) * num_span_classes));
    GORT_CHECK(t != nullptr, "cannot map {} bytes for the central lists", sizeof(mcentral) * num_span_classes);
    for (int i = 0; i < num_span_classes; ++i) new (&t[i]) mcentral(i);
    return t;
  }();
  GORT_DCHECK(span_class >= 4 && span_class < num_span_classes, "no central list for span class {}", span_class);
  return table[span_class];
}

span* mcentral::cache_span(alloc_slot* owner) {
  {
    lock_guard g(lock_);
    if (span* s = partial_.pop_front()) {
      GORT_DCHECK(s->alloc_count < s->nelems, "span {:#x} on the partial list of class {} is full", s->base, span_class_);
      s->owner.store(owner, std::memory_order_release);
      return s;
    }
  }
  const int size_class = span_class_size(span_class_);
  span_init init;
  init.size_class = static_cast<std::uint8_t>(size_class);
  init.noscan = span_class_noscan(span_class_);
  init.typed = span_class_typed(span_class_);
  init.elem_size = class_to_size[size_class];
  init.nelems = class_to_nobjs[size_class];
  init.divmagic = class_to_divmagic[size_class];
  init.owner = owner;
  bool needzero = false;  // small objects are zeroed one by one as they are handed out
  return page_heap::instance().alloc(class_to_npages[size_class], init, needzero);
}

void mcentral::uncache_span(span* s) {
  lock_guard g(lock_);
  GORT_DCHECK(s->span_class() == span_class_, "span {:#x} of class {} returned to central list {}", s->base,
              s->span_class(), span_class_);
  s->owner.store(nullptr, std::memory_order_release);
  if (s->alloc_count == s->nelems) {
    full_.push_back(s);
  } else {
    partial_.push_back(s);
  }
}

bool mcentral::free_object(span* s, std::uintptr_t idx) {
  lock_guard g(lock_);
  if (s->owner.load(std::memory_order_relaxed) != nullptr) return false;
  std::uint64_t word = s->load_alloc_word(idx / 64);
  std::uint64_t bit = std::uint64_t{1} << (idx % 64);
  GORT_CHECK(word & bit, "object {:#x} (index {} of span [{:#x}, {:#x}), class {}) freed but not allocated",
             s->base + idx * s->elem_size, idx, s->base, s->end(), span_class_);
  const bool was_full = s->alloc_count == s->nelems;
  s->store_alloc_word(idx / 64, word & ~bit);
  s->alloc_count--;
  if (s->meta != nullptr) s->meta[idx] = obj_meta{};
  if (s->alloc_count == 0) {
    span_list::remove(s);
    page_heap::instance().free(s);
  } else if (was_full) {
    span_list::remove(s);
    partial_.push_back(s);
  }
  return true;
}

void mcentral::after_sweep(span* s, std::uint32_t old_count) {
  lock_guard g(lock_);
  GORT_CHECK(s->next != nullptr && s->prev != nullptr,
             "span [{:#x}, {:#x}) of class {} is in use, owned by no mcache, yet on no central list", s->base,
             s->end(), span_class_);
  if (s->alloc_count == 0) {
    span_list::remove(s);
    page_heap::instance().free(s);
  } else if (old_count == s->nelems && s->alloc_count < s->nelems) {
    span_list::remove(s);
    partial_.push_back(s);
  }
}

std::size_t mcentral::partial_count() {
  lock_guard g(lock_);
  return partial_.size();
}

std::size_t mcentral::full_count() {
  lock_guard g(lock_);
  return full_.size();
}

}  // namespace gc::internal
