#pragma once
// A one-shot asynchronous HTTP/1.1 client (Beast), for the decode sim's side-channel calls to a
// prefill sim. Fresh connection per call: pulls are rare next to client requests.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace boost::asio {
class io_context;
}

namespace pdgate::sim {

struct HttpResult {
  bool transport_ok = false;
  std::string error;  // when !transport_ok
  int status = 0;
  std::string body;
};

void AsyncHttpPost(boost::asio::io_context& ioc, std::string host, uint16_t port,
                   std::string target, std::string body, std::chrono::milliseconds timeout,
                   std::function<void(HttpResult)> done);

}  // namespace pdgate::sim
