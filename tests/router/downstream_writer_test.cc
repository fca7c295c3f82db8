// DownstreamWriter::Relay writes a piece with one write_some and finishes what a short write left
// with Asio's composed write: a piece larger than the client's socket takes must still arrive
// whole and in order, read back by Beast's parser.
#include "router/flow/downstream_writer.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "router/flow/request_observer.h"
#include "router/observe/router_metrics.h"

using namespace pdgate::router;

namespace {

// A connected pair of loopback sockets with small buffers, so a large piece cannot go in one write.
struct SmallBufferPair {
  net::io_context ioc;
  pdgate::router::Stream writer{ioc.get_executor()};
  pdgate::router::Socket reader{ioc};

  SmallBufferPair() {
    Acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    // The reader's receive buffer is set before connecting: the window is agreed on then.
    reader.open(tcp::v4());
    reader.set_option(net::socket_base::receive_buffer_size(4096));
    reader.connect(acceptor.local_endpoint());
    acceptor.accept(writer.socket());
    writer.socket().set_option(net::socket_base::send_buffer_size(4096));
  }
};

}  // namespace

TEST_CASE(
    "a relayed piece larger than the client's socket takes arrives whole after a short write") {
  SmallBufferPair pair;
  std::string body(4 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = char('a' + i % 23);

  // 4 MiB cannot fit in the 4 KiB buffers: the first write_some is short whenever it runs.
  std::string bytes;
  std::thread reading([&] {
    beast::error_code ec;
    net::read(pair.reader, net::dynamic_buffer(bytes), ec);
  });

  MetricHandles handles;
  RequestObserver observer(handles, ApiPath::kCompletions, nullptr);
  bool keep_alive = true;
  bool written = false;
  DownstreamWriter writer(pair.writer, keep_alive, observer, "req-1");
  RelayedResponse response(200);
  response.ContentLength(body.size());
  net::co_spawn(
      pair.ioc,
      [&]() -> Task<void> {
        written = co_await writer.Relay(response, body, true, false, std::chrono::seconds(30));
      },
      net::detached);
  pair.ioc.run();
  pair.writer.socket().shutdown(Socket::shutdown_send);
  reading.join();

  CHECK(written);
  CHECK(keep_alive);
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(body.size());
  beast::error_code ec;
  const size_t used = parser.put(net::buffer(bytes), ec);
  REQUIRE_FALSE(ec);
  REQUIRE(parser.is_done());
  CHECK(used == bytes.size());
  CHECK(parser.get().result_int() == 200);
  CHECK(parser.get().body() == body);
}

TEST_CASE("what a short write left of the parts is their tail, split inside a part") {
  const std::string a = "head;", b = "body", c = "\r\n";
  RelayedResponse::Parts parts{net::buffer(a), net::buffer(b), net::buffer(c)};
  auto joined = [](const RelayedResponse::Parts& p, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out.append(static_cast<const char*>(p[i].data()), p[i].size());
    return out;
  };
  for (size_t written = 0; written <= 11; ++written) {
    RelayedResponse::Parts rest;
    const size_t left = RelayedResponse::Rest(parts, 3, written, rest);
    CHECK(joined(rest, left) == std::string("head;body\r\n").substr(written));
    for (size_t i = 0; i < left; ++i) CHECK(rest[i].size() > 0);
  }
}
