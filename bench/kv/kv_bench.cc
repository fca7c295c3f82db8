// Benchmarks of kvcache-aware routing (issue 16): what precise scoring costs per request, what
// the KV block index costs in memory, and whether one subscriber thread keeps up with 64 engines'
// KV events while io threads read the index. Prints markdown tables (docs/BENCHMARKS.md).
//
//   build/bin/pdgate-kv-bench [--quick] [precise-pick] [memory] [events]   (default: all three)
//
// The cluster is the one pdgate-scheduler-bench uses (64 endpoints, 16 groups of 2 prefill +
// 2 decode), here loaded from YAML so the events case can hand its snapshot to the real
// KvEventSubscriber.
#include "bench/kv/kv_bench.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/loader.h"

namespace pdgate::kvbench {
namespace {

std::string ClusterYaml() {
  std::string yaml = R"(apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: bench, namespace: bench}
spec:
  kvConnector: {type: nixl}
  workloadSelector:
    matchLabels: {app: kv}
    pdGroup:
      groupKey: group
      prefillLabels: {role: prefill}
      decodeLabels: {role: decode}
  workloadPort: {port: 8000}
  model: bench-model
  inferenceEngine: vLLM
---
apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: bench}
spec:
  scheduler:
    pluginConfig:
      - name: kvcache-aware
        args: {kvEventsPort: )" +
                     std::to_string(kEventsPort) +
                     R"(}
    plugins:
      Score:
        enabled: [{name: least-request, weight: 1}, {name: kvcache-aware, weight: 1},
                  {name: gpu-usage, weight: 1}]
)";
  for (int i = 0; i < kEndpoints; ++i) {
    const char* role = i % 4 < 2 ? "prefill" : "decode";
    yaml += "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: kv-" + std::to_string(i) +
            "\n  namespace: bench\n  labels: {app: kv, group: g" + std::to_string(i / 4) +
            ", role: " + role + "}\nstatus:\n  phase: Running\n  podIP: 127.0.0." +
            std::to_string(kFirstAddress + i) +
            "\n  conditions: [{type: Ready, status: \"True\"}]\n";
  }
  return yaml;
}

[[noreturn]] void Fail(const std::string& why) {
  std::fprintf(stderr, "pdgate-kv-bench: %s\n", why.c_str());
  std::exit(1);
}

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::unique_ptr<Cluster> MakeCluster() {
  config::ConfigLoader loader;
  loader.AddYaml("kv-bench.yaml", ClusterYaml());
  config::LoadResult loaded = loader.Finish();
  if (!loaded.errors.empty()) Fail("configuration: " + loaded.errors[0]);
  auto cluster = std::make_unique<Cluster>();
  cluster->snapshot = discovery::BuildEndpointSnapshot(loaded.config, &cluster->registry);
  if (cluster->snapshot->servers.size() != 1 ||
      cluster->server().endpoints.size() != size_t(kEndpoints) ||
      cluster->server().groups.size() != size_t(kEndpoints / 4)) {
    Fail("the cluster is not 64 endpoints in 16 groups");
  }
  if (!cluster->scheduler().kv_cache_aware_enabled()) Fail("kvcache-aware is not enabled");
  if (cluster->scheduler().kv_cache_aware.block_size_to_hash != int(kBlockSize)) {
    Fail("blockSizeToHash is not 16");
  }
  return cluster;
}

void SetLoad(const Cluster& cluster, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (const discovery::Endpoint& endpoint : cluster.server().endpoints) {
    discovery::EngineLoad load;
    load.running = double(rng() % 32);
    load.waiting = double(rng() % 4);
    load.kv_usage = double(rng() % 100) / 100;
    load.ttft_s = 0.05 + double(rng() % 100) / 1000;
    load.itl_s = 0.01 + double(rng() % 20) / 1000;
    endpoint.live->StoreLoad(load);
    endpoint.live->prefill_in_flight = int(rng() % 8);
    endpoint.live->decode_in_flight = int(rng() % 8);
  }
}

std::vector<uint32_t> Tokens(uint64_t seed, size_t count) {
  std::vector<uint32_t> tokens(count);
  uint64_t state = seed * 0x2545f4914f6cdd1dULL + 1;
  for (uint32_t& token : tokens) token = uint32_t(100 + SplitMix(state) % 100000);
  return tokens;
}

void FillStored(std::span<const uint32_t> tokens, uint64_t first_hash, uint64_t parent,
                discovery::KvEventBatch& batch) {
  batch.events.resize(1);
  discovery::KvEvent& event = batch.events[0];
  event.type = discovery::KvEventType::kBlockStored;
  event.block_size = kBlockSize;
  event.medium = "GPU";
  event.parent_block_hash.reset();
  if (parent != 0) event.parent_block_hash = parent;
  const size_t blocks = tokens.size() / kBlockSize;
  event.block_hashes.resize(blocks);
  for (size_t b = 0; b < blocks; ++b) event.block_hashes[b] = first_hash + b;
  event.token_ids.assign(tokens.begin(), tokens.begin() + std::ptrdiff_t(blocks * kBlockSize));
}

