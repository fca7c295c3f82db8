// Authentication end to end with API keys: pdgate in front of an engine simulator, keys from a
// file, 401 and 403, and the client's credential kept from the engines. JWTs are in
// auth_jwt_test.cc.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/router/auth_test_util.h"
#include "tests/router/pd_cluster.h"
#include "tests/router/router_test_util.h"
#include "tests/support/eventually.h"
#include "tests/support/paths.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

const std::string kClientKey = "sk-client-0123456789abcdef";  // team-a, every model
const std::string kNarrowKey = "sk-narrow-0123456789abcdef";  // team-b, another model only

}  // namespace

TEST_CASE("API keys from a file: 401 without or with a wrong key, 403 outside allowed models") {
  const std::string keys_path = TempPath("keys.yaml");
  std::ofstream(keys_path) << "- {id: client, key: " << kClientKey
                           << ", user: alice, tenant: team-a}\n"
                           << "- {id: narrow, key: " << kNarrowKey
                           << ", tenant: team-b, models: [other-model]}\n";
  const std::string log_path = TempPath("access.log");
  std::remove(log_path.c_str());
  Cluster cluster(AggregatedSpec("    apiKeysFile: " + keys_path + "\n", log_path));

  SECTION("refusals are 401 in OpenAI's shape and reach no engine") {
    for (const auto& headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
             {},
             {{"Authorization", Bearer("sk-wrong-0123456789abcdef")}},
             {{"Authorization", "Basic " + kClientKey}},
             {{"x-api-key", "sk-wrong"}},
             {{"Authorization", "Bearer"}}}) {
      auto response = Chat(cluster, headers);
      REQUIRE(response.ok());
      INFO(response->body);
      CHECK(response->status == 401);
      CHECK(response->Header("www-authenticate") == "Bearer");
      CHECK(response->body.find(R"("type":"invalid_request_error")") != std::string::npos);
      CHECK(response->body.find(R"("code":"invalid_api_key")") != std::string::npos);
    }
    // An unknown /v1 path is refused as well: paths cannot be probed without a credential.
    auto probe = HttpRequest("127.0.0.1", cluster.router_port(), "GET", "/v1/nothing-here");
    REQUIRE(probe.ok());
    CHECK(probe->status == 401);
    CHECK(cluster.Stat(0, "/requests/plain") == 0);
    // Probes and the admin port are not behind authentication.
    auto health = HttpRequest("127.0.0.1", cluster.router_port(), "GET", "/healthz");
    REQUIRE(health.ok());
    CHECK(health->status == 200);
    const std::string metrics = Metrics(cluster);
    CHECK(MetricValue(metrics,
                      R"(pdgate_auth_requests_total{method="none",result="missing_credential"})") >=
          1);
    CHECK(MetricValue(metrics,
                      R"(pdgate_auth_requests_total{method="api_key",result="unknown_api_key"})") ==
          2);
    CHECK(MetricValue(metrics,
                      R"(pdgate_auth_requests_total{method="none",result="malformed_header"})") ==
          2);
  }

  SECTION("a valid key passes, as Bearer or x-api-key; the access log names the principal") {
    auto bearer = Chat(cluster, {{"Authorization", Bearer(kClientKey)}, {"X-Request-Id", "k-1"}});
    REQUIRE(bearer.ok());
    INFO(bearer->body);
    CHECK(bearer->status == 200);
    auto header = Chat(cluster, {{"x-api-key", kClientKey}});
    REQUIRE(header.ok());
    CHECK(header->status == 200);
    CHECK(MetricValue(Metrics(cluster),
                      R"(pdgate_auth_requests_total{method="api_key",result="ok"})") == 2);
    std::string line;
    REQUIRE(Eventually(
        [&] {
          const std::string text = ReadText(log_path);
          const size_t at = text.find(R"("request_id":"k-1")");
          if (at == std::string::npos) return false;
          line = text.substr(text.rfind('\n', at) + 1);
          line = line.substr(0, line.find('\n'));
          return true;
        },
        5s));
    INFO(line);
    CHECK(line.find(R"("auth":"api_key","user":"alice","tenant":"team-a")") != std::string::npos);
    CHECK(ReadText(log_path).find(kClientKey) == std::string::npos);  // never logged
  }

  SECTION("a model outside the key's allowed models is 403 permission_denied; /v1/models agrees") {
    auto response = Chat(cluster, {{"Authorization", Bearer(kNarrowKey)}});
    REQUIRE(response.ok());
    INFO(response->body);
    CHECK(response->status == 403);
    CHECK(response->body.find(R"("code":"permission_denied")") != std::string::npos);
    CHECK(cluster.Stat(0, "/requests/plain") == 0);
    auto narrow = HttpRequest("127.0.0.1", cluster.router_port(), "GET", "/v1/models", "",
                              {{"Authorization", Bearer(kNarrowKey)}});
    REQUIRE(narrow.ok());
    CHECK(narrow->status == 200);
    CHECK(narrow->body.find("DeepSeekV2") == std::string::npos);
    auto wide = HttpRequest("127.0.0.1", cluster.router_port(), "GET", "/v1/models", "",
                            {{"Authorization", Bearer(kClientKey)}});
    REQUIRE(wide.ok());
    CHECK(wide->body.find("DeepSeekV2") != std::string::npos);
    CHECK(MetricValue(Metrics(cluster), "pdgate_auth_forbidden_total") == 1);
  }
  SECTION("the keys file is read again when it changes (a mounted Secret being updated)") {
    const std::string rotated = "sk-rotated-0123456789abcdef";
    REQUIRE(StatusOf(Chat(cluster, {{"Authorization", Bearer(rotated)}})) == 401);
    std::ofstream(keys_path) << "- {id: rotated, key: " << rotated << "}\n";
    CHECK(Eventually(
        [&] {
          return StatusOf(Chat(cluster, {{"Authorization", Bearer(rotated)}})) == 200;
        },
        10s));
    // The key taken out of the file stops working.
    CHECK(StatusOf(Chat(cluster, {{"Authorization", Bearer(kClientKey)}})) == 401);
  }
  std::remove(keys_path.c_str());
  std::remove(log_path.c_str());
}

