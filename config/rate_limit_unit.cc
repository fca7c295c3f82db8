#include "config/rate_limit_unit.h"

#include <array>
#include <utility>

namespace pdgate::config {
namespace {

constexpr std::array<std::pair<std::string_view, int64_t>, 5> kUnits = {{
    {"second", 1},
    {"minute", 60},
    {"hour", 3600},
    {"day", 86400},
    {"month", 30 * 86400},
}};

}  // namespace

std::optional<RateLimitUnit> ParseRateLimitUnit(std::string_view name) {
  for (size_t i = 0; i < kUnits.size(); ++i) {
    if (kUnits[i].first == name) return RateLimitUnit(i);
  }
  return std::nullopt;
}

std::string_view ToString(RateLimitUnit unit) { return kUnits[size_t(unit)].first; }

int64_t Seconds(RateLimitUnit unit) { return kUnits[size_t(unit)].second; }

}  // namespace pdgate::config
