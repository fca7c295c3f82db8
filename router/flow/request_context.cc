#include "router/flow/request_context.h"

#include <algorithm>
#include <optional>

#include "router/http/http1_syntax.h"

namespace pdgate::router {

Clock::duration RequestContext::LegTimeout() const {
  if (server.timeout) return std::chrono::duration_cast<Clock::duration>(*server.timeout);
  return settings.timeouts.upstream_default;
}

std::optional<LegTarget> LegTargetOf(const discovery::Endpoint& endpoint) {
  if (endpoint.ip_family == 0) return std::nullopt;
  net::ip::address address;
  if (endpoint.ip_family == 4) {
    net::ip::address_v4::bytes_type bytes;
    std::copy_n(endpoint.ip_bytes.begin(), bytes.size(), bytes.begin());
    address = net::ip::address_v4(bytes);
  } else {
    address = net::ip::address_v6(endpoint.ip_bytes);
  }
  return LegTarget{endpoint.host_port, tcp::endpoint(address, endpoint.port)};
}

ForwardedFields::ForwardedFields(const ClientRequest& request) {
  const auto first = [](std::optional<std::string_view>& slot, std::string_view name,
                        std::string_view lower, std::string_view value) {
    if (!slot && http1::NameIs(name, lower)) slot = value;
  };
  for (size_t i = 0; i < request.field_count(); ++i) {
    const ClientRequest::Field field = request.field(i);
    switch (field.name.size()) {  // most fields are none of these: one comparison of sizes
      case 6:
        first(accept, field.name, "accept", field.value);
        break;
      case 13:
        first(authorization, field.name, "authorization", field.value);
        break;
      case 11:
        first(traceparent, field.name, "traceparent", field.value);
        break;
      case 10:
        first(tracestate, field.name, "tracestate", field.value);
        break;
      default:
        break;
    }
  }
}

LegRequest MakeLegRequest(const RequestContext& context, const discovery::Endpoint& endpoint,
                          std::optional<std::string> body, std::string_view target) {
  const ClientRequest& request = context.request;
  const ForwardedFields forwarded(request);
  LegRequest leg(target.empty() ? std::string_view(request.target()) : target, endpoint.host_port);
  leg.Add("Content-Type: application/json\r\n");
  leg.Set("x-request-id", context.writer.request_id());
  // The client's Accept and W3C trace context go on; Authorization as the ModelServer says.
  if (forwarded.accept) leg.Set("Accept", *forwarded.accept);
  const config::AuthSettings& auth = context.settings.auth;
  switch (context.server.upstream_authorization) {
    case config::UpstreamAuthorization::kAuto:
      if (auth.enabled() && !auth.forward_credential) break;
      [[fallthrough]];
    case config::UpstreamAuthorization::kForward:
      if (forwarded.authorization) leg.Set("Authorization", *forwarded.authorization);
      break;
    case config::UpstreamAuthorization::kReplace:
      leg.Set("Authorization", context.server.upstream_authorization_value);
      break;
    case config::UpstreamAuthorization::kStrip:
      break;
  }
  if (forwarded.traceparent) leg.Set("traceparent", *forwarded.traceparent);
  if (forwarded.tracestate) leg.Set("tracestate", *forwarded.tracestate);
  if (body) {
    leg.SetBody(std::move(*body));
  } else {
    leg.SetBodyView(context.leg.body);  // the client's request outlives its legs
  }
  return leg;
}

}  // namespace pdgate::router
