#pragma once
// GCRA (the generic cell rate algorithm, a token bucket kept as one number): a bucket of L units
// per period P is a theoretical arrival time (TAT). Each unit moves the TAT by the emission
// interval ei = P/L; a request fits while the TAT it would leave is at most one whole period
// (the burst, P) ahead of now. One atomic per bucket, updated by compare-and-swap, so io threads
// share a bucket without a lock; the same arithmetic runs in Redis for global buckets
// (router/limits/gcra_script.*), so local and global limits agree.
//
// Two costs per check: `check_cost` must fit now (Kthena's output limiter admits while one
// token is left: check 1), `reserve_cost` is what the check takes (input tokens: the estimate;
// output: nothing until the answer says how many). Debit() charges afterwards, into debt if need
// be: an answer over budget pushes the TAT past the burst and holds the next requests back
// until the bucket has refilled (Kthena forgives that overshoot; pdgate does not).
#include <atomic>
#include <cstdint>

namespace pdgate::limits {

struct GcraParams {
  double ei_us = 0;     // microseconds per unit
  double burst_us = 0;  // the whole bucket: ei * limit

  static GcraParams PerPeriod(double limit, double period_us) {
    return {period_us / limit, period_us};
  }
  double limit() const { return burst_us / ei_us; }
};

struct GcraDecision {
  bool allowed = false;
  int64_t retry_after_us = 0;  // denied: how long until the check would pass
  int64_t remaining = 0;       // whole units left after this check
  int64_t reset_us = 0;        // until the bucket is full again
};

// `tat_us`: the bucket's state (0: full). `now_us`: any monotonic microsecond clock, the same
// for every call on one bucket.
GcraDecision GcraCheck(std::atomic<int64_t>& tat_us, const GcraParams& params, double check_cost,
                       double reserve_cost, int64_t now_us);

// Charges `cost` units without a check (negative: a refund, never below a full bucket).
void GcraDebit(std::atomic<int64_t>& tat_us, const GcraParams& params, double cost,
               int64_t now_us);

// Remaining units and time to full, without changing the bucket.
GcraDecision GcraPeek(const std::atomic<int64_t>& tat_us, const GcraParams& params,
                      int64_t now_us);

}  // namespace pdgate::limits
