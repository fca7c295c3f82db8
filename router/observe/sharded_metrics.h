#pragma once
// Counters, gauges and histograms that io threads update without a lock and without writing a
// cache line another io thread writes: each metric keeps one cell per shard, each io thread
// writes the shard of its index (relaxed atomics on its own cache line), and a scrape adds the
// shards up. This is what Envoy's thread-local stats do. prometheus-cpp's own types take a mutex
// per histogram observation and share one atomic per counter among all threads.
#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pdgate::router {

inline constexpr size_t kMetricShards = 8;

// The calling thread writes shard `index` alone from now on, when `index` is below
// kMetricShards - 1 and no other live thread holds that shard (io thread i calls this with i):
// its updates are then a plain load and store, not a locked read-modify-write. Other threads
// (unbound ones, io threads beyond the first kMetricShards - 1, a second server's in one
// process) share the last shard with atomic adds.
void BindMetricShard(size_t index);

namespace metrics_internal {
inline constexpr size_t kSharedShard = kMetricShards - 1;
inline constinit thread_local size_t this_shard = kSharedShard;

struct alignas(64) Cell {
  std::atomic<double> value{0};
};
inline size_t ThisShard() { return this_shard; }

// Adds to a cell of the calling thread's shard (`shard`): only the shared shard has other writers.
template <class T>
void Add(std::atomic<T>& cell, T by, size_t shard) {
  if (shard == kSharedShard) {
    cell.fetch_add(by, std::memory_order_relaxed);
  } else {
    cell.store(cell.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
}
}  // namespace metrics_internal

class ShardedCounter {
 public:
  void Increment(double by = 1) {
    const size_t shard = metrics_internal::ThisShard();
    metrics_internal::Add(cells_[shard].value, by, shard);
  }
  double Value() const;

 private:
  std::array<metrics_internal::Cell, kMetricShards> cells_;
};

// A gauge moved up and down by deltas (in-flight counts); its value is the sum of the shards.
using ShardedGauge = ShardedCounter;

class ShardedHistogram {
 public:
  // `bounds`: ascending upper bounds; one more bucket (+Inf) is added.
  explicit ShardedHistogram(std::vector<double> bounds);
  void Observe(double value);
  prometheus::ClientMetric::Histogram Collect() const;

 private:
  struct alignas(64) Line {
    std::array<std::atomic<uint64_t>, 8> counts{};
  };
  std::vector<double> bounds_;
  size_t lines_per_shard_;
  std::unique_ptr<Line[]> lines_;  // kMetricShards * lines_per_shard_
  std::array<metrics_internal::Cell, kMetricShards> sums_;
};

using MetricLabels = std::map<std::string, std::string>;

// A named family of sharded series, exposed through Collect. Add is for resolve time (a mutex);
// the same labels give the same series while anyone holds it. A series lives as long as its
// holders (the router states whose handles point at it): once the last one goes, it leaves the
// exposition, so an endpoint or model that left the configuration leaves no series behind.
template <class Metric>
class ShardedFamily {
 public:
  ShardedFamily(std::string name, std::string help)
      : name_(std::move(name)), help_(std::move(help)) {}

  template <class... Args>
  std::shared_ptr<Metric> Add(const MetricLabels& labels, Args&&... args) {
    std::lock_guard lock(mu_);
    std::weak_ptr<Metric>& slot = series_[labels];
    std::shared_ptr<Metric> metric = slot.lock();
    if (!metric) {
      metric = std::make_shared<Metric>(std::forward<Args>(args)...);
      slot = metric;
    }
    return metric;
  }
  // The series still held; forgets the others.
  prometheus::MetricFamily Collect(prometheus::MetricType type) const;

 private:
  std::string name_;
  std::string help_;
  mutable std::mutex mu_;
  mutable std::map<MetricLabels, std::weak_ptr<Metric>> series_;
};

extern template class ShardedFamily<ShardedCounter>;
extern template class ShardedFamily<ShardedHistogram>;

}  // namespace pdgate::router
