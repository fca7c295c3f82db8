#pragma once
// Passive outlier detection for one endpoint (Envoy's consecutive-failure ejection): a run of
// connect failures, timeouts or 5xx answers ejects the endpoint for base × 2^n, where n counts
// the ejections since it last stayed healthy as long as its last ejection; it returns by itself
// when the time is up. Plain and single-threaded: the caller holds the lock and passes `now`.
// The cap on how many endpoints of a role may be out at once is the caller's (it sees the role).
#include <chrono>
#include <cstdint>

#include "config/router_settings.h"

namespace pdgate::discovery {

using OutlierSettings = config::OutlierDetectionSettings;

using SteadyTime = std::chrono::steady_clock::time_point;

class EndpointHealth {
 public:
  // A failed leg. Returns true when it ejects the endpoint; `may_eject` is false when the role's
  // cap is reached (the failures are still counted, so it is ejected once room frees up).
  bool RecordFailure(SteadyTime now, bool may_eject, const OutlierSettings& settings);
  void RecordSuccess() { consecutive_failures_ = 0; }

  bool Ejected(SteadyTime now) const { return now < ejected_until_; }
  SteadyTime ejected_until() const { return ejected_until_; }
  int consecutive_failures() const { return consecutive_failures_; }
  int ejections() const { return ejections_; }  // in the current backoff run
  uint64_t total_ejections() const { return total_ejections_; }

 private:
  int consecutive_failures_ = 0;
  int ejections_ = 0;
  uint64_t total_ejections_ = 0;
  SteadyTime ejected_until_{};
  std::chrono::steady_clock::duration last_ejection_{};
};

// Active /health probing with thresholds, so one slow answer does not flip an endpoint.
class ProbeHealth {
 public:
  ProbeHealth(int healthy_threshold, int unhealthy_threshold)
      : healthy_threshold_(healthy_threshold), unhealthy_threshold_(unhealthy_threshold) {}
  // Returns true when the verdict changed.
  bool Record(bool ok);
  bool healthy() const { return healthy_; }

 private:
  int healthy_threshold_;
  int unhealthy_threshold_;
  int run_ = 0;  // consecutive results that disagree with the current verdict
  bool healthy_ = true;
};

}  // namespace pdgate::discovery
