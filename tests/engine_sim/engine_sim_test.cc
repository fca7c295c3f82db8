// Integration tests: real pdgate-engine-sim processes on distinct 127.0.0.x addresses, driven by
// hand the way a router would drive real engines (the issue's "Done when" list).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "bench/engine_sim/generation.h"
#include "bench/engine_sim/response.h"
#include "bench/engine_sim/tokenizer.h"
#include "tests/engine_sim/sim_harness.h"
#include "tests/support/net.h"
#include "tests/support/paths.h"

using namespace pdgate::sim;
using namespace pdgate::sim::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const char* kFast = "0.01";  // --time-scale for tests that do not measure time

std::string ChatBody(const std::string& content, const std::string& extra,
                     const std::string& model = "sim-model") {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":")" + content +
         R"("}])" + (extra.empty() ? "" : "," + extra) + "}";
}

// What the sim must generate for a chat prompt (the deterministic function of prompt and seed).
std::string ExpectedChatText(const std::string& content, int max_tokens) {
  ResponseContext ctx;
  auto prompt = Tokenize(ApplyChatTemplate({{"user", content}}));
  ctx.key = MakeGenerationKey(prompt, 0);
  ctx.plan = PlanOutput(ctx.key, max_tokens, 0, false);
  return GeneratedText(ctx, ctx.plan.tokens);
}

// A prompt whose output does not stop at once (so a prefill leg ends with "length").
std::string NonEarlyPrompt(const std::string& base) {
  for (int i = 0;; ++i) {
    std::string content = base + " " + std::to_string(i);
    auto key = MakeGenerationKey(Tokenize(ApplyChatTemplate({{"user", content}})), 0);
    if (NaturalLength(key) > 1) return content;
  }
}

std::string PrefillBody(const std::string& content, const std::string& model = "sim-model") {
  return ChatBody(content,
                  R"("max_tokens":1,"stream":false,"kv_transfer_params":{"do_remote_decode":true,)"
                  R"("do_remote_prefill":false,"remote_engine_id":null,"remote_block_ids":null,)"
                  R"("remote_host":null,"remote_port":null})",
                  model);
}

std::string Streamed(const std::string& sse_body) {
  std::string text;
  for (const auto& event : SseEvents(sse_body)) {
    if (event == "[DONE]") continue;
    if (auto piece = JsonString(event, "/choices/0/delta/content")) text += *piece;
  }
  return text;
}

}  // namespace

TEST_CASE("vLLM NIXL by hand: prefill, then decode with the prefill params, and a reuse fails") {
  auto prefill = StartSim(31, {"--role", "prefill", "--time-scale", kFast});
  auto decode = StartSim(32, {"--role", "decode", "--time-scale", kFast});
  const std::string content = NonEarlyPrompt("Where is the capital of China?");

  auto [p_status, p_body] = prefill.Post("/v1/chat/completions", PrefillBody(content));
  REQUIRE(p_status == 200);
  CHECK(JsonString(p_body, "/choices/0/finish_reason") == "length");
  CHECK(JsonNumber(p_body, "/usage/completion_tokens") == 1);
  const auto params = JsonValue(p_body, "/kv_transfer_params");
  REQUIRE(params);
  CHECK(JsonNumber(*params, "/do_remote_prefill") == 1);
  CHECK(JsonNumber(*params, "/do_remote_decode") == 0);
  CHECK(JsonString(*params, "/remote_host") == prefill.host);
  CHECK(JsonNumber(*params, "/remote_port") == prefill.side_port);
  CHECK(JsonNumber(*params, "/tp_size") == 1);
  CHECK(JsonString(*params, "/remote_engine_id").has_value());
  // vLLM PR #27987: the engine-internal id is the API id plus a 9-character suffix.
  const std::string api_id = JsonString(p_body, "/id").value();
  CHECK(JsonString(*params, "/remote_request_id").value().size() == api_id.size() + 9);
  CHECK(JsonValue(*params, "/remote_block_ids").value().starts_with("[["));
  CHECK(prefill.Stat("/kv_held_requests") == 1);
  CHECK(prefill.Stat("/kv_held_blocks") > 0);
  CHECK(prefill.Stat("/requests/prefill") == 1);

  const std::string decode_body = ChatBody(
      content,
      R"("max_tokens":20,"stream":true,"stream_options":{"include_usage":true},"kv_transfer_params":)" +
          *params);
  auto [d_status, d_body] = decode.Post("/v1/chat/completions", decode_body);
  REQUIRE(d_status == 200);
  bool framing = false;
  auto events = SseEvents(d_body, &framing);
  CHECK(framing);
  REQUIRE(events.size() >= 3);
  CHECK(events.back() == "[DONE]");
  CHECK(Streamed(d_body) == ExpectedChatText(content, 20));
  CHECK(decode.Stat("/pulls_ok") == 1);
  CHECK(decode.Stat("/requests/decode") == 1);
  // The pull shows in the prefill's counters, and the held blocks are released.
  CHECK(prefill.Stat("/pulls_served_ok") == 1);
  CHECK(prefill.WaitForStat("/kv_held_blocks", 0));
  CHECK(prefill.Stat("/kv_used_blocks") == 0);

  // The same params again: the KV is gone; policy fail → an error for the client.
  auto [again_status, again_body] =
      decode.Post("/v1/chat/completions",
                  ChatBody(content, R"("max_tokens":5,"kv_transfer_params":)" + *params));
  CHECK(again_status == 500);
  CHECK(JsonNumber(again_body, "/error/code") == 500);
  CHECK(decode.Stat("/pulls_failed") == 1);
  CHECK(prefill.Stat("/pulls_served_failed") == 1);
}

