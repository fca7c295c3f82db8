#pragma once
// Configuration errors and warnings. Every message names the file, the document, the object and
// the field path, e.g.
//   pd.yaml: document 2 (ModelRoute dev/deepseek-v2): spec.rules[0].targetModels[1].weight: ...
#include <string>
#include <string_view>
#include <vector>

namespace pdgate::config {

class Diagnostics {
 public:
  void AddError(std::string message) { errors_.push_back(std::move(message)); }
  void AddWarning(std::string message) { warnings_.push_back(std::move(message)); }
  const std::vector<std::string>& errors() const { return errors_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
};

// Where one object came from. Reports through Diagnostics with the object's prefix.
class ObjectScope {
 public:
  // `location` is e.g. "pd.yaml: document 2" or "pods.yaml: document 1 items[3]".
  ObjectScope(Diagnostics& diagnostics, std::string location)
      : diagnostics_(diagnostics), location_(std::move(location)) {}

  // Names the object once its kind and metadata are known: "(ModelRoute dev/deepseek-v2)".
  void SetObject(std::string_view kind, std::string_view key);

  void Error(std::string_view path, std::string_view reason);
  void Warning(std::string_view path, std::string_view reason);
  int error_count() const { return error_count_; }
  const std::string& prefix() const { return prefix_.empty() ? location_ : prefix_; }
  const std::string& location() const { return location_; }

 private:
  std::string Format(std::string_view path, std::string_view reason) const;

  Diagnostics& diagnostics_;
  std::string location_;
  std::string prefix_;
  int error_count_ = 0;
};

// Field path helpers: Join("spec", "model") == "spec.model", Index("spec.rules", 0) ==
// "spec.rules[0]".
std::string JoinPath(std::string_view parent, std::string_view key);
std::string IndexPath(std::string_view parent, size_t index);

}  // namespace pdgate::config
