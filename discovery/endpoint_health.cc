#include "discovery/endpoint_health.h"

#include <algorithm>

namespace pdgate::discovery {

bool EndpointHealth::RecordFailure(SteadyTime now, bool may_eject,
                                   const OutlierSettings& settings) {
  ++consecutive_failures_;
  if (settings.consecutive_failures <= 0 || Ejected(now)) return false;
  if (consecutive_failures_ < settings.consecutive_failures || !may_eject) return false;
  // Healthy for at least as long as the last ejection lasted: the backoff starts over.
  if (ejections_ > 0 && now - ejected_until_ >= last_ejection_) ejections_ = 0;
  const auto base =
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(settings.base_ejection);
  const auto cap =
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(settings.max_ejection);
  auto duration = base;
  for (int i = 0; i < ejections_ && duration < cap; ++i) duration *= 2;
  duration = std::min(duration, cap);
  ejected_until_ = now + duration;
  last_ejection_ = duration;
  ++ejections_;
  ++total_ejections_;
  consecutive_failures_ = 0;
  return true;
}

bool ProbeHealth::Record(bool ok) {
  if (ok == healthy_) {
    run_ = 0;
    return false;
  }
  ++run_;
  if (run_ < (healthy_ ? unhealthy_threshold_ : healthy_threshold_)) return false;
  healthy_ = ok;
  run_ = 0;
  return true;
}

}  // namespace pdgate::discovery
