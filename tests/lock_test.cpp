// tests/lock_test.cpp: the runtime's mutex and its lock order (src/common/lock).
#include <catch2/catch.hpp>

#include <thread>

#include "common/lock.hpp"
#include "test_util.hpp"

using namespace gc::internal;

TEST_CASE("lock: mutual exclusion under contention", "[lock]") {
  rank_mutex mu{lock_rank::central};
  long counter = 0;
  auto work = [&] {
    for (int i = 0; i < 200000; ++i) {
      lock_guard g(mu);
      ++counter;
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  CHECK(counter == 400000);
}

TEST_CASE("lock: taking locks in the documented order is allowed", "[lock]") {
  rank_mutex reg{lock_rank::registry}, cen{lock_rank::central}, heap{lock_rank::heap};
  lock_guard g1(reg);
  lock_guard g2(cen);
  lock_guard g3(heap);
  SUCCEED("registry < central < heap taken without an abort");
}

#if GORT_DEBUG
TEST_CASE("lock: breaking the order aborts naming both locks (debug builds)", "[lock]") {
  int status = gort_test::in_child([] {
    ::close(2);  // the message is checked in the misuse tests' style elsewhere; here only the abort
    rank_mutex heap{lock_rank::heap}, cen{lock_rank::central};
    lock_guard g1(heap);
    lock_guard g2(cen);  // central after heap: out of order
    return 0;
  });
  CHECK(status == 128 + SIGABRT);

  int same = gort_test::in_child([] {
    ::close(2);
    rank_mutex a{lock_rank::central}, b{lock_rank::central};
    lock_guard g1(a);
    lock_guard g2(b);  // two locks of one rank: also forbidden
    return 0;
  });
  CHECK(same == 128 + SIGABRT);
}
#endif
