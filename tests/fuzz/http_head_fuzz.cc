// A client's request head, parsed as pdgate's sessions parse it (Beast, with a header limit),
// then carried into an engine leg the way MakeLegRequest does: the target and the forwarded
// fields (Accept, Authorization, trace context) written by LegRequest. Properties: nothing
// crashes; the leg request re-parses as exactly one complete HTTP request with the client's
// target, the body, and each forwarded field once with its value — no field a client sends can
// split the leg's head or add a field of its own.
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "router/upstream/leg_request.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace http = boost::beast::http;
using pdgate::router::LegRequest;

constexpr std::string_view kForwarded[] = {"Accept", "Authorization", "traceparent",
                                           "tracestate"};

size_t Count(const http::fields& fields, std::string_view name) {
  auto range = fields.equal_range(name);
  return size_t(std::distance(range.first, range.second));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  http::request_parser<http::empty_body> client;
  client.header_limit(16 * 1024);
  client.eager(false);
  boost::beast::error_code ec;
  client.put(boost::asio::buffer(input.data(), input.size()), ec);
  if (ec || !client.is_header_done()) return 0;
  const auto& request = client.get();

  LegRequest leg(std::string_view(request.target()), "10.0.0.1:8000");
  leg.Set("Content-Type", "application/json");
  for (std::string_view name : kForwarded) {
    if (auto it = request.find(name); it != request.end()) leg.Set(name, it->value());
  }
  leg.SetBody(R"({"prompt":"x"})");

  const std::string wire = leg.head() + leg.body();
  http::request_parser<http::string_body> engine;
  engine.eager(true);
  const size_t used = engine.put(boost::asio::buffer(wire), ec);
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(engine.is_done());
  FUZZ_CHECK(used == wire.size());
  const auto& relayed = engine.get();
  FUZZ_CHECK(relayed.method() == http::verb::post);
  FUZZ_CHECK(relayed.target() == request.target());
  FUZZ_CHECK(relayed.body() == R"({"prompt":"x"})");
  FUZZ_CHECK(Count(relayed, "Host") == 1);
  FUZZ_CHECK(Count(relayed, "Content-Length") == 1);
  for (std::string_view name : kForwarded) {
    auto it = request.find(name);
    if (it == request.end()) {
      FUZZ_CHECK(Count(relayed, name) == 0);
    } else {
      // Beast trims a value's surrounding whitespace on both sides alike.
      FUZZ_CHECK(Count(relayed, name) == 1);
      FUZZ_CHECK(relayed[name] == it->value());
    }
  }
  return 0;
}