TEST_CASE(
    "vLLM decode: fabricated params fail (policy fail) or are recomputed (policy recompute)") {
  auto prefill = StartSim(33, {"--role", "prefill", "--time-scale", kFast});
  auto decode = StartSim(34, {"--role", "decode", "--time-scale", kFast});
  auto recompute = StartSim(
      35, {"--role", "decode", "--time-scale", kFast, "--kv-load-failure-policy", "recompute"});
  const std::string fake =
      R"({"do_remote_prefill":true,"do_remote_decode":false,"remote_block_ids":[[1,2]],)"
      R"("remote_engine_id":"not-an-engine","remote_request_id":"chatcmpl-x-12345678",)"
      R"("remote_host":")" +
      prefill.host + R"(","remote_port":)" + std::to_string(prefill.side_port) + R"(,"tp_size":1})";
  const std::string body = ChatBody("hello", R"("max_tokens":4,"kv_transfer_params":)" + fake);
  auto [status, error] = decode.Post("/v1/chat/completions", body);
  CHECK(status == 500);
  CHECK(JsonString(error, "/error/type") == "InternalServerError");
  CHECK(decode.Stat("/pulls_failed") == 1);
  CHECK(prefill.Stat("/pulls_served_failed") == 1);

  // Streaming: headers are out already, so the failure is an SSE error event then [DONE].
  auto [s_status, s_body] = decode.Post(
      "/v1/chat/completions",
      ChatBody("hello", R"("max_tokens":4,"stream":true,"kv_transfer_params":)" + fake));
  CHECK(s_status == 200);
  auto events = SseEvents(s_body);
  REQUIRE(events.size() == 2);
  CHECK(JsonNumber(events[0], "/error/code") == 500);
  CHECK(events[1] == "[DONE]");

  auto [r_status, r_body] = recompute.Post("/v1/chat/completions", body);
  CHECK(r_status == 200);
  CHECK(JsonString(r_body, "/choices/0/message/content") == ExpectedChatText("hello", 4));
  CHECK(recompute.Stat("/recomputed") == 1);

  // A side channel nobody listens on fails too.
  const std::string nowhere =
      R"({"do_remote_prefill":true,"remote_block_ids":[[1]],"remote_engine_id":"e",)"
      R"("remote_request_id":"r","remote_host":"127.0.0.36","remote_port":)" +
      std::to_string(pdgate::testing::FreePort("127.0.0.36")) + "}";
  auto [n_status, n_body] =
      decode.Post("/v1/chat/completions", ChatBody("hello", R"("kv_transfer_params":)" + nowhere));
  CHECK(n_status == 500);
}

TEST_CASE("vLLM prefill: held KV expires after --kv-hold-timeout, then the pull fails") {
  auto prefill =
      StartSim(37, {"--role", "prefill", "--time-scale", kFast, "--kv-hold-timeout", "0.3"});
  auto decode = StartSim(38, {"--role", "decode", "--time-scale", kFast});
  const std::string content = NonEarlyPrompt("stranded");
  auto [status, body] = prefill.Post("/v1/chat/completions", PrefillBody(content));
  REQUIRE(status == 200);
  const auto params = JsonValue(body, "/kv_transfer_params");
  REQUIRE(params);
  CHECK(prefill.Stat("/kv_held_requests") == 1);
  auto [m_status, metrics] = prefill.Get("/metrics");
  CHECK(metrics.find("pdgate_sim:kv_held_blocks{") != std::string::npos);
  REQUIRE(prefill.WaitForStat("/kv_expired", 1, 5s));
  CHECK(prefill.Stat("/kv_held_blocks") == 0);
  auto [d_status, d_body] =
      decode.Post("/v1/chat/completions", ChatBody(content, R"("kv_transfer_params":)" + *params));
  CHECK(d_status == 500);
  CHECK(d_body.find("expired") != std::string::npos);
}

TEST_CASE("vLLM prefill legs are validated like vLLM: no streaming, max_tokens 1") {
  auto prefill = StartSim(39, {"--role", "prefill", "--time-scale", kFast});
  auto streamed = prefill.Post(
      "/v1/chat/completions",
      ChatBody(
          "hi",
          R"("max_tokens":1,"stream":true,"stream_options":{"include_usage":true},"kv_transfer_params":{"do_remote_decode":true})"));
  CHECK(streamed.first == 400);
  CHECK(JsonString(streamed.second, "/error/type") == "BadRequestError");
  auto long_prefill = prefill.Post(
      "/v1/chat/completions",
      ChatBody("hi", R"("max_tokens":2,"kv_transfer_params":{"do_remote_decode":true})"));
  CHECK(long_prefill.first == 400);
  auto options_without_stream =
      prefill.Post("/v1/completions", R"({"prompt":"hi","stream_options":{"include_usage":true}})");
  CHECK(options_without_stream.first == 400);
  CHECK(JsonString(options_without_stream.second, "/error/message") ==
        "Stream options can only be defined when `stream=True`.");
  auto unknown_model = prefill.Post("/v1/completions", R"({"model":"gpt-4","prompt":"hi"})");
  CHECK(unknown_model.first == 404);
  CHECK(JsonString(unknown_model.second, "/error/message") == "The model `gpt-4` does not exist.");
  CHECK(JsonNumber(unknown_model.second, "/error/code") == 404);
  CHECK(prefill.Stat("/kv_held_requests") == 0);
}

