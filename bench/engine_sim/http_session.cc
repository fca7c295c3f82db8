// Beast the way its examples do it (http_server_async.cpp, advanced_server.cpp @ boost-1.81.0):
// a Session per connection kept alive by its pending handlers, the connection's strand as the
// stream's executor, a parser per request with explicit limits, expires_after re-armed per
// operation, one write in flight.
//
// Streamed responses are written as raw chunked-encoding bytes: SSE events queued while a write
// is in flight are coalesced into the next write (the SSE framing lives in the payload, so chunk
// boundaries do not matter to clients).
//
// While a request is being handled nothing is read, so to notice a client that goes away (the
// abort signal of vLLM's with_cancellation) the session waits for the socket to become readable
// and peeks: 0 bytes means the peer closed.
#include "bench/engine_sim/http_session.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <charconv>
#include <optional>

#include "base/strings.h"
#include "bench/engine_sim/json_writer.h"

namespace pdgate::sim {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, const RequestHandler& handler, const HttpServerLimits& limits)
      : stream_(std::move(socket)), handler_(handler), limits_(limits) {}

  void Run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
  }

  // --- Responder operations, already on the strand, for exchange number `exchange`. ---
  void Reply(uint64_t exchange, int status, std::string content_type, std::string body) {
    if (!Current(exchange) || started_) return;
    started_ = true;
    auto response =
        std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    response->set(http::field::server, "pdgate-engine-sim");
    if (!content_type.empty()) response->set(http::field::content_type, content_type);
    response->keep_alive(keep_alive_);
    response->body() = std::move(body);
    response->prepare_payload();
    stream_.expires_after(std::chrono::seconds(limits_.write_timeout_s));
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, size_t) {
                        if (ec) return self->ClientGone();
                        self->FinishExchange();
                      });
  }

  void StartStream(uint64_t exchange) {
    if (!Current(exchange) || started_) return;
    started_ = true;
    streaming_ = true;
    pending_ +=
        "HTTP/1.1 200 OK\r\nServer: pdgate-engine-sim\r\n"
        "Content-Type: text/event-stream; charset=utf-8\r\n"
        "Transfer-Encoding: chunked\r\n";
    pending_ += keep_alive_ ? "\r\n" : "Connection: close\r\n\r\n";
    Flush();
  }

  void Send(uint64_t exchange, std::string bytes) {
    if (!Current(exchange) || !streaming_ || ending_ || bytes.empty()) return;
    char size[24];
    auto [end, ec] = std::to_chars(size, size + sizeof(size), bytes.size(), 16);
    (void)ec;
    pending_.append(size, end);
    pending_ += "\r\n";
    pending_ += bytes;
    pending_ += "\r\n";
    Flush();
  }

  void EndStream(uint64_t exchange) {
    if (!Current(exchange) || !streaming_ || ending_) return;
    ending_ = true;
    pending_ += "0\r\n\r\n";
    Flush();
  }

  void Drop(uint64_t exchange) {
    if (!Current(exchange)) return;
    done_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  void SetOnClientGone(uint64_t exchange, std::function<void()> callback) {
    if (exchange != exchange_ || done_) return;
    if (gone_) {  // the client left before the handler registered: abort at once
      callback();
      return;
    }
    on_gone_ = std::move(callback);
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  bool Current(uint64_t exchange) const { return exchange == exchange_ && !done_ && !gone_; }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(limits_.body_limit);
    parser_->header_limit(limits_.header_limit);
    stream_.expires_after(std::chrono::seconds(limits_.idle_timeout_s));
    // Header first: a client that sent "Expect: 100-continue" (curl does for bodies over 1 KB)
    // waits for "100 Continue" before it sends the body (Beast's "Expect 100-continue" example).
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnRead(ec);
    const auto& header = parser_->get();
    auto expect = header.find(http::field::expect);
    if (expect != header.end() && beast::iequals(expect->value(), "100-continue") &&
        !parser_->is_done()) {
      continue_ = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(continue_),
                       [self = shared_from_this()](beast::error_code ec2, size_t) {
                         if (ec2) return;
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return DoClose();
    if (ec) {
      if (ec == http::error::body_limit || ec == http::error::header_limit) {
        return ReplyAndClose(413, ErrorBody(413, "The request is larger than the server accepts."));
      }
      return;  // timeout, reset, bad request: drop the connection
    }
    http::request<http::string_body> request = parser_->release();
    parser_.reset();
    keep_alive_ = request.keep_alive();
    ++exchange_;
    started_ = streaming_ = ending_ = done_ = false;
    on_gone_ = nullptr;
    stream_.expires_never();

    IncomingRequest incoming;
    incoming.method = std::string(request.method_string());
    incoming.target = std::string(request.target());
    incoming.body = std::move(request.body());
    if (auto it = request.find("x-request-id"); it != request.end()) {
      incoming.request_id_header = std::string(it->value());
    }
    if (auto it = request.find(http::field::authorization); it != request.end()) {
      incoming.authorization = std::string(it->value());
    }
    WatchForClose();
    handler_(std::move(incoming), MakeResponder());
  }

  void ReplyAndClose(int status, std::string body) {
    keep_alive_ = false;
    ++exchange_;
    started_ = streaming_ = ending_ = done_ = false;
    Reply(exchange_, status, "application/json", std::move(body));
  }

  std::shared_ptr<Responder> MakeResponder();

  void WatchForClose() {
    const uint64_t watch = ++watch_;
    stream_.socket().async_wait(
        tcp::socket::wait_read, [self = shared_from_this(), watch](beast::error_code ec) {
          if (ec || watch != self->watch_ || self->done_ || self->gone_) return;
          char byte;
          const ssize_t n =
              ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            return self->ClientGone();
          }
          if (n < 0) return self->WatchForClose();
          // n > 0: a pipelined request is waiting; it is read after this exchange.
        });
  }

  void ClientGone() {
    if (gone_) return;
    gone_ = true;
    beast::error_code ec;
    stream_.socket().close(ec);
    if (on_gone_ && !done_) {
      auto callback = std::move(on_gone_);
      on_gone_ = nullptr;
      callback();
    }
  }

  void Flush() {
    if (write_in_flight_ || gone_) return;
    if (pending_.empty()) {
      if (ending_) FinishExchange();
      return;
    }
    writing_.swap(pending_);
    pending_.clear();
    write_in_flight_ = true;
    stream_.expires_after(std::chrono::seconds(limits_.write_timeout_s));
    net::async_write(stream_, net::buffer(writing_),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->write_in_flight_ = false;
                       self->stream_.expires_never();
                       if (ec) return self->ClientGone();
                       self->Flush();
                     });
  }

  void FinishExchange() {
    done_ = true;
    on_gone_ = nullptr;
    ++watch_;
    beast::error_code ec;
    stream_.socket().cancel(ec);  // the close watch; no other operation is pending
    if (!keep_alive_) return DoClose();
    DoRead();
  }

  // Lingering close: after our FIN, read and discard what the client still sends (e.g. the rest
  // of an oversized body) until it closes, so the kernel does not answer it with a reset that
  // could destroy our response before the client read it.
  void DoClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(5));
    Drain();
  }

  void Drain() {
    stream_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (!ec) self->Drain();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const RequestHandler& handler_;
  const HttpServerLimits& limits_;
  uint64_t exchange_ = 0;
  uint64_t watch_ = 0;
  bool keep_alive_ = true;
  bool started_ = false;
  bool streaming_ = false;
  bool ending_ = false;
  bool done_ = false;
  bool gone_ = false;
  bool write_in_flight_ = false;
  std::string pending_;
  std::string writing_;
  std::array<char, 4096> drain_;
  std::string continue_;
  std::function<void()> on_gone_;
};

