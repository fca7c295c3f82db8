#include "router/server/endpoint_scraper.h"

#include <absl/container/flat_hash_map.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "base/strings.h"
#include "discovery/kube_client.h"
#include "discovery/uncaught.h"
#include "router/http/net.h"

namespace pdgate::router {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxMetricsBytes = 16u << 20;  // vLLM with many LoRA series: a few MiB at most

struct Target {
  std::shared_ptr<discovery::LiveEndpoint> live;
  std::string host;
  uint16_t port = 0;
  std::string name;  // ns/pod (host:port), for logs
};

// One GET with a deadline (discovery's control-plane client, one connection per scrape as an
// engine's metrics server expects); the status and body, or status 0 on any failure.
net::awaitable<std::pair<int, std::string>> Get(net::io_context& context, const Target& target,
                                                const std::string& path,
                                                std::chrono::milliseconds timeout) {
  // Pods have addresses: a name here would wait on DNS, which no deadline bounds.
  beast::error_code not_ip;
  net::ip::make_address(target.host, not_ip);
  if (not_ip) co_return std::pair(0, std::string());
  config::KubeEndpoint endpoint;
  endpoint.tls = false;
  endpoint.host = target.host;
  endpoint.port = target.port;
  discovery::KubeClient client(context, std::move(endpoint));
  discovery::CancelSlot cancel;
  absl::StatusOr<discovery::KubeResponse> response =
      co_await client.Get(path, timeout, cancel, kMaxMetricsBytes, "text/plain");
  if (!response.ok()) co_return std::pair(0, std::string());
  co_return std::pair(response->status, std::move(response->body));
}

// Model ids of an OpenAI /v1/models answer.
std::shared_ptr<const std::vector<std::string>> ParseModels(std::string& body) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(simdjson::padded_string_view(body, body.capacity())).get(doc)) return nullptr;
  simdjson::ondemand::array data;
  if (doc["data"].get_array().get(data)) return nullptr;
  auto models = std::make_shared<std::vector<std::string>>();
  for (auto entry : data) {
    std::string_view id;
    if (entry["id"].get_string().get(id)) return nullptr;
    models->emplace_back(id);
  }
  return models;
}

}  // namespace

struct EndpointScraper::Impl {
  std::function<std::shared_ptr<const RouterState>()> current;
  std::function<void()> on_first_pass;
  std::function<bool()> counts;
  net::io_context context{1};
  bool first_pass_done = false;
  // Control-thread state, by live identity.
  absl::flat_hash_map<const discovery::LiveEndpoint*, discovery::LoadTracker> trackers;
  Clock::time_point next_probe{};

  net::awaitable<void> Run() {
    net::steady_timer timer(context);
    while (!context.stopped()) {
      const Clock::time_point started = Clock::now();
      const bool counts_now = !first_pass_done && counts();
      std::chrono::milliseconds interval(1000);
      {
        // Not held across the wait: a state replaced meanwhile must be free to go.
        const std::shared_ptr<const RouterState> state = current();
        const config::RouterSettings& settings = state->config->settings;
        co_await Pass(*state);
        if (settings.scrape.enabled) interval = settings.scrape.interval;
      }
      if (counts_now) {
        first_pass_done = true;
        on_first_pass();
      }
      timer.expires_at(started + interval);
      co_await timer.async_wait(discovery::kKubeTuple);
    }
  }

