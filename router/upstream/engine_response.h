#pragma once
// An engine's response as a leg reads it: Beast's HTTP/1.1 parser (status line, field syntax,
// limits, chunked coding, keep-alive rules) keeping only what pdgate reads of the head — the
// status and Content-Type — instead of http::fields' ordered set of separately allocated
// fields, which cost about 2,000 instructions per proxied request to build and search.
//
// The body goes one of two ways. By default it is appended to body() (a prefill's answer, an
// error, /tokenize), bounded by body_limit. Once ReadInto() is called it goes into the caller's
// buffer instead, as Beast's buffer_body does: a read stops with http::error::need_buffer when
// the buffer is full, and the caller relays what came and calls ReadInto() again.
#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace pdgate::router {

namespace http = boost::beast::http;

class EngineResponseParser final : public http::basic_parser<false> {
 public:
  int status() const { return status_; }
  // The first Content-Type field's value; empty when there was none.
  std::string_view content_type() const { return content_type_; }
  std::string& body() { return body_; }
  const std::string& body() const { return body_; }

  // The next body bytes go to [data, data + size), not to body().
  void ReadInto(char* data, size_t size);
  // How many bytes the last ReadInto's buffer received.
  size_t received() const { return received_; }

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;

  void on_request_impl(http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(http::field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<uint64_t>& content_length, error_code& ec) override;
  size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code&) override {}
  size_t Put(string_view body, error_code& ec);

  int status_ = 0;
  bool has_content_type_ = false;
  std::string content_type_;
  std::string body_;
  bool relaying_ = false;
  char* relay_data_ = nullptr;
  size_t relay_size_ = 0;
  size_t received_ = 0;
};

}  // namespace pdgate::router
