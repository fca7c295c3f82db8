#pragma once
// Checks for the header fields pdgate writes itself (relayed responses, leg requests): a CR or LF
// in a name or value would end the field early and let the rest pose as a header of its own.
#include <cstring>
#include <string_view>

namespace pdgate::router {

// One memchr per byte looked for (a vectorized scan of the whole value), not
// string_view::find_first_of, which calls memchr once per byte of the value.
inline bool IsFieldValueSafe(std::string_view value) {
  if (value.empty()) return true;  // data() may be null, which memchr must not get
  return std::memchr(value.data(), '\r', value.size()) == nullptr &&
         std::memchr(value.data(), '\n', value.size()) == nullptr;
}

inline bool IsFieldNameSafe(std::string_view name) {
  for (char c : name) {
    if (c == '\r' || c == '\n' || c == ':') return false;
  }
  return !name.empty();
}

}  // namespace pdgate::router
