#include <catch2/catch.hpp>

#include "router/fairness/usage_window.h"

namespace pdgate::fairness {
namespace {

using namespace std::chrono_literals;

TEST_CASE("usage counts within the window and falls out of it", "[fairness]") {
  const Clock::duration window = 60s;
  const Clock::time_point t0{600s};
  UsageWindow usage;
  CHECK(usage.Empty(window, t0));
  usage.Add(100, 1, window, t0);
  usage.Add(50, 1, window, t0 + 30s);
  UsageWindow::Sum sum = usage.Recent(window, t0 + 31s);
  CHECK(sum.tokens == 150);
  CHECK(sum.requests == 2);
  // One slice (5 s) of resolution: the first addition leaves between 55 and 60 s later.
  CHECK(usage.Recent(window, t0 + 54s).tokens == 150);
  CHECK(usage.Recent(window, t0 + 61s).tokens == 50);
  CHECK(usage.Recent(window, t0 + 91s).tokens == 0);
  CHECK(usage.Empty(window, t0 + 91s));
}

TEST_CASE("a slot reused after the window starts from zero", "[fairness]") {
  const Clock::duration window = 12s;  // 1 s slices
  const Clock::time_point t0{100s};
  UsageWindow usage;
  usage.Add(7, 1, window, t0);
  // The same ring slot, 12 slices later: the old value must not add up.
  usage.Add(3, 1, window, t0 + 12s);
  CHECK(usage.Recent(window, t0 + 12s).tokens == 3);
  CHECK(usage.Recent(window, t0 + 12s).requests == 1);
}

}  // namespace
}  // namespace pdgate::fairness
