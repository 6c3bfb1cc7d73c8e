// src/stack/symbolize.cpp: naming code addresses and walking the calling
// thread's frames, for diagnostics ("why is this object alive": which frame
// holds the stack word that points at it).
//
// Algorithm
// symbolize(pc):
// 1. Ask libunwind's local address space for the procedure name containing
//    pc (the get_proc_name accessor, which reads the ELF symbol tables of
//    the loaded objects, so it names static functions too; it needs no
//    cursor, only the address).
// 2. If libunwind does not know it, fall back to dladdr (exported symbols).
// 3. Demangle a C++ name with abi::__cxa_demangle; copy it, truncated, into
//    the caller's buffer.
// current_frames:
// 1. unw_getcontext + unw_init_local on the calling thread, then unw_step
//    outward, recording each frame's instruction pointer and stack pointer.
//    The first step skips current_frames itself.
//
// Invariants
// - Never called during a stop by the stopper (checked): unw_step and
//   get_proc_name may take the dynamic loader's lock (dl_iterate_phdr), which
//   a stopped thread may hold. Threads other than the stopper that call
//   these during a stop must not be registered ones (those are parked).
// - Both allocate (demangling, libunwind's caches): never in a signal handler.
//
// References: libunwind's unw_get_proc_name / unw_get_accessors
// documentation; the Itanium C++ ABI's __cxa_demangle.
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>

#include "stack/thread_registry.hpp"

namespace gc::internal::stack {

namespace {

void check_not_stopping(const char* what) {
  GORT_RAW_CHECK(!calling_thread_is_stopper(),
                 .text(what).text(": called with the world stopped (it may need the dynamic loader's lock, which a "
                                  "stopped thread may hold); call it before stop_the_world or after start_the_world"));
}

void copy_truncated(char* out, std::size_t out_len, const char* name) {
  if (out_len == 0) return;
  std::size_t n = std::strlen(name);
  if (n >= out_len) n = out_len - 1;
  std::memcpy(out, name, n);
  out[n] = '\0';
}

}  // namespace

bool is_return_address(std::uintptr_t v) {
  check_not_stopping("is_return_address");
  // 1. Inside an executable segment of a loaded object, at least 6 bytes in.
  struct query {
    std::uintptr_t v;
    bool in_code;
  } q{v, false};
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto* q = static_cast<query*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
          const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
          if (q->v >= lo + 6 && q->v < hi) {
            q->in_code = true;
            return 1;
          }
        }
        return 0;
      },
      &q);
  if (!q.in_code) return false;
  // 2. Just after a call instruction (x86-64; elsewhere step 1 alone).
#if defined(__x86_64__)
  const auto* c = reinterpret_cast<const unsigned char*>(v);
  if (c[-5] == 0xe8) return true;                                  // call rel32
  if (c[-6] == 0xff && c[-5] == 0x15) return true;                 // call [rip + disp32]
  if (c[-2] == 0xff && (c[-1] & 0xf8) == 0xd0) return true;        // call reg
  if (c[-3] == 0x41 && c[-2] == 0xff && (c[-1] & 0xf8) == 0xd0) return true;  // call r8-r15
  if (c[-3] == 0xff && (c[-2] & 0xf8) == 0x50) return true;        // call [reg + disp8]
  if (c[-6] == 0xff && (c[-5] & 0xf8) == 0x90) return true;        // call [reg + disp32]
  if (c[-2] == 0xff && (c[-1] & 0xf8) == 0x10) return true;        // call [reg]
  return false;
#else
  return true;
#endif
}

bool symbolize(std::uintptr_t pc, char* name, std::size_t name_len, std::uintptr_t* offset) {
  check_not_stopping("symbolize");
  char raw[512];
  raw[0] = '\0';
  unw_word_t off = 0;
  bool found = false;

  unw_accessors_t* acc = unw_get_accessors(unw_local_addr_space);
  if (acc != nullptr && acc->get_proc_name != nullptr) {
    int rc = acc->get_proc_name(unw_local_addr_space, static_cast<unw_word_t>(pc), raw, sizeof raw, &off, nullptr);
    // -UNW_ENOMEM: the name was truncated to fit; still a name.
    found = (rc == 0 || rc == -UNW_ENOMEM) && raw[0] != '\0';
  }
  if (!found) {
    Dl_info info;
    if (::dladdr(reinterpret_cast<void*>(pc), &info) != 0 && info.dli_sname != nullptr) {
      copy_truncated(raw, sizeof raw, info.dli_sname);
      off = static_cast<unw_word_t>(pc - reinterpret_cast<std::uintptr_t>(info.dli_saddr));
      found = true;
    }
  }
  if (!found) return false;

  int status = -1;
  char* demangled = abi::__cxa_demangle(raw, nullptr, nullptr, &status);
  copy_truncated(name, name_len, status == 0 && demangled != nullptr ? demangled : raw);
  std::free(demangled);
  if (offset != nullptr) *offset = static_cast<std::uintptr_t>(off);
  return true;
}

GORT_NOINLINE std::size_t current_frames(frame* out, std::size_t n) {
  check_not_stopping("current_frames");
  unw_context_t context;
  unw_cursor_t cursor;
  if (unw_getcontext(&context) != 0 || unw_init_local(&cursor, &context) != 0) return 0;
  std::size_t count = 0;
  // The cursor starts in current_frames itself: step once to its caller.
  while (count < n && unw_step(&cursor) > 0) {
    unw_word_t ip = 0, sp = 0;
    if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || unw_get_reg(&cursor, UNW_REG_SP, &sp) != 0) break;
    out[count].pc = static_cast<std::uintptr_t>(ip);
    out[count].sp = static_cast<std::uintptr_t>(sp);
    ++count;
  }
  return count;
}

}  // namespace gc::internal::stack
