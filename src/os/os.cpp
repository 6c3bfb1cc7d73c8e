// src/os/os.cpp: Linux implementation of the OS interface (os.hpp).
#include "os/os.hpp"

#include <sched.h>
#include <atomic>
#include <thread>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <unistd.h>

// LeakSanitizer's interface, resolved only when the sanitizer runtime is linked.
extern "C" void __lsan_register_root_region(const void* p, std::size_t size) __attribute__((weak));

namespace gc::internal::os {

void* reserve_at(void* hint, std::size_t bytes) {
  void* p = ::mmap(hint, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (p != hint) {  // the kernel chose another place: not what the caller asked for
    ::munmap(p, bytes);
    return nullptr;
  }
  return p;
}

void* reserve_aligned(std::size_t bytes, std::size_t align) {
  std::size_t want = bytes + align;
  if (want < bytes) return nullptr;
  void* p = ::mmap(nullptr, want, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto start = reinterpret_cast<std::uintptr_t>(p);
  std::uintptr_t aligned = (start + align - 1) & ~(align - 1);
  if (aligned > start) ::munmap(p, aligned - start);
  std::uintptr_t end = start + want;
  if (end > aligned + bytes) ::munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
  return reinterpret_cast<void*>(aligned);
}

bool commit(void* p, std::size_t bytes) { return ::mprotect(p, bytes, PROT_READ | PROT_WRITE) == 0; }

bool release(void* p, std::size_t bytes, bool use_madv_free) {
#ifdef MADV_FREE
  if (use_madv_free) {
    if (::madvise(p, bytes, MADV_FREE) == 0) return false;
    // EINVAL: a kernel before 4.5. Fall through to MADV_DONTNEED.
  }
#else
  (void)use_madv_free;
#endif
  return ::madvise(p, bytes, MADV_DONTNEED) == 0;
}

bool populate(void* p, std::size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  static std::atomic<bool> unsupported{false};
  if (unsupported.load(std::memory_order_relaxed)) return false;
  if (::madvise(p, bytes, MADV_POPULATE_WRITE) == 0) return true;
  if (errno == EINVAL) unsupported.store(true, std::memory_order_relaxed);  // a kernel before 5.14
  return false;
#else
  (void)p;
  (void)bytes;
  return false;
#endif
}

void unreserve(void* p, std::size_t bytes) { ::munmap(p, bytes); }

void* map_metadata(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void register_leak_scan_root(void* p, std::size_t bytes) {
  if (&__lsan_register_root_region != nullptr) __lsan_register_root_region(p, bytes);
}

std::size_t page_size() {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long total = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &total, &resident);
  std::fclose(f);
  return n == 2 ? resident * page_size() : 0;
}

// ---------------------------------------------------------------------------
// Threads, signals, futexes, stack bounds.

static_assert(sizeof(pthread_t) <= sizeof(std::uintptr_t), "pthread_t must fit in a uintptr_t");
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "a futex word must be a plain lock-free 32-bit atomic");

namespace {

// Restores errno on scope exit: the signal-safe calls must not spoil it for
// the code a signal interrupted.
struct errno_keeper {
  int saved = errno;
  ~errno_keeper() { errno = saved; }
};

}  // namespace

int gettid() { return static_cast<int>(::syscall(SYS_gettid)); }

bool is_main_thread() { return gettid() == static_cast<int>(::getpid()); }

std::uintptr_t thread_self() { return static_cast<std::uintptr_t>(::pthread_self()); }

bool signal_thread(std::uintptr_t thread, int sig) {
  errno_keeper keep;
  return ::pthread_kill(static_cast<pthread_t>(thread), sig) == 0;
}

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::int64_t timeout_ns) {
  errno_keeper keep;
  struct timespec ts;
  struct timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000);
    tsp = &ts;
  }
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, tsp, nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>& word, int count) {
  errno_keeper keep;
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

std::uint64_t thread_cpu_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

int usable_cpus() {
  static const int n = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
      const int c = CPU_COUNT(&set);
      if (c > 0) return c;
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
  }();
  return n;
}

std::uint64_t monotonic_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

void sleep_ns(std::uint64_t ns) {
  errno_keeper keep;
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  ::nanosleep(&ts, nullptr);
}

void write_stderr(const char* text, std::size_t len) {
  errno_keeper keep;
  while (len > 0) {
    ssize_t n = ::write(2, text, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text += n;
    len -= static_cast<std::size_t>(n);
  }
}

namespace {

// Reads /proc/self/maps with plain read(2) into a fixed buffer (no stdio, no
// allocation) and finds the mapping holding addr. Sets *end to its end and
// *below to the end of the closest mapping under it (0 if none).
bool find_mapping(std::uintptr_t addr, std::uintptr_t* end, std::uintptr_t* below) {
  int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  char line[128];  // only the "start-end" prefix of each line matters
  std::size_t line_len = 0;
  std::uintptr_t prev_end = 0;
  bool found = false;
  auto parse_line = [&]() {
    // "start-end perms ...", both in hex.
    std::uintptr_t start = 0, stop = 0;
    std::size_t i = 0;
    auto hex = [&](std::uintptr_t& v) {
      std::size_t digits = 0;
      for (; i < line_len; ++i, ++digits) {
        char c = line[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) break;
        v = v << 4 | static_cast<std::uintptr_t>(d);
      }
      return digits > 0;
    };
    if (!hex(start) || i >= line_len || line[i] != '-') return;
    ++i;
    if (!hex(stop)) return;
    if (start <= addr && addr < stop) {
      *end = stop;
      *below = prev_end;
      found = true;
    } else if (stop <= addr) {
      prev_end = stop;
    }
  };
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t k = 0; k < n && !found; ++k) {
      if (buf[k] == '\n') {
        parse_line();
        line_len = 0;
      } else if (line_len < sizeof line) {
        line[line_len++] = buf[k];
      }
    }
    if (found) break;
  }
  if (!found && line_len > 0) parse_line();
  ::close(fd);
  return found;
}

}  // namespace

