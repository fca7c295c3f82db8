#pragma once
// The fairness queues of the process, one per requested model name, created on first use and
// kept across reloads (a reload must not drop the requests waiting in them). Configure() applies
// new settings to every queue; turning fairness off lets every waiter run.
#include <absl/container/node_hash_map.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/router_settings.h"
#include "router/fairness/fair_queue.h"

namespace pdgate::fairness {

FairQueueOptions OptionsFrom(const config::FairnessSettings& settings);
// The level (0 = first) of a principal's priority class; the default class's when `name` is
// empty or unknown.
size_t PriorityLevel(const config::FairnessSettings& settings, std::string_view name);

class FairnessQueues {
 public:
  explicit FairnessQueues(const config::FairnessSettings& settings);
  void Configure(const config::FairnessSettings& settings);

  // Never null; lives as long as this object.
  FairQueue& For(std::string_view model);
  void EvictIdle(Clock::time_point now);
  std::vector<std::pair<std::string, FairQueue::Stats>> Stats() const;

 private:
  mutable std::mutex mutex_;
  FairQueueOptions options_;
  bool enabled_ = false;
  absl::node_hash_map<std::string, std::unique_ptr<FairQueue>, StringViewHash, std::equal_to<>>
      queues_;
};

}  // namespace pdgate::fairness
