#include "router/upstream/leg_request.h"

namespace pdgate::router {

LegRequest::LegRequest(std::string_view target, std::string_view host) {
  head_.reserve(256);
  head_ += "POST ";
  head_ += target;
  head_ += " HTTP/1.1\r\n";
  Set("Host", host);
}

void LegRequest::Set(FieldName name, std::string_view value) {
  if (IsFieldValueSafe(value)) AppendField(head_, name.view(), value);
}

void LegRequest::SetChecked(std::string_view name, std::string_view value) {
  if (IsFieldNameSafe(name) && IsFieldValueSafe(value)) AppendField(head_, name, value);
}

void LegRequest::SetBody(std::string body) {
  body_ = std::move(body);
  AppendContentLength(head_, body_.size());
  head_ += "\r\n";
}

void LegRequest::SetBodyView(std::string_view body) {
  borrowed_body_ = body;
  borrowed_ = true;
  AppendContentLength(head_, body.size());
  head_ += "\r\n";
}

}  // namespace pdgate::router
