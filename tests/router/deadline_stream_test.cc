// DeadlineStream: an operation ends with beast::error::timeout at its deadline, wherever the
// deadline moved meanwhile, never without one, and the timer is armed once per timeout period,
// not once per operation. On loopback sockets of one io_context, run by the test's thread.
#include <array>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "router/http/net.h"

using namespace pdgate::router;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// Runs `ioc`'s handlers until `done`, or fails the test after `limit`.
void RunUntil(net::io_context& ioc, const bool& done, Clock::duration limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (!done && Clock::now() < deadline) {
    ioc.run_one_for(10ms);
    if (ioc.stopped()) ioc.restart();
  }
  REQUIRE(done);
}

// A stream connected to a plain socket on loopback.
struct Pair {
  net::io_context ioc;
  std::unique_ptr<Stream> stream = std::make_unique<Stream>(ioc.get_executor());
  Socket peer{ioc};

  Pair() {
    Acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    stream->socket().connect(acceptor.local_endpoint());
    acceptor.accept(peer);
  }

  void RunUntil(const bool& done, Clock::duration limit = 10s) { ::RunUntil(ioc, done, limit); }
  // Runs handlers for `duration` (a window in which something must not happen).
  void RunFor(Clock::duration duration) {
    ioc.restart();
    ioc.run_for(duration);
  }
  void PeerWrites(std::string_view bytes) { net::write(peer, net::buffer(bytes)); }
};

struct Read {
  bool done = false;
  beast::error_code ec;
  size_t size = 0;
  Clock::time_point started = Clock::now();
  Clock::duration took{};
  char bytes[16] = {};

  void Start(Stream& stream) {
    started = Clock::now();
    stream.async_read_some(net::buffer(bytes), [this](beast::error_code e, size_t n) {
      ec = e;
      size = n;
      took = Clock::now() - started;
      done = true;
    });
  }
};

}  // namespace

TEST_CASE("deadline stream: a read that gets nothing ends with timeout at its deadline") {
  Pair pair;
  Read read;
  pair.stream->expires_after(50ms);
  read.Start(*pair.stream);
  pair.RunUntil(read.done);
  CHECK(read.ec == beast::error::timeout);
  CHECK(read.took >= 50ms);                      // Asio's timers never end early
  CHECK_FALSE(pair.stream->socket().is_open());  // as basic_stream: the timeout closes it
}

TEST_CASE("deadline stream: data before the deadline is read, and the deadline does not stay") {
  Pair pair;
  Read read;
  pair.stream->expires_after(10s);
  read.Start(*pair.stream);
  pair.PeerWrites("hello");
  pair.RunUntil(read.done);
  REQUIRE_FALSE(read.ec);
  CHECK(std::string_view(read.bytes, read.size) == "hello");
  CHECK(pair.stream->socket().is_open());
}

TEST_CASE("deadline stream: a deadline moved later while a read waits is the one that counts") {
  Pair pair;
  Read read;
  pair.stream->expires_after(30ms);
  read.Start(*pair.stream);
  pair.stream->expires_after(10s);
  pair.RunFor(150ms);  // the first wait ends at 30 ms and finds the deadline moved
  CHECK_FALSE(read.done);
  pair.PeerWrites("x");
  pair.RunUntil(read.done);
  CHECK_FALSE(read.ec);
  CHECK(read.size == 1);
}

TEST_CASE("deadline stream: a deadline brought earlier while a read waits cuts it off then") {
  Pair pair;
  Read read;
  pair.stream->expires_after(60s);
  read.Start(*pair.stream);
  pair.stream->expires_after(50ms);
  pair.RunUntil(read.done, 5s);  // long before the first deadline
  CHECK(read.ec == beast::error::timeout);
  CHECK(read.took >= 50ms);
}

TEST_CASE("deadline stream: with no deadline a read waits past an earlier one") {
  Pair pair;
  Read read;
  pair.stream->expires_after(20ms);
  pair.stream->expires_never();
  read.Start(*pair.stream);
  pair.RunFor(150ms);
  CHECK_FALSE(read.done);
  pair.PeerWrites("x");
  pair.RunUntil(read.done);
  CHECK_FALSE(read.ec);
}

TEST_CASE("deadline stream: a deadline that passed while idle ends the next operation") {
  Pair pair;
  pair.stream->expires_at(Clock::now() - 1ms);
  pair.PeerWrites("x");  // even with data waiting: the deadline is over
  Read read;
  read.Start(*pair.stream);
  pair.RunUntil(read.done);
  CHECK(read.ec == beast::error::timeout);
  CHECK(read.size == 0);
  CHECK_FALSE(pair.stream->socket().is_open());
}

TEST_CASE("deadline stream: keep-alive exchanges arm the timer once, not once per operation") {
  Pair pair;
  for (int round = 0; round < 200; ++round) {
    pair.stream->expires_after(30s);  // as the session does before each request
    Read read;
    read.Start(*pair.stream);
    pair.PeerWrites("ping");
    pair.RunUntil(read.done);
    REQUIRE_FALSE(read.ec);
    bool written = false;
    net::async_write(*pair.stream, net::buffer("pong", 4),
                     [&](beast::error_code ec, size_t) { written = !ec; });
    pair.RunUntil(written);
    char back[4];
    net::read(pair.peer, net::buffer(back));
  }
  CHECK(pair.stream->timer_arms() == 1);
}

