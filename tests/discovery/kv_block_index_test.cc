// The KV block index as the engines' events fill it, and the sequence numbers that say whether
// those events can be trusted.
#include "discovery/kv_block_index.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <fstream>
#include <iterator>
#include <numeric>
#include <thread>
#include <vector>

#include "tests/support/paths.h"

namespace pdgate::discovery {
namespace {

constexpr std::string_view kModel = "deepseek-ai/DeepSeekV2";
constexpr uint32_t kBlock = 16;

std::vector<uint32_t> Tokens(uint32_t from, uint32_t count) {
  std::vector<uint32_t> ids(count);
  std::iota(ids.begin(), ids.end(), from);
  return ids;
}

// BlockStored of `blocks` engine hashes over `tokens` (kBlock each), chained to `parent`.
KvEvent Stored(std::vector<uint64_t> hashes, std::optional<uint64_t> parent,
               std::vector<uint32_t> tokens) {
  KvEvent event;
  event.type = KvEventType::kBlockStored;
  event.block_hashes = std::move(hashes);
  event.parent_block_hash = parent;
  event.token_ids = std::move(tokens);
  event.block_size = kBlock;
  event.medium = "GPU";
  return event;
}

KvEvent Removed(std::vector<uint64_t> hashes) {
  KvEvent event;
  event.type = KvEventType::kBlockRemoved;
  event.block_hashes = std::move(hashes);
  return event;
}

KvEventBatch Batch(std::vector<KvEvent> events, std::optional<uint32_t> rank = std::nullopt) {
  KvEventBatch batch;
  batch.events = std::move(events);
  batch.data_parallel_rank = rank;
  return batch;
}

std::vector<KvBlockMatch> MatchTokens(const KvBlockIndex& index, const std::vector<uint32_t>& tokens,
                                      std::string_view model = kModel) {
  std::vector<KvBlockMatch> out;
  index.Match(0, KvBlockKeys(model, tokens, kBlock), out);
  return out;
}

bool Same(const std::vector<KvBlockMatch>& got, const std::vector<KvBlockMatch>& want) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].endpoint != want[i].endpoint || got[i].blocks != want[i].blocks) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("blocks stored in two events chain to one prefix, the longest holder comes first") {
  KvBlockIndex index(1000, 2);
  const std::vector<uint32_t> prompt = Tokens(0, 64);  // four blocks
  index.Apply(1, kModel, Batch({Stored({101, 102}, std::nullopt, Tokens(0, 32))}));
  index.Apply(1, kModel, Batch({Stored({103, 104}, 102, Tokens(32, 32))}));
  index.Apply(2, kModel, Batch({Stored({201, 202}, std::nullopt, Tokens(0, 32))}));
  CHECK(Same(MatchTokens(index, prompt), {{1, 4}, {2, 2}}));
  // A prompt that shares two blocks, then differs.
  std::vector<uint32_t> other = Tokens(0, 64);
  other[40] = 99999;
  CHECK(Same(MatchTokens(index, other), {{1, 2}, {2, 2}}));
  // Another model's (or adapter's) chain starts elsewhere.
  CHECK(MatchTokens(index, prompt, "another-model").empty());
  CHECK(index.stats().entries == 6);
  CHECK(index.stats().stored == 6);
}

TEST_CASE("removed blocks, AllBlocksCleared and a departed endpoint are forgotten") {
  KvBlockIndex index(1000, 1);
  const std::vector<uint32_t> prompt = Tokens(0, 64);
  index.Apply(1, kModel, Batch({Stored({1, 2, 3, 4}, std::nullopt, prompt)}));
  index.Apply(2, kModel, Batch({Stored({1, 2, 3, 4}, std::nullopt, prompt)}));
  index.Apply(1, kModel, Batch({Removed({3})}));
  CHECK(Same(MatchTokens(index, prompt), {{2, 4}, {1, 2}}));
  KvEvent cleared;
  cleared.type = KvEventType::kAllBlocksCleared;
  index.Apply(2, kModel, Batch({cleared}));
  CHECK(Same(MatchTokens(index, prompt), {{1, 2}}));
  index.ClearEndpoint(1);
  CHECK(MatchTokens(index, prompt).empty());
  CHECK(index.stats().entries == 0);
  // Removing what is not held is harmless.
  index.Apply(1, kModel, Batch({Removed({1, 77})}));
  CHECK(index.stats().entries == 0);
}

TEST_CASE("only full-attention GPU blocks with a known parent are indexed") {
  KvBlockIndex index(1000, 1);
  const std::vector<uint32_t> prompt = Tokens(0, 32);
  KvEvent cpu = Stored({1, 2}, std::nullopt, prompt);
  cpu.medium = "CPU";
  KvEvent sliding = Stored({3, 4}, std::nullopt, prompt);
  sliding.cache_spec_kind = "sliding_window";
  KvEvent orphan = Stored({5}, 4242, Tokens(32, 16));  // parent never seen
  KvEvent uneven = Stored({6, 7}, std::nullopt, Tokens(0, 20));
  index.Apply(1, kModel, Batch({cpu, sliding, orphan, uneven}));
  CHECK(MatchTokens(index, prompt).empty());
  const KvIndexStats stats = index.stats();
  CHECK(stats.entries == 0);
  CHECK(stats.orphaned == 1);
  CHECK(stats.skipped == 6);
}

