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

// Turns consecutive samples of one endpoint into EngineLoad: histogram means are Δsum/Δcount
// over the last interval, kept from the previous interval when nothing was observed, and a
// counter that went backwards (engine restart) starts a new baseline. A mean with no new
// observations for kForgetAfter samples is forgotten: an endpoint that got no traffic must not
// be judged for ever by an old slow interval.
class LoadTracker {
 public:
  static constexpr int kForgetAfter = 10;
  EngineLoad Update(const EngineSample& sample);
  const EngineLoad& load() const { return load_; }

 private:
  int ttft_idle_ = 0;
  int itl_idle_ = 0;
  bool has_previous_ = false;
  EngineSample previous_;
  EngineLoad load_;
};

}  // namespace pdgate::discovery
