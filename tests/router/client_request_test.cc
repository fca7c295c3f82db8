// The session's request parser: Beast's HTTP/1.1 rules into a flat head that a connection
// reuses. The fuzz target http_head compares it with Beast's own parser on arbitrary bytes;
// these are the cases a session relies on, written out.
#include "router/http/client_request.h"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "router/openai/openai_request.h"

using namespace pdgate::router;

namespace {

struct Result {
  boost::beast::error_code ec;
  bool done = false;
};

// `wire` fed to a new parser of `request` in pieces of at most `piece` bytes, as reads would.
Result Parse(ClientRequest& request, std::string_view wire, size_t piece = 1 << 20,
             uint64_t body_limit = 1 << 20, uint32_t header_limit = 8192) {
  ClientRequestParser parser(request);
  parser.eager(true);
  parser.body_limit(body_limit);
  parser.header_limit(header_limit);
  Result result;
  std::string pending;
  for (size_t at = 0; at < wire.size() && !parser.is_done();) {
    const size_t n = std::min(piece, wire.size() - at);
    pending.append(wire.substr(at, n));
    at += n;
    const size_t used = parser.put(boost::asio::buffer(pending), result.ec);
    if (result.ec == http::error::need_more) result.ec = {};
    if (result.ec) return result;
    pending.erase(0, used);
  }
  result.done = parser.is_done();
  return result;
}

}  // namespace

TEST_CASE("the request line and fields are kept, looked up in any letter case") {
  ClientRequest request;
  const Result result = Parse(request,
                              "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
                              "Host: pdgate\r\n"
                              "X-Request-Id:   abc  \r\n"
                              "traceparent: 00-1\r\n"
                              "TraceParent: 00-2\r\n"
                              "Content-Length: 2\r\n"
                              "\r\n{}",
                              7);
  REQUIRE_FALSE(result.ec);
  REQUIRE(result.done);
  CHECK(request.method() == http::verb::post);
  CHECK(request.method_string() == "POST");
  CHECK(request.target() == "/v1/chat/completions?x=1");
  CHECK(request.version() == 11);
  CHECK(request.keep_alive());
  CHECK(request["x-request-id"] == "abc");  // surrounding whitespace trimmed, as Beast does
  CHECK(request["TRACEPARENT"] == "00-1");  // the first of a repeated name
  CHECK(request["host"] == "pdgate");
  CHECK(request["x-absent"].empty());
  CHECK(request["Authorization"].empty());
  REQUIRE(request.field_count() == 5);
  CHECK(request.field(3).name == "TraceParent");
  CHECK(request.field(3).value == "00-2");
  CHECK(request.field(4).name == "Content-Length");
  CHECK(request.body() == "{}");
  CHECK(request.body().capacity() >= 2 + kJsonPadding);
}

TEST_CASE("a chunked body's trailer fields are dropped, the head stays as it was read") {
  ClientRequest request;
  const std::string target = "/v1/completions?" + std::string(100, 'q');
  ClientRequestParser parser(request);
  parser.eager(true);
  const std::string head =
      "POST " + target + " HTTP/1.1\r\nTransfer-Encoding: chunked\r\nAccept: */*\r\n\r\n";
  boost::beast::error_code ec;
  REQUIRE(parser.put(boost::asio::buffer(head), ec) == head.size());
  REQUIRE(parser.is_header_done());
  const std::string_view target_view = request.target();  // held across the body, as a session does
  const std::string rest =
      "2\r\n{}\r\n0\r\nAuthorization: Bearer trailer\r\nX-Pad: " + std::string(4000, 'p') +
      "\r\n\r\n";
  parser.put(boost::asio::buffer(rest), ec);
  REQUIRE_FALSE(ec);
  REQUIRE(parser.is_done());
  CHECK(target_view == target);
  CHECK(request.body() == "{}");
  CHECK(request.field_count() == 2);
  CHECK(request["authorization"].empty());
  CHECK(request["x-pad"].empty());
}

TEST_CASE("keep-alive follows the version and Connection") {
  ClientRequest request;
  REQUIRE(Parse(request, "GET /healthz HTTP/1.0\r\n\r\n").done);
  CHECK_FALSE(request.keep_alive());
  CHECK(request.version() == 10);
  REQUIRE(Parse(request, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").done);
  CHECK(request.keep_alive());
  REQUIRE(Parse(request, "GET /healthz HTTP/1.1\r\nConnection: Close\r\n\r\n").done);
  CHECK_FALSE(request.keep_alive());
  // Connection fields combine as a list (RFC 9110 §7.6.1): a `close` in any of them closes.
  REQUIRE(
      Parse(request, "GET /healthz HTTP/1.1\r\nConnection: te\r\nConnection: close\r\n\r\n").done);
  CHECK_FALSE(request.keep_alive());
  REQUIRE(Parse(request, "GET /healthz HTTP/1.1\r\nConnection: te, close\r\n\r\n").done);
  CHECK_FALSE(request.keep_alive());
}

TEST_CASE("a chunked body is assembled from its chunks") {
  ClientRequest request;
  const Result result = Parse(request,
                              "POST /v1/completions HTTP/1.1\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"
                              "3\r\n{\"a\r\n"
                              "5;ext=1\r\n\":12}\r\n"
                              "0\r\n\r\n",
                              4);
  REQUIRE_FALSE(result.ec);
  REQUIRE(result.done);
  CHECK(request.body() == R"({"a":12})");
}

TEST_CASE("limits: the head's, a Content-Length's and a chunked body's") {
  ClientRequest request;
  const std::string big_field = "X-Big: " + std::string(200, 'x') + "\r\n";
  CHECK(Parse(request, "GET / HTTP/1.1\r\n" + big_field + "\r\n", 1 << 20, 1 << 20, 128).ec ==
        http::error::header_limit);
  CHECK(Parse(request, "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 1 << 20, 10).ec ==
        http::error::body_limit);
  const Result within =
      Parse(request, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n",
            1 << 20, 10);
  CHECK_FALSE(within.ec);  // 8 of 10 bytes: more may come
  CHECK_FALSE(within.done);
  CHECK(Parse(request,
              "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
              "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
              1 << 20, 10)
            .ec == http::error::body_limit);
  CHECK(Parse(request, "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n").ec == http::error::bad_field);
}

TEST_CASE("a reused request forgets the previous one's fields and body") {
  ClientRequest request;
  REQUIRE(Parse(request,
                "POST /v1/completions HTTP/1.1\r\nAuthorization: Bearer a\r\n"
                "Content-Length: 3\r\n\r\nabc")
              .done);
  REQUIRE(request["authorization"] == "Bearer a");
  REQUIRE(Parse(request, "GET /v1/models HTTP/1.1\r\nAccept: */*\r\n\r\n").done);
  CHECK(request.method() == http::verb::get);
  CHECK(request.target() == "/v1/models");
  CHECK(request["authorization"].empty());
  CHECK(request.field_count() == 1);
  CHECK(request.body().empty());
}
