#pragma once
// What pdgate reads from an engine's Prometheus /metrics: the load signals of vLLM (current and
// pre-0.11 names) and SGLang, summed over data-parallel series (`engine="0"`, `engine="1"`), and
// the per-interval averages derived from them (LoadTracker). Names: research pd-protocols.md §6.
#include <cstdint>
#include <string_view>

#include "discovery/endpoint_health.h"

namespace pdgate::discovery {

// A histogram's running totals.
struct HistogramTotals {
  double sum = 0;
  double count = 0;
  bool present = false;
};

// One scrape, as exposed. Gauges are summed over series except KV usage (the fullest wins).
struct EngineSample {
  double running = 0;
  double waiting = 0;
  double kv_usage = 0;  // 0..1
  bool has_running = false, has_waiting = false, has_kv_usage = false;
  HistogramTotals ttft;  // seconds
  HistogramTotals itl;   // seconds, inter-token latency (TPOT on older engines)
  double prefix_queries = 0, prefix_hits = 0;  // counters, tokens (vLLM)
  bool has_prefix_counters = false;
  double cache_hit_rate = -1;  // gauge 0..1 (SGLang); -1 when absent
  // KV-cache size in tokens: vLLM's cache_config_info labels num_gpu_blocks × block_size, SGLang's
  // max_total_num_tokens; summed over data-parallel series. 0 when absent.
  double kv_capacity_tokens = 0;
  double prompt_tokens = 0;  // counter: prompt tokens the engine was given
  bool has_prompt_tokens = false;
};

// Parses Prometheus text exposition; unknown families are skipped, malformed lines ignored.
EngineSample ParseEngineMetrics(std::string_view text);

// The load the scheduler reads. -1 marks a value the engine has not given (yet).
struct EngineLoad {
  double running = -1;
  double waiting = -1;
  double kv_usage = -1;
  double ttft_s = -1;            // mean over the last interval with observations
  double itl_s = -1;             // idem
  double prefix_hit_ratio = -1;  // engine's prefix-cache hits / queries, last interval
};

// What an engine's cache holds, for sizing the approximate prefix index. -1: not known.
struct EngineCache {
  double capacity_tokens = -1;
  // The router's prompt bytes sent to the endpoint per prompt token the engine counted, over the
  // last interval with enough traffic: how prompt bytes (what the prefix index hashes) convert
  // into the engine's tokens, for this endpoint's model and tokenizer.
  double prompt_bytes_per_token = -1;
};

// Turns consecutive samples of one endpoint into EngineLoad: histogram means are Δsum/Δcount
// over the last interval, kept from the previous interval when nothing was observed, and a
// counter that went backwards (engine restart) starts a new baseline. A mean with no new
// observations for kForgetAfter samples is forgotten: an endpoint that got no traffic must not
// be judged for ever by an old slow interval.
class LoadTracker {
 public:
  static constexpr int kForgetAfter = 10;
  static constexpr double kMinTokensForRatio = 1000;  // an interval's tokens to measure bytes/token
  // `prompt_bytes_sent`: the router's running total of prompt bytes sent to this endpoint
  // (LiveEndpoint::prompt_bytes_sent), or -1.
  EngineLoad Update(const EngineSample& sample, double prompt_bytes_sent = -1);
  const EngineLoad& load() const { return load_; }
  const EngineCache& cache() const { return cache_; }

 private:
  int ttft_idle_ = 0;
  int itl_idle_ = 0;
  bool has_previous_ = false;
  EngineSample previous_;
  EngineLoad load_;
  EngineCache cache_;
  // Where the current bytes-per-token interval started: prompt tokens and bytes.
  double ratio_tokens_ = -1, ratio_bytes_ = -1;
};

}  // namespace pdgate::discovery
