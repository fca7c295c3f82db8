#pragma once
#include "router/http/net.h"
#include "router/runtime/worker.h"

namespace pdgate::router {

// One client connection, for its whole life: HTTP/1.1 keep-alive, requests answered in order.
Task<void> RunClientSession(Worker& worker, Socket socket);

}  // namespace pdgate::router
