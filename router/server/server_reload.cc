// Server (server_process.h) on its control thread: hot reload (SIGHUP, a changed configuration
// or API keys file, Kubernetes objects), the JWT key sets and their refresher, and the periodic
// eviction of idle per-principal state. A refused configuration leaves the old one serving.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <ctime>

#include "router/auth/jwks.h"
#include "router/server/kubernetes_metrics.h"
#include "router/server/server_process.h"

namespace pdgate::router {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void Server::StartJwks(const config::AuthSettings& auth) {
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

void Server::StopJwks() {
  std::unique_ptr<JwksRefresher> stopping;
  {
    std::lock_guard lock(jwks_mutex_);
    stopping = std::move(jwks_);
  }
  stopping.reset();  // joins its thread, outside the lock
}

// The readiness gate of the first key set; on the control thread.
void Server::OpenJwksGate() {
  if (!jwks_gate_pending_) return;
  jwks_gate_pending_ = false;
  --lifecycle_.pending_gates;
}

// A reload that changes where keys come from starts a new refresher; one that turns JWT off
// drops the key set. On the control thread.
void Server::ApplyAuth(const config::AuthSettings& next, const config::AuthSettings& previous) {
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

void Server::WaitForHangup(net::signal_set& hangup) {
  hangup.async_wait([this, &hangup](const beast::error_code& error, int) {
    if (error) return;
    Reload("SIGHUP");
    WaitForHangup(hangup);
  });
}

// What identifies a file's content cheaply: modification time, size, inode (editors that
// write a new file and rename it change the inode; Kubernetes ConfigMap updates swap a symlink).
// The API keys file counts too: a Secret mounted as a volume is updated in place.
Server::FilesStamp Server::Stamp() const {
  FilesStamp stamp;
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

Task<void> Server::WatchFiles(FilesStamp last) {
  SteadyTimer timer(*control_);
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
void Server::EvictIdlePrincipals() {
  const int64_t now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
          .count();
  for (const limits::PrincipalLimit& limit : current_->principal_limits->all()) {
    limit.buckets->EvictIdle(now_us);
  }
  current_->fairness->EvictIdle(fairness::Clock::now());
}

void Server::StartKubernetes() {
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
void Server::Reload(std::string_view why) {
  if (kubernetes_) {
    kubernetes_->Refresh(std::string(why));
    return;
  }
  Apply(config::LoadConfigFiles(source_.files, source_.overrides), why);
}

// A valid configuration replaces the state on every io thread (requests in flight keep the
// state they pinned); an invalid one is refused and the old one serves on. On the control
// thread.
void Server::Apply(const config::LoadResult& result, std::string_view why) {
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
      next.listen.admin_port != settings_.listen.admin_port || next.threads != settings_.threads) {
    spdlog::warn("reload: listener and thread settings take effect at the next start");
  }
  std::shared_ptr<const RouterState> state = MakeRouterState(result.config, current_.get());
  ApplyAuth(next.auth, current_->config->settings.auth);
  {
    std::lock_guard lock(current_mutex_);
    current_ = state;
  }
  control_worker_->state = state;  // the admin listener's view
  // Counted once every io thread has the new state, so that a client seeing the count knows
  // that requests starting now use it.
  auto remaining = std::make_shared<std::atomic<unsigned>>(threads_);
  for (unsigned i = 0; i < threads_; ++i) {
    net::post(*contexts_[i], [worker = workers_[i].get(), state, remaining] {
      worker->state = ThreadLocalHandle(state);
      worker->token_cache.Clear();  // the issuer, audiences or claims may have changed
      if (--*remaining == 0) state->metrics_registry->CountReload(true);
    });
  }
  spdlog::info("configuration reloaded ({}): {} ModelServers, {} ModelRoutes, {} Pods", why,
               result.config->model_servers.size(), result.config->model_routes.size(),
               result.config->pods.size());
}

}  // namespace pdgate::router
