#pragma once
// Results out: vLLM bench serve's console table and its JSON keys (request_throughput,
// output_throughput, total_token_throughput, request_goodput, {mean,median,std,pNN}_{metric}_ms,
// input_lens, output_lens, ttfts, itls, errors, …) plus our per-request records and failure
// classes. Pure: strings in, strings out.
#include <string>
#include <vector>

#include "bench/loadgen/metrics.h"
#include "bench/loadgen/record.h"

namespace pdgate::loadgen {

struct RunInfo {
  std::string backend = "openai";
  std::string api;  // chat | completions
  std::string model, url, dataset;
  double request_rate = 0;  // inf when closed loop
  double burstiness = 1;
  int concurrency = 0;
  bool stream = true;
  std::string date;
};

// vLLM's percentile key: p99, p99.9, p50.
std::string PercentileKey(double p);
std::string ConsoleTable(const Summary& summary, const RunInfo& info);
std::string JsonReport(const Summary& summary, const RunInfo& info,
                       const std::vector<RequestRecord>& records);

}  // namespace pdgate::loadgen
