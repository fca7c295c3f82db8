#include "config/yaml_reader.h"

#include <absl/strings/numbers.h>
#include <absl/time/time.h>

#include <algorithm>
#include <cmath>

#include "base/strings.h"

namespace pdgate::config {
namespace {

bool Absent(const YAML::Node& node) { return !node.IsDefined() || node.IsNull(); }

// A quoted scalar carries the non-specific tag "!"; a plain one "?". Kubernetes rejects "8000"
// (a string) where an integer belongs, and so do we.
bool IsQuoted(const YAML::Node& node) { return node.Tag() == "!"; }

std::string_view KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "null";
  }
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Kubernetes "qualified name" part and label value: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?
bool IsLabelToken(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// RFC 1123 subdomain: lower-case alphanumerics, '-' and '.', alphanumeric at both ends.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_alnum(s.front()) || !lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return lower_alnum(c) || c == '-' || c == '.'; });
}

}  // namespace

std::string LabelKeyProblem(std::string_view key) {
  std::string_view name = key;
  if (auto slash = key.find('/'); slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (!IsDnsSubdomain(prefix)) return "label key prefix must be a DNS subdomain";
  }
  if (name.empty() || name.size() > 63) return "label key name must be 1-63 characters";
  if (!IsLabelToken(name)) {
    return "label key name must be alphanumeric, '-', '_' or '.', starting and ending with an "
           "alphanumeric";
  }
  return {};
}

std::string LabelValueProblem(std::string_view value) {
  if (value.empty()) return {};
  if (value.size() > 63) return "label value must be at most 63 characters";
  if (!IsLabelToken(value)) {
    return "label value must be alphanumeric, '-', '_' or '.', starting and ending with an "
           "alphanumeric";
  }
  return {};
}

bool ReadScalarString(const YAML::Node& node, const std::string& path, ObjectScope& scope,
                      std::string& out) {
  if (!node.IsScalar()) {
    scope.Error(path, StrCat("must be a string, not ", KindName(node)));
    return false;
  }
  out = node.Scalar();
  return true;
}

bool IsSequenceOrAbsent(const YAML::Node& node, const std::string& path, ObjectScope& scope) {
  if (Absent(node) || node.IsSequence()) return true;
  scope.Error(path, StrCat("must be a list, not ", KindName(node)));
  return false;
}

MapReader::MapReader(const YAML::Node& node, std::string path, ObjectScope& scope)
    : node_(node), path_(std::move(path)), scope_(scope) {
  if (Absent(node_)) return;
  if (!node_.IsMap()) {
    scope_.Error(path_, StrCat("must be a mapping, not ", KindName(node_)));
    return;
  }
  present_ = true;
}

void MapReader::MarkKnown(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
}

void MapReader::Error(std::string_view key, std::string_view reason) {
  scope_.Error(PathOf(key), reason);
}

bool MapReader::Has(std::string_view key) const {
  if (!present_) return false;
  return !Absent(node_[std::string(key)]);
}

YAML::Node MapReader::Child(std::string_view key) {
  MarkKnown(key);
  if (!present_) return YAML::Node(YAML::NodeType::Undefined);
  YAML::Node child = node_[std::string(key)];
  if (Absent(child)) return YAML::Node(YAML::NodeType::Undefined);
  return child;
}

