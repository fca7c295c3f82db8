#include "router/flow/endpoint_feedback.h"

#include <spdlog/spdlog.h>

namespace pdgate::router {

void ReportLegOutcome(const RequestContext& context, const discovery::Endpoint& endpoint,
                      const AttemptError* error) {
  discovery::LiveEndpoint& live = *endpoint.live;
  if (error == nullptr) {
    live.RecordSuccess();
    return;
  }
  if (error->label == LegOutcomeLabel::kHttpError && error->status < 500) return;
  if (error->local) return;  // pdgate could not open a socket: not the endpoint's failure
  const config::OutlierDetectionSettings& settings = context.settings.outlier_detection;
  const auto now = std::chrono::steady_clock::now();
  const bool may_eject =
      discovery::MayEject(context.endpoints, endpoint.role, now, settings.max_ejection_percent);
  if (live.RecordFailure(now, may_eject, settings)) {
    const discovery::HealthView health = live.Health(now);
    spdlog::warn("ejected {} ({} {}) for {:.1f} s after repeated failures (last: {})", endpoint.pod,
                 discovery::ToString(endpoint.role), endpoint.HostPort(), health.ejected_for_s,
                 error->detail);
  }
}

}  // namespace pdgate::router
