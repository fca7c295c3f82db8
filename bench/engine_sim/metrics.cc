#include "bench/engine_sim/metrics.h"

#include <fmt/format.h>

#include <chrono>

#include "bench/engine_sim/json_writer.h"

namespace pdgate::sim {
namespace {

uint64_t Load(const std::atomic<uint64_t>& value) { return value.load(std::memory_order_relaxed); }
int64_t Load(const std::atomic<int64_t>& value) { return value.load(std::memory_order_relaxed); }

void Header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", name, labels, value);
}

void Gauge(std::string& out, std::string_view name, std::string_view help, std::string_view labels,
           double value) {
  Header(out, name, help, "gauge");
  Sample(out, name, labels, value);
}

void Counter(std::string& out, std::string_view name, std::string_view help,
             std::string_view labels, double value) {
  Header(out, name, help, "counter");
  Sample(out, name, labels, value);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(value * 1e9), std::memory_order_relaxed);
}

void Histogram::Render(std::string& out, std::string_view name, std::string_view help,
                       std::string_view labels) const {
  Header(out, name, help, "histogram");
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    std::string le = i < bounds_.size() ? fmt::format("{}", bounds_[i]) : "+Inf";
    fmt::format_to(std::back_inserter(out), "{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, le,
                   double(cumulative));
  }
  fmt::format_to(std::back_inserter(out), "{}_count{{{}}} {}\n", name, labels,
                 double(Load(count_)));
  fmt::format_to(std::back_inserter(out), "{}_sum{{{}}} {}\n", name, labels,
                 double(Load(sum_ns_)) / 1e9);
}

Metrics::Metrics()
    : ttft({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
            1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}),
      itl({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
           20.0, 40.0, 80.0}),
      e2e({0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
           30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}) {}

