// `spec.rateLimits` of the RouterConfiguration: limits per principal (user, tenant or API key),
// beside Kthena's per-route `rateLimit` of ModelRoutes.
#include <cstdlib>
#include <set>

#include "config/host_port.h"
#include "config/object_parsers.h"
#include "base/strings.h"

namespace pdgate::config {
namespace {

std::optional<RateLimitUnit> ParseUnit(MapReader& entry) {
  std::optional<std::string> unit = entry.String("unit");
  if (!unit) return RateLimitUnit::kMinute;
  if (auto parsed = ParseRateLimitUnit(*unit)) return parsed;
  entry.scope().Error(entry.PathOf("unit"),
                      "must be one of second, minute, hour, day, month, not \"" + *unit + "\"");
  return std::nullopt;
}

}  // namespace

std::optional<GlobalRedis> ReadGlobalRedis(MapReader& reader) {
  MapReader global(reader.Child("global"), reader.PathOf("global"), reader.scope());
  if (!global.present()) return std::nullopt;
  MapReader redis(global.Child("redis"), global.PathOf("redis"), reader.scope());
  std::optional<std::string> address = redis.String("address", Presence::kRequired);
  std::optional<GlobalRedis> out;
  // host:port (the port may be left out: 6379), checked here rather than at the first request.
  if (address) {
    if (std::optional<HostPort> parsed = ParseHostPort(*address, 6379)) {
      out = GlobalRedis{*address, parsed->host, parsed->port};
    } else {
      reader.scope().Error(redis.PathOf("address"), "must be host:port, not \"" + *address + "\"");
    }
  }
  redis.Finish();
  global.Finish();
  return out;
}

void ReadLimitKey(MapReader& reader, LimitKey& out) {
  auto key = reader.String("key");
  if (!key) return;
  if (*key == "user") {
    out = LimitKey::kUser;
  } else if (*key == "tenant") {
    out = LimitKey::kTenant;
  } else if (*key == "apiKey") {
    out = LimitKey::kApiKey;
  } else {
    reader.scope().Error(reader.PathOf("key"),
                         "must be user, tenant or apiKey, not \"" + *key + "\"");
  }
}

void ParsePrincipalLimits(MapReader& spec, RouterSettings& settings) {
  if (auto header = spec.String("rateLimitUserHeader")) settings.rate_limit_user_header = *header;
  MapReader redis(spec.Child("rateLimitRedis"), spec.PathOf("rateLimitRedis"), spec.scope());
  RedisLimitSettings& r = settings.rate_limit_redis;
  if (auto policy = redis.String("onError")) {
    if (*policy == "local") {
      r.on_error = RedisFailurePolicy::kLocal;
    } else if (*policy == "allow") {
      r.on_error = RedisFailurePolicy::kAllow;
    } else if (*policy == "deny") {
      r.on_error = RedisFailurePolicy::kDeny;
    } else {
      spec.scope().Error(redis.PathOf("onError"),
                         "must be local, allow or deny, not \"" + *policy + "\"");
    }
  }
  if (auto timeout = redis.Duration("timeout")) {
    if (*timeout < std::chrono::milliseconds(1) || *timeout > std::chrono::seconds(5)) {
      spec.scope().Error(redis.PathOf("timeout"), "must be between 1ms and 5s");
    } else {
      r.timeout = std::chrono::duration_cast<milliseconds>(*timeout);
    }
  }
  if (auto env = redis.String("passwordEnv")) {
    const char* value = std::getenv(env->c_str());
    if (value == nullptr) {
      spec.scope().Error(redis.PathOf("passwordEnv"), "environment variable " + *env + " is not set");
    } else {
      r.password = value;
    }
  }
  redis.Finish();
  YAML::Node list = spec.Child("rateLimits");
  const std::string path = spec.PathOf("rateLimits");
  ObjectScope& scope = spec.scope();
  if (!IsSequenceOrAbsent(list, path, scope)) return;
  std::set<std::string> names;
  constexpr int64_t kMax = 0xffffffffLL;
  for (size_t i = 0; list.IsDefined() && i < list.size(); ++i) {
    MapReader entry(list[i], IndexPath(path, i), scope);
    PrincipalLimitSetting limit;
    std::optional<std::string> name = entry.String("name", Presence::kRequired);
    if (name && !names.insert(*name).second) {
      scope.Error(entry.PathOf("name"), StrCat("\"", *name, "\" is defined twice"));
    }
    limit.name = name.value_or("");
    limit.models = entry.StringList("models").value_or(std::vector<std::string>{});
    MapReader match(entry.Child("match"), entry.PathOf("match"), scope);
    limit.match_user = match.String("user").value_or("");
    limit.match_tenant = match.String("tenant").value_or("");
    limit.match_api_key = match.String("apiKey").value_or("");
    match.Finish();
    ReadLimitKey(entry, limit.key);
    if (auto n = entry.Int("requestsPerUnit", 1, kMax)) limit.requests_per_unit = uint32_t(*n);
    if (auto n = entry.Int("inputTokensPerUnit", 1, kMax)) limit.input_tokens_per_unit = uint32_t(*n);
    if (auto n = entry.Int("outputTokensPerUnit", 1, kMax)) {
      limit.output_tokens_per_unit = uint32_t(*n);
    }
    if (auto unit = ParseUnit(entry)) limit.unit = *unit;
    if (std::optional<GlobalRedis> shared = ReadGlobalRedis(entry)) {
      limit.redis_address = shared->address;
      limit.redis_host = shared->host;
      limit.redis_port = shared->port;
    }
    if (!limit.requests_per_unit && !limit.input_tokens_per_unit && !limit.output_tokens_per_unit) {
      scope.Error(entry.path(),
                  "needs requestsPerUnit, inputTokensPerUnit or outputTokensPerUnit");
    }
    entry.Finish();
    settings.rate_limits.push_back(std::move(limit));
  }
}

}  // namespace pdgate::config
