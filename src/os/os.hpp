// src/os/os.hpp: the one interface between gort and the operating system's
// memory calls. Every mmap, mprotect, madvise and munmap in the runtime is
// here, so src/alloc and src/gc contain no system headers and no #ifdefs.
// (Threads, signals and stack bounds join this folder with the collector.)
//
// Address-space states, as in Go's mem.go:
//   None --reserve--> Reserved --commit--> Ready --release--> Released
//                                 ^                              |
//                                 +-------- (touch again) -------+
// 1. reserve: address space only, PROT_NONE and MAP_NORESERVE: no memory is
//    charged and any access faults (a stray pointer into an uncommitted part
//    of an arena crashes instead of reading garbage).
// 2. commit: make a reserved range readable and writable. Pages still cost
//    nothing until first touched; they read as zero.
// 3. release: give the physical pages back (madvise). With MADV_DONTNEED the
//    pages are dropped at once and read as zero afterwards; with MADV_FREE
//    the kernel may keep them until it needs memory, and they may keep their
//    old contents until then (the caller must treat them as dirty).
// 4. Metadata (span structs, arena page maps) comes from map_metadata, plain
//    read-write anonymous memory outside every heap arena, so no object
//    overflow can reach it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::internal::os {

// Reserves `bytes` of address space at `hint` if the kernel agrees, else
// nowhere (returns nullptr); never at another address.
void* reserve_at(void* hint, std::size_t bytes);
// Reserves `bytes` aligned to `align` (a power of two) anywhere; nullptr on failure.
void* reserve_aligned(std::size_t bytes, std::size_t align);
// Makes [p, p+bytes) of a reservation readable and writable; false on failure.
bool commit(void* p, std::size_t bytes);
// Returns the physical pages of [p, p+bytes) (page-aligned) to the OS.
// use_madv_free selects MADV_FREE (falls back to MADV_DONTNEED where the
// kernel lacks it). Returns true if the pages now read as zero.
bool release(void* p, std::size_t bytes, bool use_madv_free);
// Unmaps a whole reservation.
void unreserve(void* p, std::size_t bytes);
// Read-write zeroed memory for runtime metadata; nullptr on failure.
void* map_metadata(std::size_t bytes);

// Tells LeakSanitizer, when the program runs under it, to scan [p, p+bytes)
// for pointers: malloc memory held by gc objects is then not reported as
// leaked. LSan scans only the readable parts, so a whole arena reservation
// can be registered up front. A no-op without LSan.
void register_leak_scan_root(void* p, std::size_t bytes);

// The kernel's page size (4 KiB on x86-64 Linux).
std::size_t page_size();
// Resident set size of this process in bytes, from /proc/self/statm.
std::size_t resident_bytes();

}  // namespace gc::internal::os
