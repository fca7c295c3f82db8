#include "router/server/jwks_refresher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/kubeconfig.h"
#include "base/strings.h"
#include "discovery/kube_client.h"
#include "router/auth/jwks.h"
#include "router/http/net.h"

namespace pdgate::router {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMaxJwksBytes = 1u << 20;
constexpr auto kFirstRetry = std::chrono::seconds(1);
constexpr auto kMaxRetry = std::chrono::seconds(30);

// "https://host:port/path?query" → the server part for the client, and the request target.
absl::Status SplitUri(const std::string& uri, config::KubeEndpoint& endpoint, std::string& target) {
  const size_t scheme_end = uri.find("://");
  const size_t path_start =
      scheme_end == std::string::npos ? std::string::npos : uri.find('/', scheme_end + 3);
  target = path_start == std::string::npos ? "/" : uri.substr(path_start);
  return config::ParseServerUrl(std::string_view(uri).substr(0, path_start), endpoint);
}

}  // namespace

struct JwksRefresher::Impl {
  JwksOptions options;
  JwksCallbacks callbacks;
  net::io_context context{1};
  std::thread thread;
  std::atomic<bool> poke_pending{false};
  Clock::time_point next_fetch = Clock::now();
  Clock::time_point last_fetch{};
  net::steady_timer timer{context};
  std::string last_document;  // the last published set's bytes: an unchanged set is not re-sent

  net::awaitable<void> Run() {
    config::KubeEndpoint endpoint;
    std::string target;
    if (absl::Status status = SplitUri(options.uri, endpoint, target); !status.ok()) {
      spdlog::error("auth: jwksUri {}: {}", options.uri, std::string(status.message()));
      callbacks.fetched(false, 0, std::string(status.message()));
      co_return;
    }
    if (!options.ca_file.empty()) {
      std::ifstream in(options.ca_file);
      std::stringstream pem;
      pem << in.rdbuf();
      endpoint.ca_pem = pem.str();
      if (!in || endpoint.ca_pem.empty()) {
        spdlog::error("auth: cannot read jwksCaFile {}", options.ca_file);
      }
    }
    discovery::KubeClient client(context, endpoint);
    auto retry = std::chrono::duration_cast<Clock::duration>(kFirstRetry);
    while (true) {
      timer.expires_at(next_fetch);
      co_await timer.async_wait(discovery::kKubeTuple);  // cancelled: a poke moved next_fetch
      if (context.stopped()) co_return;
      if (Clock::now() < next_fetch) continue;  // moved earlier or later by a poke: wait again
      last_fetch = Clock::now();
      const bool ok = co_await FetchOnce(client, target);
      if (ok) {
        retry = std::chrono::duration_cast<Clock::duration>(kFirstRetry);
        next_fetch = Clock::now() + options.interval;
      } else {
        next_fetch = Clock::now() + std::min<Clock::duration>(retry, options.interval);
        retry = std::min<Clock::duration>(retry * 2, kMaxRetry);
      }
    }
  }

  net::awaitable<bool> FetchOnce(discovery::KubeClient& client, const std::string& target) {
    discovery::CancelSlot cancel;
    absl::StatusOr<discovery::KubeResponse> response =
        co_await client.Get(target, options.timeout, cancel, kMaxJwksBytes);
    std::string error;
    if (!response.ok()) {
      error = std::string(response.status().message());
    } else if (response->status != 200) {
      error = StrCat("HTTP ", response->status);
    } else if (response->body == last_document) {
      callbacks.fetched(true, last_size, "");
      co_return true;
    } else {
      absl::StatusOr<auth::KeySet> keys = auth::ParseJwks(response->body);
      if (keys.ok()) {
        last_size = keys->size();
        last_document = std::move(response->body);
        spdlog::info("auth: JWKS from {}: {} key(s)", options.uri, last_size);
        callbacks.publish(std::make_shared<const auth::KeySet>(std::move(*keys)));
        callbacks.fetched(true, last_size, "");
        co_return true;
      }
      error = std::string(keys.status().message());
    }
    spdlog::warn("auth: JWKS fetch from {} failed: {}{}", options.uri, error,
                 last_document.empty() ? " (no key set yet: JWT requests are refused)"
                                       : " (the last good key set stays)");
    callbacks.fetched(false, last_size, error);
    co_return false;
  }

  void Poke() {
    poke_pending = false;
    const Clock::time_point earliest = last_fetch + options.min_interval;
    if (earliest < next_fetch) {
      next_fetch = std::max(earliest, Clock::now());
      timer.cancel();
    }
  }

  size_t last_size = 0;
};

JwksRefresher::JwksRefresher(JwksOptions options, JwksCallbacks callbacks)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->callbacks = std::move(callbacks);
}

JwksRefresher::~JwksRefresher() { Stop(); }

void JwksRefresher::Start() {
  net::co_spawn(impl_->context, impl_->Run(), [](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("auth: JWKS refresher stopped: {}", e.what());
    }
  });
  impl_->thread = std::thread([this] { impl_->context.run(); });
}

void JwksRefresher::RequestRefresh() {
  if (impl_->poke_pending.exchange(true)) return;  // one wake-up for a burst of unknown kids
  net::post(impl_->context, [impl = impl_.get()] { impl->Poke(); });
}

void JwksRefresher::Stop() {
  impl_->context.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace pdgate::router
