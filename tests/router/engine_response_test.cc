// A leg's response parser: the head fields pdgate reads, a whole body, a relayed one. The fuzz
// target engine_response compares it with Beast's parser on arbitrary bytes.
#include "router/upstream/engine_response.h"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

using pdgate::router::EngineResponseParser;
namespace http = boost::beast::http;

TEST_CASE("an engine's head: the status, the first Content-Type, keep-alive") {
  EngineResponseParser parser;
  parser.eager(true);
  const std::string wire =
      "HTTP/1.1 201 Created\r\nserver: uvicorn\r\ncontent-type: text/event-stream; "
      "charset=utf-8\r\nContent-Type: application/json\r\ncontent-length: 2\r\n\r\n{}";
  boost::beast::error_code ec;
  CHECK(parser.put(boost::asio::buffer(wire), ec) == wire.size());
  REQUIRE_FALSE(ec);
  REQUIRE(parser.is_done());
  CHECK(parser.status() == 201);
  CHECK(parser.content_type() == "text/event-stream; charset=utf-8");
  CHECK(parser.keep_alive());
  CHECK(parser.content_length().value_or(0) == 2);
  CHECK(parser.body() == "{}");
}

TEST_CASE("a body that ends with the connection makes it not reusable") {
  EngineResponseParser parser;
  parser.eager(true);
  const std::string wire = "HTTP/1.1 200 OK\r\n\r\nabc";
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(wire), ec);
  REQUIRE_FALSE(ec);
  CHECK(parser.content_type().empty());
  CHECK_FALSE(parser.keep_alive());
  parser.put_eof(ec);
  REQUIRE_FALSE(ec);
  CHECK(parser.is_done());
  CHECK(parser.body() == "abc");
}

TEST_CASE("a whole body over the limit is refused, by Content-Length or chunk by chunk") {
  boost::beast::error_code ec;
  EngineResponseParser by_length;
  by_length.body_limit(4);
  const std::string announced = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n";
  by_length.put(boost::asio::buffer(announced), ec);
  CHECK(ec == http::error::body_limit);
  EngineResponseParser chunked;
  chunked.body_limit(4);
  chunked.eager(true);
  const std::string chunks =
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
  ec = {};
  chunked.put(boost::asio::buffer(chunks), ec);
  CHECK(ec == http::error::body_limit);
}

TEST_CASE("a relayed body fills the caller's buffer, need_buffer when it is full") {
  EngineResponseParser parser;  // not eager: the head alone first, as a leg's exchange reads it
  const std::string wire =
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  std::string_view rest = wire;
  boost::beast::error_code ec;
  const size_t head = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
  REQUIRE(parser.is_header_done());
  rest.remove_prefix(head);
  std::string relayed;
  char buffer[4];
  int reads = 0;
  while (!parser.is_done() && reads < 20) {
    ++reads;
    parser.ReadInto(buffer, sizeof(buffer));
    ec = {};
    rest.remove_prefix(parser.put(boost::asio::buffer(rest.data(), rest.size()), ec));
    CHECK((!ec || ec == http::error::need_buffer));
    relayed.append(buffer, parser.received());
  }
  CHECK(parser.is_done());
  CHECK(relayed == "hello world");
  CHECK(reads >= 3);  // 11 bytes through 4
  CHECK(parser.body().empty());
}
