// The engine model alone (no sockets): its scheduler on an io_context, KV moved through a fake
// KvTransport, time driven by short run_for slices.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <optional>
#include <vector>

#include "bench/engine_sim/engine.h"
#include "bench/engine_sim/kv_transport.h"
#include "bench/engine_sim/metrics.h"
#include "tests/engine_sim/sim_harness.h"
#include "tests/engine_sim/sim_unit_support.h"

using namespace pdgate::sim;
using pdgate::sim::testing::RunUntil;

namespace {

class FakeTransport : public KvTransport {
 public:
  bool succeed = true;
  std::vector<KvTransferParams> pulls;
  void Pull(const KvTransferParams& params, TransferDone done) override {
    pulls.push_back(params);
    done(TransferResult{succeed, succeed ? "" : "fake failure"});
  }
  void WaitRoom(const SglangBootstrap&, double, TransferDone done) override {
    done(TransferResult{succeed, succeed ? "" : "fake failure"});
  }
};

struct Outcome {
  std::vector<int> token_counts;
  std::optional<SeqEvent> finished;
};

SeqSpec Spec(std::vector<TokenId> prompt, int tokens, Outcome& outcome, PdMode pd = PdMode::kNone) {
  SeqSpec spec;
  spec.request_id = "cmpl-test-" + std::to_string(prompt.size()) + "-" +
                    std::to_string(prompt.empty() ? 0 : prompt[0]) + "-abcdefgh";
  spec.prompt = std::move(prompt);
  spec.plan = OutputPlan{tokens, FinishReason::kLength, false};
  spec.pd = pd;
  spec.sink = [&outcome](const SeqEvent& event) {
    if (event.kind == SeqEvent::Kind::kTokens) {
      outcome.token_counts.push_back(event.generated);
    } else {
      outcome.finished = event;
    }
  };
  return spec;
}

std::vector<TokenId> Prompt(int n, TokenId start) {
  std::vector<TokenId> ids;
  for (int i = 0; i < n; ++i) ids.push_back(start + static_cast<TokenId>(i));
  return ids;
}

EngineConfig Config(double time_scale) {
  EngineConfig config;
  config.cost.time_scale = time_scale;
  config.engine_id = "engine-a";
  config.kv_host = "127.0.0.1";
  return config;
}

}  // namespace

TEST_CASE("engine: tokens come one per step, then one finished event, and blocks are freed") {
  boost::asio::io_context ioc;
  Metrics metrics;
  FakeTransport transport;
  Engine engine(ioc, Config(0.001), metrics, transport);
  Outcome outcome;
  engine.Submit(Spec(Prompt(40, 1), 5, outcome));
  REQUIRE(RunUntil(ioc, [&] { return outcome.finished.has_value(); }));
  CHECK(outcome.token_counts == std::vector<int>{1, 2, 3, 4, 5});
  CHECK(outcome.finished->finish == FinishReason::kLength);
  CHECK(outcome.finished->generated == 5);
  CHECK(outcome.finished->prompt_tokens == 40);
  CHECK(metrics.kv_used_blocks == 0);
  CHECK(metrics.Finished(FinishReason::kLength) == 1);
  CHECK(metrics.generation_tokens == 5);
}

TEST_CASE("engine: the second identical prompt hits the prefix cache") {
  boost::asio::io_context ioc;
  Metrics metrics;
  FakeTransport transport;
  Engine engine(ioc, Config(0), metrics, transport);
  Outcome first, second;
  engine.Submit(Spec(Prompt(100, 1), 2, first));
  REQUIRE(RunUntil(ioc, [&] { return first.finished.has_value(); }));
  engine.Submit(Spec(Prompt(100, 1), 2, second));
  REQUIRE(RunUntil(ioc, [&] { return second.finished.has_value(); }));
  CHECK(first.finished->cached_tokens == 0);
  CHECK(second.finished->cached_tokens == 96);  // 6 full blocks of 16
  CHECK(metrics.prefix_queries == 200);
  CHECK(metrics.prefix_hits == 96);
}

