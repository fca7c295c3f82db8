#pragma once
// pdgate's Prometheus metrics. Families live in one process-wide registry; the handles a request
// touches are resolved when a RouterState is built (model names from the routes, endpoints from
// the snapshot), never per request, and label sets stay bounded: unknown model names count as
// "other". Served as text on the admin port.
#include <absl/container/flat_hash_map.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "base/strings.h"
#include "discovery/endpoint_snapshot.h"
#include "pd_scheduler/decision_kind.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace pdgate::discovery {
class KvBlockIndex;
struct KvSubscriberCounters;
}  // namespace pdgate::discovery

namespace pdgate::pd_scheduler {
class PrefixIndex;
}  // namespace pdgate::pd_scheduler

namespace pdgate::router {

class ShardedCounter;
class ShardedHistogram;
using ShardedGauge = ShardedCounter;
template <class Metric>
class ShardedFamily;

enum class ApiPath { kChat = 0, kCompletions = 1 };
enum class LegOutcomeLabel { kOk = 0, kHttpError, kConnectFailed, kTimeout, kTransport, kCount };

// pdgate_pd_decisions_total's (decision, reason) pairs: pd_scheduler::Decision's mode and reason.
inline constexpr std::array<std::pair<pd_scheduler::DecisionMode, pd_scheduler::DecisionReason>, 8>
    kDecisionLabels = {{
        {pd_scheduler::DecisionMode::kDisaggregated, pd_scheduler::DecisionReason::kDeciderOff},
        {pd_scheduler::DecisionMode::kDisaggregated, pd_scheduler::DecisionReason::kLongPrompt},
        {pd_scheduler::DecisionMode::kDecodeOnly, pd_scheduler::DecisionReason::kShortPrompt},
        {pd_scheduler::DecisionMode::kDecodeOnly, pd_scheduler::DecisionReason::kNoPrefill},
        {pd_scheduler::DecisionMode::kAggregated, pd_scheduler::DecisionReason::kAggregated},
        {pd_scheduler::DecisionMode::kNone, pd_scheduler::DecisionReason::kNoPrefill},
        {pd_scheduler::DecisionMode::kNone, pd_scheduler::DecisionReason::kNoDecode},
        {pd_scheduler::DecisionMode::kNone, pd_scheduler::DecisionReason::kNoEndpoints},
    }};

struct ModelMetrics {
  // [path][status class 2xx, 4xx, 5xx]
  std::array<std::array<ShardedCounter*, 3>, 2> requests{};
  ShardedHistogram* duration = nullptr;     // seconds, whole request
  ShardedHistogram* ttft = nullptr;         // seconds to the first streamed byte of output
  ShardedHistogram* itl = nullptr;          // seconds between streamed output chunks
  ShardedHistogram* prefill_leg = nullptr;  // seconds, prefill leg (whole answer)
  ShardedHistogram* decode_leg = nullptr;   // seconds, decode leg (to the end of the relay)
  std::array<ShardedCounter*, kDecisionLabels.size()> decisions{};  // per kDecisionLabels
  ShardedCounter* prompt_tokens = nullptr;
  ShardedCounter* completion_tokens = nullptr;
  ShardedCounter* retries = nullptr;
  // pdgate_fairness_requests_total by FairnessResult, pdgate_fairness_wait_seconds (null while
  // fairness is off).
  std::array<ShardedCounter*, 5> fairness{};
  ShardedHistogram* fairness_wait = nullptr;
};

// How a request went through its model's fairness queue.
enum class FairnessResult { kRanAtOnce, kRanAfterWait, kQueueFull, kQueueTimeout, kClientGone };

// A fairness queue's state, read at scrape time (pdgate_fairness_queued, _running, _principals).
struct FairnessGauges {
  std::string model;
  size_t queued = 0;
  size_t running = 0;
  size_t principals = 0;
};

// pdgate_upstream_connections{state="active"|"idle"}: connections to engines open across the io
// threads, held by a leg or idle in a pool. Owned by the upstream pools (router/upstream_pool.h).
struct ConnectionGauges {
  ShardedGauge* active = nullptr;
  ShardedGauge* idle = nullptr;
};

struct EndpointMetrics {
  std::array<ShardedCounter*, size_t(LegOutcomeLabel::kCount)> legs{};
};

// pdgate_ratelimit_decisions_total of one rate-limited ModelRoute.
struct RateLimitMetrics {
  ShardedCounter* input_allowed = nullptr;
  ShardedCounter* input_denied = nullptr;
  ShardedCounter* input_too_large = nullptr;  // larger than the whole bucket
  ShardedCounter* output_denied = nullptr;
};

// pdgate_ratelimit_decisions_total of one RouterConfiguration rateLimits entry (route="").
struct PrincipalLimitMetrics {
  std::array<ShardedCounter*, 3> denied{};  // requests, input, output
  ShardedCounter* too_large = nullptr;
};

// The handles of one RouterState.
// Where kvcache-aware got a request's prompt tokens (pdgate_kv_prompt_tokens_total{source}).
// kPrefix: the ids of the prompt's messages before its last one, cached from earlier requests.
enum class PromptTokensSource : uint8_t { kRequest, kCache, kTokenize, kUnavailable, kPrefix };
inline constexpr size_t kPromptTokensSources = 5;

// What /metrics shows of kvcache-aware's index and subscriber; null members: off.
struct KvEventsView {
  const discovery::KvBlockIndex* index = nullptr;
  const discovery::KvSubscriberCounters* counters = nullptr;
};

struct MetricHandles {
  // Owns the series the raw pointers below point at (see ShardedFamily: a series lives while a
  // state holds it, so one whose endpoint or model left goes with the last state that had it).
  std::vector<std::shared_ptr<void>> series;
  absl::flat_hash_map<std::string, ModelMetrics, StringViewHash, std::equal_to<>> models;
  ModelMetrics other;  // model names no route knows
  absl::flat_hash_map<const discovery::Endpoint*, EndpointMetrics> endpoints;
  ShardedGauge* active_requests = nullptr;
  ShardedHistogram* pick_duration = nullptr;  // seconds to choose the candidates
  absl::flat_hash_map<std::string, RateLimitMetrics, StringViewHash, std::equal_to<>> rate_limits;
  std::vector<PrincipalLimitMetrics> principal_limits;  // by index in PrincipalLimits::all()
  ShardedCounter* redis_errors = nullptr;               // pdgate_ratelimit_redis_errors_total
  ShardedHistogram* redis_latency = nullptr;            // pdgate_ratelimit_redis_seconds
  std::array<ShardedCounter*, kPromptTokensSources> kv_prompt_tokens{};
  ShardedHistogram* kv_tokenize_duration = nullptr;  // a /tokenize round trip (or its failure)

