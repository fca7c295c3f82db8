#pragma once
// Request model → ModelRoute → rule → weighted target → ModelServer, as Kthena resolves it:
//  1. routes whose modelName equals the model, else routes listing it in loraAdapters; several
//     routes for one name are tried in definition order (the first defined wins);
//  2. in a route, the first rule whose modelMatch holds (headers AND uri AND body.model);
//  3. a weighted random target of that rule whose ModelServer exists (same namespace);
//  4. the upstream model is the ModelServer's spec.model unless the request named a LoRA adapter.
// Pure: the caller supplies request facts and one random draw. Built once per Config.
#include <absl/container/flat_hash_map.h>
#include <absl/functional/function_ref.h>
#include <absl/status/statusor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "base/strings.h"

namespace pdgate::config {

struct RouteRequest {
  std::string_view model;
  std::string_view path;  // URL path without the query, e.g. /v1/chat/completions
  // Looks a header up by lower-case name; returns "" when absent.
  absl::FunctionRef<std::string_view(std::string_view)> header;
  uint64_t random = 0;  // uniform draw for the weighted target pick
};

struct RouteDecision {
  const ModelRoute* route = nullptr;
  size_t rule_index = 0;
  const ModelServer* server = nullptr;
  std::string_view upstream_model;  // the `model` to send; views into Config or the request
  bool lora = false;                // the request named a LoRA adapter: model not rewritten
};

class RouteTable {
 public:
  explicit RouteTable(std::shared_ptr<const Config> config);

  // NotFound when no route has the model, or no rule of its routes matches the request.
  absl::StatusOr<RouteDecision> Resolve(const RouteRequest& request) const;

  // Every routable name (modelName and LoRA adapters), in definition order, once each; what
  // GET /v1/models lists.
  const std::vector<std::string>& model_names() const { return model_names_; }
  const Config& config() const { return *config_; }

 private:
  // A rule's targets resolved to servers. A target whose ModelServer is missing keeps its place
  // with weight 0, so the others share the traffic.
  struct ResolvedRule {
    std::vector<const ModelServer*> servers;  // parallel to rule.targets; null when missing
    std::vector<uint32_t> weights;
    uint64_t total_weight = 0;
  };
  struct Candidate {
    const ModelRoute* route;
    std::vector<ResolvedRule> rules;  // parallel to route->rules
  };

  const Candidate* Build(const ModelRoute& route);
  bool TryRoute(const Candidate& candidate, const RouteRequest& request, bool lora,
                RouteDecision& decision) const;

  std::shared_ptr<const Config> config_;
  std::vector<std::unique_ptr<Candidate>> candidates_;
  absl::flat_hash_map<std::string, std::vector<const Candidate*>, StringViewHash, std::equal_to<>>
      by_model_name_;
  absl::flat_hash_map<std::string, std::vector<const Candidate*>, StringViewHash, std::equal_to<>>
      by_lora_name_;
  std::vector<std::string> model_names_;
};

// True when every condition of `match` holds for the request.
bool RuleMatches(const ModelMatch& match, const RouteRequest& request);

// Index that `random` selects, proportional to `weights`; `total_weight` is their sum, > 0.
size_t PickWeighted(const std::vector<uint32_t>& weights, uint64_t total_weight, uint64_t random);

}  // namespace pdgate::config
