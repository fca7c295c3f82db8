// Statistical tests of the scheduler (no sockets): spread under equal load, least-request,
// prefix affinity, ejection, session affinity under membership change, and the decider.
#include "pd_scheduler/scheduler.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>

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

TEST_CASE("engine cache sizes: a new prefix goes where it fits, a cached one stays on a full engine") {
  auto server = PdServer(2);  // p 0, d 1 | p 2, d 3
  Scheduler scheduler = MakeScheduler();
  std::mt19937_64 rng(8);
  auto& endpoints = server->endpoints.endpoints;
  // 1024 tokens × 4 bytes / 64-byte blocks: each prefill's engine holds 64 of the index's blocks.
  discovery::EngineCache cache;
  cache.capacity_tokens = 1024;
  cache.prompt_bytes_per_token = 4;
  scheduler.SizeIndexFor(*endpoints[0].live, cache);
  scheduler.SizeIndexFor(*endpoints[2].live, cache);
  // Prefill 0 holds two 32-block prompts: full. Prefill 2 is empty.
  const std::string a = Prompt(1, 2048), b = Prompt(2, 2048);
  for (const std::string* prompt : {&a, &b}) {
    Decision served = scheduler.Pick(server->endpoints, {"m", *prompt, "", true}, Clock::now(), rng, 1);
    scheduler.RecordServed(served, endpoints[0]);
  }
  std::vector<int64_t> room;
  const uint32_t slots[] = {endpoints[0].live->slot(), endpoints[2].live->slot()};
  scheduler.prefix_index()->Room(slots, room);
  CHECK(room == std::vector<int64_t>{0, 64});
  // New prefixes: placing them on prefill 0 would evict what it holds.
  for (int prefix = 10; prefix < 30; ++prefix) {
    Decision decision = scheduler.Pick(server->endpoints, {"m", Prompt(prefix, 2048), "", true},
                                       Clock::now(), rng, 1);
    CHECK(decision.pairs[0].prefill == 2);
  }
  // A prompt prefill 0 holds needs no room there.
  CHECK(scheduler.Pick(server->endpoints, {"m", a, "", true}, Clock::now(), rng, 1)
            .pairs[0]
            .prefill == 0);
}

TEST_CASE("index sizing: the measured bytes per token, else bytesPerToken, else engineCacheTokens") {
  auto server = PdServer(1);
  const discovery::LiveEndpoint& live = *server->endpoints.endpoints[0].live;
  const uint32_t slot[] = {live.slot()};
  std::vector<int64_t> room;
  config::SchedulerSettings settings;
  Scheduler scheduler = MakeScheduler(settings);
  discovery::EngineCache cache;
  cache.capacity_tokens = 16384;
  cache.prompt_bytes_per_token = 3.5;
  scheduler.SizeIndexFor(live, cache);
  scheduler.prefix_index()->Room(slot, room);
  CHECK(room[0] == 16384 * 7 / 2 / 64);
  cache.prompt_bytes_per_token = 0.01;  // implausible: bytesPerToken (4) instead
  scheduler.SizeIndexFor(live, cache);
  scheduler.prefix_index()->Room(slot, room);
  CHECK(room[0] == 16384 * 4 / 64);
  scheduler.SizeIndexFor(live, {});  // size unknown, no fallback
  scheduler.prefix_index()->Room(slot, room);
  CHECK(room[0] == -1);
  settings.prefix_cache.engine_cache_tokens = 2048;
  Scheduler configured = MakeScheduler(settings);
  configured.SizeIndexFor(live, {});
  configured.prefix_index()->Room(slot, room);
  CHECK(room[0] == 2048 * 4 / 64);
}
