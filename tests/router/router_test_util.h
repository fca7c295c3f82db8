#pragma once
#include <fstream>
#include <sstream>
#include <string>

#include "router/openai/openai_request.h"
#include "tests/support/paths.h"

namespace pdgate::testing {

// A body with simdjson's padding behind it, as the session holds it.
struct PaddedBody {
  explicit PaddedBody(std::string text) : text_(std::move(text)) {
    text_.reserve(text_.size() + router::kJsonPadding);
  }
  std::string_view view() const { return text_; }
  absl::StatusOr<router::OpenAIRequest> Parse() const {
    return router::ParseOpenAIRequest(text_, text_.capacity());
  }
  std::string text_;
};

// A whole file's text; empty when it cannot be read.
inline std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::string ReadFixture(const std::string& name) {
  std::ifstream in(SharedPath("fixtures/" + name), std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The value of one exposition line, e.g. `pdgate_active_requests`, or -1 when absent.
inline double MetricValue(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace pdgate::testing
