#pragma once
// The live state of one endpoint, shared by every snapshot that lists it (a reload keeps its
// counters and health): router-side in-flight legs, the engine's scraped load, passive and
// active health. Request threads read it with relaxed atomic loads and no lock; the few writes
// that need one (an ejection decision) are off the fast path. LiveRegistry hands out one object
// per endpoint identity ("ns/pod@host:port") and gives each a slot, a small id that never
// changes and is never reused, for the prefix index.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "discovery/endpoint_health.h"
#include "discovery/engine_metrics.h"

namespace pdgate::discovery {

// What /debug/endpoints shows of an endpoint's health.
struct HealthView {
  bool ejected = false;
  double ejected_for_s = 0;  // remaining
  int consecutive_failures = 0;
  int ejections = 0;
  uint64_t total_ejections = 0;
  bool probe_healthy = true;
};

class LiveEndpoint {
 public:
  LiveEndpoint(std::string key, uint32_t slot);
  LiveEndpoint(const LiveEndpoint&) = delete;
  LiveEndpoint& operator=(const LiveEndpoint&) = delete;

  const std::string& key() const { return key_; }
  uint32_t slot() const { return slot_; }
  uint64_t key_hash() const { return key_hash_; }  // for rendezvous (session) hashing

  // Legs in flight through this router, by the role the endpoint plays in them: zero lag, unlike
  // the engine's own gauges.
  std::atomic<int32_t> prefill_in_flight{0};
  std::atomic<int32_t> decode_in_flight{0};
  // Uncached prompt tokens of the prefill legs in flight (the scheduler's estimate): the
  // prefill queue in units of work.
  std::atomic<int64_t> prefill_tokens_in_flight{0};
  // The same counts of the other replicas (sharedState), as last read from Redis; 0 without it.
  std::atomic<int32_t> remote_prefill_in_flight{0};
  std::atomic<int32_t> remote_decode_in_flight{0};
  std::atomic<int64_t> remote_prefill_tokens_in_flight{0};
  // Prompt bytes (what the prefix index hashes) of the legs sent here: with the engine's prompt
  // token counter, how many bytes its tokenizer makes a token (LoadTracker, EngineCache).
  std::atomic<uint64_t> prompt_bytes_sent{0};

  // --- Scraped load (written by the scraper, read by pickers) ---
  void StoreLoad(const EngineLoad& load);
  void MarkStale() { stale_.store(true, std::memory_order_relaxed); }
  EngineLoad load() const;
  bool stale() const { return stale_.load(std::memory_order_relaxed); }
  bool scraped() const { return scraped_.load(std::memory_order_relaxed); }
  // Model names from the engine's /v1/models (base model and LoRA adapters); null until read.
  void StoreModels(std::shared_ptr<const std::vector<std::string>> models);
  std::shared_ptr<const std::vector<std::string>> models() const;

  // --- Health ---
  // False while ejected or failing active probes.
  bool Available(SteadyTime now) const {
    return probe_healthy_.load(std::memory_order_relaxed) &&
           now.time_since_epoch().count() >= ejected_until_.load(std::memory_order_relaxed);
  }
  bool Ejected(SteadyTime now) const {
    return now.time_since_epoch().count() < ejected_until_.load(std::memory_order_relaxed);
  }
  void RecordSuccess();
  // True when this failure ejected the endpoint.
  bool RecordFailure(SteadyTime now, bool may_eject, const OutlierSettings& settings);
  // Returns true when the probe verdict changed.
  bool RecordProbe(bool ok, int healthy_threshold, int unhealthy_threshold);
  HealthView Health(SteadyTime now) const;

 private:
  const std::string key_;
  const uint32_t slot_;
  const uint64_t key_hash_;

  std::atomic<double> running_{-1}, waiting_{-1}, kv_usage_{-1}, ttft_s_{-1}, itl_s_{-1},
      prefix_hit_ratio_{-1};
  std::atomic<bool> stale_{false};
  std::atomic<bool> scraped_{false};
  std::atomic<std::shared_ptr<const std::vector<std::string>>> models_;

  std::atomic<int64_t> ejected_until_{
      0};                             // steady_clock ticks; mirrors health_ for lock-free reads
  std::atomic<int32_t> failures_{0};  // lets a success skip the lock when nothing failed
  std::atomic<bool> probe_healthy_{true};
  mutable std::mutex health_mutex_;
  EndpointHealth health_;
  std::unique_ptr<ProbeHealth> probe_;
};

// One LiveEndpoint per identity for as long as some snapshot lists it.
class LiveRegistry {
 public:
  std::shared_ptr<LiveEndpoint> Acquire(const std::string& key);
  // Forgets endpoints no snapshot holds any more; returns their slots (for the prefix index).
  std::vector<uint32_t> Prune();
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  struct Entry {
    std::weak_ptr<LiveEndpoint> live;
    uint32_t slot = 0;
  };
  std::vector<std::pair<std::string, Entry>> entries_;  // few hundred at most; linear is fine
  std::vector<uint32_t> gone_;  // slots replaced in Acquire, for the next Prune
  uint32_t next_slot_ = 0;
};

}  // namespace pdgate::discovery
