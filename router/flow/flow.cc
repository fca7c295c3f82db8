#include "router/flow/flow.h"

#include "config/strings.h"
#include "router/flow/retry_policy.h"
#include "router/openai/openai_error.h"

namespace pdgate::router {
namespace {

LegFailure FailureOf(LegStatus status) {
  switch (status) {
    case LegStatus::kConnectFailed:
      return LegFailure::kConnectFailed;
    case LegStatus::kTimeout:
      return LegFailure::kTimeout;
    case LegStatus::kTooLarge:
      return LegFailure::kTooLarge;
    case LegStatus::kOk:
    case LegStatus::kTransport:
    case LegStatus::kClientGone:  // the attempt loop stops on the client's leaving anyway
      break;
  }
  return LegFailure::kTransport;
}

}  // namespace

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

std::string Describe(const discovery::Endpoint& endpoint) {
  return StrCat(endpoint.pod, " (", endpoint.HostPort(), ")");
}

std::optional<LegTarget> TargetOf(const discovery::Endpoint& endpoint) {
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(endpoint.address, ec);
  if (ec) return std::nullopt;
  return LegTarget{endpoint.HostPort(), endpoint.pod, tcp::endpoint(address, endpoint.port)};
}

LegRequest MakeLegRequest(const Flow& flow, const discovery::Endpoint& endpoint, std::string body) {
  LegRequest leg(std::string_view(flow.request.target()), endpoint.HostPort());
  leg.Set("Content-Type", "application/json");
  leg.Set("x-request-id", flow.request_id);
  // The client's Accept and W3C trace context go on; Authorization as the ModelServer says.
  if (auto it = flow.request.find(http::field::accept); it != flow.request.end()) {
    leg.Set("Accept", std::string_view(it->value()));
  }
  const config::AuthSettings& auth = flow.settings.auth;
  switch (flow.server->upstream_authorization) {
    case config::UpstreamAuthorization::kAuto:
      if (auth.enabled() && !auth.forward_credential) break;
      [[fallthrough]];
    case config::UpstreamAuthorization::kForward:
      if (auto it = flow.request.find(http::field::authorization); it != flow.request.end()) {
        leg.Set("Authorization", std::string_view(it->value()));
      }
      break;
    case config::UpstreamAuthorization::kReplace:
      leg.Set("Authorization", flow.server->upstream_authorization_value);
      break;
    case config::UpstreamAuthorization::kStrip:
      break;
  }
  for (std::string_view name : {"traceparent", "tracestate"}) {
    if (auto it = flow.request.find(name); it != flow.request.end()) {
      leg.Set(name, std::string_view(it->value()));
    }
  }
  leg.SetBody(std::move(body));
  return leg;
}

AttemptError FromOutcome(std::string_view leg, const discovery::Endpoint& endpoint,
                         const LegOutcome& outcome) {
  AttemptError error;
  error.leg = leg;
  error.endpoint = Describe(endpoint);
  error.detail = outcome.detail;
  error.retryable = IsRetryable(FailureOf(outcome.status), 0, /*prefill_accepted=*/false);
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
  error.retryable = IsRetryable(LegFailure::kHttpStatus, status, /*prefill_accepted=*/false);
  error.label = LegOutcomeLabel::kHttpError;
  return error;
}
}  // namespace pdgate::router
