// Integration tests of a pdgate-engine-sim process at run time: the timing model, continuous
// batching, injected faults, clients that hang up, many concurrent streams.
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include "tests/engine_sim/sim_harness.h"
#include "tests/engine_sim/sim_requests.h"
#include "tests/support/child_process.h"
#include "tests/support/net.h"

using namespace pdgate::sim;
using namespace pdgate::sim::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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

}  // namespace

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

TEST_CASE("out of file descriptors, the sim serves its open connections and does not spin") {
  auto sim = StartSim(78, {"--time-scale", "0"});
  const pid_t pid = sim.process.pid();
  RawClient kept(sim.host, sim.port);
  REQUIRE(kept.connected());
  kept.SendPost("/v1/completions", R"({"prompt":"x","max_tokens":2})");
  REQUIRE(kept.ReadUntil("\"usage\"", 5s));

  rlimit original{};
  REQUIRE(prlimit(pid, RLIMIT_NOFILE, nullptr, &original) == 0);
  const rlimit tight{pdgate::testing::OpenFds(pid), original.rlim_max};
  REQUIRE(prlimit(pid, RLIMIT_NOFILE, &tight, nullptr) == 0);
  std::vector<std::unique_ptr<RawClient>> waiting;
  for (int i = 0; i < 8; ++i) {
    waiting.push_back(std::make_unique<RawClient>(sim.host, sim.port));
    waiting.back()->SendPost("/v1/completions", R"({"prompt":"x","max_tokens":2})");
  }
  const double cpu_before = pdgate::testing::CpuSeconds(pid);
  std::this_thread::sleep_for(1s);  // measurement window, not a readiness wait
  const double cpu_used = pdgate::testing::CpuSeconds(pid) - cpu_before;
  INFO("sim CPU during 1 s out of descriptors: " << cpu_used << " s");
  CHECK(cpu_used < 0.3);  // spinning on accept takes a whole core
  kept.ClearReceived();
  kept.SendPost("/v1/completions", R"({"prompt":"y","max_tokens":2})");
  CHECK(kept.ReadUntil("\"usage\"", 5s));
  CHECK(kept.received().starts_with("HTTP/1.1 200 OK"));

  REQUIRE(prlimit(pid, RLIMIT_NOFILE, &original, nullptr) == 0);
  int served = 0;
  for (auto& client : waiting) served += client->ReadUntil("\"usage\"", 5s) ? 1 : 0;
  CHECK(served == 8);
}

TEST_CASE(
    "a decode keeps its side-channel connection to a prefill, and redials one that restarted") {
  auto decode = StartSim(72, {"--role", "decode", "--time-scale", kFast});
  std::optional<Sim> prefill = StartSim(73, {"--role", "prefill", "--time-scale", kFast});
  const uint16_t port = prefill->port;
  const uint16_t side_port = prefill->side_port;
  // One PD request by hand: the prefill leg, then the decode leg that pulls the KV.
  auto pd_request = [&](const std::string& content) {
    auto [p_status, p_body] = prefill->Post("/v1/chat/completions", PrefillBody(content));
    REQUIRE(p_status == 200);
    const auto params = JsonValue(p_body, "/kv_transfer_params");
    REQUIRE(params);
    return decode
        .Post("/v1/chat/completions",
              ChatBody(content, R"("max_tokens":3,"kv_transfer_params":)" + *params))
        .first;
  };
  for (int i = 0; i < 3; ++i) CHECK(pd_request(NonEarlyPrompt("keep " + std::to_string(i))) == 200);
  CHECK(decode.Stat("/pulls_ok") == 3);
  CHECK(prefill->Stat("/pulls_served_ok") == 3);
  CHECK(prefill->Stat("/side_connections") == 1);

  // The prefill restarts where it listened: the decode's kept connection is closed under it, and
  // the next pull goes out again on a fresh connection instead of failing.
  prefill.reset();
  prefill = StartSimOn(73, port, side_port, {"--role", "prefill", "--time-scale", kFast});
  CHECK(pd_request(NonEarlyPrompt("after restart")) == 200);
  CHECK(decode.Stat("/pulls_ok") == 4);
  CHECK(decode.Stat("/pulls_failed") == 0);
  CHECK(prefill->Stat("/side_connections") == 1);
}
