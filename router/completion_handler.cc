#include "router/completion_handler.h"

#include <simdjson.h>

#include <array>
#include <functional>
#include <optional>
#include <variant>

#include "config/strings.h"
#include "pd_scheduler/pair_candidates.h"
#include "router/access_log.h"
#include "router/client_io.h"
#include "router/disconnect_watch.h"
#include "router/json_text.h"
#include "router/leg_body.h"
#include "router/openai_error.h"
#include "router/openai_request.h"
#include "router/request_id.h"
#include "router/router_metrics.h"
#include "router/sglang_abort.h"
#include "router/sse_filter.h"
#include "router/upstream_leg.h"

namespace pdgate::router {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kRelayBufferBytes = size_t{16} * 1024;
constexpr size_t kMaxErrorBodyBytes = size_t{64} * 1024;

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
HeaderList IdHeader(const std::string& request_id) {
  HeaderList headers;
  headers.emplace_back("x-request-id", request_id);
  return headers;
}

HeaderList UnavailableHeaders(const std::string& request_id) {
  HeaderList headers = IdHeader(request_id);
  headers.emplace_back("retry-after", "1");
  return headers;
}

bool IsRetryableStatus(int status) { return status == 502 || status == 503 || status == 504; }

struct Flow {
  Flow(Worker& w, beast::tcp_stream& c, const http::request<http::string_body>& r, std::string& b,
       bool& k, OpenAIRequest p)
      : worker(w), client(c), request(r), body(b), keep_alive(k), parsed(std::move(p)) {}

  Worker& worker;
  beast::tcp_stream& client;
  const http::request<http::string_body>& request;
  std::string& body;
  bool& keep_alive;
  OpenAIRequest parsed;
  const config::ModelServer* server = nullptr;
  const discovery::ServerEndpoints* endpoints = nullptr;
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

  void RecordLeg(const discovery::Endpoint& endpoint, LegOutcomeLabel label) const {
    if (const EndpointMetrics* e = metrics->Endpoint(&endpoint)) Increment(e->legs[size_t(label)]);
  }

