#include "router/limits/principal_limits.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>

#include "base/strings.h"

namespace pdgate::limits {
namespace {

bool Same(const config::PrincipalLimitSetting& a, const config::PrincipalLimitSetting& b) {
  return a.name == b.name && a.key == b.key && a.requests_per_unit == b.requests_per_unit &&
         a.input_tokens_per_unit == b.input_tokens_per_unit &&
         a.output_tokens_per_unit == b.output_tokens_per_unit && a.unit == b.unit &&
         a.redis_address == b.redis_address;
}

bool Full(const std::atomic<int64_t>& tat, int64_t now_us) {
  return tat.load(std::memory_order_relaxed) <= now_us;
}

}  // namespace

BucketMap::BucketMap(size_t max_principals)
    : max_per_shard_(std::max<size_t>(max_principals / kShards, 1)) {}

std::shared_ptr<PrincipalBuckets> BucketMap::Get(std::string_view principal) {
  Shard& shard = shards_[std::hash<std::string_view>{}(principal) % kShards];
  std::lock_guard lock(shard.mutex);
  if (auto it = shard.sets.find(principal); it != shard.sets.end()) return it->second;
  while (shard.sets.size() >= max_per_shard_ && !shard.order.empty()) {
    shard.sets.erase(shard.order.front());
    shard.order.pop_front();
    evicted_full_.fetch_add(1, std::memory_order_relaxed);
  }
  auto set = std::make_shared<PrincipalBuckets>();
  shard.sets.emplace(std::string(principal), set);
  shard.order.emplace_back(principal);
  return set;
}

size_t BucketMap::EvictIdle(int64_t now_us) {
  size_t evicted = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    std::erase_if(shard.order, [&](const std::string& key) {
      auto it = shard.sets.find(key);
      if (it == shard.sets.end()) return true;
      const PrincipalBuckets& set = *it->second;
      if (Full(set.requests, now_us) && Full(set.input, now_us) && Full(set.output, now_us)) {
        shard.sets.erase(it);
        ++evicted;
        return true;
      }
      return false;
    });
  }
  return evicted;
}

size_t BucketMap::size() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.sets.size();
  }
  return total;
}

PrincipalLimits::PrincipalLimits(const config::RouterSettings& settings,
                                 const PrincipalLimits* previous, size_t max_principals) {
  for (const config::PrincipalLimitSetting& setting : settings.rate_limits) {
    PrincipalLimit limit;
    limit.setting = setting;
    limit.owner = StrCat("limit ", setting.name);
    limit.unit = config::ToString(setting.unit);
    const double period_us = double(config::Seconds(setting.unit)) * 1e6;
    if (setting.requests_per_unit) {
      limit.requests = GcraParams::PerPeriod(*setting.requests_per_unit, period_us);
    }
    if (setting.input_tokens_per_unit) {
      limit.input = GcraParams::PerPeriod(*setting.input_tokens_per_unit, period_us);
    }
    if (setting.output_tokens_per_unit) {
      limit.output = GcraParams::PerPeriod(*setting.output_tokens_per_unit, period_us);
    }
    if (previous != nullptr) {
      for (const PrincipalLimit& old : previous->limits_) {
        if (Same(old.setting, setting)) limit.buckets = old.buckets;
      }
    }
    if (!limit.buckets) limit.buckets = std::make_shared<BucketMap>(max_principals);
    limits_.push_back(std::move(limit));
  }
}

bool Matches(const PrincipalLimit& limit, std::string_view model, const Identity& who) {
  const config::PrincipalLimitSetting& s = limit.setting;
  if (!s.models.empty() && std::find(s.models.begin(), s.models.end(), model) == s.models.end()) {
    return false;
  }
  return (s.match_user.empty() || s.match_user == who.user) &&
         (s.match_tenant.empty() || s.match_tenant == who.tenant) &&
         (s.match_api_key.empty() || s.match_api_key == who.api_key);
}

std::string_view PrincipalOf(const PrincipalLimit& limit, const Identity& who) {
  if (limit.setting.key == config::LimitKey::kTenant) return who.tenant;
  if (limit.setting.key == config::LimitKey::kApiKey) return who.api_key;
  return who.user;
}

std::string RedisKeyPrefix(const PrincipalLimit& limit, const Identity& who) {
  std::string_view kind = "user";
  if (limit.setting.key == config::LimitKey::kTenant) kind = "tenant";
  if (limit.setting.key == config::LimitKey::kApiKey) kind = "apiKey";
  // The principal comes from a client's header or a token: a long or odd one is hashed, so
  // that keys stay short and a brace cannot move the hash tag.
  const std::string_view principal = PrincipalOf(limit, who);
  const bool plain =
      principal.size() <= 128 && std::all_of(principal.begin(), principal.end(), [](char c) {
        return c > ' ' && c < 0x7f && c != '{' && c != '}';
      });
  if (plain) return StrCat("pdgate:pl:{", limit.setting.name, ":", kind, ":", principal, "}:");
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(principal.data(), principal.size())));
  return StrCat("pdgate:pl:{", limit.setting.name, ":", kind, ":#", hex, "}:");
}

void AddBuckets(const PrincipalLimit& limit, const Identity& who, LimitCheck& check,
                std::vector<std::shared_ptr<PrincipalBuckets>>& sets, int limit_index) {
  std::shared_ptr<PrincipalBuckets> set = limit.buckets->Get(PrincipalOf(limit, who));
  if (limit.requests) {
    check.Add({&set->requests, *limit.requests, Resource::kRequests, limit.owner, limit.unit,
               limit_index});
  }
  if (limit.input) {
    check.Add({&set->input, *limit.input, Resource::kInputTokens, limit.owner, limit.unit,
               limit_index});
  }
  if (limit.output) {
    check.Add({&set->output, *limit.output, Resource::kOutputTokens, limit.owner, limit.unit,
               limit_index});
  }
  sets.push_back(std::move(set));
}

}  // namespace pdgate::limits
