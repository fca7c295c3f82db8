// The simulator's wire formats: request validation, response shapes checked against what real
// vLLM sends (shared/fixtures), and the PD leg chosen from a request's parameters.
#include <catch2/catch.hpp>
#include <fstream>
#include <random>
#include <sstream>

#include "bench/engine_sim/generation.h"
#include "bench/engine_sim/json_writer.h"
#include "bench/engine_sim/pd_leg.h"
#include "bench/engine_sim/request.h"
#include "bench/engine_sim/response.h"
#include "bench/engine_sim/tokenizer.h"
#include "tests/engine_sim/sim_harness.h"
#include "tests/support/paths.h"

using namespace pdgate::sim;
using namespace pdgate::sim::testing;

namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(pdgate::testing::SharedPath("fixtures/" + name));
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

bool Contains(const std::vector<std::string>& set, const std::string& item) {
  return std::find(set.begin(), set.end(), item) != set.end();
}

// Every path of `expected` is present in `actual`.
void CheckCovers(const std::string& actual, const std::string& expected) {
  const auto ours = JsonPaths(actual);
  REQUIRE_FALSE(ours.empty());
  const auto theirs = JsonPaths(expected);
  REQUIRE_FALSE(theirs.empty());
  for (const auto& path : theirs) {
    INFO("path from the real engine: " << path << "\nours: " << actual);
    CHECK(Contains(ours, path));
  }
}

}  // namespace

TEST_CASE("request validation follows vLLM") {
  auto parse = [](Api api, std::string body, OpenAiRequest& out) {
    return ParseOpenAiRequest(api, body, out);
  };
  OpenAiRequest r;
  auto error = parse(
      Api::kChat,
      R"({"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}})",
      r);
  REQUIRE(error);
  CHECK(error->status == 400);
  CHECK(error->message == "Stream options can only be defined when `stream=True`.");

  OpenAiRequest ok;
  REQUIRE_FALSE(parse(
      Api::kChat,
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true,"stream_options":{"continuous_usage_stats":true},"max_completion_tokens":7,"max_tokens":3,"min_tokens":2,"ignore_eos":true,"seed":5,"unknown":{"x":[1]}})",
      ok));
  CHECK(ok.stream);
  CHECK(ok.include_usage);  // defaults true once stream_options is present
  CHECK(ok.continuous_usage_stats);
  CHECK(*ok.max_tokens == 7);  // max_completion_tokens wins
  CHECK(ok.min_tokens == 2);
  CHECK(ok.ignore_eos);
  CHECK(ok.seed == 5);
  CHECK(ok.prompt == Tokenize("<|user|>\nhi\n<|assistant|>\n"));

  OpenAiRequest completions;
  REQUIRE_FALSE(parse(Api::kCompletions, R"({"prompt":[1,2,3]})", completions));
  CHECK(completions.prompt == std::vector<TokenId>{1, 2, 3});
  CHECK(*completions.max_tokens == 16);  // vLLM's default for completions

  OpenAiRequest bad;
  CHECK(parse(Api::kCompletions, R"({"prompt":"x","max_tokens":2,"min_tokens":3})", bad)->status ==
        400);
  CHECK(parse(Api::kCompletions, R"({"prompt":"x","max_tokens":0})", bad)->status == 400);
  CHECK(parse(Api::kChat, R"({"messages":[]})", bad)->status == 400);
  CHECK(parse(Api::kChat, R"({"messages":)", bad)->status == 400);

  OpenAiRequest kv;
  REQUIRE_FALSE(parse(Api::kChat, Fixture("sglang_pd_request.json"), kv));
  REQUIRE(kv.bootstrap);
  CHECK(kv.bootstrap->host == "10.244.2.31");
  CHECK(kv.bootstrap->port == 8998);
  CHECK(kv.bootstrap->room == 5837461092837465123ULL);
  CHECK(kv.rid == "pdgate-7f3e2a1c9b8d4e6f-0000000000000001");

  // The decode leg: the prefill's params copied verbatim (fixture), nested block ids flattened.
  std::string body =
      R"({"messages":[{"role":"user","content":"hi"}],"kv_transfer_params":)" +
      JsonValue(Fixture("vllm_prefill_response.json"), "/kv_transfer_params").value() + "}";
  OpenAiRequest decode;
  REQUIRE_FALSE(parse(Api::kChat, body, decode));
  REQUIRE(decode.kv_transfer_params);
  CHECK(decode.kv_transfer_params->do_remote_prefill);
  CHECK(*decode.kv_transfer_params->remote_block_ids == std::vector<int64_t>{12, 13});
  CHECK(*decode.kv_transfer_params->remote_port == 5600);
  CHECK(*decode.kv_transfer_params->remote_host == "10.244.1.17");
}