TEST_CASE("OpenAI surface: models, health, deterministic completions, usage, flat errors") {
  auto sim = StartSim(40, {"--time-scale", "0", "--served-model-name", "alias-a",
                           "--served-model-name", "alias-b"});
  auto [m_status, models] = sim.Get("/v1/models");
  REQUIRE(m_status == 200);
  CHECK(JsonString(models, "/data/0/id") == "alias-a");
  CHECK(JsonString(models, "/data/1/id") == "alias-b");
  CHECK(JsonString(models, "/data/0/owned_by") == "vllm");
  CHECK(sim.Get("/health").first == 200);

  const std::string body =
      R"({"model":"alias-b","prompt":"Once upon a time","max_tokens":30,"seed":3})";
  auto first = sim.Post("/v1/completions", body);
  auto second = sim.Post("/v1/completions", body);
  REQUIRE(first.first == 200);
  CHECK(JsonString(first.second, "/choices/0/text") ==
        JsonString(second.second, "/choices/0/text"));
  CHECK(JsonString(first.second, "/model") == "alias-b");
  CHECK(JsonString(first.second, "/object") == "text_completion");
  ResponseContext ctx;
  ctx.key = MakeGenerationKey(Tokenize("Once upon a time"), 3);
  ctx.plan = PlanOutput(ctx.key, 30, 0, false);
  CHECK(JsonString(first.second, "/choices/0/text") == GeneratedText(ctx, ctx.plan.tokens));
  CHECK(JsonNumber(first.second, "/usage/completion_tokens") == ctx.plan.tokens);
  CHECK(JsonNumber(first.second, "/usage/prompt_tokens") == Tokenize("Once upon a time").size());
  CHECK(JsonNumber(first.second, "/usage/prompt_tokens_details/cached_tokens").has_value());

  // ignore_eos always runs to max_tokens; continuous usage stats on every chunk.
  auto ignore = sim.Post("/v1/chat/completions",
                         ChatBody("x", R"("model":"alias-a","max_tokens":300,"ignore_eos":true)"));
  REQUIRE(ignore.first == 200);
  CHECK(JsonNumber(ignore.second, "/usage/completion_tokens") == 300);
  CHECK(JsonString(ignore.second, "/choices/0/finish_reason") == "length");
  auto continuous = sim.Post(
      "/v1/completions",
      R"({"prompt":"abc","max_tokens":3,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true}})");
  auto events = SseEvents(continuous.second);
  REQUIRE(events.size() == 5);
  CHECK(JsonNumber(events[0], "/usage/completion_tokens") == 1);
  CHECK(JsonNumber(events[2], "/usage/completion_tokens") == 3);
  CHECK(JsonValue(events[3], "/choices") == "[]");

  auto too_long = sim.Post("/v1/completions", R"({"prompt":"abc","max_tokens":100000})");
  CHECK(too_long.first == 400);

  auto flat = StartSim(41, {"--time-scale", "0", "--flat-errors"});
  auto missing = flat.Post("/v1/completions", R"({"model":"gpt-4","prompt":"hi"})");
  CHECK(missing.first == 404);
  CHECK(JsonString(missing.second, "/object") == "error");
  CHECK(JsonNumber(missing.second, "/code") == 404);
}

TEST_CASE("SGLang PD: a matching room succeeds, an unmatched room times out, abort_request works") {
  auto prefill = StartSim(42, {"--engine", "sglang", "--role", "prefill", "--time-scale", kFast});
  auto decode = StartSim(43, {"--engine", "sglang", "--role", "decode", "--time-scale", kFast,
                              "--waiting-timeout", "0.5"});
  const std::string bootstrap = R"("bootstrap_host":")" + prefill.host + R"(","bootstrap_port":)" +
                                std::to_string(prefill.side_port);
  const std::string body =
      ChatBody("Where is the capital of China?",
               R"("max_tokens":12,"stream":true,)" + bootstrap +
                   R"(,"bootstrap_room":5837461092837465123,"rid":"gw-1-0001")");
  // Concurrent legs, as SGLang routers send them.
  auto decode_leg =
      std::async(std::launch::async, [&] { return decode.Post("/v1/chat/completions", body); });
  auto prefill_leg =
      std::async(std::launch::async, [&] { return prefill.Post("/v1/chat/completions", body); });
  auto [d_status, d_body] = decode_leg.get();
  auto [p_status, p_body] = prefill_leg.get();
  CHECK(p_status == 200);
  REQUIRE(d_status == 200);
  CHECK(Streamed(d_body) == ExpectedChatText("Where is the capital of China?", 12));
  CHECK(decode.Stat("/pulls_ok") == 1);
  CHECK(prefill.Stat("/pulls_served_ok") == 1);
  CHECK(prefill.WaitForStat("/kv_used_blocks", 0));

  // Decode alone: nobody prefills room 7, the decode gives up after --waiting-timeout.
  const auto start = Clock::now();
  auto [u_status, u_body] =
      decode.Post("/v1/chat/completions", ChatBody("lonely", bootstrap + R"(,"bootstrap_room":7)"));
  const auto waited = Clock::now() - start;
  CHECK(u_status == 500);
  CHECK(waited >= 400ms);
  CHECK(waited < 5s);
  CHECK(decode.Stat("/bootstrap_failed") == 1);

  // /abort_request {"rid"} aborts by prefix (SGLang semantics), here a decode waiting for KV.
  auto patient = StartSim(44, {"--engine", "sglang", "--role", "decode", "--time-scale", kFast,
                               "--waiting-timeout", "30"});
  auto waiting = std::async(std::launch::async, [&] {
    return patient.Post(
        "/v1/chat/completions",
        ChatBody("abort me", bootstrap + R"(,"bootstrap_room":8,"rid":"gw-2-0001","stream":true)"));
  });
  REQUIRE(patient.WaitForStat("/waiting", 1));
  auto [a_status, a_body] = patient.Post("/abort_request", R"({"rid":"gw-2"})");
  CHECK(a_status == 200);
  REQUIRE(waiting.wait_for(5s) == std::future_status::ready);
  auto [w_status, w_body] = waiting.get();
  CHECK(w_status == 200);
  CHECK(w_body.find(R"("finish_reason":"abort")") != std::string::npos);
  CHECK(patient.Stat("/finished/abort") == 1);
  CHECK(patient.Stat("/kv_used_blocks") == 0);

  auto [metrics_status, metrics] = decode.Get("/metrics");
  CHECK(metrics.find("sglang:num_running_reqs{") != std::string::npos);
  CHECK(metrics.find("sglang:num_queue_reqs{") != std::string::npos);
  CHECK(metrics.find("sglang:token_usage{") != std::string::npos);
}

