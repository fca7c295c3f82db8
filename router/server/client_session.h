#pragma once
#include "router/http/net.h"
#include "router/runtime/worker.h"

namespace pdgate::router {

// One client connection, for its whole life: HTTP/1.1 keep-alive, requests answered in order.
net::awaitable<void> RunClientSession(Worker& worker, tcp::socket socket);

}  // namespace pdgate::router
