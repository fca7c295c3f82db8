// Scheduler tests of what happens beyond the plain pick (no sockets): ejected endpoints and
// retries, the decider's decode-only choice, decode-first pairing, the lora-affinity filter.
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "pd_scheduler/scheduler.h"
#include "tests/pd_scheduler/scheduler_fixture.h"
#include "tests/pd_scheduler/scheduler_test_util.h"

using namespace pdgate;
using pd_scheduler::Decision;
using pd_scheduler::DecisionMode;
using pd_scheduler::DecisionReason;
using pd_scheduler::PrefixIndex;
using pd_scheduler::RequestFacts;
using pd_scheduler::Scheduler;
using testing::CheckPairs;
using testing::MakeScheduler;
using testing::Only;
using testing::PdServer;
using testing::Prompt;

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

TEST_CASE(
    "ejected endpoints get only the attempts the others cannot fill, and return after their "
    "backoff") {
  auto server = PdServer(2, 2, 1);  // g0: p 0, 1, d 2; g1: p 3, 4, d 5
  Scheduler scheduler = MakeScheduler();
  std::mt19937_64 rng(8);
  config::OutlierDetectionSettings outlier;  // 3 failures, 5 s base, 50%
  const auto t0 = Clock::now();
  auto& target = server->live(1);
  for (int i = 0; i < 3; ++i) {
    const bool may =
        discovery::MayEject(server->endpoints, discovery::EndpointRole::kPrefill, t0, 50);
    REQUIRE(may);
    CHECK(target.RecordFailure(t0, may, outlier) == (i == 2));
  }
  REQUIRE(target.Ejected(t0));
  // Three targets: as many as the available pairs (0-2, 3-5, 4-5) can fill.
  auto count_picks = [&](Clock::time_point now) {
    int picked = 0;
    for (int i = 0; i < 2000; ++i) {
      for (const auto& pair :
           scheduler.Pick(server->endpoints, {"m", "x", "", true}, now, rng, 3).pairs) {
        if (pair.prefill == 1) ++picked;
      }
    }
    return picked;
  };
  CHECK(count_picks(t0 + std::chrono::seconds(4)) == 0);
  // Asked for more targets than the available endpoints give, the ejected one fills the last
  // attempt only: after every available pair, never before.
  for (int i = 0; i < 200; ++i) {
    const Decision four = scheduler.Pick(server->endpoints, {"m", "x", "", true},
                                         t0 + std::chrono::seconds(4), rng, 4);
    REQUIRE(four.pairs.size() == 4);
    for (size_t k = 0; k < 3; ++k) CHECK(four.pairs[k].prefill != 1);
    CHECK(four.pairs[3].prefill == 1);
    CHECK(four.prefill_tokens.size() == 4);
  }
  CHECK(count_picks(t0 + std::chrono::milliseconds(5001)) > 0);
  // A second ejection lasts twice as long.
  const auto t1 = t0 + std::chrono::seconds(6);
  for (int i = 0; i < 3; ++i) target.RecordFailure(t1, true, outlier);
  CHECK(count_picks(t1 + std::chrono::milliseconds(9900)) == 0);
  CHECK(count_picks(t1 + std::chrono::milliseconds(10001)) > 0);
}

TEST_CASE("at most half of a role is ejected at once") {
  auto server = PdServer(1, 4, 1);  // p 0..3, d 4
  config::OutlierDetectionSettings outlier;
  const auto now = Clock::now();
  int ejected = 0;
  for (uint32_t p = 0; p < 4; ++p) {
    for (int i = 0; i < 3; ++i) {
      const bool may =
          discovery::MayEject(server->endpoints, discovery::EndpointRole::kPrefill, now, 50);
      if (server->live(p).RecordFailure(now, may, outlier)) ++ejected;
    }
  }
  CHECK(ejected == 2);
  // A single decode is never ejected: its role would be empty.
  for (int i = 0; i < 5; ++i) {
    const bool may =
        discovery::MayEject(server->endpoints, discovery::EndpointRole::kDecode, now, 50);
    CHECK_FALSE(server->live(4).RecordFailure(now, may, outlier));
  }
}

