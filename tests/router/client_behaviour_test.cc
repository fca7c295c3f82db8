// What clients can do to pdgate: hang up at any moment, send broken or hostile requests, send
// slowly — each gets the right answer, and the router keeps serving everyone else meanwhile.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <thread>

#include "tests/router/pd_cluster.h"
#include "tests/router/raw_connection.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

std::string Post(const std::string& body, const std::string& extra_headers = "") {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

ClusterSpec SlowCluster(std::vector<std::string> prefill_args,
                        std::vector<std::string> decode_args) {
  ClusterSpec spec;
  spec.pods = {{"g0", "prefill", prefill_args}, {"g0", "decode", decode_args}};
  return spec;
}

const std::string kShortChat =
    R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Hi"}],"max_tokens":4})";

const std::string kStoryStream =
    R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Write a long story."}],"max_tokens":2000,"ignore_eos":true,"stream":true})";

}  // namespace

TEST_CASE("a client hanging up during the prefill aborts it on the engine within 100 ms") {
  // A prefill made 2000x slower takes seconds.
  Cluster cluster(SlowCluster({"--prefill-multiplier", "2000"}, {}));
  RawConnection client(cluster.router_port());
  REQUIRE(client.connected());
  REQUIRE(client.Send(Post(kStoryStream)));
  REQUIRE(cluster.WaitForStat(0, "/running", 1, 5s));
  client.Close();
  const auto closed = std::chrono::steady_clock::now();
  REQUIRE(cluster.WaitForStat(0, "/finished/abort", 1, 2s));
  CHECK(std::chrono::steady_clock::now() - closed < 100ms);
  CHECK(cluster.Stat(1, "/requests/decode") == 0);
}

TEST_CASE("a client hanging up during the decode stream aborts it on the engine within 100 ms") {
  Cluster cluster(SlowCluster({}, {}));
  RawConnection client(cluster.router_port());
  REQUIRE(client.connected());
  REQUIRE(client.Send(Post(kStoryStream)));
  REQUIRE(client.ReadUntil("\"content\"", 10s));
  client.Close();
  const auto closed = std::chrono::steady_clock::now();
  REQUIRE(cluster.WaitForStat(1, "/finished/abort", 1, 2s));
  CHECK(std::chrono::steady_clock::now() - closed < 100ms);
}

TEST_CASE("Expect: 100-continue is honoured in any letter case before the body is sent") {
  Cluster cluster(SlowCluster({}, {}));
  const std::string body =
      R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"hi"}],"max_tokens":3})";
  for (const std::string expect : {"100-continue", "100-Continue"}) {
    RawConnection client(cluster.router_port());
    REQUIRE(client.connected());
    const std::string request = Post(body, "Expect: " + expect + "\r\n");
    // The head alone: the body waits for the interim response, as curl and the SDKs do.
    REQUIRE(client.Send(request.substr(0, request.size() - body.size())));
    INFO("Expect: " << expect);
    REQUIRE(client.ReadUntil("HTTP/1.1 100 Continue\r\n\r\n", 5s));
    REQUIRE(client.Send(body));
    CHECK(client.ReadUntil("\"finish_reason\"", 10s));
    CHECK(client.received().find("HTTP/1.1 200 OK") != std::string::npos);
  }
}

TEST_CASE("pipelined requests on one connection are answered in order") {
  Cluster cluster(SlowCluster({}, {}));
  RawConnection client(cluster.router_port());
  REQUIRE(client.connected());
  auto body = [](const std::string& word) {
    return R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":")" + word +
           R"("}],"max_tokens":3})";
  };
  // Three requests in one write, with their ids, before any answer.
  REQUIRE(client.Send(Post(body("one"), "X-Request-Id: first\r\n") +
                      Post(body("two"), "X-Request-Id: second\r\n") +
                      "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(client.ReadUntil("\"owned_by\":\"pdgate\"", 10s));
  const std::string& all = client.received();
  const size_t first = all.find("x-request-id: first");
  const size_t second = all.find("x-request-id: second");
  const size_t models = all.find("\"object\":\"list\"");
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  CHECK(first < second);
  CHECK(second < models);
}

