#include "router/fairness/fairness_queues.h"

#include <algorithm>

namespace pdgate::fairness {

FairQueueOptions OptionsFrom(const config::FairnessSettings& settings) {
  FairQueueOptions options;
  options.max_queued = size_t(settings.max_queued);
  options.window = settings.window;
  options.input_token_weight = settings.input_token_weight;
  options.output_token_weight = settings.output_token_weight;
  options.token_weight = settings.token_weight;
  options.request_weight = settings.request_weight;
  options.priority_levels = settings.priority_classes.size();
  options.max_share = settings.max_share;
  return options;
}

size_t PriorityLevel(const config::FairnessSettings& settings, std::string_view name) {
  const auto& classes = settings.priority_classes;
  auto it = std::find(classes.begin(), classes.end(), name);
  if (name.empty() || it == classes.end()) {
    it = std::find(classes.begin(), classes.end(), settings.default_priority_class);
  }
  return it == classes.end() ? classes.size() / 2 : size_t(it - classes.begin());
}

FairnessQueues::FairnessQueues(const config::FairnessSettings& settings)
    : options_(OptionsFrom(settings)), enabled_(settings.enabled) {}

void FairnessQueues::Configure(const config::FairnessSettings& settings) {
  std::lock_guard lock(mutex_);
  options_ = OptionsFrom(settings);
  const bool was_enabled = std::exchange(enabled_, settings.enabled);
  for (auto& [model, queue] : queues_) {
    queue->Configure(options_);
    if (was_enabled && !enabled_) queue->ReleaseAll();
  }
}

FairQueue& FairnessQueues::For(std::string_view model) {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(model);
  if (it == queues_.end()) {
    it = queues_.emplace(std::string(model), std::make_unique<FairQueue>(options_)).first;
  }
  return *it->second;
}

void FairnessQueues::EvictIdle(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  for (auto& [model, queue] : queues_) queue->EvictIdle(now);
}

std::vector<std::pair<std::string, FairQueue::Stats>> FairnessQueues::Stats() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, FairQueue::Stats>> all;
  for (const auto& [model, queue] : queues_) all.emplace_back(model, queue->stats());
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return all;
}

}  // namespace pdgate::fairness
