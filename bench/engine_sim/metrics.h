#pragma once
// The simulator's counters and gauges, declared once, updated with relaxed atomics from the engine
// strand and the HTTP threads, and rendered in the Prometheus text format under the names the
// real engine uses: vLLM >= 0.11 (default), vLLM before 0.11 (--legacy-metrics), or SGLang.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bench/engine_sim/generation.h"

namespace pdgate::sim {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  void Render(std::string& out, std::string_view name, std::string_view help,
              std::string_view labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;  // per bucket (not cumulative); last = +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

enum class MetricsFlavor { kVllm, kVllmLegacy, kSglang };

struct Metrics {
  Metrics();
  // Gauges (set by the engine).
  std::atomic<int64_t> running{0};
  std::atomic<int64_t> waiting{0};
  // Subscribe messages the KV-event publisher has seen (its socket is an XPUB, which a SUB cannot
  // tell from vLLM's PUB): a test publishes only once its SUB's subscription has reached the
  // engine.
  std::atomic<int64_t> kv_event_subscriptions{0};
  std::atomic<int64_t> kv_used_blocks{0};
  std::atomic<int64_t> kv_total_blocks{0};
  std::atomic<int64_t> kv_held_blocks{0};  // prefill: blocks kept for a remote decode
  std::atomic<int64_t> kv_held_requests{0};
  // Counters.
  std::array<std::atomic<uint64_t>, 4> finished{};  // by FinishReason
  std::atomic<uint64_t> prompt_tokens{0};
  std::atomic<uint64_t> generation_tokens{0};
  std::atomic<uint64_t> prefix_queries{0};
  std::atomic<uint64_t> prefix_hits{0};
  std::atomic<uint64_t> requests_prefill{0};  // acting as the prefill leg of a PD pair
  std::atomic<uint64_t> requests_decode{0};   // acting as the decode leg
  std::atomic<uint64_t> requests_plain{0};    // whole request on this engine
  std::atomic<uint64_t> rejected{0};          // 4xx/5xx before the engine
  std::atomic<uint64_t> pulls_ok{0};          // decode: KV pulled from a prefill
  std::atomic<uint64_t> pulls_failed{0};
  std::atomic<uint64_t> pulls_served_ok{0};  // prefill: KV pulled by a decode
  std::atomic<uint64_t> pulls_served_failed{0};
  std::atomic<uint64_t> side_connections{0};  // prefill: connections accepted on the side channel
  std::atomic<uint64_t> kv_expired{0};        // prefill: held KV freed by --kv-hold-timeout
  std::atomic<uint64_t> recomputed{0};        // decode: pull failed, prefilled locally
  std::atomic<uint64_t> bootstrap_failed{0};  // SGLang: room not matched in time
  std::atomic<uint64_t> faults_injected{0};

  Histogram ttft;
  Histogram itl;
  Histogram e2e;

  // vllm:lora_requests_info (rendered when max_loras > 0).
  int max_loras = 0;
  void SetLoras(std::string running_adapters, std::string waiting_adapters) {
    std::lock_guard lock(lora_mu_);
    running_loras_ = std::move(running_adapters);
    waiting_loras_ = std::move(waiting_adapters);
  }

  void CountFinished(FinishReason reason) {
    finished[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t Finished(FinishReason reason) const {
    return finished[static_cast<size_t>(reason)].load(std::memory_order_relaxed);
  }

  std::string RenderPrometheus(MetricsFlavor flavor, std::string_view model_name,
                               int block_size) const;
  // The counters tests and scripts read (GET /admin/stats).
  std::string RenderJson() const;

 private:
  mutable std::mutex lora_mu_;
  std::string running_loras_;
  std::string waiting_loras_;
};

}  // namespace pdgate::sim