TEST_CASE("the decider serves short uncached prompts decode-only and counts on the cache") {
  auto server = PdServer(2);
  config::SchedulerSettings settings;
  settings.decider.enabled = true;  // 256 tokens, 4 bytes each
  Scheduler scheduler = MakeScheduler(settings);
  std::mt19937_64 rng(10);
  auto mode = [&](const std::string& prompt, bool possible = true) {
    return scheduler.Pick(server->endpoints, {"m", prompt, "", possible}, Clock::now(), rng, 2);
  };
  CHECK(mode(Prompt(1, 1024)).mode == DecisionMode::kDecodeOnly);  // 256 tokens
  CHECK(mode(Prompt(1, 1024)).reason == DecisionReason::kShortPrompt);
  CHECK(mode(Prompt(1, 1028)).mode == DecisionMode::kDisaggregated);  // 257
  CHECK(mode(Prompt(1, 1028)).reason == DecisionReason::kLongPrompt);
  CHECK(mode(Prompt(1, 100), false).mode == DecisionMode::kDisaggregated);  // e.g. SGLang
  // A long prompt whose prefix a decode already holds leaves few uncached tokens.
  const std::string long_prompt = Prompt(2, 8192);
  Decision first = mode(long_prompt);
  REQUIRE(first.mode == DecisionMode::kDisaggregated);
  scheduler.RecordServed(first, server->endpoints.endpoints[first.pairs[0].decode]);
  Decision again = mode(long_prompt + "one more short question");
  CHECK(again.mode == DecisionMode::kDecodeOnly);
  CHECK(again.singles[0] == first.pairs[0].decode);

  settings.decider.enabled = false;
  Scheduler off = MakeScheduler(settings);
  CHECK(off.Pick(server->endpoints, {"m", "hi", "", true}, Clock::now(), rng, 1).mode ==
        DecisionMode::kDisaggregated);
}

TEST_CASE("decode-only when no prefill can serve, only if asked") {
  auto server = PdServer(1, 1, 2);
  auto& prefill = server->live(0);
  // Failing probes take the only prefill out (ejection never would: it is alone in its role).
  for (int i = 0; i < 3; ++i) prefill.RecordProbe(false, 2, 3);
  REQUIRE_FALSE(prefill.Available(Clock::now()));
  std::mt19937_64 rng(11);
  // By default: the prefill is used anyway (a whole role out: suspect beats certain failure).
  Scheduler plain = MakeScheduler();
  CHECK(plain.Pick(server->endpoints, {"m", "x", "", true}, Clock::now(), rng, 1).mode ==
        DecisionMode::kDisaggregated);
  config::SchedulerSettings settings;
  settings.decider.decode_only_without_prefill = true;
  Scheduler fallback = MakeScheduler(settings);
  // Unavailable prefill, no servable group by health: with the whole role out the panic rule
  // still keeps it; take it away from the snapshot instead.
  server->endpoints.groups[0].prefill.clear();
  server->endpoints.endpoints[0].role = discovery::EndpointRole::kAggregated;
  Decision decision = fallback.Pick(server->endpoints, {"m", "x", "", true}, Clock::now(), rng, 2);
  CHECK(decision.mode == DecisionMode::kDecodeOnly);
  CHECK(decision.reason == DecisionReason::kNoPrefill);
  CHECK(decision.singles.size() == 2);
  CHECK(plain.Pick(server->endpoints, {"m", "x", "", true}, Clock::now(), rng, 1).mode ==
        DecisionMode::kNone);
}

TEST_CASE("decode-first (Kthena) takes the best decode, then its group's best prefill") {
  auto server = PdServer(3, 2, 1);  // g0: p 0 1 d 2; g1: p 3 4 d 5; g2: p 6 7 d 8
  server->live(2).decode_in_flight = 5;
  server->live(8).decode_in_flight = 5;
  server->live(4).prefill_in_flight = 5;  // decode-first: Kthena's formula, request counts
  config::SchedulerSettings settings = Only({{"least-request", 1}});
  settings.pair_selection = config::PairSelection::kDecodeFirst;
  Scheduler scheduler = MakeScheduler(settings);
  std::mt19937_64 rng(12);
  Decision decision = scheduler.Pick(server->endpoints, {"m", "x", "", true}, Clock::now(), rng, 3);
  REQUIRE(decision.pairs.size() == 3);
  CheckPairs(*server, decision);
  CHECK(decision.pairs[0].decode == 5);
  CHECK(decision.pairs[0].prefill == 3);
}

