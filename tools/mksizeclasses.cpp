// mksizeclasses.cpp -- generator for include/gort/internal/size_classes.hpp
//
// The gort allocator serves "small" objects (at most max_small_size bytes)
// from spans: runs of whole pages that are carved into equal-sized slots.
// Every small request is rounded up to a size class; this program decides
// which classes exist, how many pages a span of each class occupies, and
// emits the lookup tables the allocator uses at run time.
//
// Inputs (constants below):
//   page size             8192 bytes (page_shift 13)
//   largest small object  32768 bytes
//   objects per span      at most 1024 (bounds the per-span bitmaps)
//   pages per span        at most 16 (max_span_pages; the largest span the
//                         algorithm ends up needing is 7 pages; the value
//                         must fit the uint8_t npages table)
//
// Algorithm:
//   1. Candidate sizes.  8, then every multiple of 16 up to 128.  Above 128,
//      each power-of-two range (2^k, 2^(k+1)] up to 32768 is split into
//      eight equal steps of 2^k / 8, so two neighbouring candidates never
//      differ by more than 1/8 of the smaller range bound; a request that is
//      rounded up therefore wastes at most ~12.5% of its slot.
//   2. Span length.  For each candidate, pick the smallest page count
//      p in 1..max_span_pages such that the span holds at least one object,
//      at most 1024 objects, and the tail left over after the last whole
//      object (p*8192 mod size) is at most 1/8 of the span.  A candidate with
//      no such p is a hard error.
//   3. Merge.  Walk the candidates in increasing order.  When a candidate has
//      the same page count AND the same objects-per-span as the last class
//      kept, the smaller one saves no memory: the larger size fits the same
//      number of objects into the same span.  So the last
//      kept class is replaced by the new candidate, with two exceptions:
//        a. a power of two is never dropped.  Powers of two from 8 to 8192
//           must stay classes because the allocator satisfies alignof(T) by
//           choosing a class whose size is a multiple of the alignment, and
//           spans start page-aligned, so a power-of-two class hands out
//           naturally aligned slots;
//        b. a merge is refused if it would let the worst-case internal waste
//           of the surviving class exceed 12.5%, i.e. if, with p the class
//           below the one being dropped and s the new candidate,
//           (s - p - 1) > s / 8 (the worst request is p + 1 bytes).
//      Rule (b) is the adjustment that keeps the step-1 promise after
//      merging: merging on (a) alone leaves only 57 classes, with gaps such
//      as 16384 -> 20480 (20% waste for a 16385-byte request).  With (b),
//      every class above 128 bytes has a worst-case internal waste < 12.5%.
//   4. Division magic.  For each class, divmagic = UINT32_MAX / size + 1,
//      i.e. ceil(2^32 / size) (or exactly 2^32/size for powers of two).  The
//      object index of a byte offset inside a span is then
//      (uint64_t(offset) * divmagic) >> 32, avoiding a hardware divide.
//   5. Lookup tables.
//        size_to_class8[(size + 7) >> 3]              for size <= 1024
//        size_to_class128[(size - 1024 + 127) >> 7]   for 1024 < size <= 32768
//      each entry being the smallest class whose size is >= every size that
//      maps to the entry (entry 0 of size_to_class8 is the 8-byte class).
//      This is exact only because every class <= 1024 is a multiple of 8 and
//      every class > 1024 is a multiple of 128; both are checked.
//   6. Checks (the program prints "mksizeclasses: check failed: ..." naming
//      the offending class and exits with status 1 if any fails):
//        - tail waste <= 12.5% of the span for every class;
//        - 1 <= objects per span <= 1024;
//        - sizes strictly increasing and multiples of 8 (multiples of 128
//          above 1024);
//        - every power of two 8..8192 is a class;
//        - worst-case internal waste <= 12.5% for every class above 128;
//        - the largest class is exactly 32768;
//        - the magic division equals offset / size for EVERY byte offset
//          0 <= offset < npages*8192 of every class (exhaustive);
//        - the lookup tables give, for every size 1..32768, the smallest
//          class whose size is >= the request (exhaustive);
//        - the class count (excluding class 0) is between 60 and 80.
//      With the inputs above the result is 67 classes plus class 0 (which
//      means "large object, no class"), so num_size_classes = 68.
//
// Regenerating:
//   g++ -std=c++20 -O2 -o /tmp/mksc tools/mksizeclasses.cpp
//   /tmp/mksc include/gort/internal/size_classes.hpp
// (with no argument the header is written to stdout).  The test script
// tests/check_generated.sh fails when the committed header is stale.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr std::uint64_t page_shift = 13;
constexpr std::uint64_t page_bytes = std::uint64_t{1} << page_shift;
constexpr std::uint64_t max_small_size = 32768;
constexpr std::uint64_t max_objects_per_span = 1024;
constexpr std::uint64_t max_span_pages = 16;
constexpr std::uint64_t min_classes = 60;
constexpr std::uint64_t max_classes = 80;

