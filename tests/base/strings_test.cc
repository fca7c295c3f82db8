// JSON string escaping (access log, leg bodies, errors): plain runs of any length, every byte
// that must be escaped, at every position around the 32-byte steps of the fast path.
#include "base/strings.h"

#include <catch2/catch.hpp>
#include <string>

using pdgate::AppendJsonString;

namespace {

// Both ways of escaping, which must agree.
std::string Escaped(std::string_view value) {
  std::string out;
  AppendJsonString(out, value);
  std::string written(pdgate::JsonStringBound(value.size()), '\0');
  written.resize(size_t(pdgate::WriteJsonString(written.data(), value) - written.data()));
  return out == written ? out : "AppendJsonString and WriteJsonString differ";
}

// The escaping one byte at a time: what the fast path must equal.
std::string EscapedSlowly(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

TEST_CASE("AppendJsonString escapes quotes, backslashes and control bytes, nothing else") {
  CHECK(Escaped("") == R"("")");
  CHECK(Escaped("plain") == R"("plain")");
  CHECK(Escaped("a\"b\\c\nd\re\tf") == R"("a\"b\\c\nd\re\tf")");
  CHECK(Escaped(std::string_view("\x01\x1f\x00", 3)) == R"("\u0001\u001f\u0000")");
  CHECK(Escaped("\x7f é \xff") == "\"\x7f é \xff\"");  // DEL and UTF-8 bytes pass through
}

TEST_CASE("AppendJsonString at every position of long values") {
  const std::string specials = std::string("\"\\\n\x01\x1f", 5) + std::string(1, '\0');
  for (size_t length : {1u, 15u, 16u, 17u, 31u, 32u, 33u, 48u, 49u, 64u, 95u}) {
    for (size_t at = 0; at < length; ++at) {
      for (char special : specials) {
        std::string value(length, 'x');
        value[at] = special;
        value[length - 1 - (at % 7)] = at % 2 == 0 ? ' ' : '\xe9';  // and a byte over 0x7f
        INFO("length " << length << ", byte " << int(special) << " at " << at);
        CHECK(Escaped(value) == EscapedSlowly(value));
      }
    }
  }
  std::string out = "prefix ";
  AppendJsonString(out, std::string(100, 'y'));
  CHECK(out == "prefix \"" + std::string(100, 'y') + "\"");
}
