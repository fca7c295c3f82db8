#include "router/flow/completion_handler.h"

#include <optional>
#include <variant>
#include <vector>

#include "config/strings.h"
#include "discovery/uncaught.h"
#include "router/flow/fairness_gate.h"
#include "router/flow/flow.h"
#include "router/flow/legs.h"
#include "router/flow/rate_limiting.h"
#include "router/flow/retry_policy.h"
#include "router/flow/sglang_flow.h"
#include "router/limits/token_estimate.h"
#include "router/observe/auth_metrics.h"
#include "router/openai/json_text.h"
#include "router/openai/openai_error.h"
#include "router/openai/request_id.h"

namespace pdgate::router {
namespace {

net::awaitable<void> SendAttemptError(Flow& flow, const AttemptError& error, int attempts) {
  const HeaderList headers = flow.ResponseHeaders();
  if (error.status != 0 && !error.retryable) {
    // The engine's own answer (e.g. 400 prompt too long) with its status and message.
    std::string body = error.body;
    flow.status_sent = error.status;
    flow.access.error_origin = error.leg;
    co_await SendResponse(flow.client, http::status(error.status), "application/json", body,
                          flow.keep_alive, headers);
    co_return;
  }
  const ErrorInfo info{
      502,
      StrCat("The ", error.leg, " leg to ", error.endpoint, " failed: ", error.detail, " (",
             attempts, attempts == 1 ? " attempt)" : " attempts)"),
      "", "", "upstream_error"};
  flow.status_sent = info.status;
  flow.access.error_origin = error.leg;
  co_await SendError(flow.client, info, flow.keep_alive, headers);
}

// No endpoint or pair can serve: 503 with Retry-After.
net::awaitable<void> SendUnavailable(Flow& flow, std::string_view what) {
  const HeaderList headers = UnavailableHeaders(flow.request_id);
  const ErrorInfo info{503, StrCat("No ", what, " of ", flow.server->meta.Key(), " can serve now."),
                       "", "", "no_available_endpoint"};
  flow.status_sent = info.status;
  flow.access.error_origin = "router";
  co_await SendError(flow.client, info, flow.keep_alive, headers);
}

net::awaitable<void> Wait(Worker& worker, std::chrono::nanoseconds duration) {
  if (duration.count() <= 0) co_return;
  net::steady_timer timer(worker.ioc, duration);
  co_await timer.async_wait(kTuple);
}

// Where one attempt goes: a prefill/decode pair, or one endpoint (decode-only, aggregated).
struct Candidate {
  const discovery::Endpoint* prefill = nullptr;  // null: a single-leg attempt
  int64_t prefill_tokens = 0;                    // the scheduler's estimate of its work
  const discovery::Endpoint* decode = nullptr;
  std::string_view leg = "decode";  // the single leg's name: "decode", or "upstream" (aggregated)
};

// The attempts' targets, best first; attempt i takes candidates[TargetOf(i, size)].
std::vector<Candidate> PickCandidates(Flow& flow, size_t tries) {
  const Clock::time_point pick_start = Clock::now();
  // A conversation's key: the header SDKs and peers use, else the OpenAI `user` field.
  std::string_view session = flow.request["x-session-id"];
  if (session.empty()) session = flow.parsed.user;
  const pd_scheduler::RequestFacts facts{
      flow.parsed.model, flow.parsed.prompt_json, session,
      // An SGLang decode server in PD mode refuses requests without bootstrap fields.
      flow.server->kv_connector != config::KvConnector::kSglang};
  flow.decision = flow.scheduler->Pick(*flow.endpoints, facts, pick_start, flow.worker.rng, tries);
  Observe(flow.metrics->pick_duration,
          std::chrono::duration<double>(Clock::now() - pick_start).count());
  const pd_scheduler::Decision& decision = flow.decision;
  Increment(DecisionCounter(*flow.model_metrics, decision.mode, decision.reason));
  flow.access.decision = pd_scheduler::ToString(decision.mode);
  const auto& endpoints = flow.endpoints->endpoints;
  std::vector<Candidate> candidates;
  for (size_t k = 0; k < decision.pairs.size(); ++k) {
    const pd_scheduler::PdPair& pair = decision.pairs[k];
    candidates.push_back(
        {&endpoints[pair.prefill], decision.prefill_tokens[k], &endpoints[pair.decode]});
  }
  const std::string_view leg =
      decision.mode == pd_scheduler::DecisionMode::kAggregated ? "upstream" : "decode";
  for (uint32_t single : decision.singles) {
    candidates.push_back({nullptr, 0, &endpoints[single], leg});
  }
  return candidates;
}

// One attempt: the server's PD flow on a pair, or the single leg of an aggregated server.
// Returns an error only while nothing has reached the client.
net::awaitable<std::optional<AttemptError>> RunAttempt(Flow& flow, const Candidate& candidate) {
  if (candidate.prefill == nullptr) {
    std::string body = BuildDecodeBody(flow.leg, "", flow.inject_usage);
    co_return co_await RunDecode(flow, *candidate.decode, body, candidate.leg, flow.watch);
  }
  if (flow.server->kv_connector == config::KvConnector::kSglang) {
    co_return co_await RunSglangAttempt(flow, *candidate.prefill, *candidate.decode);
  }
  PrefillResult prefilled = co_await RunPrefill(flow, *candidate.prefill);
  if (auto* error = std::get_if<AttemptError>(&prefilled)) co_return std::move(*error);
  if (flow.watch->client_gone) co_return std::nullopt;
  std::string body = BuildDecodeBody(flow.leg, std::get<std::string>(prefilled), flow.inject_usage);
  std::optional<AttemptError> error =
      co_await RunDecode(flow, *candidate.decode, body, "decode", flow.watch);
  if (error && error->label == LegOutcomeLabel::kHttpError) {
    error->retryable =
        IsRetryable(LegFailure::kHttpStatus, error->status, /*prefill_accepted=*/true);
  }
  co_return error;
}

net::awaitable<void> RunAttempts(Flow& flow) {
  const config::ModelServer& server = *flow.server;
  const size_t tries = size_t(server.retry.attempts) + 1;
  const std::vector<Candidate> candidates = PickCandidates(flow, tries);
  if (candidates.empty()) {
    co_await SendUnavailable(flow, server.disaggregated() ? "prefill/decode pair" : "endpoint");
    co_return;
  }
  for (size_t i = 0; i < tries; ++i) {
    if (i > 0) {
      Increment(flow.model_metrics->retries);
      co_await Wait(flow.worker, server.retry.interval);
    }
    if (flow.watch->client_gone) co_return;
    flow.access.attempts = int(i + 1);
    const Candidate& candidate = candidates[TargetOf(i, candidates.size())];
    flow.prefill_tokens = candidate.prefill_tokens;
    // The engines will hold the prompt's prefix once this attempt runs. Recorded now, not when
    // the answer ends: a burst of requests sharing a new prefix follows the first one instead
    // of scattering over every prefill while the first still runs (SGLang's cache-aware router
    // also inserts at routing time). A failed attempt leaves an entry that costs one
    // less-than-ideal pick and ages out of the LRU.
    if (candidate.prefill != nullptr) {
      flow.scheduler->RecordServed(flow.decision, *candidate.prefill);
    }
    flow.scheduler->RecordServed(flow.decision, *candidate.decode);
    std::optional<AttemptError> error = co_await RunAttempt(flow, candidate);
    if (!error) co_return;
    const FailedAttempt failed{error->retryable, flow.committed, flow.watch->client_gone, i, tries};
    switch (Decide(failed)) {
      case AfterFailure::kStop:
        co_return;
      case AfterFailure::kAnswer:
        co_return co_await SendAttemptError(flow, *error, int(i + 1));
      case AfterFailure::kRetry:
        break;
    }
  }
}

// Who the request is for per-principal limits: the authenticated principal, else the
// configured header's value, else one shared "anonymous".
limits::Identity IdentityOf(const auth::Authentication& authentication,
                            const http::request<http::string_body>& request,
                            const config::RouterSettings& settings) {
  if (const auth::Principal* principal = authentication.principal.get()) {
    return {principal->user, principal->tenant, principal->key_id};
  }
  std::string_view user;
  if (!settings.rate_limit_user_header.empty()) user = request[settings.rate_limit_user_header];
  return {user.empty() ? std::string_view("anonymous") : user, "", ""};
}

// Whose recent usage orders the fairness queue.
std::string_view FairnessKey(const limits::Identity& who, config::LimitKey key) {
  if (key == config::LimitKey::kTenant && !who.tenant.empty()) return who.tenant;
  if (key == config::LimitKey::kApiKey && !who.api_key.empty()) return who.api_key;
  return who.user;
}

size_t ServingEndpoints(const discovery::ServerEndpoints* endpoints) {
  if (endpoints == nullptr) return 0;
  size_t n = 0;
  for (const discovery::Endpoint& endpoint : endpoints->endpoints) {
    n += endpoint.role != discovery::EndpointRole::kPrefill;
  }
  return n;
}

}  // namespace

// Counts a request when it ends, however it ends: status class, duration, active gauge.
struct RequestRecord {
  RequestRecord(const MetricHandles& handles, const ModelMetrics& model_metrics, ApiPath api_path,
                AccessLog* log)
      : metrics(handles), model(&model_metrics), path(api_path), access_log(log) {
    Add(metrics.active_requests, 1);
  }
  ~RequestRecord() {
    Add(metrics.active_requests, -1);
    if (access_log != nullptr && access_log->enabled()) {
      // 499: the client closed the connection before its answer (nginx's convention).
      access.status = status != 0 ? status : 499;
      if (status == 0) access.error_origin = "client";
      access.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      access_log->Submit(std::move(access));
    }
    if (status == 0) return;  // the client left before any answer
    const size_t status_class = status < 400 ? 0 : status < 500 ? 1 : 2;
    Increment(model->requests[size_t(path)][status_class]);
    Observe(model->duration, std::chrono::duration<double>(Clock::now() - start).count());
  }
  RequestRecord(const RequestRecord&) = delete;
  RequestRecord& operator=(const RequestRecord&) = delete;

