#include "config/route_table.h"

#include <absl/container/flat_hash_set.h>

#include "base/strings.h"

namespace pdgate::config {

bool RuleMatches(const ModelMatch& match, const RouteRequest& request) {
  for (const auto& [name, condition] : match.headers) {
    if (!condition.Matches(request.header(name))) return false;
  }
  if (match.uri && !match.uri->Matches(request.path)) return false;
  if (match.body_model && *match.body_model != request.model) return false;
  return true;
}

size_t PickWeighted(const std::vector<uint32_t>& weights, uint64_t total_weight, uint64_t random) {
  uint64_t point = random % total_weight;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (point < weights[i]) return i;
    point -= weights[i];
  }
  return weights.size() - 1;  // unreachable while total_weight is the sum of the weights
}

RouteTable::RouteTable(std::shared_ptr<const Config> config) : config_(std::move(config)) {
  absl::flat_hash_set<std::string> listed;
  for (const ModelRoute& route : config_->model_routes) {
    const Candidate* candidate = Build(route);
    if (!route.model_name.empty()) {
      by_model_name_[route.model_name].push_back(candidate);
      if (listed.insert(route.model_name).second) model_names_.push_back(route.model_name);
    }
    for (const std::string& lora : route.lora_adapters) {
      by_lora_name_[lora].push_back(candidate);
      if (listed.insert(lora).second) model_names_.push_back(lora);
    }
  }
}

const RouteTable::Candidate* RouteTable::Build(const ModelRoute& route) {
  auto candidate = std::make_unique<Candidate>();
  candidate->route = &route;
  for (const RouteRule& rule : route.rules) {
    ResolvedRule& resolved = candidate->rules.emplace_back();
    for (const TargetModel& target : rule.targets) {
      const ModelServer* server =
          config_->FindModelServer(route.meta.namespace_, target.model_server_name);
      resolved.servers.push_back(server);
      resolved.weights.push_back(server != nullptr ? target.weight : 0);
      resolved.total_weight += resolved.weights.back();
    }
  }
  candidates_.push_back(std::move(candidate));
  return candidates_.back().get();
}

bool RouteTable::TryRoute(const Candidate& candidate, const RouteRequest& request, bool lora,
                          RouteDecision& decision) const {
  const ModelRoute& route = *candidate.route;
  for (size_t r = 0; r < route.rules.size(); ++r) {
    const RouteRule& rule = route.rules[r];
    if (rule.match && !RuleMatches(*rule.match, request)) continue;
    // Kthena: the first matching rule decides; when none of its targets has a ModelServer the
    // next route is tried.
    const ResolvedRule& resolved = candidate.rules[r];
    if (resolved.total_weight == 0) return false;
    const size_t pick = PickWeighted(resolved.weights, resolved.total_weight, request.random);
    decision.route = &route;
    decision.rule_index = r;
    decision.server = resolved.servers[pick];
    decision.lora = lora;
    decision.upstream_model = (!lora && decision.server->model)
                                  ? std::string_view(*decision.server->model)
                                  : request.model;
    return true;
  }
  return false;
}

absl::StatusOr<RouteDecision> RouteTable::Resolve(const RouteRequest& request) const {
  RouteDecision decision;
  bool known = false;
  // Base-model routes first, then LoRA routes (Kthena's lookup order).
  for (bool lora : {false, true}) {
    const auto& index = lora ? by_lora_name_ : by_model_name_;
    auto it = index.find(request.model);
    if (it == index.end()) continue;
    known = true;
    for (const Candidate* candidate : it->second) {
      if (TryRoute(*candidate, request, lora, decision)) return decision;
    }
  }
  if (!known) {
    return absl::NotFoundError(StrCat("The model `", request.model, "` does not exist."));
  }
  return absl::NotFoundError(
      StrCat("No route for model `", request.model, "` matches this request."));
}

}  // namespace pdgate::config