struct size_class {
  std::uint64_t size = 0;
  std::uint64_t npages = 0;
  std::uint64_t nobjs = 0;
  std::uint64_t divmagic = 0;
};

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "mksizeclasses: check failed: " << what << '\n';
  std::exit(1);
}

bool is_pow2(std::uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

std::uint64_t span_bytes(const size_class& c) { return c.npages * page_bytes; }
std::uint64_t tail_bytes(const size_class& c) { return span_bytes(c) % c.size; }

std::string class_name(std::size_t idx, const size_class& c) {
  return "class " + std::to_string(idx) + " (size " + std::to_string(c.size) + ")";
}

// Step 1.
std::vector<std::uint64_t> candidate_sizes() {
  std::vector<std::uint64_t> out;
  out.push_back(8);
  for (std::uint64_t s = 16; s <= 128; s += 16) out.push_back(s);
  for (std::uint64_t lo = 128; lo < max_small_size; lo *= 2) {
    const std::uint64_t step = lo / 8;
    for (std::uint64_t s = lo + step; s <= 2 * lo; s += step) out.push_back(s);
  }
  return out;
}

// Step 2.
size_class fit_span(std::uint64_t size) {
  for (std::uint64_t p = 1; p <= max_span_pages; ++p) {
    const std::uint64_t bytes = p * page_bytes;
    const std::uint64_t n = bytes / size;
    if (n < 1 || n > max_objects_per_span) continue;
    if ((bytes % size) * 8 > bytes) continue;
    return size_class{size, p, n, 0};
  }
  fail("no span of 1.." + std::to_string(max_span_pages) +
       " pages gives size " + std::to_string(size) +
       " a tail waste <= 12.5% with 1..1024 objects");
}

// Step 3.
std::vector<size_class> merge(const std::vector<size_class>& cands) {
  std::vector<size_class> kept;
  for (const size_class& c : cands) {
    if (!kept.empty()) {
      size_class& last = kept.back();
      const std::uint64_t below = kept.size() >= 2 ? kept[kept.size() - 2].size : 0;
      const bool same_span = last.npages == c.npages && last.nobjs == c.nobjs;
      const bool waste_ok = (c.size - below - 1) * 8 <= c.size;
      if (same_span && !is_pow2(last.size) && waste_ok) {
        last = c;
        continue;
      }
    }
    kept.push_back(c);
  }
  return kept;
}

// Step 6 (class properties).
void check_classes(const std::vector<size_class>& cls) {
  // cls[0] is the "no class" entry.
  const std::size_t n = cls.size() - 1;
  if (n < min_classes || n > max_classes)
    fail("class count " + std::to_string(n) + " is outside [" +
         std::to_string(min_classes) + ", " + std::to_string(max_classes) + "]");
  for (std::size_t i = 1; i < cls.size(); ++i) {
    const size_class& c = cls[i];
    const std::string name = class_name(i, c);
    if (c.size % 8 != 0) fail(name + " is not a multiple of 8");
    if (c.size > 1024 && c.size % 128 != 0)
      fail(name + " is above 1024 but not a multiple of 128");
    if (i > 1 && c.size <= cls[i - 1].size) fail(name + " is not larger than its predecessor");
    if (c.npages < 1 || c.npages > max_span_pages || c.npages > 255)
      fail(name + " has an out-of-range page count " + std::to_string(c.npages));
    if (c.nobjs != span_bytes(c) / c.size) fail(name + " has an inconsistent object count");
    if (c.nobjs < 1 || c.nobjs > max_objects_per_span)
      fail(name + " has " + std::to_string(c.nobjs) + " objects per span");
    if (tail_bytes(c) * 8 > span_bytes(c))
      fail(name + " wastes " + std::to_string(tail_bytes(c)) + " of " +
           std::to_string(span_bytes(c)) + " span bytes (> 12.5%)");
    if (c.size > 128 && (c.size - cls[i - 1].size - 1) * 8 > c.size)
      fail(name + " has a worst-case internal waste above 12.5% (previous class " +
           std::to_string(cls[i - 1].size) + ")");
    if (c.divmagic == 0 || c.divmagic > UINT32_MAX) fail(name + " has a divmagic that does not fit 32 bits");
    const std::uint64_t limit = span_bytes(c);
    for (std::uint64_t off = 0; off < limit; ++off) {
      if (((off * c.divmagic) >> 32) != off / c.size)
        fail(name + ": magic division is wrong at offset " + std::to_string(off));
    }
  }
  for (std::uint64_t p = 8; p <= 8192; p *= 2) {
    bool found = false;
    for (std::size_t i = 1; i < cls.size(); ++i) found = found || cls[i].size == p;
    if (!found) fail("power of two " + std::to_string(p) + " is not a class");
  }
  if (cls.back().size != max_small_size)
    fail(class_name(cls.size() - 1, cls.back()) + " is the largest class, expected " +
         std::to_string(max_small_size));
}

// Smallest class index whose size >= size (size in 1..max_small_size).
std::uint64_t smallest_class_for(const std::vector<size_class>& cls, std::uint64_t size) {
  for (std::size_t i = 1; i < cls.size(); ++i)
    if (cls[i].size >= size) return i;
  fail("no class holds " + std::to_string(size) + " bytes");
}

// Step 6 (lookup tables).
void check_tables(const std::vector<size_class>& cls, const std::vector<std::uint64_t>& t8,
                  const std::vector<std::uint64_t>& t128) {
  for (std::uint64_t s = 1; s <= max_small_size; ++s) {
    const std::uint64_t got = s <= 1024 ? t8[(s + 7) >> 3] : t128[(s - 1024 + 127) >> 7];
    const std::uint64_t want = smallest_class_for(cls, s);
    if (got != want)
      fail("size " + std::to_string(s) + " maps to class " + std::to_string(got) +
           " but the smallest fitting class is " + class_name(want, cls[want]));
  }
}

std::string percent(std::uint64_t num, std::uint64_t den) {
  // Fixed two decimals, rounded half up, using only integer arithmetic so the
  // output is identical on every platform.
  const std::uint64_t hundredths = (num * 10000 * 2 + den) / (den * 2);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%3llu.%02llu%%",
                static_cast<unsigned long long>(hundredths / 100),
                static_cast<unsigned long long>(hundredths % 100));
  return buf;
}

