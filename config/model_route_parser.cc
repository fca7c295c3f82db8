#include <absl/strings/ascii.h>
#include <absl/strings/numbers.h>
#include <re2/re2.h>

#include "config/object_parsers.h"
#include "base/strings.h"

namespace pdgate::config {
namespace {

constexpr size_t kMaxRules = 16;
constexpr size_t kMaxTargets = 16;
constexpr size_t kMaxLoraAdapters = 10;

std::optional<StringMatch> ParseStringMatch(const YAML::Node& node, const std::string& path,
                                            ObjectScope& scope) {
  MapReader reader(node, path, scope);
  if (!reader.present()) {
    scope.Error(path, "must set one of exact, prefix or regex");
    return std::nullopt;
  }
  std::optional<std::string> exact = reader.String("exact");
  std::optional<std::string> prefix = reader.String("prefix");
  std::optional<std::string> regex = reader.String("regex");
  reader.Finish();
  int set = int(exact.has_value()) + int(prefix.has_value()) + int(regex.has_value());
  if (set == 0) {
    scope.Error(path, "must set one of exact, prefix or regex");
    return std::nullopt;
  }
  if (set > 1) {
    scope.Error(path, "must set only one of exact, prefix or regex");
    return std::nullopt;
  }
  if (exact) return StringMatch::Exact(std::move(*exact));
  if (prefix) return StringMatch::Prefix(std::move(*prefix));
  RE2::Options options;
  options.set_log_errors(false);
  auto compiled = std::make_shared<const RE2>(*regex, options);
  if (!compiled->ok()) {
    scope.Error(JoinPath(path, "regex"), StrCat("invalid regular expression: ", compiled->error()));
    return std::nullopt;
  }
  return StringMatch::Regex(std::move(*regex), std::move(compiled));
}

std::optional<ModelMatch> ParseModelMatch(MapReader& rule) {
  MapReader reader(rule.Child("modelMatch"), rule.PathOf("modelMatch"), rule.scope());
  if (!reader.present()) return std::nullopt;
  ModelMatch match;
  YAML::Node headers = reader.Child("headers");
  if (headers.IsDefined()) {
    if (!headers.IsMap()) {
      reader.scope().Error(reader.PathOf("headers"), "must be a mapping of header names");
    } else {
      for (auto it = headers.begin(); it != headers.end(); ++it) {
        std::string name = it->first.Scalar();
        std::string path = JoinPath(reader.PathOf("headers"), name);
        if (name.empty()) {
          reader.scope().Error(path, "header name must not be empty");
          continue;
        }
        if (auto value = ParseStringMatch(it->second, path, reader.scope())) {
          // HTTP header names are case-insensitive; lookups use the lower-case form.
          match.headers.emplace_back(absl::AsciiStrToLower(name), std::move(*value));
        }
      }
    }
  }
  if (YAML::Node uri = reader.Child("uri"); uri.IsDefined()) {
    match.uri = ParseStringMatch(uri, reader.PathOf("uri"), reader.scope());
  }
  MapReader body(reader.Child("body"), reader.PathOf("body"), reader.scope());
  match.body_model = body.String("model");
  body.Finish();
  reader.Finish();
  return match;
}

void ParseTargets(MapReader& rule_reader, RouteRule& rule) {
  const std::string path = rule_reader.PathOf("targetModels");
  ObjectScope& scope = rule_reader.scope();
  YAML::Node targets = rule_reader.Child("targetModels");
  if (!targets.IsDefined()) {
    scope.Error(path, "required");
    return;
  }
  if (!IsSequenceOrAbsent(targets, path, scope)) return;
  if (targets.size() == 0 || targets.size() > kMaxTargets) {
    scope.Error(path, StrCat("must have 1 to ", kMaxTargets, " entries, not ", targets.size()));
    return;
  }
  std::vector<bool> weight_set;
  for (size_t i = 0; i < targets.size(); ++i) {
    MapReader target(targets[i], IndexPath(path, i), scope);
    if (!target.present()) {
      scope.Error(target.path(), "must be a mapping");
      weight_set.push_back(false);
      continue;
    }
    TargetModel model;
    std::optional<std::string> server = target.String("modelServerName");
    std::optional<std::string> external = target.String("externalModelProviderName");
    if (server && external) {
      scope.Error(target.path(),
                  "must set only one of modelServerName or externalModelProviderName");
    } else if (external) {
      scope.Error(target.PathOf("externalModelProviderName"),
                  "ExternalModelProvider targets are not supported by pdgate");
    } else if (!server || server->empty()) {
      scope.Error(target.PathOf("modelServerName"), "required");
    } else {
      model.model_server_name = std::move(*server);
    }
    std::optional<int64_t> weight = target.Int("weight", 0, 100);
    weight_set.push_back(target.Has("weight"));
    if (weight) model.weight = uint32_t(*weight);
    target.Finish();
    rule.targets.push_back(std::move(model));
  }
  // Kthena's webhook: weights are set on every target of a rule or on none (then 1 each).
  // The message names the first target that differs from the first one.
  for (size_t i = 1; i < weight_set.size(); ++i) {
    if (weight_set[i] != weight_set[0]) {
      scope.Error(JoinPath(IndexPath(path, i), "weight"),
                  "set on some targets of the rule but not all");
      return;
    }
  }
  for (const TargetModel& target : rule.targets) rule.total_weight += target.weight;
  if (rule.total_weight == 0) scope.Error(path, "weights must add up to more than 0");
}

void ParseRateLimit(MapReader& spec, ModelRoute& route) {
  MapReader reader(spec.Child("rateLimit"), spec.PathOf("rateLimit"), spec.scope());
  if (!reader.present()) return;
  RateLimit limit;
  constexpr int64_t kMax = 0xffffffffLL;
  if (auto n = reader.Int("inputTokensPerUnit", 1, kMax)) limit.input_tokens_per_unit = *n;
  if (auto n = reader.Int("outputTokensPerUnit", 1, kMax)) limit.output_tokens_per_unit = *n;
  if (auto unit = reader.String("unit")) {
    if (auto parsed = ParseRateLimitUnit(*unit)) {
      limit.unit = *parsed;
    } else {
      reader.scope().Error(
          reader.PathOf("unit"),
          "must be one of second, minute, hour, day, month, not \"" + *unit + "\"");
    }
  }
  if (std::optional<GlobalRedis> redis = ReadGlobalRedis(reader)) {
    limit.global_redis_address = redis->address;
    limit.global_redis_host = redis->host;
    limit.global_redis_port = redis->port;
  }
  reader.Finish();
  route.rate_limit = std::move(limit);
}

}  // namespace

std::optional<ModelRoute> ParseModelRoute(MapReader& doc) {
  ModelRoute route;
  std::optional<ObjectMeta> meta = ParseObjectMeta(doc, "ModelRoute");
  const int errors_before = doc.scope().error_count();
  MapReader spec(doc.Child("spec"), doc.PathOf("spec"), doc.scope());
  doc.Ignore({"status"});
  if (!spec.present()) {
    doc.scope().Error("spec", "required");
    return std::nullopt;
  }
  ObjectScope& scope = spec.scope();
  if (auto name = spec.String("modelName")) route.model_name = std::move(*name);
  if (auto adapters = spec.StringList("loraAdapters")) {
    route.lora_adapters = std::move(*adapters);
    if (route.lora_adapters.size() > kMaxLoraAdapters) {
      scope.Error(
          spec.PathOf("loraAdapters"),
          StrCat("at most ", kMaxLoraAdapters, " entries, not ", route.lora_adapters.size()));
    }
    for (size_t i = 0; i < route.lora_adapters.size(); ++i) {
      if (route.lora_adapters[i].empty()) {
        scope.Error(IndexPath(spec.PathOf("loraAdapters"), i), "must not be empty");
      }
    }
  }
  if (route.model_name.empty() && route.lora_adapters.empty()) {
    scope.Error(spec.PathOf("modelName"), "required when spec.loraAdapters is empty");
  }
  if (spec.Has("parentRefs")) {
    scope.Warning(spec.PathOf("parentRefs"),
                  "Gateway API attachment is not supported by pdgate; the route serves every "
                  "request");
  }
  spec.Ignore({"parentRefs"});

  YAML::Node rules = spec.Child("rules");
  const std::string rules_path = spec.PathOf("rules");
  if (!rules.IsDefined()) {
    scope.Error(rules_path, "required");
  } else if (IsSequenceOrAbsent(rules, rules_path, scope)) {
    if (rules.size() == 0 || rules.size() > kMaxRules) {
      scope.Error(rules_path, StrCat("must have 1 to ", kMaxRules, " entries, not ", rules.size()));
    }
    for (size_t i = 0; i < rules.size() && i < kMaxRules; ++i) {
      MapReader reader(rules[i], IndexPath(rules_path, i), scope);
      if (!reader.present()) {
        scope.Error(reader.path(), "must be a mapping");
        continue;
      }
      RouteRule rule;
      if (auto name = reader.String("name")) rule.name = std::move(*name);
      rule.match = ParseModelMatch(reader);
      ParseTargets(reader, rule);
      reader.Finish();
      route.rules.push_back(std::move(rule));
    }
  }
  ParseRateLimit(spec, route);
  spec.Finish();
  if (!meta || scope.error_count() != errors_before) return std::nullopt;
  route.meta = std::move(*meta);
  return route;
}

}  // namespace pdgate::config
