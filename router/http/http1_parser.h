#pragma once
// An HTTP/1.1 message parser for the request path: a client's request and an engine's answer.
// It accepts and rejects exactly what Beast 1.81's basic_parser does, with the same error codes
// (http::error::*) and the same bytes taken per put(): the fuzz targets http_head and
// engine_response compare the two on the same bytes. What it drops is the cost: Beast looks
// every field name up in its table of ~350 names (string_to_field) and walks names and values
// byte by byte; here only the four names that change framing or keep-alive are recognised,
// names and values are scanned 16 bytes a step, and the derived parser gets plain views.
//
// The interface is basic_parser's (put, put_eof, eager, limits, is_done...), so ReadParsedLoop
// reads with either.
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pdgate::router {

class Http1Parser {
 public:
  using error_code = boost::system::error_code;

  virtual ~Http1Parser() = default;
  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  // Parses what it can of the bytes; returns how many it took. http::error::need_more asks for
  // more bytes (the untaken ones again, and more after them).
  template <class ConstBuffer>
  size_t put(const ConstBuffer& buffer, error_code& ec) {
    return Put(static_cast<const char*>(buffer.data()), buffer.size(), ec);
  }
  size_t Put(const char* data, size_t size, error_code& ec);
  // The connection closed: ends a body that runs to the end of the connection.
  void put_eof(error_code& ec);

  bool got_some() const { return state_ != State::kNothingYet; }
  bool is_header_done() const { return state_ > State::kFields; }
  bool is_done() const { return state_ == State::kComplete; }
  // Defined once the header is done.
  bool keep_alive() const;
  bool need_eof() const { return (flags_ & kNeedEof) != 0; }
  bool chunked() const { return (flags_ & kChunked) != 0; }
  std::optional<uint64_t> content_length() const;

  bool eager() const { return eager_; }
  // A put goes on through the body (true) or stops after the header and after each chunk
  // header (false, the default).
  void eager(bool v) { eager_ = v; }
  void header_limit(uint32_t v) { header_limit_ = v; }
  // nullopt: no limit. Defaults: 1 MiB for requests, 8 MiB for responses (Beast's).
  void body_limit(std::optional<uint64_t> v) { body_limit_ = v; }

 protected:
  explicit Http1Parser(bool request);

  // The hooks, in message order. An error set in one ends the parse with it. The views are
  // valid only during the call.
  virtual void OnRequestLine(std::string_view, std::string_view, int, error_code&) {}
  virtual void OnStatusLine(int, std::string_view, int, error_code&) {}
  // Head fields, then a chunked body's trailer fields (is_header_done() tells which).
  virtual void OnField(std::string_view name, std::string_view value, error_code& ec) = 0;
  virtual void OnHeader(error_code&) {}
  virtual void OnBodyInit(std::optional<uint64_t>, error_code&) {}
  // Body bytes (a chunked body's without its framing); returns how many were taken. Taking
  // fewer needs an error (http::error::need_buffer), and the rest is offered again.
  virtual size_t OnBody(std::string_view bytes, error_code& ec) = 0;
  virtual void OnFinish(error_code&) {}

 private:
  enum class State : uint8_t {
    kNothingYet,
    kStartLine,
    kFields,
    kBodyStart,
    kBody,
    kBodyToEofStart,
    kBodyToEof,
    kChunkHeaderStart,
    kChunkHeader,
    kChunkBody,
    kComplete,
  };
  static constexpr unsigned kHttp11 = 1u << 0;
  static constexpr unsigned kNeedEof = 1u << 1;
  static constexpr unsigned kExpectCrlf = 1u << 2;
  static constexpr unsigned kConnectionClose = 1u << 3;
  static constexpr unsigned kConnectionKeepAlive = 1u << 4;
  static constexpr unsigned kContentLength = 1u << 5;
  static constexpr unsigned kChunked = 1u << 6;
  static constexpr unsigned kFinalChunk = 1u << 7;

  // Each parse step takes `p` past what it consumed only when it succeeds.
  bool HeadNeedsMore(const char* p, size_t n, error_code& ec);
  void ParseRequestLine(const char*& in, const char* last, error_code& ec);
  void ParseStatusLine(const char*& in, const char* last, error_code& ec);
  void ParseFields(const char*& in, const char* last, error_code& ec);
  void ParseField(const char*& p, const char* last, std::string_view& name, std::string_view& value,
                  error_code& ec);
  void FramingField(std::string_view name, std::string_view value, error_code& ec);
  void ContentLengthField(std::string_view value, error_code& ec);
  void FinishHeader(error_code& ec);
  // Bodies of unknown length count against the limit as they come (false: body_limit).
  bool ChargeBodyLimit(uint64_t n, error_code& ec);
  void ParseBody(const char*& p, size_t n, error_code& ec);
  void ParseBodyToEof(const char*& p, size_t n, error_code& ec);
  void ParseChunkHeader(const char*& p0, size_t n, error_code& ec);
  void ParseChunkBody(const char*& p, size_t n, error_code& ec);

  const bool request_;
  bool eager_ = false;
  State state_ = State::kNothingYet;
  unsigned flags_ = 0;
  int status_ = 0;
  uint32_t header_limit_ = 8192;
  std::optional<uint64_t> body_limit_;
  size_t skip_ = 0;       // where the search for the head's (or a line's) end resumes
  uint64_t length_ = 0;   // body or chunk bytes still to come
  uint64_t length0_ = 0;  // the Content-Length
  std::string folded_;    // a value continued over lines (obs-fold), joined by spaces
};

}  // namespace pdgate::router
