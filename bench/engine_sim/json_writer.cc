#include "bench/engine_sim/json_writer.h"

#include "base/strings.h"

namespace pdgate::sim {

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