PromptPool MakePromptPool(size_t prompts) {
  PromptPool pool;
  for (size_t p = 0; p < prompts; ++p) {
    pool.tokens.push_back(Tokens(p + 1, kPromptTokens));
    std::string text = "[{\"role\":\"system\",\"content\":\"tenant " + std::to_string(p) + ": ";
    while (text.size() < kPromptBytes) text += "You are a helpful assistant for a large company. ";
    text.resize(kPromptBytes);
    pool.text.push_back(std::move(text));
  }
  return pool;
}

std::vector<Holding> WarmIndex(const Cluster& cluster, const PromptPool& pool, size_t per_endpoint,
                               discovery::KvBlockIndex& index) {
  std::mt19937_64 rng(11);
  std::vector<Holding> holdings;
  discovery::KvEventBatch batch;
  const uint32_t full = uint32_t(kPromptTokens / kBlockSize);
  for (uint32_t e = 0; e < uint32_t(kEndpoints); ++e) {
    std::vector<uint32_t> prompts(pool.tokens.size());
    for (uint32_t p = 0; p < prompts.size(); ++p) prompts[p] = p;
    std::shuffle(prompts.begin(), prompts.end(), rng);
    uint64_t next_hash = uint64_t{e + 1} << 40;  // engine hashes: unique per engine
    for (size_t k = 0; k < per_endpoint && k < prompts.size(); ++k) {
      const uint32_t blocks = rng() % 2 == 0 ? full : uint32_t(full / 4 + rng() % (full * 3 / 4));
      holdings.push_back({e, prompts[k], blocks});
      FillStored(std::span(pool.tokens[prompts[k]]).first(size_t{blocks} * kBlockSize), next_hash,
                 0, batch);
      next_hash += blocks;
      index.Apply(cluster.slot(e), "", batch);
    }
  }
  return holdings;
}

double LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  const auto rank = uint64_t(std::max(1.0, q * double(count_) + 0.5));
  uint64_t seen = 0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    seen += counts_[b];
    if (seen < rank) continue;
    if (b < 128) return double(b);
    const size_t e = (b - 128) / 64 + 1;
    const uint64_t lower = uint64_t((b - 128) % 64 + 64) << e;
    return double(lower) + double(uint64_t{1} << e) / 2;
  }
  return 0;
}

Summary Summarize(std::vector<double> samples) {
  if (samples.empty()) return {};
  std::sort(samples.begin(), samples.end());
  double sum = 0;
  for (double s : samples) sum += s;
  return {sum / double(samples.size()), samples[samples.size() / 2],
          samples[samples.size() * 99 / 100]};
}

size_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0;
  size_t resident = 0;
  statm >> pages >> resident;
  return resident * size_t(sysconf(_SC_PAGESIZE));
}

double ThreadCpuSeconds(int tid) {
  const std::string task = "/proc/self/task/" + std::to_string(tid);
  std::ifstream schedstat(task + "/schedstat");
  uint64_t run_ns = 0;
  if (schedstat >> run_ns) return double(run_ns) / 1e9;
  // stat: "tid (comm) state ..." — utime and stime are fields 14 and 15, in clock ticks.
  std::ifstream stat(task + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks / double(sysconf(_SC_CLK_TCK));
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::vector<TaskInfo> ListTasks() {
  std::vector<TaskInfo> tasks;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return tasks;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    TaskInfo task;
    task.tid = std::atoi(entry->d_name);
    std::ifstream comm("/proc/self/task/" + std::string(entry->d_name) + "/comm");
    std::getline(comm, task.name);
    tasks.push_back(std::move(task));
  }
  closedir(dir);
  return tasks;
}

}  // namespace pdgate::kvbench

int main(int argc, char** argv) {
  using namespace pdgate::kvbench;
  Options options;
  bool precise = false;
  bool memory = false;
  bool events = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "precise-pick") {
      precise = true;
    } else if (arg == "memory") {
      memory = true;
    } else if (arg == "events") {
      events = true;
    } else if (arg.starts_with("--memory-child=")) {
      return RunMemoryChild(arg.substr(std::strlen("--memory-child=")));
    } else {
      std::fprintf(stderr, "usage: pdgate-kv-bench [--quick] [precise-pick] [memory] [events]\n");
      return 2;
    }
  }
  if (!precise && !memory && !events) precise = memory = events = true;
  if (precise) RunPrecisePick(options);
  if (memory) RunMemory(options);
  if (events) RunEvents(options);
  return 0;
}
