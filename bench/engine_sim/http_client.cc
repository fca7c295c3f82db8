#include "bench/engine_sim/http_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "base/strings.h"

namespace pdgate::sim {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class HttpClientPool::Connection {
 public:
  explicit Connection(net::io_context& ioc) : stream(net::make_strand(ioc)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

class PooledCall : public std::enable_shared_from_this<PooledCall> {
 public:
  PooledCall(HttpClientPool& pool, std::string host, uint16_t port,
             std::chrono::milliseconds timeout, std::function<void(HttpResult)> done)
      : pool_(pool),
        host_(std::move(host)),
        port_(port),
        peer_(StrCat(host_, ":", port_)),
        timeout_(timeout),
        done_(std::move(done)) {}

  void Start(const std::string& target, std::string body) {
    request_.method(http::verb::post);
    request_.target(target);
    request_.version(11);
    request_.set(http::field::host, host_);
    request_.set(http::field::content_type, "application/json");
    request_.body() = std::move(body);
    request_.prepare_payload();
    connection_ = pool_.TakeIdle(peer_);
    if (connection_) return Write(/*reused=*/true);
    Connect();
  }

 private:
  // A new connection per peer now and then, not per call: the resolver's thread hop is fine.
  void Connect() {
    connection_ = std::make_unique<HttpClientPool::Connection>(pool_.ioc_);
    resolver_ = std::make_unique<tcp::resolver>(connection_->stream.get_executor());
    resolver_->async_resolve(
        host_, std::to_string(port_),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          if (ec) return self->Fail(ec, "resolve");
          self->connection_->stream.expires_after(self->timeout_);
          self->connection_->stream.async_connect(
              results, [self](beast::error_code ec2, const tcp::endpoint&) {
                if (ec2) return self->Fail(ec2, "connect");
                self->Write(/*reused=*/false);
              });
        });
  }

  void Write(bool reused) {
    connection_->stream.expires_after(timeout_);
    http::async_write(connection_->stream, request_,
                      [self = shared_from_this(), reused](beast::error_code ec, size_t) {
                        const bool closed =
                            ec == net::error::broken_pipe || ec == net::error::connection_reset;
                        if (ec) return self->RetryOrFail(reused && closed, ec, "write");
                        self->Read(reused);
                      });
  }

  void Read(bool reused) {
    parser_.emplace();
    parser_->body_limit(1 << 20);
    http::async_read(connection_->stream, connection_->buffer, *parser_,
                     [self = shared_from_this(), reused](beast::error_code ec, size_t) {
                       if (ec) {
                         const bool closed = ec == http::error::end_of_stream ||
                                             ec == net::error::eof ||
                                             ec == net::error::connection_reset;
                         const bool nothing_read = !self->parser_->got_some();
                         return self->RetryOrFail(reused && closed && nothing_read, ec, "read");
                       }
                       self->Finish();
                     });
  }

  // A kept-alive connection the peer closed while it was idle fails before any answer byte: the
  // peer never saw the request, so it is sent again on a fresh connection.
  void RetryOrFail(bool retry, beast::error_code ec, const char* step) {
    if (!retry) return Fail(ec, step);
    connection_.reset();
    Connect();
  }

  void Finish() {
    HttpResult result;
    result.transport_ok = true;
    result.status = static_cast<int>(parser_->get().result_int());
    const bool keep_alive = parser_->keep_alive();  // false too for a body ended by EOF
    result.body = std::move(parser_->get().body());
    parser_.reset();
    connection_->stream.expires_never();
    if (keep_alive) pool_.PutIdle(peer_, std::move(connection_));
    done_(std::move(result));
  }

  void Fail(beast::error_code ec, const char* step) {
    connection_.reset();
    HttpResult result;
    result.error = StrCat(step, ": ", ec.message());
    done_(std::move(result));
  }

  HttpClientPool& pool_;
  std::string host_;
  uint16_t port_;
  std::string peer_;
  std::chrono::milliseconds timeout_;
  std::function<void(HttpResult)> done_;
  std::unique_ptr<HttpClientPool::Connection> connection_;
  std::unique_ptr<tcp::resolver> resolver_;
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;
};

HttpClientPool::HttpClientPool(net::io_context& ioc) : ioc_(ioc) {}
HttpClientPool::~HttpClientPool() = default;

void HttpClientPool::Post(std::string host, uint16_t port, std::string target, std::string body,
                          std::chrono::milliseconds timeout, std::function<void(HttpResult)> done) {
  std::make_shared<PooledCall>(*this, std::move(host), port, timeout, std::move(done))
      ->Start(target, std::move(body));
}

std::unique_ptr<HttpClientPool::Connection> HttpClientPool::TakeIdle(const std::string& peer) {
  std::lock_guard lock(mutex_);
  auto it = idle_.find(peer);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  auto connection = std::move(it->second.back());
  it->second.pop_back();
  return connection;
}

void HttpClientPool::PutIdle(const std::string& peer, std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mutex_);
  auto& idle = idle_[peer];
  if (idle.size() < kMaxIdlePerPeer) idle.push_back(std::move(connection));
}

}  // namespace pdgate::sim
