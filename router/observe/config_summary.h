#pragma once
// Human-readable summary of a loaded configuration: what `pdgate validate` and startup print.
#include <chrono>
#include <string>

#include "config/config.h"
#include "discovery/endpoint_snapshot.h"

namespace pdgate::router {

std::string DescribeConfig(const discovery::EndpointSnapshot& snapshot);

// "10s", "1m30s", "250ms".
std::string FormatDuration(std::chrono::nanoseconds duration);

}  // namespace pdgate::router
