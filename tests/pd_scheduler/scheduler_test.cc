// Statistical tests of the scheduler (no sockets): spread under equal load, least-request,
// prefix affinity, ejection, session affinity under membership change, and the decider.
#include "pd_scheduler/scheduler.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "tests/pd_scheduler/scheduler_fixture.h"

using namespace pdgate;
using pd_scheduler::Decision;
using pd_scheduler::DecisionMode;
using pd_scheduler::DecisionReason;
using pd_scheduler::PrefixIndex;
using pd_scheduler::RequestFacts;
using pd_scheduler::Scheduler;
using testing::PdServer;

namespace {

using Clock = std::chrono::steady_clock;

Scheduler MakeScheduler(const config::SchedulerSettings& settings = {}) {
  return Scheduler(settings,
                   std::make_shared<PrefixIndex>(settings.prefix_cache.max_hash_cache_size));
}

config::SchedulerSettings Only(std::vector<config::ScorePluginSetting> scores) {
  config::SchedulerSettings settings;
  settings.scores = std::move(scores);
  return settings;
}

std::string Prompt(int prefix, size_t bytes) {
  std::string text = "[{\"role\":\"system\",\"content\":\"tenant " + std::to_string(prefix) + " ";
  while (text.size() < bytes) text += "lorem ipsum dolor sit amet ";
  text.resize(bytes);
  return text;
}

// Every pair's members are in one group, and the pair's roles are right.
void CheckPairs(const testing::TestServer& server, const Decision& decision) {
  for (const auto& pair : decision.pairs) {
    const auto& p = server.endpoints.endpoints[pair.prefill];
    const auto& d = server.endpoints.endpoints[pair.decode];
    REQUIRE(p.role == discovery::EndpointRole::kPrefill);
    REQUIRE(d.role == discovery::EndpointRole::kDecode);
    REQUIRE(p.group == d.group);
  }
}

}  // namespace

TEST_CASE("equal load spreads first picks within 2% over 100k picks") {
  auto server = PdServer(4, 2, 2);
  Scheduler scheduler = MakeScheduler();
  std::mt19937_64 rng(1);
  const auto now = Clock::now();
  std::map<uint32_t, int> prefill, decode;
  constexpr int kPicks = 100000;
  const std::string prompt = Prompt(0, 40);  // shorter than one block: no prefix signal
  for (int i = 0; i < kPicks; ++i) {
    Decision decision = scheduler.Pick(server->endpoints, {"m", prompt, "", true}, now, rng, 1);
    REQUIRE(decision.mode == DecisionMode::kDisaggregated);
    REQUIRE(decision.pairs.size() == 1);
    ++prefill[decision.pairs[0].prefill];
    ++decode[decision.pairs[0].decode];
  }
  REQUIRE(prefill.size() == 8);
  REQUIRE(decode.size() == 8);
  for (auto [endpoint, count] : prefill) CHECK(std::abs(count - kPicks / 8) < kPicks / 8 * 0.02);
  for (auto [endpoint, count] : decode) CHECK(std::abs(count - kPicks / 8) < kPicks / 8 * 0.02);
}

TEST_CASE("aggregated endpoints share equal load within 2%") {
  auto server = testing::AggregatedServer(5);
  Scheduler scheduler = MakeScheduler();
  std::mt19937_64 rng(2);
  std::map<uint32_t, int> first;
  constexpr int kPicks = 100000;
  for (int i = 0; i < kPicks; ++i) {
    Decision decision =
        scheduler.Pick(server->endpoints, {"m", "hi", "", true}, Clock::now(), rng, 3);
    REQUIRE(decision.mode == DecisionMode::kAggregated);
    REQUIRE(decision.singles.size() == 3);
    REQUIRE(std::set<uint32_t>(decision.singles.begin(), decision.singles.end()).size() == 3);
    ++first[decision.singles[0]];
  }
  for (auto [endpoint, count] : first) CHECK(std::abs(count - kPicks / 5) < kPicks / 5 * 0.02);
}

