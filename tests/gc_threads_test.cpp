// tests/gc_threads_test.cpp: the collector with many threads: threads that
// come and go during collections, threads blocked in system calls, threads
// that only hold pointers (thread_scope), and fork.
#include <catch2/catch.hpp>

#include <gort/gort.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <sys/wait.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "gc_test_util.hpp"
#include "stack/stack.hpp"
#include "test_util.hpp"

using gort_test::on_fresh_thread;
using gort_test::tracked;

namespace {

// A list node that records whether it is alive, by id, so that survivors
// can be named (gc threads: threads created and exiting...).
constexpr int churn_rounds = 40, churn_threads = 3, churn_nodes = 2000;
constexpr std::size_t churn_ids = std::size_t{churn_rounds} * churn_threads * churn_nodes;
constexpr std::uintptr_t churn_disguise = 0x5a5a5a5a5a5a5a5a;  // addresses kept where no scan takes them for pointers
std::atomic<bool> churn_alive[churn_ids];
std::uintptr_t churn_addr[churn_ids];  // each written by one thread, read after the joins

struct churn_node {
  std::size_t id;
  long value;
  gc::member<churn_node> next;
  churn_node(std::size_t i, long v) : id(i), value(v) { churn_alive[i].store(true); }
  ~churn_node() { churn_alive[id].store(false); }
  void trace(gc::tracer& t) const { t.visit(next); }
};

}  // namespace

TEST_CASE("gc threads: threads created and exiting in a loop while another forces collections", "[gc_threads]") {
  std::atomic<bool> stop{false};
  std::atomic<int> collections{0};
  std::thread collector([&] {
    while (!stop.load()) {
      gc::collect();
      collections.fetch_add(1);
    }
  });
  std::atomic<long> bad{0};
  for (int round = 0; round < churn_rounds; ++round) {
    std::vector<std::thread> ts;
    for (int t = 0; t < churn_threads; ++t) {
      ts.emplace_back([&bad, round, t] {
        churn_node* head = nullptr;
        for (int i = 0; i < churn_nodes; ++i) {
          const std::size_t id = (static_cast<std::size_t>(round) * churn_threads + t) * churn_nodes + i;
          churn_node* n = gc::gc_new<churn_node>(id, i);
          churn_addr[id] = reinterpret_cast<std::uintptr_t>(n) ^ churn_disguise;
          n->next = head;
          head = n;
        }
        long expect = churn_nodes - 1;  // walk the list: every node must be intact
        for (churn_node* n = head; n; n = n->next.get()) bad += n->value != expect--;
        bad += expect != -1;
      });
    }
    for (auto& t : ts) t.join();
  }
  stop = true;
  collector.join();
  CHECK(bad == 0);
  CHECK(collections > 0);
  gc::collect();
  std::size_t survivors = 0;
  for (const auto& a : churn_alive) survivors += a.load();
  if (survivors == 0) return;
  // Survivors. The Release build allows none. Under the sanitizers a stale
  // stack word can keep the rest of one thread's list alive (the TSan
  // build's stop paths scan frames of TSan's own signal runtime; ASan's -O0
  // frames hold many stale words): seen as 851 nodes (TSan), 711 and 1532
  // (ASan, 3 of ~200 runs under ctest -j2), 2026-11-23. Then explain_roots
  // must name a stack word holding a survivor, and no other root may hold
  // one: anything else is a leak.
  int stack_refs = 0, other_refs = 0;
  for (std::size_t id = 0; id < churn_ids; ++id) {
    if (!churn_alive[id].load()) continue;
    for (const auto& ref : gc::debug::explain_roots(reinterpret_cast<const void*>(churn_addr[id] ^ churn_disguise))) {
      UNSCOPED_INFO("node " << id << " held by kind " << static_cast<int>(ref.where) << " thread " << ref.thread_id
                            << " at " << std::hex << ref.address << std::dec << " frame " << ref.frame);
      (ref.where == gc::debug::root_reference::kind::stack ? stack_refs : other_refs) += 1;
    }
  }
  INFO(survivors << " nodes survived");
  CHECK((gort_test::asan || gort_test::tsan));  // none may survive in the Release build
  CHECK(survivors <= static_cast<std::size_t>(churn_nodes));  // at most one list: one stale word
  CHECK(stack_refs > 0);
  CHECK(other_refs == 0);
  WARN(survivors << " nodes kept by " << stack_refs << " conservative stack word(s)");
}

