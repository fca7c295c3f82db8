// The upstream leg and its pool against an engine that restarts: an in-process keep-alive HTTP
// server on loopback whose connections are all closed at once, as when its process is killed.
#include "router/upstream/upstream_leg.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>
#include <list>

using namespace pdgate::router;
using namespace std::chrono_literals;

namespace {

// Answers every request "ok", keep-alive, and holds its connections so a test can close them.
struct KeepAliveEngine {
  explicit KeepAliveEngine(net::io_context& ioc)
      : acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    net::co_spawn(ioc, Accept(), net::detached);
  }

  pdgate::router::Task<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (ec) co_return;
      ++accepted;
      connections.emplace_back(std::move(socket));
      net::co_spawn(acceptor.get_executor(), Serve(connections.back()), net::detached);
    }
  }

  static pdgate::router::Task<void> Serve(pdgate::router::Socket& socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      auto [read_ec, read] = co_await http::async_read(socket, buffer, request, kTuple);
      if (read_ec) co_return;
      http::response<http::string_body> response(http::status::ok, 11, "ok");
      // A header larger than any read buffer: the leg's buffer must grow to hold all of it.
      if (request.target() == "/big") response.set("x-large", std::string(40 * 1024, 'x'));
      response.keep_alive(true);
      response.prepare_payload();
      auto [write_ec, written] = co_await http::async_write(socket, response, kTuple);
      if (write_ec) co_return;
    }
  }

  // What a killed engine process does to its connections.
  void CloseAll() {
    for (pdgate::router::Socket& socket : connections) {
      beast::error_code ignored;
      socket.close(ignored);
    }
  }

  pdgate::router::Acceptor acceptor;
  std::list<pdgate::router::Socket> connections;  // stable addresses for the serving coroutines
  int accepted = 0;
};

// A keep-alive engine and one io thread's pool in front of it; exchanges run on the test thread.
struct EngineAndPool {
  net::io_context ioc;
  KeepAliveEngine engine{ioc};
  UpstreamPool pool{8, 60s};
  const tcp::endpoint address = engine.acceptor.local_endpoint();
  std::vector<LegOutcome> outcomes;  // of every exchange, in the order they ended

  // `n` exchanges at once, run until each has ended; the connection of one that succeeded goes
  // back to the pool.
  void Exchange(size_t n, std::string_view target = "/v1/completions") {
    const size_t want = outcomes.size() + n;
    for (size_t i = 0; i < n; ++i) net::co_spawn(ioc, ExchangeOnce(target), net::detached);
    // The engine's accept loop never lets the io_context run out of work.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (outcomes.size() < want && std::chrono::steady_clock::now() < deadline) {
      ioc.run_one_for(100ms);
    }
  }

  pdgate::router::Task<void> ExchangeOnce(std::string_view target) {
    const UpstreamContext context{ioc, pool, 64 * 1024, 1000ms};
    UpstreamLeg leg(context, LegTarget{"engine", address}, std::make_shared<DisconnectWatch>());
    LegRequest request(target, "engine");
    request.SetBody("{}");
    std::optional<http::response_parser<http::string_body>> parser;
    LegOutcome outcome =
        co_await leg.Exchange(request, parser, UpstreamLeg::Clock::now() + 5s, true, 0);
    if (outcome.ok()) leg.Release();
    outcomes.push_back(std::move(outcome));
  }
};

}  // namespace

TEST_CASE(
    "after an engine restart every pooled connection is stale: the next exchange succeeds "
    "on a new connection and the other stale ones are dropped") {
  EngineAndPool t;
  // Three exchanges at once: three connections, all pooled afterwards.
  t.Exchange(3);
  REQUIRE(t.outcomes.size() == 3);
  for (const LegOutcome& outcome : t.outcomes) CHECK(outcome.ok());
  CHECK(t.engine.accepted == 3);
  CHECK(t.pool.idle_count() == 3);

  t.engine.CloseAll();
  t.Exchange(1);
  REQUIRE(t.outcomes.size() == 4);
  INFO(t.outcomes[3].detail);
  CHECK(t.outcomes[3].ok());
  CHECK(t.engine.accepted == 4);    // one new connection, after one stale one
  CHECK(t.pool.idle_count() == 1);  // the new one; the two other stale ones are gone
}

TEST_CASE("a refused connect drops the endpoint's idle connections") {
  EngineAndPool t;
  t.Exchange(2);
  REQUIRE(t.outcomes.size() == 2);
  CHECK(t.pool.idle_count() == 2);

  // The engine is gone for good: its listener too.
  t.engine.CloseAll();
  t.engine.acceptor.close();
  t.Exchange(1);
  REQUIRE(t.outcomes.size() == 3);
  CHECK(t.outcomes[2].status == LegStatus::kConnectFailed);
  CHECK(t.pool.idle_count() == 0);
}

TEST_CASE("a pooled connection keeps its read buffer, but not what a large answer grew it to") {
  EngineAndPool t;
  t.Exchange(1);
  REQUIRE(t.outcomes.size() == 1);
  CHECK(t.outcomes[0].ok());
  CHECK(t.pool.idle_buffer_bytes() >= UpstreamLeg::kReadBufferBytes);

  t.Exchange(1, "/big");  // a 40 KiB header read on the pooled connection
  REQUIRE(t.outcomes.size() == 2);
  CHECK(t.outcomes[1].ok());
  CHECK(t.engine.accepted == 1);  // the same connection
  CHECK(t.pool.idle_count() == 1);
  CHECK(t.pool.idle_buffer_bytes() <= 4 * UpstreamLeg::kReadBufferBytes);

  t.Exchange(1);  // and it serves the next exchange as before
  REQUIRE(t.outcomes.size() == 3);
  CHECK(t.outcomes[2].ok());
  CHECK(t.engine.accepted == 1);
}
