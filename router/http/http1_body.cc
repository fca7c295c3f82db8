// Http1Parser's body: by Content-Length, to the end of the connection, or chunked.
#include <algorithm>
#include <boost/beast/http/error.hpp>

#include "router/http/http1_parser.h"
#include "router/http/http1_syntax.h"

namespace pdgate::router {

namespace http = boost::beast::http;

bool Http1Parser::ChargeBodyLimit(uint64_t n, error_code& ec) {
  if (!body_limit_) return true;
  if (n > *body_limit_) {
    ec = http::error::body_limit;
    return false;
  }
  *body_limit_ -= n;
  return true;
}

void Http1Parser::ParseBody(const char*& p, size_t n, error_code& ec) {
  ec = {};
  n = OnBody(std::string_view(p, size_t(std::min<uint64_t>(length_, n))), ec);
  p += n;
  length_ -= n;
  if (ec || length_ > 0) return;
  OnFinish(ec);
  if (ec) return;
  state_ = State::kComplete;
}

void Http1Parser::ParseBodyToEof(const char*& p, size_t n, error_code& ec) {
  if (!ChargeBodyLimit(n, ec)) return;
  ec = {};
  p += OnBody(std::string_view(p, n), ec);
}

void Http1Parser::ParseChunkHeader(const char*& p0, size_t n, error_code& ec) {
  // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; the last chunk is "0" [ chunk-ext ]
  // CRLF, then trailer fields and CRLF. A chunk's closing CRLF is read with the next header.
  const char* p = p0;
  const char* const end = p + n;
  const char* eol = nullptr;
  if ((flags_ & kFinalChunk) == 0) {
    if (n < skip_ + 2) {
      ec = http::error::need_more;
      return;
    }
    if ((flags_ & kExpectCrlf) != 0) {
      if (p[0] != '\r' || p[1] != '\n') {
        ec = http::error::bad_chunk;
        return;
      }
      p += 2;
    }
    eol = http1::FindEol(p0 + skip_, end, ec);
    if (ec) return;
    if (eol == nullptr) {
      ec = http::error::need_more;
      skip_ = n - 1;
      return;
    }
    skip_ = size_t(eol - 2 - p0);
    uint64_t size = 0;
    if (!http1::ParseHex(p, size)) {
      ec = http::error::bad_chunk;
      return;
    }
    if (size != 0) {
      if (!ChargeBodyLimit(size, ec)) return;
      http1::ParseChunkExtensions(p, end, ec);
      if (ec) return;
      if (p != eol - 2) {
        ec = http::error::bad_chunk_extension;
        return;
      }
      length_ = size;
      skip_ = 2;
      p0 = eol;
      flags_ |= kExpectCrlf;
      state_ = State::kChunkBody;
      return;
    }
    flags_ |= kFinalChunk;
  } else {
    // The last chunk's line again: the trailer was not all here last time. (Beast asserts what
    // this checks: a caller gives the untaken bytes again, and more.)
    if (n < skip_ + 4) {
      ec = http::error::need_more;
      return;
    }
    if ((flags_ & kExpectCrlf) != 0) p += 2;
    uint64_t size = 0;
    http1::ParseHex(p, size);
    eol = http1::FindEol(p, end, ec);
  }
  const char* const trailer_end = http1::FindHeadEnd(p0 + skip_, end);
  if (trailer_end == nullptr) {
    skip_ = n - 3;
    ec = http::error::need_more;
    return;
  }
  http1::ParseChunkExtensions(p, end, ec);
  if (ec) return;
  if (p != eol - 2) {
    ec = http::error::bad_chunk_extension;
    return;
  }
  p = eol;
  ParseFields(p, trailer_end, ec);
  if (ec) return;
  p0 = trailer_end;
  OnFinish(ec);
  if (ec) return;
  state_ = State::kComplete;
}

void Http1Parser::ParseChunkBody(const char*& p, size_t n, error_code& ec) {
  ec = {};
  n = OnBody(std::string_view(p, size_t(std::min<uint64_t>(length_, n))), ec);
  p += n;
  length_ -= n;
  if (length_ == 0) state_ = State::kChunkHeader;
}

}  // namespace pdgate::router
