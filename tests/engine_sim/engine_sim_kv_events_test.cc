// Integration tests of the simulator's KV-cache events (--kv-events-port) against real sim
// processes: what a SUB receives (decoded with pdgate's DecodeKvEventBatch and, independently,
// with python3-msgpack), the replay socket in both vLLM layouts, evictions, resets and restarts.
#include <xxhash.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/engine_sim/kv_cache.h"
#include "bench/engine_sim/tokenizer.h"
#include "tests/engine_sim/kv_events_client.h"
#include "tests/engine_sim/sim_harness.h"
#include "tests/engine_sim/sim_requests.h"
#include "tests/support/child_process.h"
#include "tests/support/net.h"
#include "tests/support/paths.h"

using namespace pdgate::sim;
using namespace pdgate::sim::testing;
using pdgate::discovery::KvEventType;
using namespace std::chrono_literals;

namespace {

struct KvSim {
  Sim sim;
  uint16_t events_port = 0;
  uint16_t replay_port = 0;
};

// A sim publishing KV events (and serving replays) on free ports of 127.0.0.<index>.
KvSim StartKvSim(int index, std::vector<std::string> args, uint16_t events_port = 0) {
  const std::string host = pdgate::testing::LoopbackAddress(index);
  if (events_port == 0) events_port = pdgate::testing::FreePort(host);
  uint16_t replay_port = pdgate::testing::FreePort(host);
  while (replay_port == events_port) replay_port = pdgate::testing::FreePort(host);
  args.insert(args.end(), {"--time-scale", kFast, "--kv-events-port", std::to_string(events_port),
                           "--kv-events-replay-port", std::to_string(replay_port)});
  return KvSim{StartSim(index, args), events_port, replay_port};
}

// The engine has seen a SUB's subscription: from now on it is sent what it publishes (a SUB that
// has only connected may still miss the first batches: ZMQ's slow joiner).
void WaitSubscribed(const Sim& sim) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    auto [status, stats] = sim.Get("/admin/stats");
    if (status == 200 && JsonNumber(stats, "/kv_event_subscriptions").value_or(0) >= 1) return;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(10ms);  // polling, with the deadline above
  }
}

std::string Messages(const std::string& content) {
  return R"([{"role":"user","content":")" + content + R"("}])";
}

// The token ids /tokenize returns for a body, parsed.
std::vector<TokenId> TokenizeVia(const Sim& sim, const std::string& body) {
  auto [status, answer] = sim.Post("/tokenize", body);
  REQUIRE(status == 200);
  std::vector<TokenId> tokens;
  const std::string list = JsonValue(answer, "/tokens").value_or("[]");
  size_t at = 1;
  while (at < list.size() - 1) {
    size_t end = list.find(',', at);
    if (end == std::string::npos) end = list.size() - 1;
    tokens.push_back(static_cast<TokenId>(std::stoul(list.substr(at, end - at))));
    at = end + 1;
  }
  REQUIRE(JsonNumber(answer, "/count") == tokens.size());
  return tokens;
}

std::vector<TokenId> FullBlocks(const std::vector<TokenId>& tokens, size_t from_block = 0) {
  const size_t end = tokens.size() / 16 * 16;
  return {tokens.begin() + static_cast<long>(from_block * 16),
          tokens.begin() + static_cast<long>(end)};
}

const std::string kLong =
    "The quick brown fox jumps over the lazy dog while the router decides where to send it, "
    "again and again, until every block of this prompt is full.";

}  // namespace

