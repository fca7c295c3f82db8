#include "discovery/kube_source.h"

#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "base/strings.h"
#include "discovery/kube_client.h"
#include "discovery/kube_objects.h"
#include "discovery/kube_store.h"
#include "discovery/uncaught.h"
#include "discovery/watch_retry.h"

namespace pdgate::discovery {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kListTimeout = std::chrono::seconds(60);
// A watch's read timeout: the server ends it after timeoutSeconds; this much more and it is dead.
constexpr auto kWatchSlack = std::chrono::seconds(30);
constexpr size_t kListPageSize = 500;

std::string CollectionPath(KubeResource resource, const std::string& namespace_) {
  const std::string scope = namespace_.empty() ? "" : StrCat("/namespaces/", namespace_);
  if (resource == KubeResource::kPods) return StrCat("/api/v1", scope, "/pods");
  return StrCat("/apis/networking.serving.volcano.sh/v1alpha1", scope, "/", ResourceName(resource));
}

std::string UrlEncode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out.push_back(c);
    } else {
      constexpr char kHex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(kHex[(static_cast<unsigned char>(c) >> 4) & 0xf]);
      out.push_back(kHex[static_cast<unsigned char>(c) & 0xf]);
    }
  }
  return out;
}

// One list/watch loop: a resource in one namespace (or all).
struct Watch {
  Watch(KubeResource r, std::string ns, const KubeSourceOptions& options)
      : resource(r),
        namespace_(std::move(ns)),
        retry(options.backoff_initial, options.backoff_cap) {}

  std::string Describe() const {
    return namespace_.empty() ? std::string(ResourceName(resource))
                              : StrCat(ResourceName(resource), " in ", namespace_);
  }

  KubeResource resource;
  std::string namespace_;        // "" = all namespaces
  std::string resource_version;  // empty: list (again) before watching
  bool listed = false;           // the first list is in
  bool stopped = false;
  CancelSlot cancel;
  WatchRetry retry;
};

}  // namespace

struct KubernetesSource::Impl {
  Impl(KubeSourceOptions o, KubeSourceCallbacks c)
      : options(std::move(o)), callbacks(std::move(c)), rng(std::random_device{}()) {}

  void Start();
  void Stop();
  void Spawn(const std::shared_ptr<Watch>& watch);
  net::awaitable<void> RunWatch(std::shared_ptr<Watch> watch);
  net::awaitable<absl::Status> List(Watch& watch);
  net::awaitable<void> Pause(Watch& watch);
  net::awaitable<void> DebouncedBuild();
  void MarkDirty(std::string_view why);
  void Build();
  void UpdatePodWatches();
  bool AllListed() const;
  void CountError(std::string_view resource, std::string_view kind) {
    if (callbacks.on_error) callbacks.on_error(resource, kind);
  }

  KubeSourceOptions options;
  KubeSourceCallbacks callbacks;
  std::optional<net::io_context> context;
  std::unique_ptr<KubeClient> client;
  KubeObjectStore store;
  std::vector<std::shared_ptr<Watch>> watches;                // ModelServers, ModelRoutes
  std::map<std::string, std::shared_ptr<Watch>> pod_watches;  // by namespace
  std::set<std::string> config_namespaces;                    // of the last good Config
  std::mt19937_64 rng;
  bool build_pending = false;
  std::string pending_why;
  size_t pending_changes = 0;
  bool synced = false;
  bool stopping = false;
  std::thread thread;
};

void KubernetesSource::Impl::Start() {
  context.emplace(1);
  client = std::make_unique<KubeClient>(*context, options.endpoint);
  for (KubeResource resource : {KubeResource::kModelServers, KubeResource::kModelRoutes}) {
    watches.push_back(std::make_shared<Watch>(resource, options.namespace_, options));
    Spawn(watches.back());
  }
  UpdatePodWatches();
  thread = std::thread([this] {
    auto guard = net::make_work_guard(*context);
    context->run();
  });
}

void KubernetesSource::Impl::Stop() {
  if (!context) return;
  context->stop();
  if (thread.joinable()) thread.join();
  // Coroutine frames (with their sockets) go with the io_context, while the client and the
  // store they refer to still exist.
  context.reset();
}

void KubernetesSource::Impl::Spawn(const std::shared_ptr<Watch>& watch) {
  net::co_spawn(*context, RunWatch(watch), ReportUncaught{SpawnSite::kKubeWatch});
}

net::awaitable<void> KubernetesSource::Impl::Pause(Watch& watch) {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  net::steady_timer timer(*context);
  timer.expires_after(watch.retry.Next(uniform(rng)));
  co_await timer.async_wait(kKubeTuple);
}

