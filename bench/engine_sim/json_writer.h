#pragma once
// Tiny JSON output helpers: responses are built by appending, not through a DOM.
#include <string>
#include <string_view>

#include "base/strings.h"

namespace pdgate::sim {

// Appends `value` as a JSON string literal (quotes included).
using pdgate::AppendJsonString;  // base/strings.h

// The OpenAI error body vLLM (>= 0.10.1) sends: {"error":{"message","type","param","code"}},
// `code` equal to the HTTP status; `flat` gives the pre-0.10.1 {"object":"error",...} shape.
std::string ErrorBody(int status, std::string_view message, bool flat = false);
// The exception type name vLLM puts in "type" for a status.
std::string_view ErrorType(int status);

}  // namespace pdgate::sim
