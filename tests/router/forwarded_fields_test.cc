// Which of the client's header fields a leg request carries on.
#include <boost/beast/http/fields.hpp>
#include <catch2/catch.hpp>

#include "router/flow/request_context.h"

using namespace pdgate::router;

TEST_CASE("the first Accept, Authorization and trace context fields go on, in any letter case") {
  http::fields fields;
  fields.set(http::field::host, "pdgate:8080");
  fields.insert("TraceParent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  fields.insert(http::field::accept, "text/event-stream");
  fields.insert(http::field::accept, "application/json");
  fields.insert("x-trace", "not trace context");
  fields.insert("TRACESTATE", "congo=t61rcWkgMzE");
  fields.insert("tracestate", "rojo=00f067aa0ba902b7");
  fields.insert(http::field::authorization, "Bearer sk-1");
  const ForwardedFields forwarded(fields);
  CHECK(forwarded.accept == "text/event-stream");
  CHECK(forwarded.authorization == "Bearer sk-1");
  CHECK(forwarded.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  CHECK(forwarded.tracestate == "congo=t61rcWkgMzE");
}

TEST_CASE("fields the client did not send stay absent, empty ones are kept") {
  http::fields fields;
  fields.insert(http::field::content_type, "application/json");
  fields.insert("traceparent", "");
  const ForwardedFields forwarded(fields);
  CHECK_FALSE(forwarded.accept.has_value());
  CHECK_FALSE(forwarded.authorization.has_value());
  CHECK(forwarded.traceparent == "");
  CHECK_FALSE(forwarded.tracestate.has_value());
}
