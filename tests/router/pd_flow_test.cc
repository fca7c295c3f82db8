// pdgate + pdgate-engine-sim on loopback: the PD flows deliver exactly the decode engine's
// output, the legs carry what real engines require, and failures are retried or reported as a
// production gateway must.
#include <catch2/catch.hpp>

#include "tests/router/pd_cluster.h"
#include "tests/support/paths.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

const std::string kGuideRequest =
    R"({"model": "deepseek-ai/DeepSeekV2", "messages": [{"role": "user", "content": "Where is the capital of China?"}], "stream": false})";

std::string ChatBody(bool stream, const std::string& extra = "") {
  return std::string(
             R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Tell me about the river and the garden."}],"max_tokens":24)") +
         (stream ? R"(,"stream":true)" : "") + extra + "}";
}

std::string CompletionBody(bool stream, const std::string& extra = "") {
  return std::string(
             R"({"model":"deepseek-ai/DeepSeekV2","prompt":"Once upon a time in a small town","max_tokens":20)") +
         (stream ? R"(,"stream":true)" : "") + extra + "}";
}

ClusterSpec OneGroup(const std::string& connector, std::vector<std::string> prefill_args = {},
                     std::vector<std::string> decode_args = {}) {
  ClusterSpec spec;
  spec.kv_connector = connector;
  spec.pods = {{"g0", "prefill", prefill_args}, {"g0", "decode", decode_args}};
  return spec;
}

ClusterSpec TwoGroups(std::vector<std::string> g0_prefill,
                      std::vector<std::string> g0_decode = {}) {
  ClusterSpec spec;
  spec.pods = {{"g0", "prefill", g0_prefill},
               {"g0", "decode", g0_decode},
               {"g1", "prefill", {}},
               {"g1", "decode", {}}};
  return spec;
}

// What the decode engine generates for `body` when asked directly (its text is a function of
// the prompt alone), for comparison with what came through pdgate.
std::string DirectText(Cluster& cluster, size_t decode_pod, const std::string& target,
                       const std::string& body, bool streamed) {
  auto response = HttpRequest(cluster.pod_address(decode_pod), cluster.pod_port(), "POST", target,
                              body, {{"Content-Type", "application/json"}});
  REQUIRE(response.ok());
  REQUIRE(response->status == 200);
  return GeneratedText(response->body, streamed);
}