TEST_CASE("the client's credential stays with pdgate unless configured to go on") {
  const std::string log_path = TempPath("forward.log");
  const std::string keys = "    apiKeys: [{id: client, key: " + kClientKey + "}]\n";
  SECTION("by default the engine does not see it") {
    // The engine wants the client's key: it only gets it if pdgate forwards it.
    ClusterSpec spec = AggregatedSpec(keys, log_path);
    spec.pods = {{"", "", {"--api-key", kClientKey}}};
    Cluster cluster(spec);
    auto response = Chat(cluster, {{"Authorization", Bearer(kClientKey)}});
    REQUIRE(response.ok());
    INFO(response->body);
    CHECK(response->status == 401);  // the engine's own 401, relayed
    CHECK(response->body.find("Unauthorized") != std::string::npos);
  }
  SECTION("forwardCredential: true sends it on") {
    ClusterSpec spec = AggregatedSpec(keys + "    forwardCredential: true\n", log_path);
    spec.pods = {{"", "", {"--api-key", kClientKey}}};
    Cluster cluster(spec);
    auto response = Chat(cluster, {{"Authorization", Bearer(kClientKey)}});
    REQUIRE(response.ok());
    CHECK(response->status == 200);
  }
  SECTION("a ModelServer's own key from a file (a mounted Secret) replaces it") {
    const std::string secret = TempPath("engine-key");
    std::ofstream(secret) << "sk-engine-key\n";
    ClusterSpec spec = AggregatedSpec(keys, log_path);
    spec.pods = {{"", "", {"--api-key", "sk-engine-key"}}};
    spec.server_annotation = "pdgate.io/upstream-authorization: secret-file:" + secret;
    Cluster cluster(spec);
    auto response = Chat(cluster, {{"Authorization", Bearer(kClientKey)}});
    REQUIRE(response.ok());
    INFO(response->body);
    CHECK(response->status == 200);
    std::remove(secret.c_str());
  }
  std::remove(log_path.c_str());
}