TEST_CASE("error bodies have vLLM's nested shape, or the legacy flat one") {
  const std::string nested = ErrorBody(404, "The model `gpt-4` does not exist.");
  CHECK(JsonPaths(nested) == JsonPaths(Fixture("vllm_error_nested.json")));
  CHECK(JsonNumber(nested, "/error/code") == 404);
  CHECK(JsonString(nested, "/error/type") == "NotFoundError");
  const std::string flat = ErrorBody(404, "The model `gpt-4` does not exist.", true);
  CHECK(JsonPaths(flat) == JsonPaths(Fixture("vllm_error_flat_legacy.json")));
  CHECK(flat == Fixture("vllm_error_flat_legacy.json").substr(0, flat.size()));
}

TEST_CASE("response bodies and SSE chunks have the fields real vLLM sends") {
  ResponseContext ctx;
  ctx.api = Api::kChat;
  ctx.id = "chatcmpl-1";
  ctx.created = 1795600000;
  ctx.model = "deepseek-ai/DeepSeekV2";
  ctx.key = MakeGenerationKey(Tokenize("Where is the capital of China?"), 0);
  ctx.plan = OutputPlan{5, FinishReason::kStop, false};
  ctx.include_usage = true;
  const UsageNumbers usage{15, 5, 0};
  const std::string prefill = CompletionBody(
      ctx, 1, FinishReason::kLength, usage,
      R"({"do_remote_prefill":true,"do_remote_decode":false,"remote_block_ids":[[12,13]],"remote_engine_id":"e","remote_request_id":"r","remote_host":"h","remote_port":5600,"tp_size":2})");
  CheckCovers(prefill, Fixture("vllm_prefill_response.json"));
  CheckCovers(CompletionBody(ctx, 1, FinishReason::kStop, usage, ""),
              Fixture("vllm_prefill_response_early_stop.json"));

  bool framing = false;
  const auto fixture = SseEvents(Fixture("vllm_decode_stream_chat.sse"), &framing);
  REQUIRE(framing);
  REQUIRE(fixture.size() == 6);
  const std::string stream = RoleEvent(ctx, usage) + TokenEvents(ctx, 0, 5, usage) +
                             UsageEvent(ctx, usage) + std::string(kDoneEvent);
  const auto ours = SseEvents(stream, &framing);
  REQUIRE(framing);
  REQUIRE(ours.size() == 8);
  CHECK(JsonPaths(ours[0]) == JsonPaths(fixture[0]));  // role chunk
  CHECK(JsonPaths(ours[1]) == JsonPaths(fixture[1]));  // content chunk
  CHECK(JsonPaths(ours[5]) == JsonPaths(fixture[3]));  // content + finish_reason
  CHECK(JsonString(ours[5], "/choices/0/finish_reason") == "stop");
  CHECK(JsonPaths(ours[6]) == JsonPaths(fixture[4]));  // usage chunk, choices: []
  CHECK(JsonValue(ours[6], "/choices") == "[]");
  CHECK(ours[7] == "[DONE]");

  ctx.api = Api::kCompletions;
  ctx.id = "cmpl-1-0";
  ctx.plan = OutputPlan{2, FinishReason::kLength, false};
  const auto fixture_completions =
      SseEvents(Fixture("vllm_decode_stream_completions.sse"), &framing);
  REQUIRE(fixture_completions.size() == 4);
  const auto ours_completions = SseEvents(TokenEvents(ctx, 0, 2, {4, 2, 0}) +
                                          UsageEvent(ctx, {4, 2, 0}) + std::string(kDoneEvent));
  REQUIRE(ours_completions.size() == 4);
  CHECK(JsonPaths(ours_completions[0]) == JsonPaths(fixture_completions[0]));
  CHECK(JsonPaths(ours_completions[1]) == JsonPaths(fixture_completions[1]));
  CheckCovers(ours_completions[2], fixture_completions[2]);
  CHECK(JsonString(ours_completions[1], "/choices/0/finish_reason") == "length");

  const auto error = SseEvents(ErrorEvent(500, "KV transfer failed") + std::string(kDoneEvent));
  const auto fixture_error = SseEvents(Fixture("vllm_stream_error_midway.sse"));
  REQUIRE(error.size() == 2);
  REQUIRE(fixture_error.size() == 3);
  CHECK(JsonPaths(error[0]) == JsonPaths(fixture_error[1]));
}