  Clock::duration LegTimeout() const {
    if (server->timeout) return std::chrono::duration_cast<Clock::duration>(*server->timeout);
    return worker.settings().timeouts.upstream_default;
  }
  HeaderList ResponseHeaders() const { return IdHeader(request_id); }
};

std::string Describe(const discovery::Endpoint& endpoint) {
  return StrCat(endpoint.pod, " (", endpoint.HostPort(), ")");
}

std::optional<LegTarget> TargetOf(const discovery::Endpoint& endpoint) {
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(endpoint.address, ec);
  if (ec) return std::nullopt;
  return LegTarget{endpoint.HostPort(), endpoint.pod, tcp::endpoint(address, endpoint.port)};
}

http::request<http::string_body> MakeLegRequest(const Flow& flow,
                                                const discovery::Endpoint& endpoint,
                                                std::string body) {
  http::request<http::string_body> leg{http::verb::post, flow.request.target(), 11};
  leg.set(http::field::host, endpoint.HostPort());
  leg.set(http::field::content_type, "application/json");
  leg.set("x-request-id", flow.request_id);
  // The client's Accept and W3C trace context go on; Authorization as the ModelServer says.
  if (auto it = flow.request.find(http::field::accept); it != flow.request.end()) {
    leg.set(http::field::accept, it->value());
  }
  switch (flow.server->upstream_authorization) {
    case config::UpstreamAuthorization::kForward:
      if (auto it = flow.request.find(http::field::authorization); it != flow.request.end()) {
        leg.set(http::field::authorization, it->value());
      }
      break;
    case config::UpstreamAuthorization::kReplace:
      leg.set(http::field::authorization, flow.server->upstream_authorization_value);
      break;
    case config::UpstreamAuthorization::kStrip:
      break;
  }
  for (std::string_view name : {"traceparent", "tracestate"}) {
    if (auto it = flow.request.find(name); it != flow.request.end()) leg.set(name, it->value());
  }
  leg.keep_alive(true);
  leg.body() = std::move(body);
  leg.prepare_payload();
  return leg;
}

AttemptError FromOutcome(std::string_view leg, const discovery::Endpoint& endpoint,
                         const LegOutcome& outcome) {
  AttemptError error;
  error.leg = leg;
  error.endpoint = Describe(endpoint);
  error.detail = outcome.detail;
  // Connect failures, timeouts and broken connections are what retries are for; an oversized
  // answer would be just as oversized elsewhere.
  error.retryable = outcome.status != LegStatus::kTooLarge;
  error.label = outcome.status == LegStatus::kConnectFailed ? LegOutcomeLabel::kConnectFailed
                : outcome.status == LegStatus::kTimeout     ? LegOutcomeLabel::kTimeout
                                                            : LegOutcomeLabel::kTransport;
  return error;
}

AttemptError FromStatus(std::string_view leg, const discovery::Endpoint& endpoint, int status,
                        std::string_view body) {
  AttemptError error;
  error.leg = leg;
  error.endpoint = Describe(endpoint);
  error.detail = StrCat("status ", status);
  error.status = status;
  error.body = NormalizeEngineError(status, body);
  error.retryable = IsRetryableStatus(status);
  error.label = LegOutcomeLabel::kHttpError;
  return error;
}

// The prefill's `kv_transfer_params` object, byte for byte; empty when absent or null (an early
// stop: legal, the decode recomputes).
std::string ExtractKvTransferParams(std::string& body) {
  body.reserve(body.size() + kJsonPadding);
  thread_local simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (parser.iterate(body.data(), body.size(), body.capacity()).get(doc) ||
      doc.get_object().get(object)) {
    return {};
  }
  for (auto result : object) {
    simdjson::ondemand::field field;
    if (std::move(result).get(field)) return {};
    std::string_view key;
    if (field.unescaped_key().get(key)) return {};
    if (key != "kv_transfer_params") continue;
    simdjson::ondemand::value value = field.value();
    simdjson::ondemand::json_type type;
    if (value.type().get(type) || type != simdjson::ondemand::json_type::object) return {};
    std::string_view raw;
    if (simdjson::to_json_string(value).get(raw)) return {};
    return std::string(raw);
  }
  return {};
}

using PrefillResult = std::variant<std::string, AttemptError>;

net::awaitable<PrefillResult> RunPrefillLeg(Flow& flow, const discovery::Endpoint& endpoint) {
  std::optional<LegTarget> target = TargetOf(endpoint);
  if (!target)
    co_return FromOutcome("prefill", endpoint, {LegStatus::kConnectFailed, "bad address"});
  UpstreamLeg leg(flow.worker, std::move(*target), flow.watch);
  auto request =
      MakeLegRequest(flow, endpoint, BuildPrefillBody(flow.leg, flow.server->kv_connector));
  std::optional<http::response_parser<http::string_body>> parser;
  // The whole prefill leg runs under the timeout: its answer is one small JSON document.
  const Clock::time_point deadline = Clock::now() + flow.LegTimeout();
  LegOutcome outcome = co_await leg.Exchange(
      request, parser, deadline,
      /*whole_body=*/true, flow.worker.settings().limits.max_prefill_response_bytes);
  if (!outcome.ok()) co_return FromOutcome("prefill", endpoint, outcome);
  auto& response = parser->get();
  const int status = static_cast<int>(response.result_int());
  if (status / 100 != 2) co_return FromStatus("prefill", endpoint, status, response.body());
  const bool reusable = response.keep_alive();
  std::string kv;
  if (flow.server->kv_connector == config::KvConnector::kNixl ||
      flow.server->kv_connector == config::KvConnector::kMooncake) {
    kv = ExtractKvTransferParams(response.body());
  }
  if (reusable) leg.Release();
  co_return kv;
}

// Reads what is left of an error response, bounded.
net::awaitable<std::string> ReadErrorBody(UpstreamLeg& leg,
                                          http::response_parser<http::buffer_body>& parser) {
  std::string body;
  // std::array, not a C array: GCC 12 miscompiles C arrays held across co_await.
  std::array<char, 4096> buffer;  // NOLINT(cppcoreguidelines-pro-type-member-init): read into first
  while (!parser.is_done() && body.size() < kMaxErrorBodyBytes) {
    parser.get().body().data = buffer.data();
    parser.get().body().size = buffer.size();
    auto [ec, n] = co_await http::async_read(leg.stream(), leg.buffer(), parser, kTuple);
    body.append(buffer.data(), buffer.size() - parser.get().body().size);
    if (ec && ec != http::error::need_buffer) break;
  }
  co_return body;
}

bool IsEventStream(std::string_view content_type) {
  return content_type.substr(0, 17) == "text/event-stream";
}

// The decode leg (or the only leg of an aggregated server): sends, and once the engine answers
// 2xx, relays its body to the client chunk by chunk. Returns an error only while nothing has
// reached the client.
net::awaitable<std::optional<AttemptError>> RunDecodeLeg(
    Flow& flow, const discovery::Endpoint& endpoint, std::string& body, std::string_view leg_name,
    const std::shared_ptr<DisconnectWatch>& legs) {
  std::optional<LegTarget> target = TargetOf(endpoint);
  if (!target)
    co_return FromOutcome(leg_name, endpoint, {LegStatus::kConnectFailed, "bad address"});
  UpstreamLeg leg(flow.worker, std::move(*target), legs);
  auto request = MakeLegRequest(flow, endpoint, std::move(body));
  std::optional<http::response_parser<http::buffer_body>> parser;
  const Clock::time_point deadline = Clock::now() + flow.LegTimeout();
  LegOutcome outcome =
      co_await leg.Exchange(request, parser, deadline, /*whole_body=*/false, /*body_limit=*/0);
  if (!outcome.ok()) co_return FromOutcome(leg_name, endpoint, outcome);
  const int status = static_cast<int>(parser->get().result_int());
  if (status / 100 != 2) {
    std::string error_body = co_await ReadErrorBody(leg, *parser);
    co_return FromStatus(leg_name, endpoint, status, error_body);
  }

  // The client's response header goes out with the first body bytes: one wake-up of the client
  // instead of two, and a decode that fails before any body byte can still be retried.
  const config::TimeoutSettings& timeouts = flow.worker.settings().timeouts;
  auto& upstream = parser->get();
  const std::string content_type(upstream[http::field::content_type]);
  const bool event_stream = IsEventStream(content_type);
  http::response<http::buffer_body> response{http::status(status), 11};
  response.set(http::field::server, "pdgate");
  response.set(http::field::content_type, content_type.empty() ? "application/json" : content_type);
  response.set("x-request-id", flow.request_id);
  if (event_stream) response.set(http::field::cache_control, "no-cache");
  response.keep_alive(flow.keep_alive);
  if (!event_stream && upstream.has_content_length()) {
    response.content_length(parser->content_length().value_or(0));
  } else {
    response.chunked(true);
  }
  http::response_serializer<http::buffer_body> serializer{response};
  auto write = [&](std::string_view data, bool more) -> net::awaitable<bool> {
    if (!flow.committed && event_stream) {
      Observe(flow.model_metrics->ttft,
              std::chrono::duration<double>(Clock::now() - flow.start).count());
    }
    if (flow.committed && event_stream) {
      const Clock::time_point now = Clock::now();
      Observe(flow.model_metrics->itl,
              std::chrono::duration<double>(now - flow.last_write).count());
    }
    flow.last_write = Clock::now();
    flow.committed = true;  // from the first byte on, the response belongs to the client
    flow.status_sent = status;
    if (flow.access.ttft_ms < 0 && event_stream) {
      flow.access.ttft_ms =
          std::chrono::duration<double, std::milli>(Clock::now() - flow.start).count();
    }
    // Beast 1.81 writes two empty chunks for a final buffer with non-null data (beast#3032).
    response.body().data = data.empty() ? nullptr : const_cast<char*>(data.data());
    response.body().size = data.size();
    response.body().more = more;
    flow.client.expires_after(timeouts.stream_idle);  // a reader that stops is cut off
    auto [ec, n] = co_await http::async_write(flow.client, serializer, kTuple);
    co_return !ec || ec == http::error::need_buffer;
  };

  std::optional<SseFilter> filter;
  if (event_stream) filter.emplace(/*drop_usage_chunk=*/flow.inject_usage);
  std::array<char, kRelayBufferBytes>
      buffer;  // NOLINT(cppcoreguidelines-pro-type-member-init): read into first
  std::string filtered;
  std::string last;  // what goes out with the end of the response
  bool upstream_failed = false;
  while (!parser->is_done()) {
    upstream.body().data = buffer.data();
    upstream.body().size = buffer.size();
    leg.stream().expires_after(timeouts.stream_idle);  // idle between chunks, not one deadline
    // read_some, not read: read would wait until the buffer is full, batching a stream's events.
    auto [ec, n] = co_await http::async_read_some(leg.stream(), leg.buffer(), *parser, kTuple);
    if (ec == http::error::need_buffer) ec = {};
    const size_t got = buffer.size() - upstream.body().size;
    std::string_view data(buffer.data(), got);
    if (filter && got > 0) {
      filtered.clear();
      filter->Feed(data, filtered);
      data = filtered;
    }
    if (ec || parser->is_done()) {
      last.assign(data);
      upstream_failed = bool(ec);
      break;
    }
    if (!data.empty() && !co_await write(data, true)) {
      flow.keep_alive = false;
      co_return std::nullopt;  // client gone: the leg is closed, the engine aborts
    }
  }
  if (flow.watch->client_gone) {
    flow.keep_alive = false;
    co_return std::nullopt;
  }
  if (filter) filter->Finish(last);
  if (filter && filter->usage()) {
    Increment(flow.model_metrics->prompt_tokens, double(filter->usage()->prompt_tokens));
    Increment(flow.model_metrics->completion_tokens, double(filter->usage()->completion_tokens));
    flow.access.input_tokens = filter->usage()->prompt_tokens;
    flow.access.output_tokens = filter->usage()->completion_tokens;
  }
  if (upstream_failed) {
    if (!flow.committed) {
      // Nothing reached the client yet: as good as a failure before the response.
      co_return FromOutcome(leg_name, endpoint,
                            {LegStatus::kTransport, "response body broken before any byte"});
    }
    flow.keep_alive = false;
    // Mid-stream failure: one error event and [DONE], never a retry (bytes were sent).
    if (event_stream && !(filter && filter->saw_done())) {
      last +=
          ErrorEvent({502, StrCat("The decode engine ", Describe(endpoint), " failed mid-stream."),
                      "", "", ""});
    }
    co_await write(last, false);
    co_return std::nullopt;
  }
  // The last write answers the request: stop watching the client first, or the next pipelined
  // request arriving would wake the watch for nothing.
  beast::error_code ignored;
  flow.client.socket().cancel(ignored);
  if (!co_await write(last, false)) {
    flow.keep_alive = false;
    co_return std::nullopt;
  }
  if (upstream.keep_alive()) leg.Release();
  co_return std::nullopt;
}

// What the access log keeps of a leg: its endpoint, duration and answer.
void NoteLeg(Flow& flow, std::string_view leg, const discovery::Endpoint& endpoint,
             Clock::time_point started, const AttemptError* error) {
  AccessRecord& access = flow.access;
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (leg == "prefill") {
    access.prefill = endpoint.pod;
    access.prefill_ms = ms;
    Observe(flow.model_metrics->prefill_leg, ms / 1000);
  } else {
    access.decode = endpoint.pod;
    access.decode_ms = ms;
    Observe(flow.model_metrics->decode_leg, ms / 1000);
  }
  if (!access.upstream_statuses.empty()) access.upstream_statuses += ",";
  StrAppend(access.upstream_statuses, leg, ":",
            error == nullptr ? std::string("200")
            : error->status != 0
                ? StrCat(error->status)
                : std::string(error->label == LegOutcomeLabel::kTimeout         ? "timeout"
                              : error->label == LegOutcomeLabel::kConnectFailed ? "connect_failed"
                                                                                : "transport"));
}

// The legs, counted in pdgate_upstream_requests_total by endpoint, role and outcome.
net::awaitable<PrefillResult> RunPrefill(Flow& flow, const discovery::Endpoint& endpoint) {
  const Clock::time_point started = Clock::now();
  PrefillResult result = co_await RunPrefillLeg(flow, endpoint);
  const auto* error = std::get_if<AttemptError>(&result);
  NoteLeg(flow, "prefill", endpoint, started, error);
  if (!flow.watch->client_gone)
    flow.RecordLeg(endpoint, error ? error->label : LegOutcomeLabel::kOk);
  co_return result;
}

net::awaitable<std::optional<AttemptError>> RunDecode(
    Flow& flow, const discovery::Endpoint& endpoint, std::string& body, std::string_view leg_name,
    const std::shared_ptr<DisconnectWatch>& legs) {
  const Clock::time_point started = Clock::now();
  std::optional<AttemptError> error = co_await RunDecodeLeg(flow, endpoint, body, leg_name, legs);
  NoteLeg(flow, leg_name, endpoint, started, error ? &*error : nullptr);
  if (!flow.watch->client_gone)
    flow.RecordLeg(endpoint, error ? error->label : LegOutcomeLabel::kOk);
  co_return error;
}

// --- SGLang: prefill and decode at once ---------------------------------------------------------

struct SglangPrefillState {
  bool done = false;
  bool cancelled = false;  // the decode finished first; the prefill was closed on purpose
  std::optional<AttemptError> error;
};

// The prefill leg of an SGLang attempt, spawned beside the decode. It touches only what it owns
// or shares, since the attempt may be over when it resumes.
net::awaitable<void> RunSglangPrefill(Worker& worker, discovery::Endpoint endpoint,
                                      LegTarget target, http::request<http::string_body> request,
                                      std::shared_ptr<DisconnectWatch> legs,
                                      Clock::time_point deadline, size_t limit,
                                      std::shared_ptr<SglangPrefillState> state,
                                      std::function<void()> on_failure) {
  UpstreamLeg leg(worker, std::move(target), legs);
  std::optional<http::response_parser<http::string_body>> parser;
  LegOutcome outcome = co_await leg.Exchange(request, parser, deadline, true, limit);
  state->done = true;
  if (state->cancelled || legs->client_gone) co_return;
  if (!outcome.ok()) {
    state->error = FromOutcome("prefill", endpoint, outcome);
  } else if (parser->get().result_int() / 100 != 2) {
    state->error = FromStatus("prefill", endpoint, static_cast<int>(parser->get().result_int()),
                              parser->get().body());
  } else {
    if (parser->get().keep_alive()) leg.Release();
    co_return;
  }
  on_failure();
}

net::awaitable<std::optional<AttemptError>> RunSglangAttempt(Flow& flow,
                                                             const discovery::Endpoint& prefill,
                                                             const discovery::Endpoint& decode) {
  std::optional<LegTarget> prefill_target = TargetOf(prefill);
  std::optional<LegTarget> decode_target = TargetOf(decode);
  if (!prefill_target || !decode_target) {
    co_return FromOutcome("prefill", prefill, {LegStatus::kConnectFailed, "bad address"});
  }
  // A fresh room and rid per attempt, so a retry never meets the failed attempt's state.
  const std::string rid = NewSglangRid(flow.worker.rng);
  const SglangBootstrap bootstrap{prefill.address, SglangBootstrapPort(prefill),
                                  flow.worker.rng() >> 1, rid};
  std::string prefill_body = BuildPrefillBody(flow.leg, config::KvConnector::kSglang, &bootstrap);
  std::string decode_body = BuildDecodeBody(flow.leg, "", flow.inject_usage, &bootstrap);

  auto legs = std::make_shared<DisconnectWatch>();
  Worker* worker = &flow.worker;
  auto abort = [worker, rid](const LegTarget& target) {
    net::co_spawn(worker->ioc, SendSglangAbort(*worker, target, rid), net::detached);
  };
  // The client leaving closes this attempt's legs and aborts both on the engines.
  flow.watch->on_gone.push_back([legs, abort, p = *prefill_target, d = *decode_target] {
    legs->client_gone = true;
    legs->CloseLegs();
    abort(p);
    abort(d);
  });
  // A failed prefill aborts the decode at once instead of leaving it waiting for minutes.
  auto on_prefill_failure = [legs, abort, d = *decode_target] {
    legs->CloseLegs();
    abort(d);
  };
  auto state = std::make_shared<SglangPrefillState>();
  net::co_spawn(flow.worker.ioc,
                RunSglangPrefill(flow.worker, prefill, *prefill_target,
                                 MakeLegRequest(flow, prefill, std::move(prefill_body)), legs,
                                 Clock::now() + flow.LegTimeout(),
                                 flow.worker.settings().limits.max_prefill_response_bytes, state,
                                 on_prefill_failure),
                net::detached);
  std::optional<AttemptError> error = co_await RunDecode(flow, decode, decode_body, "decode", legs);
  flow.watch->on_gone.clear();
  if (!state->done) {
    state->cancelled = true;
    legs->CloseLegs();
  }
  // When the prefill failed, its failure is the cause of whatever the decode reports.
  if (state->error && !flow.committed) co_return state->error;
  co_return error;
}

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

net::awaitable<void> RunAttempts(Flow& flow) {
  const config::ModelServer& server = *flow.server;
  const size_t tries = size_t(server.retry.attempts) + 1;
  const uint64_t sequence = flow.worker.sequence++;
  std::optional<AttemptError> last;
  size_t attempts = 0;
  if (server.disaggregated()) {
    const Clock::time_point pick_start = Clock::now();
    std::vector<pd_scheduler::PdPair> pairs =
        pd_scheduler::RoundRobinPairs(*flow.endpoints, sequence, tries);
    Observe(flow.metrics->pick_duration,
            std::chrono::duration<double>(Clock::now() - pick_start).count());
    Increment(flow.model_metrics->disaggregated);
    if (pairs.empty()) {
      co_await SendUnavailable(flow, "prefill/decode pair");
      co_return;
    }
    for (size_t i = 0; i < tries; ++i) {
      if (i > 0) {
        Increment(flow.model_metrics->retries);
        co_await Wait(flow.worker, server.retry.interval);
      }
      if (flow.watch->client_gone) co_return;
      const pd_scheduler::PdPair& pair = pairs[i % pairs.size()];
      const discovery::Endpoint& prefill = flow.endpoints->endpoints[pair.prefill];
      const discovery::Endpoint& decode = flow.endpoints->endpoints[pair.decode];
      ++attempts;
      flow.access.attempts = int(attempts);
      if (server.kv_connector == config::KvConnector::kSglang) {
        std::optional<AttemptError> error = co_await RunSglangAttempt(flow, prefill, decode);
        if (flow.committed || flow.watch->client_gone) co_return;
        if (!error->retryable) co_return co_await SendAttemptError(flow, *error, int(attempts));
        last = std::move(error);
        continue;
      }
      PrefillResult prefilled = co_await RunPrefill(flow, prefill);
      if (flow.watch->client_gone) co_return;
      if (auto* error = std::get_if<AttemptError>(&prefilled)) {
        if (!error->retryable) co_return co_await SendAttemptError(flow, *error, int(attempts));
        last = std::move(*error);
        continue;
      }
      const std::string& kv = std::get<std::string>(prefilled);
      std::string decode_body = BuildDecodeBody(flow.leg, kv, flow.inject_usage);
      std::optional<AttemptError> error =
          co_await RunDecode(flow, decode, decode_body, "decode", flow.watch);
      if (flow.committed || flow.watch->client_gone) co_return;
      if (!error->retryable) co_return co_await SendAttemptError(flow, *error, int(attempts));
      last = std::move(error);
    }
  } else {
    const size_t n = flow.endpoints->endpoints.size();
    Increment(flow.model_metrics->aggregated);
    if (n == 0) {
      co_await SendUnavailable(flow, "endpoint");
      co_return;
    }
    for (size_t i = 0; i < tries; ++i) {
      if (i > 0) {
        Increment(flow.model_metrics->retries);
        co_await Wait(flow.worker, server.retry.interval);
      }
      if (flow.watch->client_gone) co_return;
      const discovery::Endpoint& endpoint = flow.endpoints->endpoints[(sequence + i) % n];
      ++attempts;
      flow.access.attempts = int(attempts);
      std::string upstream_body = BuildDecodeBody(flow.leg, "", flow.inject_usage);
      std::optional<AttemptError> error =
          co_await RunDecode(flow, endpoint, upstream_body, "upstream", flow.watch);
      if (flow.committed || flow.watch->client_gone) co_return;
      if (!error->retryable) co_return co_await SendAttemptError(flow, *error, int(attempts));
      last = std::move(error);
    }
  }
  if (last) co_await SendAttemptError(flow, *last, int(attempts));
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
                                      std::string& body, bool& keep_alive) {
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
  // upstream_model may view parsed->model: read it before `parsed` moves into the flow.
  std::string model_json;
  if (decision->upstream_model != parsed->model) model_json = JsonString(decision->upstream_model);
  Flow flow(worker, client, request, body, keep_alive, std::move(*parsed));
  flow.server = decision->server;
  flow.endpoints = state->endpoints->Find(decision->server);
  flow.request_id = std::move(request_id);
  flow.inject_usage = flow.parsed.stream && !flow.parsed.include_usage;
  flow.leg.body = body;
  flow.leg.request = &flow.parsed;
  flow.leg.model_json = std::move(model_json);
  flow.metrics = state->metrics.get();
  flow.model_metrics = record.model;
  flow.start = record.start;
  // Watch for the client leaving while engines work; cancelled when the request is done.
  net::co_spawn(worker.ioc, WatchClient(client.socket(), flow.watch), net::detached);
  co_await RunAttempts(flow);
  record.status = flow.status_sent;
  flow.access.request_id = std::move(record.access.request_id);
  flow.access.method = std::move(record.access.method);
  flow.access.path = std::move(record.access.path);
  flow.access.model = std::move(record.access.model);
  flow.access.route = decision->route->meta.Key();
  flow.access.server = decision->server->meta.Key();
  if (flow.watch->client_gone && flow.status_sent == 0) flow.access.error_origin = "client";
  record.access = std::move(flow.access);
  beast::error_code ignored;
  client.socket().cancel(ignored);
  if (flow.watch->client_gone) keep_alive = false;
}

}  // namespace pdgate::router