TEST_CASE("KV events: a chat prompt's full blocks arrive as BlockStored with /tokenize's ids") {
  for (const std::string encoding : {"array", "map"}) {
    INFO(encoding);
    auto kv = StartKvSim(72, {"--kv-events-encoding", encoding, "--kv-events-topic",
                              "kv@127.0.0.72@sim-model", "--data-parallel-rank", "2"});
    KvSubscriber sub(kv.sim.host, kv.events_port);
    REQUIRE(sub.WaitConnected());
    WaitSubscribed(kv.sim);

    const auto tokens =
        TokenizeVia(kv.sim, R"({"model":"sim-model","messages":)" + Messages(kLong) + "}");
    REQUIRE(tokens.size() >= 32);
    auto [status, body] = kv.sim.Post("/v1/chat/completions", ChatBody(kLong, R"("max_tokens":2)"));
    REQUIRE(status == 200);
    CHECK(JsonNumber(body, "/usage/prompt_tokens") == tokens.size());
    auto first = sub.Receive();
    REQUIRE(first.has_value());
    CHECK(first->topic == "kv@127.0.0.72@sim-model");
    CHECK(first->seq == 0);
    const auto batch = DecodeOrFail(first->payload);
    CHECK(batch.data_parallel_rank == 2u);
    REQUIRE(batch.events.size() == 1);
    const auto& stored = batch.events[0];
    CHECK(stored.type == KvEventType::kBlockStored);
    CHECK(stored.token_ids == FullBlocks(tokens));
    CHECK(stored.block_hashes == KvCache::BlockHashes(tokens, 16));
    CHECK_FALSE(stored.parent_block_hash.has_value());
    CHECK(stored.block_size == 16);
    CHECK(stored.medium == "GPU");
    CHECK(stored.lora_name.empty());
    CHECK(stored.cache_spec_kind == (encoding == "map" ? "full_attention" : ""));

    // The conversation goes on: only the blocks past the cached prefix are new, chained to it.
    const std::string turn =
        R"([{"role":"user","content":")" + kLong +
        R"("},{"role":"assistant","content":"Sure."},{"role":"user","content":")" + kLong +
        R"("}])";
    const auto longer = TokenizeVia(kv.sim, R"({"messages":)" + turn + "}");
    auto [status2, body2] = kv.sim.Post(
        "/v1/chat/completions", R"({"model":"sim-model","max_tokens":2,"messages":)" + turn + "}");
    REQUIRE(status2 == 200);
    const auto cached = JsonNumber(body2, "/usage/prompt_tokens_details/cached_tokens");
    REQUIRE(cached.has_value());
    const size_t hits = static_cast<size_t>(*cached) / 16;
    REQUIRE(hits >= 1);
    auto second = sub.Receive();
    REQUIRE(second.has_value());
    CHECK(second->seq == 1);
    const auto next = DecodeOrFail(second->payload);
    REQUIRE(next.events.size() == 1);
    const auto hashes = KvCache::BlockHashes(longer, 16);
    CHECK(next.events[0].parent_block_hash == hashes[hits - 1]);
    CHECK(next.events[0].block_hashes ==
          std::vector<uint64_t>(hashes.begin() + static_cast<long>(hits), hashes.end()));
    CHECK(next.events[0].token_ids == FullBlocks(longer, hits));
  }
}