TEST_CASE("a client that hangs up mid-stream aborts its request and frees its blocks") {
  auto sim = StartSim(45, {"--time-scale", "1"});
  {
    RawClient client(sim.host, sim.port);
    REQUIRE(client.connected());
    client.SendPost(
        "/v1/chat/completions",
        ChatBody("a long story", R"("max_tokens":2000,"ignore_eos":true,"stream":true)"));
    REQUIRE(client.ReadUntil("\"content\":\" ", 5s));  // a first real token arrived
    CHECK(sim.Stat("/running") == 1);
    CHECK(sim.Stat("/kv_used_blocks") > 0);
  }  // closed
  REQUIRE(sim.WaitForStat("/finished/abort", 1, 5s));
  CHECK(sim.Stat("/kv_used_blocks") == 0);
  CHECK(sim.Stat("/running") == 0);
  auto [status, metrics] = sim.Get("/metrics");
  CHECK(
      metrics.find(
          R"(vllm:request_success_total{engine="0",finished_reason="abort",model_name="sim-model"} 1)") !=
      std::string::npos);

  // A non-streaming request whose client leaves while it waits is aborted too.
  {
    RawClient client(sim.host, sim.port);
    client.SendPost("/v1/completions", R"({"prompt":"wait","max_tokens":2000,"ignore_eos":true})");
    REQUIRE(sim.WaitForStat("/running", 1));
  }
  REQUIRE(sim.WaitForStat("/finished/abort", 2, 5s));
  CHECK(sim.Stat("/kv_used_blocks") == 0);
}

namespace {

// Seconds from sending a streaming completions request to its first token event.
double MeasureTtft(const Sim& sim, const std::string& prompt_json, std::string* body = nullptr) {
  RawClient client(sim.host, sim.port);
  const auto start = Clock::now();
  client.SendPost(
      "/v1/completions",
      R"({"prompt":)" + prompt_json +
          R"(,"max_tokens":2,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}})");
  if (!client.ReadUntil("\"text\":", 10s)) return -1;
  const double ttft = std::chrono::duration<double>(Clock::now() - start).count();
  client.ReadUntil("[DONE]", 10s);
  if (body) *body = client.received();
  return ttft;
}

std::string TokenArray(int n, int start) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) out += (i ? "," : "") + std::to_string(start + i);
  return out + "]";
}

}  // namespace

TEST_CASE(
    "timing model: a cold 2000-token prompt's TTFT matches the formula, and a cached prefix is "
    "faster") {
  auto sim = StartSim(46, {"--time-scale", "1"});
  const double formula = 0.015 + 2000 * 60e-6;  // prefill overhead + per token × uncached
  std::string cold_body;
  const double cold = MeasureTtft(sim, TokenArray(2000, 1000), &cold_body);
  INFO("cold TTFT " << cold << " s, formula " << formula << " s");
  CHECK(cold > formula * 0.8);
  CHECK(cold < formula * 1.2);
  CHECK(cold_body.find(R"("cached_tokens":0)") != std::string::npos);

  // The same 2000-token prefix with a different tail: all full blocks but the tail's are cached.
  std::string warm_body;
  std::string warm_prompt = TokenArray(2000, 1000);
  warm_prompt.back() = ',';
  warm_prompt += "7,8,9]";
  const double warm = MeasureTtft(sim, warm_prompt, &warm_body);
  INFO("warm TTFT " << warm << " s");
  CHECK(warm < cold / 2);
  CHECK(warm_body.find(R"("cached_tokens":2000)") != std::string::npos);
  CHECK(sim.Stat("/prefix_hits") == 2000);
  auto [status, metrics] = sim.Get("/metrics");
  CHECK(metrics.find("vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"sim-model\"} 2000") !=
        std::string::npos);
}

TEST_CASE("continuous batching: requests beyond --max-num-seqs wait") {
  auto sim = StartSim(47, {"--time-scale", "1", "--max-num-seqs", "2"});
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<RawClient>(sim.host, sim.port));
    clients.back()->SendPost("/v1/completions", R"({"prompt":"p)" + std::to_string(i) +
                                                    R"(","max_tokens":1000,"ignore_eos":true})");
  }
  REQUIRE(sim.WaitForStat("/waiting", 2));
  CHECK(sim.Stat("/running") == 2);
  auto [status, metrics] = sim.Get("/metrics");
  CHECK(metrics.find("vllm:num_requests_waiting{engine=\"0\",model_name=\"sim-model\"} 2") !=
        std::string::npos);
  clients.clear();
  CHECK(sim.WaitForStat("/finished/abort", 4));
}

