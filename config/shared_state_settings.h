#pragma once
// Reading `sharedState` (and Kthena's REDIS_HOST environment, which turns it on when the files
// do not set an address).
#include <functional>

#include "config/router_settings.h"
#include "config/yaml_reader.h"

namespace pdgate::config {

void ParseSharedState(MapReader& spec, SharedStateSettings& shared);
void ApplyKthenaRedisEnv(const std::function<const char*(const char*)>& getenv,
                         SharedStateSettings& shared, ObjectScope& scope);

}  // namespace pdgate::config
