#include "router/upstream/engine_response.h"

#include <algorithm>
#include <boost/beast/http/error.hpp>
#include <cstring>

#include "router/http/http1_syntax.h"

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
  if (has_content_type_ || !http1::NameIs(name, "content-type")) return;
  has_content_type_ = true;
  if (value.size() <= sizeof(content_type_short_)) {
    std::memcpy(content_type_short_, value.data(), value.size());
    content_type_size_ = value.size();
  } else {
    content_type_long_.assign(value.data(), value.size());
  }
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
