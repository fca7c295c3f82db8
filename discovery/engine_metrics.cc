#include "discovery/engine_metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

namespace pdgate::discovery {
namespace {

enum class Series {
  kNone,
  kRunning,
  kWaiting,
  kKvUsage,
  kTtftSum,
  kTtftCount,
  kItlSum,
  kItlCount,
  kPrefixQueries,
  kPrefixHits,
  kCacheHitRate,
  kCacheConfig,
  kMaxTotalTokens,
  kPromptTokens,
};

struct Name {
  std::string_view name;
  Series series;
};

// Current vLLM, pre-0.11 vLLM, SGLang. Counters appear with `_total` as exposed.
constexpr Name kNames[] = {
    {"vllm:num_requests_running", Series::kRunning},
    {"vllm:num_requests_waiting", Series::kWaiting},
    {"vllm:kv_cache_usage_perc", Series::kKvUsage},
    {"vllm:gpu_cache_usage_perc", Series::kKvUsage},
    {"vllm:time_to_first_token_seconds_sum", Series::kTtftSum},
    {"vllm:time_to_first_token_seconds_count", Series::kTtftCount},
    {"vllm:inter_token_latency_seconds_sum", Series::kItlSum},
    {"vllm:inter_token_latency_seconds_count", Series::kItlCount},
    {"vllm:time_per_output_token_seconds_sum", Series::kItlSum},
    {"vllm:time_per_output_token_seconds_count", Series::kItlCount},
    {"vllm:prefix_cache_queries_total", Series::kPrefixQueries},
    {"vllm:prefix_cache_hits_total", Series::kPrefixHits},
    {"vllm:gpu_prefix_cache_queries_total", Series::kPrefixQueries},
    {"vllm:gpu_prefix_cache_hits_total", Series::kPrefixHits},
    {"sglang:num_running_reqs", Series::kRunning},
    {"sglang:num_queue_reqs", Series::kWaiting},
    {"sglang:token_usage", Series::kKvUsage},
    {"sglang:time_to_first_token_seconds_sum", Series::kTtftSum},
    {"sglang:time_to_first_token_seconds_count", Series::kTtftCount},
    {"sglang:inter_token_latency_seconds_sum", Series::kItlSum},
    {"sglang:inter_token_latency_seconds_count", Series::kItlCount},
    {"sglang:time_per_output_token_seconds_sum", Series::kItlSum},
    {"sglang:time_per_output_token_seconds_count", Series::kItlCount},
    {"sglang:cache_hit_rate", Series::kCacheHitRate},
    {"vllm:cache_config_info", Series::kCacheConfig},
    {"sglang:max_total_num_tokens", Series::kMaxTotalTokens},
    {"vllm:prompt_tokens_total", Series::kPromptTokens},
    {"sglang:prompt_tokens_total", Series::kPromptTokens},
};

Series Classify(std::string_view name) {
  // Both engines prefix every family; skip the rest (process_*, python_*) without a lookup.
  if (!name.starts_with("vllm:") && !name.starts_with("sglang:")) return Series::kNone;
  for (const Name& known : kNames) {
    if (known.name == name) return known.series;
  }
  return Series::kNone;
}

// The length of the {labels} block at the start of `rest` (0 without one); npos when unclosed.
size_t LabelsLength(std::string_view rest) {
  if (rest.empty() || rest[0] != '{') return 0;
  // Label values may hold '}' inside quotes.
  bool quoted = false;
  for (size_t i = 1; i < rest.size(); ++i) {
    const char c = rest[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == '}') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// A label's value as a number (`name="123"` in `labels`); -1 when absent or not a number. The
// info labels read here hold plain digits, so escapes need no decoding.
double NumericLabel(std::string_view labels, std::string_view name) {
  size_t at = 0;
  while ((at = labels.find(name, at)) != std::string_view::npos) {
    const bool starts = at > 0 && (labels[at - 1] == '{' || labels[at - 1] == ',' ||
                                   labels[at - 1] == ' ');
    const size_t quote = at + name.size();
    at = quote;
    if (!starts || labels.substr(quote, 2) != "=\"") continue;
    double value = -1;
    const char* first = labels.data() + quote + 2;
    const char* last = labels.data() + labels.size();
    const auto [end, error] = std::from_chars(first, last, value);
    if (error != std::errc() || end == last || *end != '"' || !std::isfinite(value)) return -1;
    return value;
  }
  return -1;
}

// The sample value after the name and optional {labels}; nullopt-like false when malformed.
bool ReadValue(std::string_view rest, double& value) {
  size_t i = LabelsLength(rest);
  if (i == std::string_view::npos) return false;
  while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
  size_t end = i;
  while (end < rest.size() && rest[end] != ' ' && rest[end] != '\t' && rest[end] != '\r') ++end;
  if (end == i) return false;
  // strtod reads "NaN", "+Inf" and exponents as Prometheus writes them.
  const std::string token(rest.substr(i, end - i));
  char* parsed_end = nullptr;
  value = std::strtod(token.c_str(), &parsed_end);
  return parsed_end == token.c_str() + token.size() && std::isfinite(value);
}

}  // namespace

EngineSample ParseEngineMetrics(std::string_view text) {
  EngineSample sample;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (line.empty() || line[0] == '#') continue;
    const size_t name_end = line.find_first_of("{ \t");
    if (name_end == std::string_view::npos) continue;
    const Series series = Classify(line.substr(0, name_end));
    if (series == Series::kNone) continue;
    double value = 0;
    if (!ReadValue(line.substr(name_end), value)) continue;
    switch (series) {
      case Series::kRunning:
        sample.running += value;
        sample.has_running = true;
        break;
      case Series::kWaiting:
        sample.waiting += value;
        sample.has_waiting = true;
        break;
      case Series::kKvUsage:
        sample.kv_usage = sample.has_kv_usage ? std::max(sample.kv_usage, value) : value;
        sample.has_kv_usage = true;
        break;
      case Series::kTtftSum:
        sample.ttft.sum += value;
        sample.ttft.present = true;
        break;
      case Series::kTtftCount:
        sample.ttft.count += value;
        sample.ttft.present = true;
        break;
      case Series::kItlSum:
        sample.itl.sum += value;
        sample.itl.present = true;
        break;
      case Series::kItlCount:
        sample.itl.count += value;
        sample.itl.present = true;
        break;
      case Series::kPrefixQueries:
        sample.prefix_queries += value;
        sample.has_prefix_counters = true;
        break;
      case Series::kPrefixHits:
        sample.prefix_hits += value;
        sample.has_prefix_counters = true;
        break;
      case Series::kCacheHitRate:
        sample.cache_hit_rate = std::max(sample.cache_hit_rate, value);
        break;
      case Series::kCacheConfig: {
        const std::string_view rest = line.substr(name_end);
        const std::string_view labels = rest.substr(0, LabelsLength(rest));
        const double blocks = NumericLabel(labels, "num_gpu_blocks");
        const double block_size = NumericLabel(labels, "block_size");
        if (blocks > 0 && block_size > 0) sample.kv_capacity_tokens += blocks * block_size;
        break;
      }
      case Series::kMaxTotalTokens:
        if (value > 0) sample.kv_capacity_tokens += value;  // (ReadValue: finite)
        break;
      case Series::kPromptTokens:
        sample.prompt_tokens += value;
        sample.has_prompt_tokens = true;
        break;
      case Series::kNone:
        break;
    }
  }
  return sample;
}

namespace {

// Δsum/Δcount, or `keep` when the interval saw nothing or the counters were reset.
double IntervalMean(const HistogramTotals& now, const HistogramTotals& before, double keep) {
  const double count = now.count - before.count;
  const double sum = now.sum - before.sum;
  if (count <= 0 || sum < 0) return keep;
  return sum / count;
}

}  // namespace

EngineLoad LoadTracker::Update(const EngineSample& sample, double prompt_bytes_sent) {
  cache_.capacity_tokens = sample.kv_capacity_tokens > 0 ? sample.kv_capacity_tokens : -1;
  if (sample.has_prompt_tokens && prompt_bytes_sent >= 0) {
    // An interval runs until it has seen enough tokens for a stable ratio; a counter going
    // backwards (engine restart) starts a new one.
    if (ratio_tokens_ < 0 || sample.prompt_tokens < ratio_tokens_ ||
        prompt_bytes_sent < ratio_bytes_) {
      ratio_tokens_ = sample.prompt_tokens;
      ratio_bytes_ = prompt_bytes_sent;
    } else if (sample.prompt_tokens - ratio_tokens_ >= kMinTokensForRatio) {
      // Bytes are counted when a request is routed, tokens when the engine takes it: one
      // interval's ratio is noisy under bursts. A moving average smooths it (what it sizes, the
      // index, forgets what a dip trims).
      const double ratio =
          (prompt_bytes_sent - ratio_bytes_) / (sample.prompt_tokens - ratio_tokens_);
      cache_.prompt_bytes_per_token = cache_.prompt_bytes_per_token < 0
                                          ? ratio
                                          : 0.75 * cache_.prompt_bytes_per_token + 0.25 * ratio;
      ratio_tokens_ = sample.prompt_tokens;
      ratio_bytes_ = prompt_bytes_sent;
    }
  }
  load_.running = sample.has_running ? sample.running : -1;
  load_.waiting = sample.has_waiting ? sample.waiting : -1;
  load_.kv_usage = sample.has_kv_usage ? std::clamp(sample.kv_usage, 0.0, 1.0) : -1;
  if (sample.cache_hit_rate >= 0) load_.prefix_hit_ratio = sample.cache_hit_rate;
  if (has_previous_) {
    // The first sample gives totals since the engine started, not an interval: no mean yet.
    auto update = [](const HistogramTotals& now, const HistogramTotals& before, double& mean,
                     int& idle) {
      if (!now.present) return;
      if (now.count > before.count) {
        mean = IntervalMean(now, before, mean);
        idle = 0;
      } else if (++idle >= kForgetAfter) {
        mean = -1;
      }
    };
    update(sample.ttft, previous_.ttft, load_.ttft_s, ttft_idle_);
    update(sample.itl, previous_.itl, load_.itl_s, itl_idle_);
    if (sample.has_prefix_counters) {
      const double queries = sample.prefix_queries - previous_.prefix_queries;
      const double hits = sample.prefix_hits - previous_.prefix_hits;
      if (queries > 0 && hits >= 0) load_.prefix_hit_ratio = std::min(1.0, hits / queries);
    }
  }
  previous_ = sample;
  has_previous_ = true;
  return load_;
}

}  // namespace pdgate::discovery
