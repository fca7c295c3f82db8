#include "router/openai/json_text.h"

namespace pdgate::router {

std::string JsonString(std::string_view value) {
  std::string out;
  AppendJsonString(out, value);
  return out;
}

}  // namespace pdgate::router
