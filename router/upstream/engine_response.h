#pragma once
// An engine's response as a leg reads it: Http1Parser (status line, field syntax, limits,
// chunked coding and keep-alive rules as Beast's parser has them) keeping only what pdgate
// reads of the head — the status and Content-Type — instead of http::fields' ordered set of
// separately allocated fields, which cost about 2,000 instructions per proxied request to build
// and search.
//
// The body goes one of two ways. By default it is appended to body() (a prefill's answer, an
// error, /tokenize), bounded by body_limit. Once ReadInto() is called it goes into the caller's
// buffer instead, as Beast's buffer_body does: a read stops with http::error::need_buffer when
// the buffer is full, and the caller relays what came and calls ReadInto() again.
#include <cstdint>
#include <string>
#include <string_view>

#include "router/http/http1_parser.h"

namespace pdgate::router {

class EngineResponseParser final : public Http1Parser {
 public:
  EngineResponseParser() : Http1Parser(/*request=*/false) {}

  int status() const { return status_; }
  // The first Content-Type field's value; empty when there was none.
  std::string_view content_type() const {
    return content_type_long_.empty() ? std::string_view(content_type_short_, content_type_size_)
                                      : std::string_view(content_type_long_);
  }
  std::string& body() { return body_; }
  const std::string& body() const { return body_; }

  // The next body bytes go to [data, data + size), not to body().
  void ReadInto(char* data, size_t size);
  // How many bytes the last ReadInto's buffer received.
  size_t received() const { return received_; }

 private:
  void OnStatusLine(int code, std::string_view reason, int version, error_code& ec) override;
  void OnField(std::string_view name, std::string_view value, error_code& ec) override;
  void OnBodyInit(std::optional<uint64_t> content_length, error_code& ec) override;
  size_t OnBody(std::string_view body, error_code& ec) override;

  int status_ = 0;
  bool has_content_type_ = false;
  // Held without an allocation when short ("application/json", "text/event-stream").
  char content_type_short_[48];
  size_t content_type_size_ = 0;
  std::string content_type_long_;
  std::string body_;
  bool relaying_ = false;
  char* relay_data_ = nullptr;
  size_t relay_size_ = 0;
  size_t received_ = 0;
};

}  // namespace pdgate::router