template <class Get>
void emit_array(std::ostream& os, const char* decl, std::size_t count, Get get) {
  os << decl << " = {";
  for (std::size_t i = 0; i < count; ++i) {
    if (i % 12 == 0) os << "\n    ";
    else os << ' ';
    os << get(i) << ',';
  }
  os << "\n};\n\n";
}

std::string render(const std::vector<size_class>& cls, const std::vector<std::uint64_t>& t8,
                   const std::vector<std::uint64_t>& t128) {
  std::ostringstream os;
  os << "// generated by tools/mksizeclasses.cpp; do not edit.\n"
        "// To regenerate:\n"
        "//   g++ -std=c++20 -O2 -o /tmp/mksc tools/mksizeclasses.cpp\n"
        "//   /tmp/mksc include/gort/internal/size_classes.hpp\n"
        "#pragma once\n\n"
        "#include <cstddef>\n"
        "#include <cstdint>\n\n"
        "namespace gc::internal {\n\n";
  os << "inline constexpr std::size_t page_shift = " << page_shift << ";\n";
  os << "inline constexpr std::size_t page_bytes = " << page_bytes << ";\n";
  os << "inline constexpr std::size_t max_small_size = " << max_small_size << ";\n";
  os << "inline constexpr std::size_t max_objects_per_span = " << max_objects_per_span << ";\n";
  os << "inline constexpr int num_size_classes = " << cls.size()
     << ";  // including class 0, which means \"large object, no class\"\n\n";

  os << "// class  bytes/obj  pages  objects  tail waste  max internal waste\n";
  for (std::size_t i = 1; i < cls.size(); ++i) {
    const size_class& c = cls[i];
    const std::uint64_t prev = cls[i - 1].size;  // 0 for class 1
    // Worst request landing here is prev+1 bytes; it wastes size-prev-1.
    char line[128];
    std::snprintf(line, sizeof line, "// %5zu  %9llu  %5llu  %7llu  %10s  %18s\n", i,
                  static_cast<unsigned long long>(c.size),
                  static_cast<unsigned long long>(c.npages),
                  static_cast<unsigned long long>(c.nobjs),
                  percent(tail_bytes(c), span_bytes(c)).c_str(),
                  percent(c.size - prev - 1, c.size).c_str());
    os << line;
  }
  os << "//\n"
        "// tail waste: bytes at the end of a span that no whole object fits in,\n"
        "//   as a share of the span.\n"
        "// max internal waste: share of the slot left unused by the worst request\n"
        "//   that lands in the class (one byte more than the previous class).\n"
        "// object index of a byte offset in a span: (uint64_t(off) * divmagic) >> 32.\n"
        "// size_to_class8[(size + 7) >> 3] for size <= 1024;\n"
        "// size_to_class128[(size - 1024 + 127) >> 7] for 1024 < size <= 32768.\n\n";

  const std::size_t n = cls.size();
  emit_array(os, "inline constexpr std::uint32_t class_to_size[num_size_classes]", n,
             [&](std::size_t i) { return cls[i].size; });
  emit_array(os, "inline constexpr std::uint8_t class_to_npages[num_size_classes]", n,
             [&](std::size_t i) { return cls[i].npages; });
  emit_array(os, "inline constexpr std::uint16_t class_to_nobjs[num_size_classes]", n,
             [&](std::size_t i) { return cls[i].nobjs; });
  emit_array(os, "inline constexpr std::uint32_t class_to_divmagic[num_size_classes]", n,
             [&](std::size_t i) { return cls[i].divmagic; });
  emit_array(os, ("inline constexpr std::uint8_t size_to_class8[" + std::to_string(t8.size()) + "]").c_str(),
             t8.size(), [&](std::size_t i) { return t8[i]; });
  emit_array(os, ("inline constexpr std::uint8_t size_to_class128[" + std::to_string(t128.size()) + "]").c_str(),
             t128.size(), [&](std::size_t i) { return t128[i]; });
  os << "}  // namespace gc::internal\n";
  return os.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2) {
    std::cerr << "usage: " << argv[0] << " [OUTPUT_PATH]\n";
    return 2;
  }

  std::vector<size_class> cands;
  for (std::uint64_t s : candidate_sizes()) cands.push_back(fit_span(s));

  std::vector<size_class> cls;
  cls.push_back(size_class{});  // class 0: large objects
  for (const size_class& c : merge(cands)) cls.push_back(c);
  for (std::size_t i = 1; i < cls.size(); ++i)
    cls[i].divmagic = std::uint64_t{UINT32_MAX} / cls[i].size + 1;

  if (cls.size() > 256) fail("class indices do not fit uint8_t");
  check_classes(cls);

  std::vector<std::uint64_t> t8(1024 / 8 + 1);
  for (std::size_t i = 0; i < t8.size(); ++i)
    t8[i] = smallest_class_for(cls, i == 0 ? 1 : i * 8);
  std::vector<std::uint64_t> t128((max_small_size - 1024) / 128 + 1);
  for (std::size_t i = 0; i < t128.size(); ++i)
    t128[i] = smallest_class_for(cls, 1024 + i * 128);
  check_tables(cls, t8, t128);

  const std::string text = render(cls, t8, t128);
  if (argc == 2) {
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      std::cerr << "mksizeclasses: cannot write " << argv[1] << '\n';
      return 1;
    }
  } else {
    std::cout << text;
    std::cout.flush();
    if (!std::cout) return 1;
  }
  return 0;
}