TEST_CASE("gc threads: a thread blocked in read() inside a blocking_region", "[gc_threads]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  tracked::reset();
  std::atomic<int> phase{0};
  long got = 0;
  std::thread reader([&] {
    tracked* mine = gc::gc_new<tracked>(77);  // held across the region on this stack
    char c = 0;
    {
      gc::blocking_region quiet;
      phase = 1;
      if (::read(fds[0], &c, 1) != 1) c = 0;
    }
    got = mine->value + c;
  });
  while (phase.load() != 1) std::this_thread::yield();
  for (int i = 0; i < 5; ++i) {
    on_fresh_thread([] {
      for (int j = 0; j < 10000; ++j) gc::gc_new<tracked>(-1);
    });
    gc::collect();  // must not wait for the blocked thread
  }
  CHECK(tracked::destroyed >= 5 * 10000 - gort_test::sanitizer_strays);
  CHECK(tracked::destroyed <= 5 * 10000);
  char one = 1;
  REQUIRE(::write(fds[1], &one, 1) == 1);
  reader.join();
  CHECK(got == 78);
  ::close(fds[0]);
  ::close(fds[1]);
}

#if defined(__x86_64__)
namespace {
// What the region's thread does inside it, called from assembly (below);
// the region's constructor and destructor are called from there directly,
// so that no helper's frame lies between them and the asm's (a helper that
// saved a register in its frame and returned would lose it: collector.hpp).
std::atomic<int> held_phase{0};  // 1: objects allocated; 2: in the region, about to read()
void region_wait(int fd) {
  held_phase = 2;
  char c = 0;
  if (::read(fd, &c, 1) != 1) c = 0;
}

constexpr std::uintptr_t held_mask = 0x5a5a5a5a5a5a5a5aull;
constexpr int held_count = 5;  // rbx, r12, r13, r14, r15: the callee-saved registers an asm block may hold

struct held_frame {
  std::uintptr_t masked[held_count];  // the objects' addresses, masked (no scan takes them for pointers)
  void* storage;                      // where the blocking_region is built
  long fd;
  void (*wait)(int);
  std::uintptr_t out[held_count];     // the registers after the region
};

// Allocated in a frame that ends before the region: only masked copies stay.
__attribute__((noinline)) void allocate_held(held_frame& h) {
  for (int i = 0; i < held_count; ++i)
    h.masked[i] = reinterpret_cast<std::uintptr_t>(gc::gc_new<tracked>(100 + i)) ^ held_mask;
}

// The test's body, in a frame that is scrubbed once it returns (below).
__attribute__((noinline)) void held_registers_case() {
  // The program's frame keeps each object only in a callee-saved register
  // (rbx, r12-r15) while it enters a blocking_region, blocks in read() and
  // leaves: the region's constructor may save such a register in its own
  // frame and return, and the system call's frames then overwrite that
  // slot; the collections meanwhile must still find the five objects.
  // (Before enter_blocking_from, the region saved only enter_blocking's
  // frame, and lost the ones the constructor had saved.)
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  tracked::reset();
  held_phase = 0;
  held_frame h{};
  alignas(gc::blocking_region) unsigned char storage[sizeof(gc::blocking_region)];
  h.storage = storage;
  h.fd = fds[0];
  h.wait = region_wait;
  std::thread holder([&] {
    gc::thread_scope registered;
    allocate_held(h);
    gort_test::scrub_stack();
    held_phase = 1;
    held_frame* hp = &h;
    std::uintptr_t mask = held_mask;
    // The stack is realigned below the red zone for the calls; the frame
    // pointer stays the compiler's. The objects live only in rbx and
    // r12-r15 from the unmasking to the copy into out[].
    asm volatile(
        "mov %%rsp, %%rcx\n\t"
        "sub $256, %%rsp\n\t"
        "and $-16, %%rsp\n\t"
        "push %%rcx\n\t"
        "push %[h]\n\t"
        "mov %[k], %%rax\n\t"
        "mov 0(%[h]), %%rbx\n\t xor %%rax, %%rbx\n\t"
        "mov 8(%[h]), %%r12\n\t xor %%rax, %%r12\n\t"
        "mov 16(%[h]), %%r13\n\t xor %%rax, %%r13\n\t"
        "mov 24(%[h]), %%r14\n\t xor %%rax, %%r14\n\t"
        "mov 32(%[h]), %%r15\n\t xor %%rax, %%r15\n\t"
        "xor %%eax, %%eax\n\t"
        "mov (%%rsp), %%rax\n\t mov 40(%%rax), %%rdi\n\t call _ZN2gc15blocking_regionC1Ev@PLT\n\t"
        // The constructor's frame is dead now: overwritten, as the frames of
        // the region's system call may overwrite it.
        "lea -512(%%rsp), %%rdi\n\t mov $64, %%ecx\n\t xor %%eax, %%eax\n\t rep stosq\n\t"
        "mov (%%rsp), %%rax\n\t mov 48(%%rax), %%rdi\n\t call *56(%%rax)\n\t"
        "mov (%%rsp), %%rax\n\t mov 40(%%rax), %%rdi\n\t call _ZN2gc15blocking_regionD1Ev@PLT\n\t"
        "mov (%%rsp), %%rax\n\t"
        "mov %%rbx, 64(%%rax)\n\t mov %%r12, 72(%%rax)\n\t mov %%r13, 80(%%rax)\n\t"
        "mov %%r14, 88(%%rax)\n\t mov %%r15, 96(%%rax)\n\t"
        "pop %%rax\n\t"
        "pop %%rsp\n\t"
        : [h] "+D"(hp), [k] "+S"(mask)  // in-out: the calls overwrite rdi and rsi
        :
        : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "rbx", "r12", "r13", "r14", "r15", "xmm0",
          "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
          "xmm14", "xmm15", "memory", "cc");
  });
  static_assert(offsetof(held_frame, storage) == 40 && offsetof(held_frame, fd) == 48 &&
                offsetof(held_frame, wait) == 56 && offsetof(held_frame, out) == 64,
                "the asm block's offsets");
  // Until the holder is inside its region, at its read(); then collect while
  // it stays there, with garbage made by other threads to take freed slots.
  while (held_phase.load() != 2) std::this_thread::yield();
  for (int i = 0; i < 3; ++i) {
    on_fresh_thread([] {
      for (int j = 0; j < 20000; ++j) gc::gc_new<tracked>(-1);
    });
    gc::collect();
  }
  CHECK(tracked::destroyed >= 3 * 20000 - gort_test::sanitizer_strays);
  CHECK(tracked::destroyed <= 3 * 20000);  // none of the five held objects
  char one = 1;
  REQUIRE(::write(fds[1], &one, 1) == 1);
  holder.join();
  if (tracked::destroyed <= 3 * 20000) {  // else a held object was freed: its memory may be gone
    for (int i = 0; i < held_count; ++i) {
      INFO("the object held in register " << i << " (rbx, r12, r13, r14, r15)");
      CHECK(reinterpret_cast<tracked*>(h.out[i])->value == 100 + i);
    }
  }
  ::close(fds[0]);
  ::close(fds[1]);
}
}  // namespace

