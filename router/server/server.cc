#include "router/server/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/signal_set.hpp>
#include <mutex>
#include <thread>
#include <vector>

#include "discovery/uncaught.h"
#include "router/http/net.h"
#include "router/observe/access_log.h"
#include "router/observe/auth_metrics.h"
#include "router/observe/sharded_metrics.h"
#include "router/runtime/lifecycle.h"
#include "router/runtime/worker.h"
#include "router/server/admin_session.h"
#include "router/server/client_session.h"
#include "router/server/endpoint_scraper.h"
#include "router/server/jwks_refresher.h"
#include "router/server/server_process.h"
#include "router/server/shared_load_sync.h"

namespace pdgate::router {
namespace {

using Clock = std::chrono::steady_clock;

// After a failed accept (EMFILE, ENFILE, ENOBUFS), as nginx does: the pending connection stays
// in the backlog, so accepting again at once would fail again at once and spin this io thread,
// starving the connections it serves.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

Task<void> AcceptLoop(Worker& worker, Acceptor& acceptor, bool admin) {
  const size_t max_connections = worker.settings().limits.max_connections;
  SteadyTimer pause(worker.ioc);
  Clock::time_point last_warning{};
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) break;
      if (Clock::now() - last_warning >= std::chrono::seconds(10)) {
        last_warning = Clock::now();
        spdlog::warn("accept: {}; accepting again in {} ms (open connections are served)",
                     ec.message(), kAcceptPause.count());
      }
      pause.expires_after(kAcceptPause);
      co_await pause.async_wait(kTuple);
      continue;
    }
    if (admin) {
      net::co_spawn(worker.ioc, RunAdminSession(worker, std::move(socket)),
                    ReportUncaught{SpawnSite::kAdminSession});
      continue;
    }
    if (worker.connections >= max_connections) continue;  // closed by the socket's destructor
    net::co_spawn(worker.ioc, RunClientSession(worker, std::move(socket)),
                  ReportUncaught{SpawnSite::kClientSession});
  }
}

// Closes pooled connections idle longer than upstreamPoolIdle, a few times per that period:
// otherwise one to an endpoint no request goes to again would stay open (half-closed once the
// engine gives up on it) and pdgate_upstream_connections{state="idle"} would never go down.
Task<void> PrunePool(Worker& worker) {
  SteadyTimer timer(worker.ioc);
  const Clock::duration period = std::clamp<Clock::duration>(
      worker.pool.max_idle() / 4, std::chrono::milliseconds(10), std::chrono::seconds(1));
  while (true) {
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) break;
    worker.pool.Prune(Clock::now());
  }
}

std::unique_ptr<Acceptor> Listen(net::io_context& context, const tcp::endpoint& endpoint,
                                 bool reuse_port, beast::error_code& ec) {
  auto acceptor = std::make_unique<Acceptor>(context);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) {
    int one = 1;
    ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  }
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  return acceptor;
}

}  // namespace

