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
  for (size_t length : {1u,  7u,  8u,  9u,  12u, 15u, 16u, 17u, 23u, 24u, 25u, 31u,
                        32u, 33u, 40u, 41u, 48u, 49u, 55u, 56u, 57u, 64u, 95u}) {
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

TEST_CASE("AppendJsonString with two bytes to escape anywhere, and bytes next to the escaped") {
  // After the first escape the scan starts mid-value: its last-word step must not look before it.
  const std::string specials = std::string("\"\\\x01\x1f", 4) + std::string(1, '\0');
  const std::string neighbours = " !#[]\x7f\x80\xff";  // just above, or around, each class
  for (size_t length = 2; length <= 41; ++length) {
    for (size_t first = 0; first < length; ++first) {
      for (size_t second = first + 1; second < length; ++second) {
        std::string value(length, 'x');
        value[first] = specials[(first + second) % specials.size()];
        value[second] = specials[second % specials.size()];
        for (size_t k = 0; k < length; ++k) {
          if (k != first && k != second && k % 3 == 0) value[k] = neighbours[k % neighbours.size()];
        }
        INFO("length " << length << ", escapes at " << first << " and " << second);
        CHECK(Escaped(value) == EscapedSlowly(value));
      }
    }
  }
  for (char plain : neighbours) {
    for (size_t length : {1u, 8u, 13u, 16u, 21u, 32u, 45u}) {
      const std::string value(length, plain);
      CHECK(Escaped(value) == EscapedSlowly(value));
    }
  }
}
