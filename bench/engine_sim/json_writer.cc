#include "bench/engine_sim/json_writer.h"

#include "config/strings.h"

namespace pdgate::sim {

void AppendJsonString(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 15]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string_view ErrorType(int status) {
  switch (status) {
    case 400:
      return "BadRequestError";
    case 404:
      return "NotFoundError";
    case 429:
      return "RateLimitError";
    case 501:
      return "NotImplementedError";
    case 503:
      return "ServiceUnavailableError";
    default:
      return status >= 500 ? "InternalServerError" : "BadRequestError";
  }
}

std::string ErrorBody(int status, std::string_view message, bool flat) {
  std::string out;
  out.reserve(message.size() + 96);
  out += flat ? R"({"object":"error","message":)" : R"({"error":{"message":)";
  AppendJsonString(out, message);
  out += R"(,"type":")";
  out += ErrorType(status);
  StrAppend(out, R"(","param":null,"code":)", status, flat ? "}" : "}}");
  return out;
}

}  // namespace pdgate::sim
