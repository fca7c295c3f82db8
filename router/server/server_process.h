#pragma once
// Server, the process behind RunServer (server.h). Internal to router/server/: its methods are
// split between server.cc (listeners, io threads, signals, drain) and server_reload.cc (hot
// reload and the file watch, JWT key sets, Kubernetes).
#include <array>
#include <boost/asio/signal_set.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/kv_event_subscriber.h"
#include "router/http/net.h"
#include "router/observe/access_log.h"
#include "router/observe/auth_metrics.h"
#include "router/runtime/lifecycle.h"
#include "router/runtime/worker.h"
#include "router/server/endpoint_scraper.h"
#include "router/server/jwks_refresher.h"
#include "router/server/server.h"
#include "router/server/shared_load_sync.h"

namespace pdgate::router {

// The process: io threads serving clients alike, and one control thread for everything else —
// the admin listener, signals, configuration reloads, the drain sequence, readiness gates and the
// shared-load sync — so that no io thread spends its turns on them.
class Server {
 public:
  // `state` by value: only current_ and the workers keep it, so a reload can free it.
  Server(std::shared_ptr<const RouterState> state, ConfigSource source);
  int Run();

 private:
  // --- server.cc: signals and the drain sequence. ----------------------------------------------
  void WaitForSignal(net::signal_set& signals);
  Task<void> Drain();
  void StopAll();

  // --- server_reload.cc. ------------------------------------------------------------------------
  // JWT key sets: fetched on the refresher's thread, handed to every io thread.
  void StartJwks(const config::AuthSettings& auth);
  void StopJwks();
  void OpenJwksGate();
  void ApplyAuth(const config::AuthSettings& next, const config::AuthSettings& previous);
  // Hot reload: SIGHUP, or a configuration file that changed (polled each second).
  void WaitForHangup(net::signal_set& hangup);
  using FilesStamp = std::vector<std::array<int64_t, 3>>;
  FilesStamp Stamp() const;
  Task<void> WatchFiles(FilesStamp last);
  void EvictIdlePrincipals();
  // Kubernetes: builds on its own thread; results are applied on the control thread.
  void StartKubernetes();
  void Reload(std::string_view why);
  void Apply(const config::LoadResult& result, std::string_view why);

  // Keeps settings_ alive. The configuration only, not the first state: a state holds its metric
  // series, which must go once no current state has their endpoints.
  const std::shared_ptr<const config::Config> initial_config_;
  std::shared_ptr<const RouterState> current_;  // the newest state; written on the control thread
  mutable std::mutex current_mutex_;            // current_ is read by the scraper's thread too
  ConfigSource source_;
  const config::RouterSettings& settings_;  // listeners, threads, drain: fixed until restart
  AccessLog access_log_;                    // outlives the io threads that submit to it
  std::unique_ptr<AuthMetrics> auth_metrics_ = RegisterAuthMetrics(*current_->metrics_registry);
  const unsigned threads_;
  Lifecycle lifecycle_;
  // Destroyed in reverse: listeners, then the contexts (with the coroutine frames they still hold,
  // which refer to workers), then the workers.
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Worker> control_worker_;  // serves the admin listener; no client traffic
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  std::unique_ptr<net::io_context> control_ = std::make_unique<net::io_context>(1);
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::unique_ptr<Acceptor> admin_;
  std::unique_ptr<discovery::KubernetesSource> kubernetes_;  // stopped before contexts_ go
  std::mutex jwks_mutex_;  // jwks_ is replaced on the control thread, poked from every io thread
  std::unique_ptr<JwksRefresher> jwks_;          // stopped before contexts_ go
  bool jwks_gate_pending_ = false;               // control thread
  std::unique_ptr<SharedLoadSync> shared_load_;  // on the control thread; reset before it goes
  // Its own control thread; stopped before the workers go (it reads the states they share).
  EndpointScraper scraper_{[this] {
                             std::lock_guard lock(current_mutex_);
                             return current_;
                           },
                           [this] { lifecycle_.scraped = true; },
                           [this] { return lifecycle_.pending_gates.load() == 0; }};
  // kvcache-aware: follows the engines' KV-event publishers on a thread of its own; idle while
  // the plugin is off (the state has no KV index then).
  discovery::KvEventSubscriber kv_events_{[this] {
    std::lock_guard lock(current_mutex_);
    return discovery::KvEventTargets{current_->endpoints, current_->scheduler->kv_index()};
  }};
  int exit_code_ = 0;
};

}  // namespace pdgate::router
