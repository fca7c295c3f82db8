#include "router/http/http1_parser.h"

#include <algorithm>
#include <array>
#include <bit>
#include <boost/beast/http/error.hpp>
#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pdgate::router {
namespace {

namespace http = boost::beast::http;

// RFC 9110 tchar.
constexpr bool IsTchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  constexpr std::string_view kMarks = "!#$%&'*+-.^_`|~";
  return kMarks.find(char(c)) != std::string_view::npos;
}

constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) table[size_t(c)] = IsTchar(static_cast<unsigned char>(c));
  return table;
}();

bool Tchar(char c) { return kTchar[static_cast<unsigned char>(c)]; }
// A request target's bytes: anything visible, and obs-text.
bool TargetChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}
// What ends a field value or a reason phrase: a control character other than HTAB.
bool EndsText(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && u != '\t') || u == 0x7f;
}
bool Blank(char c) { return c == ' ' || c == '\t'; }
bool Digit(char c) { return c >= '0' && c <= '9'; }
int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char* FindTextEnd(const char* p, const char* last) {
#if defined(__SSE2__)
  // Bytes ≤ 0x1F other than HTAB, and DEL: unsigned compares done as signed ones on bytes
  // shifted by 0x80.
  const __m128i bias = _mm_set1_epi8(char(0x80));
  const __m128i below_space = _mm_set1_epi8(char(0x20 ^ 0x80));
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i del = _mm_set1_epi8(0x7f);
  while (last - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i control = _mm_cmplt_epi8(_mm_xor_si128(v, bias), below_space);
    const __m128i hits =
        _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, tab), control), _mm_cmpeq_epi8(v, del));
    if (const int mask = _mm_movemask_epi8(hits); mask != 0)
      return p + std::countr_zero(unsigned(mask));
    p += 16;
  }
#endif
  while (p < last && !EndsText(*p)) ++p;
  return p;
}

// Text up to CRLF. Returns the byte after the LF and sets `text_end` to the CR; nullptr for a
// control character in the text; `last` with need_more or bad_line_ending.
const char* TextToEol(const char* p, const char* last, const char*& text_end,
                      boost::system::error_code& ec) {
  p = FindTextEnd(p, last);
  if (p >= last) {
    ec = http::error::need_more;
    return last;
  }
  if (*p != '\r') return nullptr;
  if (p + 1 >= last) {
    ec = http::error::need_more;
    return last;
  }
  if (p[1] != '\n') {
    ec = http::error::bad_line_ending;
    return last;
  }
  text_end = p;
  return p + 2;
}

const char* TrimBack(const char* end, const char* first) {
  while (end != first && Blank(end[-1])) --end;
  return end;
}

// The end of the first CRLFCRLF in [p, last), or nullptr.
const char* FindHeadEnd(const char* p, const char* last) {
  while (last - p >= 4) {
    const void* lf = std::memchr(p + 3, '\n', size_t(last - p - 3));
    if (lf == nullptr) return nullptr;
    const char* q = static_cast<const char*>(lf) - 3;  // where a CRLFCRLF ending here starts
    if (q[0] == '\r' && q[1] == '\n' && q[2] == '\r') return q + 4;
    p = q + 1;
  }
  return nullptr;
}

// The end of the first line: after its CRLF; nullptr when none is complete yet. A CR that is
// followed by anything but LF is bad_line_ending.
const char* FindEol(const char* p, const char* last, boost::system::error_code& ec) {
  ec = {};
  const void* cr = std::memchr(p, '\r', size_t(last - p));
  if (cr == nullptr) return nullptr;
  const char* at = static_cast<const char*>(cr);
  if (at + 1 == last) return nullptr;
  if (at[1] != '\n') {
    ec = http::error::bad_line_ending;
    return nullptr;
  }
  return at + 2;
}

bool ParseDecimal(std::string_view s, uint64_t& v) {
  if (s.empty()) return false;
  uint64_t n = 0;
  for (const char c : s) {
    if (!Digit(c) || n > std::numeric_limits<uint64_t>::max() / 10) return false;
    n *= 10;
    const auto d = uint64_t(c - '0');
    if (std::numeric_limits<uint64_t>::max() - n < d) return false;
    n += d;
  }
  v = n;
  return true;
}

bool ParseHex(const char*& it, uint64_t& v) {
  int d = HexDigit(*it);
  if (d < 0) return false;
  uint64_t n = 0;
  do {
    if (n > std::numeric_limits<uint64_t>::max() / 16) return false;
    n *= 16;
    if (std::numeric_limits<uint64_t>::max() - n < uint64_t(d)) return false;
    n += uint64_t(d);
    d = HexDigit(*++it);
  } while (d >= 0);
  v = n;
  return true;
}