TEST_CASE("metric names: current vLLM, pre-0.11 vLLM, as in the real engines' /metrics") {
  auto current = StartSim(48, {"--time-scale", "0"});
  auto legacy = StartSim(49, {"--time-scale", "0", "--legacy-metrics"});
  auto body = current.Get("/metrics").second;
  for (const char* name :
       {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
        "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total",
        "vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds",
        "vllm:e2e_request_latency_seconds", "vllm:request_success_total",
        "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:cache_config_info"}) {
    INFO(name);
    CHECK(body.find(std::string("# TYPE ") + name + " ") != std::string::npos);
  }
  auto old = legacy.Get("/metrics").second;
  for (const char* name :
       {"vllm:gpu_cache_usage_perc", "vllm:gpu_prefix_cache_queries_total",
        "vllm:gpu_prefix_cache_hits_total", "vllm:time_per_output_token_seconds"}) {
    INFO(name);
    CHECK(old.find(std::string("# TYPE ") + name + " ") != std::string::npos);
  }
  CHECK(old.find("vllm:kv_cache_usage_perc") == std::string::npos);

  // Every metric family of the real engines' /metrics (fixtures) exists here with the same type.
  auto sglang = StartSim(59, {"--time-scale", "0", "--engine", "sglang"});
  const std::pair<std::string, std::string> pairs[] = {
      {"vllm_metrics.txt", body},
      {"vllm_metrics_legacy.txt", old},
      {"sglang_metrics.txt", sglang.Get("/metrics").second}};
  for (const auto& [fixture, ours] : pairs) {
    std::ifstream in(pdgate::testing::SharedPath("fixtures/" + fixture));
    REQUIRE(in.good());
    std::string line;
    int families = 0;
    while (std::getline(in, line)) {
      if (!line.starts_with("# TYPE ")) continue;
      ++families;
      INFO(fixture << ": " << line);
      CHECK(ours.find(line + "\n") != std::string::npos);
    }
    CHECK(families >= 5);
  }
  // Label sets as vLLM writes them.
  CHECK(body.find(R"(vllm:num_requests_running{engine="0",model_name="sim-model"} )") !=
        std::string::npos);
  CHECK(old.find(R"(vllm:num_requests_running{model_name="sim-model"} )") != std::string::npos);
}

TEST_CASE("the API key (--api-key) guards /v1 only, with vLLM's bare-string 401 body") {
  auto sim = StartSim(60, {"--time-scale", "0", "--api-key", "secret"});
  auto [status, body] = sim.Post("/v1/completions", R"({"prompt":"x"})");
  CHECK(status == 401);
  CHECK(body == R"({"error":"Unauthorized"})");
  CHECK(sim.Get("/health").first == 200);
  CHECK(sim.Get("/metrics").first == 200);
  auto authorized =
      pdgate::testing::HttpRequest(sim.host, sim.port, "POST", "/v1/completions",
                                   R"({"prompt":"x"})", {{"Authorization", "Bearer secret"}});
  REQUIRE(authorized.ok());
  CHECK(authorized->status == 200);
}

TEST_CASE("faults: injected status, not-ready start, exit after N requests, mid-stream drop") {
  auto failing = StartSim(50, {"--time-scale", "0", "--fail-rate", "1", "--fail-status", "429"});
  auto [status, body] = failing.Post("/v1/completions", R"({"prompt":"x"})");
  CHECK(status == 429);
  CHECK(JsonNumber(body, "/error/code") == 429);
  // Runtime admin endpoint: switch the failures off.
  CHECK(failing.Post("/admin/faults", R"({"fail_rate":0})").first == 200);
  CHECK(failing.Post("/v1/completions", R"({"prompt":"x"})").first == 200);

  auto starting = StartSim(51, {"--time-scale", "0", "--startup-delay", "0.5"}, false);
  CHECK(starting.Get("/health").first == 503);
  CHECK(starting.Post("/v1/completions", R"({"prompt":"x"})").first == 503);
  CHECK(pdgate::testing::WaitForHttpStatus(starting.host, starting.port, "/health", 200, 5s));

  auto crashing = StartSim(52, {"--time-scale", "0", "--exit-after", "1"});
  CHECK(crashing.Post("/v1/completions", R"({"prompt":"x"})").first == 200);
  CHECK(crashing.Post("/v1/completions", R"({"prompt":"x"})").first == 0);  // connection dropped
  CHECK(crashing.process.WaitFor(5s) == std::optional<int>(3));

  auto dropping = StartSim(
      53, {"--time-scale", kFast, "--drop-mid-stream-rate", "1", "--mid-stream-after", "2"});
  RawClient client(dropping.host, dropping.port);
  client.SendPost("/v1/completions",
                  R"({"prompt":"x","max_tokens":50,"ignore_eos":true,"stream":true})");
  client.ReadToEnd(5s);
  CHECK(client.received().find("data: ") != std::string::npos);
  CHECK(client.received().find("[DONE]") == std::string::npos);
  CHECK(dropping.WaitForStat("/finished/abort", 1));
}

