// Integration tests of one pdgate-engine-sim process's OpenAI surface and its other endpoints:
// models, health, metrics names, the API key, admin and auxiliary endpoints, LoRA adapters,
// request logging.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "bench/engine_sim/generation.h"
#include "bench/engine_sim/response.h"
#include "bench/engine_sim/tokenizer.h"
#include "tests/engine_sim/sim_harness.h"
#include "tests/engine_sim/sim_requests.h"
#include "tests/support/net.h"
#include "tests/support/paths.h"

using namespace pdgate::sim;
using namespace pdgate::sim::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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

TEST_CASE("a body over --max-request-body-mb gets a 413 in the OpenAI error shape") {
  auto sim = StartSim(65, {"--time-scale", "0", "--max-request-body-mb", "1"});
  const std::string big = R"({"prompt":")" + std::string(1100 * 1024, 'a') + R"("})";
  auto [status, body] = sim.Post("/v1/completions", big);
  CHECK(status == 413);
  CHECK(JsonNumber(body, "/error/code") == 413);
  const std::string fits = R"({"prompt":")" + std::string(900 * 1024, 'a') + R"(","max_tokens":1})";
  CHECK(sim.Post("/v1/completions", fits).first == 400);  // parsed: over --max-model-len
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
