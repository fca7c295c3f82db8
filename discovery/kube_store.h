#pragma once
// The API server's objects as last listed and watched, and their combination with the static
// files (RouterConfiguration, Kthena's ConfigMap, static Pods) into one validated Config through
// the same config::ConfigLoader the files use.
//
// An invalid object from the API (a ModelServer the webhook would have refused, a Pod with a
// strange IP) must not take routing down: each object is first validated alone (once per
// resourceVersion); objects that fail are left out, logged and counted, and the rest serve.
// Only errors between objects (e.g. an API object named like a static one) refuse the whole
// build, and then the previous configuration keeps serving.
#include <array>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/loader.h"
#include "discovery/kube_objects.h"

namespace pdgate::discovery {

class KubeObjectStore {
 public:
  // A fresh list of `resource` in `namespace_` ("" = all namespaces) replaces what was there:
  // objects deleted while no watch was open disappear.
  void Replace(KubeResource resource, std::string_view namespace_, std::vector<KubeObject> items);
  void Upsert(KubeResource resource, KubeObject object);
  void Erase(KubeResource resource, const KubeObject& object);
  // A pod watch that stopped: its namespace has no ModelServer any more.
  void EraseNamespace(KubeResource resource, std::string_view namespace_);

  // Namespaces of the ModelServers held (valid or not).
  std::set<std::string> ModelServerNamespaces() const;
  size_t size(KubeResource resource) const;
  size_t invalid_objects() const;

  // Static files, then every valid object (ModelRoutes oldest first, as Kthena orders routes
  // defined for one name). Warnings already returned by an earlier build are not repeated, and
  // each rejected object is reported once per resourceVersion, as a warning.
  config::LoadResult Build(const std::vector<std::string>& files,
                           const config::SettingsOverrides& overrides);

 private:
  struct Stored {
    KubeObject object;
    bool validated = false;
    bool valid = false;
  };
  using Objects = std::map<std::string, Stored>;  // "namespace/name" →
  Objects& objects(KubeResource resource) { return objects_[static_cast<size_t>(resource)]; }
  const Objects& objects(KubeResource resource) const {
    return objects_[static_cast<size_t>(resource)];
  }

  std::array<Objects, 3> objects_;
  std::set<std::string> reported_;  // warnings of the last build
};

}  // namespace pdgate::discovery