TEST_CASE("engine: beyond max_num_seqs requests wait, and abort frees the batch slot") {
  boost::asio::io_context ioc;
  Metrics metrics;
  FakeTransport transport;
  EngineConfig config = Config(1.0);
  config.max_num_seqs = 2;
  Engine engine(ioc, config, metrics, transport);
  Outcome a, b, c;
  const uint64_t id_a = engine.Submit(Spec(Prompt(10, 1), 1000, a));
  engine.Submit(Spec(Prompt(10, 100), 1000, b));
  engine.Submit(Spec(Prompt(10, 200), 1000, c));
  REQUIRE(RunUntil(ioc, [&] { return metrics.running == 2 && metrics.waiting == 1; }));
  engine.Abort(id_a);
  REQUIRE(RunUntil(ioc, [&] { return a.finished.has_value() && metrics.waiting == 0; }));
  CHECK(a.finished->finish == FinishReason::kAbort);
  CHECK(metrics.running == 2);
  CHECK(metrics.Finished(FinishReason::kAbort) == 1);
}

TEST_CASE(
    "engine: a KV cache too small for a request makes it wait, one too small ever is an error") {
  boost::asio::io_context ioc;
  Metrics metrics;
  FakeTransport transport;
  EngineConfig config = Config(1.0);
  config.kv_blocks = 10;  // 160 tokens
  Engine engine(ioc, config, metrics, transport);
  Outcome big, waiting, impossible;
  engine.Submit(Spec(Prompt(100, 1), 40, big));       // 9 blocks
  engine.Submit(Spec(Prompt(30, 500), 10, waiting));  // 3 blocks: must wait
  engine.Submit(Spec(Prompt(200, 900), 1, impossible));
  REQUIRE(RunUntil(ioc, [&] { return metrics.running == 1 && metrics.waiting >= 1; }));
  CHECK(metrics.kv_used_blocks == 9);
  REQUIRE(RunUntil(ioc, [&] { return impossible.finished.has_value(); }));
  CHECK(impossible.finished->finish == FinishReason::kError);
  CHECK(impossible.finished->error_status == 400);
}

TEST_CASE(
    "engine: vLLM decode pulls through the transport, and a failed pull fails or recomputes") {
  KvTransferParams params;
  params.do_remote_prefill = true;
  params.remote_engine_id = "p";
  params.remote_request_id = "r";
  params.remote_host = "h";
  params.remote_port = 1;
  params.remote_block_ids = std::vector<int64_t>{1, 2};
  for (bool succeed : {true, false}) {
    for (bool recompute : {false, true}) {
      boost::asio::io_context ioc;
      Metrics metrics;
      FakeTransport transport;
      transport.succeed = succeed;
      EngineConfig config = Config(0);
      config.recompute_on_load_failure = recompute;
      Engine engine(ioc, config, metrics, transport);
      Outcome outcome;
      SeqSpec spec = Spec(Prompt(20, 1), 3, outcome, PdMode::kVllmDecode);
      spec.remote = params;
      engine.Submit(std::move(spec));
      REQUIRE(RunUntil(ioc, [&] { return outcome.finished.has_value(); }));
      INFO("succeed " << succeed << " recompute " << recompute);
      REQUIRE(transport.pulls.size() == 1);
      CHECK(*transport.pulls[0].remote_request_id == "r");
      if (succeed || recompute) {
        CHECK(outcome.finished->finish == FinishReason::kLength);
        CHECK(outcome.finished->generated == 3);
      } else {
        CHECK(outcome.finished->finish == FinishReason::kError);
        CHECK(outcome.finished->error_status == 500);
      }
      CHECK(metrics.pulls_ok == (succeed ? 1u : 0u));
      CHECK(metrics.recomputed == (!succeed && recompute ? 1u : 0u));
      CHECK(metrics.kv_used_blocks == 0);
    }
  }
}

