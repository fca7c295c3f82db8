#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "router/fairness/fair_queue.h"

namespace pdgate::fairness {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kT0{1000s};

// Records the order in which queued requests were woken.
struct Woken {
  std::vector<std::string> order;
  std::function<void()> As(std::string name) {
    return [this, name] { order.push_back(name); };
  }
};

FairQueueOptions Options() {
  FairQueueOptions options;
  options.window = 60s;
  options.priority_levels = 3;
  return options;
}

TEST_CASE("requests run at once up to the limit, then queue", "[fairness]") {
  FairQueue queue(Options());
  Woken woken;
  auto a = queue.Enter({"alice", 1, 10}, 2, woken.As("a"), kT0);
  auto b = queue.Enter({"bob", 1, 10}, 2, woken.As("b"), kT0);
  auto c = queue.Enter({"carol", 1, 10}, 2, woken.As("c"), kT0);
  CHECK(a.outcome == FairQueue::Outcome::kRun);
  CHECK(b.outcome == FairQueue::Outcome::kRun);
  REQUIRE(c.outcome == FairQueue::Outcome::kQueued);
  CHECK(queue.stats().running == 2);
  CHECK(queue.stats().queued == 1);
  CHECK(woken.order.empty());
  queue.Leave(*a.principal, 5, kT0 + 1s);
  CHECK(woken.order == std::vector<std::string>{"c"});
  CHECK(queue.stats().running == 2);
  CHECK(queue.stats().queued == 0);
  // The woken waiter holds its slot: giving up now is too late.
  CHECK(queue.Abandon(*c.waiter));
}

TEST_CASE("the principal with the least recent usage goes first, FIFO within one", "[fairness]") {
  FairQueue queue(Options());
  Woken woken;
  // heavy has used many tokens recently; light has not.
  auto running = queue.Enter({"heavy", 1, 5000}, 1, woken.As("first"), kT0);
  REQUIRE(running.outcome == FairQueue::Outcome::kRun);
  auto h1 = queue.Enter({"heavy", 1, 10}, 1, woken.As("h1"), kT0 + 1ms);
  auto h2 = queue.Enter({"heavy", 1, 10}, 1, woken.As("h2"), kT0 + 2ms);
  auto l1 = queue.Enter({"light", 1, 10}, 1, woken.As("l1"), kT0 + 3ms);
  auto l2 = queue.Enter({"light", 1, 10}, 1, woken.As("l2"), kT0 + 4ms);
  REQUIRE(l2.outcome == FairQueue::Outcome::kQueued);
  PrincipalState* holder = running.principal;
  // Each request runs alone; when it ends the next is picked.
  queue.Leave(*holder, 0, kT0 + 1s);  // light (0 tokens) before heavy (5000): l1
  queue.Leave(*l1.principal, 0, kT0 + 2s);  // light has 10, heavy 5000: l2
  queue.Leave(*l2.principal, 0, kT0 + 3s);  // only heavy left: h1, then h2 (FIFO)
  queue.Leave(*h1.principal, 0, kT0 + 4s);
  CHECK(woken.order == std::vector<std::string>{"l1", "l2", "h1", "h2"});
}

TEST_CASE("output tokens count with their weight when the request ends", "[fairness]") {
  FairQueueOptions options = Options();
  options.input_token_weight = 1;
  options.output_token_weight = 2;
  FairQueue queue(options);
  Woken woken;
  // a: 100 input; b: 10 input, 60 output (= 130 weighted): a goes before b.
  auto a = queue.Enter({"a", 1, 100}, 2, woken.As("a"), kT0);
  auto b = queue.Enter({"b", 1, 10}, 2, woken.As("b"), kT0);
  queue.Leave(*b.principal, 60, kT0 + 1s);
  auto blocker = queue.Enter({"c", 1, 0}, 2, woken.As("c"), kT0 + 1s);
  REQUIRE(blocker.outcome == FairQueue::Outcome::kRun);
  auto b2 = queue.Enter({"b", 1, 0}, 2, woken.As("b2"), kT0 + 2s);
  auto a2 = queue.Enter({"a", 1, 0}, 2, woken.As("a2"), kT0 + 3s);
  REQUIRE(a2.outcome == FairQueue::Outcome::kQueued);
  queue.Leave(*a.principal, 0, kT0 + 4s);
  CHECK(woken.order == std::vector<std::string>{"a2"});
  queue.Leave(*blocker.principal, 0, kT0 + 5s);
  CHECK(woken.order == std::vector<std::string>{"a2", "b2"});
}

TEST_CASE("a higher priority class is served first, whatever its usage", "[fairness]") {
  FairQueue queue(Options());
  Woken woken;
  auto running = queue.Enter({"vip", 0, 100000}, 1, woken.As("r"), kT0);
  auto low = queue.Enter({"fresh", 2, 0}, 1, woken.As("low"), kT0 + 1ms);
  auto normal = queue.Enter({"fresh2", 1, 0}, 1, woken.As("normal"), kT0 + 2ms);
  auto high = queue.Enter({"vip", 0, 0}, 1, woken.As("high"), kT0 + 3ms);
  REQUIRE(high.outcome == FairQueue::Outcome::kQueued);
  queue.Leave(*running.principal, 0, kT0 + 1s);
  queue.Leave(*high.principal, 0, kT0 + 2s);
  queue.Leave(*normal.principal, 0, kT0 + 3s);
  CHECK(woken.order == std::vector<std::string>{"high", "normal", "low"});
  CHECK(queue.stats().queued == 0);
}

TEST_CASE("a waiter that gives up leaves the queue and is never woken", "[fairness]") {
  FairQueue queue(Options());
  Woken woken;
  auto running = queue.Enter({"a", 1, 0}, 1, woken.As("r"), kT0);
  auto gone = queue.Enter({"b", 1, 0}, 1, woken.As("gone"), kT0);
  auto next = queue.Enter({"c", 1, 0}, 1, woken.As("next"), kT0);
  CHECK_FALSE(queue.Abandon(*gone.waiter));
  CHECK(queue.stats().queued == 1);
  CHECK_FALSE(queue.Abandon(*gone.waiter));  // twice is harmless
  queue.Leave(*running.principal, 0, kT0 + 1s);
  CHECK(woken.order == std::vector<std::string>{"next"});
  CHECK(queue.stats().queued == 0);
  CHECK(queue.stats().running == 1);
}

TEST_CASE("one principal holds at most its share, and a newcomer runs at once", "[fairness]") {
  FairQueueOptions options = Options();
  options.max_share = 0.75;  // of 4 slots: 3
  FairQueue queue(options);
  Woken woken;
  std::vector<FairQueue::Entry> heavy;
  for (int i = 0; i < 5; ++i) {
    heavy.push_back(queue.Enter({"heavy", 1, 10}, 4, woken.As("h" + std::to_string(i)), kT0));
  }
  CHECK(heavy[2].outcome == FairQueue::Outcome::kRun);
  CHECK(heavy[3].outcome == FairQueue::Outcome::kQueued);  // a slot is free, but not for heavy
  CHECK(queue.stats().running == 3);
  // Another principal does not wait behind heavy's queue.
  auto light = queue.Enter({"light", 1, 10}, 4, woken.As("light"), kT0 + 1ms);
  CHECK(light.outcome == FairQueue::Outcome::kRun);
  CHECK(queue.stats().running == 4);
  // When light is done, the free slot still is not heavy's (3 running); when heavy's ends, it is.
  queue.Leave(*light.principal, 1, kT0 + 1s);
  CHECK(woken.order.empty());
  queue.Leave(*heavy[0].principal, 1, kT0 + 2s);
  CHECK(woken.order == std::vector<std::string>{"h3"});
  // A share below one slot still allows one.
  FairQueueOptions tiny = Options();
  tiny.max_share = 0.01;
  FairQueue small(tiny);
  CHECK(small.Enter({"a", 1, 0}, 4, nullptr, kT0).outcome == FairQueue::Outcome::kRun);
  CHECK(small.Enter({"a", 1, 0}, 4, woken.As("x"), kT0).outcome == FairQueue::Outcome::kQueued);
}

TEST_CASE("a full queue refuses at once", "[fairness]") {
  FairQueueOptions options = Options();
  options.max_queued = 2;
  FairQueue queue(options);
  Woken woken;
  CHECK(queue.Enter({"a", 1, 0}, 1, woken.As("1"), kT0).outcome == FairQueue::Outcome::kRun);
  CHECK(queue.Enter({"a", 1, 0}, 1, woken.As("2"), kT0).outcome == FairQueue::Outcome::kQueued);
  CHECK(queue.Enter({"b", 1, 0}, 1, woken.As("3"), kT0).outcome == FairQueue::Outcome::kQueued);
  auto refused = queue.Enter({"c", 1, 0}, 1, woken.As("4"), kT0);
  CHECK(refused.outcome == FairQueue::Outcome::kFull);
  CHECK(refused.principal == nullptr);
  CHECK(queue.stats().queued == 2);
}

TEST_CASE("a larger limit lets waiters in at the next entry", "[fairness]") {
  FairQueue queue(Options());
  Woken woken;
  auto a = queue.Enter({"a", 1, 0}, 1, woken.As("a"), kT0);
  auto b = queue.Enter({"b", 1, 0}, 1, woken.As("b"), kT0);
  REQUIRE(b.outcome == FairQueue::Outcome::kQueued);
  // More endpoints now: the limit is 3, so b runs, and c runs at once.
  auto c = queue.Enter({"c", 1, 0}, 3, woken.As("c"), kT0 + 1s);
  CHECK(woken.order == std::vector<std::string>{"b"});
  CHECK(c.outcome == FairQueue::Outcome::kRun);
  CHECK(queue.stats().running == 3);
}

TEST_CASE("turning fairness off lets every waiter run", "[fairness]") {
  FairQueue queue(Options());
  Woken woken;
  auto a = queue.Enter({"a", 1, 0}, 1, woken.As("a"), kT0);
  queue.Enter({"b", 2, 0}, 1, woken.As("b"), kT0);
  queue.Enter({"c", 0, 0}, 1, woken.As("c"), kT0);
  queue.ReleaseAll();
  CHECK(woken.order.size() == 2);
  CHECK(queue.stats().queued == 0);
  CHECK(queue.stats().running == 3);
}

TEST_CASE("fewer priority levels keep the waiters, clamped to the lowest", "[fairness]") {
  FairQueue queue(Options());
  Woken woken;
  auto a = queue.Enter({"a", 0, 0}, 1, woken.As("a"), kT0);
  auto low = queue.Enter({"b", 2, 0}, 1, woken.As("low"), kT0);
  auto high = queue.Enter({"c", 0, 0}, 1, woken.As("high"), kT0);
  FairQueueOptions two = Options();
  two.priority_levels = 2;
  queue.Configure(two);
  CHECK(queue.stats().queued == 2);
  queue.Leave(*a.principal, 0, kT0 + 1s);
  queue.Leave(*high.principal, 0, kT0 + 2s);
  CHECK(woken.order == std::vector<std::string>{"high", "low"});
}

TEST_CASE("idle principals are forgotten, and a flood of them stays bounded", "[fairness]") {
  FairQueueOptions options = Options();
  options.max_principals = 1000;
  FairQueue queue(options);
  for (int i = 0; i < 100000; ++i) {
    auto entry = queue.Enter({"user-" + std::to_string(i), 1, 1}, 1000000, nullptr, kT0);
    REQUIRE(entry.outcome == FairQueue::Outcome::kRun);
    queue.Leave(*entry.principal, 1, kT0);
  }
  // Everyone used tokens within the window: beyond the bound they share one entry.
  CHECK(queue.stats().principals <= 1001);
  queue.EvictIdle(kT0 + 2min);
  CHECK(queue.stats().principals == 0);
}

}  // namespace
}  // namespace pdgate::fairness
