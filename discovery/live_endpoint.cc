#include "discovery/live_endpoint.h"

#include <xxhash.h>

#include <algorithm>

namespace pdgate::discovery {

LiveEndpoint::LiveEndpoint(std::string key, uint32_t slot)
    : key_(std::move(key)), slot_(slot), key_hash_(XXH3_64bits(key_.data(), key_.size())) {}

void LiveEndpoint::StoreLoad(const EngineLoad& load) {
  constexpr auto relaxed = std::memory_order_relaxed;
  running_.store(load.running, relaxed);
  waiting_.store(load.waiting, relaxed);
  kv_usage_.store(load.kv_usage, relaxed);
  ttft_s_.store(load.ttft_s, relaxed);
  itl_s_.store(load.itl_s, relaxed);
  prefix_hit_ratio_.store(load.prefix_hit_ratio, relaxed);
  stale_.store(false, relaxed);
  scraped_.store(true, relaxed);
}

EngineLoad LiveEndpoint::load() const {
  constexpr auto relaxed = std::memory_order_relaxed;
  EngineLoad load;
  load.running = running_.load(relaxed);
  load.waiting = waiting_.load(relaxed);
  load.kv_usage = kv_usage_.load(relaxed);
  load.ttft_s = ttft_s_.load(relaxed);
  load.itl_s = itl_s_.load(relaxed);
  load.prefix_hit_ratio = prefix_hit_ratio_.load(relaxed);
  return load;
}

void LiveEndpoint::StoreModels(std::shared_ptr<const std::vector<std::string>> models) {
  models_.store(std::move(models));
}

std::shared_ptr<const std::vector<std::string>> LiveEndpoint::models() const {
  return models_.load();
}

void LiveEndpoint::RecordSuccess() {
  if (failures_.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard lock(health_mutex_);
  health_.RecordSuccess();
  failures_.store(0, std::memory_order_relaxed);
}

bool LiveEndpoint::RecordFailure(SteadyTime now, bool may_eject, const OutlierSettings& settings) {
  std::lock_guard lock(health_mutex_);
  const bool ejected = health_.RecordFailure(now, may_eject, settings);
  failures_.store(health_.consecutive_failures() + (ejected ? 1 : 0), std::memory_order_relaxed);
  ejected_until_.store(health_.ejected_until().time_since_epoch().count(),
                       std::memory_order_relaxed);
  return ejected;
}

bool LiveEndpoint::RecordProbe(bool ok, int healthy_threshold, int unhealthy_threshold) {
  std::lock_guard lock(health_mutex_);
  if (!probe_) probe_ = std::make_unique<ProbeHealth>(healthy_threshold, unhealthy_threshold);
  const bool changed = probe_->Record(ok);
  probe_healthy_.store(probe_->healthy(), std::memory_order_relaxed);
  return changed;
}

HealthView LiveEndpoint::Health(SteadyTime now) const {
  std::lock_guard lock(health_mutex_);
  HealthView view;
  view.ejected = health_.Ejected(now);
  if (view.ejected) {
    view.ejected_for_s = std::chrono::duration<double>(health_.ejected_until() - now).count();
  }
  view.consecutive_failures = health_.consecutive_failures();
  view.ejections = health_.ejections();
  view.total_ejections = health_.total_ejections();
  view.probe_healthy = probe_healthy_.load(std::memory_order_relaxed);
  return view;
}

std::shared_ptr<LiveEndpoint> LiveRegistry::Acquire(const std::string& key) {
  std::lock_guard lock(mutex_);
  for (auto& [existing, entry] : entries_) {
    if (existing != key) continue;
    if (auto live = entry.live.lock()) return live;
    // Known but gone: a fresh object (and slot), as for a new endpoint.
    gone_.push_back(entry.slot);
    auto live = std::make_shared<LiveEndpoint>(key, next_slot_++);
    entry = {live, live->slot()};
    return live;
  }
  auto live = std::make_shared<LiveEndpoint>(key, next_slot_++);
  entries_.push_back({key, {live, live->slot()}});
  return live;
}

std::vector<uint32_t> LiveRegistry::Prune() {
  std::lock_guard lock(mutex_);
  std::vector<uint32_t> gone = std::move(gone_);
  gone_.clear();
  std::erase_if(entries_, [&gone](const auto& entry) {
    if (!entry.second.live.expired()) return false;
    gone.push_back(entry.second.slot);
    return true;
  });
  return gone;
}

size_t LiveRegistry::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace pdgate::discovery