// The handler's view of one exchange: every call hops onto the session's strand.
class ExchangeResponder : public Responder {
 public:
  ExchangeResponder(std::shared_ptr<Session> session, uint64_t exchange)
      : session_(std::move(session)), exchange_(exchange) {}

  void Reply(int status, std::string content_type, std::string body) override {
    net::dispatch(
        session_->executor(),
        [s = session_, e = exchange_, status, ct = std::move(content_type),
         b = std::move(body)]() mutable { s->Reply(e, status, std::move(ct), std::move(b)); });
  }
  void StartStream() override {
    net::dispatch(session_->executor(), [s = session_, e = exchange_] { s->StartStream(e); });
  }
  void Send(std::string bytes) override {
    net::dispatch(session_->executor(),
                  [s = session_, e = exchange_, b = std::move(bytes)]() mutable {
                    s->Send(e, std::move(b));
                  });
  }
  void EndStream() override {
    net::dispatch(session_->executor(), [s = session_, e = exchange_] { s->EndStream(e); });
  }
  void Drop() override {
    net::dispatch(session_->executor(), [s = session_, e = exchange_] { s->Drop(e); });
  }
  void OnClientGone(std::function<void()> callback) override {
    net::dispatch(session_->executor(),
                  [s = session_, e = exchange_, c = std::move(callback)]() mutable {
                    s->SetOnClientGone(e, std::move(c));
                  });
  }

 private:
  std::shared_ptr<Session> session_;
  uint64_t exchange_;
};

std::shared_ptr<Responder> Session::MakeResponder() {
  return std::make_shared<ExchangeResponder>(shared_from_this(), exchange_);
}

}  // namespace

void StartHttpSession(boost::asio::ip::tcp::socket socket, const RequestHandler& handler,
                      const HttpServerLimits& limits) {
  std::make_shared<Session>(std::move(socket), handler, limits)->Run();
}

}  // namespace pdgate::sim
