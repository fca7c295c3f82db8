#include "router/http/http1_parser.h"

#include <algorithm>
#include <boost/beast/http/error.hpp>

#include "router/http/http1_syntax.h"

namespace pdgate::router {

namespace http = boost::beast::http;

Http1Parser::Http1Parser(bool request)
    : request_(request), body_limit_(request ? 1024 * 1024 : 8 * 1024 * 1024) {}

bool Http1Parser::keep_alive() const {
  if ((flags_ & kHttp11) != 0) {
    if ((flags_ & kConnectionClose) != 0) return false;
  } else if ((flags_ & kConnectionKeepAlive) == 0) {
    return false;
  }
  return (flags_ & kNeedEof) == 0;
}

std::optional<uint64_t> Http1Parser::content_length() const {
  if ((flags_ & kContentLength) == 0) return std::nullopt;
  return length0_;
}

size_t Http1Parser::Put(const char* data, size_t size, error_code& ec) {
  if (is_done()) {
    ec = http::error::stale_parser;
    return 0;
  }
  const char* p = data;
  const char* const end = data + size;
  size_t n = size;
  ec = {};
  // A head step that needs more bytes fails with header_limit once the limit's worth is here;
  // the search for the head's end resumes near where this one stopped.
  const auto head_needs_more = [&] {
    if (ec != http::error::need_more) return;
    if (n >= header_limit_) {
      ec = http::error::header_limit;
      return;
    }
    if (p + 3 <= end) skip_ = size_t(end - p - 3);
  };
  while (true) {
    switch (state_) {
      case State::kNothingYet:
        if (n == 0) {
          ec = http::error::need_more;
          return 0;
        }
        state_ = State::kStartLine;
        [[fallthrough]];
      case State::kStartLine: {
        if (HeadNeedsMore(p, n, ec)) return size_t(p - data);
        const char* const limit = p + std::min<size_t>(header_limit_, n);
        if (request_) {
          ParseRequestLine(p, limit, ec);
        } else {
          ParseStatusLine(p, limit, ec);
        }
        if (ec) {
          head_needs_more();
          return size_t(p - data);
        }
        n = size_t(end - p);
        if (p >= end) {
          ec = http::error::need_more;
          return size_t(p - data);
        }
        [[fallthrough]];
      }
      case State::kFields:
        if (HeadNeedsMore(p, n, ec)) return size_t(p - data);
        ParseFields(p, p + std::min<size_t>(header_limit_, n), ec);
        if (ec) {
          head_needs_more();
          return size_t(p - data);
        }
        FinishHeader(ec);
        if (ec) return size_t(p - data);
        break;
      case State::kBodyStart:
        OnBodyInit(content_length(), ec);
        if (ec) return size_t(p - data);
        state_ = State::kBody;
        [[fallthrough]];
      case State::kBody:
        ParseBody(p, n, ec);
        if (ec) return size_t(p - data);
        break;
      case State::kBodyToEofStart:
        OnBodyInit(content_length(), ec);
        if (ec) return size_t(p - data);
        state_ = State::kBodyToEof;
        [[fallthrough]];
      case State::kBodyToEof:
        ParseBodyToEof(p, n, ec);
        if (ec) return size_t(p - data);
        break;
      case State::kChunkHeaderStart:
        OnBodyInit(content_length(), ec);
        if (ec) return size_t(p - data);
        state_ = State::kChunkHeader;
        [[fallthrough]];
      case State::kChunkHeader:
        ParseChunkHeader(p, n, ec);
        if (ec) return size_t(p - data);
        break;
      case State::kChunkBody:
        ParseChunkBody(p, n, ec);
        if (ec) return size_t(p - data);
        break;
      case State::kComplete:
        return size_t(p - data);
    }
    if (p >= end || is_done() || !eager_) return size_t(p - data);
    n = size_t(end - p);
  }
}

void Http1Parser::put_eof(error_code& ec) {
  if (state_ == State::kStartLine || state_ == State::kFields) {
    ec = http::error::partial_message;
    return;
  }
  if ((flags_ & (kContentLength | kChunked)) != 0) {
    ec = state_ == State::kComplete ? error_code() : error_code(http::error::partial_message);
    return;
  }
  ec = {};
  OnFinish(ec);
  if (ec) return;
  state_ = State::kComplete;
}

bool Http1Parser::HeadNeedsMore(const char* p, size_t n, error_code& ec) {
  // After a need_more, the head is parsed again only once its end is in the buffer.
  if (skip_ == 0) return false;
  n = std::min<size_t>(n, header_limit_);
  if (n < skip_ + 4) {
    ec = http::error::need_more;
    return true;
  }
  if (http1::FindHeadEnd(p + skip_, p + n) == nullptr) {
    skip_ = n - 3;
    ec = skip_ + 4 > header_limit_ ? http::error::header_limit : http::error::need_more;
    return true;
  }
  skip_ = 0;
  return false;
}

void Http1Parser::FinishHeader(error_code& ec) {
  if (request_) {
    if ((flags_ & kContentLength) != 0) {
      if (body_limit_ && length_ > *body_limit_) {
        ec = http::error::body_limit;
        return;
      }
      state_ = length_ > 0 ? State::kBodyStart : State::kComplete;
    } else if ((flags_ & kChunked) != 0) {
      state_ = State::kChunkHeaderStart;
    } else {
      length_ = length0_ = 0;
      state_ = State::kComplete;
    }
  } else if (status_ / 100 == 1 || status_ == 204 || status_ == 304) {
    state_ = State::kComplete;  // no body, whatever the framing fields say
  } else if ((flags_ & kContentLength) != 0) {
    if (length_ > 0) {
      state_ = State::kBodyStart;
      if (body_limit_ && length_ > *body_limit_) {
        ec = http::error::body_limit;
        return;
      }
    } else {
      state_ = State::kComplete;
    }
  } else if ((flags_ & kChunked) != 0) {
    state_ = State::kChunkHeaderStart;
  } else {
    flags_ |= kNeedEof;
    state_ = State::kBodyToEofStart;
  }
  ec = {};
  OnHeader(ec);
  if (ec) return;
  if (state_ == State::kComplete) OnFinish(ec);
}

}  // namespace pdgate::router
