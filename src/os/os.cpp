// src/os/os.cpp: Linux implementation of the OS interface (os.hpp).
#include "os/os.hpp"

#include <cerrno>
#include <cstdio>
#include <sys/mman.h>
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

}  // namespace gc::internal::os
