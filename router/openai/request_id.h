#pragma once
#include <random>
#include <string>

namespace pdgate::router {

// A random UUID version 4, the form Kthena and vLLM use for X-Request-Id.
std::string NewRequestId(std::mt19937_64& rng);

}  // namespace pdgate::router
