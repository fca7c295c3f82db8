// The families of live_families.h, built afresh from live state each time /metrics is read.
#include "router/observe/live_families.h"

#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <string>

#include "discovery/kv_block_index.h"
#include "discovery/kv_event_subscriber.h"
#include "discovery/uncaught.h"
#include "pd_scheduler/prefix_index.h"

namespace pdgate::router {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

ClientMetric Sample(std::vector<ClientMetric::Label> labels, double value, MetricType type) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return metric;
}

}  // namespace

MetricFamily InternalErrorsFamily() {
  MetricFamily family{
      "pdgate_internal_errors_total",
      "Coroutines ended by an exception (a bug; the log names it), by where they ran",
      MetricType::Counter,
      {}};
  for (size_t i = 0; i < size_t(SpawnSite::kCount); ++i) {
    const auto site = SpawnSite(i);
    family.metric.push_back(Sample({{"where", std::string(ToString(site))}},
                                   double(UncaughtCount(site)), MetricType::Counter));
  }
  return family;
}

std::vector<MetricFamily> LiveFamilies(const discovery::EndpointSnapshot& snapshot,
                                       const pd_scheduler::PrefixIndex* prefix_index) {
  MetricFamily in_flight{"pdgate_endpoint_in_flight",
                         "Legs in flight through this router, by endpoint and leg role",
                         MetricType::Gauge,
                         {}};
  MetricFamily ejected{"pdgate_endpoint_ejected",
                       "1 while passive outlier detection keeps the endpoint out",
                       MetricType::Gauge,
                       {}};
  MetricFamily ejections{"pdgate_endpoint_ejections_total",
                         "Times the endpoint was ejected after repeated failures",
                         MetricType::Counter,
                         {}};
  MetricFamily available{"pdgate_endpoint_available",
                         "1 when the endpoint may be picked (not ejected, passing probes)",
                         MetricType::Gauge,
                         {}};
  MetricFamily engine{"pdgate_endpoint_engine_load",
                      "The engine's own load from its /metrics (running, waiting, kv_usage, "
                      "ttft_seconds, itl_seconds); absent until scraped",
                      MetricType::Gauge,
                      {}};
  MetricFamily index_blocks{
      "pdgate_prefix_index_endpoint_blocks",
      "Prompt blocks the prefix index holds for the endpoint (kind=held), and "
      "its engine's cache in the same blocks when known (kind=capacity)",
      MetricType::Gauge,
      {}};
  MetricFamily stale{"pdgate_endpoint_scrape_stale",
                     "1 when the last /metrics scrape of the endpoint failed",
                     MetricType::Gauge,
                     {}};
  const auto now = std::chrono::steady_clock::now();
  absl::flat_hash_map<const discovery::LiveEndpoint*, bool> seen;
  for (const discovery::ServerEndpoints& server : snapshot.servers) {
    for (const discovery::Endpoint& endpoint : server.endpoints) {
      const discovery::LiveEndpoint& live = *endpoint.live;
      if (!seen.emplace(&live, true).second) continue;
      const std::string role(discovery::ToString(endpoint.role));
      auto labels = [&]() -> std::vector<ClientMetric::Label> {
        return {{"endpoint", endpoint.pod}, {"role", role}};
      };
      auto with = [&](std::string name, std::string value) {
        auto l = labels();
        l.push_back({std::move(name), std::move(value)});
        return l;
      };
      in_flight.metric.push_back(Sample(with("leg", "prefill"),
                                        live.prefill_in_flight.load(std::memory_order_relaxed),
                                        MetricType::Gauge));
      in_flight.metric.push_back(Sample(with("leg", "decode"),
                                        live.decode_in_flight.load(std::memory_order_relaxed),
                                        MetricType::Gauge));
      const discovery::HealthView health = live.Health(now);
      ejected.metric.push_back(Sample(labels(), health.ejected ? 1 : 0, MetricType::Gauge));
      ejections.metric.push_back(
          Sample(labels(), double(health.total_ejections), MetricType::Counter));
      available.metric.push_back(Sample(labels(), live.Available(now) ? 1 : 0, MetricType::Gauge));
      if (prefix_index != nullptr) {
        const pd_scheduler::EndpointBlocks blocks = prefix_index->Blocks(live.slot());
        index_blocks.metric.push_back(
            Sample(with("kind", "held"), double(blocks.held), MetricType::Gauge));
        if (blocks.capacity >= 0) {
          index_blocks.metric.push_back(
              Sample(with("kind", "capacity"), double(blocks.capacity), MetricType::Gauge));
        }
      }
      if (!live.scraped()) continue;
      stale.metric.push_back(Sample(labels(), live.stale() ? 1 : 0, MetricType::Gauge));
      const discovery::EngineLoad load = live.load();
      const std::pair<const char*, double> signals[] = {{"running", load.running},
                                                        {"waiting", load.waiting},
                                                        {"kv_usage", load.kv_usage},
                                                        {"ttft_seconds", load.ttft_s},
                                                        {"itl_seconds", load.itl_s}};
      for (const auto& [signal, value] : signals) {
        if (value >= 0)
          engine.metric.push_back(Sample(with("signal", signal), value, MetricType::Gauge));
      }
    }
  }
  std::vector<MetricFamily> families;
  for (MetricFamily* family :
       {&in_flight, &ejected, &ejections, &available, &index_blocks, &engine, &stale}) {
    if (!family->metric.empty()) families.push_back(std::move(*family));
  }
  if (prefix_index != nullptr) {
    const pd_scheduler::PrefixIndexStats stats = prefix_index->stats();
    families.push_back({"pdgate_prefix_index_entries",
                        "(endpoint, prompt block) entries in the prefix index",
                        MetricType::Gauge,
                        {Sample({}, double(stats.entries), MetricType::Gauge)}});
    families.push_back({"pdgate_prefix_index_evictions_total",
                        "Entries evicted by the per-endpoint bound (maxHashCacheSize)",
                        MetricType::Counter,
                        {Sample({}, double(stats.evictions), MetricType::Counter)}});
    families.push_back({"pdgate_prefix_index_lookup_blocks_total",
                        "Prompt blocks looked up at picks; with the matched count, the match ratio",
                        MetricType::Counter,
                        {Sample({}, double(stats.looked_up_blocks), MetricType::Counter)}});
    families.push_back({"pdgate_prefix_index_matched_blocks_total",
                        "Prompt blocks found (longest match per pick)",
                        MetricType::Counter,
                        {Sample({}, double(stats.matched_blocks), MetricType::Counter)}});
    families.push_back({"pdgate_prefix_index_match_ratio",
                        "Matched over looked-up prompt blocks since start",
                        MetricType::Gauge,
                        {Sample({},
                                stats.looked_up_blocks == 0
                                    ? 0
                                    : double(stats.matched_blocks) / double(stats.looked_up_blocks),
                                MetricType::Gauge)}});
  }
  return families;
}

