#pragma once
// Writing small pieces of JSON text by hand (errors, rewritten fields): no DOM on the data path.
#include <string>
#include <string_view>

#include "base/strings.h"

namespace pdgate::router {

// Appends `value` as a quoted JSON string, escaping quotes, backslashes and control characters.
using pdgate::AppendJsonString;  // base/strings.h
std::string JsonString(std::string_view value);

}  // namespace pdgate::router
