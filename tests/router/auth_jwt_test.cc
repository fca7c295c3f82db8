// Authentication end to end with JWTs: pdgate in front of an engine simulator, JWTs minted by a
// separate identity provider (tests/router/auth/jwks_server.py, python3-cryptography) whose JWKS
// pdgate fetches over HTTP and HTTPS, rotates and outlives. API keys are in auth_test.cc.
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

// The string value of a top-level JSON member, e.g. "token" of {"token": "..."}.
std::string StringMember(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\": \"";
  const size_t at = json.find(key);
  if (at == std::string::npos) return {};
  const size_t start = at + key.size();
  return json.substr(start, json.find('"', start) - start);
}

// The identity provider: JWKS and a token mint, in another process and another implementation.
class IdentityProvider {
 public:
  explicit IdentityProvider(bool down = false, const std::string& cert = "",
                            const std::string& key = "")
      : port_(FreePort()), control_port_(port_), tls_(!cert.empty()) {
    std::vector<std::string> argv = {"python3", SourcePath("tests/router/auth/jwks_server.py"),
                                     "--port", std::to_string(port_)};
    if (down) argv.push_back("--down");
    if (tls_) {
      control_port_ = FreePort();
      argv.insert(argv.end(), {"--tls-cert", cert, "--tls-key", key, "--control-port",
                               std::to_string(control_port_)});
    }
    auto process = ChildProcess::Start(argv);
    if (!process.ok()) throw std::runtime_error("cannot start jwks_server.py");
    process_.emplace(std::move(*process));
    const bool up = WaitForHttpStatus("127.0.0.1", control_port_, "/_control/state", 200, 10s) &&
                    WaitForPort("127.0.0.1", port_, 10s);
    if (!up) throw std::runtime_error("jwks_server.py did not come up: " + process_->Stderr());
  }

  std::string Uri() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
           "/jwks.json";
  }

  // A token signed with `kid` (published or not) by `alg`; `claims` is a JSON object.
  std::string Token(const std::string& kid, const std::string& alg, const std::string& claims) {
    auto response = Control("/_control/token", R"({"kid":")" + kid + R"(","alg":")" + alg +
                                                   R"(","claims":)" + claims + "}");
    return StringMember(response, "token");
  }
  void Rotate(const std::string& body) { Control("/_control/rotate", body); }
  void SetDown(bool down) {
    Control("/_control/down", down ? R"({"on":true})" : R"({"on":false})");
  }

 private:
  std::string Control(const std::string& target, const std::string& body) {
    auto response = HttpRequest("127.0.0.1", control_port_, "POST", target, body,
                                {{"Content-Type", "application/json"}});
    if (!response.ok() || response->status != 200) {
      throw std::runtime_error("control " + target + " failed");
    }
    return response->body;
  }

  uint16_t port_;
  uint16_t control_port_;  // plain HTTP: port_ itself with TLS off
  bool tls_;
  std::optional<ChildProcess> process_;
};

std::string Claims(const std::string& sub, int exp_in, const std::string& extra = "") {
  return R"({"sub":")" + sub + R"(","iss":"https://idp.test","aud":"pdgate","exp_in":)" +
         std::to_string(exp_in) + extra + "}";
}

std::string JwtAuthYaml(const IdentityProvider& idp, const std::string& extra = "") {
  return "    issuer: https://idp.test\n    audiences: [pdgate]\n    jwksUri: " + idp.Uri() +
         "\n    jwksMinRefreshInterval: 100ms\n" + extra;
}

}  // namespace

