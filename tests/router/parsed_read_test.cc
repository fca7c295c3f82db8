// ReadParsed against Beast's own http::async_read_header, async_read and async_read_some: the same
// bytes from a loopback peer, the same error, the same parsed message and the same bytes left in
// the buffer, for messages that take several reads, pipelined ones, bodies that end with the
// connection, cut-short ones and every limit.
#include "router/http/parsed_read.h"

#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "router/http/client_request.h"
#include "router/http/net.h"
#include "router/upstream/engine_response.h"

using namespace pdgate::router;

namespace {

enum class Reader { kOurs, kBeast };

// What a sequence of reads produced: each read's error and the message as parsed.
struct ReadLog {
  std::vector<std::string> steps;
  bool operator==(const ReadLog&) const = default;
};

std::string Describe(const beast::error_code& ec) { return ec ? ec.message() : "ok"; }

template <class Parser>
std::string Snapshot(const Parser& parser, const beast::flat_buffer& buffer) {
  std::string text = parser.is_header_done() ? "header" : "no header";
  if (parser.is_done()) text += " done";
  text += " buffered=" + std::to_string(buffer.size());
  if (parser.is_header_done()) {
    for (const auto& field : parser.get()) {
      text += " [" + std::string(field.name_string()) + ":" + std::string(field.value()) + "]";
    }
  }
  return text;
}

// Runs `body` as a coroutine on `ioc` until it ends (the peer's bytes are already written). The
// io_context owns the coroutine and the flag: a read that never ends fails the test, and the
// suspended coroutine is destroyed with the io_context, touching nothing of this frame.
void RunToEnd(net::io_context& ioc, Task<> body) {
  auto done = std::make_shared<bool>(false);
  net::co_spawn(ioc, std::move(body), [done](const std::exception_ptr&) { *done = true; });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!*done && std::chrono::steady_clock::now() < deadline) {
    ioc.run_one_for(std::chrono::milliseconds(10));
    if (ioc.stopped()) ioc.restart();
  }
  REQUIRE(*done);
}

struct Loopback {
  net::io_context ioc;
  std::unique_ptr<Stream> stream = std::make_unique<Stream>(ioc.get_executor());
  Socket peer{ioc};

  // The peer sends `bytes`, then ends its side if `close`.
  Loopback(std::string_view bytes, bool close) {
    Acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    stream->socket().connect(acceptor.local_endpoint());
    acceptor.accept(peer);
    net::write(peer, net::buffer(bytes));
    if (close) peer.shutdown(tcp::socket::shutdown_send);
  }
};

Task<ParsedRead> BeastRead(Stream& stream, beast::flat_buffer& buffer, auto& parser,
                           ReadUntil until) {
  std::tuple<beast::error_code, size_t> result;
  if (until == ReadUntil::kHeader) {
    result = co_await http::async_read_header(stream, buffer, parser, kTuple);
  } else if (until == ReadUntil::kMessage) {
    result = co_await http::async_read(stream, buffer, parser, kTuple);
  } else {
    result = co_await http::async_read_some(stream, buffer, parser, kTuple);
  }
  co_return ParsedRead{std::get<0>(result), std::get<1>(result)};
}

// Reads messages with string bodies: for each message, the header, then the rest.
template <bool isRequest>
ReadLog ReadMessages(Reader reader, std::string_view bytes, bool close, int messages,
                     size_t header_limit = 8192, size_t body_limit = 1 << 20) {
  Loopback loopback(bytes, close);
  ReadLog log;
  RunToEnd(loopback.ioc, [&]() -> Task<> {
    beast::flat_buffer buffer;
    for (int i = 0; i < messages; ++i) {
      http::parser<isRequest, http::string_body> parser;
      parser.header_limit(uint32_t(header_limit));
      parser.body_limit(body_limit);
      for (const ReadUntil until : {ReadUntil::kHeader, ReadUntil::kMessage}) {
        auto [ec, used] = reader == Reader::kOurs
                              ? co_await ReadParsed(*loopback.stream, buffer, parser, until)
                              : co_await BeastRead(*loopback.stream, buffer, parser, until);
        log.steps.push_back(Describe(ec) + " used=" + std::to_string(used) + " " +
                            Snapshot(parser, buffer));
        if (ec) co_return;
      }
      log.steps.push_back("body=" + parser.get().body());
    }
  }());
  return log;
}

