#include <algorithm>
#include <array>
#include <cmath>

#include "config/fairness_settings.h"
#include "config/shared_state_settings.h"
#include "config/object_parsers.h"
#include "base/strings.h"

namespace pdgate::config {
namespace {

constexpr std::array<std::string_view, 2> kFilterPlugins = {"least-request", "lora-affinity"};
constexpr std::array<std::string_view, 7> kScorePlugins = {
    "least-request", "gpu-usage",        "least-latency", "prefix-cache",
    "random",        "session-affinity", "kvcache-aware"};

bool Contains(auto& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

void ReadMilliseconds(MapReader& reader, std::string_view key, milliseconds& out,
                      bool allow_zero = false) {
  auto value = reader.Duration(key);
  if (!value) return;
  if (!allow_zero && value->count() == 0) {
    reader.scope().Error(reader.PathOf(key), "must be greater than 0");
    return;
  }
  out = std::chrono::duration_cast<milliseconds>(*value);
}

void ReadSize(MapReader& reader, std::string_view key, size_t& out, int64_t min, int64_t max) {
  if (auto value = reader.Int(key, min, max)) out = size_t(*value);
}

void ParsePluginArgs(const std::string& name, MapReader& args, SchedulerSettings& scheduler) {
  if (name == "least-request") {
    if (auto n = args.Int("maxWaitingRequests", 0, 1000000))
      scheduler.max_waiting_requests = int(*n);
  } else if (name == "least-latency") {
    if (auto factor = args.Double("TTFTTPOTWeightFactor")) {
      if (!std::isfinite(*factor) || *factor < 0 || *factor > 1) {
        args.scope().Error(args.PathOf("TTFTTPOTWeightFactor"), "must be between 0 and 1");
      } else {
        scheduler.ttft_tpot_weight_factor = *factor;
      }
    }
  } else if (name == "prefix-cache") {
    PrefixCacheArgs& prefix = scheduler.prefix_cache;
    if (auto n = args.Int("blockSizeToHash", 1, 1 << 20)) prefix.block_size_to_hash = int(*n);
    if (auto n = args.Int("maxBlocksToMatch", 1, 1 << 20)) prefix.max_blocks_to_match = int(*n);
    if (auto n = args.Int("maxHashCacheSize", 1, 1 << 26)) prefix.max_hash_cache_size = int(*n);
    if (auto n = args.Int("topKMatches", 1, 1 << 10)) prefix.top_k_matches = int(*n);
    if (auto n = args.Int("engineCacheTokens", 0, int64_t(1) << 40))
      prefix.engine_cache_tokens = int64_t(*n);
  } else if (name == "kvcache-aware") {
    KvCacheAwareArgs& kv = scheduler.kv_cache_aware;
    if (auto n = args.Int("blockSizeToHash", 1, 4096)) kv.block_size_to_hash = int(*n);
    if (auto n = args.Int("maxBlocksToMatch", 1, 1 << 20)) kv.max_blocks_to_match = int(*n);
    if (auto n = args.Int("vllmTokenizerPort", 1, 65535)) kv.vllm_tokenizer_port = uint16_t(*n);
    if (auto n = args.Int("sglangTokenizerPort", 1, 65535))
      kv.sglang_tokenizer_port = uint16_t(*n);
    // pdgate's: where the events come from (Kthena's sidecar knows it), and bounds.
    if (auto n = args.Int("kvEventsPort", 1, 65535)) kv.events_port = uint16_t(*n);
    if (auto n = args.Int("kvEventsReplayPort", 0, 65535)) kv.replay_port = uint16_t(*n);
    if (auto topic = args.String("kvEventsTopic")) kv.topic = *topic;
    if (auto n = args.Int("maxIndexedBlocks", 1, 1 << 28)) kv.max_indexed_blocks = int(*n);
    ReadMilliseconds(args, "tokenizeTimeout", kv.tokenize_timeout);
    if (auto n = args.Int("tokenizeCacheSize", 0, 1 << 20)) kv.tokenize_cache_entries = int(*n);
    if (auto n = args.Int("dataParallelSize", 1, 256)) kv.data_parallel_size = int(*n);
    // Rank r publishes on both ports + r (vLLM's offset_endpoint_port).
    const int last_rank = kv.data_parallel_size - 1;
    if (kv.events_port + last_rank > 65535 ||
        (kv.replay_port != 0 && kv.replay_port + last_rank > 65535)) {
      args.scope().Error(args.PathOf("dataParallelSize"),
                         "the events ports + dataParallelSize - 1 must stay below 65536");
    }
  }
  args.Finish();
}

void ParsePluginConfig(MapReader& scheduler_reader, SchedulerSettings& scheduler) {
  YAML::Node list = scheduler_reader.Child("pluginConfig");
  const std::string path = scheduler_reader.PathOf("pluginConfig");
  ObjectScope& scope = scheduler_reader.scope();
  if (!IsSequenceOrAbsent(list, path, scope)) return;
  for (size_t i = 0; list.IsDefined() && i < list.size(); ++i) {
    MapReader entry(list[i], IndexPath(path, i), scope);
    std::optional<std::string> name = entry.String("name", Presence::kRequired);
    MapReader args(entry.Child("args"), entry.PathOf("args"), scope);
    if (name) {
      if (!Contains(kFilterPlugins, *name) && !Contains(kScorePlugins, *name)) {
        scope.Error(entry.PathOf("name"), "unknown plugin \"" + *name + "\"");
      } else {
        ParsePluginArgs(*name, args, scheduler);
      }
    }
    entry.Finish();
  }
}

void ParsePlugins(MapReader& scheduler_reader, SchedulerSettings& scheduler) {
  MapReader plugins(scheduler_reader.Child("plugins"), scheduler_reader.PathOf("plugins"),
                    scheduler_reader.scope());
  if (!plugins.present()) return;
  ObjectScope& scope = plugins.scope();
  // As in Kthena, a `plugins` section replaces the defaults; only `enabled` lists take effect.
  scheduler.filters.clear();
  scheduler.scores.clear();
  MapReader filter(plugins.Child("Filter"), plugins.PathOf("Filter"), scope);
  for (const char* key : {"enabled", "disabled"}) {
    auto names = filter.StringList(key);
    for (size_t i = 0; names && i < names->size(); ++i) {
      const std::string& name = (*names)[i];
      if (!Contains(kFilterPlugins, name)) {
        scope.Error(IndexPath(filter.PathOf(key), i), "unknown filter plugin \"" + name + "\"");
      } else if (std::string_view(key) == "enabled") {
        scheduler.filters.push_back(name);
      }
    }
  }
  filter.Finish();
  MapReader score(plugins.Child("Score"), plugins.PathOf("Score"), scope);
  YAML::Node enabled = score.Child("enabled");
  const std::string path = score.PathOf("enabled");
  score.Ignore({"disabled"});
  if (IsSequenceOrAbsent(enabled, path, scope)) {
    for (size_t i = 0; enabled.IsDefined() && i < enabled.size(); ++i) {
      MapReader entry(enabled[i], IndexPath(path, i), scope);
      std::optional<std::string> name = entry.String("name", Presence::kRequired);
      std::optional<int64_t> weight = entry.Int("weight", 0, 1000);
      entry.Finish();
      if (!name) continue;
      if (!Contains(kScorePlugins, *name)) {
        scope.Error(entry.PathOf("name"), "unknown score plugin \"" + *name + "\"");
      } else {
        scheduler.scores.push_back({*name, weight ? int(*weight) : 1});
      }
    }
  }
  score.Finish();
  plugins.Finish();
  // Kthena drops `random` when other scorers are enabled, since it only adds noise to them.
  if (scheduler.scores.size() > 1) {
    auto it = std::find_if(scheduler.scores.begin(), scheduler.scores.end(),
                           [](const ScorePluginSetting& s) { return s.name == "random"; });
    if (it != scheduler.scores.end()) {
      scope.Warning(path, "random is ignored when other score plugins are enabled (as in Kthena)");
      scheduler.scores.erase(it);
    }
  }
}

// pdgate's own scheduling and health settings, beside Kthena's `scheduler` section.
void ParseSchedulingExtensions(MapReader& spec, RouterSettings& settings) {
  ObjectScope& scope = spec.scope();
  if (auto selection = spec.String("pairSelection")) {
    if (*selection == "joint") {
      settings.scheduler.pair_selection = PairSelection::kJoint;
    } else if (*selection == "decode-first") {
      settings.scheduler.pair_selection = PairSelection::kDecodeFirst;
    } else {
      scope.Error(spec.PathOf("pairSelection"),
                  "must be joint or decode-first, not \"" + *selection + "\"");
    }
  }

  MapReader decider(spec.Child("decider"), spec.PathOf("decider"), scope);
  DeciderSettings& d = settings.scheduler.decider;
  if (auto enabled = decider.Bool("enabled")) d.enabled = *enabled;
  if (auto n = decider.Int("maxUncachedPromptTokens", 0, 1 << 24)) {
    d.max_uncached_prompt_tokens = int(*n);
  }
  if (auto on = decider.Bool("decodeOnlyWithoutPrefill")) d.decode_only_without_prefill = *on;
  if (auto n = decider.Int("bytesPerToken", 1, 64)) d.bytes_per_token = int(*n);
  decider.Finish();

  MapReader outlier(spec.Child("outlierDetection"), spec.PathOf("outlierDetection"), scope);
  OutlierDetectionSettings& o = settings.outlier_detection;
  if (auto n = outlier.Int("consecutiveFailures", 0, 1000)) o.consecutive_failures = int(*n);
  ReadMilliseconds(outlier, "baseEjectionTime", o.base_ejection);
  ReadMilliseconds(outlier, "maxEjectionTime", o.max_ejection);
  if (auto n = outlier.Int("maxEjectionPercent", 0, 100)) o.max_ejection_percent = int(*n);
  outlier.Finish();
  if (o.max_ejection < o.base_ejection) {
    scope.Error(spec.PathOf("outlierDetection.maxEjectionTime"),
                "must not be shorter than baseEjectionTime");
  }

  MapReader probe(spec.Child("healthProbe"), spec.PathOf("healthProbe"), scope);
  HealthProbeSettings& h = settings.health_probe;
  if (auto enabled = probe.Bool("enabled")) h.enabled = *enabled;
  if (auto path = probe.String("path")) {
    if (path->empty() || (*path)[0] != '/') {
      scope.Error(probe.PathOf("path"), "must start with /");
    } else {
      h.path = *path;
    }
  }
  ReadMilliseconds(probe, "interval", h.interval);
  ReadMilliseconds(probe, "timeout", h.timeout);
  if (auto n = probe.Int("healthyThreshold", 1, 100)) h.healthy_threshold = int(*n);
  if (auto n = probe.Int("unhealthyThreshold", 1, 100)) h.unhealthy_threshold = int(*n);
  probe.Finish();

  MapReader scrape(spec.Child("metricsScrape"), spec.PathOf("metricsScrape"), scope);
  ScrapeSettings& m = settings.scrape;
  if (auto enabled = scrape.Bool("enabled")) m.enabled = *enabled;
  ReadMilliseconds(scrape, "interval", m.interval);
  ReadMilliseconds(scrape, "timeout", m.timeout);
  if (auto n = scrape.Int("concurrency", 1, 1024)) m.concurrency = int(*n);
  scrape.Finish();
}

}  // namespace

void ParseKthenaRouterConfiguration(MapReader& root, RouterSettings& settings) {
  MapReader reader(root.Child("scheduler"), root.PathOf("scheduler"), root.scope());
  ParsePluginConfig(reader, settings.scheduler);
  ParsePlugins(reader, settings.scheduler);
  reader.Finish();
  ParseAuthSettings(root, settings.auth);
}

void ParseRouterConfiguration(MapReader& doc, RouterSettings& settings) {
  ParseObjectMeta(doc, "RouterConfiguration");
  MapReader spec(doc.Child("spec"), doc.PathOf("spec"), doc.scope());

  MapReader listen(spec.Child("listen"), spec.PathOf("listen"), doc.scope());
  if (auto address = listen.String("address")) settings.listen.address = *address;
  if (auto port = listen.Int("port", 1, 65535)) settings.listen.port = uint16_t(*port);
  if (auto address = listen.String("adminAddress")) settings.listen.admin_address = *address;
  if (auto port = listen.Int("adminPort", 1, 65535)) settings.listen.admin_port = uint16_t(*port);
  if (auto remote = listen.Bool("debugEndpointsRemote")) {
    settings.listen.debug_endpoints_remote = *remote;
  }
  listen.Finish();

  if (auto threads = spec.Int("threads", 0, 256)) settings.threads = int(*threads);

  MapReader limits(spec.Child("limits"), spec.PathOf("limits"), doc.scope());
  LimitSettings& l = settings.limits;
  constexpr int64_t kGiB = int64_t(1) << 30;
  ReadSize(limits, "maxRequestBodyBytes", l.max_request_body_bytes, 1024, 4 * kGiB);
  ReadSize(limits, "maxRequestHeaderBytes", l.max_request_header_bytes, 1024, 16 << 20);
  ReadSize(limits, "maxUpstreamHeaderBytes", l.max_upstream_header_bytes, 1024, 16 << 20);
  ReadSize(limits, "maxPrefillResponseBytes", l.max_prefill_response_bytes, 1024, kGiB);
  ReadSize(limits, "maxConnections", l.max_connections, 1, 10000000);
  ReadSize(limits, "upstreamPoolSize", l.upstream_pool_size, 0, 100000);
  limits.Finish();

  MapReader timeouts(spec.Child("timeouts"), spec.PathOf("timeouts"), doc.scope());
  TimeoutSettings& t = settings.timeouts;
  ReadMilliseconds(timeouts, "requestHeader", t.request_header);
  ReadMilliseconds(timeouts, "requestBody", t.request_body);
  ReadMilliseconds(timeouts, "keepAliveIdle", t.keep_alive_idle);
  ReadMilliseconds(timeouts, "upstreamConnect", t.upstream_connect);
  ReadMilliseconds(timeouts, "upstreamDefault", t.upstream_default);
  ReadMilliseconds(timeouts, "upstreamPoolIdle", t.upstream_pool_idle);
  ReadMilliseconds(timeouts, "streamIdle", t.stream_idle);
  ReadMilliseconds(timeouts, "drain", t.drain, /*allow_zero=*/true);
  ReadMilliseconds(timeouts, "drainDelay", t.drain_delay, /*allow_zero=*/true);
  timeouts.Finish();

  MapReader access_log(spec.Child("accessLog"), spec.PathOf("accessLog"), doc.scope());
  if (auto enabled = access_log.Bool("enabled")) settings.access_log.enabled = *enabled;
  if (auto format = access_log.String("format")) {
    if (*format == "json" || *format == "text") {
      settings.access_log.json = *format == "json";
    } else {
      doc.scope().Error(access_log.PathOf("format"),
                        "must be json or text, not \"" + *format + "\"");
    }
  }
  if (auto output = access_log.String("output")) {
    if (output->empty()) {
      doc.scope().Error(access_log.PathOf("output"), "must be stdout, stderr or a file path");
    } else {
      settings.access_log.output = *output;
    }
  }
  access_log.Finish();

  ParseSchedulingExtensions(spec, settings);
  ParsePrincipalLimits(spec, settings);
  ParseFairnessSettings(spec, settings.fairness);
  ParseSharedState(spec, settings.shared_state);

  ParseKthenaRouterConfiguration(spec, settings);
  spec.Finish();
}

}  // namespace pdgate::config
