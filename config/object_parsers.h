#pragma once
// One parser per kind; each reads a document through a MapReader (apiVersion and kind already
// consumed) and reports through its ObjectScope. Internal to config/.
#include <optional>

#include "config/model_route.h"
#include "config/model_server.h"
#include "config/pod.h"
#include "config/router_settings.h"
#include "config/yaml_reader.h"

namespace pdgate::config {

// Reads `metadata` and names the object in `scope`. Nullopt when the name is missing.
std::optional<ObjectMeta> ParseObjectMeta(MapReader& doc, std::string_view kind);

std::optional<ModelServer> ParseModelServer(MapReader& doc);
std::optional<ModelRoute> ParseModelRoute(MapReader& doc);
std::optional<Pod> ParsePod(MapReader& doc);
// pdgate's RouterConfiguration document.
void ParseRouterConfiguration(MapReader& doc, RouterSettings& settings);
// Kthena's routerConfiguration (`scheduler`, `auth`) at `root` of a YAML document; the kind of
// document Kthena mounts from its ConfigMap.
void ParseKthenaRouterConfiguration(MapReader& root, RouterSettings& settings);
// `rateLimits` and `rateLimitUserHeader` of a RouterConfiguration spec.
void ParsePrincipalLimits(MapReader& spec, RouterSettings& settings);
// `key: user | tenant | apiKey` of `reader` into `out` (unchanged when absent; an error when
// another value). Per-principal limits and fairness share it.
void ReadLimitKey(MapReader& reader, LimitKey& out);
// Kthena's `global: {redis: {address: host:port}}` under `reader`: the address, split and
// checked at load; nullopt when absent (or wrong: the error is recorded).
struct GlobalRedis {
  std::string address;
  std::string host;
  uint16_t port = 6379;
};
std::optional<GlobalRedis> ReadGlobalRedis(MapReader& reader);
// The `auth` section at `root` (Kthena's fields and pdgate's); reads apiKeysFile.
void ParseAuthSettings(MapReader& root, AuthSettings& auth);

}  // namespace pdgate::config