  const MetricHandles& metrics;
  const ModelMetrics* model;
  ApiPath path;
  AccessLog* access_log;
  Clock::time_point start = Clock::now();
  int status = 0;
  AccessRecord access;
};

net::awaitable<void> HandleCompletion(Worker& worker, beast::tcp_stream& client,
                                      const http::request<http::string_body>& request,
                                      std::string& body, bool& keep_alive,
                                      const auth::Authentication& authentication) {
  const std::shared_ptr<const RouterState> state = worker.state;  // pinned for the request
  const std::string_view target = request.target();
  RequestRecord record(*state->metrics, state->metrics->other,
                       target.starts_with("/v1/chat/") ? ApiPath::kChat : ApiPath::kCompletions,
                       worker.access_log);
  std::string request_id(request["x-request-id"]);
  if (request_id.empty() || request_id.size() > 128) request_id = NewRequestId(worker.rng);
  record.access.request_id = request_id;
  record.access.method = "POST";
  record.access.path = std::string(target.substr(0, target.find('?')));
  const HeaderList id_header = IdHeader(request_id);
  if (authentication.method != auth::AuthMethod::kNone) {
    RecordAuthentication(authentication, record.access);
  }

  absl::StatusOr<OpenAIRequest> parsed = ParseOpenAIRequest(body, body.capacity());
  ErrorInfo error;  // a named local: see client_io.h on GCC 12 and co_await temporaries
  if (!parsed.ok()) {
    error = {400, std::string(parsed.status().message()), "", "", ""};
    record.status = error.status;
    record.access.error_origin = "client";
    co_await SendError(client, error, keep_alive, id_header);
    co_return;
  }
  record.model = &state->metrics->Model(parsed->model);
  record.access.model = parsed->model;
  if (authentication.principal && !auth::Allows(*authentication.principal, parsed->model)) {
    error = {403, StrCat("You are not allowed to use the model '", parsed->model, "'."),
             "invalid_request_error", "model", "permission_denied"};
    record.status = error.status;
    record.access.error_origin = "auth";
    record.access.auth_error = "model_not_allowed";
    if (worker.auth_metrics != nullptr) Increment(worker.auth_metrics->forbidden);
    co_await SendError(client, error, keep_alive, id_header);
    co_return;
  }
  auto header = [&](std::string_view name) -> std::string_view { return request[name]; };
  absl::StatusOr<config::RouteDecision> decision = state->routes->Resolve(
      {parsed->model,
       std::string_view(request.target()).substr(0, std::string_view(request.target()).find('?')),
       header, worker.rng()});
  if (!decision.ok()) {
    error = {404, std::string(decision.status().message()), "", "model", "model_not_found"};
    record.status = error.status;
    record.access.error_origin = "client";
    co_await SendError(client, error, keep_alive, id_header);
    co_return;
  }
  // Rate limits: the route's (Kthena's rateLimit) and the principal's (spec.rateLimits).
  const limits::Identity who = IdentityOf(authentication, request, state->config->settings);
  RequestLimits limits(worker, *state, decision->route, parsed->model, who);
  if (!limits.empty()) {
    std::optional<LimitRefusal> refusal = co_await limits.Admit(parsed->prompt_json, parsed->model);
    if (refusal) {
      HeaderList headers = id_header;
      headers.insert(headers.end(), refusal->headers.begin(), refusal->headers.end());
      record.status = refusal->error.status;
      record.access.error_origin = "rate_limit";
      co_await SendError(client, refusal->error, keep_alive, headers);
      co_return;
    }
  }
  // Watches for the client leaving, from the fairness queue on (the flow's engines are told);
  // cancelled when the request is done.
  auto watch = std::make_shared<DisconnectWatch>();
  net::co_spawn(worker.ioc, WatchClient(client.socket(), watch),
                ReportUncaught{SpawnSite::kDisconnectWatch});
  const discovery::ServerEndpoints* endpoints = state->endpoints->Find(decision->server);
  FairnessSlot fairness_slot;
  if (state->config->settings.fairness.enabled) {
    const auth::Principal* principal = authentication.principal.get();
    const FairnessTurn turn{
        parsed->model, FairnessKey(who, state->config->settings.fairness.key),
        principal != nullptr ? std::string_view(principal->priority_class) : std::string_view(),
        // Admit() estimated the prompt already when a limit applies: not twice.
        limits.empty() ? limits::EstimateInputTokens(parsed->prompt_json) : limits.input_estimate(),
        ServingEndpoints(endpoints)};
    FairnessVerdict verdict =
        co_await AwaitFairnessTurn(worker, *state, turn, watch, fairness_slot);
    record.access.queue_ms = std::chrono::duration<double, std::milli>(verdict.waited).count();
    CountFairness(*record.model, verdict);
    if (verdict.client_gone || verdict.refusal) {
      beast::error_code ignored;
      client.socket().cancel(ignored);  // the watch
      if (verdict.client_gone) {
        keep_alive = false;
        record.access.error_origin = "client";
        if (!limits.empty()) limits.Settle(-1, -1, /*served=*/false);
        co_return;
      }
      error = std::move(*verdict.refusal);
      HeaderList headers = UnavailableHeaders(request_id);  // x-request-id, retry-after
      headers.insert(headers.end(), limits.headers().begin(), limits.headers().end());
      record.status = error.status;
      record.access.error_origin = "fairness";
      if (!limits.empty()) limits.Settle(-1, -1, /*served=*/false);
      co_await SendError(client, error, keep_alive, headers);
      co_return;
    }
  }
  // upstream_model may view parsed->model: read it before `parsed` moves into the flow.
  std::string model_json;
  if (decision->upstream_model != parsed->model) model_json = JsonString(decision->upstream_model);
  Flow flow(worker, state->config->settings, client, request, body, keep_alive, std::move(*parsed));
  flow.server = decision->server;
  flow.endpoints = endpoints;
  flow.watch = std::move(watch);
  flow.scheduler = state->scheduler.get();
  flow.request_id = std::move(request_id);
  flow.inject_usage = flow.parsed.stream && !flow.parsed.include_usage;
  flow.leg.body = body;
  flow.leg.request = &flow.parsed;
  flow.leg.model_json = std::move(model_json);
  flow.metrics = state->metrics.get();
  flow.model_metrics = record.model;
  flow.start = record.start;
  flow.limit_headers = limits.headers();
  co_await RunAttempts(flow);
  record.status = flow.status_sent;
  if (!limits.empty()) {
    // Served: an engine answered 2xx (whole, or a stream cut off midway). The reservations of a
    // request no engine served (no endpoint, failed legs, an engine's 4xx) are given back.
    const bool served = flow.status_sent / 100 == 2 || flow.access.output_tokens >= 0;
    limits.Settle(flow.access.input_tokens, flow.access.output_tokens, served);
  }
  fairness_slot.set_output_tokens(flow.access.output_tokens);
  fairness_slot.Release();
  flow.access.request_id = std::move(record.access.request_id);
  flow.access.auth = std::move(record.access.auth);
  flow.access.user = std::move(record.access.user);
  flow.access.tenant = std::move(record.access.tenant);
  flow.access.method = std::move(record.access.method);
  flow.access.path = std::move(record.access.path);
  flow.access.model = std::move(record.access.model);
  flow.access.queue_ms = record.access.queue_ms;
  flow.access.route = decision->route->meta.Key();
  flow.access.server = decision->server->meta.Key();
  if (flow.watch->client_gone && flow.status_sent == 0) flow.access.error_origin = "client";
  record.access = std::move(flow.access);
  beast::error_code ignored;
  client.socket().cancel(ignored);
  if (flow.watch->client_gone) keep_alive = false;
}

}  // namespace pdgate::router
