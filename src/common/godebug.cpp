// src/common/godebug.cpp: GODEBUG parsing. See godebug.hpp for the algorithm.
#include "common/godebug.hpp"

#include <charconv>
#include <cstdlib>
#include <fmt/format.h>
#include <mutex>

#include "common/check.hpp"

namespace gc::internal {

namespace {

struct known_key {
  const char* name;
  int godebug_settings::*field;
  int min;
  int max;
  int default_value;
};

// The table of settings gort understands. A key added here is parsed,
// range-checked and defaulted with no other code.
constexpr known_key known_keys[] = {
    {"madvdontneed", &godebug_settings::madvdontneed, 0, 1, 1},
    {"gctrace", &godebug_settings::gctrace, 0, 2, 0},
    {"gcstoptheworld", &godebug_settings::gcstoptheworld, 0, 2, 0},
    {"gccheckmark", &godebug_settings::gccheckmark, 0, 1, 0},
    {"gcgen", &godebug_settings::gcgen, 0, 1, 0},
};

}  // namespace

godebug_parse_result parse_godebug(std::string_view text) {
  godebug_parse_result out;
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) continue;

    std::size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);

    const known_key* k = nullptr;
    for (const known_key& candidate : known_keys) {
      if (key == candidate.name) k = &candidate;
    }
    if (k == nullptr) {
      out.warnings.push_back(fmt::format("GODEBUG: unknown setting '{}' ignored", key));
      continue;
    }
    int v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (eq == std::string_view::npos || value.empty() || ec != std::errc{} ||
        end != value.data() + value.size() || v < k->min || v > k->max) {
      out.warnings.push_back(fmt::format("GODEBUG: invalid value '{}' for {} (want {}..{}); using the default {}",
                                         value, k->name, k->min, k->max, k->default_value));
      out.settings.*(k->field) = k->default_value;
      continue;
    }
    out.settings.*(k->field) = v;
  }
  return out;
}

const godebug_settings& godebug() {
  static godebug_settings settings;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("GODEBUG");
    godebug_parse_result r = parse_godebug(env ? env : "");
    for (const std::string& w : r.warnings) warn(w);
    settings = r.settings;
  });
  return settings;
}

}  // namespace gc::internal
