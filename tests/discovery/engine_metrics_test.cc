// Reading engines' /metrics: vLLM (current and pre-0.11 names) and SGLang, from real exposition
// captured in tests/fixtures, and per-interval means from histogram deltas.
#include "discovery/engine_metrics.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "tests/support/paths.h"

using namespace pdgate::discovery;

namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(pdgate::testing::SharedPath("fixtures/" + name));
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("vLLM: data-parallel series are summed, KV usage is the fullest engine's") {
  const EngineSample s = ParseEngineMetrics(Fixture("vllm_metrics.txt"));
  CHECK(s.running == 21);
  CHECK(s.waiting == 3);
  CHECK(s.kv_usage == Approx(0.4275));
  CHECK(s.prefix_queries == Approx(1.284e6 + 1.19e6));
  CHECK(s.prefix_hits == Approx(802816.0 + 710912.0));
  CHECK(s.ttft.count >= 1104);
  CHECK(s.ttft.sum >= 201.73);
  CHECK(s.itl.count >= 102004);
  // cache_config_info carries the size in its labels: 4096 blocks × 128 tokens.
  CHECK(s.kv_capacity_tokens == 4096.0 * 128);
}

TEST_CASE("vLLM before 0.11: gpu_cache_usage_perc, gpu_prefix_cache_*, time_per_output_token") {
  const EngineSample s = ParseEngineMetrics(Fixture("vllm_metrics_legacy.txt"));
  CHECK(s.running == 4);
  CHECK(s.waiting == 1);
  CHECK(s.kv_usage == Approx(0.61));
  CHECK(s.prefix_queries == 52000);
  CHECK(s.prefix_hits == 31000);
  CHECK(s.itl.count == 1000);
  CHECK(s.itl.sum == Approx(21.5));
}

TEST_CASE("SGLang names") {
  const EngineSample s = ParseEngineMetrics(Fixture("sglang_metrics.txt"));
  CHECK(s.running == 7);
  CHECK(s.waiting == 2);
  CHECK(s.kv_usage == Approx(0.37));
  CHECK(s.cache_hit_rate == Approx(0.58));
  CHECK(s.ttft.count == 52);
  CHECK(s.itl.sum == Approx(55.0));
}

TEST_CASE("KV cache size: vLLM's info labels per data-parallel engine, SGLang's token gauge") {
  EngineSample s = ParseEngineMetrics(
      "vllm:cache_config_info{block_size=\"16\",engine=\"0\",num_gpu_blocks=\"1000\"} 1.0\n"
      "vllm:cache_config_info{engine=\"1\",num_gpu_blocks=\"500\",block_size=\"16\"} 1.0\n"
      "vllm:cache_config_info{xnum_gpu_blocks=\"7\",block_size=\"16\"} 1.0\n"
      "vllm:cache_config_info{num_gpu_blocks=\"None\",block_size=\"16\"} 1.0\n"
      "vllm:prompt_tokens_total{engine=\"0\"} 300\n"
      "vllm:prompt_tokens_total{engine=\"1\"} 200\n");
  CHECK(s.kv_capacity_tokens == 24000);
  CHECK(s.has_prompt_tokens);
  CHECK(s.prompt_tokens == 500);
  s = ParseEngineMetrics("sglang:max_total_num_tokens{model_name=\"m\",dp_rank=\"0\"} 65536\n"
                         "sglang:max_total_num_tokens{model_name=\"m\",dp_rank=\"1\"} 65536\n");
  CHECK(s.kv_capacity_tokens == 131072);
  CHECK(ParseEngineMetrics("vllm:num_requests_running 1\n").kv_capacity_tokens == 0);
  // Labels that are not finite numbers say nothing.
  CHECK(ParseEngineMetrics("vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"inf\"} 1\n"
                           "vllm:cache_config_info{block_size=\"nan\",num_gpu_blocks=\"8\"} 1\n")
            .kv_capacity_tokens == 0);
}

