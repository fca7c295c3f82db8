#include "router/openai/openai_error.h"

#include <simdjson.h>

#include "base/strings.h"
#include "router/openai/json_text.h"

namespace pdgate::router {
namespace {

namespace od = simdjson::ondemand;

std::string Nested(std::string_view message, std::string_view type, std::string_view param_json,
                   std::string_view code_json) {
  std::string out = R"({"error":{"message":)";
  AppendJsonString(out, message);
  StrAppend(out, R"(,"type":)");
  AppendJsonString(out, type);
  StrAppend(out, R"(,"param":)", param_json.empty() ? "null" : param_json, R"(,"code":)",
            code_json.empty() ? "null" : code_json, "}}");
  return out;
}

}  // namespace

std::string_view ErrorTypeFor(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
    case 400:
    case 405:
    case 413:
    case 431:
      return "invalid_request_error";
    case 429:
      return "rate_limit_error";
    case 503:
      return "service_unavailable";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string ErrorBody(const ErrorInfo& error) {
  std::string_view type = error.type.empty() ? ErrorTypeFor(error.status) : error.type;
  return Nested(error.message, type, error.param.empty() ? "" : JsonString(error.param),
                error.code.empty() ? "" : JsonString(error.code));
}

std::string ErrorEvent(const ErrorInfo& error) {
  return StrCat("data: ", ErrorBody(error), "\n\ndata: [DONE]\n\n");
}

std::string NormalizeEngineError(int status, std::string_view body) {
  simdjson::padded_string copy(body);
  thread_local od::parser parser;
  od::document doc;
  od::object object;
  if (!parser.iterate(copy).get(doc) && !doc.get_object().get(object)) {
    std::string_view message, type, param_raw = "null", code_raw;
    bool nested = false, flat = false;
    for (auto result : object) {
      od::field field;
      if (std::move(result).get(field)) break;
      std::string_view key;
      if (field.unescaped_key().get(key)) break;
      od::value value = field.value();
      if (key == "error") {
        od::json_type json_type;
        if (value.type().get(json_type)) break;
        if (json_type == od::json_type::object) {
          nested = true;  // already the right shape
          break;
        }
        if (json_type == od::json_type::string && !value.get_string().get(message)) {
          flat = true;  // {"error": "Unauthorized"}
        }
      } else if (key == "message" && !value.get_string().get(message)) {
        flat = true;
      } else if (key == "type") {
        if (value.get_string().get(type)) type = {};
      } else if (key == "param") {
        if (simdjson::to_json_string(value).get(param_raw)) param_raw = "null";
      } else if (key == "code") {
        if (simdjson::to_json_string(value).get(code_raw)) code_raw = {};
      }
    }
    if (nested) return std::string(body);
    if (flat) {
      return Nested(message, type.empty() ? ErrorTypeFor(status) : type, param_raw,
                    code_raw.empty() ? StrCat(status) : std::string(code_raw));
    }
  }
  // Not JSON at all (a proxy's HTML page, plain text): keep a bounded excerpt as the message.
  std::string_view excerpt = body.substr(0, 512);
  return Nested(
      excerpt.empty() ? StrCat("upstream returned status ", status) : std::string(excerpt),
      ErrorTypeFor(status), "", StrCat(status));
}

}  // namespace pdgate::router
