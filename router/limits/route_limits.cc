#include "router/limits/route_limits.h"


#include "base/strings.h"

namespace pdgate::limits {
namespace {

constexpr double kSecondUs = 1e6;

bool SameParams(const std::optional<GcraParams>& a, const std::optional<GcraParams>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->ei_us == b->ei_us && a->burst_us == b->burst_us);
}

}  // namespace

RouteLimits::RouteLimits(const config::Config& config, const RouteLimits* previous) {
  for (const config::ModelRoute& route : config.model_routes) {
    if (!route.rate_limit) continue;
    const config::RateLimit& rate = *route.rate_limit;
    if (!rate.input_tokens_per_unit && !rate.output_tokens_per_unit) continue;
    RouteLimit limit;
    limit.route = &route;
    limit.key = route.meta.Key();
    limit.owner = StrCat("route ", limit.key);
    const double period_us = double(config::Seconds(rate.unit)) * kSecondUs;
    if (rate.input_tokens_per_unit) {
      limit.input = GcraParams::PerPeriod(double(*rate.input_tokens_per_unit), period_us);
    }
    if (rate.output_tokens_per_unit) {
      limit.output = GcraParams::PerPeriod(double(*rate.output_tokens_per_unit), period_us);
    }
    limit.unit = config::ToString(rate.unit);
    limit.redis_address = rate.global_redis_address;
    limit.redis_host = rate.global_redis_host;
    limit.redis_port = rate.global_redis_port;
    if (previous != nullptr) {
      for (const RouteLimit& old : previous->limits_) {
        if (old.key == limit.key && SameParams(old.input, limit.input) &&
            SameParams(old.output, limit.output) && old.redis_address == limit.redis_address) {
          limit.buckets = old.buckets;
        }
      }
    }
    if (!limit.buckets) limit.buckets = std::make_shared<TokenBuckets>();
    limits_.push_back(std::move(limit));
  }
}

const RouteLimit* RouteLimits::Find(const config::ModelRoute* route) const {
  // A handful of limited routes at most: a scan beats a hash of the pointer.
  for (const RouteLimit& limit : limits_) {
    if (limit.route == route) return &limit;
  }
  return nullptr;
}

void AddBuckets(const RouteLimit& limit, LimitCheck& check) {
  if (limit.input) {
    check.Add({&limit.buckets->input, *limit.input, Resource::kInputTokens, limit.owner,
               limit.unit, -1});
  }
  if (limit.output) {
    check.Add({&limit.buckets->output, *limit.output, Resource::kOutputTokens, limit.owner,
               limit.unit, -1});
  }
}

}  // namespace pdgate::limits
