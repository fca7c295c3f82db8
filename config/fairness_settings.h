#pragma once
// Reading the fairness settings: the RouterConfiguration's `fairness` section and Kthena's
// environment variables (ENABLE_FAIRNESS_SCHEDULING, FAIRNESS_*), which win over the files.
#include <functional>

#include "config/router_settings.h"
#include "config/yaml_reader.h"

namespace pdgate::config {

void ParseFairnessSettings(MapReader& spec, FairnessSettings& settings);

// Invalid values are errors (a typo would otherwise silently leave fairness as configured).
void ApplyKthenaFairnessEnv(const std::function<const char*(const char*)>& getenv,
                            FairnessSettings& settings, ObjectScope& scope);

}  // namespace pdgate::config