TEST_CASE("KV events: python3-msgpack decodes the same batch (an independent decoder)") {
  for (const std::string encoding : {"array", "map"}) {
    INFO(encoding);
    auto kv = StartKvSim(73, {"--kv-events-encoding", encoding, "--kv-events-topic", "kv-py",
                              "--lora-modules", "adapter-a=/models/a"});
    auto python = pdgate::testing::ChildProcess::Start(
        {"/usr/bin/python3", pdgate::testing::SourcePath("tests/engine_sim/kv_events_sub.py"),
         "tcp://" + kv.sim.host + ":" + std::to_string(kv.events_port)});
    REQUIRE(python.ok());
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (python->Stdout().find("subscribed") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline && python->Running()) {
      std::this_thread::sleep_for(10ms);
    }
    REQUIRE(python->Stdout().find("subscribed") != std::string::npos);
    WaitSubscribed(kv.sim);
    const auto tokens =
        TokenizeVia(kv.sim, R"({"model":"adapter-a","messages":)" + Messages(kLong) + "}");
    auto [status, body] =
        kv.sim.Post("/v1/chat/completions", ChatBody(kLong, R"("max_tokens":2)", "adapter-a"));
    REQUIRE(status == 200);
    REQUIRE(python->WaitFor(10s) == 0);
    const std::string out = python->Stdout();
    const std::string json = out.substr(out.find('\n') + 1);
    INFO(json);
    CHECK(JsonNumber(json, "/frames") == 3);
    CHECK(JsonString(json, "/topic") == "kv-py");
    CHECK(JsonNumber(json, "/seq") == 0);
    CHECK(JsonNumber(json, "/batch/2") == 0);     // data_parallel_rank
    CHECK(JsonNumber(json, "/batch/0") > 1.7e9);  // ts: seconds since the epoch
    std::string ids = "[", hashes = "[";
    for (TokenId id : FullBlocks(tokens)) ids += (ids.size() > 1 ? "," : "") + std::to_string(id);
    // A LoRA adapter's chain starts from its name's hash, as in the engine.
    for (uint64_t hash : KvCache::BlockHashes(tokens, 16, XXH3_64bits("adapter-a", 9))) {
      hashes += (hashes.size() > 1 ? "," : "") + std::to_string(hash);
    }
    ids += "]";
    hashes += "]";
    if (encoding == "map") {
      // Each event a map with "type" first, then every field by name, in vLLM 0.26's order.
      const std::string event = JsonValue(json, "/batch/1/0").value_or("");
      CHECK(event.rfind(R"({"type":"BlockStored","block_hashes":[)", 0) == 0);
      for (const char* key :
           {"parent_block_hash\":null", "token_ids", "block_size\":16", "lora_id\":null",
            "medium\":\"GPU\"", "lora_name\":\"adapter-a\"", "extra_keys\":[null,null",
            "group_idx\":0", "kv_cache_spec_kind\":\"full_attention\""}) {
        CHECK(event.find(key) != std::string::npos);
      }
      CHECK(JsonValue(json, "/batch/1/0/token_ids") == ids);
      CHECK(JsonValue(json, "/batch/1/0/block_hashes") == hashes);
    } else {
      CHECK(JsonString(json, "/batch/1/0/0") == "BlockStored");
      CHECK(JsonValue(json, "/batch/1/0/1") == hashes);
      CHECK(JsonValue(json, "/batch/1/0/2") == "null");  // parent_block_hash
      CHECK(JsonValue(json, "/batch/1/0/3") == ids);
      CHECK(JsonNumber(json, "/batch/1/0/4") == 16);
      CHECK(JsonValue(json, "/batch/1/0/5") == "null");  // lora_id
      CHECK(JsonString(json, "/batch/1/0/6") == "GPU");
      CHECK(JsonString(json, "/batch/1/0/7") == "adapter-a");
      CHECK_FALSE(JsonValue(json, "/batch/1/0/8").has_value());  // defaults left out
    }
  }
}

TEST_CASE("KV events replay: batches from start_seq then the end marker, in both vLLM layouts") {
  for (const std::string encoding : {"array", "map"}) {
    INFO(encoding);
    const bool map = encoding == "map";
    // The array run keeps only 2 batches: the oldest one is gone from the replay.
    auto kv = StartKvSim(74, {"--kv-events-encoding", encoding, "--kv-events-topic", "kv-r",
                              "--kv-events-buffer-steps", map ? "10000" : "2"});
    KvSubscriber sub(kv.sim.host, kv.events_port);
    REQUIRE(sub.WaitConnected());
    WaitSubscribed(kv.sim);
    for (int i = 0; i < 3; ++i) {
      const std::string content = "Variant " + std::to_string(i) + ". " + kLong;
      REQUIRE(kv.sim.Post("/v1/chat/completions", ChatBody(content, R"("max_tokens":2)")).first ==
              200);
    }
    const auto live = sub.ReceiveThrough(2);
    REQUIRE(live.size() == 3);

    // [topic, seq, payload] since vLLM 0.26 (map), [seq, payload] before (array).
    const size_t frames = map ? 3 : 2;
    auto replies = Replay(kv.sim.host, kv.replay_port, 1);
    REQUIRE(replies.size() == 3);
    for (size_t i = 0; i < 2; ++i) {
      REQUIRE(replies[i].size() == frames);
      if (map) CHECK(replies[i][0] == "kv-r");
      CHECK(BigEndian64(replies[i][frames - 2]) == i + 1);
      CHECK(replies[i][frames - 1] == live[i + 1].payload);  // byte for byte the live batch
    }
    REQUIRE(replies[2].size() == frames);
    CHECK(replies[2][frames - 2] == std::string(8, '\xff'));
    CHECK(replies[2][frames - 1].empty());
    if (map) CHECK(replies[2][0].empty());

    replies = Replay(kv.sim.host, kv.replay_port, 0);
    REQUIRE(replies.size() == (map ? 4u : 3u));
    CHECK(BigEndian64(replies[0][frames - 2]) == (map ? 0u : 1u));
    CHECK(Replay(kv.sim.host, kv.replay_port, 99).size() == 1);  // only the end marker

    // Malformed requests (wrong seq size, extra frame) get nothing; the socket still serves.
    CHECK(ReplayRaw(kv.sim.host, kv.replay_port, {"abc"}, 200ms).empty());
    CHECK(ReplayRaw(kv.sim.host, kv.replay_port, {SeqFrame(0), "x"}, 200ms).empty());
    CHECK(Replay(kv.sim.host, kv.replay_port, 2).size() == 2);
  }
}