  net::awaitable<void> Pass(const RouterState& state) {
    const config::RouterSettings& settings = state.config->settings;
    std::vector<Target> targets;
    absl::flat_hash_map<const discovery::LiveEndpoint*, bool> seen;
    for (const discovery::ServerEndpoints& server : state.endpoints->servers) {
      for (const discovery::Endpoint& endpoint : server.endpoints) {
        if (!seen.emplace(endpoint.live.get(), true).second) continue;
        targets.push_back({endpoint.live, endpoint.address, endpoint.port,
                           StrCat(endpoint.pod, " (", endpoint.HostPort(), ")")});
      }
    }
    // Trackers of endpoints gone from the snapshot go too.
    absl::erase_if(trackers, [&](const auto& entry) { return !seen.contains(entry.first); });
    const bool probe = settings.health_probe.enabled && Clock::now() >= next_probe;
    if (probe) next_probe = Clock::now() + settings.health_probe.interval;
    const bool models =
        std::find(settings.scheduler.filters.begin(), settings.scheduler.filters.end(),
                  "lora-affinity") != settings.scheduler.filters.end();
    auto work = [&](const Target& target) -> net::awaitable<void> {
      if (settings.scrape.enabled) co_await Scrape(target, settings, models);
      if (probe) co_await Probe(target, settings.health_probe);
    };
    if (settings.scrape.enabled || probe) {
      co_await ForEach(targets, size_t(settings.scrape.concurrency), work);
    }
    // The prefix index believes an endpoint holds no more than its engine's cache can.
    for (const Target& target : targets) {
      auto tracker = trackers.find(target.live.get());
      state.scheduler->SizeIndexFor(
          *target.live, tracker == trackers.end() ? discovery::EngineCache{} : tracker->second.cache());
    }
    // Endpoints no snapshot lists any more leave the prefix index.
    for (uint32_t slot : state.live->Prune()) state.scheduler->prefix_index()->RemoveEndpoint(slot);
  }

  // Runs `work` on every target, at most `limit` at once, and returns when all are done.
  template <typename Work>
  net::awaitable<void> ForEach(const std::vector<Target>& targets, size_t limit, Work& work) {
    size_t next = 0;
    size_t running = std::min(std::max<size_t>(limit, 1), targets.size());
    if (running == 0) co_return;
    net::steady_timer done(context, Clock::time_point::max());
    for (size_t w = running; w > 0; --w) {
      net::co_spawn(
          context,
          [&]() -> net::awaitable<void> {
            while (next < targets.size()) {
              const Target& target = targets[next++];
              co_await work(target);
            }
            if (--running == 0) done.cancel();
          },
          ReportUncaught{SpawnSite::kScraper});
    }
    co_await done.async_wait(discovery::kKubeTuple);
  }

  net::awaitable<void> Scrape(const Target& target, const config::RouterSettings& settings,
                              bool models) {
    const std::string metrics_path = "/metrics";
    auto [status, body] = co_await Get(context, target, metrics_path, settings.scrape.timeout);
    if (status != 200) {
      target.live->MarkStale();
      spdlog::debug("scrape of {} failed (status {})", target.name, status);
      co_return;
    }
    const discovery::EngineSample sample = discovery::ParseEngineMetrics(body);
    const double bytes_sent =
        double(target.live->prompt_bytes_sent.load(std::memory_order_relaxed));
    target.live->StoreLoad(trackers[target.live.get()].Update(sample, bytes_sent));
    if (!models) co_return;
    const std::string models_path = "/v1/models";
    auto [models_status, models_body] =
        co_await Get(context, target, models_path, settings.scrape.timeout);
    if (models_status == 200) {
      if (auto list = ParseModels(models_body)) target.live->StoreModels(std::move(list));
    }
  }

  net::awaitable<void> Probe(const Target& target, const config::HealthProbeSettings& probe) {
    auto [status, body] = co_await Get(context, target, probe.path, probe.timeout);
    const bool ok = status == 200;
    if (target.live->RecordProbe(ok, probe.healthy_threshold, probe.unhealthy_threshold)) {
      if (ok) {
        spdlog::info("{} passes health probes again", target.name);
      } else {
        spdlog::warn("{} fails health probes ({} times): no traffic until it passes", target.name,
                     probe.unhealthy_threshold);
      }
    }
  }
};

EndpointScraper::EndpointScraper(std::function<std::shared_ptr<const RouterState>()> current,
                                 std::function<void()> on_first_pass, std::function<bool()> counts)
    : impl_(std::make_unique<Impl>()) {
  impl_->current = std::move(current);
  impl_->on_first_pass = std::move(on_first_pass);
  impl_->counts = std::move(counts);
}

EndpointScraper::~EndpointScraper() { Stop(); }

void EndpointScraper::Start() {
  net::co_spawn(impl_->context, impl_->Run(), ReportUncaught{SpawnSite::kScraper});
  thread_ = std::thread([this] { impl_->context.run(); });
}

void EndpointScraper::Stop() {
  impl_->context.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace pdgate::router
