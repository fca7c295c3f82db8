#include <cstdlib>
#include <fstream>

#include "config/object_parsers.h"
#include "base/strings.h"

namespace pdgate::config {
namespace {

std::optional<InferenceEngine> ParseEngine(MapReader& spec) {
  std::optional<std::string> text = spec.String("inferenceEngine", Presence::kRequired);
  if (!text) return std::nullopt;
  if (*text == "vLLM") return InferenceEngine::kVllm;
  if (*text == "SGLang") return InferenceEngine::kSglang;
  spec.scope().Error(spec.PathOf("inferenceEngine"),
                     "must be \"vLLM\" or \"SGLang\", not \"" + *text + "\"");
  return std::nullopt;
}

std::optional<PdGroupSelector> ParsePdGroup(MapReader& selector) {
  MapReader reader(selector.Child("pdGroup"), selector.PathOf("pdGroup"), selector.scope());
  if (!reader.present()) return std::nullopt;
  PdGroupSelector group;
  if (auto key = reader.String("groupKey", Presence::kRequired)) {
    if (std::string problem = LabelKeyProblem(*key); !problem.empty()) {
      reader.scope().Error(reader.PathOf("groupKey"), problem);
    }
    group.group_key = *key;
  }
  if (auto labels = reader.LabelMap("prefillLabels", 1, Presence::kRequired)) {
    group.prefill_labels = std::move(*labels);
  }
  if (auto labels = reader.LabelMap("decodeLabels", 1, Presence::kRequired)) {
    group.decode_labels = std::move(*labels);
  }
  reader.Finish();
  return group;
}

void ParseTrafficPolicy(MapReader& spec, ModelServer& server) {
  MapReader policy(spec.Child("trafficPolicy"), spec.PathOf("trafficPolicy"), spec.scope());
  server.timeout = policy.Duration("timeout");
  if (server.timeout && server.timeout->count() == 0) {
    policy.scope().Error(policy.PathOf("timeout"), "must be greater than 0");
  }
  MapReader retry(policy.Child("retry"), policy.PathOf("retry"), spec.scope());
  if (auto attempts = retry.Int("attempts", 0, 100)) server.retry.attempts = int(*attempts);
  if (auto interval = retry.Duration("retryInterval")) server.retry.interval = *interval;
  retry.Finish();
  policy.Finish();
}

std::optional<KvConnector> ParseKvConnector(MapReader& spec) {
  MapReader reader(spec.Child("kvConnector"), spec.PathOf("kvConnector"), spec.scope());
  std::optional<std::string> type = reader.String("type");
  reader.Finish();
  if (!type) return std::nullopt;
  if (*type == "http") return KvConnector::kHttp;
  if (*type == "lmcache") return KvConnector::kLmcache;
  if (*type == "nixl") return KvConnector::kNixl;
  if (*type == "mooncake") return KvConnector::kMooncake;
  spec.scope().Error(reader.PathOf("type"),
                     "must be one of http, lmcache, nixl, mooncake, not \"" + *type + "\"");
  return std::nullopt;
}

void ParseUpstreamAuthorization(ObjectScope& scope, const ObjectMeta& meta, ModelServer& server) {
  constexpr std::string_view kAnnotation = "pdgate.io/upstream-authorization";
  auto it = meta.annotations.find(kAnnotation);
  if (it == meta.annotations.end()) return;
  const std::string path = StrCat("metadata.annotations.", kAnnotation);
  const std::string& value = it->second;
  constexpr std::string_view kSecretEnv = "secret-env:";
  constexpr std::string_view kSecretFile = "secret-file:";
  if (value == "forward") {
    server.upstream_authorization = UpstreamAuthorization::kForward;
  } else if (value == "strip") {
    server.upstream_authorization = UpstreamAuthorization::kStrip;
  } else if (value.rfind(kSecretEnv, 0) == 0) {
    const std::string name = value.substr(kSecretEnv.size());
    const char* secret = name.empty() ? nullptr : std::getenv(name.c_str());
    if (secret == nullptr || *secret == '\0') {
      scope.Error(path,
                  StrCat("environment variable ", name.empty() ? "(none)" : name, " is not set"));
      return;
    }
    server.upstream_authorization = UpstreamAuthorization::kReplace;
    server.upstream_authorization_value = StrCat("Bearer ", secret);
  } else if (value.rfind(kSecretFile, 0) == 0) {
    const std::string file = value.substr(kSecretFile.size());
    std::ifstream in(file);
    std::string secret;
    std::getline(in, secret);  // a Secret's file holds the key; a final newline is not part of it
    while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
    if (!in && !in.eof()) secret.clear();
    if (secret.empty()) {
      scope.Error(path, StrCat("cannot read a key from ", file.empty() ? "(none)" : file));
      return;
    }
    server.upstream_authorization = UpstreamAuthorization::kReplace;
    server.upstream_authorization_value = StrCat("Bearer ", secret);
  } else {
    scope.Error(path, StrCat("must be forward, strip, secret-env:NAME or secret-file:PATH, not \"",
                             value, "\""));
  }
}

}  // namespace

std::string_view ToString(InferenceEngine engine) {
  return engine == InferenceEngine::kVllm ? "vLLM" : "SGLang";
}

std::string_view ToString(KvConnector connector) {
  switch (connector) {
    case KvConnector::kHttp:
      return "http";
    case KvConnector::kLmcache:
      return "lmcache";
    case KvConnector::kNixl:
      return "nixl";
    case KvConnector::kMooncake:
      return "mooncake";
    case KvConnector::kSglang:
      return "sglang";
  }
  return "?";
}

std::optional<ModelServer> ParseModelServer(MapReader& doc) {
  ModelServer server;
  std::optional<ObjectMeta> meta = ParseObjectMeta(doc, "ModelServer");
  const int errors_before = doc.scope().error_count();
  MapReader spec(doc.Child("spec"), doc.PathOf("spec"), doc.scope());
  doc.Ignore({"status"});
  if (!spec.present()) {
    doc.scope().Error("spec", "required");
    return std::nullopt;
  }
  if (auto model = spec.String("model")) {
    if (model->size() > 256) spec.scope().Error(spec.PathOf("model"), "longer than 256 characters");
    if (!model->empty()) server.model = std::move(*model);
  }
  std::optional<InferenceEngine> engine = ParseEngine(spec);
  if (engine) server.engine = *engine;

  MapReader selector(spec.Child("workloadSelector"), spec.PathOf("workloadSelector"), spec.scope());
  if (!selector.present()) {
    spec.scope().Error(spec.PathOf("workloadSelector"), "required");
  } else {
    if (auto labels = selector.LabelMap("matchLabels", 1, Presence::kRequired)) {
      server.match_labels = std::move(*labels);
    }
    server.pd_group = ParsePdGroup(selector);
    selector.Finish();
  }

  MapReader port(spec.Child("workloadPort"), spec.PathOf("workloadPort"), spec.scope());
  if (!port.present()) {
    spec.scope().Error(spec.PathOf("workloadPort"), "required");
  } else {
    if (auto number = port.Int("port", 1, 65535, Presence::kRequired)) {
      server.port = uint16_t(*number);
    }
    if (auto protocol = port.String("protocol")) {
      if (*protocol == "https") {
        server.protocol = WorkloadProtocol::kHttps;
        port.scope().Warning(port.PathOf("protocol"),
                             "pdgate talks plain HTTP to engines (as Kthena does); https ignored");
      } else if (*protocol != "http") {
        port.scope().Error(port.PathOf("protocol"),
                           "must be \"http\" or \"https\", not \"" + *protocol + "\"");
      }
    }
    port.Finish();
  }

  ParseTrafficPolicy(spec, server);
  std::optional<KvConnector> connector = ParseKvConnector(spec);
  // Kthena: an explicit type wins; an SGLang server without one uses the SGLang flow; else http.
  if (connector) {
    server.kv_connector = *connector;
  } else if (server.engine == InferenceEngine::kSglang) {
    server.kv_connector = KvConnector::kSglang;
  }
  spec.Finish();
  if (meta) ParseUpstreamAuthorization(doc.scope(), *meta, server);
  if (!meta || doc.scope().error_count() != errors_before) return std::nullopt;
  server.meta = std::move(*meta);
  return server;
}

}  // namespace pdgate::config
