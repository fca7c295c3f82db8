// The pure parts of client.h: parsing the target URL and serializing a prompt's request body.
// No sockets; the tests call them directly.
#include <absl/status/statusor.h>

#include <string>
#include <string_view>

#include "bench/loadgen/client.h"
#include "base/strings.h"

namespace pdgate::loadgen {

absl::StatusOr<Target> ParseUrl(const std::string& url) {
  std::string_view rest(url);
  if (rest.substr(0, 7) != "http://")
    return absl::InvalidArgumentError(StrCat("only http:// URLs are supported: ", url));
  rest.remove_prefix(7);
  Target t;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  t.base_path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (!t.base_path.empty() && t.base_path.back() == '/') t.base_path.pop_back();
  if (t.base_path.size() >= 3 && t.base_path.substr(t.base_path.size() - 3) == "/v1")
    t.base_path.resize(t.base_path.size() - 3);
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    t.host = std::string(authority.substr(0, colon));
    int port = 0;
    for (char ch : authority.substr(colon + 1)) {
      if (ch < '0' || ch > '9') return absl::InvalidArgumentError(StrCat("bad port in ", url));
      port = port * 10 + (ch - '0');
      if (port > 65535) return absl::InvalidArgumentError(StrCat("bad port in ", url));
    }
    t.port = static_cast<uint16_t>(port);
  } else {
    t.host = std::string(authority);
  }
  if (t.host.empty()) return absl::InvalidArgumentError(StrCat("no host in ", url));
  return t;
}

namespace {

// One chat message: role first or content first, compact or spaced.
void AppendMessage(std::string& body, std::string_view role, std::string_view content,
                   unsigned variant) {
  const bool content_first = (variant & 1) != 0;
  const char* colon = (variant & 2) != 0 ? "\": " : "\":";
  const char* comma = (variant & 2) != 0 ? ", " : ",";
  body += (variant & 2) != 0 ? "{ " : "{";
  auto member = [&](std::string_view name, std::string_view value) {
    StrAppend(body, "\"", name, colon);
    AppendJsonString(body, value);
  };
  if (content_first) {
    member("content", content);
    body += comma;
    member("role", role);
  } else {
    member("role", role);
    body += comma;
    member("content", content);
  }
  body += (variant & 2) != 0 ? " }" : "}";
}

}  // namespace

std::string RequestBody(const LoadOptions& options, const Prompt& prompt, uint64_t variant) {
  const unsigned form = options.reserialize ? unsigned(variant % 4) : 0;
  std::string body = "{\"model\":";
  AppendJsonString(body, options.model);
  if (options.chat) {
    body += form & 2 ? ", \"messages\": [" : ",\"messages\":[";
    if (!prompt.system.empty()) {
      AppendMessage(body, "system", prompt.system, form);
      body += ",";
    }
    AppendMessage(body, "user", prompt.text, form);
    body += "]";
  } else {
    body += ",\"prompt\":";
    AppendJsonString(
        body, prompt.system.empty() ? prompt.text : StrCat(prompt.system, "\n", prompt.text));
  }
  if (prompt.output_tokens > 0) StrAppend(body, ",\"max_tokens\":", prompt.output_tokens);
  if (options.ignore_eos) body += ",\"ignore_eos\":true";
  if (options.stream) {
    body += ",\"stream\":true,\"stream_options\":{\"include_usage\":true}";
  } else {
    body += ",\"stream\":false";
  }
  body += "}";
  return body;
}

}  // namespace pdgate::loadgen
