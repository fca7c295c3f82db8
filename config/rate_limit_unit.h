#pragma once
// The units of rate limits, Kthena's (ModelRoute rateLimit) and pdgate's (rateLimits): second,
// minute, hour, day and month, which Kthena takes as 30 days.
#include <cstdint>
#include <optional>
#include <string_view>

namespace pdgate::config {

enum class RateLimitUnit { kSecond, kMinute, kHour, kDay, kMonth };

std::optional<RateLimitUnit> ParseRateLimitUnit(std::string_view name);
std::string_view ToString(RateLimitUnit unit);
int64_t Seconds(RateLimitUnit unit);

}  // namespace pdgate::config