size_t CountUsageChunks(const std::string& body) {
  size_t n = 0;
  for (const std::string& event : DataEvents(body)) {
    if (event.find("\"choices\":[]") != std::string::npos) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("the Kthena PD guide's request through examples/kthena-pd") {
  // The example's own files: pods at 127.0.0.11 and 127.0.0.12, port 8000.
  auto start = [](const std::string& host, const std::string& role) {
    auto sim = ChildProcess::Start({BinaryPath("pdgate-engine-sim"), "--host", host, "--port",
                                    "8000", "--role", role, "--model", "deepseek-ai/DeepSeekV2",
                                    "--quiet", "--kv-port", std::to_string(FreePort(host))});
    REQUIRE(sim.ok());
    REQUIRE(WaitForHttpStatus(host, 8000, "/health", 200, 10s));
    return std::move(*sim);
  };
  ChildProcess prefill = start("127.0.0.11", "prefill");
  ChildProcess decode = start("127.0.0.12", "decode");
  const uint16_t port = FreePort();
  auto router = ChildProcess::Start(
      {BinaryPath("pdgate"), "--config", SourcePath("examples/kthena-pd/kthena-pd.yaml"),
       "--config", SourcePath("examples/kthena-pd/pods.yaml"), "--port", std::to_string(port),
       "--admin-port", std::to_string(FreePort())});
  REQUIRE(router.ok());
  REQUIRE(WaitForHttpStatus("127.0.0.1", port, "/healthz", 200, 10s));

  auto response = HttpRequest("127.0.0.1", port, "POST", "/v1/chat/completions", kGuideRequest,
                              {{"Content-Type", "application/json"}});
  REQUIRE(response.ok());
  INFO(response->body);
  CHECK(response->status == 200);
  const std::string text = GeneratedText(response->body, false);
  CHECK_FALSE(text.empty());
  CHECK_FALSE(response->Header("x-request-id").empty());

  auto stats = [](const std::string& host) {
    auto r = HttpRequest(host, 8000, "GET", "/admin/stats");
    REQUIRE(r.ok());
    return r->body;
  };
  const std::string p = stats("127.0.0.11"), d = stats("127.0.0.12");
  INFO(p << "\n" << d);
  // One prefill with max_tokens 1 and do_remote_decode (the sim refuses anything else as vLLM
  // does), and one decode that pulled exactly that prefill's blocks.
  CHECK(JsonNumberAt(p, "/requests/prefill") == 1);
  CHECK(JsonNumberAt(p, "/requests/rejected") == 0);
  CHECK(JsonNumberAt(p, "/pulls_served_ok") == 1);
  CHECK(JsonNumberAt(d, "/requests/decode") == 1);
  CHECK(JsonNumberAt(d, "/pulls_ok") == 1);
  CHECK(JsonNumberAt(d, "/recomputed") == 0);
  // The client got the decode engine's own text for this prompt.
  auto direct = HttpRequest("127.0.0.12", 8000, "POST", "/v1/chat/completions", kGuideRequest,
                            {{"Content-Type", "application/json"}});
  REQUIRE(direct.ok());
  CHECK(GeneratedText(direct->body, false) == text);
}

TEST_CASE(
    "every connector, chat and completions, streaming and not: the decode's tokens once, in "
    "order") {
  for (const std::string connector : {"nixl", "mooncake", "lmcache", "http"}) {
    Cluster cluster(OneGroup(connector));
    for (const bool chat : {true, false}) {
      const std::string target = chat ? "/v1/chat/completions" : "/v1/completions";
      for (const bool stream : {false, true}) {
        for (const bool usage : {false, true}) {
          if (!stream && usage) continue;
          const std::string extra = usage ? R"(,"stream_options":{"include_usage":true})" : "";
          const std::string body = chat ? ChatBody(stream, extra) : CompletionBody(stream, extra);
          INFO(connector << " " << target << " stream=" << stream << " usage=" << usage);
          auto response = cluster.Post(target, body);
          REQUIRE(response.ok());
          INFO(response->body);
          REQUIRE(response->status == 200);
          const std::string text = GeneratedText(response->body, stream);
          CHECK_FALSE(text.empty());
          CHECK(text == DirectText(cluster, 1, target, body, stream));
          if (stream) {
            auto events = DataEvents(response->body);
            REQUIRE_FALSE(events.empty());
            CHECK(events.back() == "[DONE]");
            CHECK(std::count(events.begin(), events.end(), "[DONE]") == 1);
            CHECK(CountUsageChunks(response->body) == (usage ? 1u : 0u));
            CHECK(response->Header("content-type").rfind("text/event-stream", 0) == 0);
          } else {
            CHECK(JsonNumberAt(response->body, "/usage/completion_tokens").has_value());
          }
        }
      }
    }
    if (connector == "nixl" || connector == "mooncake") {
      // Every decode pulled its prefill's KV; none recomputed.
      CHECK(cluster.Stat(1, "/pulls_ok") == cluster.Stat(1, "/requests/decode"));
      CHECK(cluster.Stat(1, "/recomputed") == 0);
    }
  }
}

TEST_CASE("a prefill whose connection is refused is retried on another group") {
  ClusterSpec spec = TwoGroups({});
  spec.pods[0].start = false;  // g0's prefill address has nothing listening
  Cluster cluster(spec);
  for (int i = 0; i < 4; ++i) {
    auto response = cluster.Post("/v1/chat/completions", ChatBody(false));
    REQUIRE(response.ok());
    CHECK(response->status == 200);
  }
  CHECK(cluster.Stat(3, "/requests/decode") == 4);
}

TEST_CASE("a prefill answering 503 is retried on another group") {
  Cluster cluster(TwoGroups({"--fail-rate", "1", "--fail-status", "503"}));
  for (int i = 0; i < 4; ++i) {
    auto response = cluster.Post("/v1/chat/completions", ChatBody(true));
    REQUIRE(response.ok());
    CHECK(response->status == 200);
    CHECK(DataEvents(response->body).back() == "[DONE]");
  }
  CHECK(cluster.Stat(3, "/requests/decode") == 4);
  CHECK(cluster.Stat(1, "/requests/decode") == 0);
}

TEST_CASE("a prefill stalled past trafficPolicy.timeout is retried on another group") {
  // The timeout bounds a leg up to its response headers, so the decode streams: a non-streaming
  // decode's headers come only after the whole generation.
  ClusterSpec spec = TwoGroups({"--stall-first-byte", "30"});
  spec.timeout = "1s";
  Cluster cluster(spec);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 2; ++i) {
    auto response = cluster.Post("/v1/chat/completions", ChatBody(true));
    REQUIRE(response.ok());
    INFO(response->body);
    CHECK(response->status == 200);
    CHECK(DataEvents(response->body).back() == "[DONE]");
  }
  CHECK(std::chrono::steady_clock::now() - start < 10s);
}

TEST_CASE("a prefill 400 reaches the client with the engine's message, without a retry") {
  ClusterSpec spec = TwoGroups({"--max-model-len", "32"});
  spec.pods[2].sim_args = {"--max-model-len", "32"};
  Cluster cluster(spec);
  const std::string long_prompt = R"({"model":"deepseek-ai/DeepSeekV2","prompt":")" +
                                  std::string(400, 'a') + " " + std::string(400, 'b') +
                                  R"(","max_tokens":8})";
  auto response = cluster.Post("/v1/completions", long_prompt);
  REQUIRE(response.ok());
  INFO(response->body);
  CHECK(response->status == 400);
  CHECK(response->body.find("maximum context length") != std::string::npos);
  CHECK(JsonNumberAt(response->body, "/error/code").has_value());
  // Exactly one prefill engine saw it; nothing reached a decode.
  CHECK(cluster.Stat(0, "/requests/rejected") + cluster.Stat(2, "/requests/rejected") == 1);
  CHECK(cluster.Stat(1, "/requests/decode") + cluster.Stat(3, "/requests/decode") == 0);
}

