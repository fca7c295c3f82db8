// The pure parts of client.h: parsing the target URL and serializing a prompt's request body.
// No sockets; the tests call them directly.
#include <absl/status/statusor.h>

#include <string>
#include <string_view>

#include "bench/loadgen/client.h"
#include "config/strings.h"

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

std::string RequestBody(const LoadOptions& options, const Prompt& prompt) {
  std::string body = "{\"model\":";
  AppendJsonString(body, options.model);
  if (options.chat) {
    body += ",\"messages\":[";
    if (!prompt.system.empty()) {
      body += "{\"role\":\"system\",\"content\":";
      AppendJsonString(body, prompt.system);
      body += "},";
    }
    body += "{\"role\":\"user\",\"content\":";
    AppendJsonString(body, prompt.text);
    body += "}]";
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