TEST_CASE("JWT: every algorithm from an independent signer, claims checked, fail closed") {
  IdentityProvider idp;
  const std::string log_path = TempPath("jwt.log");
  Cluster cluster(AggregatedSpec(JwtAuthYaml(idp, "    tenantClaim: org\n"), log_path));
  REQUIRE(WaitForHttpStatus("127.0.0.1", cluster.router_port(), "/readyz", 200, 10s));

  SECTION("RS256, PS256, ES256 and EdDSA tokens pass") {
    for (const auto& [kid, alg] :
         std::vector<std::pair<std::string, std::string>>{{"rsa-1", "RS256"},
                                                          {"rsa-1", "RS512"},
                                                          {"rsa-1", "PS256"},
                                                          {"ec-1", "ES256"},
                                                          {"ed-1", "EdDSA"}}) {
      const std::string token = idp.Token(kid, alg, Claims("alice", 300, R"(,"org":"acme")"));
      REQUIRE_FALSE(token.empty());
      auto response = Chat(cluster, {{"Authorization", Bearer(token)}});
      INFO(alg << ": " << (response.ok() ? response->body : "no answer"));
      CHECK(StatusOf(response) == 200);
    }
    // A token used again is found in the cache, not verified again. The cache is per io thread
    // (two here) and each request comes on a new connection: of three, two share a thread.
    const std::string token = idp.Token("ec-1", "ES256", Claims("bob", 300));
    for (int i = 0; i < 3; ++i) {
      CHECK(StatusOf(Chat(cluster, {{"Authorization", Bearer(token)}})) == 200);
    }
    const std::string metrics = Metrics(cluster);
    CHECK(MetricValue(metrics, R"(pdgate_auth_token_cache_total{result="hit"})") >= 1);
  }

  SECTION("expired, wrong audience, wrong issuer, no exp, HS256 and unknown keys are refused") {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"expired", idp.Token("rsa-1", "RS256", Claims("alice", -120))},
        {"bad_audience",
         idp.Token("rsa-1", "RS256",
                   R"({"sub":"a","iss":"https://idp.test","aud":"other","exp_in":300})")},
        {"bad_issuer",
         idp.Token("rsa-1", "RS256",
                   R"({"sub":"a","iss":"https://evil.test","aud":"pdgate","exp_in":300})")},
        {"missing_claim",
         idp.Token("rsa-1", "RS256", R"({"sub":"a","iss":"https://idp.test","aud":"pdgate"})")},
        {"unknown_key", idp.Token("never-published", "RS256", Claims("alice", 300))},
    };
    for (const auto& [reason, token] : bad) {
      REQUIRE_FALSE(token.empty());
      auto response = Chat(cluster, {{"Authorization", Bearer(token)}, {"X-Request-Id", reason}});
      REQUIRE(response.ok());
      INFO(reason << ": " << response->body);
      CHECK(response->status == 401);
      CHECK(response->body.find(R"("code":"invalid_api_key")") != std::string::npos);
    }
    // A tampered payload: the signature no longer holds.
    std::string tampered = idp.Token("rsa-1", "RS256", Claims("alice", 300));
    const size_t dot = tampered.find('.');
    tampered[dot + 5] = tampered[dot + 5] == 'A' ? 'B' : 'A';
    CHECK(StatusOf(Chat(cluster, {{"Authorization", Bearer(tampered)}})) == 401);
    CHECK(cluster.Stat(0, "/requests/plain") == 0);
    // The reasons are in the access log and the metric, not in the answers.
    std::string text;
    REQUIRE(Eventually(
        [&] {
          text = ReadText(log_path);
          return text.find(R"("request_id":"unknown_key")") != std::string::npos;
        },
        5s));
    for (const auto& [reason, refused] : bad) {
      CHECK(text.find(R"("request_id":")" + reason + R"(")") != std::string::npos);
      CHECK(text.find(R"("auth_error":")" + reason + R"(")") != std::string::npos);
      CHECK(text.find(refused) == std::string::npos);  // never logged
    }
    const std::string metrics = Metrics(cluster);
    CHECK(MetricValue(metrics, R"(pdgate_auth_requests_total{method="jwt",result="expired"})") ==
          1);
    CHECK(MetricValue(metrics,
                      R"(pdgate_auth_requests_total{method="jwt",result="bad_signature"})") == 1);
  }
  std::remove(log_path.c_str());
}

TEST_CASE("JWKS: rotation without restart, not ready until the first set, last good set kept") {
  SECTION("a new key is fetched on its first use; a removed key stops working") {
    IdentityProvider idp;
    const std::string log_path = TempPath("rotate.log");
    Cluster cluster(AggregatedSpec(JwtAuthYaml(idp, "    jwksRefreshInterval: 1s\n"), log_path));
    REQUIRE(WaitForHttpStatus("127.0.0.1", cluster.router_port(), "/readyz", 200, 10s));
    const std::string old_token = idp.Token("rsa-1", "RS256", Claims("alice", 300));
    REQUIRE(StatusOf(Chat(cluster, {{"Authorization", Bearer(old_token)}})) == 200);

    idp.Rotate(R"({"add":[{"kid":"rsa-2","kty":"RSA"}],"remove":["rsa-1"]})");
    const std::string new_token = idp.Token("rsa-2", "RS256", Claims("alice", 300));
    // The unknown kid triggers a fetch (at most every 100 ms here): the token passes soon.
    CHECK(Eventually(
        [&] {
          return StatusOf(Chat(cluster, {{"Authorization", Bearer(new_token)}})) == 200;
        },
        5s));
    // The removed key's token, cached before, stops working with the new set.
    CHECK(Eventually(
        [&] {
          return StatusOf(Chat(cluster, {{"Authorization", Bearer(old_token)}})) == 401;
        },
        5s));
    std::remove(log_path.c_str());
  }

  SECTION("JWKS down at start: not ready and JWTs refused; then up: ready and accepted") {
    IdentityProvider idp(/*down=*/true);
    const std::string log_path = TempPath("down.log");
    Cluster cluster(AggregatedSpec(JwtAuthYaml(idp), log_path));
    auto ready = HttpRequest("127.0.0.1", cluster.router_port(), "GET", "/readyz");
    REQUIRE(ready.ok());
    CHECK(ready->status == 503);
    const std::string token = idp.Token("rsa-1", "RS256", Claims("alice", 300));
    auto refused = Chat(cluster, {{"Authorization", Bearer(token)}});
    REQUIRE(refused.ok());
    CHECK(refused->status == 401);
    CHECK(MetricValue(Metrics(cluster),
                      R"(pdgate_auth_requests_total{method="jwt",result="jwks_unavailable"})") ==
          1);
    idp.SetDown(false);
    CHECK(WaitForHttpStatus("127.0.0.1", cluster.router_port(), "/readyz", 200, 10s));
    CHECK(StatusOf(Chat(cluster, {{"Authorization", Bearer(token)}})) == 200);
    std::remove(log_path.c_str());
  }

  SECTION("JWKS down later: the last good set keeps serving, failures are counted") {
    IdentityProvider idp;
    const std::string log_path = TempPath("later.log");
    Cluster cluster(AggregatedSpec(JwtAuthYaml(idp, "    jwksRefreshInterval: 1s\n"), log_path));
    REQUIRE(WaitForHttpStatus("127.0.0.1", cluster.router_port(), "/readyz", 200, 10s));
    idp.SetDown(true);
    CHECK(Eventually(
        [&] {
          return MetricValue(Metrics(cluster),
                             R"(pdgate_auth_jwks_fetches_total{result="failure"})") >= 1;
        },
        10s));
    const std::string token = idp.Token("ec-1", "ES256", Claims("alice", 300));
    CHECK(StatusOf(Chat(cluster, {{"Authorization", Bearer(token)}})) == 200);
    CHECK(MetricValue(Metrics(cluster), "pdgate_auth_jwks_keys") == 3);
    std::remove(log_path.c_str());
  }
}

TEST_CASE("JWKS over HTTPS with a configured CA file") {
  const std::string dir = TempPath("tls");
  const std::string cert = dir + "-cert.pem";
  const std::string key = dir + "-key.pem";
  auto made =
      RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                  "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert});
  REQUIRE(made.ok());
  REQUIRE(made->exit_code == 0);
  IdentityProvider idp(false, cert, key);
  const std::string log_path = TempPath("tls.log");
  SECTION("trusted: the set is fetched") {
    Cluster cluster(AggregatedSpec(JwtAuthYaml(idp, "    jwksCaFile: " + cert + "\n"), log_path));
    REQUIRE(WaitForHttpStatus("127.0.0.1", cluster.router_port(), "/readyz", 200, 10s));
    const std::string token = idp.Token("rsa-1", "RS256", Claims("alice", 300));
    CHECK(StatusOf(Chat(cluster, {{"Authorization", Bearer(token)}})) == 200);
  }
  SECTION("untrusted (system CAs only): no set, never ready, JWTs refused") {
    Cluster cluster(AggregatedSpec(JwtAuthYaml(idp), log_path));
    CHECK(Eventually(
        [&] {
          return MetricValue(Metrics(cluster),
                             R"(pdgate_auth_jwks_fetches_total{result="failure"})") >= 1;
        },
        10s));
    auto ready = HttpRequest("127.0.0.1", cluster.router_port(), "GET", "/readyz");
    REQUIRE(ready.ok());
    CHECK(ready->status == 503);
    const std::string token = idp.Token("rsa-1", "RS256", Claims("alice", 300));
    CHECK(StatusOf(Chat(cluster, {{"Authorization", Bearer(token)}})) == 401);
  }
  std::remove(cert.c_str());
  std::remove(key.c_str());
  std::remove(log_path.c_str());
}
