#include "router/observe/router_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <sstream>

#include "router/observe/build_info.h"
#include "router/observe/live_families.h"
#include "router/observe/sharded_metrics.h"

namespace pdgate::router {

namespace {

// 5 ms to 5 min: prefill legs and TTFTs are milliseconds to seconds; long generations minutes.
std::vector<double> LatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
}

constexpr std::array<std::string_view, 2> kPaths = {"/v1/chat/completions", "/v1/completions"};
constexpr std::array<std::string_view, 3> kClasses = {"2xx", "4xx", "5xx"};
constexpr std::array<std::string_view, size_t(LegOutcomeLabel::kCount)> kOutcomes = {
    "ok", "http_error", "connect_failed", "timeout", "transport"};

}  // namespace

// The families a request touches are sharded (router/observe/sharded_metrics.h); the rest are
// prometheus-cpp's.
using CounterFamily = ShardedFamily<ShardedCounter>;
using HistogramFamily = ShardedFamily<ShardedHistogram>;

struct RouterMetrics::Families {
  CounterFamily requests{"pdgate_requests_total",
                         "Completion requests answered, by model, path and status class"};
  HistogramFamily duration{"pdgate_request_duration_seconds",
                           "Time from the request's arrival to the end of its response"};
  HistogramFamily ttft{"pdgate_time_to_first_token_seconds",
                       "Router-observed time to the first streamed output byte"};
  HistogramFamily itl{"pdgate_inter_token_latency_seconds",
                      "Router-observed time between streamed output chunks"};
  HistogramFamily legs{"pdgate_leg_duration_seconds",
                       "Upstream leg durations by model and leg (prefill, decode)"};
  CounterFamily decisions{
      "pdgate_pd_decisions_total",
      "How requests were served (disaggregated, decode_only, aggregated, none) and why"};
  HistogramFamily pick_duration_family{
      "pdgate_scheduler_pick_duration_seconds",
      "Time to choose a request's endpoints or prefill/decode pairs"};
  CounterFamily tokens{"pdgate_tokens_total",
                       "Tokens by model and type (prompt, completion), from usage"};
  CounterFamily retries{"pdgate_retries_total", "Attempts made again on another pair or endpoint"};
  CounterFamily upstream{"pdgate_upstream_requests_total",
                         "Upstream legs by endpoint, role and outcome"};
  CounterFamily rate_limits{"pdgate_ratelimit_decisions_total",
                            "Rate-limit decisions by ModelRoute, limit (input, output) and result"};
  CounterFamily fairness{"pdgate_fairness_requests_total",
                         "Requests through a model's fairness queue, by how they left it"};
  HistogramFamily fairness_wait{
      "pdgate_fairness_wait_seconds",
      "Time requests that had to wait spent in their model's fairness queue"};
  CounterFamily redis_errors_family{
      "pdgate_ratelimit_redis_errors_total",
      "Global rate-limit checks and debits Redis did not answer (rateLimitRedis.onError)"};
  HistogramFamily redis_latency_family{
      "pdgate_ratelimit_redis_seconds",
      "Round trip of a global rate-limit check (Lua script) to Redis"};
  CounterFamily kv_prompt_tokens_family{
      "pdgate_kv_prompt_tokens_total",
      "kvcache-aware picks by where the prompt's token ids came from (request, cache, tokenize; "
      "prefix: those of the messages before the last, cached); unavailable: the approximate prefix "
      "index scored instead"};
  HistogramFamily kv_tokenize_family{"pdgate_kv_tokenize_seconds",
                                     "An engine /tokenize round trip for kvcache-aware scoring"};
  CounterFamily active_requests_family{"pdgate_active_requests", "Completion requests in progress"};
  CounterFamily connections{"pdgate_upstream_connections",
                            "Connections to engines open: held by a leg (active) or pooled (idle)"};

  // Process-wide series, held here for the process's life.
  std::shared_ptr<ShardedHistogram> pick_duration = pick_duration_family.Add(
      {}, std::vector<double>{1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3});
  std::shared_ptr<ShardedCounter> redis_errors = redis_errors_family.Add({});
  std::shared_ptr<ShardedHistogram> redis_latency = redis_latency_family.Add(
      {}, std::vector<double>{5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2});
  std::array<std::shared_ptr<ShardedCounter>, kPromptTokensSources> kv_prompt_tokens{
      kv_prompt_tokens_family.Add({{"source", "request"}}),
      kv_prompt_tokens_family.Add({{"source", "cache"}}),
      kv_prompt_tokens_family.Add({{"source", "tokenize"}}),
      kv_prompt_tokens_family.Add({{"source", "unavailable"}}),
      kv_prompt_tokens_family.Add({{"source", "prefix"}})};
  std::shared_ptr<ShardedHistogram> kv_tokenize = kv_tokenize_family.Add(
      {}, std::vector<double>{5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.25, 0.5, 1});
  std::shared_ptr<ShardedGauge> active_requests = active_requests_family.Add({});
  std::shared_ptr<ShardedGauge> connections_active = connections.Add({{"state", "active"}});
  std::shared_ptr<ShardedGauge> connections_idle = connections.Add({{"state", "idle"}});
  ConnectionGauges upstream_connections{connections_active.get(), connections_idle.get()};
  prometheus::Counter* reload_success = nullptr;
  prometheus::Counter* reload_failure = nullptr;
  std::vector<std::unique_ptr<CounterFamily>> added_counters;  // AddCounterFamily

