// The scoring half of Scheduler::Impl (scheduler_impl.h): a role's candidates after the
// filters, and the weighted score plugins (Kthena's names, args and formulas) with their
// random tie-break. The pick that uses them is in scheduler.cc.
#include <algorithm>
#include <limits>
#include <span>

#include "pd_scheduler/scheduler_impl.h"

namespace pdgate::pd_scheduler {

using discovery::Endpoint;
using discovery::EndpointRole;

namespace {

double Uniform(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

// This replica's legs in flight, plus the other replicas' (sharedState; 0 without it).
int32_t InFlight(const Endpoint& endpoint) {
  const discovery::LiveEndpoint& live = *endpoint.live;
  return endpoint.role == EndpointRole::kPrefill
             ? live.prefill_in_flight.load(std::memory_order_relaxed) +
                   live.remote_prefill_in_flight.load(std::memory_order_relaxed)
             : live.decode_in_flight.load(std::memory_order_relaxed) +
                   live.remote_decode_in_flight.load(std::memory_order_relaxed);
}

}  // namespace

// Available endpoints of `role`, after filters. All of the role when none is available:
// better a suspect endpoint than a certain 503 (Envoy's panic threshold, at 100%).
void Scheduler::Impl::Candidates(Pick& pick, EndpointRole role,
                                 std::vector<uint32_t>& candidates) const {
  const auto& endpoints = pick.server.endpoints;
  size_t of_role = 0;
  candidates.clear();
  candidates.reserve(endpoints.size());
  for (uint32_t i = 0; i < endpoints.size(); ++i) {
    if (endpoints[i].role != role) continue;
    ++of_role;
    if (pick.include_unavailable || endpoints[i].live->Available(pick.now)) {
      candidates.push_back(i);
    }
  }
  if (!candidates.empty() && candidates.size() < of_role) pick.left_out = true;
  if (candidates.empty()) {
    for (uint32_t i = 0; i < endpoints.size(); ++i) {
      if (endpoints[i].role == role) candidates.push_back(i);
    }
  }
  for (uint32_t i : candidates) pick.load[i] = endpoints[i].live->load();
  if (filter_least_request)
    Filter(candidates, [&](uint32_t i) {
      const double waiting = pick.load[i].waiting;
      return waiting < 0 || waiting < settings.max_waiting_requests;
    });
  if (filter_lora)
    Filter(candidates, [&](uint32_t i) {
      auto models = endpoints[i].live->models();
      return models == nullptr ||
             std::find(models->begin(), models->end(), pick.facts.model) != models->end();
    });
}

// A filter that would leave nothing is skipped: serving on a busy endpoint beats a 503.
template <typename Keep>
void Scheduler::Impl::Filter(std::vector<uint32_t>& candidates, const Keep& keep) {
  // One call of `keep` per candidate: what it reads (an endpoint's models) may change meanwhile.
  // The kept move to the front in order; while none is kept nothing is written, so a filter
  // that keeps none leaves the list as it was.
  size_t kept = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (keep(candidates[i])) candidates[kept++] = candidates[i];
  }
  if (kept > 0) candidates.resize(kept);
}

void Scheduler::Impl::Score(Pick& pick, std::span<const uint32_t> candidates, Side side) const {
  const auto& endpoints = pick.server.endpoints;
  for (uint32_t i : candidates) pick.score[i] = 0;
  for (const WeightedPlugin& wp : plugins) {
    switch (wp.plugin) {
      case Plugin::kLeastRequest: {
        // Lower base is better. Kthena: inFlight + 100·max(inFlight − engineRunning, 0).
        // Joint mode, prefill: the prompt tokens this endpoint would still have to prefill
        // before this request's first token (those queued through us, plus this request's
        // uncached part): a cached prefix is less work, and a deep queue outweighs it.
        // Joint mode, decode: in-flight decodes alone. The engine's running count lags by a
        // scrape interval, and against it one new request looked 100× busier.
        double max_base = 0;
        thread_local std::vector<double> base;
        base.assign(candidates.size(), 0);
        for (size_t k = 0; k < candidates.size(); ++k) {
          const uint32_t i = candidates[k];
          const discovery::LiveEndpoint& live = *endpoints[i].live;
          if (side == Side::kPrefill) {
            // (+ the request count: among equal work, fewer requests.)
            base[k] = double(live.prefill_tokens_in_flight.load(std::memory_order_relaxed)) +
                      double(live.remote_prefill_tokens_in_flight.load(std::memory_order_relaxed)) +
                      double(live.prefill_in_flight.load(std::memory_order_relaxed)) +
                      double(live.remote_prefill_in_flight.load(std::memory_order_relaxed)) +
                      double(UncachedTokens(pick, i));
          } else if (side == Side::kDecode ||
                     (side == Side::kAll &&
                      settings.pair_selection == config::PairSelection::kJoint)) {
            // (An aggregated server under pdgate's pairing: its in-flight requests.)
            base[k] = InFlight(endpoints[i]);
          } else {
            const double in_flight = InFlight(endpoints[i]);
            const double running = std::max(0.0, pick.load[i].running);
            base[k] = in_flight + 100 * std::max(in_flight - running, 0.0);
          }
          max_base = std::max(max_base, base[k]);
        }
        for (size_t k = 0; k < candidates.size(); ++k) {
          const double s = max_base == 0 ? 100 : 100 * (max_base - base[k]) / max_base;
          pick.score[candidates[k]] += wp.weight * s;
        }
        break;
      }
      case Plugin::kGpuUsage:
        if (side == Side::kPrefill) break;  // a prefill's KV is released once pulled
        for (uint32_t i : candidates) {
          const double kv = std::max(0.0, pick.load[i].kv_usage);
          pick.score[i] += wp.weight * 100 * (1 - kv);
        }
        break;
      case Plugin::kLeastLatency:
        ScoreLatency(pick, candidates, side, wp.weight);
        break;
      case Plugin::kPrefixCache:
        if (side == Side::kDecode || pick.total_blocks == 0) break;
        // Kthena's 100 × held / prompt blocks, less (pdgate) the part the engine would have to
        // evict other blocks for: an evicted block is one some later request misses. With cache
        // sizes known a new prefix goes where it fits instead of piling onto a full engine, and
        // moving a prefix off the engine that holds it costs its evictions too (unknown sizes
        // evict nothing: Kthena's formula as is).
        for (uint32_t i : candidates) {
          pick.score[i] +=
              wp.weight * 100 *
              (double(pick.matched[i]) / double(pick.total_blocks) - EvictedRatio(pick, i));
        }
        break;
      case Plugin::kKvCacheAware:
        // Kthena: 100 × the leading blocks held / the prompt's blocks. Without the prompt's
        // tokens, the approximate prefix index's ratio stands in. Less the evicted part, as above.
        if (side == Side::kDecode) break;
        for (uint32_t i : candidates) {
          pick.score[i] += wp.weight * 100 * (CachedRatio(pick, i) - EvictedRatio(pick, i));
        }
        break;
      case Plugin::kRandom:
        for (uint32_t i : candidates) pick.score[i] += wp.weight * 100 * Uniform(pick.rng);
        break;
      case Plugin::kSession:
        for (uint32_t i : candidates) pick.score[i] += wp.weight * 100 * pick.affinity[i];
        break;
    }
  }
  // Ties go to a uniformly random candidate, so equal endpoints share load evenly.
  for (uint32_t i : candidates) pick.score[i] += 1e-3 * Uniform(pick.rng);
}

// Kthena's least-latency: min–max normalised TTFT and TPOT (lower is better); joint mode uses
// TTFT for prefill and TPOT for decode alone.
void Scheduler::Impl::ScoreLatency(Pick& pick, std::span<const uint32_t> candidates, Side side,
                                   double weight) const {
  const double alpha = side == Side::kPrefill  ? 1.0
                       : side == Side::kDecode ? 0.0
                                               : settings.ttft_tpot_weight_factor;
  // Without data an endpoint scores as the best: Kthena gives it 50, which starves a new or
  // idle endpoint for good once any other has data (it never gets traffic to measure).
  auto normalised = [&](auto get, uint32_t i, double low, double high) {
    const double x = get(pick.load[i]);
    if (x < 0) return 100.0;
    return high == low ? 100.0 : 100 * (high - x) / (high - low);
  };
  auto range = [&](auto get) {
    double low = std::numeric_limits<double>::infinity(), high = -1;
    for (uint32_t i : candidates) {
      const double x = get(pick.load[i]);
      if (x < 0) continue;
      low = std::min(low, x);
      high = std::max(high, x);
    }
    return std::pair(low, high);
  };
  auto ttft = [](const discovery::EngineLoad& l) { return l.ttft_s; };
  auto itl = [](const discovery::EngineLoad& l) { return l.itl_s; };
  const auto [ttft_low, ttft_high] = range(ttft);
  const auto [itl_low, itl_high] = range(itl);
  for (uint32_t i : candidates) {
    double s = 0;
    if (alpha > 0) s += alpha * normalised(ttft, i, ttft_low, ttft_high);
    if (alpha < 1) s += (1 - alpha) * normalised(itl, i, itl_low, itl_high);
    pick.score[i] += weight * s;
  }
}

}  // namespace pdgate::pd_scheduler
