#include "router/limits/gcra.h"

#include <algorithm>
#include <cmath>

namespace pdgate::limits {
namespace {

int64_t Ceil(double value) { return static_cast<int64_t>(std::ceil(value)); }

GcraDecision Describe(const GcraParams& params, int64_t tat, int64_t now_us) {
  GcraDecision decision;
  const double ahead = double(std::max<int64_t>(tat - now_us, 0));
  decision.remaining =
      std::max<int64_t>(static_cast<int64_t>(std::floor((params.burst_us - ahead) / params.ei_us)), 0);
  decision.reset_us = static_cast<int64_t>(ahead);
  return decision;
}

}  // namespace

GcraDecision GcraCheck(std::atomic<int64_t>& tat_us, const GcraParams& params, double check_cost,
                       double reserve_cost, int64_t now_us) {
  int64_t current = tat_us.load(std::memory_order_relaxed);
  while (true) {
    const int64_t tat = std::max(current, now_us);
    const int64_t allow_at = Ceil(double(tat) + check_cost * params.ei_us - params.burst_us);
    if (now_us < allow_at) {
      GcraDecision denied = Describe(params, tat, now_us);
      denied.retry_after_us = allow_at - now_us;
      return denied;
    }
    const int64_t next = Ceil(double(tat) + reserve_cost * params.ei_us);
    if (next == current ||
        tat_us.compare_exchange_weak(current, next, std::memory_order_relaxed)) {
      GcraDecision allowed = Describe(params, next, now_us);
      allowed.allowed = true;
      return allowed;
    }
    // Another thread moved the bucket: decide again on its value (`current` was reloaded).
  }
}

void GcraDebit(std::atomic<int64_t>& tat_us, const GcraParams& params, double cost,
               int64_t now_us) {
  int64_t current = tat_us.load(std::memory_order_relaxed);
  while (true) {
    const int64_t tat = std::max(current, now_us);
    const int64_t next = std::max(Ceil(double(tat) + cost * params.ei_us), now_us);
    if (next == current ||
        tat_us.compare_exchange_weak(current, next, std::memory_order_relaxed)) {
      return;
    }
  }
}

GcraDecision GcraPeek(const std::atomic<int64_t>& tat_us, const GcraParams& params,
                      int64_t now_us) {
  GcraDecision decision =
      Describe(params, std::max(tat_us.load(std::memory_order_relaxed), now_us), now_us);
  decision.allowed = true;
  return decision;
}

}  // namespace pdgate::limits
