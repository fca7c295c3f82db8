#pragma once
// What api.cc and api_generate.cc share (SimApi's methods are split between them): the JSON
// content type, the clock and the random ids vLLM puts in its responses.
#include <cstdint>
#include <string>
#include <string_view>

namespace pdgate::sim::api_internal {

inline constexpr std::string_view kJson = "application/json";

int64_t UnixNow();
std::string RandomUuid();  // a version-4 UUID
std::string RandomHex8();  // 8 random hex digits

}  // namespace pdgate::sim::api_internal
