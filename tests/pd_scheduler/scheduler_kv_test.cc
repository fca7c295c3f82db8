// kvcache-aware (precise) scoring: the engines' KV events in a KvBlockIndex decide which prefill
// holds a request's prefix, by token ids; without the ids, the approximate index stands in.
#include <catch2/catch.hpp>
#include <numeric>
#include <set>

#include "discovery/kv_block_index.h"
#include "pd_scheduler/scheduler.h"
#include "tests/pd_scheduler/scheduler_fixture.h"
#include "tests/pd_scheduler/scheduler_test_util.h"

using namespace pdgate;
using pd_scheduler::Decision;
using pd_scheduler::RequestFacts;
using pd_scheduler::Scheduler;
using testing::Only;
using testing::PdServer;

namespace {

using Clock = std::chrono::steady_clock;

std::vector<uint32_t> Tokens(uint32_t first, size_t count) {
  std::vector<uint32_t> tokens(count);
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

// BlockStored of `tokens`' full 16-token blocks on `endpoint`, with engine hashes base, base+1...
discovery::KvEventBatch Stored(const std::vector<uint32_t>& tokens, uint64_t base,
                               std::string lora = "") {
  discovery::KvEvent event;
  event.type = discovery::KvEventType::kBlockStored;
  event.block_size = 16;
  event.medium = "GPU";
  event.lora_name = std::move(lora);
  for (size_t b = 0; b + 16 <= tokens.size(); b += 16) event.block_hashes.push_back(base + b / 16);
  event.token_ids.assign(tokens.begin(),
                         tokens.begin() + ptrdiff_t(event.block_hashes.size() * 16));
  discovery::KvEventBatch batch;
  batch.events.push_back(std::move(event));
  return batch;
}

struct KvFixture {
  std::unique_ptr<testing::TestServer> server = PdServer(3, 1, 1);  // g0-p0 g0-d0 g1-p0 ...
  std::shared_ptr<discovery::KvBlockIndex> index =
      std::make_shared<discovery::KvBlockIndex>(100000, 2);
  Scheduler scheduler{Only({{"kvcache-aware", 1}}),
                      std::make_shared<pd_scheduler::PrefixIndex>(1000), index};
  std::mt19937_64 rng{7};

  uint32_t slot(uint32_t i) { return server->live(i).slot(); }
  Decision Pick(std::span<const uint32_t> tokens, std::string_view prompt = "p",
                std::string_view root = "") {
    RequestFacts facts{"m", prompt, "", true};
    facts.prompt_tokens = tokens;
    facts.kv_root = root;
    facts.kv_reader = 1;
    return scheduler.Pick(server->endpoints, facts, Clock::now(), rng, 1);
  }
};

}  // namespace

TEST_CASE("kvcache-aware sends a prompt to the prefill whose engine reported its blocks") {
  KvFixture f;
  REQUIRE(f.scheduler.wants_prompt_tokens());
  const std::vector<uint32_t> prompt = Tokens(1000, 200);  // 12 full blocks
  // g1's prefill (index 2) holds the first 8 blocks, g2's (index 4) only 3.
  f.index->Apply(f.slot(2), "", Stored(Tokens(1000, 128), 1));
  f.index->Apply(f.slot(4), "", Stored(Tokens(1000, 48), 100));
  for (int i = 0; i < 50; ++i) {
    const Decision decision = f.Pick(prompt);
    REQUIRE(decision.kv_precise);
    REQUIRE(decision.pairs.size() == 1);
    CHECK(decision.pairs[0].prefill == 2);
    CHECK(decision.pairs[0].decode == 3);  // its group's decode
    CHECK(decision.prefix_match_ratio == Approx(8.0 / 12.0));
    // The prefill computes only what it does not hold: 200 − 8 × 16 tokens.
    CHECK(decision.prefill_tokens[0] == 200 - 128);
  }
}

TEST_CASE("kvcache-aware matches only a leading run, and a LoRA adapter's blocks only its own") {
  KvFixture f;
  const std::vector<uint32_t> prompt = Tokens(5000, 64);
  // Index 0 holds blocks 2..4 of the prompt without blocks 0..1: a BlockStored whose parent is
  // unknown cannot be chained, so it holds nothing usable.
  discovery::KvEventBatch tail = Stored(std::vector<uint32_t>(prompt.begin() + 32, prompt.end()), 9);
  tail.events[0].parent_block_hash = 12345;
  f.index->Apply(f.slot(0), "", tail);
  // Index 4 holds the whole prompt, but under a LoRA adapter.
  f.index->Apply(f.slot(4), "", Stored(prompt, 50, "adapter-a"));
  // Index 2 holds the first block of the base model's chain.
  f.index->Apply(f.slot(2), "", Stored(Tokens(5000, 16), 70));
  CHECK(f.Pick(prompt).pairs[0].prefill == 2);
  // The same tokens for the adapter go to the endpoint that holds them under that name.
  const Decision lora = f.Pick(prompt, "p", "adapter-a");
  CHECK(lora.pairs[0].prefill == 4);
  CHECK(lora.prefix_match_ratio == Approx(1.0));
}

TEST_CASE("kvcache-aware without the prompt's tokens scores with the approximate prefix index") {
  KvFixture f;
  const std::string prompt = testing::Prompt(1, 4096);
  // The approximate index learns that index 4 served this prompt.
  const Decision first = f.Pick({}, prompt);
  CHECK_FALSE(first.kv_precise);
  f.scheduler.RecordServed(first, f.server->endpoints.endpoints[4]);
  for (int i = 0; i < 20; ++i) {
    const Decision decision = f.Pick({}, prompt);
    CHECK_FALSE(decision.kv_precise);
    CHECK(decision.pairs[0].prefill == 4);
  }
}

TEST_CASE("an endpoint cleared from the KV index no longer attracts the prompt") {
  KvFixture f;
  const std::vector<uint32_t> prompt = Tokens(1, 160);
  f.index->Apply(f.slot(2), "", Stored(prompt, 1));
  CHECK(f.Pick(prompt).pairs[0].prefill == 2);
  f.index->ClearEndpoint(f.slot(2));
  std::set<uint32_t> prefills;
  for (int i = 0; i < 60; ++i) {
    const Decision decision = f.Pick(prompt);
    CHECK(decision.prefix_match_ratio == 0);
    prefills.insert(decision.pairs[0].prefill);
  }
  CHECK(prefills.size() == 3);  // no signal left: equal scores spread
}

TEST_CASE("kvcache-aware: a full engine the events say holds the prompt keeps it") {
  KvFixture f;
  // Every prefill's engine is full by the approximate index's count (room 0), and only the
  // events know that g1's prefill (index 2) holds this prompt.
  discovery::EngineCache cache;
  cache.capacity_tokens = 16;  // 16 tokens × 4 bytes / 64: one block
  cache.prompt_bytes_per_token = 4;
  for (uint32_t i : {0u, 2u, 4u}) {
    f.scheduler.SizeIndexFor(f.server->live(i), cache);
    f.scheduler.prefix_index()->Record(
        pd_scheduler::HashPromptBlocks("m", std::string(64, char('a' + i)), 64, 128), f.slot(i));
  }
  const std::vector<uint32_t> prompt = Tokens(5000, 160);
  f.index->Apply(f.slot(2), "", Stored(prompt, 1));
  const std::string bytes(640, 'q');
  for (int i = 0; i < 20; ++i) CHECK(f.Pick(prompt, bytes).pairs[0].prefill == 2);
}

TEST_CASE("kvcache-aware: uncached tokens count what the ids and the hashed bytes leave out") {
  KvFixture f;
  const std::string bytes(40000, 'z');  // 10,000 tokens at 4 bytes; 128 hashed blocks = 2,048
  const std::vector<uint32_t> prompt = Tokens(1, 10000);
  // The approximate index holds the whole hashed part (the first 8 KiB) on g0's prefill.
  f.scheduler.prefix_index()->Record(pd_scheduler::HashPromptBlocks("m", bytes, 64, 128), f.slot(0));
  Decision decision = f.Pick(prompt, bytes);
  REQUIRE(decision.pairs[0].prefill == 0);
  CHECK(decision.prefill_tokens[0] == 10000 - 2048);  // not 0: only 8 KiB were hashed
  // Ids of the prefix only (the tokenize prefix cache): the rest of the prompt is estimated from
  // its bytes.
  RequestFacts facts{"m", bytes, "", true};
  const std::vector<uint32_t> prefix = Tokens(1, 3000);
  facts.prompt_tokens = prefix;
  facts.kv_reader = 1;
  facts.prompt_tokens_whole = false;
  decision = f.scheduler.Pick(f.server->endpoints, facts, Clock::now(), f.rng, 1);
  CHECK(decision.prefill_tokens[0] == 10000 - 2048);
}
