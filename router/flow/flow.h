#pragma once
// The state of one completion request while its legs run (Flow), why an attempt failed
// (AttemptError), and building a leg's request. Internal to router/: shared by the retry loop
// (completion_handler.cc), the legs (legs.cc) and the SGLang flow (sglang_flow.cc).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pd_scheduler/scheduler.h"
#include "router/observe/access_log.h"
#include "router/http/client_io.h"
#include "router/http/disconnect_watch.h"
#include "router/openai/leg_body.h"
#include "router/http/net.h"
#include "router/openai/openai_request.h"
#include "router/observe/router_metrics.h"
#include "router/upstream/upstream_leg.h"
#include "router/runtime/worker.h"

namespace pdgate::router {

using Clock = std::chrono::steady_clock;

// Why one try failed. Retryable failures move to the next pair; the others answer the client.
struct AttemptError {
  bool retryable = false;
  std::string_view leg;  // "prefill" or "decode"
  std::string endpoint;  // "ns/pod (host:port)"
  std::string detail;
  LegOutcomeLabel label = LegOutcomeLabel::kTransport;  // for pdgate_upstream_requests_total
  int status = 0;                                       // the engine's own answer, when it gave one
  std::string body;                                     // normalised error body to pass on
};

// Header lists are built outside coroutines: GCC 12 rejects initializer lists (arrays) held in
// a coroutine frame ("array used as initializer").
HeaderList IdHeader(const std::string& request_id);
HeaderList UnavailableHeaders(const std::string& request_id);

struct Flow {
  // `s`: the settings of the state the request pinned (worker.state may be replaced, and the
  // replacement freed by a second reload, while the request runs).
  Flow(Worker& w, const config::RouterSettings& s, beast::tcp_stream& c,
       const http::request<http::string_body>& r, std::string& b, bool& k, OpenAIRequest p)
      : worker(w), settings(s), client(c), request(r), body(b), keep_alive(k), parsed(std::move(p)) {}

  Worker& worker;
  const config::RouterSettings& settings;
  beast::tcp_stream& client;
  const http::request<http::string_body>& request;
  std::string& body;
  bool& keep_alive;
  OpenAIRequest parsed;
  const config::ModelServer* server = nullptr;
  const discovery::ServerEndpoints* endpoints = nullptr;
  const pd_scheduler::Scheduler* scheduler = nullptr;
  pd_scheduler::Decision decision;  // where the attempts go
  int64_t prefill_tokens = 0;       // the current attempt's prefill work estimate
  std::shared_ptr<DisconnectWatch> watch = std::make_shared<DisconnectWatch>();
  std::string request_id;
  LegContext leg;
  bool inject_usage = false;
  bool committed = false;  // response bytes reached the client: no retry from here on
  const MetricHandles* metrics = nullptr;
  const ModelMetrics* model_metrics = nullptr;
  Clock::time_point start = Clock::now();
  Clock::time_point last_write;  // for inter-token latency
  int status_sent = 0;           // what the client got, for pdgate_requests_total
  AccessRecord access;           // what the access log line says of the legs
  HeaderList limit_headers;      // x-ratelimit-* of a rate-limited route, on every answer

  void RecordLeg(const discovery::Endpoint& endpoint, LegOutcomeLabel label) const {
    if (const EndpointMetrics* e = metrics->Endpoint(&endpoint)) Increment(e->legs[size_t(label)]);
  }

  Clock::duration LegTimeout() const {
    if (server->timeout) return std::chrono::duration_cast<Clock::duration>(*server->timeout);
    return settings.timeouts.upstream_default;
  }
  HeaderList ResponseHeaders() const {
    HeaderList headers = IdHeader(request_id);
    headers.insert(headers.end(), limit_headers.begin(), limit_headers.end());
    return headers;
  }
};

// "ns/pod (host:port)", as messages name an endpoint.
std::string Describe(const discovery::Endpoint& endpoint);
// Where a leg connects; nullopt when the pod's address does not parse.
std::optional<LegTarget> TargetOf(const discovery::Endpoint& endpoint);
// A leg's request: the client's path, our headers, `body`.
LegRequest MakeLegRequest(const Flow& flow, const discovery::Endpoint& endpoint,
                          std::string body);
// A leg that failed in transport, or answered with a non-2xx status.
AttemptError FromOutcome(std::string_view leg, const discovery::Endpoint& endpoint,
                         const LegOutcome& outcome);
AttemptError FromStatus(std::string_view leg, const discovery::Endpoint& endpoint, int status,
                        std::string_view body);

}  // namespace pdgate::router
