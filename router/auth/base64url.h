#pragma once
// Base64url (RFC 4648 §5) the way JWS compact serialization uses it (RFC 7515 §2): the URL-safe
// alphabet with all trailing '=' omitted. Padding is rejected, not tolerated: a JWS never carries
// it, and accepting two spellings of one value only widens what a parser must be right about.
#include <optional>
#include <string>
#include <string_view>

namespace pdgate::auth {

// Decodes unpadded base64url. Rejects '=', '+', '/', whitespace and every other byte outside
// [A-Za-z0-9_-], a length of 4k+1 (no whole byte in the last group), and a last character whose
// unused low bits are not zero, so each byte string has exactly one accepted encoding.
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Unpadded base64url of `bytes`.
std::string Base64UrlEncode(std::string_view bytes);

// True when every byte of `text` is in the base64url alphabet (no padding).
bool IsBase64UrlAlphabet(std::string_view text);

}  // namespace pdgate::auth