TEST_CASE("KV events: eviction gives BlockRemoved, reset AllBlocksCleared, restart seq 0") {
  // 8 blocks of 16 tokens: a second long prompt must evict the first one's cached blocks.
  auto kv = StartKvSim(75, {"--kv-blocks", "8"});
  KvSubscriber sub(kv.sim.host, kv.events_port);
  REQUIRE(sub.WaitConnected());
  WaitSubscribed(kv.sim);
  const std::string a = "Alpha " + kLong;
  const std::string b = "Bravo " + kLong + " " + kLong;
  const auto a_tokens = TokenizeVia(kv.sim, R"({"messages":)" + Messages(a) + "}");
  const auto b_tokens = TokenizeVia(kv.sim, R"({"messages":)" + Messages(b) + "}");
  REQUIRE(a_tokens.size() / 16 >= 2);
  REQUIRE((b_tokens.size() + 2 + 15) / 16 + a_tokens.size() / 16 > 8);  // B cannot fit beside A
  REQUIRE((b_tokens.size() + 2 + 15) / 16 <= 8);
  REQUIRE(kv.sim.Post("/v1/chat/completions", ChatBody(a, R"("max_tokens":2)")).first == 200);
  auto stored = sub.Receive();
  REQUIRE(stored.has_value());
  const auto a_hashes = KvCache::BlockHashes(a_tokens, 16);
  CHECK(DecodeOrFail(stored->payload).events.at(0).block_hashes == a_hashes);

  REQUIRE(kv.sim.Post("/v1/chat/completions", ChatBody(b, R"("max_tokens":2)")).first == 200);
  std::vector<uint64_t> removed;
  bool b_stored = false;
  uint64_t last_seq = stored->seq;
  while (!b_stored) {
    auto message = sub.Receive();
    REQUIRE(message.has_value());
    CHECK(message->seq == ++last_seq);
    for (const auto& event : DecodeOrFail(message->payload).events) {
      if (event.type == KvEventType::kBlockRemoved) {
        CHECK(event.medium == "GPU");
        removed.insert(removed.end(), event.block_hashes.begin(), event.block_hashes.end());
      } else {
        CHECK(event.type == KvEventType::kBlockStored);
        CHECK(event.block_hashes == KvCache::BlockHashes(b_tokens, 16));
        b_stored = true;
      }
    }
  }
  // vLLM frees a sequence's blocks tail first, so A's last blocks go first.
  REQUIRE_FALSE(removed.empty());
  for (size_t i = 0; i < removed.size(); ++i) {
    CHECK(removed[i] == a_hashes[a_hashes.size() - 1 - i]);
  }

  REQUIRE(kv.sim.Post("/reset_prefix_cache", "").first == 200);
  auto cleared = sub.Receive();
  REQUIRE(cleared.has_value());
  CHECK(cleared->seq == last_seq + 1);
  const auto cleared_batch = DecodeOrFail(cleared->payload);
  REQUIRE(cleared_batch.events.size() == 1);
  CHECK(cleared_batch.events[0].type == KvEventType::kAllBlocksCleared);

  // A restarted engine counts from 0 again on the same endpoint (how consumers see a restart).
  kv.sim.process.Stop();
  auto restarted = StartKvSim(75, {"--kv-blocks", "8"}, kv.events_port);
  REQUIRE(sub.WaitConnected(2));
  WaitSubscribed(restarted.sim);
  REQUIRE(restarted.sim.Post("/v1/chat/completions", ChatBody(a, R"("max_tokens":2)")).first ==
          200);
  auto again = sub.Receive();
  REQUIRE(again.has_value());
  CHECK(again->seq == 0);
  CHECK(DecodeOrFail(again->payload).events.at(0).block_hashes == a_hashes);
}
