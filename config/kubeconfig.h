#pragma once
// Where the Kubernetes API server is and how to authenticate to it: in-cluster (the service
// account's token, CA bundle and namespace mounted into every pod) or a kubeconfig file (running
// outside a cluster). Only what pdgate's list/watch client needs: a server URL, TLS trust, a
// bearer token or a client certificate. Exec and auth-provider plugins are not supported.
#include <absl/status/statusor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace pdgate::config {

struct KubeEndpoint {
  bool tls = true;  // https (or plain http: test servers, `kubectl proxy`)
  std::string host;
  uint16_t port = 443;
  std::string ca_pem;  // trusted CAs (PEM); empty: the system's default paths
  bool insecure_skip_tls_verify = false;
  std::string token;       // a fixed bearer token
  std::string token_file;  // read again for every request: service-account tokens rotate
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string namespace_;  // the context's or service account's namespace ("" when none)

  // The bearer token to send now (token_file wins over token); empty for none.
  std::string CurrentToken() const;
};

// "https://host:port" (port defaults to 443 for https, 80 for http); a trailing "/" is allowed,
// any other path is not (pdgate does not talk to API servers behind a path prefix).
absl::Status ParseServerUrl(std::string_view url, KubeEndpoint& endpoint);

// A kubeconfig document; `context` empty: current-context. Relative file paths in it are relative
// to `base_dir`, as kubectl resolves them.
absl::StatusOr<KubeEndpoint> ParseKubeconfig(std::string_view text, const std::string& base_dir,
                                             std::string_view context = "");
absl::StatusOr<KubeEndpoint> LoadKubeconfig(const std::string& path, std::string_view context = "");

// KUBERNETES_SERVICE_HOST/_PORT and the service account mounted at `secrets_dir`.
using GetEnv = std::function<const char*(const char*)>;
absl::StatusOr<KubeEndpoint> InClusterEndpoint(
    const GetEnv& getenv,
    const std::string& secrets_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace pdgate::config
