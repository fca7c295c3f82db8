// The listener of pdgate-engine-sim's HTTP server: accepts connections, each on a strand of its
// own, and hands them to http_session.cc.
#include "bench/engine_sim/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>

#include "base/strings.h"
#include "bench/engine_sim/http_session.h"

namespace pdgate::sim {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;
class HttpServer::Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, RequestHandler handler, HttpServerLimits limits)
      : ioc_(ioc),
        acceptor_(net::make_strand(ioc)),
        pause_(acceptor_.get_executor()),
        handler_(std::move(handler)),
        limits_(limits) {}

  bool Listen(const std::string& address, uint16_t port, std::string& error) {
    beast::error_code ec;
    const auto ip = net::ip::make_address(address, ec);
    if (ec) {
      error = StrCat("bad address ", address, ": ", ec.message());
      return false;
    }
    tcp::endpoint endpoint(ip, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      error = StrCat("cannot listen on ", address, ":", port, ": ", ec.message());
      return false;
    }
    DoAccept();
    return true;
  }

  uint16_t port() const {
    beast::error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }

 private:
  // An accept that fails (out of descriptors, say) leaves the connection in the backlog, so
  // accepting again at once would fail again at once: pause, as nginx does, and go on serving.
  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                             if (ec == net::error::operation_aborted || !self->acceptor_.is_open())
                               return;
                             if (ec) {
                               self->pause_.expires_after(kAcceptPause);
                               self->pause_.async_wait([self](beast::error_code wait_ec) {
                                 if (!wait_ec) self->DoAccept();
                               });
                               return;
                             }
                             if (self->limits_.accepted) ++*self->limits_.accepted;
                             socket.set_option(tcp::no_delay(true), ec);
                             StartHttpSession(std::move(socket), self->handler_, self->limits_);
                             self->DoAccept();
                           });
  }

  static constexpr std::chrono::milliseconds kAcceptPause{100};

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer pause_;
  RequestHandler handler_;
  HttpServerLimits limits_;
};

HttpServer::HttpServer(net::io_context& ioc, RequestHandler handler, HttpServerLimits limits)
    : listener_(std::make_shared<Listener>(ioc, std::move(handler), limits)) {}

HttpServer::~HttpServer() = default;

bool HttpServer::Listen(const std::string& address, uint16_t port, std::string& error) {
  return listener_->Listen(address, port, error);
}

uint16_t HttpServer::port() const { return listener_->port(); }

}  // namespace pdgate::sim