Server::Server(std::shared_ptr<const RouterState> state, ConfigSource source)
    : initial_config_(state->config),
      current_(state),
      source_(std::move(source)),
      settings_(state->config->settings),
      access_log_(settings_.access_log),
      threads_(settings_.threads > 0 ? unsigned(settings_.threads)
                                     : std::max(1u, std::thread::hardware_concurrency())) {
  std::random_device seed;
  control_worker_ = std::make_unique<Worker>(*control_, state, seed(), &lifecycle_);
  control_worker_->kv_events = &kv_events_.counters();
  for (unsigned i = 0; i < threads_; ++i) {
    // Only this io thread touches its sockets (other threads post to it), so the reactor's
    // per-socket mutex can go; posting and timers stay locked.
    contexts_.push_back(std::make_unique<net::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
    workers_.push_back(std::make_unique<Worker>(*contexts_.back(), state, seed(), &lifecycle_));
    workers_.back()->kv_reader = i % kKvIndexReaderSlots;
    workers_.back()->access_log = &access_log_;
    workers_.back()->auth_metrics = auth_metrics_.get();
    workers_.back()->request_jwks_refresh = [this] {
      std::lock_guard lock(jwks_mutex_);
      if (jwks_) jwks_->RequestRefresh();
    };
  }
  // Not ready before the API server's objects are in.
  if (source_.kubernetes) ++lifecycle_.pending_gates;
  // Nor before the first JWT key set: every JWT would be refused.
  if (settings_.auth.jwt_enabled()) {
    ++lifecycle_.pending_gates;
    jwks_gate_pending_ = true;
  }
  // Nor before the control thread runs: signals, reloads, the file watch and the admin port.
  ++lifecycle_.pending_gates;
}

int Server::Run() {
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(settings_.listen.address, ec);
  const net::ip::address admin_address = net::ip::make_address(settings_.listen.admin_address, ec);
  if (ec) {
    spdlog::error("listen address: {}", ec.message());
    return 1;
  }
  for (unsigned i = 0; i < threads_; ++i) {
    auto acceptor = Listen(*contexts_[i], tcp::endpoint(address, settings_.listen.port), true, ec);
    if (ec) {
      spdlog::error("cannot listen on {}:{}: {}", settings_.listen.address, settings_.listen.port,
                    ec.message());
      return 1;
    }
    net::co_spawn(*contexts_[i], AcceptLoop(*workers_[i], *acceptor, false),
                  ReportUncaught{SpawnSite::kAcceptLoop});
    net::co_spawn(*contexts_[i], PrunePool(*workers_[i]), ReportUncaught{SpawnSite::kPoolPrune});
    acceptors_.push_back(std::move(acceptor));
  }
  admin_ = Listen(*control_, tcp::endpoint(admin_address, settings_.listen.admin_port), false, ec);
  if (ec) {
    spdlog::error("cannot listen on admin {}:{}: {}", settings_.listen.admin_address,
                  settings_.listen.admin_port, ec.message());
    return 1;
  }
  net::co_spawn(*control_, AcceptLoop(*control_worker_, *admin_, true),
                ReportUncaught{SpawnSite::kAcceptLoop});

  net::signal_set signals(*control_, SIGINT, SIGTERM);
  WaitForSignal(signals);
  net::signal_set hangup(*control_, SIGHUP);
  WaitForHangup(hangup);
  // Stamped before any thread serves: the coroutine starts only once control_ runs, and a file
  // changed while clients are already served must still be seen as a change.
  net::co_spawn(*control_, WatchFiles(Stamp()), ReportUncaught{SpawnSite::kFileWatch});
  scraper_.Start();
  kv_events_.Start();
  if (settings_.auth.jwt_enabled()) StartJwks(settings_.auth);
  spdlog::info("listening on {}:{} (admin {}:{}) with {} io thread{}", settings_.listen.address,
               settings_.listen.port, settings_.listen.admin_address, settings_.listen.admin_port,
               threads_, threads_ == 1 ? "" : "s");
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < threads_; ++i) {
    pool.emplace_back([this, i] {
      BindMetricShard(i);
      contexts_[i]->run();
    });
  }
  if (source_.kubernetes) StartKubernetes();
  shared_load_ = std::make_unique<SharedLoadSync>(
      *control_, [this] { return current_; }, current_->metrics_registry->registry());
  shared_load_->Start();
  // Queued after the first steps of everything above that runs on control_.
  net::post(*control_, [this] { --lifecycle_.pending_gates; });
  control_->run();      // the control thread is the main thread
  kubernetes_.reset();  // its thread posts to control_: stopped before it goes
  StopJwks();           // likewise
  StopAll();
  for (std::thread& thread : pool) thread.join();
  scraper_.Stop();
  kv_events_.Stop();
  // Pooled sockets must go while their io_context still exists.
  for (auto& worker : workers_) worker->pool.Clear();
  for (auto& worker : workers_) worker->redis.clear();
  for (auto& worker : workers_) worker->watches.Close();  // its timer, likewise
  control_worker_->pool.Clear();
  control_worker_->watches.Close();
  shared_load_.reset();
  return exit_code_;
}

void Server::WaitForSignal(net::signal_set& signals) {
  signals.async_wait([this, &signals](const beast::error_code& error, int signal) {
    if (error) return;
    if (lifecycle_.draining) {
      spdlog::warn("signal {} while draining: exiting now", signal);
      exit_code_ = 1;
      StopAll();
      return;
    }
    spdlog::info("signal {}: draining (readiness 503 now, listeners close in {} ms)", signal,
                 settings_.timeouts.drain_delay.count());
    lifecycle_.draining = true;
    WaitForSignal(signals);  // a second signal exits at once
    net::co_spawn(*control_, Drain(), ReportUncaught{SpawnSite::kDrain});
  });
}

Task<void> Server::Drain() {
  SteadyTimer timer(*control_);
  timer.expires_after(settings_.timeouts.drain_delay);
  co_await timer.async_wait(kTuple);
  // Stop accepting, and close connections idle between requests, on each worker's own thread.
  for (unsigned i = 0; i < threads_; ++i) {
    net::post(*contexts_[i], [this, i] {
      beast::error_code ignored;
      acceptors_[i]->close(ignored);
      workers_[i]->CloseIdleConnections();
    });
  }
  const auto deadline = Clock::now() + settings_.timeouts.drain;
  while (Clock::now() < deadline) {
    size_t open = 0;
    for (const auto& worker : workers_) open += worker->connections.load();
    if (open == 0) break;
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(kTuple);
  }
  size_t left = 0;
  for (const auto& worker : workers_) left += worker->connections.load();
  if (left > 0) spdlog::warn("drain timeout: closing {} connection(s) still open", left);
  spdlog::info("drained; exiting");
  StopAll();
}

void Server::StopAll() {
  for (auto& context : contexts_) context->stop();
  control_->stop();
}

int RunServer(std::shared_ptr<const RouterState> state, ConfigSource source) {
  Server server(std::move(state), std::move(source));
  return server.Run();
}

}  // namespace pdgate::router