std::vector<MetricFamily> KvEventFamilies(const KvEventsView& view) {
  std::vector<MetricFamily> families;
  auto add = [&](const char* name, const char* help, MetricType type, double value) {
    families.push_back({name, help, type, {Sample({}, value, type)}});
  };
  if (view.index != nullptr) {
    const discovery::KvIndexStats stats = view.index->stats();
    add("pdgate_kv_index_blocks",
        "(endpoint, KV block) entries the engines' events put in the index", MetricType::Gauge,
        double(stats.entries));
    add("pdgate_kv_index_stored_blocks_total", "Blocks the engines reported stored",
        MetricType::Counter, double(stats.stored));
    add("pdgate_kv_index_removed_blocks_total", "Blocks the engines reported removed",
        MetricType::Counter, double(stats.removed));
    add("pdgate_kv_index_evicted_blocks_total",
        "Entries dropped by the index's own bound (maxIndexedBlocks), oldest first",
        MetricType::Counter, double(stats.evicted));
    add("pdgate_kv_index_orphaned_blocks_total",
        "Stored blocks whose parent was never seen (joined mid-chain): not indexable",
        MetricType::Counter, double(stats.orphaned));
    add("pdgate_kv_index_skipped_blocks_total",
        "Blocks not indexed: other media (CPU offload), sliding-window groups, bad events",
        MetricType::Counter, double(stats.skipped));
  }
  if (view.counters != nullptr) {
    const discovery::KvSubscriberCounters& c = *view.counters;
    auto load = [](const std::atomic<uint64_t>& v) {
      return double(v.load(std::memory_order_relaxed));
    };
    add("pdgate_kv_event_publishers", "Engine KV-event publishers followed", MetricType::Gauge,
        load(c.sources));
    add("pdgate_kv_event_batches_total", "KV-event batches applied to the index",
        MetricType::Counter, load(c.batches));
    add("pdgate_kv_event_decode_errors_total", "KV-event messages dropped as malformed",
        MetricType::Counter, load(c.decode_errors));
    add("pdgate_kv_event_gaps_total", "Sequence gaps (lost batches) seen", MetricType::Counter,
        load(c.gaps));
    add("pdgate_kv_event_restarts_total",
        "Publishers seen restarting (sequence went back): their entries were cleared",
        MetricType::Counter, load(c.restarts));
    add("pdgate_kv_event_replays_total", "Replays completed (warm start, gap fill)",
        MetricType::Counter, load(c.replays));
    add("pdgate_kv_event_block_size_mismatches_total",
        "Stored blocks of another size than blockSizeToHash: they never match requests",
        MetricType::Counter, load(c.block_size_mismatches));
    add("pdgate_kv_event_replay_failures_total",
        "Replays that timed out or overflowed: the endpoint's entries were cleared",
        MetricType::Counter, load(c.replay_failures));
    add("pdgate_kv_event_held_batches_total",
        "Live batches that came while a replay ran, held until it ended", MetricType::Counter,
        load(c.held_batches));
  }
  return families;
}

std::vector<MetricFamily> FairnessFamilies(const std::vector<FairnessGauges>& queues) {
  MetricFamily queued{"pdgate_fairness_queued",
                      "Requests waiting in a model's fairness queue",
                      MetricType::Gauge,
                      {}};
  MetricFamily running{"pdgate_fairness_running",
                       "Requests holding a slot of a model's fairness queue",
                       MetricType::Gauge,
                       {}};
  MetricFamily principals{"pdgate_fairness_principals",
                          "Principals whose recent usage a model's fairness queue tracks",
                          MetricType::Gauge,
                          {}};
  for (const FairnessGauges& q : queues) {
    queued.metric.push_back(Sample({{"model", q.model}}, double(q.queued), MetricType::Gauge));
    running.metric.push_back(Sample({{"model", q.model}}, double(q.running), MetricType::Gauge));
    principals.metric.push_back(
        Sample({{"model", q.model}}, double(q.principals), MetricType::Gauge));
  }
  return {std::move(queued), std::move(running), std::move(principals)};
}

}  // namespace pdgate::router
