#pragma once
// The usage object as engines write it — `{"prompt_tokens":16,"total_tokens":20,
// "completion_tokens":4,"prompt_tokens_details":null}`, keys without escapes, counts as plain
// digits — read without a JSON parser: simdjson's fixed cost (its stage 1 and the iteration)
// was ~1,200 instructions for this ~100-byte object, on every non-streamed answer.
#include <optional>
#include <string_view>

#include "router/openai/sse_filter.h"

namespace pdgate::router {

// The usage ReadUsageObject would give for `object` (its text exactly, from `{` to `}`), or
// nullopt when it is not in that plain form (an escape, a sign, a fraction, a string or nested
// value other than `prompt_tokens_details: {"cached_tokens": N}`, bytes outside ASCII, anything
// malformed): the caller then parses it.
std::optional<Usage> ReadPlainUsage(std::string_view object);

}  // namespace pdgate::router
