#pragma once
// POST /v1/chat/completions and /v1/completions: parse, route, pick pairs, run the PD flow of the
// ModelServer's kvConnector (or a plain proxy for aggregated servers), relay the decode output.
#include <string>

#include "router/net.h"
#include "router/worker.h"

namespace pdgate::router {

// `body` holds the request body with at least kJsonPadding bytes of capacity behind it.
// Sets `keep_alive` false when the connection must close after this request.
net::awaitable<void> HandleCompletion(Worker& worker, beast::tcp_stream& client,
                                      const http::request<http::string_body>& request,
                                      std::string& body, bool& keep_alive);

}  // namespace pdgate::router
