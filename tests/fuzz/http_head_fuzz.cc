// A client's request, parsed as pdgate's sessions parse it (ClientRequestParser: Http1Parser
// into a flat head, with a header and a body limit), then its head carried into an engine leg
// the way MakeLegRequest does: the target and the forwarded fields (Accept, Authorization, trace
// context) written by LegRequest. Properties: nothing crashes; the flat request agrees with
// Beast's own http::request_parser on the same bytes (error, bytes used, method, target,
// version, keep-alive, every field in order, the body); the leg request re-parses as exactly one
// complete HTTP request with the client's target, the body, and each forwarded field once with
// its value — no field a client sends can split the leg's head or add a field of its own. The
// same bytes are also put in steps (http_steps.h) into both parsers, which must agree on each.
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "router/http/client_request.h"
#include "router/upstream/leg_request.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/http_steps.h"

namespace {

namespace http = boost::beast::http;
using pdgate::router::ClientRequest;
using pdgate::router::ClientRequestParser;
using pdgate::router::LegRequest;

constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr uint64_t kBodyLimit = 64 * 1024;

constexpr std::string_view kForwarded[] = {"Accept", "Authorization", "traceparent", "tracestate"};

size_t Count(const http::fields& fields, std::string_view name) {
  auto range = fields.equal_range(name);
  return size_t(std::distance(range.first, range.second));
}

// Puts `input` as a session reads it: the head alone, then the rest at once; `on_head` runs
// in between.
template <class Parser, class OnHead>
size_t PutHeadThenBody(Parser& parser, std::string_view input, boost::beast::error_code& ec,
                       const OnHead& on_head) {
  parser.eager(false);
  size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
  if (ec || !parser.is_header_done()) return used;
  on_head();
  if (parser.is_done()) return used;
  parser.eager(true);
  used += parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
  return used;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // Step by step, cut where the last byte says, with eager and header_limit varied too.
  if (size > 0) {
    const uint8_t knob = data[size - 1];
    const size_t split = (size_t(knob) * 131 + size) % (size + 1);
    http::request_parser<http::string_body> beast_steps;
    ClientRequest stepped;
    ClientRequestParser steps(stepped);
    beast_steps.eager((knob & 0x80) != 0);
    steps.eager((knob & 0x80) != 0);
    beast_steps.header_limit(uint32_t(16 + (knob & 0x70) * 4));
    steps.header_limit(uint32_t(16 + (knob & 0x70) * 4));
    FUZZ_CHECK(pdgate::fuzz::PutInSteps(steps, input, split) ==
               pdgate::fuzz::PutInSteps(beast_steps, input, split));
    if (steps.is_header_done()) FUZZ_CHECK(steps.keep_alive() == beast_steps.keep_alive());
  }

  // The same bytes through Beast's own parser and through the session's, as a session reads:
  // the head, then the body. Beast's head is kept as it was then (its fields would take in a
  // chunked body's trailers, which the session's parser drops).
  http::request_parser<http::string_body> beast_parser;
  beast_parser.header_limit(kHeaderLimit);
  beast_parser.body_limit(kBodyLimit);
  boost::beast::error_code beast_ec;
  http::request_header<> head;
  const size_t beast_used =
      PutHeadThenBody(beast_parser, input, beast_ec, [&] { head = beast_parser.get().base(); });
  ClientRequest request;
  ClientRequestParser parser(request);
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  boost::beast::error_code ec;
  const size_t used = PutHeadThenBody(parser, input, ec, [] {});
  FUZZ_CHECK(ec == beast_ec);
  FUZZ_CHECK(used == beast_used);
  FUZZ_CHECK(parser.is_header_done() == beast_parser.is_header_done());
  FUZZ_CHECK(parser.is_done() == beast_parser.is_done());
  if (ec || !parser.is_header_done()) return 0;
  const auto& expected = beast_parser.get();
  FUZZ_CHECK(request.method() == head.method());
  FUZZ_CHECK(request.method_string() == head.method_string());
  FUZZ_CHECK(request.target() == head.target());
  FUZZ_CHECK(request.version() == int(head.version()));
  // The parser's rule (any Connection or Proxy-Connection `close`), not message::keep_alive's
  // (the first Connection field only).
  FUZZ_CHECK(request.keep_alive() == beast_parser.keep_alive());
  // http::fields keeps fields of one name in arrival order: compare per name, first to last.
  FUZZ_CHECK(request.field_count() == size_t(std::distance(head.begin(), head.end())));
  for (size_t i = 0; i < request.field_count(); ++i) {
    const ClientRequest::Field field = request.field(i);
    size_t nth = 0;  // how many earlier fields share this one's name
    for (size_t j = 0; j < i; ++j) {
      nth += boost::beast::iequals(request.field(j).name, field.name);
    }
    auto range = head.equal_range(field.name);
    auto it = range.first;
    for (size_t k = 0; k < nth && it != range.second; ++k) ++it;
    FUZZ_CHECK(it != range.second);
    FUZZ_CHECK(it->name_string() == field.name);
    FUZZ_CHECK(it->value() == field.value);
    if (nth == 0) FUZZ_CHECK(request[field.name] == field.value);
  }
  if (parser.is_done()) FUZZ_CHECK(request.body() == expected.body());

  LegRequest leg(request.target(), "10.0.0.1:8000");
  leg.Set("Content-Type", "application/json");
  for (std::string_view name : kForwarded) {
    if (auto it = head.find(name); it != head.end()) leg.SetChecked(name, request[name]);
  }
  leg.SetBody(R"({"prompt":"x"})");

  const std::string wire = leg.head() + std::string(leg.body());
  http::request_parser<http::string_body> engine;
  engine.eager(true);
  const size_t engine_used = engine.put(boost::asio::buffer(wire), ec);
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(engine.is_done());
  FUZZ_CHECK(engine_used == wire.size());
  const auto& relayed = engine.get();
  FUZZ_CHECK(relayed.method() == http::verb::post);
  FUZZ_CHECK(relayed.target() == request.target());
  FUZZ_CHECK(relayed.body() == R"({"prompt":"x"})");
  FUZZ_CHECK(Count(relayed, "Host") == 1);
  FUZZ_CHECK(Count(relayed, "Content-Length") == 1);
  for (std::string_view name : kForwarded) {
    auto it = head.find(name);
    if (it == head.end()) {
      FUZZ_CHECK(Count(relayed, name) == 0);
    } else {
      // Beast trims a value's surrounding whitespace on both sides alike.
      FUZZ_CHECK(Count(relayed, name) == 1);
      FUZZ_CHECK(relayed[name] == it->value());
    }
  }
  return 0;
}