TEST_CASE("retries of one request go to other groups first, and pairs stay within a group") {
  auto server = PdServer(3, 2, 2);
  Scheduler scheduler = MakeScheduler();
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    Decision decision =
        scheduler.Pick(server->endpoints, {"m", "x", "", true}, Clock::now(), rng, 5);
    REQUIRE(decision.pairs.size() == 5);
    CheckPairs(*server, decision);
    std::set<std::string> groups;
    for (size_t k = 0; k < 3; ++k) {
      groups.insert(server->endpoints.endpoints[decision.pairs[k].decode].group);
    }
    REQUIRE(groups.size() == 3);
  }
}

TEST_CASE("least-request avoids a busy endpoint") {
  auto server = PdServer(2, 2, 2);        // g0: p0=0 p1=1 d0=2 d1=3; g1: 4 5 6 7
  server->live(1).prefill_in_flight = 8;  // joint mode weighs prefills by queued tokens
  server->live(1).prefill_tokens_in_flight = 8000;
  server->live(6).decode_in_flight = 8;
  Scheduler scheduler = MakeScheduler(Only({{"least-request", 1}}));
  std::mt19937_64 rng(4);
  std::map<uint32_t, int> prefill, decode;
  for (int i = 0; i < 10000; ++i) {
    Decision decision =
        scheduler.Pick(server->endpoints, {"m", "x", "", true}, Clock::now(), rng, 1);
    ++prefill[decision.pairs[0].prefill];
    ++decode[decision.pairs[0].decode];
  }
  CHECK(prefill[1] == 0);
  CHECK(decode[6] == 0);
  CHECK(prefill[0] > 0);
  CHECK(prefill[4] + prefill[5] > 0);
}

TEST_CASE(
    "the least-request filter drops endpoints with a long engine queue, unless all have one") {
  auto server = PdServer(2);  // p 0, d 1 | p 2, d 3
  discovery::EngineLoad queued;
  queued.waiting = 50;
  server->live(2).StoreLoad(queued);
  Scheduler scheduler = MakeScheduler(Only({{"random", 1}}));
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200; ++i) {
    auto decision = scheduler.Pick(server->endpoints, {"m", "x", "", true}, Clock::now(), rng, 1);
    REQUIRE(decision.pairs[0].prefill == 0);
  }
  server->live(0).StoreLoad(queued);
  std::set<uint32_t> used;
  for (int i = 0; i < 200; ++i) {
    used.insert(scheduler.Pick(server->endpoints, {"m", "x", "", true}, Clock::now(), rng, 1)
                    .pairs[0]
                    .prefill);
  }
  CHECK(used == std::set<uint32_t>{0, 2});
}

TEST_CASE("prefix-cache keeps a repeated prefix on one pair and spreads distinct prefixes") {
  auto server = PdServer(4);
  Scheduler scheduler = MakeScheduler();
  std::mt19937_64 rng(6);
  std::map<uint32_t, int> first_choice;  // prefill of each prefix's first request
  int stayed = 0, repeats = 0;
  for (int prefix = 0; prefix < 400; ++prefix) {
    const std::string prompt = Prompt(prefix, 4096);
    uint32_t home = UINT32_MAX;
    for (int k = 0; k < 5; ++k) {
      // Each request shares the prefix and adds its own question.
      const std::string request = prompt + "question " + std::to_string(k);
      Decision decision =
          scheduler.Pick(server->endpoints, {"m", request, "", true}, Clock::now(), rng, 1);
      const auto& pair = decision.pairs[0];
      if (k == 0) {
        home = pair.prefill;
        ++first_choice[home];
      } else {
        ++repeats;
        if (pair.prefill == home) ++stayed;
        CHECK(decision.prefix_match_ratio > 0.9);
      }
      scheduler.RecordServed(decision, server->endpoints.endpoints[pair.prefill]);
      scheduler.RecordServed(decision, server->endpoints.endpoints[pair.decode]);
    }
  }
  CHECK(stayed == repeats);
  REQUIRE(first_choice.size() == 4);
  for (auto [endpoint, count] : first_choice) CHECK(count > 60);  // 100 expected each
}

