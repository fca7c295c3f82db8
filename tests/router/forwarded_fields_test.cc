// Which of the client's header fields a leg request carries on.
#include <catch2/catch.hpp>
#include <string>

#include "router/flow/request_context.h"

using namespace pdgate::router;

namespace {

// `fields` ("Name: value\r\n" each) parsed as a session parses a client's request.
void Parse(ClientRequest& request, const std::string& fields) {
  const std::string head = "POST /v1/completions HTTP/1.1\r\n" + fields + "\r\n";
  ClientRequestParser parser(request);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(head), ec);
  REQUIRE_FALSE(ec);
  REQUIRE(parser.is_done());
}

}  // namespace

TEST_CASE("the first Accept, Authorization and trace context fields go on, in any letter case") {
  ClientRequest request;
  Parse(request,
        "Host: pdgate:8080\r\n"
        "TraceParent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
        "Accept: text/event-stream\r\n"
        "accept: application/json\r\n"
        "x-trace: not trace context\r\n"
        "TRACESTATE: congo=t61rcWkgMzE\r\n"
        "tracestate: rojo=00f067aa0ba902b7\r\n"
        "Authorization: Bearer sk-1\r\n");
  const ForwardedFields forwarded(request);
  CHECK(forwarded.accept == "text/event-stream");
  CHECK(forwarded.authorization == "Bearer sk-1");
  CHECK(forwarded.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  CHECK(forwarded.tracestate == "congo=t61rcWkgMzE");
}

TEST_CASE("fields the client did not send stay absent, empty ones are kept") {
  ClientRequest request;
  Parse(request, "Content-Type: application/json\r\ntraceparent:\r\n");
  const ForwardedFields forwarded(request);
  CHECK_FALSE(forwarded.accept.has_value());
  CHECK_FALSE(forwarded.authorization.has_value());
  CHECK(forwarded.traceparent == "");
  CHECK_FALSE(forwarded.tracestate.has_value());
}
