// `sharedState` of a RouterConfiguration spec, and Kthena's REDIS_HOST/REDIS_PORT/REDIS_PASSWORD
// environment (its routers share in-flight counts through that Redis).
#include <cstdlib>

#include "config/host_port.h"
#include "config/object_parsers.h"
#include "config/shared_state_settings.h"
#include "base/strings.h"

namespace pdgate::config {

void ParseSharedState(MapReader& spec, SharedStateSettings& shared) {
  MapReader reader(spec.Child("sharedState"), spec.PathOf("sharedState"), spec.scope());
  ObjectScope& scope = spec.scope();
  MapReader redis(reader.Child("redis"), reader.PathOf("redis"), scope);
  if (auto address = redis.String("address", redis.present() ? Presence::kRequired
                                                             : Presence::kOptional)) {
    if (std::optional<HostPort> parsed = ParseHostPort(*address, 6379)) {
      shared.redis_host = parsed->host;
      shared.redis_port = parsed->port;
    } else {
      scope.Error(redis.PathOf("address"), "must be host:port, not \"" + *address + "\"");
    }
  }
  if (auto env = redis.String("passwordEnv")) {
    const char* value = std::getenv(env->c_str());
    if (value == nullptr) {
      scope.Error(redis.PathOf("passwordEnv"), "environment variable " + *env + " is not set");
    } else {
      shared.password = value;
    }
  }
  redis.Finish();
  if (auto interval = reader.Duration("syncInterval")) {
    if (*interval < std::chrono::milliseconds(10) || *interval > std::chrono::seconds(10)) {
      scope.Error(reader.PathOf("syncInterval"), "must be between 10ms and 10s");
    } else {
      shared.sync_interval = std::chrono::duration_cast<milliseconds>(*interval);
    }
  }
  if (auto id = reader.String("replicaId")) shared.replica_id = *id;
  reader.Finish();
}

void ApplyKthenaRedisEnv(const std::function<const char*(const char*)>& getenv,
                         SharedStateSettings& shared, ObjectScope& scope) {
  const char* host = getenv("REDIS_HOST");
  if (host == nullptr || *host == '\0' || shared.enabled()) return;  // the file's address wins
  const char* port = getenv("REDIS_PORT");
  const std::string address = StrCat(host, ":", port != nullptr && *port != '\0' ? port : "6379");
  std::optional<HostPort> parsed = ParseHostPort(address, 6379);
  if (!parsed) {
    scope.Error("REDIS_HOST/REDIS_PORT", StrCat("\"", address, "\" is not host:port"));
    return;
  }
  shared.redis_host = parsed->host;
  shared.redis_port = parsed->port;
  if (const char* password = getenv("REDIS_PASSWORD")) shared.password = password;
}

}  // namespace pdgate::config
