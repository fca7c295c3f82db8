// DownstreamWriter::Relay writes what the socket takes at once and RelayRest finishes what it left
// with Asio's composed write: a piece larger than the client's socket takes must still arrive
// whole and in order, read back by Beast's parser. And the disconnect watch on the client socket.
#include "router/flow/downstream_writer.h"

#include <poll.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <thread>

#include "router/flow/request_observer.h"
#include "router/http/disconnect_watch.h"
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
  bool left_some = false;  // the socket took part of it at once, the rest asynchronously
  DownstreamWriter writer(pair.writer, keep_alive, observer, "req-1");
  RelayedResponse response(200);
  response.ContentLength(body.size());
  net::co_spawn(
      pair.ioc,
      [&]() -> Task<void> {
        std::optional<bool> sent =
            writer.Relay(response, body, true, false, std::chrono::seconds(30));
        left_some = !sent.has_value();
        if (!sent) sent = co_await writer.RelayRest();
        written = *sent;
      },
      net::detached);
  pair.ioc.run();
  pair.writer.socket().shutdown(Socket::shutdown_send);
  reading.join();

  CHECK(left_some);
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

namespace {

// A client connection for the disconnect watch: `client` is pdgate's side, `peer` the client's.
struct WatchedClient {
  net::io_context ioc;
  std::unique_ptr<Socket> client = std::make_unique<Socket>(ioc);
  Socket peer{ioc};

  WatchedClient() {
    Acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    peer.connect(acceptor.local_endpoint());
    acceptor.accept(*client);
  }
  // Waits (with a deadline) until pdgate's side is readable: the peer's bytes or FIN are there.
  bool Readable() {
    pollfd fd{client->native_handle(), POLLIN, 0};
    return ::poll(&fd, 1, 5000) == 1;
  }
};

}  // namespace

TEST_CASE("the disconnect watch sees a client that closes, and closes the request's legs") {
  WatchedClient c;
  WatchedClient leg;  // stands in for an upstream leg's connection
  pdgate::router::Stream leg_stream(std::move(*leg.client));
  auto watch = std::make_shared<DisconnectWatch>();
  watch->Add(&leg_stream);
  WatchClient(*c.client, watch);
  c.peer.close();
  REQUIRE(c.Readable());
  c.ioc.run_one();
  CHECK(watch->client_gone);
  CHECK_FALSE(leg_stream.socket().is_open());
}

TEST_CASE("a pipelined request ends the disconnect watch without taking the client for gone") {
  WatchedClient c;
  auto watch = std::make_shared<DisconnectWatch>();
  WatchClient(*c.client, watch);
  net::write(c.peer, net::buffer(std::string_view("POST /v1/completions HTTP/1.1\r\n")));
  REQUIRE(c.Readable());
  c.ioc.run_one();
  CHECK_FALSE(watch->client_gone);
}

TEST_CASE("a watch stopped after its wait completed leaves the closed socket alone") {
  // The race of a request that ends in the turn the client leaves: one epoll event completes the
  // session's last write (waiting on a full send buffer) and the watch's wait. Asio completes the
  // write inline and queues the wait's handler; the session stops the watch and frees the socket
  // before that handler runs.
  WatchedClient c;
  c.client->set_option(net::socket_base::send_buffer_size(4096));
  c.client->non_blocking(true);
  const std::string chunk(64 * 1024, 'x');
  beast::error_code ec;
  while (!ec) c.client->write_some(net::buffer(chunk), ec);  // fills the send buffer
  REQUIRE(ec == net::error::would_block);
  auto watch = std::make_shared<DisconnectWatch>();
  bool session_ended = false;
  c.client->async_write_some(net::buffer(chunk), [&](beast::error_code, size_t) {
    watch->stopped = true;  // what DownstreamWriter::StopWatching does
    c.client.reset();       // the session ends: its socket is closed and freed
    session_ended = true;
  });
  WatchClient(*c.client, watch);
  // The client leaves without reading: a reset, which makes the socket writable (an error) and
  // readable in one event.
  c.peer.set_option(net::socket_base::linger(true, 0));
  c.peer.close();
  REQUIRE(c.Readable());
  c.ioc.run();
  CHECK(session_ended);
  CHECK_FALSE(watch->client_gone);  // the handler looked at nothing of the freed socket
}