TEST_CASE("a stream is relayed event by event: the first token arrives long before the last") {
  Cluster cluster(SlowCluster({}, {}));
  RawConnection client(cluster.router_port());
  REQUIRE(client.connected());
  const auto start = std::chrono::steady_clock::now();
  // 150 tokens at ~12 ms a decode step: about 2 s in all.
  REQUIRE(client.Send(Post(
      R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Write."}],"max_tokens":150,"ignore_eos":true,"stream":true})")));
  REQUIRE(client.ReadUntil("\"content\":\" ", 5s));  // the first generated token
  const auto first = std::chrono::steady_clock::now() - start;
  REQUIRE(client.ReadUntil("[DONE]", 10s));
  const auto all = std::chrono::steady_clock::now() - start;
  CHECK(first < 300ms);
  CHECK(all > 1s);
}

TEST_CASE(
    "bad requests get the right status and an OpenAI error, and others are served meanwhile") {
  ClusterSpec spec;
  spec.pods = {{"g0", "prefill", {}}, {"g0", "decode", {}}};
  spec.extra_settings =
      "  limits: {maxRequestBodyBytes: 4096, maxRequestHeaderBytes: 2048}\n"
      "  timeouts: {requestHeader: 1s}\n";
  Cluster cluster(spec);

  // A slow client sending its headers a byte at a time holds a connection open...
  RawConnection slow(cluster.router_port());
  REQUIRE(slow.connected());
  REQUIRE(slow.Send("POST /v1/chat/completions HTTP/1.1\r\nHo"));

  struct Case {
    const char* what;
    std::string raw;
    int status;
    const char* message;
  };
  const std::string big(5000, 'x');
  const std::vector<Case> cases = {
      {"invalid JSON", Post(R"({"model":)"), 400, "not valid JSON"},
      {"trailing bytes",
       Post(R"({"model":"deepseek-ai/DeepSeekV2","prompt":"a"} {"model":"other"})"), 400,
       "Unexpected data after the JSON object."},
      {"duplicated model", Post(R"({"model":"deepseek-ai/DeepSeekV2","model":"other"})"), 400,
       "Duplicate key `model`"},
      {"escaped duplicate model",
       Post(R"({"model":"deepseek-ai/DeepSeekV2","mod\u0065l":"other"})"), 400,
       "Duplicate key `model`"},
      {"missing model", Post(R"({"messages":[]})"), 400, "`model` is required."},
      {"unknown model", Post(R"({"model":"gpt-4","messages":[]})"), 404, "does not exist"},
      {"stream_options without stream",
       Post(
           R"({"model":"deepseek-ai/DeepSeekV2","messages":[],"stream_options":{"include_usage":true}})"),
       400, "Stream options can only be defined when `stream=True`."},
      {"oversize body by Content-Length", Post(R"({"model":")" + big + R"("})"), 413,
       "larger than 4096 bytes"},
      {"oversize chunked body",
       "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
           std::string("1388\r\n") + std::string(5000, ' ') + "\r\n0\r\n\r\n",
       413, "larger than 4096 bytes"},
      {"oversize headers", Post("{}", "X-Big: " + std::string(3000, 'h') + "\r\n"), 431,
       "too large"},
      {"unknown path", "GET /v2/nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404, "No such path"},
      // Trailer fields after a chunked body must not disturb the head read before it: the
      // path in the answer is the request's, byte for byte.
      {"unknown path, chunked body with trailers",
       "POST /v2/trailing-path-abcdefghijklmnopqrstuvwxyz HTTP/1.1\r\nHost: x\r\n"
       "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer-1: " +
           std::string(600, 't') + "\r\nAuthorization: Bearer trailer\r\n\r\n",
       404, "No such path: /v2/trailing-path-abcdefghijklmnopqrstuvwxyz\""},
      {"wrong method", "GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n", 405, "not allowed"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    RawConnection connection(cluster.router_port());
    REQUIRE(connection.connected());
    REQUIRE(connection.Send(c.raw));
    REQUIRE(connection.ReadUntil("}}", 5s));
    const std::string& response = connection.received();
    INFO(response);
    CHECK(response.rfind("HTTP/1.1 " + std::to_string(c.status), 0) == 0);
    CHECK(response.find(R"({"error":{"message":)") != std::string::npos);
    CHECK(response.find(c.message) != std::string::npos);
    // ...and a good request is served while the slow one still dribbles.
    slow.Send("s");
  }
  auto good = cluster.Post(
      "/v1/chat/completions",
      R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"hi"}],"max_tokens":4})");
  REQUIRE(good.ok());
  CHECK(good->status == 200);
  // The slow client is cut off at requestHeader (1 s) without an answer.
  CHECK(slow.ReadUntil("never", 3s) == false);
  CHECK(slow.received().empty());
}

