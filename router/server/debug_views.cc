#include "router/server/debug_views.h"

#include <chrono>

#include "base/strings.h"
#include "router/openai/json_text.h"

namespace pdgate::router {
namespace {

// A small writer for nested JSON: keys and values appended in order, commas handled.
class Json {
 public:
  Json& Open(char c) {
    Comma();
    out_.push_back(c);
    first_ = true;
    return *this;
  }
  Json& Close(char c) {
    out_.push_back(c);
    first_ = false;
    return *this;
  }
  Json& Key(std::string_view key) {
    Comma();
    AppendJsonString(out_, key);
    out_.push_back(':');
    first_ = true;  // the value that follows needs no comma
    return *this;
  }
  Json& String(std::string_view value) {
    Comma();
    AppendJsonString(out_, value);
    return *this;
  }
  Json& Raw(std::string_view value) {
    Comma();
    out_.append(value);
    return *this;
  }
  Json& Number(int64_t value) { return Raw(StrCat(value)); }
  Json& Bool(bool value) { return Raw(value ? "true" : "false"); }
  std::string Take() { return std::move(out_); }

 private:
  void Comma() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  std::string out_;
  bool first_ = true;
};

int64_t Ms(std::chrono::milliseconds d) { return d.count(); }

}  // namespace

std::string DebugConfigJson(const RouterState& state) {
  const config::RouterSettings& s = state.config->settings;
  Json j;
  j.Open('{');
  j.Key("source").String(s.source.empty() ? "defaults" : s.source);
  j.Key("listen").Open('{');
  j.Key("address").String(s.listen.address).Key("port").Number(s.listen.port);
  j.Key("adminAddress").String(s.listen.admin_address).Key("adminPort").Number(s.listen.admin_port);
  j.Key("debugEndpointsRemote").Bool(s.listen.debug_endpoints_remote);
  j.Close('}');
  j.Key("threads").Number(s.threads);
  j.Key("limits").Open('{');
  j.Key("maxRequestBodyBytes").Number(int64_t(s.limits.max_request_body_bytes));
  j.Key("maxRequestHeaderBytes").Number(int64_t(s.limits.max_request_header_bytes));
  j.Key("maxUpstreamHeaderBytes").Number(int64_t(s.limits.max_upstream_header_bytes));
  j.Key("maxPrefillResponseBytes").Number(int64_t(s.limits.max_prefill_response_bytes));
  j.Key("maxConnections").Number(int64_t(s.limits.max_connections));
  j.Key("upstreamPoolSize").Number(int64_t(s.limits.upstream_pool_size));
  j.Close('}');
  j.Key("timeoutsMs").Open('{');
  j.Key("requestHeader").Number(Ms(s.timeouts.request_header));
  j.Key("requestBody").Number(Ms(s.timeouts.request_body));
  j.Key("keepAliveIdle").Number(Ms(s.timeouts.keep_alive_idle));
  j.Key("upstreamConnect").Number(Ms(s.timeouts.upstream_connect));
  j.Key("upstreamDefault").Number(Ms(s.timeouts.upstream_default));
  j.Key("upstreamPoolIdle").Number(Ms(s.timeouts.upstream_pool_idle));
  j.Key("streamIdle").Number(Ms(s.timeouts.stream_idle));
  j.Key("drain").Number(Ms(s.timeouts.drain));
  j.Key("drainDelay").Number(Ms(s.timeouts.drain_delay));
  j.Close('}');
  j.Key("scheduler").Open('{');
  j.Key("filters").Open('[');
  for (const std::string& f : s.scheduler.filters) j.String(f);
  j.Close(']');
  j.Key("scores").Open('[');
  for (const auto& score : s.scheduler.scores) {
    j.Open('{').Key("name").String(score.name).Key("weight").Number(score.weight).Close('}');
  }
  j.Close(']');
  j.Close('}');
  j.Key("accessLog").Open('{');
  j.Key("enabled")
      .Bool(s.access_log.enabled)
      .Key("format")
      .String(s.access_log.json ? "json" : "text");
  j.Key("output").String(s.access_log.output);
  j.Close('}');
  j.Key("modelServers").Number(int64_t(state.config->model_servers.size()));
  j.Key("modelRoutes").Number(int64_t(state.config->model_routes.size()));
  j.Key("pods").Number(int64_t(state.config->pods.size()));
  j.Close('}');
  return j.Take();
}

std::string DebugRoutesJson(const RouterState& state) {
  Json j;
  j.Open('[');
  for (const config::ModelRoute& route : state.config->model_routes) {
    j.Open('{');
    j.Key("route").String(route.meta.Key()).Key("modelName").String(route.model_name);
    j.Key("loraAdapters").Open('[');
    for (const std::string& lora : route.lora_adapters) j.String(lora);
    j.Close(']');
    j.Key("rules").Open('[');
    for (const config::RouteRule& rule : route.rules) {
      j.Open('{').Key("name").String(rule.name).Key("matchesAll").Bool(!rule.match);
      j.Key("targets").Open('[');
      for (const config::TargetModel& target : rule.targets) {
        const bool exists = state.config->FindModelServer(route.meta.namespace_,
                                                          target.model_server_name) != nullptr;
        j.Open('{').Key("modelServer").String(target.model_server_name);
        j.Key("weight").Number(target.weight).Key("exists").Bool(exists).Close('}');
      }
      j.Close(']').Close('}');
    }
    j.Close(']').Close('}');
  }
  j.Close(']');
  return j.Take();
}

std::string DebugEndpointsJson(const RouterState& state) {
  Json j;
  j.Open('[');
  for (const discovery::ServerEndpoints& entry : state.endpoints->servers) {
    const config::ModelServer& server = *entry.server;
    j.Open('{');
    j.Key("server").String(server.meta.Key()).Key("engine").String(ToString(server.engine));
    j.Key("disaggregated").Bool(server.disaggregated());
    j.Key("kvConnector").String(ToString(server.kv_connector));
    j.Key("endpoints").Open('[');
    const auto now = std::chrono::steady_clock::now();
    // -1 means the engine has not said (yet): null.
    auto number = [&j](double value) -> Json& {
      return value < 0 ? j.Raw("null") : j.Raw(StrCat(value));
    };
    for (const discovery::Endpoint& e : entry.endpoints) {
      j.Open('{').Key("pod").String(e.pod).Key("address").String(e.HostPort());
      j.Key("role").String(ToString(e.role)).Key("group").String(e.group);
      const discovery::LiveEndpoint& live = *e.live;
      j.Key("inFlight").Open('{');
      j.Key("prefill").Number(live.prefill_in_flight.load(std::memory_order_relaxed));
      j.Key("decode").Number(live.decode_in_flight.load(std::memory_order_relaxed)).Close('}');
      // The other replicas' (sharedState; zeros without it).
      j.Key("remoteInFlight").Open('{');
      j.Key("prefill").Number(live.remote_prefill_in_flight.load(std::memory_order_relaxed));
      j.Key("decode")
          .Number(live.remote_decode_in_flight.load(std::memory_order_relaxed))
          .Close('}');
      const discovery::EngineLoad load = live.load();
      j.Key("load").Open('{').Key("scraped").Bool(live.scraped()).Key("stale").Bool(live.stale());
      j.Key("running");
      number(load.running).Key("waiting");
      number(load.waiting).Key("kvUsage");
      number(load.kv_usage).Key("ttftSeconds");
      number(load.ttft_s).Key("itlSeconds");
      number(load.itl_s).Key("prefixHitRatio");
      number(load.prefix_hit_ratio).Close('}');
      const discovery::HealthView health = live.Health(now);
      j.Key("health").Open('{').Key("available").Bool(live.Available(now));
      j.Key("ejected").Bool(health.ejected).Key("ejectedForSeconds");
      number(health.ejected_for_s).Key("consecutiveFailures").Number(health.consecutive_failures);
      j.Key("ejections").Number(health.ejections);
      j.Key("totalEjections").Number(int64_t(health.total_ejections));
      j.Key("probeHealthy").Bool(health.probe_healthy).Close('}').Close('}');
    }
    j.Close(']');
    j.Key("groups").Open('[');
    for (const discovery::PdGroup& group : entry.groups) {
      j.Open('{').Key("name").String(group.name).Key("canServe").Bool(group.CanServe());
      j.Key("prefill").Open('[');
      for (uint32_t i : group.prefill) j.String(entry.endpoints[i].pod);
      j.Close(']').Key("decode").Open('[');
      for (uint32_t i : group.decode) j.String(entry.endpoints[i].pod);
      j.Close(']').Close('}');
    }
    j.Close(']');
    j.Key("notServing").Open('[');
    for (const auto& [pod, reason] : entry.excluded) {
      j.Open('{').Key("pod").String(pod->meta.Key()).Key("reason").String(reason).Close('}');
    }
    j.Close(']').Close('}');
  }
  j.Close(']');
  return j.Take();
}

}  // namespace pdgate::router