bool IEquals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = char(c + ('a' - 'A'));
    if (c != lower[i]) return false;
  }
  return true;
}

// An RFC 9110 list of tokens, empty elements allowed ("a, , b"), as Beast's opt_token_list
// reads it: `each` gets every token in order until the first byte that is neither a token's,
// a comma nor blank, or a token that follows another without a comma; then it returns false.
template <class Each>
bool ForEachListToken(std::string_view list, const Each& each) {
  const char* it = list.data();
  const char* const last = it + list.size();
  bool need_comma = false;
  while (true) {
    while (it != last && Blank(*it)) ++it;
    if (it == last) return true;
    if (Tchar(*it)) {
      if (need_comma) return false;
      const char* const start = it;
      while (it != last && Tchar(*it)) ++it;
      each(std::string_view(start, size_t(it - start)));
      need_comma = true;
      continue;
    }
    if (*it != ',') return false;
    need_comma = false;
    ++it;
  }
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), value a token or a
// quoted-string. Stops at the first byte that cannot continue it (the CR of the line, when
// well formed); need_more when the buffer ends inside it.
void ParseChunkExtensions(const char*& it, const char* last, boost::system::error_code& ec) {
  const auto more = [&] { ec = http::error::need_more; };
  const auto bad = [&] { ec = http::error::bad_chunk_extension; };
  // Steps past blanks; false when the buffer ends.
  const auto blanks = [&] {
    while (true) {
      if (it == last) return false;
      if (!Blank(*it)) return true;
      ++it;
    }
  };
  // Steps past the rest of a token whose first byte is at `it`; false when the buffer ends.
  const auto token_rest = [&] {
    do {
      if (++it == last) return false;
    } while (Tchar(*it));
    return true;
  };
  while (true) {
    if (it == last) return more();
    if (!Blank(*it) && *it != ';') return;
    if (!blanks()) return more();
    if (*it != ';') return bad();
    bool another_name = true;  // after ";"
    while (another_name) {
      another_name = false;
      ++it;
      if (!blanks()) return more();
      if (!Tchar(*it)) return bad();
      if (!token_rest()) return more();
      bool spaced = false;
      if (Blank(*it)) {
        if (!blanks()) return more();
        spaced = true;
      }
      if (*it == ';') {
        another_name = true;
        continue;
      }
      if (*it != '=') {
        if (spaced) bad();
        return;
      }
      ++it;
      if (!blanks()) return more();
      if (*it != '"') {
        if (!Tchar(*it)) return bad();
        if (!token_rest()) return more();
      } else {
        while (true) {
          if (++it == last) return more();
          if (*it == '"') break;
          if (*it == '\\' && ++it == last) return more();
        }
        ++it;
      }
    }
  }
}

}  // namespace

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
  if (FindHeadEnd(p + skip_, p + n) == nullptr) {
    skip_ = n - 3;
    ec = skip_ + 4 > header_limit_ ? http::error::header_limit : http::error::need_more;
    return true;
  }
  skip_ = 0;
  return false;
}

