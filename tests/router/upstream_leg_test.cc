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

  net::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (ec) co_return;
      ++accepted;
      connections.emplace_back(std::move(socket));
      net::co_spawn(acceptor.get_executor(), Serve(connections.back()), net::detached);
    }
  }

  static net::awaitable<void> Serve(tcp::socket& socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      auto [read_ec, read] = co_await http::async_read(socket, buffer, request, kTuple);
      if (read_ec) co_return;
      http::response<http::string_body> response(http::status::ok, 11, "ok");
      response.keep_alive(true);
      response.prepare_payload();
      auto [write_ec, written] = co_await http::async_write(socket, response, kTuple);
      if (write_ec) co_return;
    }
  }

  // What a killed engine process does to its connections.
  void CloseAll() {
    for (tcp::socket& socket : connections) {
      beast::error_code ignored;
      socket.close(ignored);
    }
  }

  tcp::acceptor acceptor;
  std::list<tcp::socket> connections;  // stable addresses for the serving coroutines
  int accepted = 0;
};

// One exchange on `pool`; the connection goes back to the pool when it succeeded.
net::awaitable<LegOutcome> Exchange(net::io_context& ioc, UpstreamPool& pool,
                                    const tcp::endpoint& engine) {
  const UpstreamContext context{ioc, pool, 16 * 1024, 1000ms};
  LegTarget target{"engine", "dev/engine", engine};
  UpstreamLeg leg(context, std::move(target), std::make_shared<DisconnectWatch>());
  LegRequest request("/v1/completions", "engine");
  request.SetBody("{}");
  std::optional<http::response_parser<http::string_body>> parser;
  LegOutcome outcome =
      co_await leg.Exchange(request, parser, UpstreamLeg::Clock::now() + 5s, true, 0);
  if (outcome.ok()) leg.Release();
  co_return outcome;
}

// Runs `ioc` until `outcomes` holds `n` results (the engine's accept loop never lets it stop).
void RunUntil(net::io_context& ioc, const std::vector<LegOutcome>& outcomes, size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (outcomes.size() < n && std::chrono::steady_clock::now() < deadline) {
    ioc.run_one_for(100ms);
  }
}

}  // namespace

TEST_CASE(
    "after an engine restart every pooled connection is stale: the next exchange succeeds "
    "on a new connection and the other stale ones are dropped") {
  net::io_context ioc;
  KeepAliveEngine engine(ioc);
  UpstreamPool pool(8, 60s);
  const tcp::endpoint address = engine.acceptor.local_endpoint();
  std::vector<LegOutcome> outcomes;
  auto collect = [&](net::awaitable<LegOutcome> exchange) -> net::awaitable<void> {
    outcomes.push_back(co_await std::move(exchange));
  };

  // Three exchanges at once: three connections, all pooled afterwards.
  for (int i = 0; i < 3; ++i) {
    net::co_spawn(ioc, collect(Exchange(ioc, pool, address)), net::detached);
  }
  RunUntil(ioc, outcomes, 3);
  REQUIRE(outcomes.size() == 3);
  for (const LegOutcome& outcome : outcomes) CHECK(outcome.ok());
  CHECK(engine.accepted == 3);
  CHECK(pool.idle_count() == 3);

  engine.CloseAll();
  net::co_spawn(ioc, collect(Exchange(ioc, pool, address)), net::detached);
  RunUntil(ioc, outcomes, 4);
  REQUIRE(outcomes.size() == 4);
  INFO(outcomes[3].detail);
  CHECK(outcomes[3].ok());
  CHECK(engine.accepted == 4);    // one new connection, after one stale one
  CHECK(pool.idle_count() == 1);  // the new one; the two other stale ones are gone
}

TEST_CASE("a refused connect drops the endpoint's idle connections") {
  net::io_context ioc;
  UpstreamPool pool(8, 60s);
  KeepAliveEngine engine(ioc);
  const tcp::endpoint address = engine.acceptor.local_endpoint();
  std::vector<LegOutcome> outcomes;
  auto collect = [&](net::awaitable<LegOutcome> exchange) -> net::awaitable<void> {
    outcomes.push_back(co_await std::move(exchange));
  };
  for (int i = 0; i < 2; ++i) {
    net::co_spawn(ioc, collect(Exchange(ioc, pool, address)), net::detached);
  }
  RunUntil(ioc, outcomes, 2);
  REQUIRE(outcomes.size() == 2);
  CHECK(pool.idle_count() == 2);

  // The engine is gone for good: its listener too.
  engine.CloseAll();
  engine.acceptor.close();
  net::co_spawn(ioc, collect(Exchange(ioc, pool, address)), net::detached);
  RunUntil(ioc, outcomes, 3);
  REQUIRE(outcomes.size() == 3);
  CHECK(outcomes[2].status == LegStatus::kConnectFailed);
  CHECK(pool.idle_count() == 0);
}
