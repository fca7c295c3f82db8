// WatchQueue: a request's disconnect watch starts only once the request has run for the delay;
// a request done before leaves the queue with nothing started on its socket. On loopback sockets
// of one io_context, run by the test's thread.
#include "router/http/watch_queue.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

using namespace pdgate::router;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// A client connection: `client` is pdgate's side, `peer` the client's.
struct QueuedClient {
  explicit QueuedClient(net::io_context& ioc) : client(ioc), peer(ioc) {
    Acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    peer.connect(acceptor.local_endpoint());
    acceptor.accept(client);
  }
  Socket client;
  Socket peer;
  std::shared_ptr<DisconnectWatch> watch = std::make_shared<DisconnectWatch>();
};

// Runs handlers until `done()` or `limit`; whether it came.
bool RunUntil(net::io_context& ioc, const std::function<bool()>& done, Clock::duration limit = 5s) {
  const auto deadline = Clock::now() + limit;
  while (!done() && Clock::now() < deadline) {
    ioc.run_one_for(5ms);
    if (ioc.stopped()) ioc.restart();
  }
  return done();
}

// Runs handlers for `duration`: a window in which something must not happen.
void RunFor(net::io_context& ioc, Clock::duration duration) {
  ioc.restart();
  ioc.run_for(duration);
}

}  // namespace

TEST_CASE("a queued watch starts after its delay: a client that left at once is seen then") {
  net::io_context ioc;
  WatchQueue queue(ioc, 60ms);
  QueuedClient c(ioc);
  const auto start = Clock::now();
  queue.Add(c.client, c.watch);
  CHECK(queue.queued() == 1);
  c.peer.close();
  RunFor(ioc, 20ms);
  CHECK_FALSE(c.watch->client_gone);  // not watched yet
  REQUIRE(RunUntil(ioc, [&] { return c.watch->client_gone; }));
  CHECK(Clock::now() - start >= 60ms);  // Asio's timers never end early
  CHECK(queue.queued() == 0);
}

TEST_CASE("watches stopped before their delay leave the queue and never wait on their socket") {
  net::io_context ioc;
  WatchQueue queue(ioc, 30ms);
  std::vector<std::unique_ptr<QueuedClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<QueuedClient>(ioc));
    queue.Add(clients.back()->client, clients.back()->watch);
  }
  CHECK(queue.queued() == 4);
  clients[1]->watch->Stop();  // the middle, the front, the back, and the middle again
  clients[0]->watch->Stop();
  clients[3]->watch->Stop();
  clients[3]->watch->Stop();  // once only
  CHECK(queue.queued() == 1);
  for (auto& c : clients) c->peer.close();
  // The one left is watched when due; the stopped ones never are.
  REQUIRE(RunUntil(ioc, [&] { return clients[2]->watch->client_gone; }));
  RunFor(ioc, 100ms);
  CHECK_FALSE(clients[0]->watch->client_gone);
  CHECK_FALSE(clients[1]->watch->client_gone);
  CHECK_FALSE(clients[3]->watch->client_gone);
  CHECK(queue.queued() == 0);
  // Nothing is left waiting: not a wait, not the timer.
  ioc.restart();
  CHECK(ioc.poll() == 0);
  CHECK(ioc.stopped());
}

TEST_CASE("a watch added later waits its own delay, not the timer's next turn") {
  net::io_context ioc;
  WatchQueue queue(ioc, 60ms);
  QueuedClient first(ioc);
  QueuedClient second(ioc);
  const auto start = Clock::now();
  queue.Add(first.client, first.watch);
  RunFor(ioc, 30ms);
  const auto second_added = Clock::now();
  queue.Add(second.client, second.watch);
  first.peer.close();
  second.peer.close();
  REQUIRE(RunUntil(ioc, [&] { return first.watch->client_gone; }));
  CHECK(Clock::now() - start >= 60ms);
  CHECK_FALSE(second.watch->client_gone);  // due 30 ms later
  CHECK(queue.queued() == 1);
  REQUIRE(RunUntil(ioc, [&] { return second.watch->client_gone; }));
  CHECK(Clock::now() - second_added >= 60ms);
}

TEST_CASE("a queue closed with watches in it lets them stop later") {
  net::io_context ioc;
  QueuedClient c(ioc);
  {
    WatchQueue queue(ioc, 10s);
    queue.Add(c.client, c.watch);
    queue.Close();
    CHECK(queue.queued() == 0);
    CHECK(c.watch->queue == nullptr);
  }
  c.watch->Stop();  // cancels the socket's (no) operations; no queue is touched
  CHECK(c.watch->stopped);
  CHECK(c.client.is_open());
}