net::awaitable<absl::Status> KubernetesSource::Impl::List(Watch& watch) {
  const std::string path = CollectionPath(watch.resource, watch.namespace_);
  const std::chrono::seconds timeout = kListTimeout;
  std::vector<KubeObject> items;
  std::string continue_token;
  std::string version;
  // Pages of one list share one snapshot (the continue token carries its resourceVersion).
  while (true) {
    std::string target = StrCat(path, "?limit=", kListPageSize);
    if (!continue_token.empty()) StrAppend(target, "&continue=", UrlEncode(continue_token));
    absl::StatusOr<KubeResponse> response = co_await client->Get(target, timeout, watch.cancel);
    if (!response.ok()) co_return response.status();
    if (response->status != 200) {
      co_return absl::UnavailableError(
          StrCat("HTTP ", response->status, ": ", response->body.substr(0, 300)));
    }
    absl::StatusOr<KubeList> list = ParseKubeList(watch.resource, response->body);
    if (!list.ok()) co_return list.status();
    for (KubeObject& item : list->items) items.push_back(std::move(item));
    version = std::move(list->resource_version);
    continue_token = std::move(list->continue_token);
    if (continue_token.empty()) break;
  }
  const size_t count = items.size();
  store.Replace(watch.resource, watch.namespace_, std::move(items));
  watch.resource_version = std::move(version);
  spdlog::info("kubernetes: listed {} ({} objects, resourceVersion {})", watch.Describe(), count,
               watch.resource_version);
  co_return absl::OkStatus();
}

net::awaitable<void> KubernetesSource::Impl::RunWatch(std::shared_ptr<Watch> watch) {
  const std::string_view resource = ResourceName(watch->resource);
  const std::string path = CollectionPath(watch->resource, watch->namespace_);
  std::string list_reason = "initial";
  Clock::time_point listed_at;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  while (!watch->stopped && !stopping) {
    if (watch->resource_version.empty()) {
      if (callbacks.on_list) callbacks.on_list(resource, list_reason);
      absl::Status listed = co_await List(*watch);
      if (watch->stopped) break;
      if (!listed.ok()) {
        spdlog::warn("kubernetes: list {}: {}", watch->Describe(), std::string(listed.message()));
        CountError(resource, "list");
        watch->retry.AfterListFailed();
        co_await Pause(*watch);
        continue;
      }
      watch->retry.AfterListed();
      watch->listed = true;
      listed_at = Clock::now();
      MarkDirty(StrCat(watch->Describe(), " listed"));
    }

    // client-go's choice: a random timeout in [t, 2t), so replicas do not all re-watch together.
    const auto timeout_seconds =
        int64_t(double(options.watch_timeout.count()) * (1.0 + uniform(rng)));
    const std::string target =
        StrCat(path, "?watch=true&allowWatchBookmarks=true&resourceVersion=",
               UrlEncode(watch->resource_version), "&timeoutSeconds=", timeout_seconds);
    const std::chrono::seconds idle = std::chrono::seconds(timeout_seconds) + kWatchSlack;
    bool relist = false;
    std::string failure;
    size_t events = 0;
    const std::function<bool(std::string_view)> on_line = [&](std::string_view line) {
      absl::StatusOr<WatchEvent> event = ParseWatchEvent(watch->resource, line);
      if (!event.ok()) {
        // An event we cannot read is an update we would lose: start over from a list.
        spdlog::warn("kubernetes: watch {}: {}; listing again", watch->Describe(),
                     std::string(event.status().message()));
        CountError(resource, "decode");
        relist = true;
        list_reason = "decode";
        return false;
      }
      if (event->type != WatchEventType::kError) ++events;  // progress: resets the backoff
      if (callbacks.on_event) callbacks.on_event(resource, WatchEventTypeName(event->type));
      switch (event->type) {
        case WatchEventType::kError:
          if (event->error_code == 410) {
            spdlog::info("kubernetes: watch {}: resourceVersion {} expired; listing again",
                         watch->Describe(), watch->resource_version);
            relist = true;
            list_reason = "expired";
          } else {
            failure = StrCat("error event ", event->error_code, ": ", event->error_message);
          }
          return false;
        case WatchEventType::kBookmark:
          watch->resource_version = std::move(event->object.resource_version);
          return true;
        case WatchEventType::kAdded:
        case WatchEventType::kModified:
        case WatchEventType::kDeleted: {
          if (!event->object.resource_version.empty()) {
            watch->resource_version = event->object.resource_version;
          }
          std::string why = StrCat(KindOf(watch->resource), " ", event->object.Key(), " ",
                                   WatchEventTypeName(event->type));
          if (event->type == WatchEventType::kDeleted) {
            store.Erase(watch->resource, event->object);
          } else {
            store.Upsert(watch->resource, std::move(event->object));
          }
          MarkDirty(why);
          return true;
        }
      }
      return true;
    };
    const auto started = Clock::now();
    absl::StatusOr<KubeResponse> response =
        co_await client->Stream(target, idle, on_line, watch->cancel);
    if (watch->stopped || stopping) break;
    WatchEnd end = WatchEnd::kServerClosed;
    if (relist) {
      end = list_reason == "decode" ? WatchEnd::kUnreadable : WatchEnd::kExpired;
    } else if (!response.ok()) {
      spdlog::info("kubernetes: watch {}: {}; watching again", watch->Describe(),
                   std::string(response.status().message()));
      CountError(resource, "transport");
      end = WatchEnd::kBroken;
    } else if (response->status == 410) {
      spdlog::info("kubernetes: watch {}: 410 Gone; listing again", watch->Describe());
      list_reason = "gone";
      end = WatchEnd::kExpired;
    } else if (response->status != 200) {
      spdlog::warn("kubernetes: watch {}: HTTP {}: {}", watch->Describe(), response->status,
                   response->body.substr(0, 300));
      CountError(resource, StrCat("http_", response->status));
      end = WatchEnd::kFailed;
    } else if (!failure.empty()) {
      spdlog::warn("kubernetes: watch {}: {}", watch->Describe(), failure);
      CountError(resource, "error_event");
      end = WatchEnd::kFailed;
    }
    const Clock::time_point now = Clock::now();
    const WatchNext next = watch->retry.AfterWatch(end, events, now - started, now - listed_at);
    if (next.relist) watch->resource_version.clear();
    if (next.pause) co_await Pause(*watch);
  }
}

