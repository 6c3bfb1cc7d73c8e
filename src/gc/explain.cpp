// src/gc/explain.cpp: gc::debug::explain_roots, "why is this object alive?"
//
// Algorithm
// 1. Resolve the address to its object (find_object); no object -> no answer.
// 2. Take the world mutex, flush the calling thread's mcache, stop the world.
// 3. Walk the roots as a collection would (stacks and saved registers, root
//    slots, ranges, the destructor queue is left out: it is not a program
//    root), and record each word that resolves to the object: its kind, its
//    address, and for stacks the thread id. Records go into a fixed array:
//    nothing is allocated while the world is stopped.
// 4. Restart the world, release the mutex.
// 5. For words on the calling thread's own stack, unwind it (libunwind via
//    src/stack, allowed now that nobody is stopped) and name the frame whose
//    [sp, next sp) holds the word.
// 6. For words on another thread's stack, the thread has run on since the
//    restart, and unwinding it while it is stopped could deadlock on the
//    dynamic loader's lock. So, in step 3, the words just below each hit
//    (toward the stack pointer: the rest of its frame and the callee's
//    return address) are copied into a buffer allocated before the stop;
//    after the restart the first of them that is a return address (it
//    points into a loaded object's code, just after a call instruction)
//    names the frame that holds the word: the return address that the
//    frame's own call pushed at its bottom. A heuristic, as any unwinding
//    without unwind tables is: a stale return address left in an unused
//    slot can name a frame's callee instead. Nothing found: no name.
#include <gort/gort.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <mutex>

#include "alloc/alloc.hpp"
#include "gc/roots.hpp"
#include "stack/stack.hpp"

namespace gc::internal::collector {
std::mutex& world_mutex();
void lock_world_mutex();  // waits in a blocking region when registered
}

namespace gc::debug {

namespace {
// Reads stack words of frames that are not its own (like the marker's
// scan_range): ASan's redzones and TSan's view of the stop do not apply.
__attribute__((no_sanitize("address", "thread"))) std::uintptr_t read_word(std::uintptr_t p) {
  return *reinterpret_cast<const std::uintptr_t*>(p);
}
}  // namespace

std::vector<root_reference> explain_roots(const void* object) {
  using namespace gc::internal;
  const object_ref target = find_object(object);
  if (!target) return {};
  const auto base = reinterpret_cast<std::uintptr_t>(target.base);

  struct hit {
    root_reference::kind kind;
    int tid;
    std::uintptr_t address;
    bool own_stack;
    std::size_t below = 0;  // words copied from just below `address` (step 6), in below_words
  };
  constexpr std::size_t max_hits = 256;
  hit hits[max_hits];
  std::size_t nhits = 0;
  // Step 6's copies: allocated before the stop (nothing allocates inside it).
  constexpr std::size_t max_copied_hits = 32, words_below = 128;
  std::vector<std::uintptr_t> below_words(max_copied_hits * words_below);
  std::size_t ncopied = 0;
  auto scan = [&](std::uintptr_t lo, std::uintptr_t hi, root_reference::kind k, int tid, bool own, bool stack) {
    const std::uintptr_t range_lo = lo;
    lo = (lo + 7) & ~std::uintptr_t{7};
    for (std::uintptr_t p = lo; p + 8 <= hi && nhits < max_hits; p += 8) {
      object_ref r = find_object(read_word(p));
      if (!r || reinterpret_cast<std::uintptr_t>(r.base) != base) continue;
      hit& h = hits[nhits++];
      h = {k, tid, p, own};
      if (stack && !own && ncopied < max_copied_hits) {
        std::uintptr_t* out = &below_words[ncopied * words_below];
        for (std::uintptr_t q = p; q >= range_lo + 8 && h.below < words_below; ++h.below) out[h.below] = read_word(q -= 8);
        h.below |= ncopied << 32;  // which slot of below_words
        ++ncopied;
      }
    }
  };

  // This function's own frame (and the ones it calls) hold `object` too: the
  // calling thread's stack is examined only from its caller's frame up.
  const auto own_frame_top = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) + 2 * sizeof(void*);
  {
    collector::lock_world_mutex();
    std::lock_guard g(collector::world_mutex(), std::adopt_lock);
    flush_own_mcache();
    stack::stop_the_world();
    stack::for_each_stack([&](const stack::stack_view& v) {
      const bool own = v.kind == stack::stop_kind::self;
      scan(own ? std::max(v.lo, own_frame_top) : v.lo, v.hi, root_reference::kind::stack, v.tid, own, true);
      if (v.regs != nullptr)
        scan(reinterpret_cast<std::uintptr_t>(v.regs), reinterpret_cast<std::uintptr_t>(v.regs) + v.regs_bytes,
             root_reference::kind::stack, v.tid, false, false);
    });
    roots::for_each_root_range([&](std::uintptr_t lo, std::uintptr_t hi, bool slots) {
      scan(lo, hi, slots ? root_reference::kind::root_handle : root_reference::kind::root_range, 0, false, false);
    });
    stack::start_the_world();
  }

  stack::frame frames[256];
  const std::size_t nframes = stack::current_frames(frames, 256);
  std::vector<root_reference> out;
  for (std::size_t i = 0; i < nhits; ++i) {
    root_reference r;
    r.where = hits[i].kind;
    r.thread_id = hits[i].tid;
    r.address = hits[i].address;
    if (!hits[i].own_stack && (hits[i].below & 0xffffffffu) != 0) {
      const std::uintptr_t* words = &below_words[(hits[i].below >> 32) * words_below];
      for (std::size_t w = 0; w < (hits[i].below & 0xffffffffu); ++w) {
        if (!stack::is_return_address(words[w])) continue;
        char name[256];
        std::uintptr_t offset = 0;
        if (stack::symbolize(words[w] - 1, name, sizeof name, &offset)) r.frame = fmt::format("{}+{:#x}", name, offset);
        break;
      }
    }
    if (hits[i].own_stack) {
      for (std::size_t f = 0; f + 1 < nframes; ++f) {
        if (frames[f].sp <= r.address && r.address < frames[f + 1].sp) {
          char name[256];
          std::uintptr_t offset = 0;
          const std::uintptr_t pc = frames[f].pc - 1;  // a return address: name its call
          if (stack::symbolize(pc, name, sizeof name, &offset)) r.frame = fmt::format("{}+{:#x}", name, offset);
          break;
        }
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace gc::debug
