#pragma once
// What legs tell an endpoint's live state: how many are in flight (for least-request, with no
// scrape lag), and how each ended (for outlier ejection). Internal to router/.
#include <atomic>
#include <memory>

#include "discovery/endpoint_snapshot.h"
#include "router/flow/attempt_error.h"
#include "router/flow/request_context.h"

namespace pdgate::router {

// Counts a leg in flight for its lifetime: prefill legs on the prefill counter, everything else
// (decode, decode-only, aggregated) on the decode counter.
class InFlightLeg {
 public:
  InFlightLeg(const discovery::Endpoint& endpoint, bool prefill, int64_t prefill_tokens = 0)
      : live_(endpoint.live),
        counter_(prefill ? &live_->prefill_in_flight : &live_->decode_in_flight),
        tokens_(prefill ? prefill_tokens : 0) {
    counter_->fetch_add(1, std::memory_order_relaxed);
    if (tokens_ != 0) live_->prefill_tokens_in_flight.fetch_add(tokens_, std::memory_order_relaxed);
  }
  ~InFlightLeg() {
    counter_->fetch_sub(1, std::memory_order_relaxed);
    if (tokens_ != 0) live_->prefill_tokens_in_flight.fetch_sub(tokens_, std::memory_order_relaxed);
  }
  InFlightLeg(const InFlightLeg&) = delete;
  InFlightLeg& operator=(const InFlightLeg&) = delete;

 private:
  std::shared_ptr<discovery::LiveEndpoint> live_;
  std::atomic<int32_t>* counter_;
  int64_t tokens_;
};

// Success, or a failure that says something about the endpoint's health: a connect failure, a
// timeout, a broken transport or a 5xx. A 4xx is the request's fault and counts as neither.
void ReportLegOutcome(const RequestContext& context, const discovery::Endpoint& endpoint,
                      const AttemptError* error);

}  // namespace pdgate::router