TEST_CASE("deadline stream: destroyed with a read pending, the read ends as aborted") {
  Pair pair;
  Read read;
  pair.stream->expires_after(30s);
  read.Start(*pair.stream);
  pair.stream.reset();  // the completion and the timer's wait still refer to its state
  pair.RunUntil(read.done);
  CHECK(read.ec == net::error::operation_aborted);
}

TEST_CASE("deadline stream: a connect that gets no answer ends with timeout") {
  // A listener whose accept queue is full drops SYNs: the connects after the first get no answer.
  net::io_context ioc;
  Acceptor listener(ioc);
  const tcp::endpoint local(net::ip::make_address("127.0.0.1"), 0);
  listener.open(local.protocol());
  listener.bind(local);
  listener.listen(0);
  std::vector<std::unique_ptr<Stream>> streams;
  beast::error_code ec;
  Clock::duration took{};
  for (int attempt = 0; attempt < 8; ++attempt) {
    streams.push_back(std::make_unique<Stream>(ioc.get_executor()));
    streams.back()->expires_after(200ms);
    bool done = false;
    const auto start = Clock::now();
    streams.back()->async_connect(listener.local_endpoint(), [&](beast::error_code e) {
      ec = e;
      took = Clock::now() - start;
      done = true;
    });
    RunUntil(ioc, done);
    if (ec) break;  // connected ones fill the queue
  }
  CHECK(ec == beast::error::timeout);
  CHECK(took >= 200ms);
}

TEST_CASE("deadline stream: WriteNow writes what the send buffer takes\\, then 0 and no error") {
  Pair pair;
  pair.stream->socket().set_option(net::socket_base::send_buffer_size(4096));
  pair.peer.set_option(net::socket_base::receive_buffer_size(4096));
  std::string piece(4 * 1024 * 1024, 'x');
  for (size_t i = 0; i < piece.size(); ++i) piece[i] = char('a' + i % 26);
  beast::error_code ec;
  // The first call writes a head and part of a body; the next ones go on until both the send and
  // the peer's receive buffer are full, long before 4 MiB.
  size_t total = pair.stream->WriteNow(
      std::array<net::const_buffer, 2>{net::buffer(piece.data(), 100),
                                       net::buffer(piece.data() + 100, piece.size() - 100)},
      ec);
  REQUIRE_FALSE(ec);
  CHECK(total > 100);
  size_t last = total;
  for (int call = 0; call < 1000 && last > 0 && !ec; ++call) {
    last = pair.stream->WriteNow(
        std::array<net::const_buffer, 1>{net::buffer(piece.data() + total, piece.size() - total)},
        ec);
    total += last;
  }
  CHECK_FALSE(ec);
  CHECK(last == 0);  // full: nothing written, no error, no wait
  CHECK(total < piece.size());
  std::string got(total, '\0');
  net::read(pair.peer, net::buffer(got));
  CHECK(got == piece.substr(0, total));  // every piece, in order
}

TEST_CASE("deadline stream: WriteNow writes the first 8 pieces of a longer list") {
  Pair pair;
  const std::string bytes = "0123456789";
  std::vector<net::const_buffer> pieces;
  for (size_t i = 0; i < bytes.size(); ++i) pieces.push_back(net::buffer(bytes.data() + i, 1));
  beast::error_code ec;
  CHECK(pair.stream->WriteNow(pieces, ec) == 8);  // the caller writes the rest asynchronously
  CHECK_FALSE(ec);
  std::string got(8, '\0');
  net::read(pair.peer, net::buffer(got));
  CHECK(got == "01234567");
}

TEST_CASE("deadline stream: WriteNow to a peer that reset the connection reports the error") {
  Pair pair;
  pair.peer.set_option(net::socket_base::linger(true, 0));
  pair.peer.close();  // RST
  beast::error_code ec;
  const std::string bytes = "hello";
  const auto deadline = Clock::now() + 10s;
  while (!ec && Clock::now() < deadline) {
    pair.stream->WriteNow(std::array<net::const_buffer, 1>{net::buffer(bytes)}, ec);
  }
  CHECK((ec == net::error::connection_reset || ec == net::error::broken_pipe));
}

TEST_CASE("deadline stream: WriteNow on a stream its deadline closed reports timeout") {
  Pair pair;
  Read read;
  pair.stream->expires_after(20ms);
  read.Start(*pair.stream);
  pair.RunUntil(read.done);
  REQUIRE(read.ec == beast::error::timeout);
  beast::error_code ec;
  const std::string bytes = "late";
  CHECK(pair.stream->WriteNow(std::array<net::const_buffer, 1>{net::buffer(bytes)}, ec) == 0);
  CHECK(ec == beast::error::timeout);
}
