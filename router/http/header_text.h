#pragma once
// Checks for the header fields pdgate writes itself (relayed responses, leg requests): a CR or LF
// in a name or value would end the field early and let the rest pose as a header of its own.
#include <string_view>

namespace pdgate::router {

// A plain loop: string_view::find_first_of calls memchr once per byte.
inline bool IsFieldValueSafe(std::string_view value) {
  for (char c : value) {
    if (c == '\r' || c == '\n') return false;
  }
  return true;
}

inline bool IsFieldNameSafe(std::string_view name) {
  for (char c : name) {
    if (c == '\r' || c == '\n' || c == ':') return false;
  }
  return !name.empty();
}

}  // namespace pdgate::router
