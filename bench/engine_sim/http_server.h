#pragma once
// An HTTP/1.1 server (Boost.Beast, keep-alive) that hands each request to a RequestHandler.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "bench/engine_sim/exchange.h"

namespace boost::asio {
class io_context;
}

namespace pdgate::sim {

struct HttpServerLimits {
  uint64_t body_limit = 64ull << 20;  // prompts can be large
  uint32_t header_limit = 64u << 10;
  int idle_timeout_s = 120;  // keep-alive connection waiting for its next request
  int write_timeout_s = 60;
  std::atomic<uint64_t>* accepted = nullptr;  // counts accepted connections when set
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, RequestHandler handler, HttpServerLimits limits = {});
  ~HttpServer();
  // Binds and starts accepting. Returns false (and fills `error`) when the bind fails.
  bool Listen(const std::string& address, uint16_t port, std::string& error);
  uint16_t port() const;

 private:
  class Listener;
  std::shared_ptr<Listener> listener_;
};

}  // namespace pdgate::sim
