#pragma once
// ModelRoute's StringMatch: exactly one of exact / prefix / regex.
#include <memory>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace pdgate::config {

class StringMatch {
 public:
  enum class Kind { kExact, kPrefix, kRegex };

  static StringMatch Exact(std::string value);
  static StringMatch Prefix(std::string value);
  // `compiled` must be a successfully compiled RE2 of `pattern`.
  static StringMatch Regex(std::string pattern, std::shared_ptr<const re2::RE2> compiled);

  // Regex matching is unanchored, like Go's regexp.MatchString that Kthena uses, so the same
  // ModelRoute selects the same requests in either router. Anchor with ^...$ for a full match.
  bool Matches(std::string_view input) const;

  Kind kind() const { return kind_; }
  const std::string& value() const { return value_; }

 private:
  StringMatch(Kind kind, std::string value, std::shared_ptr<const re2::RE2> regex)
      : kind_(kind), value_(std::move(value)), regex_(std::move(regex)) {}

  Kind kind_;
  std::string value_;
  std::shared_ptr<const re2::RE2> regex_;
};

std::string_view ToString(StringMatch::Kind kind);

}  // namespace pdgate::config
