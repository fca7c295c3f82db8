// The prefix index: chained hashes, longest-match lookup, per-endpoint LRU bound, purge.
#include "pd_scheduler/prefix_index.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

using pdgate::pd_scheduler::HashPromptBlocks;
using pdgate::pd_scheduler::PrefixIndex;
using pdgate::pd_scheduler::PrefixMatch;

namespace {

// The hashes of a prompt of `blocks` 64-byte blocks of `fill`.
std::vector<uint64_t> Prompt(char fill, size_t blocks) {
  return HashPromptBlocks("m", std::string(64 * blocks, fill), 64, 128);
}

// How many of `hashes`' leading blocks the best-matching endpoint holds (0: none does).
uint32_t Held(const PrefixIndex& index, const std::vector<uint64_t>& hashes) {
  std::vector<PrefixMatch> matches;
  index.Match(hashes, 1, matches);
  return matches.empty() ? 0 : matches[0].blocks;
}

}  // namespace

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

TEST_CASE("a prefix recorded again gets a second chance at eviction") {
  PrefixIndex index(20);
  const auto a = Prompt('a', 10), b = Prompt('b', 10), c = Prompt('c', 5);
  index.Record(a, 1);
  index.Record(b, 1);
  index.Record(a, 1);  // held: marked used, no move
  index.Record(c, 1);  // 25 > 20: five blocks go, from b's tail, not a's
  CHECK(Held(index, a) == 10);
  CHECK(Held(index, b) == 5);  // its head stays
  CHECK(index.stats().evictions == 5);
  CHECK(index.Blocks(1).held == 20);
  // The order of use is c, a, b (a's second chance moved it to the front before c went in), and
  // a's mark is spent: unless used again, a goes before c.
  index.Record(Prompt('d', 10), 1);  // ten more go: b's five, then a's tail
  CHECK(Held(index, b) == 0);
  CHECK(Held(index, a) == 5);
  CHECK(Held(index, c) == 5);
  index.Record(std::span(a).first(5), 1);  // a's head used again: e's room comes from c
  index.Record(Prompt('e', 4), 1);
  CHECK(Held(index, a) == 5);
  CHECK(Held(index, c) == 1);
}

