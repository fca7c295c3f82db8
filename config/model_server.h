#pragma once
// Kthena's ModelServer (networking.serving.volcano.sh/v1alpha1), validated.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/object_meta.h"

namespace pdgate::config {

enum class InferenceEngine { kVllm, kSglang };

// How the KV cache moves from prefill to decode; selects the router's PD flow.
// kSglang is not in Kthena's enum: it is what an SGLang ModelServer without kvConnector gets.
enum class KvConnector { kHttp, kLmcache, kNixl, kMooncake, kSglang };

enum class WorkloadProtocol { kHttp, kHttps };

std::string_view ToString(InferenceEngine engine);
std::string_view ToString(KvConnector connector);

struct PdGroupSelector {
  std::string group_key;  // label whose value names the group; P and D pair only within one value
  Labels prefill_labels;
  Labels decode_labels;  // checked first: a pod matching both is a decode pod (as Kthena)
};

struct RetryPolicy {
  // Retries after the first try, each on a different endpoint or pair. Kthena parses this field
  // but never reads it (kthena#1729); pdgate honours it.
  int attempts = 2;
  std::chrono::nanoseconds interval = std::chrono::milliseconds(100);
};

// What the engines see of the client's Authorization header. Kthena's CRD has no field for it, so
// it is the ModelServer annotation pdgate.io/upstream-authorization: "forward" (the client's
// header goes to the engines, as Kthena), "strip", "secret-env:NAME" or "secret-file:PATH"
// (replaced by "Bearer " + the environment variable NAME of the pdgate process, or the content of
// PATH, e.g. a mounted Secret; read at load). Without the annotation (kAuto) the header is
// forwarded while pdgate authenticates nobody, and kept from the engines when it does: then the
// credential was the gateway's (RouterConfiguration auth.forwardCredential forwards it anyway).
enum class UpstreamAuthorization { kAuto, kForward, kStrip, kReplace };

struct ModelServer {
  ObjectMeta meta;
  std::optional<std::string> model;  // body `model` is rewritten to this unless a LoRA name matched
  InferenceEngine engine = InferenceEngine::kVllm;
  Labels match_labels;
  std::optional<PdGroupSelector> pd_group;  // absent: aggregated serving, a plain proxy
  uint16_t port = 0;
  WorkloadProtocol protocol = WorkloadProtocol::kHttp;
  // Bounds connect + send + response headers of each upstream leg. Absent: the router default.
  std::optional<std::chrono::nanoseconds> timeout;
  RetryPolicy retry;
  KvConnector kv_connector = KvConnector::kHttp;  // resolved, never "unset"
  UpstreamAuthorization upstream_authorization = UpstreamAuthorization::kAuto;
  std::string upstream_authorization_value;  // the header value with kReplace

  bool disaggregated() const { return pd_group.has_value(); }
};

}  // namespace pdgate::config