  const ModelMetrics& Model(std::string_view name) const {
    auto it = models.find(name);
    return it == models.end() ? other : it->second;
  }
  const EndpointMetrics* Endpoint(const discovery::Endpoint* endpoint) const {
    auto it = endpoints.find(endpoint);
    return it == endpoints.end() ? nullptr : &it->second;
  }
};

class RouterMetrics {
 public:
  RouterMetrics();
  ~RouterMetrics();

  // Resolves the handles for these model names and endpoints (off the request path).
  // `limited_routes`: the keys (namespace/name) of the ModelRoutes with a rateLimit;
  // `principal_limits`: the names of the RouterConfiguration's rateLimits, in order;
  // `fairness`: the fairness queue is on (its per-model series exist only then).
  std::shared_ptr<const MetricHandles> Resolve(
      const std::vector<std::string>& model_names, const discovery::EndpointSnapshot& snapshot,
      const std::vector<std::string>& limited_routes = {},
      const std::vector<std::string>& principal_limits = {}, bool fairness = false);
  // Prometheus text exposition of everything: the registry's families, then the live state of
  // `snapshot`'s endpoints and the prefix index (read at scrape time, so they need no handles
  // and an endpoint that leaves the snapshot leaves the exposition).
  std::string Serialize(const discovery::EndpointSnapshot* snapshot = nullptr,
                        const pd_scheduler::PrefixIndex* prefix_index = nullptr,
                        const std::vector<FairnessGauges>& fairness = {},
                        const KvEventsView& kv_events = {}) const;
  // pdgate_config_reloads_total{result="success"|"failure"}.
  void CountReload(bool success);
  // The process-wide upstream connection gauges, for the io threads' pools.
  ConnectionGauges upstream_connections() const;
  // For families registered elsewhere (router/kubernetes_metrics.cc).
  prometheus::Registry& registry() { return *registry_; }
  // A sharded counter family registered elsewhere and counted per request (auth_metrics.cc),
  // exposed with the others; it lives as long as this. Call before serving.
  ShardedFamily<ShardedCounter>& AddCounterFamily(std::string name, std::string help);

 private:
  struct Families;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
};

// The decision counter for (decision, reason); null for a pair outside kDecisionLabels.
ShardedCounter* DecisionCounter(const ModelMetrics& model, pd_scheduler::DecisionMode mode,
                                pd_scheduler::DecisionReason reason);

// Increments; the thin wrappers keep the metric headers out of the callers. Null: nothing.
void Increment(ShardedCounter* counter, double by = 1);
void Observe(ShardedHistogram* histogram, double value);
void Add(ShardedGauge* gauge, double by);
void Increment(prometheus::Counter* counter, double by = 1);

}  // namespace pdgate::router