TEST_CASE("joint least-request prefers a cached prefill, and yields once its queue costs more") {
  auto server = PdServer(2);  // p 0, d 1 | p 2, d 3
  Scheduler scheduler = MakeScheduler(Only({{"least-request", 1}}));
  std::mt19937_64 rng(7);
  const std::string prompt = Prompt(1, 2048);
  Decision first = scheduler.Pick(server->endpoints, {"m", prompt, "", true}, Clock::now(), rng, 1);
  scheduler.RecordServed(first, server->endpoints.endpoints[0]);
  Decision again = scheduler.Pick(server->endpoints, {"m", prompt, "", true}, Clock::now(), rng, 1);
  CHECK(again.pairs[0].prefill == 0);
  server->live(0).prefill_in_flight = 1;  // a short queue costs less than recomputing
  server->live(0).prefill_tokens_in_flight = 200;
  CHECK(scheduler.Pick(server->endpoints, {"m", prompt, "", true}, Clock::now(), rng, 1)
            .pairs[0]
            .prefill == 0);
  // Four uncached 512-token prompts queued ahead: more work than this prompt's 512 elsewhere.
  server->live(0).prefill_in_flight = 4;
  server->live(0).prefill_tokens_in_flight = 4 * 512;
  Decision busy = scheduler.Pick(server->endpoints, {"m", prompt, "", true}, Clock::now(), rng, 1);
  CHECK(busy.pairs[0].prefill == 2);
}

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

TEST_CASE("session affinity moves about 1/N of the sessions when an endpoint joins or leaves") {
  Scheduler scheduler = MakeScheduler(Only({{"session-affinity", 1}}));
  std::mt19937_64 rng(9);
  auto home_of = [&](const testing::TestServer& server, const std::string& key) {
    auto decision = scheduler.Pick(server.endpoints, {"m", "x", key, true}, Clock::now(), rng, 1);
    return server.endpoints.endpoints[decision.singles[0]].pod;
  };
  auto ten = testing::AggregatedServer(10);
  auto eleven = testing::AggregatedServer(11);  // e0..e9 as before, plus e10
  constexpr int kKeys = 20000;
  int moved = 0;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "session-" + std::to_string(k);
    const std::string before = home_of(*ten, key);
    REQUIRE(home_of(*ten, key) == before);  // stable
    const std::string after = home_of(*eleven, key);
    if (after != before) {
      ++moved;
      REQUIRE(after == "ns/e10");  // only to the newcomer
    }
  }
  CHECK(moved > kKeys / 11 * 0.85);
  CHECK(moved < kKeys / 11 * 1.15);

  // PD: sessions keep their group; a fifth group takes about a fifth of them.
  auto four = PdServer(4);
  auto five = PdServer(5);
  auto group_of = [&](const testing::TestServer& server, const std::string& key) {
    auto decision = scheduler.Pick(server.endpoints, {"m", "x", key, true}, Clock::now(), rng, 1);
    return server.endpoints.endpoints[decision.pairs[0].decode].group;
  };
  moved = 0;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "user-" + std::to_string(k);
    const std::string before = group_of(*four, key);
    const std::string after = group_of(*five, key);
    if (before != after) {
      ++moved;
      REQUIRE(after == "g4");
    }
  }
  CHECK(moved > kKeys / 5 * 0.85);
  CHECK(moved < kKeys / 5 * 1.15);
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

TEST_CASE("joint selection weighs both members: a group with a busy decode loses") {
  auto server = PdServer(2);  // p 0, d 1 | p 2, d 3
  server->live(1).decode_in_flight = 6;
  Scheduler scheduler = MakeScheduler(Only({{"least-request", 1}}));
  std::mt19937_64 rng(13);
  for (int i = 0; i < 100; ++i) {
    auto decision = scheduler.Pick(server->endpoints, {"m", "x", "", true}, Clock::now(), rng, 2);
    REQUIRE(decision.pairs[0].decode == 3);
    REQUIRE(decision.pairs[1].decode == 1);  // the other group, for a retry
  }
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
