// tests/godebug_test.cpp: GODEBUG parsing (src/common/godebug).
#include <catch2/catch.hpp>

#include "common/godebug.hpp"

using gc::internal::parse_godebug;

TEST_CASE("GODEBUG: empty and well-formed settings", "[godebug]") {
  auto r = parse_godebug("");
  CHECK(r.warnings.empty());
  CHECK(r.settings.madvdontneed == 1);

  r = parse_godebug("madvdontneed=0");
  CHECK(r.warnings.empty());
  CHECK(r.settings.madvdontneed == 0);

  r = parse_godebug(",,madvdontneed=0,,madvdontneed=1,");
  CHECK(r.warnings.empty());
  CHECK(r.settings.madvdontneed == 1);  // the last one wins, as in Go
}

TEST_CASE("GODEBUG: a bad value gets one warning naming it and the default", "[godebug]") {
  for (const char* text : {"madvdontneed=2", "madvdontneed=x", "madvdontneed=", "madvdontneed", "madvdontneed=1x",
                           "madvdontneed=-1"}) {
    INFO("GODEBUG=" << text);
    auto r = parse_godebug(text);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].find("madvdontneed") != std::string::npos);
    CHECK(r.warnings[0].find("default 1") != std::string::npos);
    CHECK(r.settings.madvdontneed == 1);
  }
}

TEST_CASE("GODEBUG: an unknown key gets one warning and changes nothing", "[godebug]") {
  auto r = parse_godebug("nosuchkey=1,madvdontneed=0");
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].find("nosuchkey") != std::string::npos);
  CHECK(r.settings.madvdontneed == 0);
}

TEST_CASE("GODEBUG: the collector's keys parse, default to 0 and are range-checked", "[godebug]") {
  auto r = parse_godebug("");
  CHECK(r.settings.gctrace == 0);
  CHECK(r.settings.gcstoptheworld == 0);
  CHECK(r.settings.gccheckmark == 0);

  r = parse_godebug("gctrace=1,gcstoptheworld=2,gccheckmark=1");
  CHECK(r.warnings.empty());
  CHECK(r.settings.gctrace == 1);
  CHECK(r.settings.gcstoptheworld == 2);
  CHECK(r.settings.gccheckmark == 1);
  CHECK(r.settings.madvdontneed == 1);

  r = parse_godebug("gctrace=2,madvdontneed=0");
  CHECK(r.warnings.empty());
  CHECK(r.settings.gctrace == 2);
  CHECK(r.settings.madvdontneed == 0);

  struct bad_case {
    const char* text;
    const char* key;
  };
  for (bad_case c : {bad_case{"gctrace=3", "gctrace"}, bad_case{"gctrace=-1", "gctrace"},
                     bad_case{"gctrace=x", "gctrace"}, bad_case{"gcstoptheworld=3", "gcstoptheworld"},
                     bad_case{"gccheckmark=2", "gccheckmark"}, bad_case{"gccheckmark=", "gccheckmark"}}) {
    INFO("GODEBUG=" << c.text);
    r = parse_godebug(c.text);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].find(c.key) != std::string::npos);
    CHECK(r.warnings[0].find("default 0") != std::string::npos);
    CHECK(r.settings.gctrace == 0);
    CHECK(r.settings.gcstoptheworld == 0);
    CHECK(r.settings.gccheckmark == 0);
    }
}
