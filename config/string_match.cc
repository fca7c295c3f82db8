#include "config/string_match.h"

#include <re2/re2.h>

namespace pdgate::config {

StringMatch StringMatch::Exact(std::string value) {
  return StringMatch(Kind::kExact, std::move(value), nullptr);
}

StringMatch StringMatch::Prefix(std::string value) {
  return StringMatch(Kind::kPrefix, std::move(value), nullptr);
}

StringMatch StringMatch::Regex(std::string pattern, std::shared_ptr<const re2::RE2> compiled) {
  return StringMatch(Kind::kRegex, std::move(pattern), std::move(compiled));
}

bool StringMatch::Matches(std::string_view input) const {
  switch (kind_) {
    case Kind::kExact:
      return input == value_;
    case Kind::kPrefix:
      return input.substr(0, value_.size()) == value_;
    case Kind::kRegex:
      return re2::RE2::PartialMatch(re2::StringPiece(input.data(), input.size()), *regex_);
  }
  return false;
}

std::string_view ToString(StringMatch::Kind kind) {
  switch (kind) {
    case StringMatch::Kind::kExact:
      return "exact";
    case StringMatch::Kind::kPrefix:
      return "prefix";
    case StringMatch::Kind::kRegex:
      return "regex";
  }
  return "?";
}

}  // namespace pdgate::config
