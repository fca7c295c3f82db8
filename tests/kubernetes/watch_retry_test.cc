#include "discovery/watch_retry.h"

#include <catch2/catch.hpp>

using namespace pdgate::discovery;
using namespace std::chrono_literals;

namespace {

// Steps of 100 ms doubling up to 1.6 s; Next(0.0) is half the step.
WatchRetry Retry() { return WatchRetry(100ms, 1600ms); }

}  // namespace

TEST_CASE("a watch cut after it delivered events or ran a second is opened again at once",
          "[kubernetes]") {
  WatchRetry retry = Retry();
  const WatchNext after_events = retry.AfterWatch(WatchEnd::kBroken, 3, 200ms, 5s);
  CHECK_FALSE(after_events.relist);
  CHECK_FALSE(after_events.pause);
  const WatchNext after_a_while = retry.AfterWatch(WatchEnd::kBroken, 0, 1500ms, 5s);
  CHECK_FALSE(after_a_while.relist);
  CHECK_FALSE(after_a_while.pause);
  // Cut at once without an event (refused, reset): wait, longer each time.
  const WatchNext at_once = retry.AfterWatch(WatchEnd::kBroken, 0, 10ms, 5s);
  CHECK_FALSE(at_once.relist);
  CHECK(at_once.pause);
  CHECK(retry.Next(0.0) == 50ms);
  CHECK(retry.Next(0.0) == 100ms);
  CHECK(retry.Next(0.0) == 200ms);
}

TEST_CASE("a watch the server ended waits only when it ended at once and empty", "[kubernetes]") {
  WatchRetry retry = Retry();
  CHECK_FALSE(retry.AfterWatch(WatchEnd::kServerClosed, 0, 30s, 5s).pause);
  CHECK_FALSE(retry.AfterWatch(WatchEnd::kServerClosed, 1, 10ms, 5s).pause);
  CHECK(retry.AfterWatch(WatchEnd::kServerClosed, 0, 10ms, 5s).pause);
  CHECK_FALSE(retry.AfterWatch(WatchEnd::kServerClosed, 0, 10ms, 5s).relist);
}

TEST_CASE("410 lists again, waiting only when a fresh list's version is refused at once",
          "[kubernetes]") {
  WatchRetry retry = Retry();
  for (WatchEnd end : {WatchEnd::kExpired, WatchEnd::kUnreadable}) {
    const WatchNext old_version = retry.AfterWatch(end, 0, 10ms, 30s);
    CHECK(old_version.relist);
    CHECK_FALSE(old_version.pause);
    const WatchNext fresh_version = retry.AfterWatch(end, 0, 10ms, 200ms);
    CHECK(fresh_version.relist);
    CHECK(fresh_version.pause);
  }
  // That loop lists successfully every time, yet its wait keeps growing: the server answers,
  // it is its versions that are refused.
  CHECK(retry.Next(0.0) == 50ms);
  for (int i = 0; i < 3; ++i) {
    retry.AfterListed();
    REQUIRE(retry.AfterWatch(WatchEnd::kExpired, 0, 10ms, 100ms).pause);
  }
  CHECK(retry.Next(0.0) == 100ms);
  CHECK(retry.Next(0.0) == 200ms);
}

TEST_CASE("other failures always wait", "[kubernetes]") {
  WatchRetry retry = Retry();
  const WatchNext next = retry.AfterWatch(WatchEnd::kFailed, 0, 30s, 30s);
  CHECK(next.pause);
  CHECK_FALSE(next.relist);
}

TEST_CASE("short outages one after another do not add up once the server is back", "[kubernetes]") {
  WatchRetry retry = Retry();
  // The API server is down: the watch is refused, then lists fail, each waiting longer.
  REQUIRE(retry.AfterWatch(WatchEnd::kBroken, 0, 1ms, 1s).pause);
  CHECK(retry.Next(0.0) == 50ms);
  for (auto expected : {100ms, 200ms, 400ms}) {
    retry.AfterListFailed();
    CHECK(retry.Next(0.0) == expected);
  }
  // It is back: a list succeeds, and the next outage starts from the first step again.
  retry.AfterListed();
  REQUIRE(retry.AfterWatch(WatchEnd::kBroken, 0, 1ms, 100ms).pause);
  CHECK(retry.Next(0.0) == 50ms);
  // A watch with events, or a long one, resets the wait as well.
  CHECK(retry.Next(0.0) == 100ms);
  retry.AfterWatch(WatchEnd::kFailed, 1, 1ms, 1s);
  CHECK(retry.Next(0.0) == 50ms);
  CHECK(retry.Next(0.0) == 100ms);
  retry.AfterWatch(WatchEnd::kFailed, 0, WatchRetry::kHealthyWatch, 1s);
  CHECK(retry.Next(0.0) == 50ms);
}
