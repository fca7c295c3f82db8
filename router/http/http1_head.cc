// Http1Parser's head: the start line and the fields, with the framing fields (Connection,
// Content-Length, Transfer-Encoding) read as Beast's parser reads them.
#include <algorithm>
#include <boost/beast/http/error.hpp>
#include <cstring>

#include "router/http/http1_head_masks.h"
#include "router/http/http1_parser.h"
#include "router/http/http1_syntax.h"

namespace pdgate::router {
namespace http = boost::beast::http;
namespace {

// A request target's bytes: anything visible, and obs-text.
bool TargetChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}

// HTTP-version, 1.0 or 1.1 ("HTTP/2.0" is bad_version, as in Beast): 10 or 11, and `p` past it.
int ParseVersion(const char*& p, const char* last, boost::system::error_code& ec) {
  if (last - p < 8) {
    ec = http::error::need_more;
    return 0;
  }
  if (std::memcmp(p, "HTTP/", 5) != 0 || !http1::Digit(p[5]) || p[6] != '.' ||
      !http1::Digit(p[7])) {
    ec = http::error::bad_version;
    return 0;
  }
  const int version = 10 * (p[5] - '0') + (p[7] - '0');
  p += 8;
  if (version < 10 || version > 11) ec = http::error::bad_version;
  return version;
}

#ifdef __AVX2__
// The usual field line, read 32 bytes a step: all of it here, nothing malformed, and no
// obs-fold after it. Anything else returns false with `p` unmoved, for ParseField to read the
// line and tell its error; so both read every line alike.
bool MaskedField(const char*& p, const char* last, std::string_view& name,
                 std::string_view& value) {
  const char* const name_end = http1::FindNameEnd32(p, last);
  if (name_end == nullptr || *name_end != ':' || name_end == p) return false;
  const char* first = name_end + 1;
  while (first < last && http1::Blank(*first)) ++first;
  if (first >= last) return false;
  const char* const text_end = http1::FindTextEnd32(first, last);
  if (text_end == nullptr || last - text_end < 3 || text_end[0] != '\r' || text_end[1] != '\n' ||
      http1::Blank(text_end[2])) {
    return false;
  }
  name = std::string_view(p, size_t(name_end - p));
  value = std::string_view(first, size_t(http1::TrimBack(text_end, first) - first));
  p = text_end + 2;
  return true;
}
#endif

}  // namespace

void Http1Parser::ParseRequestLine(const char*& in, const char* last, error_code& ec) {
  // request-line = method SP request-target SP HTTP-version CRLF
  const char* p = in;
  const char* const method = p;
  p = http1::FindNonTchar(p, last);
  if (p >= last) {
    ec = http::error::need_more;
    return;
  }
  if (*p != ' ' || p == method) {
    ec = http::error::bad_method;
    return;
  }
  const std::string_view method_text(method, size_t(p - method));
  const char* const target = ++p;
#ifdef __AVX2__
  if (const char* end = http1::FindTargetEnd32(p, last); end != nullptr) p = end;
#endif
  while (p < last && TargetChar(*p)) ++p;
  if (p >= last) {
    ec = http::error::need_more;
    return;
  }
  if (*p != ' ' || p == target) {
    ec = http::error::bad_target;
    return;
  }
  const std::string_view target_text(target, size_t(p - target));
  ++p;
  const int version = ParseVersion(p, last, ec);
  if (ec) return;
  if (last - p < 2) {
    ec = http::error::need_more;
    return;
  }
  if (p[0] != '\r' || p[1] != '\n') {
    ec = http::error::bad_version;
    return;
  }
  p += 2;
  if (version == 11) flags_ |= kHttp11;
  OnRequestLine(method_text, target_text, version, ec);
  if (ec) return;
  in = p;
  state_ = State::kFields;
}

void Http1Parser::ParseStatusLine(const char*& in, const char* last, error_code& ec) {
  // status-line = HTTP-version SP status-code SP reason-phrase CRLF
  const char* p = in;
  const int version = ParseVersion(p, last, ec);
  if (ec) return;
  if (p >= last) {
    ec = http::error::need_more;
    return;
  }
  if (*p++ != ' ') {
    ec = http::error::bad_version;
    return;
  }
  if (last - p < 4) {
    ec = http::error::need_more;
    return;
  }
  if (!http1::Digit(p[0]) || !http1::Digit(p[1]) || !http1::Digit(p[2]) || p[3] != ' ') {
    ec = http::error::bad_status;
    return;
  }
  status_ = 100 * (p[0] - '0') + 10 * (p[1] - '0') + (p[2] - '0');
  p += 4;
  const char* const reason = p;
  const char* reason_end = nullptr;
  p = http1::TextToEol(p, last, reason_end, ec);
  if (ec) return;
  if (p == nullptr) {
    ec = http::error::bad_reason;
    return;
  }
  if (version == 11) flags_ |= kHttp11;
  OnStatusLine(status_, std::string_view(reason, size_t(reason_end - reason)), version, ec);
  if (ec) return;
  in = p;
  state_ = State::kFields;
}

void Http1Parser::ParseFields(const char*& in, const char* last, error_code& ec) {
  const char* p = in;
  while (true) {
    if (last - p < 2) {
      ec = http::error::need_more;
      return;
    }
    if (p[0] == '\r') {
      if (p[1] != '\n') ec = http::error::bad_line_ending;
      in = p + 2;
      return;
    }
    std::string_view name;
    std::string_view value;
#ifdef __AVX2__
    if (!MaskedField(p, last, name, value)) {
      ParseField(p, last, name, value, ec);
      if (ec) return;
    }
#else
    ParseField(p, last, name, value, ec);
    if (ec) return;
#endif
    FramingField(name, value, ec);
    if (ec) return;
    OnField(name, value, ec);
    if (ec) return;
    in = p;
  }
}

