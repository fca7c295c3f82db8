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
#include "tests/engine_sim/sim_requests.h"
#include "tests/support/net.h"
#include "tests/support/paths.h"

using namespace pdgate::sim;
using namespace pdgate::sim::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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
  // The KV cache's size, which pdgate reads to size its prefix index.
  CHECK(metrics.find("sglang:max_total_num_tokens{") != std::string::npos);
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
