#pragma once
// Typed, exception-free reading of one YAML mapping with field paths in every message. Each key a
// reader is asked for is "known"; Finish() warns about the rest, so unknown fields never fail a
// load (Kubernetes objects carry many fields pdgate has no use for). Internal to config/.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"
#include "config/labels.h"

namespace pdgate::config {

enum class Presence { kOptional, kRequired };

class MapReader {
 public:
  // Reports "must be a mapping" when `node` is neither a map nor absent/null.
  MapReader(const YAML::Node& node, std::string path, ObjectScope& scope);

  bool present() const { return present_; }
  const std::string& path() const { return path_; }
  std::string PathOf(std::string_view key) const { return JoinPath(path_, key); }
  ObjectScope& scope() { return scope_; }

  // The raw child (marked known); an undefined node when absent or null.
  YAML::Node Child(std::string_view key);
  bool Has(std::string_view key) const;

  std::optional<std::string> String(std::string_view key, Presence presence = Presence::kOptional);
  std::optional<int64_t> Int(std::string_view key, int64_t min, int64_t max,
                             Presence presence = Presence::kOptional);
  std::optional<double> Double(std::string_view key, Presence presence = Presence::kOptional);
  std::optional<bool> Bool(std::string_view key);
  // Go/Kubernetes durations: "10s", "100ms", "1m30s". Negative and infinite values fail.
  std::optional<std::chrono::nanoseconds> Duration(std::string_view key,
                                                   Presence presence = Presence::kOptional);
  // A map of Kubernetes label keys to values; `min_size` entries at least when present.
  std::optional<Labels> LabelMap(std::string_view key, size_t min_size,
                                 Presence presence = Presence::kOptional);
  // A sequence of strings.
  std::optional<std::vector<std::string>> StringList(std::string_view key);
  // Keys a reader knows but deliberately ignores (e.g. metadata.uid): no warning.
  void Ignore(std::initializer_list<std::string_view> keys);

  // Warns once per key that no accessor asked for.
  void Finish();

 private:
  void Error(std::string_view key, std::string_view reason);
  void MarkKnown(std::string_view key);

  YAML::Node node_;
  std::string path_;
  ObjectScope& scope_;
  bool present_ = false;
  std::vector<std::string> known_;
};

// Scalar helpers for sequences and nested values; false with an error reported on failure.
bool ReadScalarString(const YAML::Node& node, const std::string& path, ObjectScope& scope,
                      std::string& out);
// Checks a node is a sequence (absent/null is an empty one); reports otherwise.
bool IsSequenceOrAbsent(const YAML::Node& node, const std::string& path, ObjectScope& scope);

// Kubernetes syntax rules, returning an empty string when valid or the reason.
std::string LabelKeyProblem(std::string_view key);
std::string LabelValueProblem(std::string_view value);

}  // namespace pdgate::config
