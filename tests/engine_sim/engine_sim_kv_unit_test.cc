// The simulator's KV-cache events without sockets: the events the KV cache records, the engine's
// one batch per step through a fake KvEventSink; and the /tokenize body parser. The msgpack side
// is in engine_sim_msgpack_test.cc.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "bench/engine_sim/engine.h"
#include "bench/engine_sim/kv_cache.h"
#include "bench/engine_sim/kv_transport.h"
#include "bench/engine_sim/metrics.h"
#include "bench/engine_sim/request.h"
#include "tests/engine_sim/sim_unit_support.h"

using namespace pdgate::sim;
using pdgate::sim::testing::Ids;
using pdgate::sim::testing::RunUntil;

TEST_CASE("KV cache events: stored once per new block, parent chained, evictions, reset") {
  KvCache cache(8, 16);
  cache.set_record_events(true);
  const auto first = Ids(40, 1);  // 2 full blocks and a partial one
  const auto first_hashes = KvCache::BlockHashes(first, 16);
  auto a = cache.Allocate(first_hashes, 40, 42);
  REQUIRE(a);
  CHECK(cache.TakeEvents().empty());  // nothing is findable before the prompt is computed
  cache.Commit(*a, first_hashes, first, "");
  auto events = cache.TakeEvents();
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == KvCacheEvent::Type::kBlockStored);
  CHECK(events[0].block_hashes == first_hashes);
  CHECK_FALSE(events[0].parent_block_hash.has_value());
  CHECK(events[0].token_ids == std::vector<TokenId>(first.begin(), first.begin() + 32));
  cache.Free(a->blocks);

  // Shares block 0, adds blocks 1 and 2: one BlockStored from block 1 on, parent = block 0.
  auto second = Ids(16, 1);
  const auto tail = Ids(34, 500);
  second.insert(second.end(), tail.begin(), tail.end());
  const auto second_hashes = KvCache::BlockHashes(second, 16);
  auto b = cache.Allocate(second_hashes, 50, 52);
  REQUIRE(b);
  CHECK(b->hit_blocks == 1);
  // The 3 blocks past the hit are never-used ones: nothing is evicted.
  CHECK(cache.TakeEvents().empty());
  cache.Commit(*b, second_hashes, second, "lora-x");
  events = cache.TakeEvents();
  REQUIRE(events.size() == 1);
  CHECK(events[0].block_hashes ==
        std::vector<uint64_t>(second_hashes.begin() + 1, second_hashes.end()));
  CHECK(events[0].parent_block_hash == second_hashes[0]);
  CHECK(events[0].token_ids == std::vector<TokenId>(second.begin() + 16, second.begin() + 48));
  CHECK(events[0].lora_name == "lora-x");
  cache.Free(b->blocks);

  // A cold 7-block request evicts cached blocks, least recently freed (tails) first.
  const auto cold = Ids(100, 9000);
  const auto cold_hashes = KvCache::BlockHashes(cold, 16);
  auto c = cache.Allocate(cold_hashes, 100, 110);
  REQUIRE(c);
  events = cache.TakeEvents();
  REQUIRE_FALSE(events.empty());
  for (const auto& event : events) {
    CHECK(event.type == KvCacheEvent::Type::kBlockRemoved);
    CHECK(event.block_hashes.size() == 1);
  }
  CHECK(events.front().block_hashes[0] == first_hashes[1]);  // freed first, evicted first
  CHECK(static_cast<int>(events.size()) + cache.cached_blocks() == 4);
  cache.Free(c->blocks);

  cache.ResetPrefixCache();
  events = cache.TakeEvents();
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == KvCacheEvent::Type::kAllBlocksCleared);

  KvCache quiet(8, 16);  // events not asked for: none kept
  auto q = quiet.Allocate(first_hashes, 40, 42);
  quiet.Commit(*q, first_hashes, first, "");
  quiet.ResetPrefixCache();
  CHECK(quiet.TakeEvents().empty());
}

