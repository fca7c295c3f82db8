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