TEST_CASE("engine: a vLLM prefill holds its blocks until one matching pull, or until expiry") {
  boost::asio::io_context ioc;
  Metrics metrics;
  FakeTransport transport;
  EngineConfig config = Config(0);
  config.kv_hold_timeout_s = 0.2;
  Engine engine(ioc, config, metrics, transport);
  Outcome outcome;
  engine.Submit(Spec(Prompt(40, 1), 1, outcome, PdMode::kVllmPrefill));
  REQUIRE(RunUntil(ioc, [&] { return outcome.finished.has_value(); }));
  const std::string& params = outcome.finished->kv_transfer_params;
  REQUIRE_FALSE(params.empty());
  CHECK(testing::JsonString(params, "/remote_engine_id") == "engine-a");
  CHECK(testing::JsonNumber(params, "/remote_port") == 5600);
  const std::string request_id = testing::JsonString(params, "/remote_request_id").value();
  CHECK(metrics.kv_held_blocks == 3);  // 40 prompt tokens + 1 → 3 blocks of 16

  std::vector<PullReply> replies;
  auto reply = [&replies](PullReply r) { replies.push_back(std::move(r)); };
  engine.ServeKvPull(PullRequest{"engine-a", request_id, {9, 9, 9}}, reply);  // wrong blocks
  engine.ServeKvPull(PullRequest{"engine-b", request_id, {0, 1, 2}}, reply);  // wrong engine
  REQUIRE(RunUntil(ioc, [&] { return replies.size() == 2; }));
  CHECK(replies[0].status == 400);
  CHECK(replies[1].status == 404);
  CHECK(metrics.kv_held_blocks == 3);
  // The published ids, in order, release the KV.
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(static_cast<int64_t>(
        testing::JsonNumber(params, "/remote_block_ids/0/" + std::to_string(i)).value()));
  }
  engine.ServeKvPull(PullRequest{"engine-a", request_id, ids}, reply);
  REQUIRE(RunUntil(ioc, [&] { return replies.size() == 3; }));
  CHECK(replies[2].status == 200);
  CHECK(metrics.kv_held_blocks == 0);
  engine.ServeKvPull(PullRequest{"engine-a", request_id, ids}, reply);
  REQUIRE(RunUntil(ioc, [&] { return replies.size() == 4; }));
  CHECK(replies[3].status == 409);  // already pulled

  Outcome expiring;
  engine.Submit(Spec(Prompt(40, 7000), 1, expiring, PdMode::kVllmPrefill));
  REQUIRE(RunUntil(ioc, [&] { return expiring.finished.has_value(); }));
  REQUIRE(RunUntil(ioc, [&] { return metrics.kv_expired == 1; }));
  CHECK(metrics.kv_held_blocks == 0);
  CHECK(metrics.kv_used_blocks == 0);
  const std::string expired_id =
      testing::JsonString(expiring.finished->kv_transfer_params, "/remote_request_id").value();
  engine.ServeKvPull(PullRequest{"engine-a", expired_id, {}}, reply);
  REQUIRE(RunUntil(ioc, [&] { return replies.size() == 5; }));
  CHECK(replies[4].status == 410);
}

TEST_CASE(
    "engine: a prefill longer than the step budget is chunked, each chunk paying the overhead") {
  auto first_token_seconds = [](int budget) {
    boost::asio::io_context ioc;
    Metrics metrics;
    FakeTransport transport;
    EngineConfig config = Config(1.0);
    config.cost.prefill_overhead_s = 0.05;
    config.max_num_batched_tokens = budget;
    Engine engine(ioc, config, metrics, transport);
    Outcome outcome;
    const auto start = std::chrono::steady_clock::now();
    engine.Submit(Spec(Prompt(250, 1), 1, outcome));
    if (!RunUntil(ioc, [&] { return outcome.finished.has_value(); })) return -1.0;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const double whole = first_token_seconds(8192);   // one step: 0.05 + 250 × 60 µs = 0.065 s
  const double chunked = first_token_seconds(100);  // 100 + 100 + 50: 3 × 0.05 + 0.015 = 0.165 s
  INFO("whole " << whole << " s, chunked " << chunked << " s");
  CHECK(whole >= 0.065);
  CHECK(whole < 0.14);
  CHECK(chunked >= 0.165);
}