TEST_CASE(
    "faults: stall before the first byte, stall mid-stream, runtime latency multiplier, readiness "
    "flip") {
  auto stalling = StartSim(54, {"--time-scale", "0", "--stall-first-byte", "0.3"});
  auto start = Clock::now();
  CHECK(stalling.Post("/v1/completions", R"({"prompt":"x","max_tokens":2})").first == 200);
  CHECK(Clock::now() - start >= 300ms);

  auto pausing =
      StartSim(55, {"--time-scale", "0", "--stall-mid-stream", "0.4", "--mid-stream-after", "2"});
  RawClient client(pausing.host, pausing.port);
  client.SendPost("/v1/completions",
                  R"({"prompt":"x","max_tokens":6,"ignore_eos":true,"stream":true})");
  REQUIRE(client.ReadUntil("\"text\":", 5s));
  const auto first = Clock::now();
  REQUIRE(client.ReadUntil("[DONE]", 5s));
  CHECK(Clock::now() - first >= 350ms);
  size_t tokens = 0;
  for (size_t pos = 0; (pos = client.received().find("\"text\":", pos)) != std::string::npos; ++pos)
    ++tokens;
  CHECK(tokens == 6);

  auto slow = StartSim(56, {"--time-scale", "1", "--threads", "2"});
  const double base = MeasureTtft(slow, TokenArray(1000, 1));
  REQUIRE(slow.Post("/admin/faults", R"({"prefill_multiplier":3})").first == 200);
  const double slowed = MeasureTtft(slow, TokenArray(1000, 5000));
  INFO("TTFT " << base << " s, with prefill_multiplier 3: " << slowed << " s");
  CHECK(slowed > 2 * base);
  CHECK(slow.Post("/admin/faults", R"({"fail_rate":2})").first == 400);

  REQUIRE(slow.Post("/admin/ready", R"({"ready":false})").first == 200);
  CHECK(slow.Get("/health").first == 503);
  REQUIRE(slow.Post("/admin/ready", R"({"ready":true})").first == 200);
  CHECK(slow.Get("/health").first == 200);
}

TEST_CASE("vLLM decode aborted while queued still releases the prefill's KV") {
  auto prefill = StartSim(57, {"--role", "prefill", "--time-scale", kFast});
  auto decode = StartSim(58, {"--role", "decode", "--time-scale", "1", "--max-num-seqs", "1"});
  const std::string content = NonEarlyPrompt("queued decode");
  auto [status, body] = prefill.Post("/v1/chat/completions", PrefillBody(content));
  REQUIRE(status == 200);
  const auto params = JsonValue(body, "/kv_transfer_params");
  REQUIRE(params);
  REQUIRE(prefill.Stat("/kv_held_requests") == 1);
  RawClient busy(decode.host, decode.port);  // occupies the only batch slot
  busy.SendPost("/v1/completions", R"({"prompt":"busy","max_tokens":2000,"ignore_eos":true})");
  REQUIRE(decode.WaitForStat("/running", 1));
  {
    RawClient queued(decode.host, decode.port);
    queued.SendPost("/v1/chat/completions",
                    ChatBody(content, R"("max_tokens":5,"kv_transfer_params":)" + *params));
    REQUIRE(decode.WaitForStat("/waiting", 1));
  }
  REQUIRE(decode.WaitForStat("/finished/abort", 1));
  CHECK(prefill.WaitForStat("/kv_held_requests", 0));
  CHECK(prefill.Stat("/kv_used_blocks") == 0);
}

TEST_CASE(
    "vLLM prefill that stops at once (EOS first) returns no kv_transfer_params and holds nothing") {
  auto prefill = StartSim(61, {"--role", "prefill", "--time-scale", kFast});
  std::string content;
  for (int i = 0; content.empty(); ++i) {
    std::string candidate = "early " + std::to_string(i);
    if (NaturalLength(MakeGenerationKey(Tokenize(ApplyChatTemplate({{"user", candidate}})), 0)) ==
        1) {
      content = candidate;
    }
  }
  auto [status, body] = prefill.Post("/v1/chat/completions", PrefillBody(content));
  REQUIRE(status == 200);
  CHECK(JsonString(body, "/choices/0/finish_reason") == "stop");
  CHECK(JsonString(body, "/choices/0/message/content") == "");
  CHECK(JsonValue(body, "/kv_transfer_params") == "null");
  CHECK(prefill.Stat("/kv_held_requests") == 0);
  CHECK(prefill.Stat("/kv_used_blocks") == 0);
}

TEST_CASE("many concurrent streams on several I/O threads each get exactly their own tokens") {
  auto sim = StartSim(62, {"--time-scale", kFast, "--threads", "3", "--max-num-seqs", "16"});
  constexpr int kClients = 24;
  constexpr int kRequests = 4;
  std::vector<std::future<int>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::async(std::launch::async, [&sim, c] {
      int good = 0;
      for (int r = 0; r < kRequests; ++r) {
        const std::string content = "client " + std::to_string(c) + " request " + std::to_string(r);
        auto [status, body] = sim.Post(
            "/v1/chat/completions",
            ChatBody(content,
                     R"("max_tokens":40,"stream":true,"stream_options":{"include_usage":true})"));
        bool framing = false;
        auto events = SseEvents(body, &framing);
        if (status == 200 && framing && !events.empty() && events.back() == "[DONE]" &&
            Streamed(body) == ExpectedChatText(content, 40)) {
          ++good;
        }
      }
      return good;
    }));
  }
  int good = 0;
  for (auto& client : clients) good += client.get();
  CHECK(good == kClients * kRequests);
  CHECK(sim.Stat("/running") == 0);
  CHECK(sim.Stat("/kv_used_blocks") == 0);
  CHECK(sim.Stat("/finished/abort") == 0);
}