TEST_CASE("a chunked request whose trailer says Connection: close is answered, then closed") {
  ClusterSpec spec;
  spec.pods = {{"g0", "prefill", {}}, {"g0", "decode", {}}};
  Cluster cluster(spec);
  const auto chunked = [](const std::string& trailer) {
    std::ostringstream hex;
    hex << std::hex << kShortChat.size();
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Transfer-Encoding: chunked\r\n\r\n" +
           hex.str() + "\r\n" + kShortChat + "\r\n0\r\n" + trailer + "\r\n";
  };
  // Without it the connection stays open for the next request...
  RawConnection kept(cluster.router_port());
  REQUIRE(kept.Send(chunked("X-Trailer: 1\r\n")));
  REQUIRE(kept.ReadUntil("\"usage\"", 10s));
  CHECK(kept.received().starts_with("HTTP/1.1 200 OK"));
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(kept.ReadUntil("never", 500ms));
  CHECK(std::chrono::steady_clock::now() - start >= 500ms);  // the deadline, not a close
  // ...with it (RFC 9110 forbids Connection in a trailer; closing is the safe reading) pdgate
  // answers and closes, as the parser's keep_alive() says once the body has ended.
  RawConnection closing(cluster.router_port());
  REQUIRE(closing.Send(chunked("Connection: close\r\n")));
  REQUIRE(closing.ReadUntil("\"usage\"", 10s));
  CHECK(closing.received().starts_with("HTTP/1.1 200 OK"));
  start = std::chrono::steady_clock::now();
  CHECK_FALSE(closing.ReadUntil("never", 5s));
  CHECK(std::chrono::steady_clock::now() - start < 4s);  // the close, not the deadline
}

TEST_CASE(
    "out of file descriptors, pdgate serves its open connections and does not spin on accept") {
  Cluster cluster(SlowCluster({}, {}));
  const pid_t pid = cluster.router().pid();
  // A kept-alive client whose engine connections are pooled: it needs no new descriptor.
  RawConnection kept(cluster.router_port());
  REQUIRE(kept.connected());
  REQUIRE(kept.Send(Post(kShortChat)));
  REQUIRE(kept.ReadUntil("\"usage\"", 10s));

  rlimit original{};
  REQUIRE(prlimit(pid, RLIMIT_NOFILE, nullptr, &original) == 0);
  const rlimit tight{OpenFds(pid) + 2, original.rlim_max};
  REQUIRE(prlimit(pid, RLIMIT_NOFILE, &tight, nullptr) == 0);
  std::vector<std::unique_ptr<RawConnection>> waiting;
  for (int i = 0; i < 16; ++i) {
    waiting.push_back(std::make_unique<RawConnection>(cluster.router_port()));
    REQUIRE(waiting.back()->Send(Post(kShortChat)));  // in the backlog past the limit
  }
  const double cpu_before = CpuSeconds(pid);
  std::this_thread::sleep_for(1s);  // measurement window, not a readiness wait
  const double cpu_used = CpuSeconds(pid) - cpu_before;
  INFO("pdgate CPU during 1 s out of descriptors: " << cpu_used << " s");
  CHECK(cpu_used < 0.3);  // spinning on accept takes a whole core per io thread
  kept.ClearReceived();
  REQUIRE(kept.Send(Post(kShortChat)));
  CHECK(kept.ReadUntil("\"usage\"", 5s));
  CHECK(kept.received().starts_with("HTTP/1.1 200 OK"));

  // With descriptors again, the clients in the backlog are served. The few accepted while out of
  // descriptors could not open a socket to an engine: theirs is pdgate's own 503, and the
  // engines are not blamed for it.
  REQUIRE(prlimit(pid, RLIMIT_NOFILE, &original, nullptr) == 0);
  int served = 0;
  int refused = 0;
  for (auto& client : waiting) {
    REQUIRE(client->ReadUntil("\r\n\r\n", 5s));
    INFO(client->received());
    if (client->received().starts_with("HTTP/1.1 200 OK")) {
      CHECK(client->ReadUntil("\"usage\"", 5s));
      ++served;
    } else {
      CHECK(client->received().starts_with("HTTP/1.1 503 Service Unavailable"));
      CHECK(client->ReadUntil("\"code\":\"router_overloaded\"", 5s));
      ++refused;
    }
  }
  INFO("served " << served << ", refused " << refused);
  CHECK(served >= 10);
  CHECK(cluster.router().Stdout().find("accept: ") != std::string::npos);
}
