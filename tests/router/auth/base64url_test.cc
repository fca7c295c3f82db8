#include "router/auth/base64url.h"

#include <catch2/catch.hpp>

namespace pdgate::auth {
namespace {

TEST_CASE("base64url encodes and decodes the RFC 4648 section 10 vectors, unpadded", "[auth]") {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, encoded] : vectors) {
    CHECK(Base64UrlEncode(plain) == encoded);
    auto decoded = Base64UrlDecode(encoded);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == plain);
  }
}

TEST_CASE("base64url uses - and _ and round-trips every byte value", "[auth]") {
  CHECK(Base64UrlEncode("\xfb\xff") == "-_8");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t length = 0; length <= all.size(); length += 37) {
    const std::string bytes = all.substr(0, length);
    auto decoded = Base64UrlDecode(Base64UrlEncode(bytes));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == bytes);
  }
}

TEST_CASE("base64url decoding is strict", "[auth]") {
  CHECK_FALSE(Base64UrlDecode("Zg==").has_value());    // padding
  CHECK_FALSE(Base64UrlDecode("Zm9v+A").has_value());  // standard alphabet
  CHECK_FALSE(Base64UrlDecode("Zm9v/A").has_value());
  CHECK_FALSE(Base64UrlDecode("Zm 9v").has_value());  // whitespace
  CHECK_FALSE(Base64UrlDecode("Zm9v\n").has_value());
  CHECK_FALSE(Base64UrlDecode("Z").has_value());  // 4k+1 characters
  CHECK_FALSE(Base64UrlDecode("Zm9vY").has_value());
  CHECK_FALSE(Base64UrlDecode("Zh").has_value());   // non-zero unused bits ("f" is "Zg")
  CHECK_FALSE(Base64UrlDecode("Zm9").has_value());  // ("fo" is "Zm8")
  CHECK(IsBase64UrlAlphabet("abcXYZ019-_"));
  CHECK_FALSE(IsBase64UrlAlphabet("ab="));
  CHECK_FALSE(IsBase64UrlAlphabet("a.b"));
}

}  // namespace
}  // namespace pdgate::auth
