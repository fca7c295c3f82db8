#include "config/kubeconfig.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

namespace pdgate::config {
namespace {

constexpr const char* kKubeconfig = R"(
apiVersion: v1
kind: Config
current-context: dev
contexts:
  - name: dev
    context: {cluster: c1, user: u1, namespace: team}
  - name: other
    context: {cluster: c2, user: u2}
clusters:
  - name: c1
    cluster:
      server: https://10.1.2.3:6443
      certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
  - name: c2
    cluster: {server: "http://[::1]:8001/", insecure-skip-tls-verify: true}
users:
  - name: u1
    user: {token: abc}
  - name: u2
    user: {tokenFile: token.txt}
)";

}  // namespace

TEST_CASE("kubeconfig: the current context's server, CA data, token and namespace",
          "[kubernetes]") {
  auto endpoint = ParseKubeconfig(kKubeconfig, "/base");
  REQUIRE(endpoint.ok());
  CHECK(endpoint->tls);
  CHECK(endpoint->host == "10.1.2.3");
  CHECK(endpoint->port == 6443);
  CHECK(endpoint->ca_pem == "-----BEGIN CERTIFICATE-----");
  CHECK(endpoint->CurrentToken() == "abc");
  CHECK(endpoint->namespace_ == "team");

  auto other = ParseKubeconfig(kKubeconfig, "/base", "other");
  REQUIRE(other.ok());
  CHECK_FALSE(other->tls);
  CHECK(other->host == "::1");
  CHECK(other->port == 8001);
  CHECK(other->insecure_skip_tls_verify);
  CHECK(other->token_file == "/base/token.txt");

  CHECK_FALSE(ParseKubeconfig(kKubeconfig, "/base", "missing").ok());
  CHECK_FALSE(ParseKubeconfig("[1, 2", "/").ok());
  CHECK_FALSE(ParseKubeconfig("current-context: x\n", "/").ok());
  CHECK_FALSE(
      ParseKubeconfig("current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
                      "clusters: [{name: c, cluster: {server: https://h}}]\n"
                      "users: [{name: u, user: {exec: {command: aws}}}]\n",
                      "/")
          .ok());
}

TEST_CASE("server URLs", "[kubernetes]") {
  KubeEndpoint endpoint;
  REQUIRE(ParseServerUrl("https://api.example.com", endpoint).ok());
  CHECK(endpoint.port == 443);
  REQUIRE(ParseServerUrl("http://localhost:8080/", endpoint).ok());
  CHECK(endpoint.port == 8080);
  CHECK_FALSE(endpoint.tls);
  CHECK_FALSE(ParseServerUrl("ftp://x", endpoint).ok());
  CHECK_FALSE(ParseServerUrl("https://x:0", endpoint).ok());
  CHECK_FALSE(ParseServerUrl("https://x:99999", endpoint).ok());
  CHECK_FALSE(ParseServerUrl("https://x/prefix", endpoint).ok());
}

TEST_CASE("in-cluster: service host and port, and the mounted service account", "[kubernetes]") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("pdgate-sa-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "first\n";
  std::ofstream(dir / "ca.crt") << "CA";
  std::ofstream(dir / "namespace") << "serving\n";
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto endpoint = InClusterEndpoint(getenv, dir.string());
  REQUIRE(endpoint.ok());
  CHECK(endpoint->host == "10.96.0.1");
  CHECK(endpoint->port == 443);
  CHECK(endpoint->ca_pem == "CA");
  CHECK(endpoint->namespace_ == "serving");
  CHECK(endpoint->CurrentToken() == "first");
  // The kubelet rotates the token: the next request reads the new one.
  std::ofstream(dir / "token") << "second";
  CHECK(endpoint->CurrentToken() == "second");

  env.erase("KUBERNETES_SERVICE_HOST");
  CHECK_FALSE(InClusterEndpoint(getenv, dir.string()).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace pdgate::config
