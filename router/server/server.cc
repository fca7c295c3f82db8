#include "router/server/server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <atomic>
#include <boost/asio/signal_set.hpp>
#include <mutex>
#include <thread>
#include <vector>

#include "discovery/uncaught.h"
#include "router/auth/jwks.h"
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
#include "router/server/kubernetes_metrics.h"
#include "router/server/shared_load_sync.h"

namespace pdgate::router {
namespace {

using Clock = std::chrono::steady_clock;

net::awaitable<void> AcceptLoop(Worker& worker, tcp::acceptor& acceptor, bool admin) {
  const size_t max_connections = worker.settings().limits.max_connections;
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) break;
      continue;  // e.g. EMFILE: keep serving the connections we have
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
net::awaitable<void> PrunePool(Worker& worker) {
  net::steady_timer timer(worker.ioc);
  const Clock::duration period = std::clamp<Clock::duration>(
      worker.pool.max_idle() / 4, std::chrono::milliseconds(10), std::chrono::seconds(1));
  while (true) {
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) break;
    worker.pool.Prune(Clock::now());
  }
}

std::unique_ptr<tcp::acceptor> Listen(net::io_context& context, const tcp::endpoint& endpoint,
                                      bool reuse_port, beast::error_code& ec) {
  auto acceptor = std::make_unique<tcp::acceptor>(context);
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

// The process: io threads serving clients alike, and one control thread for everything else —
// the admin listener, signals, configuration reloads, the drain sequence, readiness gates and the
// shared-load sync — so that no io thread spends its turns on them.
class Server {
 public:
  // `state` by value: only current_ and the workers keep it, so a reload can free it.
  Server(std::shared_ptr<const RouterState> state, ConfigSource source)
      : initial_config_(state->config),
        current_(state),
        source_(std::move(source)),
        settings_(state->config->settings),
        access_log_(settings_.access_log),
        threads_(settings_.threads > 0 ? unsigned(settings_.threads)
                                       : std::max(1u, std::thread::hardware_concurrency())) {
    std::random_device seed;
    control_worker_ = std::make_unique<Worker>(*control_, state, seed(), &lifecycle_);
    for (unsigned i = 0; i < threads_; ++i) {
      contexts_.push_back(std::make_unique<net::io_context>(1));
      workers_.push_back(std::make_unique<Worker>(*contexts_.back(), state, seed(), &lifecycle_));
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
  }

  int Run() {
    beast::error_code ec;
    const net::ip::address address = net::ip::make_address(settings_.listen.address, ec);
    const net::ip::address admin_address =
        net::ip::make_address(settings_.listen.admin_address, ec);
    if (ec) {
      spdlog::error("listen address: {}", ec.message());
      return 1;
    }
    for (unsigned i = 0; i < threads_; ++i) {
      auto acceptor =
          Listen(*contexts_[i], tcp::endpoint(address, settings_.listen.port), true, ec);
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
    admin_ =
        Listen(*control_, tcp::endpoint(admin_address, settings_.listen.admin_port), false, ec);
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
    net::co_spawn(*control_, WatchFiles(), ReportUncaught{SpawnSite::kFileWatch});
    scraper_.Start();
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
    control_->run();      // the control thread is the main thread
    kubernetes_.reset();  // its thread posts to control_: stopped before it goes
    StopJwks();           // likewise
    StopAll();
    for (std::thread& thread : pool) thread.join();
    scraper_.Stop();
    // Pooled sockets must go while their io_context still exists.
    for (auto& worker : workers_) worker->pool.Clear();
    for (auto& worker : workers_) worker->redis.clear();
    control_worker_->pool.Clear();
    shared_load_.reset();
    return exit_code_;
  }

 private:
  // --- JWT key sets: fetched on the refresher's thread, handed to every io thread. -------------
  void StartJwks(const config::AuthSettings& auth) {
    JwksOptions options{auth.jwks_uri, auth.jwks_ca_file, auth.jwks_refresh_interval,
                        auth.jwks_min_refresh_interval};
    JwksCallbacks callbacks;
    callbacks.publish = [this](std::shared_ptr<const auth::KeySet> keys) {
      for (unsigned i = 0; i < threads_; ++i) {
        net::post(*contexts_[i], [worker = workers_[i].get(), keys] {
          worker->jwks = keys;
          worker->token_cache.Clear();  // a key taken out of the set stops working at once
        });
      }
      net::post(*control_, [this] { OpenJwksGate(); });
    };
    callbacks.fetched = [this](bool ok, size_t keys, const std::string&) {
      auth_metrics_->CountFetch(ok, keys, double(std::time(nullptr)));
    };
    auto refresher = std::make_unique<JwksRefresher>(std::move(options), std::move(callbacks));
    refresher->Start();
    std::lock_guard lock(jwks_mutex_);
    jwks_ = std::move(refresher);
  }

  void StopJwks() {
    std::unique_ptr<JwksRefresher> stopping;
    {
      std::lock_guard lock(jwks_mutex_);
      stopping = std::move(jwks_);
    }
    stopping.reset();  // joins its thread, outside the lock
  }

  // The readiness gate of the first key set; on the control thread.
  void OpenJwksGate() {
    if (!jwks_gate_pending_) return;
    jwks_gate_pending_ = false;
    --lifecycle_.pending_gates;
  }

  // A reload that changes where keys come from starts a new refresher; one that turns JWT off
  // drops the key set. On the control thread.
  void ApplyAuth(const config::AuthSettings& next, const config::AuthSettings& previous) {
    const bool same_source = next.jwks_uri == previous.jwks_uri &&
                             next.jwks_ca_file == previous.jwks_ca_file &&
                             next.jwks_refresh_interval == previous.jwks_refresh_interval &&
                             next.jwks_min_refresh_interval == previous.jwks_min_refresh_interval;
    if (same_source) return;
    StopJwks();
    if (next.jwt_enabled()) {
      StartJwks(next);
      return;
    }
    OpenJwksGate();  // nothing to wait for any more
    for (unsigned i = 0; i < threads_; ++i) {
      net::post(*contexts_[i], [worker = workers_[i].get()] { worker->jwks = nullptr; });
    }
  }

  // --- Hot reload: SIGHUP, or a configuration file that changed (polled each second). ----------
  void WaitForHangup(net::signal_set& hangup) {
    hangup.async_wait([this, &hangup](const beast::error_code& error, int) {
      if (error) return;
      Reload("SIGHUP");
      WaitForHangup(hangup);
    });
  }

  // What identifies a file's content cheaply: modification time, size, inode (editors that
  // write a new file and rename it change the inode; Kubernetes ConfigMap updates swap a symlink).
  // The API keys file counts too: a Secret mounted as a volume is updated in place.
  std::vector<std::array<int64_t, 3>> Stamp() const {
    std::vector<std::array<int64_t, 3>> stamp;
    std::vector<std::string> files = source_.files;
    {
      std::lock_guard lock(current_mutex_);
      const std::string& keys = current_->config->settings.auth.api_keys_file;
      if (!keys.empty()) files.push_back(keys);
    }
    for (const std::string& file : files) {
      struct stat info {};
      if (::stat(file.c_str(), &info) != 0) {
        stamp.push_back({-1, -1, -1});
        continue;
      }
      stamp.push_back({int64_t(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec,
                       int64_t(info.st_size), int64_t(info.st_ino)});
    }
    return stamp;
  }

  net::awaitable<void> WatchFiles() {
    net::steady_timer timer(*control_);
    auto last = Stamp();
    for (uint64_t tick = 1; !lifecycle_.draining; ++tick) {
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(kTuple);
      if (tick % 10 == 0) EvictIdlePrincipals();
      auto now = Stamp();
      if (now == last) continue;
      last = std::move(now);
      Reload("file change");
    }
  }

  // Per-principal buckets that are full again, and fairness principals with no recent usage,
  // hold nothing worth keeping (bounded memory).
  void EvictIdlePrincipals() {
    const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                               Clock::now().time_since_epoch())
                               .count();
    for (const limits::PrincipalLimit& limit : current_->principal_limits->all()) {
      limit.buckets->EvictIdle(now_us);
    }
    current_->fairness->EvictIdle(fairness::Clock::now());
  }

  // --- Kubernetes: builds on its own thread; results are applied on the control thread. --------
  void StartKubernetes() {
    discovery::KubeSourceOptions options = *source_.kubernetes;
    options.files = source_.files;
    options.overrides = source_.overrides;
    discovery::KubeSourceCallbacks callbacks;
    callbacks.apply = [this](config::LoadResult result, std::string why) {
      net::post(*control_,
                [this, result = std::move(result), why = std::move(why)] { Apply(result, why); });
    };
    callbacks.synced = [this] { net::post(*control_, [this] { --lifecycle_.pending_gates; }); };
    AddKubernetesMetrics(callbacks, *current_->metrics_registry);
    kubernetes_ = std::make_unique<discovery::KubernetesSource>(std::move(options), callbacks);
    kubernetes_->Start();
  }

  // SIGHUP or a file change. With Kubernetes, the source combines the files with its objects.
  void Reload(std::string_view why) {
    if (kubernetes_) {
      kubernetes_->Refresh(std::string(why));
      return;
    }
    Apply(config::LoadConfigFiles(source_.files, source_.overrides), why);
  }

  // A valid configuration replaces the state on every io thread (requests in flight keep the
  // state they pinned); an invalid one is refused and the old one serves on. On the control
  // thread.
  void Apply(const config::LoadResult& result, std::string_view why) {
    for (const std::string& warning : result.warnings) spdlog::warn("reload: {}", warning);
    if (!result.errors.empty()) {
      for (const std::string& error : result.errors) spdlog::error("reload refused: {}", error);
      spdlog::error("configuration reload ({}) refused; the previous configuration keeps serving",
                    why);
      current_->metrics_registry->CountReload(false);
      return;
    }
    const config::RouterSettings& next = result.config->settings;
    if (next.listen.address != settings_.listen.address ||
        next.listen.port != settings_.listen.port ||
        next.listen.admin_port != settings_.listen.admin_port ||
        next.threads != settings_.threads) {
      spdlog::warn("reload: listener and thread settings take effect at the next start");
    }
    std::shared_ptr<const RouterState> state = MakeRouterState(result.config, current_.get());
    ApplyAuth(next.auth, current_->config->settings.auth);
    {
      std::lock_guard lock(current_mutex_);
      current_ = state;
    }
    control_worker_->state = state;  // the admin listener's view    // Counted once every io thread has the new state, so that a client seeing the count knows
    // that requests starting now use it.
    auto remaining = std::make_shared<std::atomic<unsigned>>(threads_);
    for (unsigned i = 0; i < threads_; ++i) {
      net::post(*contexts_[i], [worker = workers_[i].get(), state, remaining] {
        worker->state = state;
        worker->token_cache.Clear();  // the issuer, audiences or claims may have changed
        if (--*remaining == 0) state->metrics_registry->CountReload(true);
      });
    }
    spdlog::info("configuration reloaded ({}): {} ModelServers, {} ModelRoutes, {} Pods", why,
                 result.config->model_servers.size(), result.config->model_routes.size(),
                 result.config->pods.size());
  }

  void WaitForSignal(net::signal_set& signals) {
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

  net::awaitable<void> Drain() {
    net::steady_timer timer(*control_);
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

  void StopAll() {
    for (auto& context : contexts_) context->stop();
    control_->stop();
  }

  // Keeps settings_ alive. The configuration only, not the first state: a state holds its metric
  // series, which must go once no current state has their endpoints.
  const std::shared_ptr<const config::Config> initial_config_;
  std::shared_ptr<const RouterState> current_;  // the newest state; written on the control thread
  mutable std::mutex current_mutex_;  // current_ is read by the scraper's thread too
  ConfigSource source_;
  const config::RouterSettings& settings_;  // listeners, threads, drain: fixed until restart
  AccessLog access_log_;                    // outlives the io threads that submit to it
  std::unique_ptr<AuthMetrics> auth_metrics_ =
      RegisterAuthMetrics(current_->metrics_registry->registry());
  const unsigned threads_;
  Lifecycle lifecycle_;
  // Destroyed in reverse: listeners, then the contexts (with the coroutine frames they still hold,
  // which refer to workers), then the workers.
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Worker> control_worker_;  // serves the admin listener; no client traffic
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  std::unique_ptr<net::io_context> control_ = std::make_unique<net::io_context>(1);
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::unique_ptr<tcp::acceptor> admin_;
  std::unique_ptr<discovery::KubernetesSource> kubernetes_;  // stopped before contexts_ go
  std::mutex jwks_mutex_;  // jwks_ is replaced on the control thread, poked from every io thread
  std::unique_ptr<JwksRefresher> jwks_;  // stopped before contexts_ go
  bool jwks_gate_pending_ = false;        // control thread
  std::unique_ptr<SharedLoadSync> shared_load_;  // on the control thread; reset before it goes
  // Its own control thread; stopped before the workers go (it reads the states they share).
  EndpointScraper scraper_{[this] {
                             std::lock_guard lock(current_mutex_);
                             return current_;
                           },
                           [this] { lifecycle_.scraped = true; },
                           [this] { return lifecycle_.pending_gates.load() == 0; }};
  int exit_code_ = 0;
};

}  // namespace

int RunServer(std::shared_ptr<const RouterState> state, ConfigSource source) {
  Server server(std::move(state), std::move(source));
  return server.Run();
}

}  // namespace pdgate::router
