#include "config/kubeconfig.h"

#include <absl/strings/escaping.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>

#include "base/strings.h"

namespace pdgate::config {
namespace {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string_view Message(const absl::Status& status) {
  return std::string_view(status.message().data(), status.message().size());
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return StrCat(base_dir, "/", path);
}

std::string Scalar(const YAML::Node& map, const char* key) {
  // Missing keys of a const node are "invalid" nodes: only operator bool may touch them.
  const YAML::Node value = map[key];
  return value && value.IsScalar() ? value.Scalar() : std::string();
}

// The entry of a named list (`clusters`, `users`, `contexts`) with this name, as its inner map.
YAML::Node FindNamed(const YAML::Node& root, const char* list, const char* inner,
                     const std::string& name) {
  const YAML::Node entries = root[list];
  if (!entries || !entries.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
  for (const YAML::Node& entry : entries) {
    if (entry.IsMap() && Scalar(entry, "name") == name) {
      const YAML::Node found = entry[inner];
      if (found) return found;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

// `<key>-data` (base64) or `<key>` (a file path).
absl::StatusOr<std::string> DataOrFile(const YAML::Node& map, const std::string& key,
                                       const std::string& base_dir) {
  const std::string data = Scalar(map, (key + "-data").c_str());
  if (!data.empty()) {
    std::string decoded;
    if (!absl::Base64Unescape(data, &decoded)) {
      return absl::InvalidArgumentError(StrCat(key, "-data is not base64"));
    }
    return decoded;
  }
  const std::string file = Scalar(map, key.c_str());
  if (file.empty()) return std::string();
  std::optional<std::string> text = ReadFile(Resolve(base_dir, file));
  if (!text) return absl::NotFoundError(StrCat(key, ": cannot read ", Resolve(base_dir, file)));
  return *text;
}

}  // namespace

// Internal: ParseKubeconfig without the exception boundary.
absl::StatusOr<KubeEndpoint> ParseKubeconfigOrThrow(std::string_view text,
                                                    const std::string& base_dir,
                                                    std::string_view context_name);

std::string KubeEndpoint::CurrentToken() const {
  if (token_file.empty()) return token;
  std::optional<std::string> text = ReadFile(token_file);
  if (!text) return token;
  // Mounted tokens may end with a newline; header values must not.
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r' || text->back() == ' ')) {
    text->pop_back();
  }
  return *text;
}

absl::Status ParseServerUrl(std::string_view url, KubeEndpoint& endpoint) {
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    endpoint.tls = true;
    endpoint.port = 443;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    endpoint.tls = false;
    endpoint.port = 80;
    rest.remove_prefix(7);
  } else {
    return absl::InvalidArgumentError(
        StrCat("server \"", url, "\" must start with https:// or http://"));
  }
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") {
      return absl::InvalidArgumentError(
          StrCat("server \"", url, "\": a path prefix is not supported"));
    }
    rest = rest.substr(0, slash);
  }
  std::string_view host = rest;
  std::string_view port;
  if (rest.starts_with("[")) {  // [IPv6]:port
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(StrCat("server \"", url, "\": unclosed ["));
    }
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return absl::InvalidArgumentError(StrCat("server \"", url, "\""));
      port = rest.substr(close + 2);
    }
  } else if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return absl::InvalidArgumentError(StrCat("server \"", url, "\": no host"));
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return absl::InvalidArgumentError(StrCat("server \"", url, "\": bad port"));
    }
    endpoint.port = uint16_t(value);
  }
  endpoint.host = std::string(host);
  return absl::OkStatus();
}

absl::StatusOr<KubeEndpoint> ParseKubeconfig(std::string_view text, const std::string& base_dir,
                                             std::string_view context_name) {
  // yaml-cpp throws; nothing it throws leaves this function.
  try {
    return ParseKubeconfigOrThrow(text, base_dir, context_name);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(StrCat("kubeconfig: ", e.what()));
  }
}