TEST_CASE("gc threads: pointers held only in callee-saved registers across a blocking_region survive", "[gc_threads]") {
  held_registers_case();
  // The five addresses must not outlive the test in dead stack slots: a
  // later test in the same process (the fork test) found its own garbage
  // allocated at one of them, and kept alive by it.
  gort_test::scrub_stack();
}
#endif

namespace {
// An object that counts its destructions apart from `tracked` and from
// every other Tag's: a test that shares a process with others sees only its
// own objects' destructors.
template <class Tag>
struct counted_object {
  static inline std::atomic<long> destroyed{0};
  long value;
  explicit counted_object(long v) : value(v) {}
  ~counted_object() { destroyed.fetch_add(1); }
};
// `tracked` objects that earlier tests left to stale stack words under the
// sanitizers (sanitizer_strays) may be destroyed by this test's collection.
using held_object = counted_object<struct held_tag>;
}  // namespace

TEST_CASE("gc threads: thread_scope makes a non-allocating thread's pointers visible", "[gc_threads]") {
  std::atomic<held_object*> handoff{nullptr};
  std::atomic<int> phase{0};
  long got = 0;
  std::thread holder([&] {
    gc::thread_scope registered;
    while (handoff.load() == nullptr) std::this_thread::yield();
    held_object* mine = handoff.load();
    handoff = nullptr;
    phase = 1;
    while (phase.load() != 2) gc::safepoint();
    got = mine->value;
  });
  on_fresh_thread([&] { handoff = gc::gc_new<held_object>(31); });
  while (phase.load() != 1) std::this_thread::yield();
  const long before = held_object::destroyed.load();
  gc::collect();
  CHECK(held_object::destroyed.load() == before);
  phase = 2;
  holder.join();
  CHECK(got == 31);
}

