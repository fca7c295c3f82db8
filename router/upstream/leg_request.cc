#include "router/upstream/leg_request.h"

#include "base/strings.h"
#include "router/http/header_text.h"

namespace pdgate::router {

LegRequest::LegRequest(std::string_view target, std::string_view host) {
  head_.reserve(256);
  StrAppend(head_, "POST ", target, " HTTP/1.1\r\n");
  Set("Host", host);
}

void LegRequest::Set(std::string_view name, std::string_view value) {
  if (!IsFieldNameSafe(name) || !IsFieldValueSafe(value)) return;
  StrAppend(head_, name, ": ", value, "\r\n");
}

void LegRequest::SetBody(std::string body) {
  body_ = std::move(body);
  StrAppend(head_, "Content-Length: ", body_.size(), "\r\n\r\n");
}

}  // namespace pdgate::router