void Http1Parser::ParseField(const char*& p, const char* last, std::string_view& name,
                             std::string_view& value, error_code& ec) {
  // field-line = field-name ":" OWS field-value OWS, with obs-fold (CRLF then SP or HTAB)
  // continuing the value on the next line.
  const char* const name_start = p;
  p = http1::FindNonTchar(p, last);
  if (p >= last) {
    ec = http::error::need_more;
    return;
  }
  if (*p != ':' || p == name_start) {
    ec = http::error::bad_field;
    return;
  }
  name = std::string_view(name_start, size_t(p - name_start));
  ++p;
  // Each line: blanks, text, CRLF, and one byte more to tell whether the value goes on.
  const auto line = [&](const char*& first, const char*& text_end) {
    while (true) {
      if (p >= last) {
        ec = http::error::need_more;
        return false;
      }
      if (!http1::Blank(*p)) break;
      ++p;
    }
    first = p;
    p = http1::TextToEol(p, last, text_end, ec);
    if (ec) return false;
    if (p == nullptr) {
      ec = http::error::bad_value;
      return false;
    }
    if (p >= last) {
      ec = http::error::need_more;
      return false;
    }
    text_end = http1::TrimBack(text_end, first);
    return true;
  };
  const char* first = nullptr;
  const char* text_end = nullptr;
  while (true) {
    if (!line(first, text_end)) return;
    if (!http1::Blank(*p)) {
      value = std::string_view(first, size_t(text_end - first));
      return;
    }
    ++p;
    if (text_end != first) break;  // folded text follows text: join the lines
  }
  constexpr size_t kMaxFolded = 4096;  // Beast's max_obs_fold
  if (size_t(text_end - first) > kMaxFolded) {
    ec = http::error::header_limit;
    return;
  }
  folded_.assign(first, text_end);
  while (true) {
    if (!line(first, text_end)) return;
    if (text_end != first) {
      if (folded_.size() >= kMaxFolded ||
          size_t(text_end - first) > kMaxFolded - folded_.size() - 1) {
        ec = http::error::header_limit;
        return;
      }
      folded_ += ' ';
      folded_.append(first, text_end);
    }
    if (!http1::Blank(*p)) {
      value = folded_;
      return;
    }
    ++p;
  }
}

void Http1Parser::FramingField(std::string_view name, std::string_view value, error_code& ec) {
  switch (name.size()) {
    case 10:
    case 16:
      if (http1::NameIs(name, "connection") || http1::NameIs(name, "proxy-connection")) {
        unsigned flags = 0;
        const bool valid = http1::ForEachListToken(value, [&](std::string_view token) {
          if (http1::NameIs(token, "close")) flags |= kConnectionClose;
          if (http1::NameIs(token, "keep-alive")) flags |= kConnectionKeepAlive;
        });
        if (!valid) {
          ec = http::error::bad_value;
          return;
        }
        flags_ |= flags;
      }
      return;
    case 14:
      if (http1::NameIs(name, "content-length")) ContentLengthField(value, ec);
      return;
    case 17:
      if (http1::NameIs(name, "transfer-encoding")) {
        if ((flags_ & (kChunked | kContentLength)) != 0) {  // a second one, or both framings
          ec = http::error::bad_transfer_encoding;
          return;
        }
        // Chunked only when "chunked" is the last coding; a list error ends the list where
        // it is.
        size_t count = 0;
        size_t first_chunked = SIZE_MAX;
        http1::ForEachListToken(value, [&](std::string_view token) {
          if (first_chunked == SIZE_MAX && http1::NameIs(token, "chunked")) first_chunked = count;
          ++count;
        });
        if (first_chunked != SIZE_MAX && first_chunked + 1 == count) {
          length_ = 0;
          flags_ |= kChunked;
        }
      }
      return;
    default:
      return;
  }
}

void Http1Parser::ContentLengthField(std::string_view value, error_code& ec) {
  // The usual field: the first framing field, one number of at most 18 digits (no overflow).
  if ((flags_ & (kChunked | kContentLength)) == 0 && !value.empty() && value.size() <= 18) {
    uint64_t v = 0;
    size_t i = 0;
    for (; i < value.size() && http1::Digit(value[i]); ++i) v = 10 * v + uint64_t(value[i] - '0');
    if (i == value.size()) {
      length_ = length0_ = v;
      flags_ |= kContentLength;
      return;
    }
  }
  if ((flags_ & kChunked) != 0) {
    ec = http::error::bad_content_length;
    return;
  }
  // A list of equal values is one value (RFC 9110 8.6); no empty elements. Most values are
  // one number.
  std::optional<uint64_t> length = content_length();
  const auto take = [&](std::string_view token) {
    uint64_t v = 0;
    if (!http1::ParseDecimal(token, v)) {
      ec = http::error::bad_content_length;
    } else if (length && *length != v) {
      ec = http::error::multiple_content_length;
    } else {
      length = v;
    }
  };
  if (!value.empty() && std::all_of(value.begin(), value.end(), http1::Digit)) {
    take(value);
    if (ec) return;
  } else {
    size_t tokens = 0;
    const bool valid = http1::ForEachListToken(value, [&](std::string_view) { ++tokens; });
    if (!valid || tokens == 0) {
      ec = http::error::bad_content_length;
      return;
    }
    http1::ForEachListToken(value, [&](std::string_view token) {
      if (!ec) take(token);
    });
    if (ec) return;
    if (tokens != size_t(std::count(value.begin(), value.end(), ',')) + 1) {
      ec = http::error::bad_content_length;
      return;
    }
  }
  length_ = length0_ = *length;
  flags_ |= kContentLength;
}

}  // namespace pdgate::router
