#pragma once
// Loads multi-document YAML files of Kubernetes objects into one validated, immutable Config.
// Accepted kinds: networking.serving.volcano.sh/v1alpha1 ModelServer and ModelRoute; v1 Pod (and
// v1 List/PodList of them, or of any accepted kind); pdgate.io/v1alpha1 RouterConfiguration;
// a v1 ConfigMap carrying Kthena's routerConfiguration. Other kinds are skipped with a warning, so
// a directory of manifests can be pointed at as it is.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace pdgate::config {

// Command-line settings that win over the files.
struct SettingsOverrides {
  std::optional<uint16_t> port;
  std::optional<uint16_t> admin_port;
  std::optional<int> threads;
  // The process environment, for Kthena's fairness and REDIS_* variables (null: none, as in
  // tests).
  std::function<const char*(const char*)> getenv;
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when `errors` is not empty
  std::vector<std::string> errors;       // every error found, each fully located
  std::vector<std::string> warnings;
};

class ConfigLoader {
 public:
  ConfigLoader();
  ~ConfigLoader();
  ConfigLoader(const ConfigLoader&) = delete;
  ConfigLoader& operator=(const ConfigLoader&) = delete;

  // Reads a file; `display_name` (default: the path) starts every message about it.
  void AddFile(const std::string& path);
  // YAML text from elsewhere (tests, the API server); `source_name` starts its messages.
  void AddYaml(std::string_view source_name, std::string_view text);

  LoadResult Finish(const SettingsOverrides& overrides = {});

 private:
  struct State;
  std::unique_ptr<State> state_;
};

LoadResult LoadConfigFiles(const std::vector<std::string>& paths,
                           const SettingsOverrides& overrides = {});

}  // namespace pdgate::config
