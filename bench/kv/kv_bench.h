#pragma once
// pdgate-kv-bench's shared parts: the 64-endpoint cluster (16 groups × 2 prefill + 2 decode, from
// YAML as pdgate loads it), the prompt pool, a KvBlockIndex warmed with the pool's blocks, a
// latency histogram, and RSS / per-thread CPU readers. Each case lives in its own file:
// precise_pick.cc, index_memory.cc, event_load.cc (+ engine_publishers.cc).
#include <array>
#include <bit>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "discovery/endpoint_snapshot.h"
#include "discovery/kv_block_index.h"

namespace pdgate::kvbench {

struct Options {
  bool quick = false;
};

inline constexpr int kEndpoints = 64;           // 16 groups × (2 prefill + 2 decode)
inline constexpr int kFirstAddress = 101;       // endpoint i is 127.0.0.(101 + i)
inline constexpr uint16_t kEventsPort = 19701;  // every endpoint's KV-event PUB
inline constexpr uint32_t kBlockSize = 16;      // tokens per block (blockSizeToHash's default)
inline constexpr size_t kReaderSlots = 64;      // router/runtime/router_state.h kKvIndexReaderSlots
inline constexpr size_t kPromptTokens = 3000;
inline constexpr size_t kPromptBytes = 12000;  // 4 bytes per token, pdgate's own estimate

// A pdgate configuration of kEndpoints pods with kvcache-aware scoring (least-request +
// kvcache-aware + gpu-usage, as the scheduler-quality benchmark's policy), loaded and turned
// into a snapshot the way pdgate does it.
struct Cluster {
  discovery::LiveRegistry registry;
  std::shared_ptr<const discovery::EndpointSnapshot> snapshot;

  const discovery::ServerEndpoints& server() const { return snapshot->servers[0]; }
  const config::SchedulerSettings& scheduler() const {
    return snapshot->config->settings.scheduler;
  }
  uint32_t slot(size_t endpoint) const { return server().endpoints[endpoint].live->slot(); }
};
// Exits with a message when the configuration does not load as expected.
std::unique_ptr<Cluster> MakeCluster();
// Live load on every endpoint, as pdgate-scheduler-bench sets it.
void SetLoad(const Cluster& cluster, uint64_t seed);

// Pseudo-random token ids in a 100k vocabulary, distinct per `seed`.
std::vector<uint32_t> Tokens(uint64_t seed, size_t count);

// One BlockStored of `tokens`' full blocks (kBlockSize each), engine hashes first_hash, +1, ...,
// its parent `parent` (0: the first block of a chain). Reuses `batch`'s storage.
void FillStored(std::span<const uint32_t> tokens, uint64_t first_hash, uint64_t parent,
                discovery::KvEventBatch& batch);

// Prompts that requests send: token ids (what /tokenize answers) and the chat text (what the
// approximate index hashes), distinct per prompt.
struct PromptPool {
  std::vector<std::vector<uint32_t>> tokens;
  std::vector<std::string> text;
};
PromptPool MakePromptPool(size_t prompts);

// Which endpoint holds which leading blocks of which pool prompt.
struct Holding {
  uint32_t endpoint = 0;  // index into the server's endpoints
  uint32_t prompt = 0;
  uint32_t blocks = 0;  // leading blocks held
};
// Every endpoint holds `per_endpoint` distinct pool prompts, each whole (half of them) or a
// leading part of 25–100 % of its blocks; every holding is applied to `index` as one BlockStored.
std::vector<Holding> WarmIndex(const Cluster& cluster, const PromptPool& pool, size_t per_endpoint,
                               discovery::KvBlockIndex& index);

// Latencies in ns, log-linear buckets (64 per power of two: under 1.6 % error), for threads that
// record millions of samples.
class LatencyHistogram {
 public:
  void Add(uint64_t ns) {
    ++counts_[Bucket(ns)];
    ++count_;
    sum_ += ns;
  }
  void Merge(const LatencyHistogram& other) {
    for (size_t b = 0; b < counts_.size(); ++b) counts_[b] += other.counts_[b];
    count_ += other.count_;
    sum_ += other.sum_;
  }
  uint64_t count() const { return count_; }
  double mean() const { return count_ == 0 ? 0 : double(sum_) / double(count_); }
  double Quantile(double q) const;

 private:
  static size_t Bucket(uint64_t v) {
    if (v < 128) return size_t(v);
    const int e = std::bit_width(v) - 7;
    return 128 + size_t(e - 1) * 64 + size_t((v >> e) - 64);
  }
  std::array<uint64_t, 128 + 57 * 64> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
};

struct Summary {
  double mean = 0;
  double p50 = 0;
  double p99 = 0;
};
Summary Summarize(std::vector<double> samples);  // ns

size_t RssBytes();                 // /proc/self/statm
double ThreadCpuSeconds(int tid);  // /proc/self/task/<tid>/schedstat (stat as fallback)
double ProcessCpuSeconds();        // getrusage(RUSAGE_SELF)
struct TaskInfo {
  int tid = 0;
  std::string name;
};
std::vector<TaskInfo> ListTasks();  // this process's threads

void RunPrecisePick(const Options& options);
void RunMemory(const Options& options);
int RunMemoryChild(const std::string& variant);  // in a fresh process (see index_memory.cc)
void RunEvents(const Options& options);

}  // namespace pdgate::kvbench
