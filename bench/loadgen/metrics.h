#pragma once
// Benchmark metrics with vLLM `bench serve`'s definitions (vllm/benchmarks/serve.py,
// calculate_metrics), so our numbers compare with theirs:
//   TTFT  send → first event carrying content (empty role-only deltas do not count)
//   TPOT  (E2E − TTFT) / (output_tokens − 1), requests with more than one output token only
//   ITL   every gap between consecutive content events, pooled over all requests
//   E2E   send → last byte ("e2el")
//   mean, median, std (population, numpy's default) and percentiles with numpy's linear
//   interpolation; throughputs divide by the measured duration; goodput counts successful
//   requests meeting every given SLO (ttft, tpot, e2el in ms).
// Pure functions of the records: no I/O, unit-tested.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/loadgen/record.h"

namespace pdgate::loadgen {

struct Distribution {
  double mean = 0, median = 0, std = 0, min = 0, max = 0;
  std::vector<std::pair<double, double>> percentiles;  // (p, value)
  size_t count = 0;
};

// numpy.percentile(values, p) with the default linear method; 0 for an empty input (as vLLM's
// `np.percentile(x or 0, p)`).
double Percentile(std::vector<double> values, double p);
Distribution Describe(const std::vector<double>& values, const std::vector<double>& percentiles);

struct GoodputSlo {
  std::optional<double> ttft_ms, tpot_ms, e2el_ms;
  bool empty() const { return !ttft_ms && !tpot_ms && !e2el_ms; }
};
// Parses "ttft:200 tpot:50 e2el:1000" pieces ("KEY:MS"); nullopt on a bad piece.
std::optional<GoodputSlo> ParseGoodput(const std::vector<std::string>& pieces);

struct Summary {
  double duration_s = 0;
  size_t completed = 0, failed = 0;
  std::map<std::string, size_t> failures_by_class;
  int64_t total_input_tokens = 0, total_output_tokens = 0, total_cached_tokens = 0;
  double request_throughput = 0, output_throughput = 0, total_token_throughput = 0;
  std::optional<double> request_goodput;  // only with an SLO
  size_t good_requests = 0;
  size_t num_prompts = 0;              // measured requests, successful or not
  size_t max_concurrent_requests = 0;  // peak in flight (send → end)
  double max_output_tokens_per_s = 0;  // busiest whole second of token arrivals
  double cached_token_ratio = 0;       // cached / prompt tokens of successful requests
  Distribution ttft_ms, tpot_ms, itl_ms, e2el_ms;
};

Summary Summarize(const std::vector<RequestRecord>& records, double duration_s,
                  const std::vector<double>& percentiles, const GoodputSlo& slo);

}  // namespace pdgate::loadgen