TEST_CASE("SGLang decode whose prefill is gone waits for its waiting timeout, then fails") {
  auto decode = StartSim(63, {"--engine", "sglang", "--role", "decode", "--time-scale", kFast,
                              "--waiting-timeout", "0.6"});
  const std::string nobody = pdgate::testing::LoopbackAddress(64);
  const std::string body = ChatBody(
      "orphan", R"("bootstrap_host":")" + nobody + R"(","bootstrap_port":)" +
                    std::to_string(pdgate::testing::FreePort(nobody)) + R"(,"bootstrap_room":9)");
  const auto start = Clock::now();
  auto [status, error] = decode.Post("/v1/chat/completions", body);
  const auto waited = Clock::now() - start;
  CHECK(status == 500);
  CHECK(waited >= 500ms);
  CHECK(waited < 5s);
  CHECK(JsonString(error, "/error/message").value_or("").find("waiting timeout") !=
        std::string::npos);
  CHECK(decode.Stat("/kv_used_blocks") == 0);
}

TEST_CASE("a body over --max-request-body-mb gets a 413 in the OpenAI error shape") {
  auto sim = StartSim(65, {"--time-scale", "0", "--max-request-body-mb", "1"});
  const std::string big = R"({"prompt":")" + std::string(1100 * 1024, 'a') + R"("})";
  auto [status, body] = sim.Post("/v1/completions", big);
  CHECK(status == 413);
  CHECK(JsonNumber(body, "/error/code") == 413);
  const std::string fits = R"({"prompt":")" + std::string(900 * 1024, 'a') + R"(","max_tokens":1})";
  CHECK(sim.Post("/v1/completions", fits).first == 400);  // parsed: over --max-model-len
}

