#pragma once
// Prometheus families of the Kubernetes source: events, lists, errors, sync state. Registered in
// the router's registry when the source starts, and fed by the source's callbacks (on its own
// thread; prometheus-cpp counters are atomic).
#include "discovery/kube_source.h"
#include "router/observe/router_metrics.h"

namespace pdgate::router {

// Wraps `callbacks` so that each one also counts. Call once per process.
void AddKubernetesMetrics(discovery::KubeSourceCallbacks& callbacks, RouterMetrics& metrics);

}  // namespace pdgate::router
