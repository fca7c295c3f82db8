// What pdgate writes itself instead of Beast's serializers: the client's relayed response and the
// request of an upstream leg. Written to a loopback socket and read back with Beast's parsers, so
// the bytes are checked by an HTTP implementation that is not ours.
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include "router/http/relayed_response.h"
#include "router/upstream/leg_request.h"

using namespace pdgate::router;

namespace {

// A connected pair of loopback sockets on one io_context.
struct SocketPair {
  net::io_context ioc;
  pdgate::router::Stream writer{ioc.get_executor()};
  pdgate::router::Socket reader{ioc};

  SocketPair() {
    pdgate::router::Acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    writer.socket().connect(acceptor.local_endpoint());
    acceptor.accept(reader);
  }

  // Runs `writes` to completion, closes the writer, and returns every byte the reader got.
  std::string Exchange(pdgate::router::Task<void> writes) {
    net::co_spawn(ioc, std::move(writes), net::detached);
    ioc.run();
    writer.socket().shutdown(pdgate::router::Socket::shutdown_send);
    std::string bytes;
    beast::error_code ec;
    net::read(reader, net::dynamic_buffer(bytes), ec);
    CHECK(ec == net::error::eof);
    return bytes;
  }
};

// Reads `bytes` back with Beast's own parser: exactly one complete message, nothing after it.
template <bool isRequest>
http::message<isRequest, http::string_body> ParseWhole(const std::string& bytes) {
  http::parser<isRequest, http::string_body> parser;
  parser.eager(true);
  beast::error_code ec;
  const size_t used = parser.put(net::buffer(bytes), ec);
  REQUIRE_FALSE(ec);
  REQUIRE(parser.is_done());
  CHECK(used == bytes.size());  // nothing after the message
  return parser.release();
}

http::response<http::string_body> ParseResponse(const std::string& bytes) {
  return ParseWhole<false>(bytes);
}

}  // namespace

TEST_CASE("a relayed response of unknown length goes out chunked, piece by piece") {
  SocketPair pair;
  RelayedResponse response(200);
  response.Set("Content-Type", "text/event-stream");
  response.Set("x-request-id", "req-1");
  bool ok1 = false, ok2 = false, ok3 = false;
  const std::string bytes = pair.Exchange([&]() -> pdgate::router::Task<void> {
    ok1 = co_await response.Write(pair.writer, "data: one\n\n", false);
    ok2 = co_await response.Write(pair.writer, "data: [DONE]\n\n", false);
    ok3 = co_await response.Write(pair.writer, "", true);
  }());
  CHECK((ok1 && ok2 && ok3));
  CHECK(bytes.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  const auto message = ParseResponse(bytes);
  CHECK(message.chunked());
  CHECK(message.keep_alive());
  CHECK(message[http::field::content_type] == "text/event-stream");
  CHECK(message["x-request-id"] == "req-1");
  CHECK(message.body() == "data: one\n\ndata: [DONE]\n\n");
  // One chunk per piece, and the last chunk once.
  CHECK(bytes.find("b\r\ndata: one\n\n\r\n") != std::string::npos);
  CHECK(bytes.find("0\r\n\r\n") == bytes.size() - 5);
}

TEST_CASE("a relayed response with a known length keeps it, and the last piece ends it") {
  SocketPair pair;
  RelayedResponse response(429);
  response.Set("Content-Type", "application/json");
  response.ContentLength(10);
  response.KeepAlive(false);
  bool ok1 = false, ok2 = false;
  const std::string bytes = pair.Exchange([&]() -> pdgate::router::Task<void> {
    ok1 = co_await response.Write(pair.writer, "{\"a\":", false);
    ok2 = co_await response.Write(pair.writer, "1234}", true);
  }());
  CHECK((ok1 && ok2));
  CHECK(bytes.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0) == 0);
  const auto message = ParseResponse(bytes);
  CHECK_FALSE(message.chunked());
  CHECK_FALSE(message.keep_alive());
  CHECK(message[http::field::content_length] == "10");
  CHECK(message.body() == "{\"a\":1234}");
}

TEST_CASE("a field with CR or LF never reaches the head") {
  RelayedResponse response(200);
  response.Set("x-request-id", "abc\r\nSet-Cookie: stolen=1");
  response.SetChecked("Bad\r\nName", "v");
  response.Set("Good", "value");
  const std::string head = response.FinishedHead();
  CHECK(head.find("Set-Cookie") == std::string::npos);
  CHECK(head.find("Bad") == std::string::npos);
  CHECK(head.find("Good: value\r\n") != std::string::npos);

  LegRequest request("/v1/completions", "10.0.0.1:8000");
  request.Set("traceparent", "00-abc\n-01");
  request.SetBody("{}");
  CHECK(request.head().find("traceparent") == std::string::npos);
}

TEST_CASE("a leg request is one POST an HTTP parser reads back whole") {
  SocketPair pair;
  LegRequest request("/v1/chat/completions?x=1", "10.0.0.7:8000");
  request.Set("Content-Type", "application/json");
  request.Set("x-request-id", "req-9");
  request.SetBody(R"({"model":"m","messages":[]})");
  const std::string bytes = pair.Exchange([&]() -> pdgate::router::Task<void> {
    const std::array<net::const_buffer, 2> buffers = request.Buffers();
    co_await net::async_write(pair.writer, buffers, pdgate::router::kAwait);
  }());
  const http::request<http::string_body> message = ParseWhole<true>(bytes);
  CHECK(message.method() == http::verb::post);
  CHECK(message.target() == "/v1/chat/completions?x=1");
  CHECK(message.version() == 11);
  CHECK(message.keep_alive());
  CHECK(message[http::field::host] == "10.0.0.7:8000");
  CHECK(message["x-request-id"] == "req-9");
  CHECK(message.body() == R"({"model":"m","messages":[]})");
}
