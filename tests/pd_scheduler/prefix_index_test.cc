// The prefix index: chained hashes, longest-match lookup, per-endpoint LRU bound, purge.
#include "pd_scheduler/prefix_index.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

using pdgate::pd_scheduler::HashPromptBlocks;
using pdgate::pd_scheduler::PrefixIndex;
using pdgate::pd_scheduler::PrefixMatch;

TEST_CASE("block hashes chain: equal prefixes share hashes, the model salts them") {
  const std::string a = std::string(256, 'a') + std::string(64, 'x');
  const std::string b = std::string(256, 'a') + std::string(64, 'y');
  auto ha = HashPromptBlocks("m", a, 64, 128);
  auto hb = HashPromptBlocks("m", b, 64, 128);
  REQUIRE(ha.size() == 5);
  REQUIRE(hb.size() == 5);
  for (size_t i = 0; i < 4; ++i) CHECK(ha[i] == hb[i]);
  CHECK(ha[4] != hb[4]);
  // The same block after a different prefix hashes differently.
  CHECK(HashPromptBlocks("m", std::string(64, 'b') + std::string(64, 'a'), 64, 128)[1] != ha[1]);
  CHECK(HashPromptBlocks("other", a, 64, 128)[0] != ha[0]);
  CHECK(HashPromptBlocks("m", a, 64, 2).size() == 2);
  CHECK(HashPromptBlocks("m", "short", 64, 128).empty());
}

TEST_CASE("lookups give each endpoint its longest recorded prefix") {
  PrefixIndex index(1000);
  const std::string base(64 * 10, 'q');
  auto full = HashPromptBlocks("m", base, 64, 128);
  index.Record(std::span(full).first(4), 7);
  index.Record(full, 9);
  std::vector<PrefixMatch> matches;
  index.Match(full, 5, matches);
  REQUIRE(matches.size() == 2);
  CHECK(matches[0].slot == 9);
  CHECK(matches[0].blocks == 10);
  CHECK(matches[1].slot == 7);
  CHECK(matches[1].blocks == 4);
  index.Match(full, 1, matches);
  CHECK(matches.size() == 1);
  auto other = HashPromptBlocks("m", std::string(640, 'z'), 64, 128);
  index.Match(other, 5, matches);
  CHECK(matches.empty());
  index.RemoveEndpoint(9);
  index.Match(full, 5, matches);
  REQUIRE(matches.size() == 1);
  CHECK(matches[0].slot == 7);
  CHECK(index.stats().entries == 4);
}

TEST_CASE("memory stays flat: each endpoint keeps at most its capacity, oldest out first") {
  PrefixIndex index(1000);
  for (int i = 0; i < 20000; ++i) {
    const std::string prompt = "prompt " + std::to_string(i) + std::string(600, '.');
    index.Record(HashPromptBlocks("m", prompt, 64, 128), uint32_t(i % 3));
  }
  const auto stats = index.stats();
  CHECK(stats.entries == 3000);
  CHECK(stats.evictions == 20000 * 9 - 3000);
  // The newest prompt is still matched in full, the oldest is gone.
  std::vector<PrefixMatch> matches;
  index.Match(HashPromptBlocks("m", "prompt 19999" + std::string(600, '.'), 64, 128), 5, matches);
  REQUIRE(matches.size() == 1);
  CHECK(matches[0].blocks == 9);
  index.Match(HashPromptBlocks("m", "prompt 0" + std::string(600, '.'), 64, 128), 5, matches);
  CHECK(matches.empty());
  for (uint32_t slot = 0; slot < 3; ++slot) index.RemoveEndpoint(slot);
  CHECK(index.stats().entries == 0);
}

TEST_CASE("an engine's known cache size bounds its entries and tells the room left") {
  PrefixIndex index(1000);
  const auto prompt = HashPromptBlocks("m", std::string(64 * 10, 'p'), 64, 128);
  index.Record(prompt, 1);
  index.Record(prompt, 2);
  std::vector<int64_t> room;
  const uint32_t slots[] = {1, 2, 3};
  index.Room(slots, room);
  CHECK(room == std::vector<int64_t>{-1, -1, -1});  // no size known: no room estimate

  // Slot 1's engine holds 6 blocks: its 4 oldest (the prompt's tail) are forgotten at once,
  // the head stays, so the prefix still matches there for 6 blocks.
  index.SetCapacity(1, 6);
  index.SetCapacity(3, 20);
  index.Room(slots, room);
  CHECK(room == std::vector<int64_t>{0, -1, 20});
  std::vector<PrefixMatch> matches;
  index.Match(prompt, 5, matches);
  REQUIRE(matches.size() == 2);
  CHECK(matches[0].slot == 2);
  CHECK(matches[0].blocks == 10);
  CHECK(matches[1].slot == 1);
  CHECK(matches[1].blocks == 6);
  CHECK(index.stats().entries == 16);

  // New prompts push the old one out in LRU order at the engine's size, not the index's.
  index.Record(HashPromptBlocks("m", std::string(64 * 6, 'n'), 64, 128), 1);
  index.Match(prompt, 5, matches);
  REQUIRE(matches.size() == 1);
  CHECK(matches[0].slot == 2);

  // Unknown again (0): the index's own bound applies; a removed endpoint forgets its size.
  index.SetCapacity(1, 0);
  index.Room(slots, room);
  CHECK(room[0] == -1);
  index.RemoveEndpoint(3);
  index.Room(slots, room);
  CHECK(room[2] == -1);
}

TEST_CASE("an engine larger than the index's own bound: the index runs out first, no room told") {
  PrefixIndex index(10);
  index.SetCapacity(1, 1000);
  index.SetCapacity(2, 5);
  std::vector<int64_t> room;
  const uint32_t slots[] = {1, 2};
  index.Room(slots, room);
  CHECK(room == std::vector<int64_t>{-1, 5});
  CHECK(index.Blocks(1).capacity == 1000);  // what the engine holds, as /metrics shows it
  index.Record(HashPromptBlocks("m", std::string(64 * 20, 'r'), 64, 128), 1);
  CHECK(index.Blocks(1).held == 10);
}

TEST_CASE("lookups counted on several threads' own lines add up") {
  PrefixIndex index(1000);
  const auto prompt = HashPromptBlocks("m", std::string(64 * 4, 'p'), 64, 128);
  index.Record(prompt, 3);
  constexpr int kThreads = 10;  // more than the index's count lines: some threads share one
  constexpr int kLookups = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<PrefixMatch> matches;
      for (int i = 0; i < kLookups; ++i) index.Match(prompt, 5, matches);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const auto stats = index.stats();
  CHECK(stats.lookups == uint64_t{kThreads} * kLookups);
  CHECK(stats.looked_up_blocks == uint64_t{kThreads} * kLookups * 4);
  CHECK(stats.matched_blocks == uint64_t{kThreads} * kLookups * 4);
}