// Reads a response's body read_some by read_some into a small buffer (the decode relay's way).
// With `header_first`, the header is read on its own first, as a leg does before relaying.
ReadLog RelayResponse(Reader reader, std::string_view bytes, bool close, size_t relay_bytes,
                      bool header_first) {
  Loopback loopback(bytes, close);
  ReadLog log;
  RunToEnd(loopback.ioc, [&]() -> Task<> {
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    std::vector<char> relay(relay_bytes);
    if (header_first) {
      auto [ec, used] =
          reader == Reader::kOurs
              ? co_await ReadParsed(*loopback.stream, buffer, parser, ReadUntil::kHeader)
              : co_await BeastRead(*loopback.stream, buffer, parser, ReadUntil::kHeader);
      log.steps.push_back("header " + Describe(ec) + " used=" + std::to_string(used) + " " +
                          Snapshot(parser, buffer));
      if (ec) co_return;
    }
    for (int reads = 0; !parser.is_done() && reads < 10000; ++reads) {
      parser.get().body().data = relay.data();
      parser.get().body().size = relay.size();
      auto [ec, used] =
          reader == Reader::kOurs
              ? co_await ReadParsed(*loopback.stream, buffer, parser, ReadUntil::kSome)
              : co_await BeastRead(*loopback.stream, buffer, parser, ReadUntil::kSome);
      const size_t got = relay.size() - parser.get().body().size;
      log.steps.push_back(Describe(ec) + " used=" + std::to_string(used) + " got=" +
                          std::string(relay.data(), got) + " " + Snapshot(parser, buffer));
      if (ec && ec != http::error::need_buffer) co_return;
    }
  }());
  return log;
}

std::string Request(size_t body_bytes) {
  return "POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: " +
         std::to_string(body_bytes) + "\r\n\r\n" + std::string(body_bytes, 'x');
}

}  // namespace

TEST_CASE("ReadParsed reads requests as Beast's async_read_header and async_read do") {
  const std::string big_header = "GET / HTTP/1.1\r\nX-Long: " + std::string(3000, 'h') + "\r\n\r\n";
  const std::string chunked =
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n"
      "Trailer-A: 1\r\n\r\n";
  struct Case {
    const char* name;
    std::string bytes;
    bool close;
    int messages;
    size_t header_limit = 8192;
    size_t body_limit = 1 << 20;
  };
  const std::vector<Case> cases = {
      {"a body over several reads", Request(5000), false, 1},
      {"two pipelined requests", Request(10) + Request(700), false, 2},
      {"a chunked body with a trailer", chunked, false, 1},
      {"a header over the limit", big_header, false, 1, 1024},
      {"a body over the limit", Request(600), false, 1, 8192, 100},
      {"the connection ends mid-body", Request(900).substr(0, 700), true, 1},
      {"the connection ends before a byte", "", true, 1},
      {"the connection ends mid-header", "GET / HTTP/1.1\r\nHost", true, 1},
      {"not HTTP", "\x16\x03\x01 binary\r\n\r\n", false, 1},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const ReadLog beast = ReadMessages<true>(Reader::kBeast, c.bytes, c.close, c.messages,
                                             c.header_limit, c.body_limit);
    const ReadLog ours = ReadMessages<true>(Reader::kOurs, c.bytes, c.close, c.messages,
                                            c.header_limit, c.body_limit);
    CAPTURE(beast.steps, ours.steps);
    CHECK(!beast.steps.empty());
    CHECK(ours == beast);
  }
}

TEST_CASE("ReadParsed reads responses as Beast does, whole or read_some by read_some") {
  const std::string to_eof =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + std::string(1500, 'e');
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\ndata: \r\n4\r\n1\n\n\r\n0\r\n\r\n";
  const std::string sized =
      "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 11\r\n\r\n"
      "engine died";
  // Whole responses, string bodies.
  for (const auto& [bytes, close] : std::vector<std::pair<std::string, bool>>{
           {to_eof, true}, {chunked, false}, {sized, false}, {sized.substr(0, 60), true}}) {
    const ReadLog beast = ReadMessages<false>(Reader::kBeast, bytes, close, 1);
    const ReadLog ours = ReadMessages<false>(Reader::kOurs, bytes, close, 1);
    CAPTURE(beast.steps, ours.steps);
    CHECK(beast.steps.size() >= 2);
    CHECK(ours == beast);
  }
  // Relayed through a small buffer: need_buffer when it is full, the rest on the next read.
  for (const bool header_first : {false, true}) {
    for (const size_t relay : {size_t{3}, size_t{64}, size_t{4096}}) {
      for (const auto& [bytes, close] : std::vector<std::pair<std::string, bool>>{
               {to_eof, true}, {chunked, false}, {sized, false}}) {
        INFO("relay buffer " << relay << ", header first " << header_first);
        const ReadLog beast = RelayResponse(Reader::kBeast, bytes, close, relay, header_first);
        const ReadLog ours = RelayResponse(Reader::kOurs, bytes, close, relay, header_first);
        CAPTURE(beast.steps, ours.steps);
        CHECK(beast.steps.size() >= 2);
        CHECK(ours == beast);
      }
    }
  }
}