TEST_CASE("data-parallel ranks hold their own blocks, an endpoint counts its best rank") {
  KvBlockIndex index(1000, 1);
  const std::vector<uint32_t> prompt = Tokens(0, 64);
  index.Apply(1, kModel, Batch({Stored({1, 2}, std::nullopt, Tokens(0, 32))}, 0));
  index.Apply(1, kModel, Batch({Stored({1, 2, 3, 4}, std::nullopt, prompt)}, 1));
  CHECK(Same(MatchTokens(index, prompt), {{1, 4}}));
  index.Apply(1, kModel, Batch({Removed({1})}, 1));  // rank 1's copy only
  CHECK(Same(MatchTokens(index, prompt), {{1, 2}}));
}

TEST_CASE("KV groups of a hybrid model are held apart, AllBlocksCleared clears them all") {
  KvBlockIndex index(1000, 1);
  const std::vector<uint32_t> prompt = Tokens(0, 32);
  KvEvent group0 = Stored({1, 2}, std::nullopt, prompt);
  KvEvent group1 = Stored({1, 2}, std::nullopt, prompt);  // the same engine hashes
  group1.group_idx = 1;
  index.Apply(1, kModel, Batch({group0, group1}));
  KvEvent removed = Removed({1, 2});
  removed.group_idx = 1;
  index.Apply(1, kModel, Batch({removed}));
  CHECK(Same(MatchTokens(index, prompt), {{1, 2}}));  // group 0 still holds them
  CHECK(index.stats().entries == 2);
  index.Apply(1, kModel, Batch({group1}));
  KvEvent cleared;
  cleared.type = KvEventType::kAllBlocksCleared;
  index.Apply(1, kModel, Batch({cleared}));
  CHECK(MatchTokens(index, prompt).empty());
  CHECK(index.stats().entries == 0);
}

TEST_CASE("LoRA blocks chain from the adapter's name, as a request for the adapter does") {
  KvBlockIndex index(1000, 1);
  KvEvent lora = Stored({1, 2}, std::nullopt, Tokens(0, 32));
  lora.lora_name = "sql-adapter";
  index.Apply(1, kModel, Batch({lora}));
  CHECK(MatchTokens(index, Tokens(0, 32)).empty());
  CHECK(Same(MatchTokens(index, Tokens(0, 32), "sql-adapter"), {{1, 2}}));
}

TEST_CASE("bounded: past max_blocks the oldest stored go first, a hash stored again is one entry") {
  KvBlockIndex index(4, 1);
  index.Apply(1, kModel, Batch({Stored({1, 2, 3}, std::nullopt, Tokens(0, 48))}));
  index.Apply(1, kModel, Batch({Stored({1, 2, 3}, std::nullopt, Tokens(0, 48))}));  // again
  CHECK(index.stats().entries == 3);
  index.Apply(2, kModel, Batch({Stored({11, 12, 13}, std::nullopt, Tokens(500, 48))}));
  const KvIndexStats stats = index.stats();
  CHECK(stats.entries == 4);
  CHECK(stats.evicted == 2);
  // Endpoint 1 lost its first two blocks: no prefix of the prompt is left there.
  CHECK(MatchTokens(index, Tokens(0, 48)).empty());
  CHECK(Same(MatchTokens(index, Tokens(500, 48)), {{2, 3}}));
}

TEST_CASE("vLLM's own batches, as python3-msgpack wrote them, fill the index") {
  std::ifstream in(testing::SharedPath("fixtures/kv_events/vllm_array_batch.msgpack"),
                   std::ios::binary);
  const std::vector<uint8_t> payload{std::istreambuf_iterator<char>(in),
                                     std::istreambuf_iterator<char>()};
  absl::StatusOr<KvEventBatch> decoded = DecodeKvEventBatch(payload);
  REQUIRE(decoded.ok());
  REQUIRE(decoded->events.size() == 4);
  KvEventBatch stored = *decoded;
  stored.events.resize(2);  // BlockStored of blocks 0-1, then block 2 chained to block 1
  KvBlockIndex index(1000, 1);
  index.Apply(7, kModel, stored);
  CHECK(Same(MatchTokens(index, Tokens(0, 48)), {{7, 3}}));
  KvEventBatch rest = *decoded;
  rest.events.erase(rest.events.begin(), rest.events.begin() + 2);
  rest.events.pop_back();  // BlockRemoved of block 0 only
  index.Apply(7, kModel, rest);
  CHECK(MatchTokens(index, Tokens(0, 48)).empty());
  CHECK(index.stats().entries == 2);
}

TEST_CASE("readers on their own slots match while the writer applies") {
  KvBlockIndex index(10000, 2);
  const std::vector<uint32_t> prompt = Tokens(0, 64);
  const std::vector<uint64_t> keys = KvBlockKeys(kModel, prompt, kBlock);
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  auto reader = [&](size_t slot) {
    std::vector<KvBlockMatch> out;
    while (!stop.load()) {
      index.Match(slot, keys, out);
      // Endpoint 1 always holds all four blocks; endpoint 2 comes and goes.
      if (out.empty() || out.front().endpoint != 1 || out.front().blocks != 4) ++wrong;
    }
  };
  index.Apply(1, kModel, Batch({Stored({1, 2, 3, 4}, std::nullopt, prompt)}));
  std::thread a(reader, 0);
  std::thread b(reader, 1);
  for (uint64_t i = 0; i < 2000; ++i) {
    index.Apply(2, kModel, Batch({Stored({10 + i, 20 + i}, std::nullopt, Tokens(0, 32))}));
    if (i % 3 == 0) index.ClearEndpoint(2);
  }
  stop = true;
  a.join();
  b.join();
  CHECK(wrong.load() == 0);
  CHECK(index.stats().entries <= 4 + 4);
}

}  // namespace pdgate::discovery
