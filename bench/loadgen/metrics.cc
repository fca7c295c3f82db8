#include "bench/loadgen/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

namespace pdgate::loadgen {

std::string_view FailureName(Failure failure) {
  switch (failure) {
    case Failure::kNone:
      return "none";
    case Failure::kStatus:
      return "status";
    case Failure::kTimeout:
      return "timeout";
    case Failure::kConnection:
      return "connection";
    case Failure::kMalformed:
      return "malformed_stream";
    case Failure::kStreamError:
      return "stream_error";
  }
  return "unknown";
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

Distribution Describe(const std::vector<double>& values, const std::vector<double>& percentiles) {
  Distribution d;
  d.count = values.size();
  if (!values.empty()) {
    const double n = static_cast<double>(values.size());
    d.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
    double squares = 0;
    for (double v : values) squares += (v - d.mean) * (v - d.mean);
    d.std = std::sqrt(squares / n);
    auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    d.min = *lo;
    d.max = *hi;
    d.median = Percentile(values, 50);
  }
  for (double p : percentiles) d.percentiles.emplace_back(p, Percentile(values, p));
  return d;
}

std::optional<GoodputSlo> ParseGoodput(const std::vector<std::string>& pieces) {
  GoodputSlo slo;
  for (const std::string& piece : pieces) {
    const size_t colon = piece.find(':');
    if (colon == std::string::npos) return std::nullopt;
    const std::string key = piece.substr(0, colon);
    double ms = 0;
    const char* first = piece.data() + colon + 1;
    const char* last = piece.data() + piece.size();
    auto [ptr, ec] = std::from_chars(first, last, ms);
    if (ec != std::errc() || ptr != last || first == last || ms < 0) return std::nullopt;
    if (key == "ttft") {
      slo.ttft_ms = ms;
    } else if (key == "tpot") {
      slo.tpot_ms = ms;
    } else if (key == "e2el") {
      slo.e2el_ms = ms;
    } else {
      return std::nullopt;
    }
  }
  return slo;
}

Summary Summarize(const std::vector<RequestRecord>& records, double duration_s,
                  const std::vector<double>& percentiles, const GoodputSlo& slo) {
  Summary s;
  s.duration_s = duration_s;
  std::vector<double> ttfts, tpots, itls, e2els;
  int64_t prompt_tokens_with_usage = 0;
  for (const RequestRecord& r : records) {
    if (!r.ok()) {
      ++s.failed;
      ++s.failures_by_class[std::string(FailureName(r.failure))];
      continue;
    }
    ++s.completed;
    const int64_t out = r.OutputTokens();
    s.total_input_tokens += r.InputTokens();
    s.total_output_tokens += out;
    if (r.prompt_tokens >= 0) {
      prompt_tokens_with_usage += r.prompt_tokens;
      s.total_cached_tokens += r.cached_tokens;
    }
    const double e2el_ms = r.LatencyS() * 1000;
    // A non-streamed response has its first token at its end (TTFT = E2E), as vLLM reports it.
    const double ttft_ms = (r.first_token_s >= 0 ? r.TtftS() : r.LatencyS()) * 1000;
    ttfts.push_back(ttft_ms);
    e2els.push_back(e2el_ms);
    double tpot_ms = 0;  // vLLM counts 0 for single-token outputs in the goodput check
    if (out > 1) {
      tpot_ms = (e2el_ms - ttft_ms) / static_cast<double>(out - 1);
      tpots.push_back(tpot_ms);
    }
    for (size_t i = 1; i < r.token_s.size(); ++i)
      itls.push_back((r.token_s[i] - r.token_s[i - 1]) * 1000);
    if (!slo.empty()) {
      const bool good = (!slo.ttft_ms || ttft_ms <= *slo.ttft_ms) &&
                        (!slo.tpot_ms || tpot_ms <= *slo.tpot_ms) &&
                        (!slo.e2el_ms || e2el_ms <= *slo.e2el_ms);
      if (good) ++s.good_requests;
    }
  }
  s.num_prompts = records.size();
  std::vector<std::pair<double, int>> edges;  // (time, +1 send / −1 end); ends sort first
  std::map<int64_t, double> tokens_per_second;
  for (const RequestRecord& r : records) {
    edges.emplace_back(r.send_s, 1);
    edges.emplace_back(r.end_s, -1);
    if (!r.ok()) continue;
    if (r.token_s.empty()) {
      tokens_per_second[static_cast<int64_t>(std::floor(r.end_s))] +=
          static_cast<double>(r.OutputTokens());
    } else {
      for (double t : r.token_s) tokens_per_second[static_cast<int64_t>(std::floor(t))] += 1;
    }
  }
  std::sort(edges.begin(), edges.end());
  int64_t in_flight = 0;
  for (const auto& [t, delta] : edges) {
    in_flight += delta;
    s.max_concurrent_requests =
        std::max(s.max_concurrent_requests, static_cast<size_t>(std::max<int64_t>(in_flight, 0)));
  }
  for (const auto& [second, n] : tokens_per_second)
    s.max_output_tokens_per_s = std::max(s.max_output_tokens_per_s, n);
  if (duration_s > 0) {
    s.request_throughput = static_cast<double>(s.completed) / duration_s;
    s.output_throughput = static_cast<double>(s.total_output_tokens) / duration_s;
    s.total_token_throughput =
        static_cast<double>(s.total_input_tokens + s.total_output_tokens) / duration_s;
    if (!slo.empty()) s.request_goodput = static_cast<double>(s.good_requests) / duration_s;
  }
  if (prompt_tokens_with_usage > 0)
    s.cached_token_ratio =
        static_cast<double>(s.total_cached_tokens) / static_cast<double>(prompt_tokens_with_usage);
  s.ttft_ms = Describe(ttfts, percentiles);
  s.tpot_ms = Describe(tpots, percentiles);
  s.itl_ms = Describe(itls, percentiles);
  s.e2el_ms = Describe(e2els, percentiles);
  return s;
}

}  // namespace pdgate::loadgen
