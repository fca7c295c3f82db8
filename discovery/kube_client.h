#pragma once
// pdgate's HTTP/1.1 client for control-plane GETs (Beast, with OpenSSL for https): one
// connection per request, since a watch holds its connection for minutes and a list is rare. The
// Kubernetes source lists and watches with it, the JWKS refresher fetches key sets, the endpoint
// scraper reads engines' /metrics. (Engine legs use the pooled client of router/upstream.)
#include <absl/status/statusor.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/kubeconfig.h"

namespace pdgate::discovery {

namespace net = boost::asio;
inline constexpr auto kKubeTuple = net::as_tuple(net::use_awaitable);

// Lets another coroutine on the same thread abort a request in flight (a pod watch whose
// namespace lost its last ModelServer; shutdown).
struct CancelSlot {
  bool cancelled = false;
  std::function<void()> close;  // set while a request is open
  void Cancel() {
    cancelled = true;
    if (close) close();
  }
};

struct KubeResponse {
  int status = 0;
  std::string body;  // whole-body requests, and the body of any non-200 answer
};

class KubeClient {
 public:
  KubeClient(net::io_context& context, config::KubeEndpoint endpoint);
  ~KubeClient();

  const config::KubeEndpoint& endpoint() const { return endpoint_; }

  // GET `target`, the whole body (up to `max_body`, at most 1 GiB): connecting, TLS and the
  // answer all within `timeout`.
  net::awaitable<absl::StatusOr<KubeResponse>> Get(const std::string& target,
                                                   std::chrono::milliseconds timeout,
                                                   CancelSlot& cancel,
                                                   uint64_t max_body = uint64_t(1) << 30,
                                                   std::string_view accept = "application/json");

  // GET a watch stream: `on_line` gets each line of a 200 answer until the server ends the
  // stream, `on_line` returns false, or no byte arrives for `idle`. A non-200 answer comes back
  // whole; a transport failure (refused, reset, timeout) is an error status.
  net::awaitable<absl::StatusOr<KubeResponse>> Stream(
      const std::string& target, std::chrono::milliseconds idle,
      const std::function<bool(std::string_view line)>& on_line, CancelSlot& cancel);

 private:
  struct Request;
  net::awaitable<absl::StatusOr<KubeResponse>> Run(Request& request);

  net::io_context& context_;
  config::KubeEndpoint endpoint_;
  std::unique_ptr<net::ssl::context> tls_;
  absl::Status setup_;  // a bad CA bundle or client certificate fails every request
};

}  // namespace pdgate::discovery