TEST_CASE("launch_cluster.sh starts G x (P + D) sims on loopback and writes their Pod YAML") {
  const std::string state = "/tmp/pdgate-sim-cluster-test-" + std::to_string(getpid());
  const std::string script = pdgate::testing::SourcePath("bench/engine_sim/launch_cluster.sh");
  const std::string first = pdgate::testing::LoopbackAddress(90);
  const uint16_t port = pdgate::testing::FreePort(first);
  const uint16_t kv_port = pdgate::testing::FreePort(first);
  struct Stop {
    std::string script, state;
    ~Stop() {
      (void)pdgate::testing::RunCommand({script, "--stop", "--state", state});
      std::error_code ignored;
      std::filesystem::remove_all(state, ignored);
    }
  } stop{script, state};
  auto started = pdgate::testing::RunCommand({script,
                                              "-g",
                                              "2",
                                              "-p",
                                              "1",
                                              "-d",
                                              "1",
                                              "--port",
                                              std::to_string(port),
                                              "--first",
                                              "90",
                                              "--model",
                                              "org/Tiny_Model",
                                              "--state",
                                              state,
                                              "--bin",
                                              pdgate::testing::BinaryPath("pdgate-engine-sim"),
                                              "--",
                                              "--time-scale",
                                              "0.01",
                                              "--kv-port",
                                              std::to_string(kv_port)},
                                             std::chrono::seconds(20));
  REQUIRE(started.ok());
  INFO(started->out << started->err);
  REQUIRE(started->exit_code == 0);

  std::ifstream in(state + "/pods.yaml");
  std::stringstream yaml;
  yaml << in.rdbuf();
  const std::string pods = yaml.str();
  size_t count = 0;
  for (size_t pos = 0; (pos = pods.find("kind: Pod", pos)) != std::string::npos; ++pos) ++count;
  CHECK(count == 4);
  CHECK(pods.find("name: tiny-model-1-decode-0") != std::string::npos);
  CHECK(pods.find("modelserving.volcano.sh/name: tiny-model") != std::string::npos);
  CHECK(pods.find("modelserving.volcano.sh/group-name: tiny-model-1") != std::string::npos);
  CHECK(pods.find("modelserving.volcano.sh/role: prefill") != std::string::npos);
  CHECK(pods.find("podIP: 127.0.0.93") != std::string::npos);
  CHECK(pods.find("phase: Running") != std::string::npos);
  CHECK(pods.find("- type: Ready\n      status: \"True\"") != std::string::npos);

  // Group 1 is 127.0.0.92 (prefill) + 127.0.0.93 (decode): a NIXL exchange across them.
  const std::string content = NonEarlyPrompt("cluster");
  auto prefill = pdgate::testing::HttpRequest("127.0.0.92", port, "POST", "/v1/chat/completions",
                                              PrefillBody(content, "org/Tiny_Model"));
  REQUIRE(prefill.ok());
  REQUIRE(prefill->status == 200);
  const auto params = JsonValue(prefill->body, "/kv_transfer_params");
  REQUIRE(params);
  CHECK(JsonString(*params, "/remote_host") == "127.0.0.92");
  auto decode = pdgate::testing::HttpRequest(
      "127.0.0.93", port, "POST", "/v1/chat/completions",
      ChatBody(content, R"("max_tokens":8,"kv_transfer_params":)" + *params, "org/Tiny_Model"));
  REQUIRE(decode.ok());
  CHECK(decode->status == 200);
  CHECK(JsonString(decode->body, "/choices/0/message/content") == ExpectedChatText(content, 8));

  auto stopped = pdgate::testing::RunCommand({script, "--stop", "--state", state});
  REQUIRE(stopped.ok());
  CHECK(stopped->exit_code == 0);
  const auto deadline = Clock::now() + 5s;
  while (pdgate::testing::WaitForPort("127.0.0.93", port, 10ms) && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK_FALSE(pdgate::testing::WaitForPort("127.0.0.93", port, 10ms));
}

TEST_CASE("a client that leaves during a first-byte stall still aborts its request") {
  auto sim = StartSim(66, {"--time-scale", "1", "--stall-first-byte", "0.3"});
  {
    RawClient client(sim.host, sim.port);
    client.SendPost("/v1/completions", R"({"prompt":"x","max_tokens":3000,"ignore_eos":true})");
    REQUIRE(sim.WaitForStat("/faults_injected", 1));  // read and stalled, not yet admitted
    CHECK(sim.Stat("/running") == 0);
  }
  REQUIRE(sim.WaitForStat("/finished/abort", 1, 5s));
  CHECK(sim.Stat("/running") == 0);
  CHECK(sim.Stat("/kv_used_blocks") == 0);
}

TEST_CASE(
    "auxiliary endpoints: vLLM reset_prefix_cache, ping, version, and SGLang info and "
    "flush_cache") {
  auto vllm = StartSim(67, {"--time-scale", "0"});
  const std::string body = R"({"prompt":)" + TokenArray(64, 1) + R"(,"max_tokens":1})";
  REQUIRE(vllm.Post("/v1/completions", body).first == 200);
  auto warm = vllm.Post("/v1/completions", body);
  CHECK(JsonNumber(warm.second, "/usage/prompt_tokens_details/cached_tokens") == 48);
  CHECK(vllm.Post("/reset_prefix_cache", "").first == 200);
  auto cold = vllm.Post("/v1/completions", body);
  CHECK(JsonNumber(cold.second, "/usage/prompt_tokens_details/cached_tokens") == 0);
  CHECK(vllm.Get("/ping").first == 200);
  CHECK(JsonString(vllm.Get("/version").second, "/version").has_value());

  auto sglang = StartSim(68, {"--time-scale", "0", "--engine", "sglang", "--role", "prefill"});
  auto info = sglang.Get("/get_server_info");
  CHECK(info.first == 200);
  CHECK(JsonString(info.second, "/disaggregation_mode") == "prefill");
  CHECK(JsonNumber(info.second, "/disaggregation_bootstrap_port") == sglang.side_port);
  CHECK(JsonString(sglang.Get("/get_model_info").second, "/model_path") == "sim-model");
  CHECK(sglang.Get("/health_generate").first == 200);
  CHECK(sglang.Post("/flush_cache", "").first == 200);
}

TEST_CASE("a client that sends Expect: 100-continue gets 100 Continue before it sends the body") {
  auto sim = StartSim(69, {"--time-scale", "0"});
  RawClient client(sim.host, sim.port);
  const std::string body = R"({"prompt":"hello","max_tokens":2})";
  const std::string head =
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  REQUIRE(client.SendRaw(head));
  REQUIRE(client.ReadUntil("HTTP/1.1 100 Continue\r\n\r\n", 5s));
  REQUIRE(client.SendRaw(body));
  REQUIRE(client.ReadUntil("\"finish_reason\"", 5s));
  CHECK(client.received().find("HTTP/1.1 200 OK") != std::string::npos);
}

TEST_CASE(
    "LoRA adapters: listed like vLLM lists them, routable by name, own prefix cache, in metrics") {
  auto sim = StartSim(
      70, {"--time-scale", "1", "--lora-modules", "sql-lora=/adapters/sql", "--max-loras", "2"});
  auto [status, models] = sim.Get("/v1/models");
  REQUIRE(status == 200);
  CHECK(JsonString(models, "/data/1/id") == "sql-lora");
  CHECK(JsonString(models, "/data/1/parent") == "sim-model");
  CHECK(JsonString(models, "/data/1/root") == "/adapters/sql");
  // The same fields as the LoRA entry of a real vLLM's /v1/models.
  std::ifstream in(pdgate::testing::SharedPath("fixtures/vllm_models.json"));
  std::stringstream fixture;
  fixture << in.rdbuf();
  CHECK(JsonPaths(JsonValue(models, "/data/1").value()) ==
        JsonPaths(JsonValue(fixture.str(), "/data/1").value()));

  const std::string prompt = TokenArray(64, 1);
  REQUIRE(sim.Post("/v1/completions", R"({"prompt":)" + prompt + R"(,"max_tokens":1})").first ==
          200);
  auto lora = sim.Post("/v1/completions",
                       R"({"model":"sql-lora","prompt":)" + prompt + R"(,"max_tokens":1})");
  REQUIRE(lora.first == 200);
  CHECK(JsonString(lora.second, "/model") == "sql-lora");
  // Same tokens, other adapter: nothing cached.
  CHECK(JsonNumber(lora.second, "/usage/prompt_tokens_details/cached_tokens") == 0);

  RawClient busy(sim.host, sim.port);
  busy.SendPost("/v1/completions",
                R"({"model":"sql-lora","prompt":"x","max_tokens":2000,"ignore_eos":true})");
  REQUIRE(sim.WaitForStat("/running", 1));
  auto metrics = sim.Get("/metrics").second;
  CHECK(
      metrics.find(
          R"(vllm:lora_requests_info{max_lora="2",running_lora_adapters="sql-lora",waiting_lora_adapters=""})") !=
      std::string::npos);
}

TEST_CASE("request logging (--log-requests) writes one line per finished request") {
  auto sim = StartSim(71, {"--time-scale", "0", "--log-requests"});
  REQUIRE(sim.Post("/v1/completions", R"({"prompt":"the cat","max_tokens":3,"ignore_eos":true})").first == 200);
  const auto deadline = Clock::now() + 5s;
  while (sim.process.Stderr().find("request cmpl-") == std::string::npos &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  const std::string log = sim.process.Stderr();
  CHECK(log.find("leg=whole stream=0 prompt=2 cached=0 generated=3 finish=length") !=
        std::string::npos);
}
