#include <arpa/inet.h>

#include "config/object_parsers.h"

namespace pdgate::config {
namespace {

bool IsIpAddress(const std::string& text) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// status.conditions[type=Ready].status == "True"
bool ReadReadyCondition(const YAML::Node& conditions) {
  if (!conditions.IsSequence()) return false;
  for (const YAML::Node& condition : conditions) {
    if (!condition.IsMap()) continue;
    const YAML::Node type = condition["type"];
    const YAML::Node status = condition["status"];
    // A missing key is a zombie node: asking its type throws.
    if (type && type.IsScalar() && type.Scalar() == "Ready") {
      return status && status.IsScalar() && status.Scalar() == "True";
    }
  }
  return false;
}

}  // namespace

std::optional<Pod> ParsePod(MapReader& doc) {
  Pod pod;
  std::optional<ObjectMeta> meta = ParseObjectMeta(doc, "Pod");
  const int errors_before = doc.scope().error_count();
  // The pod spec says nothing the router needs: the port comes from the ModelServer.
  doc.Ignore({"spec"});
  // status is written by Kubernetes and holds many fields; only these three matter, so the rest
  // is not reported as unknown.
  MapReader status(doc.Child("status"), doc.PathOf("status"), doc.scope());
  if (auto ip = status.String("podIP"); ip && !ip->empty()) {
    if (!IsIpAddress(*ip)) {
      doc.scope().Error(status.PathOf("podIP"), "\"" + *ip + "\" is not an IP address");
    }
    pod.pod_ip = std::move(*ip);
  }
  if (auto phase = status.String("phase")) pod.phase = std::move(*phase);
  YAML::Node conditions = status.Child("conditions");
  if (IsSequenceOrAbsent(conditions, status.PathOf("conditions"), doc.scope())) {
    pod.ready = ReadReadyCondition(conditions);
  }
  if (!meta || doc.scope().error_count() != errors_before) return std::nullopt;
  pod.meta = std::move(*meta);
  return pod;
}

}  // namespace pdgate::config
