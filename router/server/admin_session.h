#pragma once
// The admin listener (listen.adminPort, default 9090): /healthz and /readyz for Kubernetes probes,
// apart from the API port so probes never queue behind client traffic.
#include "router/http/net.h"
#include "router/runtime/worker.h"

namespace pdgate::router {

Task<void> RunAdminSession(Worker& worker, Socket socket);

}  // namespace pdgate::router
