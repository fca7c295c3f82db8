#pragma once
// Live configuration from the Kubernetes API server: list, then watch (with resourceVersion and
// bookmarks) ModelServers and ModelRoutes, and the Pods of every namespace that has a
// ModelServer. Events are coalesced for `debounce` (a rollout changes many pods at once), then
// the objects and the static files are built into one validated Config by the same loader the
// files use, and handed to `apply`. Everything runs on the source's own thread and io_context:
// the data path only ever receives finished configurations.
//
// Failures: a watch that ends (timeoutSeconds) is opened again from the last resourceVersion; a
// dropped connection, 5xx or 429 is retried with capped exponential backoff and jitter; 410 Gone
// (as the watch's HTTP status, or as an ERROR event in the stream: the resourceVersion was
// compacted away) lists again, and the list replaces what was held, so nothing deleted in the gap
// survives. While the API server is unreachable, routing stays on the last good configuration.
// Replicas need no coordination: each builds the same state from the same API objects.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/kubeconfig.h"
#include "config/loader.h"

namespace pdgate::discovery {

struct KubeSourceOptions {
  config::KubeEndpoint endpoint;
  std::string namespace_;               // watch only this namespace; "" = all namespaces
  std::vector<std::string> files;       // static files, combined with the API objects
  config::SettingsOverrides overrides;  // command-line settings
  std::chrono::milliseconds debounce{50};
  std::chrono::seconds watch_timeout{300};  // timeoutSeconds asked of the API server
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_cap{30000};
};

// Called on the source's thread.
struct KubeSourceCallbacks {
  // A new configuration (or a refused one, with its errors) and why it was built.
  std::function<void(config::LoadResult result, std::string why)> apply;
  // Once, after the configuration holding the initial lists of every resource was applied.
  std::function<void()> synced;
  // Observability: resource ("pods", …) and event type ("ADDED", …, "ERROR").
  std::function<void(std::string_view resource, std::string_view type)> on_event;
  // A list (again): resource and reason ("initial", "expired", "gone").
  std::function<void(std::string_view resource, std::string_view reason)> on_list;
  // A failed list or watch: resource and what failed ("transport", "http_5xx", …).
  std::function<void(std::string_view resource, std::string_view kind)> on_error;
};

class KubernetesSource {
 public:
  KubernetesSource(KubeSourceOptions options, KubeSourceCallbacks callbacks);
  ~KubernetesSource();  // stops the thread
  KubernetesSource(const KubernetesSource&) = delete;
  KubernetesSource& operator=(const KubernetesSource&) = delete;

  void Start();
  // The static files changed: build again (thread-safe).
  void Refresh(std::string why);
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pdgate::discovery
