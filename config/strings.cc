#include "config/strings.h"

#include <cstdio>

namespace pdgate {

void strings_internal::Append(std::string& out, double value) {
  char buffer[32];
  int n = std::snprintf(buffer, sizeof(buffer), "%g", value);
  out.append(buffer, size_t(n));
}

std::string StrJoin(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.append(separator);
    out.append(parts[i]);
  }
  return out;
}

}  // namespace pdgate