void KubernetesSource::Impl::MarkDirty(std::string_view why) {
  if (pending_changes++ == 0) pending_why = std::string(why);
  if (build_pending) return;
  build_pending = true;
  net::co_spawn(*context, DebouncedBuild(), ReportUncaught{SpawnSite::kKubeBuild});
}

net::awaitable<void> KubernetesSource::Impl::DebouncedBuild() {
  // Coalesce a burst (a rollout, a relist) into one build; the first change waits `debounce`.
  net::steady_timer timer(*context);
  timer.expires_after(options.debounce);
  co_await timer.async_wait(kKubeTuple);
  build_pending = false;
  Build();
}

void KubernetesSource::Impl::Build() {
  std::string why = pending_changes <= 1
                        ? StrCat("kubernetes: ", pending_why)
                        : StrCat("kubernetes: ", pending_why, " and ", pending_changes - 1,
                                 " more change", pending_changes == 2 ? "" : "s");
  pending_changes = 0;
  config::LoadResult result = store.Build(options.files, options.overrides);
  if (result.config) {
    config_namespaces.clear();
    for (const config::ModelServer& server : result.config->model_servers) {
      config_namespaces.insert(server.meta.namespace_);
    }
  }
  if (callbacks.apply) callbacks.apply(std::move(result), std::move(why));
  UpdatePodWatches();
  if (!synced && AllListed()) {
    synced = true;
    spdlog::info("kubernetes: initial lists synced");
    if (callbacks.synced) callbacks.synced();
  }
}

// Pods are watched per namespace that has a ModelServer (from the API or a static file), as a
// ModelServer selects pods of its own namespace only; with --namespace, that one namespace.
void KubernetesSource::Impl::UpdatePodWatches() {
  std::set<std::string> wanted;
  if (!options.namespace_.empty()) {
    wanted.insert(options.namespace_);
  } else {
    wanted = store.ModelServerNamespaces();
    wanted.insert(config_namespaces.begin(), config_namespaces.end());
  }
  for (auto it = pod_watches.begin(); it != pod_watches.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    spdlog::info("kubernetes: no ModelServer in namespace {}: stop watching its pods", it->first);
    it->second->stopped = true;
    it->second->cancel.Cancel();
    store.EraseNamespace(KubeResource::kPods, it->first);
    MarkDirty(StrCat("pods of ", it->first, " dropped"));
    it = pod_watches.erase(it);
  }
  for (const std::string& namespace_ : wanted) {
    if (pod_watches.contains(namespace_)) continue;
    auto watch = std::make_shared<Watch>(KubeResource::kPods, namespace_, options);
    pod_watches.emplace(namespace_, watch);
    Spawn(watch);
  }
}

bool KubernetesSource::Impl::AllListed() const {
  for (const auto& watch : watches) {
    if (!watch->listed) return false;
  }
  for (const auto& [namespace_, watch] : pod_watches) {
    if (!watch->listed) return false;
  }
  return true;
}

KubernetesSource::KubernetesSource(KubeSourceOptions options, KubeSourceCallbacks callbacks)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(callbacks))) {}

KubernetesSource::~KubernetesSource() { Stop(); }

void KubernetesSource::Start() { impl_->Start(); }

void KubernetesSource::Refresh(std::string why) {
  if (!impl_->context) return;
  net::post(*impl_->context, [impl = impl_.get(), why = std::move(why)] { impl->MarkDirty(why); });
}

void KubernetesSource::Stop() { impl_->Stop(); }

}  // namespace pdgate::discovery