  // Every sharded family with its exposition type, for Serialize.
  std::vector<prometheus::MetricFamily> Collect() const {
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> out;
    auto add = [&](prometheus::MetricFamily family) {
      if (!family.metric.empty()) out.push_back(std::move(family));
    };
    for (const CounterFamily* f :
         {&requests, &decisions, &tokens, &retries, &upstream, &rate_limits, &fairness,
          &redis_errors_family, &kv_prompt_tokens_family}) {
      add(f->Collect(MetricType::Counter));
    }
    for (const auto& f : added_counters) add(f->Collect(MetricType::Counter));
    for (const CounterFamily* f : {&active_requests_family, &connections}) {
      add(f->Collect(MetricType::Gauge));
    }
    for (const HistogramFamily* f : {&duration, &ttft, &itl, &legs, &pick_duration_family,
                                     &fairness_wait, &redis_latency_family, &kv_tokenize_family}) {
      add(f->Collect(MetricType::Histogram));
    }
    return out;
  }
};

RouterMetrics::RouterMetrics()
    : registry_(std::make_shared<prometheus::Registry>()), families_(std::make_unique<Families>()) {
  auto& r = *registry_;
  auto& reloads = prometheus::BuildCounter()
                      .Name("pdgate_config_reloads_total")
                      .Help("Configuration reloads by result; a failed one leaves the old serving")
                      .Register(r);
  families_->reload_success = &reloads.Add({{"result", "success"}});
  families_->reload_failure = &reloads.Add({{"result", "failure"}});
  prometheus::BuildGauge()
      .Name("pdgate_build_info")
      .Help("pdgate's version and simdjson kernel")
      .Register(r)
      .Add({{"version", std::string(Version())}, {"simdjson", std::string(SimdjsonKernel())}})
      .Set(1);
}

RouterMetrics::~RouterMetrics() = default;

CounterFamily& RouterMetrics::AddCounterFamily(std::string name, std::string help) {
  families_->added_counters.push_back(
      std::make_unique<CounterFamily>(std::move(name), std::move(help)));
  return *families_->added_counters.back();
}