namespace {

class FakeSink : public KvEventSink {
 public:
  std::vector<std::vector<KvCacheEvent>> batches;
  void Publish(double ts, std::vector<KvCacheEvent> events) override {
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    CHECK(ts <= now);
    CHECK(ts > now - 60);
    batches.push_back(std::move(events));
  }
};

class NoTransport : public KvTransport {
 public:
  void Pull(const KvTransferParams&, TransferDone done) override { done(TransferResult{}); }
  void WaitRoom(const SglangBootstrap&, double, TransferDone done) override {
    done(TransferResult{});
  }
};

SeqSpec Spec(std::vector<TokenId> prompt, std::string lora, int tokens, int& finished) {
  SeqSpec spec;
  spec.request_id = "cmpl-kv-" + std::to_string(prompt[0]);
  spec.lora = std::move(lora);
  spec.prompt = std::move(prompt);
  spec.plan = OutputPlan{tokens, FinishReason::kLength, false};
  spec.sink = [&finished](const SeqEvent& event) {
    if (event.kind == SeqEvent::Kind::kFinished) ++finished;
  };
  return spec;
}

}  // namespace

TEST_CASE("engine: the prompts prefilled in one step leave as one batch, reset as another") {
  boost::asio::io_context ioc;
  Metrics metrics;
  NoTransport transport;
  FakeSink sink;
  EngineConfig config;
  config.cost.time_scale = 0.001;
  config.kv_events = &sink;
  Engine engine(ioc, config, metrics, transport);
  int finished = 0;
  // The first request's step is under way when the next two arrive: they are admitted together
  // when it ends and prefilled in the same (second) step.
  engine.Submit(Spec(Ids(20, 5000), "", 20, finished));
  engine.Submit(Spec(Ids(40, 1), "", 2, finished));
  engine.Submit(Spec(Ids(20, 1000), "adapter-a", 2, finished));
  REQUIRE(RunUntil(ioc, [&] { return finished == 3; }));
  REQUIRE(sink.batches.size() == 2);
  REQUIRE(sink.batches[0].size() == 1);
  CHECK(sink.batches[0][0].token_ids == Ids(16, 5000));
  const auto& batch = sink.batches[1];
  REQUIRE(batch.size() == 2);
  CHECK(batch[0].type == KvCacheEvent::Type::kBlockStored);
  CHECK(batch[0].block_hashes == KvCache::BlockHashes(Ids(40, 1), 16));
  CHECK(batch[0].lora_name.empty());
  CHECK(batch[1].token_ids == Ids(16, 1000));
  CHECK(batch[1].lora_name == "adapter-a");
  CHECK(batch[1].block_hashes.size() == 1);
  CHECK(batch[1].block_hashes != KvCache::BlockHashes(Ids(20, 1000), 16));  // LoRA-seeded chain

  engine.ResetPrefixCache();
  REQUIRE(RunUntil(ioc, [&] { return sink.batches.size() == 3; }));
  REQUIRE(sink.batches[2].size() == 1);
  CHECK(sink.batches[2][0].type == KvCacheEvent::Type::kAllBlocksCleared);
}

TEST_CASE("tokenize body: prompt or messages, add_generation_prompt, errors") {
  auto parse = [](std::string body, TokenizeRequest& out) {
    return ParseTokenizeRequest(body, out);
  };
  TokenizeRequest text, ids, chat, no_gen;
  REQUIRE_FALSE(parse(R"({"model":"m","prompt":"Hello there"})", text));
  CHECK(text.model == "m");
  CHECK(text.tokens == Tokenize("Hello there"));
  REQUIRE_FALSE(parse(R"({"prompt":[5,6,7]})", ids));
  CHECK_FALSE(ids.model.has_value());
  CHECK(ids.tokens == std::vector<TokenId>{5, 6, 7});
  REQUIRE_FALSE(parse(R"({"messages":[{"role":"user","content":"Hi"}]})", chat));
  CHECK(chat.tokens == Tokenize(ApplyChatTemplate({{"user", "Hi"}})));
  REQUIRE_FALSE(parse(
      R"({"messages":[{"role":"user","content":"Hi"}],"add_generation_prompt":false})", no_gen));
  CHECK(no_gen.tokens == Tokenize(ApplyChatTemplate({{"user", "Hi"}}, false)));
  CHECK(no_gen.tokens != chat.tokens);
  for (const char* bad :
       {"{", "[]", R"({"model":"m"})", R"({"prompt":"a","messages":[]})", R"({"prompt":5})",
        R"({"messages":{}})", R"({"messages":[]})", R"({"prompt":["a","b"]})",
        R"({"messages":[{"role":"user"}],"add_generation_prompt":1})"}) {
    TokenizeRequest out;
    auto error = parse(bad, out);
    INFO(bad);
    REQUIRE(error.has_value());
    CHECK(error->status == 400);
  }
}
