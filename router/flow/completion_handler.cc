#include "router/flow/completion_handler.h"

#include <absl/container/inlined_vector.h>

#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "base/strings.h"
#include "router/flow/downstream_writer.h"
#include "router/flow/fairness_gate.h"
#include "router/flow/legs.h"
#include "router/flow/prompt_tokens.h"
#include "router/flow/rate_limiting.h"
#include "router/flow/request_context.h"
#include "router/flow/request_observer.h"
#include "router/flow/retry_policy.h"
#include "router/flow/sglang_flow.h"
#include "router/limits/token_estimate.h"
#include "router/observe/auth_metrics.h"
#include "router/openai/json_text.h"
#include "router/openai/openai_error.h"
#include "router/openai/request_id.h"

namespace pdgate::router {
namespace {

Task<void> SendAttemptError(RequestContext& context, const AttemptError& error, int attempts) {
  if (error.status != 0 && !error.retryable) {
    // The engine's own answer (e.g. 400 prompt too long) with its status and message.
    std::string body = error.body;
    co_await context.writer.SendEngineAnswer(error.status, body, error.leg);
    co_return;
  }
  if (error.local) {
    // pdgate's own limit (file descriptors, memory), not the engine's: a 503 to retry later.
    const ErrorInfo info{
        503,
        StrCat("pdgate cannot open a connection to ", error.endpoint, " now: ", error.detail, "."),
        "", "", "router_overloaded"};
    co_await context.writer.SendError(info, "router", /*retry_after=*/true);
    co_return;
  }
  const ErrorInfo info{
      502,
      StrCat("The ", error.leg, " leg to ", error.endpoint, " failed: ", error.detail, " (",
             attempts, attempts == 1 ? " attempt)" : " attempts)"),
      "", "", "upstream_error"};
  co_await context.writer.SendError(info, error.leg);
}

// No endpoint or pair can serve: 503 with Retry-After.
Task<void> SendUnavailable(RequestContext& context, std::string_view what) {
  const ErrorInfo info{503,
                       StrCat("No ", what, " of ", context.server.meta.Key(), " can serve now."),
                       "", "", "no_available_endpoint"};
  co_await context.writer.SendError(info, "router", /*retry_after=*/true);
}

Task<void> Wait(Worker& worker, std::chrono::nanoseconds duration) {
  if (duration.count() <= 0) co_return;
  SteadyTimer timer(worker.ioc, duration);
  co_await timer.async_wait(kTuple);
}

// Where one attempt goes: a prefill/decode pair, or one endpoint (decode-only, aggregated).
struct Candidate {
  const discovery::Endpoint* prefill = nullptr;  // null: a single-leg attempt
  int64_t prefill_tokens = 0;                    // the scheduler's estimate of its work
  const discovery::Endpoint* decode = nullptr;
  std::string_view leg = "decode";  // the single leg's name: "decode", or "upstream" (aggregated)
};

// The attempts' targets, best first; attempt i takes candidates[TargetOf(i, size)]. Inline:
// one pair or endpoint per retry, rarely more than four.
using Candidates = absl::InlinedVector<Candidate, 4>;
Candidates PickCandidates(RequestContext& context, const pd_scheduler::Scheduler& scheduler,
                          size_t tries, const PromptIds& prompt_ids,
                          pd_scheduler::Decision& decision) {
  const Clock::time_point pick_start = Clock::now();
  // A conversation's key: the header SDKs and peers use, else the OpenAI `user` field.
  std::string_view session = context.request["x-session-id"];
  if (session.empty()) session = context.leg.request->user;
  const pd_scheduler::RequestFacts facts{
      context.leg.request->model, context.leg.request->prompt_json, session,
      // An SGLang decode server in PD mode refuses requests without bootstrap fields.
      context.server.kv_connector != config::KvConnector::kSglang,
      prompt_ids.ids != nullptr ? std::span<const uint32_t>(*prompt_ids.ids)
                                : std::span<const uint32_t>(),
      context.lora_adapter, context.worker.kv_reader, prompt_ids.whole};
  decision = scheduler.Pick(context.endpoints, facts, pick_start, context.worker.rng, tries);
  context.observer.Picked(Clock::now() - pick_start, decision);
  const auto& endpoints = context.endpoints.endpoints;
  Candidates candidates;
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

// One attempt of the server's PD flow on a pair (RunAttempts runs a single leg itself: a
// coroutine frame less). Returns an error only while nothing has reached the client.
Task<std::optional<AttemptError>> RunPairAttempt(RequestContext& context,
                                                 const Candidate& candidate) {
  if (context.server.kv_connector == config::KvConnector::kSglang) {
    co_return co_await RunSglangAttempt(context, *candidate.prefill, *candidate.decode,
                                        candidate.prefill_tokens);
  }
  PrefillResult prefilled =
      co_await RunPrefill(context, *candidate.prefill, candidate.prefill_tokens);
  if (auto* error = std::get_if<AttemptError>(&prefilled)) co_return std::move(*error);
  if (context.watch->client_gone) co_return std::nullopt;
  std::optional<std::string> body =
      DecodeBodyUnlessClients(context.leg, std::get<std::string>(prefilled), context.inject_usage);
  std::optional<AttemptError> error =
      co_await RunDecode(context, *candidate.decode, body, "decode", context.watch);
  if (error && error->label == LegOutcomeLabel::kHttpError) {
    error->retryable =
        IsRetryable(LegFailure::kHttpStatus, error->status, /*prefill_accepted=*/true);
  }
  co_return error;
}

Task<void> RunAttempts(RequestContext& context, const pd_scheduler::Scheduler& scheduler) {
  const config::ModelServer& server = context.server;
  const size_t tries = size_t(server.retry.attempts) + 1;
  pd_scheduler::Decision decision;
  PromptIds prompt_ids;
  if (scheduler.wants_prompt_tokens()) {
    const bool chat = std::string_view(context.request.target()).starts_with("/v1/chat/");
    prompt_ids = co_await PromptTokens(context, chat);
    if (context.watch->client_gone) co_return;
  }
  const Candidates candidates = PickCandidates(context, scheduler, tries, prompt_ids, decision);
  if (candidates.empty()) {
    co_await SendUnavailable(context, server.disaggregated() ? "prefill/decode pair" : "endpoint");
    co_return;
  }
  for (size_t i = 0; i < tries; ++i) {
    if (i > 0) co_await Wait(context.worker, server.retry.interval);
    if (context.watch->client_gone) co_return;
    context.observer.Retrying(int(i + 1));
    const Candidate& candidate = candidates[TargetOf(i, candidates.size())];
    // The engines will hold the prompt's prefix once this attempt runs. Recorded now, not when
    // the answer ends: a burst of requests sharing a new prefix follows the first one instead
    // of scattering over every prefill while the first still runs (SGLang's cache-aware router
    // also inserts at routing time). A failed attempt leaves an entry that costs one
    // less-than-ideal pick and ages out of the LRU.
    if (candidate.prefill != nullptr) scheduler.RecordServed(decision, *candidate.prefill);
    scheduler.RecordServed(decision, *candidate.decode);
    std::optional<AttemptError> error;
    if (candidate.prefill == nullptr) {  // decode-only, or an aggregated server's one leg
      std::optional<std::string> body =
          DecodeBodyUnlessClients(context.leg, "", context.inject_usage);
      error = co_await RunDecode(context, *candidate.decode, body, candidate.leg, context.watch);
    } else {
      error = co_await RunPairAttempt(context, candidate);
    }
    if (!error) co_return;
    const FailedAttempt failed{error->retryable, context.writer.committed(),
                               context.watch->client_gone, i, tries};
    switch (Decide(failed)) {
      case AfterFailure::kStop:
        co_return;
      case AfterFailure::kAnswer:
        co_return co_await SendAttemptError(context, *error, int(i + 1));
      case AfterFailure::kRetry:
        break;
    }
  }
}

// Who the request is for per-principal limits: the authenticated principal, else the
// configured header's value, else one shared "anonymous".
limits::Identity IdentityOf(const auth::Authentication& authentication,
                            const ClientRequest& request, const config::RouterSettings& settings) {
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

size_t ServingEndpoints(const discovery::ServerEndpoints& endpoints) {
  size_t n = 0;
  for (const discovery::Endpoint& endpoint : endpoints.endpoints) {
    n += endpoint.role != discovery::EndpointRole::kPrefill;
  }
  return n;
}

}  // namespace

Task<void> HandleCompletion(Worker& worker, Stream& client, const ClientRequest& request,
                            std::string& body, bool& keep_alive,
                            const auth::Authentication& authentication) {
  const std::shared_ptr<const RouterState> state = worker.state;  // pinned for the request
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  RequestObserver observer(*state->metrics,
                           target.starts_with("/v1/chat/") ? ApiPath::kChat : ApiPath::kCompletions,
                           worker.access_log);
  std::string request_id(request["x-request-id"]);
  if (request_id.empty() || request_id.size() > 128) request_id = NewRequestId(worker.rng);
  AccessRecord& access = observer.access();
  access.request_id = request_id;
  access.method = "POST";
  access.path.assign(path);
  if (authentication.method != auth::AuthMethod::kNone) {
    RecordAuthentication(authentication, access);
  }
  DownstreamWriter writer(client, keep_alive, observer, std::move(request_id));

  absl::StatusOr<OpenAIRequest> parsed = ParseOpenAIRequest(body, body.capacity());
  ErrorInfo error;  // a named local: see client_io.h on GCC 12 and co_await temporaries
  if (!parsed.ok()) {
    error = {400, std::string(parsed.status().message()), "", "", ""};
    co_await writer.SendError(error, "client");
    co_return;
  }
  observer.SetModel(parsed->model);
  if (authentication.principal && !auth::Allows(*authentication.principal, parsed->model)) {
    error = {403, StrCat("You are not allowed to use the model '", parsed->model, "'."),
             "invalid_request_error", "model", "permission_denied"};
    access.auth_error = "model_not_allowed";
    if (worker.auth_metrics != nullptr) Increment(worker.auth_metrics->forbidden);
    co_await writer.SendError(error, "auth");
    co_return;
  }
  auto header = [&](std::string_view name) -> std::string_view { return request[name]; };
  absl::StatusOr<config::RouteDecision> decision =
      state->routes->Resolve({parsed->model, path, header, worker.rng()});
  if (!decision.ok()) {
    error = {404, std::string(decision.status().message()), "", "model", "model_not_found"};
    co_await writer.SendError(error, "client");
    co_return;
  }
  access.route = {decision->route->meta.namespace_, decision->route->meta.name};
  access.server = {decision->server->meta.namespace_, decision->server->meta.name};
  // Rate limits: the route's (Kthena's rateLimit) and the principal's (spec.rateLimits).
  const limits::Identity who = IdentityOf(authentication, request, state->config->settings);
  RequestLimits limits(worker, *state, decision->route, parsed->model, who);
  if (!limits.empty()) {
    std::optional<LimitRefusal> refusal = co_await limits.Admit(parsed->prompt_json, parsed->model);
    if (refusal) {
      co_await writer.SendError(refusal->error, "rate_limit", false, refusal->headers);
      co_return;
    }
    writer.AddHeaders(limits.headers());  // x-ratelimit-* on every answer from here on
  }
  // Watches for the client leaving, from the fairness queue on (the flow's engines are told),
  // once the request has run for Worker::kWatchDelay; stopped when the request is done.
  auto watch = std::make_shared<DisconnectWatch>();
  worker.watches.Add(client.socket(), watch);
  writer.Watching(watch.get());
  // However this coroutine ends, the watch is stopped before the session may close the socket.
  const struct StopAtEnd {
    DownstreamWriter& writer;
    ~StopAtEnd() { writer.StopWatching(); }
  } stop_at_end{writer};
  static const discovery::ServerEndpoints kNoEndpoints;
  const discovery::ServerEndpoints* endpoints = state->endpoints->Find(decision->server);
  if (endpoints == nullptr) endpoints = &kNoEndpoints;
  FairnessSlot fairness_slot;
  if (state->config->settings.fairness.enabled) {
    const auth::Principal* principal = authentication.principal.get();
    const FairnessTurn turn{
        parsed->model, FairnessKey(who, state->config->settings.fairness.key),
        principal != nullptr ? std::string_view(principal->priority_class) : std::string_view(),
        // Admit() estimated the prompt already when a limit applies: not twice.
        limits.empty() ? limits::EstimateInputTokens(parsed->prompt_json) : limits.input_estimate(),
        ServingEndpoints(*endpoints)};
    FairnessVerdict verdict =
        co_await AwaitFairnessTurn(worker, *state, turn, watch, fairness_slot);
    access.queue_ms = std::chrono::duration<double, std::milli>(verdict.waited).count();
    CountFairness(observer.model(), verdict);
    if (verdict.client_gone || verdict.refusal) {
      writer.StopWatching();
      if (!limits.empty()) limits.Settle(-1, -1, /*served=*/false);
      if (verdict.client_gone) {
        writer.Close();
        co_return;
      }
      error = std::move(*verdict.refusal);
      co_await writer.SendError(error, "fairness", /*retry_after=*/true);
      co_return;
    }
  }
  LegContext leg{body, &*parsed, {}};
  if (decision->upstream_model != parsed->model)
    leg.model_json = JsonString(decision->upstream_model);
  RequestContext context{worker,
                         state->config->settings,
                         request,
                         *decision->server,
                         *endpoints,
                         std::move(leg),
                         /*inject_usage=*/parsed->stream && !parsed->include_usage,
                         watch,
                         writer,
                         observer,
                         decision->lora ? decision->upstream_model : std::string_view()};
  co_await RunAttempts(context, *state->scheduler);
  if (!limits.empty()) {
    // Served: an engine answered 2xx (whole, or a stream cut off midway). The reservations of a
    // request no engine served (no endpoint, failed legs, an engine's 4xx) are given back.
    const bool served = observer.status() / 100 == 2 || access.output_tokens >= 0;
    limits.Settle(access.input_tokens, access.output_tokens, served);
  }
  fairness_slot.set_output_tokens(access.output_tokens);
  fairness_slot.Release();
  writer.StopWatching();
  if (watch->client_gone) writer.Close();
}

}  // namespace pdgate::router