TEST_CASE(
    "lora-affinity keeps endpoints that serve the requested adapter, once their list is known") {
  auto server = testing::AggregatedServer(3);
  config::SchedulerSettings settings = Only({{"random", 1}});
  settings.filters = {"lora-affinity"};
  Scheduler scheduler = MakeScheduler(settings);
  std::mt19937_64 rng(14);
  auto models = [](std::vector<std::string> names) {
    return std::make_shared<const std::vector<std::string>>(std::move(names));
  };
  server->live(0).StoreModels(models({"base", "sql-lora"}));
  server->live(1).StoreModels(models({"base"}));
  // Endpoint 2 has not been asked yet: it stays a candidate.
  std::set<uint32_t> used;
  for (int i = 0; i < 300; ++i) {
    used.insert(scheduler.Pick(server->endpoints, {"sql-lora", "x", "", true}, Clock::now(), rng, 1)
                    .singles[0]);
  }
  CHECK(used == std::set<uint32_t>{0, 2});
  server->live(2).StoreModels(models({"base"}));
  for (int i = 0; i < 100; ++i) {
    REQUIRE(scheduler.Pick(server->endpoints, {"sql-lora", "x", "", true}, Clock::now(), rng, 1)
                .singles[0] == 0);
  }
  // Nobody serves it: the filter steps aside rather than fail the request (the engine answers).
  CHECK(scheduler.Pick(server->endpoints, {"other-lora", "x", "", true}, Clock::now(), rng, 3)
            .singles.size() == 3);
}

TEST_CASE(
    "when availability leaves a prefill in one group and a decode in another, pairs come from all "
    "endpoints") {
  auto server = PdServer(2, 1, 1);  // g0: p 0, d 1; g1: p 2, d 3
  Scheduler scheduler = MakeScheduler();
  std::mt19937_64 rng(5);
  config::OutlierDetectionSettings outlier;
  const auto now = Clock::now();
  // g0's decode and g1's prefill are ejected: no group keeps both roles available.
  for (int i = 0; i < 3; ++i) server->live(1).RecordFailure(now, true, outlier);
  for (int i = 0; i < 3; ++i) server->live(2).RecordFailure(now, true, outlier);
  REQUIRE(server->live(1).Ejected(now));
  REQUIRE(server->live(2).Ejected(now));
  const Decision decision = scheduler.Pick(server->endpoints, {"m", "x", "", true}, now, rng, 3);
  CHECK(decision.mode == DecisionMode::kDisaggregated);
  REQUIRE(decision.pairs.size() == 2);  // both groups, suspects and all, rather than a 503
  CHECK(decision.prefill_tokens.size() == decision.pairs.size());
}

TEST_CASE("the retries of a request go to another pair before the same one again") {
  auto server = PdServer(2, 1, 1);  // g0: p 0, d 1; g1: p 2, d 3
  Scheduler scheduler = MakeScheduler();
  std::mt19937_64 rng(6);
  config::OutlierDetectionSettings outlier;
  const auto now = Clock::now();
  // g0's prefill is ejected (it may have recovered since); g1's prefill is failing but the cap
  // keeps it in. The first attempt goes to g1, the second to g0 rather than g1 again.
  for (int i = 0; i < 3; ++i) server->live(0).RecordFailure(now, true, outlier);
  REQUIRE(server->live(0).Ejected(now));
  const Decision decision = scheduler.Pick(server->endpoints, {"m", "x", "", true}, now, rng, 3);
  REQUIRE(decision.pairs.size() == 2);
  CHECK(decision.pairs[0].prefill == 2);
  CHECK(decision.pairs[1].prefill == 0);
}
