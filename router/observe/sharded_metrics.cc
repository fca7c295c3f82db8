#include "router/observe/sharded_metrics.h"

#include <algorithm>
#include <limits>

namespace pdgate::router {
namespace {

// The shards bound threads write alone, one bit each; a thread's claim ends with it.
std::atomic<uint32_t> claimed_shards{0};
struct ShardClaim {
  ~ShardClaim() { Release(); }
  void Release() {
    if (metrics_internal::this_shard != metrics_internal::kSharedShard) {
      claimed_shards.fetch_and(~(uint32_t{1} << metrics_internal::this_shard));
      metrics_internal::this_shard = metrics_internal::kSharedShard;
    }
  }
};
thread_local ShardClaim shard_claim;
static_assert(kMetricShards <= 32);

}  // namespace

void BindMetricShard(size_t index) {
  shard_claim.Release();
  if (index >= metrics_internal::kSharedShard) return;
  const uint32_t bit = uint32_t{1} << index;
  if ((claimed_shards.fetch_or(bit) & bit) == 0) metrics_internal::this_shard = index;
}

double ShardedCounter::Value() const {
  double total = 0;
  for (const auto& cell : cells_) total += cell.value.load(std::memory_order_relaxed);
  return total;
}

ShardedHistogram::ShardedHistogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      lines_per_shard_((bounds_.size() + 1 + 7) / 8),
      lines_(std::make_unique<Line[]>(kMetricShards * lines_per_shard_)) {}

void ShardedHistogram::Observe(double value) {
  // The first bound >= value, as Prometheus' `le`; past the last one, +Inf.
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  const size_t shard = metrics_internal::ThisShard();
  metrics_internal::Add(lines_[shard * lines_per_shard_ + bucket / 8].counts[bucket % 8],
                        uint64_t{1}, shard);
  metrics_internal::Add(sums_[shard].value, value, shard);
}

prometheus::ClientMetric::Histogram ShardedHistogram::Collect() const {
  prometheus::ClientMetric::Histogram histogram;
  uint64_t cumulative = 0;
  for (size_t bucket = 0; bucket <= bounds_.size(); ++bucket) {
    for (size_t shard = 0; shard < kMetricShards; ++shard) {
      cumulative += lines_[shard * lines_per_shard_ + bucket / 8].counts[bucket % 8].load(
          std::memory_order_relaxed);
    }
    prometheus::ClientMetric::Bucket out;
    out.cumulative_count = cumulative;
    out.upper_bound =
        bucket == bounds_.size() ? std::numeric_limits<double>::infinity() : bounds_[bucket];
    histogram.bucket.push_back(out);
  }
  histogram.sample_count = cumulative;
  for (const auto& sum : sums_) histogram.sample_sum += sum.value.load(std::memory_order_relaxed);
  return histogram;
}

template <class Metric>
prometheus::MetricFamily ShardedFamily<Metric>::Collect(prometheus::MetricType type) const {
  prometheus::MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type = type;
  std::lock_guard lock(mu_);
  family.metric.reserve(series_.size());
  for (auto it = series_.begin(); it != series_.end();) {
    const std::shared_ptr<Metric> metric = it->second.lock();
    if (!metric) {
      it = series_.erase(it);
      continue;
    }
    const MetricLabels& labels = it->first;
    ++it;
    prometheus::ClientMetric sample;
    for (const auto& [name, value] : labels) sample.label.push_back({name, value});
    if constexpr (std::is_same_v<Metric, ShardedHistogram>) {
      sample.histogram = metric->Collect();
    } else if (type == prometheus::MetricType::Counter) {
      sample.counter.value = metric->Value();
    } else {
      sample.gauge.value = metric->Value();
    }
    family.metric.push_back(std::move(sample));
  }
  return family;
}

template class ShardedFamily<ShardedCounter>;
template class ShardedFamily<ShardedHistogram>;

}  // namespace pdgate::router
