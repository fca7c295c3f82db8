// An engine's response, parsed as a leg parses it (EngineResponseParser), once whole and once
// relayed through a small buffer that fills again and again, against Beast's own
// http::response_parser on the same bytes. The first input byte sets the relay buffer's size;
// the end of the input is the connection's end. Properties: nothing crashes; the whole parse
// agrees with Beast's (error, bytes used, status, the first Content-Type, keep-alive, the body);
// the relayed bytes are exactly that body; and put in steps (http_steps.h: a first read cut
// short, eager and header_limit varied by that byte too), both parsers agree on each step.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "router/upstream/engine_response.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/http_steps.h"

namespace {

namespace http = boost::beast::http;
using pdgate::router::EngineResponseParser;

constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr uint64_t kBodyLimit = 64 * 1024;

template <class Parser>
void Limit(Parser& parser) {
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  parser.eager(true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t relay_buffer_bytes = data[0] % 8 + 1;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  // Step by step, cut where the first byte says, with eager and header_limit varied too.
  {
    const size_t split =
        input.empty() ? 0 : (size_t(data[0]) * 131 + input.size()) % (input.size() + 1);
    http::response_parser<http::string_body> beast_steps;
    EngineResponseParser steps;
    beast_steps.eager((data[0] & 0x80) != 0);
    steps.eager((data[0] & 0x80) != 0);
    beast_steps.header_limit(uint32_t(16 + (data[0] & 0x70) * 4));
    steps.header_limit(uint32_t(16 + (data[0] & 0x70) * 4));
    FUZZ_CHECK(pdgate::fuzz::PutInSteps(steps, input, split) ==
               pdgate::fuzz::PutInSteps(beast_steps, input, split));
    if (steps.is_header_done()) FUZZ_CHECK(steps.keep_alive() == beast_steps.keep_alive());
  }

  http::response_parser<http::string_body> beast_parser;
  Limit(beast_parser);
  boost::beast::error_code beast_ec;
  const size_t beast_used = beast_parser.put(boost::asio::buffer(input), beast_ec);

  EngineResponseParser whole;
  Limit(whole);
  boost::beast::error_code ec;
  const size_t used = whole.put(boost::asio::buffer(input), ec);
  FUZZ_CHECK(ec == beast_ec);
  FUZZ_CHECK(used == beast_used);
  FUZZ_CHECK(whole.is_header_done() == beast_parser.is_header_done());
  FUZZ_CHECK(whole.is_done() == beast_parser.is_done());
  if (!whole.is_header_done()) return 0;
  const auto& expected = beast_parser.get();
  FUZZ_CHECK(whole.status() == int(expected.result_int()));
  FUZZ_CHECK(whole.content_type() == expected[http::field::content_type]);
  FUZZ_CHECK(whole.keep_alive() == beast_parser.keep_alive());
  // A body that ends with the connection: the input's end is where it closed.
  const bool ends_at_eof = !ec && !whole.is_done() && whole.need_eof();
  if (ends_at_eof) {
    whole.put_eof(ec);
    beast_parser.put_eof(beast_ec);
    FUZZ_CHECK(ec == beast_ec);
  }
  if (!whole.is_done()) return 0;
  FUZZ_CHECK(whole.body() == expected.body());

  // The same bytes relayed: each put fills the small buffer at most, as reads would.
  EngineResponseParser relayed;
  Limit(relayed);
  // As a decode leg relays: no body limit. (Beast 1.81 counts a body read to the connection's
  // end against the limit by the bytes offered, not those taken: a small relay buffer would hit
  // it early. The whole parse above keeps the limit.)
  relayed.body_limit(std::nullopt);
  std::string relayed_body;
  char buffer[8];
  std::string_view rest = input;
  while (!relayed.is_done()) {
    if (rest.empty() && ends_at_eof) {
      relayed.put_eof(ec);
      FUZZ_CHECK(!ec);
      break;
    }
    relayed.ReadInto(buffer, relay_buffer_bytes);
    ec = {};
    const size_t n = relayed.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    FUZZ_CHECK(!ec || ec == http::error::need_buffer);
    FUZZ_CHECK(relayed.received() <= relay_buffer_bytes);
    relayed_body.append(buffer, relayed.received());
    FUZZ_CHECK(n > 0 || relayed.received() > 0 || relayed.is_done());
    rest.remove_prefix(n);
  }
  FUZZ_CHECK(relayed.body().empty());
  FUZZ_CHECK(relayed_body == expected.body());
  FUZZ_CHECK(relayed.status() == whole.status());
  return 0;
}