TEST_CASE(
    "request parser survives mutated and truncated bodies (never crashes, errors are 4xx/5xx)") {
  const std::string seeds[] = {
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"kv_transfer_params":{"do_remote_prefill":true,"remote_block_ids":[[1,2]],"remote_port":5600}})",
      R"({"prompt":[[1,2,3]],"max_tokens":3,"min_tokens":1,"bootstrap_host":"h","bootstrap_port":8998,"bootstrap_room":12,"rid":"r"})"};
  std::mt19937_64 rng(42);
  int parsed_ok = 0;
  int rejected = 0;
  for (const std::string& seed : seeds) {
    for (int i = 0; i < 5000; ++i) {
      std::string body = seed;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !body.empty(); ++e) {
        const size_t at = rng() % body.size();
        switch (rng() % 4) {
          case 0:
            body[at] = static_cast<char>(rng() % 256);
            break;
          case 1:
            body.erase(at, 1 + rng() % 8);
            break;
          case 2:
            body.insert(at, 1, "{}[],:\"0-e\\"[rng() % 11]);
            break;
          default:
            body.resize(at);
        }
      }
      OpenAiRequest request;
      auto error =
          ParseOpenAiRequest(seed[2] == 'm' ? Api::kChat : Api::kCompletions, body, request);
      if (!error) {
        ++parsed_ok;
        CHECK_FALSE(request.prompt.empty());
      } else {
        ++rejected;
        CHECK(error->status >= 400);
        CHECK(error->status < 600);
        CHECK_FALSE(error->message.empty());
      }
    }
  }
  CHECK(rejected > 1000);
  CHECK(parsed_ok + rejected == 10000);
}

TEST_CASE("PD leg choice: vLLM params and SGLang bootstrap, validated per role") {
  auto choose = [](const std::string& body, EngineKind engine, Role role, int& max_tokens,
                   SeqSpec& spec) {
    OpenAiRequest request;
    std::string copy = body;
    REQUIRE_FALSE(ParseOpenAiRequest(Api::kCompletions, copy, request));
    max_tokens = static_cast<int>(request.max_tokens.value_or(16));
    return ChoosePdLeg(request, engine, role, 8998, max_tokens, spec);
  };
  int max_tokens = 0;
  SeqSpec prefill;
  CHECK_FALSE(
      choose(R"({"prompt":"x","max_tokens":1,"kv_transfer_params":{"do_remote_decode":true}})",
             EngineKind::kVllm, Role::kPrefill, max_tokens, prefill));
  CHECK(prefill.pd == PdMode::kVllmPrefill);
  SeqSpec rejected;
  CHECK(choose(R"({"prompt":"x","max_tokens":1,"kv_transfer_params":{"do_remote_decode":true}})",
               EngineKind::kVllm, Role::kDecode, max_tokens, rejected)
            ->status == 400);
  CHECK(
      choose(
          R"({"prompt":"x","max_tokens":1,"stream":true,"kv_transfer_params":{"do_remote_decode":true}})",
          EngineKind::kVllm, Role::kBoth, max_tokens, rejected)
          ->status == 400);
  CHECK(choose(R"({"prompt":"x","max_tokens":4,"kv_transfer_params":{"do_remote_decode":true}})",
               EngineKind::kVllm, Role::kBoth, max_tokens, rejected)
            ->status == 400);
  SeqSpec decode;
  CHECK_FALSE(choose(
      R"({"prompt":"x","kv_transfer_params":{"do_remote_prefill":true,"remote_block_ids":[[1]],"remote_engine_id":"e","remote_request_id":"r","remote_host":"h","remote_port":1}})",
      EngineKind::kVllm, Role::kDecode, max_tokens, decode));
  CHECK(decode.pd == PdMode::kVllmDecode);
  SeqSpec incomplete;  // no remote_host: vLLM warns and prefills locally
  CHECK_FALSE(choose(
      R"({"prompt":"x","kv_transfer_params":{"do_remote_prefill":true,"remote_block_ids":[[1]],"remote_engine_id":"e","remote_request_id":"r","remote_port":1}})",
      EngineKind::kVllm, Role::kDecode, max_tokens, incomplete));
  CHECK(incomplete.pd == PdMode::kNone);

  SeqSpec sglang_prefill;
  CHECK_FALSE(choose(R"({"prompt":"x","max_tokens":30,"bootstrap_host":"h","bootstrap_room":5})",
                     EngineKind::kSglang, Role::kPrefill, max_tokens, sglang_prefill));
  CHECK(sglang_prefill.pd == PdMode::kSglangPrefill);
  CHECK(sglang_prefill.bootstrap->port == 8998);  // the default bootstrap port
  CHECK(max_tokens == 1);
  SeqSpec sglang_missing;
  CHECK(choose(R"({"prompt":"x"})", EngineKind::kSglang, Role::kDecode, max_tokens, sglang_missing)
            ->status == 400);
  SeqSpec sglang_both;
  CHECK_FALSE(
      choose(R"({"prompt":"x"})", EngineKind::kSglang, Role::kBoth, max_tokens, sglang_both));
  CHECK(sglang_both.pd == PdMode::kNone);
}