std::string Metrics::RenderPrometheus(MetricsFlavor flavor, std::string_view model_name,
                                      int block_size) const {
  std::string out;
  out.reserve(8192);
  const double usage = Load(kv_total_blocks) > 0
                           ? double(Load(kv_used_blocks)) / double(Load(kv_total_blocks))
                           : 0.0;
  if (flavor == MetricsFlavor::kSglang) {
    const std::string labels = fmt::format(
        "model_name=\"{}\",engine_type=\"unified\",tp_rank=\"0\",pp_rank=\"0\"", model_name);
    const std::string short_labels = fmt::format("model_name=\"{}\"", model_name);
    Gauge(out, "sglang:num_running_reqs", "The number of running requests.", labels,
          double(Load(running)));
    Gauge(out, "sglang:num_queue_reqs", "The number of requests in the waiting queue.", labels,
          double(Load(waiting)));
    Gauge(out, "sglang:token_usage", "The token usage.", labels, usage);
    Gauge(out, "sglang:max_total_num_tokens", "Maximum total number of tokens in the KV cache.",
          labels, double(Load(kv_total_blocks)) * block_size);
    const uint64_t queries = Load(prefix_queries);
    Gauge(out, "sglang:cache_hit_rate", "The prefix cache hit rate.", labels,
          queries ? double(Load(prefix_hits)) / double(queries) : 0.0);
    Counter(out, "sglang:cached_tokens_total", "Number of cached prompt tokens.", labels,
            double(Load(prefix_hits)));
    Counter(out, "sglang:prompt_tokens_total", "Number of prefill tokens processed.", labels,
            double(Load(prompt_tokens)));
    Counter(out, "sglang:generation_tokens_total", "Number of generation tokens processed.", labels,
            double(Load(generation_tokens)));
    uint64_t total = 0;
    for (const auto& f : finished) total += Load(f);
    Counter(out, "sglang:num_requests_total", "Number of requests processed.", labels,
            double(total));
    Counter(out, "sglang:num_bootstrap_failed_reqs_total", "Number of bootstrap failed requests.",
            labels, double(Load(bootstrap_failed)));
    ttft.Render(out, "sglang:time_to_first_token_seconds",
                "Histogram of time to first token in seconds.", short_labels);
    itl.Render(out, "sglang:inter_token_latency_seconds",
               "Histogram of inter-token latency in seconds.", short_labels);
    e2e.Render(out, "sglang:e2e_request_latency_seconds",
               "Histogram of End-to-end request latency in seconds", short_labels);
    return out;
  }
  const bool legacy = flavor == MetricsFlavor::kVllmLegacy;
  const std::string labels = legacy ? fmt::format("model_name=\"{}\"", model_name)
                                    : fmt::format("engine=\"0\",model_name=\"{}\"", model_name);
  Gauge(out, "vllm:num_requests_running", "Number of requests in model execution batches.", labels,
        double(Load(running)));
  Gauge(out, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", labels,
        double(Load(waiting)));
  if (legacy) {
    Gauge(out, "vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.",
          labels, usage);
    Counter(out, "vllm:gpu_prefix_cache_queries_total",
            "GPU prefix cache queries, in terms of number of queried tokens.", labels,
            double(Load(prefix_queries)));
    Counter(out, "vllm:gpu_prefix_cache_hits_total",
            "GPU prefix cache hits, in terms of number of cached tokens.", labels,
            double(Load(prefix_hits)));
  } else {
    Gauge(out, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", labels,
          usage);
    Counter(out, "vllm:prefix_cache_queries_total",
            "Prefix cache queries, in terms of number of queried tokens.", labels,
            double(Load(prefix_queries)));
    Counter(out, "vllm:prefix_cache_hits_total",
            "Prefix cache hits, in terms of number of cached tokens.", labels,
            double(Load(prefix_hits)));
  }
  Counter(out, "vllm:prompt_tokens_total", "Number of prefill tokens processed.", labels,
          double(Load(prompt_tokens)));
  Counter(out, "vllm:generation_tokens_total", "Number of generation tokens processed.", labels,
          double(Load(generation_tokens)));
  Header(out, "vllm:request_success_total", "Count of successfully processed requests.", "counter");
  for (FinishReason reason : {FinishReason::kStop, FinishReason::kLength, FinishReason::kAbort}) {
    fmt::format_to(std::back_inserter(out),
                   "vllm:request_success_total{{{}finished_reason=\"{}\",model_name=\"{}\"}} {}\n",
                   legacy ? "" : "engine=\"0\",", FinishReasonName(reason), model_name,
                   double(Finished(reason)));
  }
  ttft.Render(out, "vllm:time_to_first_token_seconds",
              "Histogram of time to first token in seconds.", labels);
  itl.Render(out,
             legacy ? "vllm:time_per_output_token_seconds" : "vllm:inter_token_latency_seconds",
             legacy ? "Histogram of time per output token in seconds."
                    : "Histogram of inter-token latency in seconds.",
             labels);
  e2e.Render(out, "vllm:e2e_request_latency_seconds",
             "Histogram of e2e request latency in seconds.", labels);
  Gauge(out, "vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
        fmt::format("block_size=\"{}\",enable_prefix_caching=\"True\",num_gpu_blocks=\"{}\"",
                    block_size, Load(kv_total_blocks)),
        1.0);
  if (max_loras > 0) {
    std::lock_guard lock(lora_mu_);
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    Gauge(out, "vllm:lora_requests_info", "Running stats on lora requests.",
          fmt::format("max_lora=\"{}\",running_lora_adapters=\"{}\",waiting_lora_adapters=\"{}\"",
                      max_loras, running_loras_, waiting_loras_),
          now);
  }
  Gauge(out, "pdgate_sim:kv_held_blocks",
        "Simulator: KV blocks held for a remote decode (stranded until pulled or expired).", labels,
        double(Load(kv_held_blocks)));
  return out;
}

std::string Metrics::RenderJson() const {
  return fmt::format(
      R"({{"requests":{{"prefill":{},"decode":{},"plain":{},"rejected":{}}},)"
      R"("finished":{{"stop":{},"length":{},"abort":{},"error":{}}},)"
      R"("running":{},"waiting":{},"kv_used_blocks":{},"kv_total_blocks":{},)"
      R"("kv_held_blocks":{},"kv_held_requests":{},"kv_expired":{},)"
      R"("pulls_ok":{},"pulls_failed":{},"pulls_served_ok":{},"pulls_served_failed":{},)"
      R"("side_connections":{},)"
      R"("recomputed":{},"bootstrap_failed":{},"prefix_queries":{},"prefix_hits":{},)"
      R"("prompt_tokens":{},"generation_tokens":{},"faults_injected":{},)"
      R"("kv_event_subscriptions":{}}})",
      Load(requests_prefill), Load(requests_decode), Load(requests_plain), Load(rejected),
      Finished(FinishReason::kStop), Finished(FinishReason::kLength),
      Finished(FinishReason::kAbort), Finished(FinishReason::kError), Load(running), Load(waiting),
      Load(kv_used_blocks), Load(kv_total_blocks), Load(kv_held_blocks), Load(kv_held_requests),
      Load(kv_expired), Load(pulls_ok), Load(pulls_failed), Load(pulls_served_ok),
      Load(pulls_served_failed), Load(side_connections), Load(recomputed), Load(bootstrap_failed),
      Load(prefix_queries), Load(prefix_hits), Load(prompt_tokens), Load(generation_tokens),
      Load(faults_injected), Load(kv_event_subscriptions));
}

}  // namespace pdgate::sim
