#include "router/upstream/engine_response.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <cstring>

namespace pdgate::router {

void EngineResponseParser::ReadInto(char* data, size_t size) {
  relaying_ = true;
  relay_data_ = data;
  relay_size_ = size;
  received_ = 0;
}

void EngineResponseParser::OnStatusLine(int code, std::string_view, int, error_code&) {
  status_ = code;
}

void EngineResponseParser::OnField(std::string_view name, std::string_view value, error_code&) {
  if (has_content_type_ || name.size() != 12 || !boost::beast::iequals(name, "content-type")) {
    return;
  }
  has_content_type_ = true;
  content_type_.assign(value.data(), value.size());
}

void EngineResponseParser::OnBodyInit(std::optional<uint64_t> content_length, error_code&) {
  // body_limit has been checked against it; a relayed body is not kept.
  if (content_length && !relaying_) body_.reserve(size_t(*content_length));
}

size_t EngineResponseParser::OnBody(std::string_view body, error_code& ec) {
  if (!relaying_) {
    body_.append(body.data(), body.size());
    return body.size();
  }
  const size_t room = relay_size_ - received_;
  const size_t n = std::min(room, body.size());
  if (n > 0) std::memcpy(relay_data_ + received_, body.data(), n);
  received_ += n;
  // Beast's buffer_body: a full buffer ends the read, the rest waits in the read buffer.
  if (n < body.size()) ec = boost::beast::http::error::need_buffer;
  return n;
}

}  // namespace pdgate::router
