#pragma once
// One keep-alive HTTP/1.1 connection of pdgate-engine-sim's server: reads requests, hands each to
// the RequestHandler, writes its reply or stream. Kept alive by its own pending operations.
#include <boost/asio/ip/tcp.hpp>

#include "bench/engine_sim/exchange.h"
#include "bench/engine_sim/http_server.h"

namespace pdgate::sim {

// `socket` should be bound to a strand of its own: the session's handlers run on its executor.
void StartHttpSession(boost::asio::ip::tcp::socket socket, const RequestHandler& handler,
                      const HttpServerLimits& limits);

}  // namespace pdgate::sim
