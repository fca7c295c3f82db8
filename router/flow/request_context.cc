#include "router/flow/request_context.h"

#include <algorithm>

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
  return LegTarget{endpoint.host_port, endpoint.pod, tcp::endpoint(address, endpoint.port)};
}

LegRequest MakeLegRequest(const RequestContext& context, const discovery::Endpoint& endpoint,
                          std::string body, std::string_view target) {
  const http::request<http::string_body>& request = context.request;
  LegRequest leg(target.empty() ? std::string_view(request.target()) : target, endpoint.host_port);
  leg.Set("Content-Type", "application/json");
  leg.Set("x-request-id", context.writer.request_id());
  // The client's Accept and W3C trace context go on; Authorization as the ModelServer says.
  if (auto it = request.find(http::field::accept); it != request.end()) {
    leg.Set("Accept", std::string_view(it->value()));
  }
  const config::AuthSettings& auth = context.settings.auth;
  switch (context.server.upstream_authorization) {
    case config::UpstreamAuthorization::kAuto:
      if (auth.enabled() && !auth.forward_credential) break;
      [[fallthrough]];
    case config::UpstreamAuthorization::kForward:
      if (auto it = request.find(http::field::authorization); it != request.end()) {
        leg.Set("Authorization", std::string_view(it->value()));
      }
      break;
    case config::UpstreamAuthorization::kReplace:
      leg.Set("Authorization", context.server.upstream_authorization_value);
      break;
    case config::UpstreamAuthorization::kStrip:
      break;
  }
  for (std::string_view name : {"traceparent", "tracestate"}) {
    if (auto it = request.find(name); it != request.end()) {
      leg.Set(name, std::string_view(it->value()));
    }
  }
  leg.SetBody(std::move(body));
  return leg;
}

}  // namespace pdgate::router
