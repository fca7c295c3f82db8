#include "bench/engine_sim/http_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>

namespace pdgate::sim {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(net::io_context& ioc, std::chrono::milliseconds timeout,
       std::function<void(HttpResult)> done)
      : resolver_(net::make_strand(ioc)),
        stream_(resolver_.get_executor()),
        timeout_(timeout),
        done_(std::move(done)) {}

  void Start(const std::string& host, uint16_t port, const std::string& target, std::string body) {
    request_.method(http::verb::post);
    request_.target(target);
    request_.version(11);
    request_.set(http::field::host, host);
    request_.set(http::field::content_type, "application/json");
    request_.keep_alive(false);
    request_.body() = std::move(body);
    request_.prepare_payload();
    resolver_.async_resolve(
        host, std::to_string(port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          if (ec) return self->Finish(ec, "resolve");
          self->stream_.expires_after(self->timeout_);
          self->stream_.async_connect(results, [self](beast::error_code ec2, const tcp::endpoint&) {
            if (ec2) return self->Finish(ec2, "connect");
            self->Write();
          });
        });
  }

 private:
  void Write() {
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Finish(ec, "write");
      http::async_read(self->stream_, self->buffer_, self->response_,
                       [self](beast::error_code ec2, size_t) {
                         if (ec2) return self->Finish(ec2, "read");
                         HttpResult result;
                         result.transport_ok = true;
                         result.status = static_cast<int>(self->response_.result_int());
                         result.body = std::move(self->response_.body());
                         beast::error_code ignored;
                         self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
                         self->done_(std::move(result));
                       });
    });
  }

  void Finish(beast::error_code ec, const char* step) {
    HttpResult result;
    result.error = std::string(step) + ": " + ec.message();
    done_(std::move(result));
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  std::chrono::milliseconds timeout_;
  std::function<void(HttpResult)> done_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

}  // namespace

void AsyncHttpPost(net::io_context& ioc, std::string host, uint16_t port, std::string target,
                   std::string body, std::chrono::milliseconds timeout,
                   std::function<void(HttpResult)> done) {
  std::make_shared<Call>(ioc, timeout, std::move(done))->Start(host, port, target, std::move(body));
}

}  // namespace pdgate::sim