TEST_CASE("a decode failing before its first byte moves the request to a new pair") {
  Cluster cluster(TwoGroups({}, {"--fail-rate", "1", "--fail-status", "503"}));
  for (int i = 0; i < 4; ++i) {
    auto response = cluster.Post("/v1/chat/completions", ChatBody(true));
    REQUIRE(response.ok());
    CHECK(response->status == 200);
    auto events = DataEvents(response->body);
    CHECK(std::count(events.begin(), events.end(), "[DONE]") == 1);
  }
  CHECK(cluster.Stat(3, "/requests/decode") == 4);
}

TEST_CASE("a decode dying mid-stream ends the stream with an error event and [DONE], no retry") {
  ClusterSpec spec =
      OneGroup("nixl", {}, {"--drop-mid-stream-rate", "1", "--mid-stream-after", "3"});
  Cluster cluster(spec);
  auto response = cluster.Post("/v1/chat/completions", ChatBody(true));
  REQUIRE(response.ok());
  INFO(response->body);
  CHECK(response->status == 200);
  auto events = DataEvents(response->body);
  REQUIRE(events.size() >= 2);
  CHECK(events.back() == "[DONE]");
  CHECK(events[events.size() - 2].find("\"error\"") != std::string::npos);
  CHECK(std::count(events.begin(), events.end(), "[DONE]") == 1);
  CHECK(cluster.Stat(1, "/requests/decode") == 1);
}

TEST_CASE("no usable pair: 503 with Retry-After") {
  ClusterSpec spec = OneGroup("nixl");
  spec.pods = {{"g0", "prefill", {}}};  // a group without a decode cannot serve
  Cluster cluster(spec);
  auto response = cluster.Post("/v1/chat/completions", ChatBody(false));
  REQUIRE(response.ok());
  CHECK(response->status == 503);
  CHECK(response->Header("retry-after") == "1");
  CHECK(JsonNumberAt(response->body, "/error/code") == std::nullopt);
  CHECK(response->body.find("\"code\":\"no_available_endpoint\"") != std::string::npos);
}

TEST_CASE("every leg carries the client's X-Request-Id, echoed back") {
  Cluster cluster(OneGroup("nixl"));
  auto response =
      cluster.Post("/v1/chat/completions", ChatBody(false), {{"X-Request-Id", "req-42"}});
  REQUIRE(response.ok());
  CHECK(response->Header("x-request-id") == "req-42");
  // vLLM builds the response id from the request id.
  CHECK(response->body.find("chatcmpl-req-42") != std::string::npos);
}

TEST_CASE("upstream Authorization: the client's by default, replaced when the ModelServer says") {
  SECTION("forwarded: the engines' --api-key check sees the client's key") {
    Cluster cluster(OneGroup("nixl", {"--api-key", "k1"}, {"--api-key", "k1"}));
    auto ok =
        cluster.Post("/v1/chat/completions", ChatBody(false), {{"Authorization", "Bearer k1"}});
    REQUIRE(ok.ok());
    CHECK(ok->status == 200);
    auto denied =
        cluster.Post("/v1/chat/completions", ChatBody(false), {{"Authorization", "Bearer nope"}});
    REQUIRE(denied.ok());
    CHECK(denied->status == 401);
    // vLLM's bare {"error":"Unauthorized"} arrives in the OpenAI shape.
    CHECK(
        denied->body ==
        R"({"error":{"message":"Unauthorized","type":"authentication_error","param":null,"code":401}})");
  }
  SECTION("replaced: pdgate sends its own key whatever the client sent") {
    setenv("PDGATE_TEST_ENGINE_KEY", "k2", 1);
    ClusterSpec spec = OneGroup("nixl", {"--api-key", "k2"}, {"--api-key", "k2"});
    spec.server_annotation = "pdgate.io/upstream-authorization: secret-env:PDGATE_TEST_ENGINE_KEY";
    Cluster cluster(spec);
    auto anonymous = cluster.Post("/v1/chat/completions", ChatBody(true));
    REQUIRE(anonymous.ok());
    CHECK(anonymous->status == 200);
    auto other = cluster.Post("/v1/chat/completions", ChatBody(false),
                              {{"Authorization", "Bearer client-key"}});
    REQUIRE(other.ok());
    CHECK(other->status == 200);
  }
}