TEST_CASE("prompt bytes per token: bytes sent over the engine's prompt tokens, per interval") {
  LoadTracker tracker;
  EngineSample sample;
  sample.kv_capacity_tokens = 16384;
  sample.has_prompt_tokens = true;
  sample.prompt_tokens = 5000;
  tracker.Update(sample, 90000);  // totals since start: the first interval begins here
  CHECK(tracker.cache().capacity_tokens == 16384);
  CHECK(tracker.cache().prompt_bytes_per_token == -1);
  sample.prompt_tokens = 5500;  // too few tokens for a stable ratio: the interval goes on
  tracker.Update(sample, 92000);
  CHECK(tracker.cache().prompt_bytes_per_token == -1);
  sample.prompt_tokens = 7000;
  tracker.Update(sample, 97000);
  CHECK(tracker.cache().prompt_bytes_per_token == Approx(3.5));
  sample.prompt_tokens = 100;  // engine restarted: a new interval, the last ratio stays
  tracker.Update(sample, 98000);
  CHECK(tracker.cache().prompt_bytes_per_token == Approx(3.5));
  sample.prompt_tokens = 1100;  // an interval of 5 bytes per token moves the average a quarter
  tracker.Update(sample, 103000);
  CHECK(tracker.cache().prompt_bytes_per_token == Approx(3.875));
  // Without the router's byte count nothing is measured; a scrape without the size forgets it.
  sample.kv_capacity_tokens = 0;
  sample.prompt_tokens = 9000;
  tracker.Update(sample);
  CHECK(tracker.cache().prompt_bytes_per_token == Approx(3.875));
  CHECK(tracker.cache().capacity_tokens == -1);
}

TEST_CASE("labels holding braces and spaces, exponents, NaN and garbage lines") {
  const EngineSample s = ParseEngineMetrics(
      "vllm:num_requests_running{model_name=\"a } b\",x=\"q\\\"}\"} 2.5e1 1700000000\n"
      "vllm:num_requests_waiting NaN\n"
      "vllm:kv_cache_usage_perc{engine=\"0\"} not-a-number\n"
      "vllm:num_requests_waiting_other 7\n"
      "garbage\n"
      "vllm:num_requests_waiting{engine=\"1\"} 4\r\n");
  CHECK(s.running == 25);
  CHECK(s.waiting == 4);
  CHECK_FALSE(s.has_kv_usage);
}

TEST_CASE("interval means come from deltas, nothing observed keeps the last, resets rebase") {
  LoadTracker tracker;
  EngineSample a;
  a.ttft = {10.0, 100, true};
  a.itl = {2.0, 200, true};
  a.has_prefix_counters = true;
  a.prefix_queries = 1000;
  a.prefix_hits = 100;
  EngineLoad load = tracker.Update(a);
  CHECK(load.ttft_s == -1);  // totals since start are not an interval
  EngineSample b = a;
  b.ttft = {13.0, 110, true};  // 10 requests, 0.3 s each
  b.itl = {2.2, 220, true};
  b.prefix_queries = 2000;
  b.prefix_hits = 900;
  load = tracker.Update(b);
  CHECK(load.ttft_s == Approx(0.3));
  CHECK(load.itl_s == Approx(0.01));
  CHECK(load.prefix_hit_ratio == Approx(0.8));
  load = tracker.Update(b);  // nothing new
  CHECK(load.ttft_s == Approx(0.3));
  EngineSample restarted;
  restarted.ttft = {0.5, 2, true};
  load = tracker.Update(restarted);  // counters went backwards: keep, rebase
  CHECK(load.ttft_s == Approx(0.3));
  EngineSample next = restarted;
  next.ttft = {1.5, 4, true};
  CHECK(tracker.Update(next).ttft_s == Approx(0.5));
  // No traffic for long: the old mean is forgotten.
  for (int i = 0; i < LoadTracker::kForgetAfter - 1; ++i) {
    CHECK(tracker.Update(next).ttft_s == Approx(0.5));
  }
  CHECK(tracker.Update(next).ttft_s == -1);
}
