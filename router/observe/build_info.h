#pragma once
#include <string_view>

namespace pdgate::router {

std::string_view Version();
// The simdjson kernel our inlined On-Demand code was compiled for ("haswell", "fallback", ...).
// The prebuilt library's own choice says nothing about it (see CMakeLists.txt, PDGATE_MARCH).
std::string_view SimdjsonKernel();

}  // namespace pdgate::router