TEST_CASE("ReadParsed on a parser that is done, and on a buffer that cannot grow") {
  for (const Reader reader : {Reader::kBeast, Reader::kOurs}) {
    INFO((reader == Reader::kOurs ? "ReadParsed" : "Beast"));
    // A message read whole, then read again: nothing read, nothing taken.
    {
      Loopback loopback(Request(10) + "GET /next HTTP/1.1\r\n\r\n", false);
      std::vector<std::string> steps;
      RunToEnd(loopback.ioc, [&]() -> Task<> {
        beast::flat_buffer buffer;
        http::request_parser<http::string_body> parser;
        for (int i = 0; i < 2; ++i) {
          auto [ec, used] =
              reader == Reader::kOurs
                  ? co_await ReadParsed(*loopback.stream, buffer, parser, ReadUntil::kMessage)
                  : co_await BeastRead(*loopback.stream, buffer, parser, ReadUntil::kMessage);
          steps.push_back(Describe(ec) + " used=" + std::to_string(used) + " " +
                          Snapshot(parser, buffer));
        }
      }());
      REQUIRE(steps.size() == 2);
      CHECK(steps[1] == "ok used=0 " + steps[0].substr(steps[0].find("header")));
    }
    // A buffer whose max_size is reached before the header ends.
    {
      Loopback loopback("GET / HTTP/1.1\r\nX-Long: " + std::string(2000, 'h'), false);
      beast::error_code error;
      RunToEnd(loopback.ioc, [&]() -> Task<> {
        beast::flat_buffer buffer(600);
        http::request_parser<http::empty_body> parser;
        auto [ec, used] =
            reader == Reader::kOurs
                ? co_await ReadParsed(*loopback.stream, buffer, parser, ReadUntil::kHeader)
                : co_await BeastRead(*loopback.stream, buffer, parser, ReadUntil::kHeader);
        error = ec;
      }());
      CHECK(error == http::error::buffer_overflow);
    }
  }
}

TEST_CASE("ParseBuffered answers from the buffer as ReadParsed's first step does, else leaves it") {
  const auto fill = [](beast::flat_buffer& buffer, std::string_view bytes) {
    buffer.commit(net::buffer_copy(buffer.prepare(bytes.size()), net::buffer(bytes)));
  };
  const std::string head = "POST /v1/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n";
  SECTION("a head, then the body that came with it") {
    beast::flat_buffer buffer;
    fill(buffer, head + "{}");
    ClientRequest request;
    ClientRequestParser parser(request);
    const std::optional<ParsedRead> header = ParseBuffered(buffer, parser, ReadUntil::kHeader);
    REQUIRE(header.has_value());
    CHECK_FALSE(header->first);
    CHECK(header->second == head.size());
    CHECK(parser.is_header_done());
    CHECK_FALSE(parser.is_done());  // a header read stops at the header's end
    const std::optional<ParsedRead> body = ParseBuffered(buffer, parser, ReadUntil::kMessage);
    REQUIRE(body.has_value());
    CHECK_FALSE(body->first);
    CHECK(body->second == 2);
    CHECK(parser.is_done());
    CHECK(request.body() == "{}");
    CHECK(buffer.size() == 0);
    // Already done: nothing more to take.
    const std::optional<ParsedRead> again = ParseBuffered(buffer, parser, ReadUntil::kMessage);
    REQUIRE(again.has_value());
    CHECK(again->second == 0);
  }
  SECTION("a body cut short: what is here is taken, and a read is asked for") {
    beast::flat_buffer buffer;
    fill(buffer, head + "{");
    ClientRequest request;
    ClientRequestParser parser(request);
    REQUIRE(ParseBuffered(buffer, parser, ReadUntil::kHeader).has_value());
    CHECK_FALSE(ParseBuffered(buffer, parser, ReadUntil::kMessage).has_value());
    CHECK(request.body() == "{");
    CHECK(buffer.size() == 0);
  }
  SECTION("a head cut short, an empty buffer, a bad request line") {
    ClientRequest request;
    beast::flat_buffer cut;
    fill(cut, "POST /v1/completions HTTP/1.1\r\nHo");
    ClientRequestParser cut_parser(request);
    CHECK_FALSE(ParseBuffered(cut, cut_parser, ReadUntil::kHeader).has_value());
    beast::flat_buffer empty;
    ClientRequestParser empty_parser(request);
    CHECK_FALSE(ParseBuffered(empty, empty_parser, ReadUntil::kHeader).has_value());
    beast::flat_buffer bad;
    fill(bad, "GET  / HTTP/1.1\r\n\r\n");
    ClientRequestParser bad_parser(request);
    const std::optional<ParsedRead> refused = ParseBuffered(bad, bad_parser, ReadUntil::kHeader);
    REQUIRE(refused.has_value());
    CHECK(refused->first == http::error::bad_target);
  }
  SECTION("a relayed body fills the caller's buffer: need_buffer, as a read_some would say") {
    beast::flat_buffer buffer;
    fill(buffer, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
    EngineResponseParser parser;
    REQUIRE(ParseBuffered(buffer, parser, ReadUntil::kHeader).has_value());
    char relay[4];
    parser.ReadInto(relay, sizeof(relay));
    const std::optional<ParsedRead> some = ParseBuffered(buffer, parser, ReadUntil::kSome);
    REQUIRE(some.has_value());
    CHECK(some->first == http::error::need_buffer);
    CHECK(parser.received() == 4);
    CHECK(std::string_view(relay, 4) == "0123");
    CHECK(buffer.size() == 6);
  }
}
