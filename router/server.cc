#include "router/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <thread>
#include <vector>

#include "router/client_session.h"
#include "router/net.h"
#include "router/worker.h"

namespace pdgate::router {
namespace {

net::awaitable<void> AcceptLoop(Worker& worker, tcp::acceptor& acceptor) {
  const size_t max_connections = worker.settings().limits.max_connections;
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == net::error::operation_aborted) break;
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    if (worker.connections >= max_connections) continue;  // closed by the socket's destructor
    net::co_spawn(worker.ioc, RunClientSession(worker, std::move(socket)), net::detached);
  }
}

}  // namespace

int RunServer(const std::shared_ptr<const RouterState>& state) {
  const config::RouterSettings& settings = state->config->settings;
  unsigned threads = settings.threads > 0 ? unsigned(settings.threads)
                                          : std::max(1u, std::thread::hardware_concurrency());
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(settings.listen.address, ec);
  if (ec) {
    spdlog::error("listen address {}: {}", settings.listen.address, ec.message());
    return 1;
  }
  const tcp::endpoint endpoint(address, settings.listen.port);

  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::random_device seed;
  for (unsigned i = 0; i < threads; ++i) {
    contexts.push_back(std::make_unique<net::io_context>(1));
    workers.push_back(std::make_unique<Worker>(*contexts.back(), state, seed()));
    auto acceptor = std::make_unique<tcp::acceptor>(*contexts.back());
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
      acceptor->bind(endpoint, ec);
    }
    if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      spdlog::error("cannot listen on {}:{}: {}", settings.listen.address, settings.listen.port,
                    ec.message());
      return 1;
    }
    net::co_spawn(*contexts.back(), AcceptLoop(*workers.back(), *acceptor), net::detached);
    acceptors.push_back(std::move(acceptor));
  }

  net::signal_set signals(*contexts[0], SIGINT, SIGTERM);
  signals.async_wait([&](const beast::error_code& error, int signal) {
    if (error) return;
    spdlog::info("signal {}: stopping", signal);
    for (auto& context : contexts) context->stop();
  });
  spdlog::info("listening on {}:{} with {} io thread{}", settings.listen.address,
               settings.listen.port, threads, threads == 1 ? "" : "s");

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) {
    pool.emplace_back([&contexts, i] { contexts[i]->run(); });
  }
  contexts[0]->run();
  for (auto& context : contexts) context->stop();
  for (std::thread& thread : pool) thread.join();
  return 0;
}

}  // namespace pdgate::router
