#pragma once
#include <string>

namespace pdgate::testing {

// The source tree (examples, fixtures) and the built binaries, fixed at configure time.
inline std::string SourcePath(const std::string& relative) {
  return std::string(PDGATE_SOURCE_DIR) + "/" + relative;
}
inline std::string BinaryPath(const std::string& name) {
  return std::string(PDGATE_BIN_DIR) + "/" + name;
}
// shared/ sits beside the repository (fixtures recorded from real engines).
inline std::string SharedPath(const std::string& relative) {
  return std::string(PDGATE_SOURCE_DIR) + "/../shared/" + relative;
}

}  // namespace pdgate::testing