void Http1Parser::ParseRequestLine(const char*& in, const char* last, error_code& ec) {
  // request-line = method SP request-target SP HTTP-version CRLF
  const char* p = in;
  const char* const method = p;
  while (p < last && Tchar(*p)) ++p;
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
  if (last - p < 8) {
    ec = http::error::need_more;
    return;
  }
  if (std::memcmp(p, "HTTP/", 5) != 0 || !Digit(p[5]) || p[6] != '.' || !Digit(p[7])) {
    ec = http::error::bad_version;
    return;
  }
  const int version = 10 * (p[5] - '0') + (p[7] - '0');
  p += 8;
  if (version < 10 || version > 11) {
    ec = http::error::bad_version;
    return;
  }
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
  if (last - p < 8) {
    ec = http::error::need_more;
    return;
  }
  if (std::memcmp(p, "HTTP/", 5) != 0 || !Digit(p[5]) || p[6] != '.' || !Digit(p[7])) {
    ec = http::error::bad_version;
    return;
  }
  const int version = 10 * (p[5] - '0') + (p[7] - '0');
  p += 8;
  if (version < 10 || version > 11) {
    ec = http::error::bad_version;
    return;
  }
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
  if (!Digit(p[0]) || !Digit(p[1]) || !Digit(p[2]) || p[3] != ' ') {
    ec = http::error::bad_status;
    return;
  }
  status_ = 100 * (p[0] - '0') + 10 * (p[1] - '0') + (p[2] - '0');
  p += 4;
  const char* const reason = p;
  const char* reason_end = nullptr;
  p = TextToEol(p, last, reason_end, ec);
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
    ParseField(p, last, name, value, ec);
    if (ec) return;
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
  while (*p != ':') {
    if (!Tchar(*p)) {
      ec = http::error::bad_field;
      return;
    }
    if (++p >= last) {
      ec = http::error::need_more;
      return;
    }
  }
  if (p == name_start) {
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
      if (!Blank(*p)) break;
      ++p;
    }
    first = p;
    p = TextToEol(p, last, text_end, ec);
    if (ec) return false;
    if (p == nullptr) {
      ec = http::error::bad_value;
      return false;
    }
    if (p >= last) {
      ec = http::error::need_more;
      return false;
    }
    text_end = TrimBack(text_end, first);
    return true;
  };
  const char* first = nullptr;
  const char* text_end = nullptr;
  while (true) {
    if (!line(first, text_end)) return;
    if (!Blank(*p)) {
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
    if (!Blank(*p)) {
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
      if (IEquals(name, "connection") || IEquals(name, "proxy-connection")) {
        unsigned flags = 0;
        const bool valid = ForEachListToken(value, [&](std::string_view token) {
          if (IEquals(token, "close")) flags |= kConnectionClose;
          if (IEquals(token, "keep-alive")) flags |= kConnectionKeepAlive;
        });
        if (!valid) {
          ec = http::error::bad_value;
          return;
        }
        flags_ |= flags;
      }
      return;
    case 14:
      if (IEquals(name, "content-length")) ContentLengthField(value, ec);
      return;
    case 17:
      if (IEquals(name, "transfer-encoding")) {
        if ((flags_ & (kChunked | kContentLength)) != 0) {  // a second one, or both framings
          ec = http::error::bad_transfer_encoding;
          return;
        }
        // Chunked only when "chunked" is the last coding; a list error ends the list where
        // it is.
        size_t count = 0;
        size_t first_chunked = SIZE_MAX;
        ForEachListToken(value, [&](std::string_view token) {
          if (first_chunked == SIZE_MAX && IEquals(token, "chunked")) first_chunked = count;
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
  if ((flags_ & kChunked) != 0) {
    ec = http::error::bad_content_length;
    return;
  }
  // A list of equal values is one value (RFC 9110 8.6); no empty elements.
  size_t tokens = 0;
  const bool valid = ForEachListToken(value, [&](std::string_view) { ++tokens; });
  if (!valid || tokens == 0) {
    ec = http::error::bad_content_length;
    return;
  }
  std::optional<uint64_t> length = content_length();
  ForEachListToken(value, [&](std::string_view token) {
    if (ec) return;
    uint64_t v = 0;
    if (!ParseDecimal(token, v)) {
      ec = http::error::bad_content_length;
    } else if (length && *length != v) {
      ec = http::error::multiple_content_length;
    } else {
      length = v;
    }
  });
  if (ec) return;
  if (tokens != size_t(std::count(value.begin(), value.end(), ',')) + 1) {
    ec = http::error::bad_content_length;
    return;
  }
  length_ = length0_ = *length;
  flags_ |= kContentLength;
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
  if (body_limit_) {
    if (n > *body_limit_) {
      ec = http::error::body_limit;
      return;
    }
    *body_limit_ -= n;
  }
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
    eol = FindEol(p0 + skip_, end, ec);
    if (ec) return;
    if (eol == nullptr) {
      ec = http::error::need_more;
      skip_ = n - 1;
      return;
    }
    skip_ = size_t(eol - 2 - p0);
    uint64_t size = 0;
    if (!ParseHex(p, size)) {
      ec = http::error::bad_chunk;
      return;
    }
    if (size != 0) {
      if (body_limit_) {
        if (size > *body_limit_) {
          ec = http::error::body_limit;
          return;
        }
        *body_limit_ -= size;
      }
      ParseChunkExtensions(p, end, ec);
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
    // The last chunk's line again: the trailer was not all here last time.
    if ((flags_ & kExpectCrlf) != 0) p += 2;
    uint64_t size = 0;
    ParseHex(p, size);
    eol = FindEol(p, end, ec);
  }
  const char* const trailer_end = FindHeadEnd(p0 + skip_, end);
  if (trailer_end == nullptr) {
    skip_ = n - 3;
    ec = http::error::need_more;
    return;
  }
  ParseChunkExtensions(p, end, ec);
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
