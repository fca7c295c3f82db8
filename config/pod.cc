#include "config/pod.h"

namespace pdgate::config {

std::string_view Pod::NotServingReason() const {
  if (meta.terminating) return "terminating";
  if (phase != "Running") return phase.empty() ? "no status.phase" : "not Running";
  if (!ready) return "not Ready";
  if (pod_ip.empty()) return "no status.podIP";
  return {};
}

}  // namespace pdgate::config
