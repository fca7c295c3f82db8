// Micro-benchmark of one scheduler pick: E endpoints in E/4 groups (2 prefill + 2 decode each),
// an 8 KiB prompt, the prefix index warm (every endpoint holds prompts, and the request's prefix
// is on some of them), live load on every endpoint. Prints a markdown table of ns per pick
// (mean, p50, p99) for each size with prefix-cache on and off.
//
//   build/bin/pdgate-scheduler-bench [picks per case, default 20000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "pd_scheduler/scheduler.h"

namespace {

using namespace pdgate;
using Clock = std::chrono::steady_clock;

struct Bench {
  config::ModelServer model_server;
  discovery::ServerEndpoints server;
  discovery::LiveRegistry registry;
};

std::unique_ptr<Bench> MakeServer(int endpoints) {
  auto bench = std::make_unique<Bench>();
  bench->model_server.pd_group = config::PdGroupSelector{};
  bench->server.server = &bench->model_server;
  std::mt19937_64 rng(7);
  for (int i = 0; i < endpoints; ++i) {
    const int group = i / 4;
    discovery::Endpoint endpoint;
    endpoint.pod = "bench/pod-" + std::to_string(i);
    endpoint.address = "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    endpoint.port = 8000;
    endpoint.role =
        i % 4 < 2 ? discovery::EndpointRole::kPrefill : discovery::EndpointRole::kDecode;
    endpoint.group = "g" + std::to_string(group);
    endpoint.live = bench->registry.Acquire(discovery::LiveKey(endpoint));
    discovery::EngineLoad load;
    load.running = double(rng() % 32);
    load.waiting = double(rng() % 4);
    load.kv_usage = double(rng() % 100) / 100;
    load.ttft_s = 0.05 + double(rng() % 100) / 1000;
    load.itl_s = 0.01 + double(rng() % 20) / 1000;
    endpoint.live->StoreLoad(load);
    endpoint.live->prefill_in_flight = int(rng() % 8);
    endpoint.live->decode_in_flight = int(rng() % 8);
    const auto index = uint32_t(bench->server.endpoints.size());
    bench->server.endpoints.push_back(std::move(endpoint));
    if (size_t(group) >= bench->server.groups.size()) {
      bench->server.groups.emplace_back().name = "g" + std::to_string(group);
    }
    auto& g = bench->server.groups[size_t(group)];
    (i % 4 < 2 ? g.prefill : g.decode).push_back(index);
  }
  return bench;
}

std::string Prompt(int tenant, size_t bytes) {
  std::string text = "[{\"role\":\"system\",\"content\":\"tenant " + std::to_string(tenant) + ": ";
  while (text.size() < bytes) text += "You are a helpful assistant for a large company. ";
  text.resize(bytes);
  return text;
}

struct Result {
  double mean_ns, p50_ns, p99_ns;
};

Result Run(int endpoints, bool prefix, int picks) {
  auto bench = MakeServer(endpoints);
  config::SchedulerSettings settings;
  if (!prefix) {
    std::erase_if(settings.scores, [](const auto& s) { return s.name == "prefix-cache"; });
  }
  pdgate::pd_scheduler::Scheduler scheduler(settings,
                                            std::make_shared<pd_scheduler::PrefixIndex>(
                                                size_t(settings.prefix_cache.max_hash_cache_size)));
  std::mt19937_64 rng(1);
  // Warm the index: 64 tenants' prompts served on their pairs.
  std::vector<std::string> prompts;
  for (int t = 0; t < 64; ++t) prompts.push_back(Prompt(t, 8192));
  for (int t = 0; t < 64; ++t) {
    auto decision =
        scheduler.Pick(bench->server, {"m", prompts[size_t(t)], "", true}, Clock::now(), rng, 3);
    scheduler.RecordServed(decision, bench->server.endpoints[decision.pairs[0].prefill]);
    scheduler.RecordServed(decision, bench->server.endpoints[decision.pairs[0].decode]);
  }
  std::vector<double> samples;
  samples.reserve(size_t(picks));
  size_t sink = 0;
  for (int i = 0; i < picks; ++i) {
    const std::string& prompt = prompts[size_t(i) % prompts.size()];
    const auto start = Clock::now();
    auto decision = scheduler.Pick(bench->server, {"m", prompt, "", true}, start, rng, 3);
    const auto end = Clock::now();
    sink += decision.pairs.size();
    samples.push_back(std::chrono::duration<double, std::nano>(end - start).count());
  }
  if (sink == 0) std::abort();
  std::sort(samples.begin(), samples.end());
  double sum = 0;
  for (double s : samples) sum += s;
  return {sum / double(samples.size()), samples[samples.size() / 2],
          samples[samples.size() * 99 / 100]};
}

}  // namespace

int main(int argc, char** argv) {
  const int picks = argc > 1 ? std::atoi(argv[1]) : 20000;
  std::printf("| endpoints | groups | prompt | prefix-cache | mean µs | p50 µs | p99 µs |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (int endpoints : {8, 64, 512}) {
    for (bool prefix : {true, false}) {
      const Result r = Run(endpoints, prefix, picks);
      std::printf("| %d | %d | 8 KiB | %s | %.2f | %.2f | %.2f |\n", endpoints, endpoints / 4,
                  prefix ? "on" : "off", r.mean_ns / 1000, r.p50_ns / 1000, r.p99_ns / 1000);
    }
  }
  return 0;
}