namespace {
// Counted separately from `tracked`: in a child, the parent's other threads'
// objects are garbage too (those threads do not exist there).
using child_object = counted_object<struct child_tag>;
}  // namespace

TEST_CASE("gc threads: fork in a loop, the child allocates and collects", "[gc_threads]") {
  if (gort_test::tsan) {
    WARN("skipped: TSan cannot start threads in the child of a multi-threaded fork");
    return;
  }
  if (gort_test::asan) {
    // Seen hanging once in 3 full runs under load: GCC 12's ASan allocator
    // can be copied locked into the child (a gdb trace showed the child
    // blocked in malloc). The Release build runs this test.
    WARN("skipped: GCC 12's ASan allocator is not fork-safe with other threads running");
    return;
  }
  std::atomic<bool> stop{false};
  // Another thread allocating in the parent while it forks.
  std::thread busy([&] {
    while (!stop.load()) {
      for (int i = 0; i < 1000; ++i) gc::gc_new<tracked>(1);
      std::this_thread::yield();
    }
  });
  int failures = 0;
  std::string first_failure;
  for (int i = 0; i < 20; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      child_object* keep = gc::gc_new<child_object>(5);
      on_fresh_thread([] {
        for (int j = 0; j < 5000; ++j) gc::gc_new<child_object>(0);
      });
      gc::collect();
      // 1: the kept object changed; 2 + n: n of the 5000 dead objects were
      // not reclaimed (up to 250).
      if (keep->value != 5) ::_exit(1);
      const int left = 5000 - static_cast<int>(child_object::destroyed);
      ::_exit(left == 0 ? 0 : 2 + std::min(std::max(left, 0), 250));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      ++failures;
      if (first_failure.empty())
        first_failure = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                          : "signal " + std::to_string(WTERMSIG(status));
    }
  }
  stop = true;
  busy.join();
  INFO("first failing child: " << first_failure);
  CHECK(failures == 0);
}

namespace {
struct big_first {  // a large object with a destructor
  static inline std::atomic<int> destroyed{0};
  char data[100000];
  ~big_first() { destroyed.fetch_add(1); }
};
}  // namespace

TEST_CASE("gc threads: a thread whose first allocation is a large object is registered, and its stack is a root",
          "[gc_threads]") {
  using big = big_first;
  big::destroyed = 0;
  std::atomic<int> phase{0};
  bool registered = false;
  bool intact = false;
  std::thread t([&] {
    big* b = gc::gc_new<big>();  // this thread's first gort call
    registered = gc::internal::stack::current_thread() != nullptr;
    b->data[0] = 42;
    b->data[99999] = 43;
    phase = 1;
    while (phase.load() != 2) std::this_thread::yield();
    // Only this thread's stack (or a register) held b during the collections.
    intact = b->data[0] == 42 && b->data[99999] == 43;
    asm volatile("" : : "r"(b) : "memory");
  });
  while (phase.load() != 1) std::this_thread::yield();
  gc::collect();
  gc::collect();
  CHECK(big::destroyed == 0);
  phase = 2;
  t.join();
  CHECK(registered);
  CHECK(intact);
}
