#pragma once
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace pdgate::testing {

// The source tree (examples, fixtures) and the built binaries, fixed at configure time.
inline std::string SourcePath(const std::string& relative) {
  return std::string(PDGATE_SOURCE_DIR) + "/" + relative;
}
inline std::string BinaryPath(const std::string& name) {
  return std::string(PDGATE_BIN_DIR) + "/" + name;
}
// Wire fixtures recorded from real vLLM and SGLang engines ("fixtures/NAME"). They come from the
// research share and are copied into tests/fixtures/ so that a clone tests on its own.
inline std::string SharedPath(const std::string& relative) {
  return std::string(PDGATE_SOURCE_DIR) + "/tests/" + relative;
}

// A new path in $TMPDIR (or /tmp) for a file a test writes: "pdgate-<what>-<pid>-<n><suffix>".
inline std::string TempFile(const std::string& what, const std::string& suffix) {
  static std::atomic<int> counter{0};
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/pdgate-" + what + "-" +
         std::to_string(getpid()) + "-" + std::to_string(counter++) + suffix;
}

}  // namespace pdgate::testing
