#pragma once
// Why one attempt failed (AttemptError), made from a leg's outcome or an engine's non-2xx answer.
// Retryable failures move to the next pair (retry_policy.h decides); the others answer the client.
#include <string>
#include <string_view>

#include "discovery/endpoint_snapshot.h"
#include "router/observe/router_metrics.h"
#include "router/upstream/upstream_leg.h"

namespace pdgate::router {

struct AttemptError {
  bool retryable = false;
  std::string_view leg;  // "prefill", "decode" or "upstream"
  std::string endpoint;  // "ns/pod (host:port)"
  std::string detail;
  LegOutcomeLabel label = LegOutcomeLabel::kTransport;  // for pdgate_upstream_requests_total
  int status = 0;                                       // the engine's own answer, when it gave one
  std::string body;                                     // normalised error body to pass on
  // pdgate's own resources failed (LegStatus::kNoResources): the endpoint is not blamed, and
  // the client gets a 503 from the router rather than a 502 naming the engine.
  bool local = false;
};

// "ns/pod (host:port)", as messages name an endpoint.
std::string Describe(const discovery::Endpoint& endpoint);

// A leg that failed in transport, or answered with a non-2xx status.
AttemptError FromOutcome(std::string_view leg, const discovery::Endpoint& endpoint,
                         const LegOutcome& outcome);
AttemptError FromStatus(std::string_view leg, const discovery::Endpoint& endpoint, int status,
                        std::string_view body);

}  // namespace pdgate::router
