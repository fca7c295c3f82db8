// Sharded metrics: a bound io thread writes its shard alone with plain stores, so a shard must
// never have two bound writers; the shared shard takes everyone else's atomic adds.
#include "router/observe/sharded_metrics.h"

#include <catch2/catch.hpp>
#include <latch>
#include <thread>
#include <vector>

using namespace pdgate::router;

TEST_CASE("two threads bound to the same index lose no update, and a claim ends with its thread") {
  ShardedCounter counter;
  ShardedHistogram histogram({1.0, 10.0});
  constexpr int kAdds = 200000;
  std::vector<size_t> shards(2);
  std::latch both_bound(2);  // both hold their binding while the other binds
  auto work = [&](size_t slot) {
    BindMetricShard(0);
    shards[slot] = metrics_internal::ThisShard();
    both_bound.arrive_and_wait();
    for (int i = 0; i < kAdds; ++i) {
      counter.Increment();
      histogram.Observe(5.0);
    }
  };
  {
    std::thread a(work, 0);
    std::thread b(work, 1);
    a.join();
    b.join();
  }
  // One of them held shard 0; the other shared the last one.
  CHECK(shards[0] != shards[1]);
  CHECK((shards[0] == 0 || shards[1] == 0));
  CHECK(counter.Value() == 2.0 * kAdds);
  const auto collected = histogram.Collect();
  CHECK(collected.sample_count == uint64_t{2} * kAdds);
  CHECK(collected.sample_sum == 5.0 * 2 * kAdds);

  // Both threads are gone: shard 0 is free again. An index past the exclusive ones shares.
  size_t again = metrics_internal::kSharedShard;
  size_t beyond = 0;
  std::thread([&] {
    BindMetricShard(0);
    again = metrics_internal::ThisShard();
  }).join();
  std::thread([&] {
    BindMetricShard(kMetricShards - 1);
    beyond = metrics_internal::ThisShard();
  }).join();
  CHECK(again == 0);
  CHECK(beyond == metrics_internal::kSharedShard);
}
