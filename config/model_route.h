#pragma once
// Kthena's ModelRoute (networking.serving.volcano.sh/v1alpha1), validated.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/object_meta.h"
#include "config/rate_limit_unit.h"
#include "config/string_match.h"

namespace pdgate::config {

struct ModelMatch {
  // Header names are stored lower-case; an absent header matches as the empty string (Kthena).
  std::vector<std::pair<std::string, StringMatch>> headers;
  std::optional<StringMatch> uri;         // against the request path
  std::optional<std::string> body_model;  // exact match on the request's `model`
};

struct TargetModel {
  std::string model_server_name;  // a ModelServer in the route's namespace
  uint32_t weight = 1;            // omitted on every target of the rule: 1 each
};

struct RouteRule {
  std::string name;
  std::optional<ModelMatch> match;  // absent: matches every request
  std::vector<TargetModel> targets;
  uint64_t total_weight = 0;  // > 0, checked at load
};

struct RateLimit {
  std::optional<uint32_t> input_tokens_per_unit;
  std::optional<uint32_t> output_tokens_per_unit;
  RateLimitUnit unit = RateLimitUnit::kSecond;
  std::optional<std::string> global_redis_address;  // set: one bucket shared by all replicas
  std::string global_redis_host;                    // the address split, checked at load
  uint16_t global_redis_port = 6379;
};

struct ModelRoute {
  ObjectMeta meta;
  std::string model_name;  // may be empty when lora_adapters is not
  std::vector<std::string> lora_adapters;
  std::vector<RouteRule> rules;  // first matching rule wins
  std::optional<RateLimit> rate_limit;
};

}  // namespace pdgate::config