absl::StatusOr<KubeEndpoint> ParseKubeconfigOrThrow(std::string_view text,
                                                    const std::string& base_dir,
                                                    std::string_view context_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(StrCat("kubeconfig: invalid YAML: ", e.what()));
  }
  if (!root.IsMap()) return absl::InvalidArgumentError("kubeconfig: not a mapping");
  const std::string name =
      context_name.empty() ? Scalar(root, "current-context") : std::string(context_name);
  if (name.empty()) return absl::InvalidArgumentError("kubeconfig: no current-context");
  const YAML::Node context = FindNamed(root, "contexts", "context", name);
  if (!context.IsMap()) return absl::NotFoundError(StrCat("kubeconfig: no context \"", name, "\""));
  const std::string cluster_name = Scalar(context, "cluster");
  const YAML::Node cluster = FindNamed(root, "clusters", "cluster", cluster_name);
  if (!cluster.IsMap()) {
    return absl::NotFoundError(StrCat("kubeconfig: no cluster \"", cluster_name, "\""));
  }
  KubeEndpoint endpoint;
  endpoint.namespace_ = Scalar(context, "namespace");
  if (absl::Status status = ParseServerUrl(Scalar(cluster, "server"), endpoint); !status.ok()) {
    return absl::InvalidArgumentError(StrCat("kubeconfig: ", Message(status)));
  }
  endpoint.insecure_skip_tls_verify = Scalar(cluster, "insecure-skip-tls-verify") == "true";
  absl::StatusOr<std::string> ca = DataOrFile(cluster, "certificate-authority", base_dir);
  if (!ca.ok()) return absl::InvalidArgumentError(StrCat("kubeconfig: ", Message(ca.status())));
  endpoint.ca_pem = std::move(*ca);

  // A context without a user (or an unknown one) is anonymous access, as with kubectl.
  const YAML::Node user = FindNamed(root, "users", "user", Scalar(context, "user"));
  if (user.IsMap()) {
    if (user["exec"] || user["auth-provider"]) {
      return absl::UnimplementedError(
          "kubeconfig: exec and auth-provider credentials are not supported; use a token");
    }
    endpoint.token = Scalar(user, "token");
    if (std::string file = Scalar(user, "tokenFile"); !file.empty()) {
      endpoint.token_file = Resolve(base_dir, file);
    }
    absl::StatusOr<std::string> cert = DataOrFile(user, "client-certificate", base_dir);
    absl::StatusOr<std::string> key = DataOrFile(user, "client-key", base_dir);
    if (!cert.ok())
      return absl::InvalidArgumentError(StrCat("kubeconfig: ", Message(cert.status())));
    if (!key.ok()) return absl::InvalidArgumentError(StrCat("kubeconfig: ", Message(key.status())));
    if (cert->empty() != key->empty()) {
      return absl::InvalidArgumentError(
          "kubeconfig: client-certificate and client-key go together");
    }
    endpoint.client_cert_pem = std::move(*cert);
    endpoint.client_key_pem = std::move(*key);
  }
  return endpoint;
}

absl::StatusOr<KubeEndpoint> LoadKubeconfig(const std::string& path, std::string_view context) {
  std::optional<std::string> text = ReadFile(path);
  if (!text) return absl::NotFoundError(StrCat("cannot read kubeconfig ", path));
  const size_t slash = path.rfind('/');
  const std::string base_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return ParseKubeconfig(*text, base_dir, context);
}

absl::StatusOr<KubeEndpoint> InClusterEndpoint(const GetEnv& getenv,
                                               const std::string& secrets_dir) {
  const char* host = getenv("KUBERNETES_SERVICE_HOST");
  const char* port = getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return absl::FailedPreconditionError(
        "not in a cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set "
        "(use --kubeconfig outside a cluster)");
  }
  KubeEndpoint endpoint;
  const std::string host_text = host;
  // An IPv6 service address needs brackets in a URL.
  const std::string url = host_text.find(':') != std::string::npos
                              ? StrCat("https://[", host_text, "]:", std::string_view(port))
                              : StrCat("https://", host_text, ":", std::string_view(port));
  if (absl::Status status = ParseServerUrl(url, endpoint); !status.ok()) return status;
  endpoint.token_file = secrets_dir + "/token";
  if (!ReadFile(endpoint.token_file)) {
    return absl::NotFoundError(
        StrCat("cannot read the service-account token ", endpoint.token_file));
  }
  std::optional<std::string> ca = ReadFile(secrets_dir + "/ca.crt");
  if (!ca) return absl::NotFoundError(StrCat("cannot read ", secrets_dir, "/ca.crt"));
  endpoint.ca_pem = std::move(*ca);
  endpoint.namespace_ = ReadFile(secrets_dir + "/namespace").value_or("");
  while (!endpoint.namespace_.empty() && endpoint.namespace_.back() == '\n') {
    endpoint.namespace_.pop_back();
  }
  return endpoint;
}

}  // namespace pdgate::config
