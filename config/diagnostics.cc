#include "config/diagnostics.h"

#include "base/strings.h"

namespace pdgate::config {

void ObjectScope::SetObject(std::string_view kind, std::string_view key) {
  prefix_ = StrCat(location_, " (", kind, " ", key, ")");
}

std::string ObjectScope::Format(std::string_view path, std::string_view reason) const {
  if (path.empty()) return StrCat(prefix(), ": ", reason);
  return StrCat(prefix(), ": ", path, ": ", reason);
}

void ObjectScope::Error(std::string_view path, std::string_view reason) {
  ++error_count_;
  diagnostics_.AddError(Format(path, reason));
}

void ObjectScope::Warning(std::string_view path, std::string_view reason) {
  diagnostics_.AddWarning(Format(path, reason));
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return StrCat(parent, ".", key);
}

std::string IndexPath(std::string_view parent, size_t index) {
  return StrCat(parent, "[", index, "]");
}

}  // namespace pdgate::config