TEST_CASE("one lookup tells the room and the matches, records of held blocks run on many threads") {
  PrefixIndex index(100);
  const auto prompt = HashPromptBlocks("m", std::string(64 * 8, 'p'), 64, 128);
  index.Record(prompt, 1);
  index.SetCapacity(1, 50);
  const uint32_t slots[] = {1, 2};
  std::vector<int64_t> room;
  std::vector<PrefixMatch> matches;
  index.Lookup(slots, prompt, 5, room, matches);
  CHECK(room == std::vector<int64_t>{42, -1});
  REQUIRE(matches.size() == 1);
  CHECK(matches[0].blocks == 8);

  // Threads recording the same prompt (held: read-only) and new ones (written) at once.
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&index, &prompt, t] {
      std::vector<PrefixMatch> seen;
      for (int i = 0; i < 300; ++i) {
        index.Record(prompt, 1);
        if (t % 2 == 0) {
          index.Record(
              HashPromptBlocks("m", std::to_string(t * 1000 + i) + std::string(64, 'x'), 64, 128),
              2);
        }
        index.Match(prompt, 5, seen);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  index.Match(prompt, 5, matches);
  REQUIRE(matches.size() == 1);
  CHECK(matches[0].blocks == 8);
  CHECK(index.Blocks(2).held == 100);  // 900 new blocks on slot 2, bounded by the index's 100
  CHECK(index.stats().entries == 108);
}

TEST_CASE("records that meet another thread's write are handed over and none is lost") {
  constexpr size_t kThreads = 8, kRecords = 400;
  PrefixIndex index(kThreads * kRecords * 2);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&index, t] {
      for (size_t i = 0; i < kRecords; ++i) {
        // Each a new prompt of two blocks, on the thread's own endpoint.
        index.Record(HashPromptBlocks("m", std::to_string(t * kRecords + i) + std::string(128, '.'),
                                      64, 128),
                     uint32_t(t));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  // A record left queued by the last writer's rounds is written by the next lookup.
  std::vector<PrefixMatch> matches;
  index.Match(HashPromptBlocks("m", std::string(128, '-'), 64, 128), 5, matches);
  const auto stats = index.stats();
  CHECK(stats.entries == kThreads * kRecords * 2);
  CHECK(stats.evictions == 0);
  for (size_t t = 0; t < kThreads; ++t) CHECK(index.Blocks(uint32_t(t)).held == kRecords * 2);
  index.Match(HashPromptBlocks("m", "5" + std::string(128, '.'), 64, 128), 5, matches);
  REQUIRE(matches.size() == 1);
  CHECK(matches[0].slot == 0);
  CHECK(matches[0].blocks == 2);
  INFO("handed over: " << stats.handed_records);
  CHECK(stats.handed_records <= kThreads * kRecords);
}

TEST_CASE("a record's new blocks are not evicted by the second chances its own room gives") {
  PrefixIndex index(20);
  const auto a = Prompt('a', 10), b = Prompt('b', 10), c = Prompt('c', 5);
  index.Record(a, 1);
  index.Record(b, 1);
  index.Record(a, 1);  // every block held is marked used
  index.Record(b, 1);
  index.Record(c, 1);  // room for five: a's tail goes (a was used before b), c stays whole
  CHECK(Held(index, c) == 5);
  CHECK(Held(index, a) == 5);
  CHECK(Held(index, b) == 10);
  // A record longer than the bound keeps its head.
  const auto long_prompt = Prompt('l', 30);
  index.Record(long_prompt, 1);
  CHECK(Held(index, long_prompt) == 20);
  CHECK(index.Blocks(1).held == 20);
}

TEST_CASE("a record that comes after its endpoint was removed is dropped, not kept forever") {
  PrefixIndex index(100);
  const auto a = Prompt('a', 4);
  index.Record(a, 1);
  index.Record(a, 2);
  index.RemoveEndpoint(1);
  // Slot 1's record waited in the hand-off while the scraper removed it.
  index.Record(a, 1);
  index.Record(Prompt('b', 3), 1);
  std::vector<PrefixMatch> matches;
  index.Match(a, 4, matches);
  REQUIRE(matches.size() == 1);
  CHECK(matches[0].slot == 2);
  CHECK(index.stats().entries == 4);
  CHECK(index.Blocks(1).held == 0);
  CHECK(Held(index, Prompt('b', 3)) == 0);
  index.SetCapacity(1, 50);  // a size scraped before the prune
  CHECK(index.Blocks(1).capacity == -1);
  // Only the last 4,096 removals are remembered: memory stays bounded.
  for (uint32_t slot = 10; slot < 10 + 4096; ++slot) index.RemoveEndpoint(slot);
  index.Record(a, 1);
  CHECK(Held(index, a) == 4);
  CHECK(index.Blocks(1).held == 4);
}

TEST_CASE("one eviction pass gives a bounded number of second chances, then takes the oldest") {
  PrefixIndex index(2000);
  std::vector<std::vector<uint64_t>> prompts;
  for (char fill = 'A'; fill < 'A' + 20; ++fill) prompts.push_back(Prompt(fill, 100));
  for (const auto& prompt : prompts) index.Record(prompt, 1);
  for (const auto& prompt : prompts) index.Record(prompt, 1);  // every entry marked used
  // Room for 100 new blocks: the sweep moves the 1,024 oldest (prompts 0-9 and 24 blocks of
  // prompt 10's tail) to the front, then evicts the next 100, marked or not: the rest of prompt
  // 10 and 24 blocks of prompt 11's tail. A sweep without a bound would move all 2,000 and evict
  // prompt 0.
  index.Record(Prompt('z', 100), 1);
  CHECK(Held(index, prompts[0]) == 100);
  CHECK(Held(index, prompts[9]) == 100);
  CHECK(Held(index, prompts[10]) == 0);
  CHECK(Held(index, prompts[11]) == 76);
  CHECK(Held(index, prompts[12]) == 100);
  CHECK(index.stats().entries == 2000);
  CHECK(index.stats().evictions == 100);
  // What a bounded pass costs: prompt 10's tail went to the front and its head was evicted, so 24
  // held blocks can no longer be matched until they age out.
  CHECK(index.Blocks(1).held == 2000);
}
