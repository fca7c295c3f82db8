#pragma once
// The fields of a Kubernetes v1 Pod that decide whether and how it serves. Static files hold the
// very objects a watch delivers, so both sources share this type and the code after it.
#include <string>
#include <string_view>

#include "config/object_meta.h"

namespace pdgate::config {

struct Pod {
  ObjectMeta meta;
  std::string pod_ip;  // status.podIP
  std::string phase;   // status.phase
  bool ready = false;  // status.conditions[type=Ready].status == "True"

  // Why the pod must not receive traffic, or empty when it may: Running, Ready, not terminating,
  // with an IP (as Kthena admits pods).
  std::string_view NotServingReason() const;
  bool Serving() const { return NotServingReason().empty(); }
};

}  // namespace pdgate::config