std::optional<std::string> MapReader::String(std::string_view key, Presence presence) {
  YAML::Node child = Child(key);
  if (!child.IsDefined()) {
    if (presence == Presence::kRequired) Error(key, "required");
    return std::nullopt;
  }
  std::string value;
  if (!ReadScalarString(child, PathOf(key), scope_, value)) return std::nullopt;
  if (presence == Presence::kRequired && value.empty()) {
    Error(key, "must not be empty");
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> MapReader::Int(std::string_view key, int64_t min, int64_t max,
                                      Presence presence) {
  YAML::Node child = Child(key);
  if (!child.IsDefined()) {
    if (presence == Presence::kRequired) Error(key, "required");
    return std::nullopt;
  }
  int64_t value = 0;
  if (!child.IsScalar() || IsQuoted(child) || !absl::SimpleAtoi(child.Scalar(), &value)) {
    Error(key, child.IsScalar() ? StrCat("must be an integer, not \"", child.Scalar(), "\"")
                                : StrCat("must be an integer, not ", KindName(child)));
    return std::nullopt;
  }
  if (value < min || value > max) {
    Error(key, StrCat("must be between ", min, " and ", max, ", not ", value));
    return std::nullopt;
  }
  return value;
}

std::optional<double> MapReader::Double(std::string_view key, Presence presence) {
  YAML::Node child = Child(key);
  if (!child.IsDefined()) {
    if (presence == Presence::kRequired) Error(key, "required");
    return std::nullopt;
  }
  double value = 0;
  if (!child.IsScalar() || IsQuoted(child) || !absl::SimpleAtod(child.Scalar(), &value)) {
    Error(key, "must be a number");
    return std::nullopt;
  }
  return value;
}

std::optional<bool> MapReader::Bool(std::string_view key) {
  YAML::Node child = Child(key);
  if (!child.IsDefined()) return std::nullopt;
  bool value = false;
  if (!child.IsScalar() || IsQuoted(child) || !YAML::convert<bool>::decode(child, value)) {
    Error(key, "must be true or false");
    return std::nullopt;
  }
  return value;
}

std::optional<std::chrono::nanoseconds> MapReader::Duration(std::string_view key,
                                                            Presence presence) {
  std::optional<std::string> text = String(key, presence);
  if (!text) return std::nullopt;
  absl::Duration duration;
  // absl::ParseDuration reads Go's time.ParseDuration syntax, which Kubernetes' metav1.Duration
  // uses: a sequence of decimal numbers with units ns, us, ms, s, m, h.
  if (!absl::ParseDuration(*text, &duration) || duration == absl::InfiniteDuration() ||
      *text == "inf") {
    Error(key, StrCat("\"", *text, "\" is not a duration like 10s, 100ms or 1m30s"));
    return std::nullopt;
  }
  if (duration < absl::ZeroDuration()) {
    Error(key, "must not be negative");
    return std::nullopt;
  }
  return absl::ToChronoNanoseconds(duration);
}

std::optional<Labels> MapReader::LabelMap(std::string_view key, size_t min_size,
                                          Presence presence) {
  YAML::Node child = Child(key);
  if (!child.IsDefined()) {
    if (presence == Presence::kRequired) Error(key, "required");
    return std::nullopt;
  }
  if (!child.IsMap()) {
    Error(key, StrCat("must be a mapping of labels, not ", KindName(child)));
    return std::nullopt;
  }
  Labels labels;
  bool ok = true;
  for (auto it = child.begin(); it != child.end(); ++it) {
    std::string name = it->first.Scalar();
    std::string path = JoinPath(PathOf(key), name);
    if (std::string problem = LabelKeyProblem(name); !problem.empty()) {
      scope_.Error(path, problem);
      ok = false;
      continue;
    }
    std::string value;
    if (!Absent(it->second)) {
      if (!ReadScalarString(it->second, path, scope_, value)) {
        ok = false;
        continue;
      }
    }
    if (std::string problem = LabelValueProblem(value); !problem.empty()) {
      scope_.Error(path, problem);
      ok = false;
      continue;
    }
    labels.emplace(std::move(name), std::move(value));
  }
  if (!ok) return std::nullopt;
  if (labels.size() < min_size) {
    Error(key, StrCat("must have at least ", min_size, " label", min_size == 1 ? "" : "s"));
    return std::nullopt;
  }
  return labels;
}

std::optional<std::vector<std::string>> MapReader::StringList(std::string_view key) {
  YAML::Node child = Child(key);
  if (!child.IsDefined()) return std::nullopt;
  if (!IsSequenceOrAbsent(child, PathOf(key), scope_)) return std::nullopt;
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < child.size(); ++i) {
    std::string value;
    if (!ReadScalarString(child[i], IndexPath(PathOf(key), i), scope_, value)) {
      ok = false;
      continue;
    }
    values.push_back(std::move(value));
  }
  if (!ok) return std::nullopt;
  return values;
}

void MapReader::Ignore(std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) MarkKnown(key);
}

void MapReader::Finish() {
  if (!present_) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string& key = it->first.Scalar();
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
      scope_.Warning(PathOf(key), "unknown field, ignored");
    }
  }
}

}  // namespace pdgate::config