std::shared_ptr<const MetricHandles> RouterMetrics::Resolve(
    const std::vector<std::string>& model_names, const discovery::EndpointSnapshot& snapshot,
    const std::vector<std::string>& limited_routes,
    const std::vector<std::string>& principal_limits, bool fairness) {
  auto handles = std::make_shared<MetricHandles>();
  // The handles hold every series they point at: a series no state holds leaves the exposition.
  auto keep = [&](auto series) {
    auto* raw = series.get();
    handles->series.push_back(std::move(series));
    return raw;
  };
  auto resolve_model = [&](const std::string& model) {
    ModelMetrics m;
    for (size_t p = 0; p < kPaths.size(); ++p) {
      for (size_t c = 0; c < kClasses.size(); ++c) {
        m.requests[p][c] = keep(families_->requests.Add({{"model", model},
                                                         {"path", std::string(kPaths[p])},
                                                         {"code", std::string(kClasses[c])}}));
      }
    }
    m.duration = keep(families_->duration.Add({{"model", model}}, LatencyBuckets()));
    m.ttft = keep(families_->ttft.Add({{"model", model}}, LatencyBuckets()));
    m.itl =
        keep(families_->itl.Add({{"model", model}}, std::vector<double>{0.001, 0.005, 0.01, 0.02,
                                                                        0.04, 0.08, 0.16, 0.5, 1}));
    m.prefill_leg =
        keep(families_->legs.Add({{"model", model}, {"leg", "prefill"}}, LatencyBuckets()));
    m.decode_leg =
        keep(families_->legs.Add({{"model", model}, {"leg", "decode"}}, LatencyBuckets()));
    for (size_t d = 0; d < kDecisionLabels.size(); ++d) {
      m.decisions[d] = keep(families_->decisions.Add(
          {{"model", model},
           {"decision", std::string(pd_scheduler::ToString(kDecisionLabels[d].first))},
           {"reason", std::string(pd_scheduler::ToString(kDecisionLabels[d].second))}}));
    }
    m.prompt_tokens = keep(families_->tokens.Add({{"model", model}, {"type", "prompt"}}));
    m.completion_tokens = keep(families_->tokens.Add({{"model", model}, {"type", "completion"}}));
    m.retries = keep(families_->retries.Add({{"model", model}}));
    if (fairness) {
      static constexpr std::array<std::string_view, 5> kResults = {
          "ran_at_once", "ran_after_wait", "queue_full", "queue_timeout", "client_gone"};
      for (size_t i = 0; i < kResults.size(); ++i) {
        m.fairness[i] =
            keep(families_->fairness.Add({{"model", model}, {"result", std::string(kResults[i])}}));
      }
      m.fairness_wait = keep(families_->fairness_wait.Add({{"model", model}}, LatencyBuckets()));
    }
    return m;
  };
  for (const std::string& model : model_names) handles->models.emplace(model, resolve_model(model));
  handles->other = resolve_model("other");
  for (const discovery::ServerEndpoints& server : snapshot.servers) {
    for (const discovery::Endpoint& endpoint : server.endpoints) {
      EndpointMetrics e;
      for (size_t o = 0; o < kOutcomes.size(); ++o) {
        e.legs[o] =
            keep(families_->upstream.Add({{"endpoint", endpoint.pod},
                                          {"role", std::string(discovery::ToString(endpoint.role))},
                                          {"outcome", std::string(kOutcomes[o])}}));
      }
      handles->endpoints.emplace(&endpoint, e);
    }
  }
  for (const std::string& route : limited_routes) {
    auto add = [&](const char* limit, const char* result) {
      return keep(
          families_->rate_limits.Add({{"route", route}, {"limit", limit}, {"result", result}}));
    };
    handles->rate_limits.emplace(
        route, RateLimitMetrics{add("input", "allowed"), add("input", "denied"),
                                add("input", "too_large"), add("output", "denied")});
  }
  for (const std::string& name : principal_limits) {
    auto add = [&](const char* resource, const char* result) {
      return keep(families_->rate_limits.Add(
          {{"route", ""}, {"limit", StrCat(name, ":", resource)}, {"result", result}}));
    };
    handles->principal_limits.push_back(
        {{add("requests", "denied"), add("input", "denied"), add("output", "denied")},
         add("input", "too_large")});
  }
  handles->redis_errors = families_->redis_errors.get();
  handles->redis_latency = families_->redis_latency.get();
  handles->active_requests = families_->active_requests.get();
  handles->pick_duration = families_->pick_duration.get();
  for (size_t i = 0; i < kPromptTokensSources; ++i) {
    handles->kv_prompt_tokens[i] = families_->kv_prompt_tokens[i].get();
  }
  handles->kv_tokenize_duration = families_->kv_tokenize.get();
  return handles;
}

ConnectionGauges RouterMetrics::upstream_connections() const {
  return families_->upstream_connections;
}

void RouterMetrics::CountReload(bool success) {
  (success ? families_->reload_success : families_->reload_failure)->Increment();
}

std::string RouterMetrics::Serialize(const discovery::EndpointSnapshot* snapshot,
                                     const pd_scheduler::PrefixIndex* prefix_index,
                                     const std::vector<FairnessGauges>& fairness,
                                     const KvEventsView& kv_events) const {
  std::ostringstream out;
  prometheus::TextSerializer serializer;
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& family : families_->Collect())
    families.push_back(std::move(family));
  families.push_back(InternalErrorsFamily());
  serializer.Serialize(out, families);
  if (snapshot != nullptr) serializer.Serialize(out, LiveFamilies(*snapshot, prefix_index));
  if (!fairness.empty()) serializer.Serialize(out, FairnessFamilies(fairness));
  if (kv_events.index != nullptr) serializer.Serialize(out, KvEventFamilies(kv_events));
  return out.str();
}

ShardedCounter* DecisionCounter(const ModelMetrics& model, pd_scheduler::DecisionMode mode,
                                pd_scheduler::DecisionReason reason) {
  for (size_t d = 0; d < kDecisionLabels.size(); ++d) {
    if (kDecisionLabels[d].first == mode && kDecisionLabels[d].second == reason) {
      return model.decisions[d];
    }
  }
  return nullptr;
}

void Increment(ShardedCounter* counter, double by) {
  if (counter != nullptr) counter->Increment(by);
}
void Observe(ShardedHistogram* histogram, double value) {
  if (histogram != nullptr) histogram->Observe(value);
}
void Add(ShardedGauge* gauge, double by) {
  if (gauge != nullptr) gauge->Increment(by);
}
void Increment(prometheus::Counter* counter, double by) {
  if (counter != nullptr) counter->Increment(by);
}

}  // namespace pdgate::router