bool current_thread_stack(stack_range* out) {
  char here = 0;
  asm volatile("" : : "r"(&here) : "memory");
  const auto addr = reinterpret_cast<std::uintptr_t>(&here);

  stack_range from_pthread;
  bool have_pthread = false;
  pthread_attr_t attr;
  if (::pthread_getattr_np(::pthread_self(), &attr) == 0) {
    void* base = nullptr;
    std::size_t size = 0;
    if (::pthread_attr_getstack(&attr, &base, &size) == 0) {
      from_pthread.lo = reinterpret_cast<std::uintptr_t>(base);
      from_pthread.hi = from_pthread.lo + size;
      have_pthread = from_pthread.lo <= addr && addr < from_pthread.hi;
    }
    ::pthread_attr_destroy(&attr);
  }

  // The initial thread's stack is the kernel's [stack] mapping. Its top is
  // the base; it may grow down to the mapping below it or to RLIMIT_STACK,
  // whichever is nearer. (A process forked from another thread also has
  // tid == pid, but its stack is a pthread stack: the mapping's top then lies
  // above pthread's base, past the thread's TLS, and pthread's answer wins.)
  if (is_main_thread() || !have_pthread) {
    std::uintptr_t end = 0, below = 0;
    if (find_mapping(addr, &end, &below) && (!have_pthread || end == from_pthread.hi)) {
      std::uintptr_t lo = below;
      struct rlimit rl;
      if (::getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < end &&
          end - rl.rlim_cur > lo) {
        lo = end - rl.rlim_cur;
      }
      if (lo > addr) lo = addr & ~(page_size() - 1);  // grown past the limit: keep what is in use
      out->lo = lo;
      out->hi = end;
      return true;
    }
  }
  if (!have_pthread) return false;
  *out = from_pthread;
  return true;
}

namespace {
// The one handler function per process: signal_fn has the shape of
// sa_sigaction without the siginfo, so install through this table.
std::atomic<signal_fn> handlers[65];
void dispatch_signal(int sig, siginfo_t*, void* ucontext) {
  if (sig > 0 && sig < 65) {
    if (signal_fn fn = handlers[sig].load(std::memory_order_acquire)) fn(sig, ucontext);
  }
}
}  // namespace

bool install_signal_handler(int sig, signal_fn fn) {
  if (sig <= 0 || sig >= 65) return false;
  handlers[sig].store(fn, std::memory_order_release);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = dispatch_signal;
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, sig);
  return ::sigaction(sig, &sa, nullptr) == 0;
}

bool signal_has_handler(int sig) {
  struct sigaction old;
  if (::sigaction(sig, nullptr, &old) != 0) return false;
  if (old.sa_flags & SA_SIGINFO) return old.sa_sigaction != nullptr;
  return old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN;
}

std::size_t interrupted_state(const void* ucontext, std::uintptr_t* sp, std::uintptr_t* regs, std::size_t max_words) {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  std::size_t n = 0;
#if defined(__x86_64__)
  *sp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  for (int i = 0; i < NGREG && n < max_words; ++i) regs[n++] = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[i]);
  if (const auto* fp = uc->uc_mcontext.fpregs) {  // xmm0-15: 16 bytes each
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 4 && n + 1 <= max_words; j += 2)
        regs[n++] = std::uintptr_t{fp->_xmm[i].element[j]} | (std::uintptr_t{fp->_xmm[i].element[j + 1]} << 32);
  }
#elif defined(__aarch64__)
  *sp = static_cast<std::uintptr_t>(uc->uc_mcontext.sp);
  for (int i = 0; i < 31 && n < max_words; ++i) regs[n++] = static_cast<std::uintptr_t>(uc->uc_mcontext.regs[i]);
#else
  (void)uc;
  (void)regs;
  (void)max_words;
  *sp = 0;
#endif
  return n;
}

bool signal_handler_is(int sig, signal_fn fn) {
  struct sigaction old;
  if (::sigaction(sig, nullptr, &old) != 0) return false;
  return (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == dispatch_signal && sig > 0 && sig < 65 &&
         handlers[sig].load(std::memory_order_acquire) == fn;
}

void unblock_signal(int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

int signal_rtmin() { return SIGRTMIN; }
int signal_rtmax() { return SIGRTMAX; }

const char* signal_abbrev(int sig, char* buf, std::size_t len) {
  if (len == 0) return buf;
  const char* name = nullptr;
  int rt_offset = -1;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) rt_offset = sig - SIGRTMIN;
  else name = ::sigabbrev_np(sig);
  char tmp[32];
  if (rt_offset >= 0) {
    std::snprintf(tmp, sizeof tmp, rt_offset == 0 ? "RTMIN" : "RTMIN+%d", rt_offset);
    name = tmp;
  }
  if (name == nullptr) name = "?";
  std::size_t n = std::strlen(name);
  if (n >= len) n = len - 1;
  std::memcpy(buf, name, n);
  buf[n] = '\0';
  return buf;
}

int create_thread_exit_key(void (*fn)(void*)) {
  pthread_key_t key;
  if (::pthread_key_create(&key, fn) != 0) return -1;
  return static_cast<int>(key);
}

void set_thread_exit_value(int key, void* value) { ::pthread_setspecific(static_cast<pthread_key_t>(key), value); }

}  // namespace gc::internal::os
