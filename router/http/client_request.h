#pragma once
// A client's request as the session reads it: Http1Parser (request line, field syntax, limits,
// chunked coding and keep-alive rules as Beast's parser has them) with the head kept flat, in
// one text buffer and one array of fields that a connection reuses from request to request.
// http::fields would allocate each field and insert it into a case-insensitive ordered set:
// about 3,000 of a proxied request's 50,000 instructions, for a head that is looked up a
// handful of times.
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "router/http/http1_parser.h"

namespace pdgate::router {

namespace http = boost::beast::http;

class ClientRequest {
 public:
  struct Field {
    std::string_view name;
    std::string_view value;
  };

  http::verb method() const { return method_; }
  std::string_view method_string() const { return Text(method_at_, method_size_); }
  std::string_view target() const { return Text(target_at_, target_size_); }
  int version() const { return version_; }  // 10 or 11
  bool keep_alive() const { return keep_alive_; }

  // The value of the first field of that name (letter case ignored); empty when absent.
  std::string_view operator[](std::string_view name) const;
  size_t field_count() const { return fields_.size(); }
  Field field(size_t i) const;

  // With kJsonPadding bytes of capacity behind it when the length was announced.
  std::string& body() { return body_; }
  const std::string& body() const { return body_; }

 private:
  friend class ClientRequestParser;
  struct Entry {
    uint32_t name_at;
    uint32_t name_size;
    uint32_t value_at;
    uint32_t value_size;
  };

  std::string_view Text(uint32_t at, uint32_t size) const { return {text_.get() + at, size}; }
  uint32_t Keep(std::string_view bytes) {
    const uint32_t at = text_size_;
    if (text_capacity_ - at < bytes.size()) [[unlikely]]
      Grow(bytes.size());
    if (!bytes.empty()) std::memcpy(text_.get() + at, bytes.data(), bytes.size());
    text_size_ = at + uint32_t(bytes.size());
    return at;
  }
  void Grow(size_t more);

  // The method, the target, each field's name and value, copied one after another. Not a
  // std::string: its appends cost a capacity check, a length and a terminator each (two per
  // field), where this is a compare and a memcpy.
  std::unique_ptr<char[]> text_;
  uint32_t text_size_ = 0;
  uint32_t text_capacity_ = 0;
  std::vector<Entry> fields_;
  http::verb method_ = http::verb::unknown;
  uint32_t method_at_ = 0;
  uint32_t method_size_ = 0;
  uint32_t target_at_ = 0;
  uint32_t target_size_ = 0;
  int version_ = 11;
  bool keep_alive_ = true;
  std::string body_;
};

// Parses one request into `request`, which it first empties; the head's storage is kept, the
// previous body's is not (a connection must not hold a large body while it idles). The head is
// not changed after it is done: views of the target and fields stay valid while the body is
// read (trailer fields are dropped). Keep-alive is Beast's parser's rule: any Connection (or
// Proxy-Connection) field's `close` closes, as RFC 9110 lists combine — a trailer's too, once
// the body has ended.
class ClientRequestParser final : public Http1Parser {
 public:
  explicit ClientRequestParser(ClientRequest& request);

 private:
  void OnRequestLine(std::string_view method, std::string_view target, int version,
                     error_code& ec) override;
  void OnField(std::string_view name, std::string_view value, error_code& ec) override;
  void OnHeader(error_code& ec) override;
  void OnFinish(error_code& ec) override;
  void OnBodyInit(std::optional<uint64_t> content_length, error_code& ec) override;
  size_t OnBody(std::string_view body, error_code& ec) override;

  ClientRequest& request_;
};

}  // namespace pdgate::router
