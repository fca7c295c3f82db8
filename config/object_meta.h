#pragma once
#include <string>

#include "config/labels.h"

namespace pdgate::config {

// The part of Kubernetes metadata pdgate reads. Static YAML and the API server fill it alike.
struct ObjectMeta {
  std::string name;
  std::string namespace_ = "default";
  Labels labels;
  Labels annotations;
  std::string creation_timestamp;  // RFC 3339 as the API server writes it; empty in static files
  std::string resource_version;
  bool terminating = false;  // metadata.deletionTimestamp is set

  // "namespace/name", the form used in every message.
  std::string Key() const { return namespace_ + "/" + name; }
};

}  // namespace pdgate::config
