#pragma once
// The byte-level pieces of HTTP/1.1 syntax that Http1Parser is made of (RFC 9110/9112), each
// with Beast 1.81's parser's outcome for the same bytes: where a scan stops, and which error a
// malformed or cut-short piece gives.
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace pdgate::router::http1 {

using error_code = boost::system::error_code;

bool Tchar(char c);
inline bool Blank(char c) { return c == ' ' || c == '\t'; }
inline bool Digit(char c) { return c >= '0' && c <= '9'; }

// The first byte in [p, last) that is not a tchar; `last` when all are.
const char* FindNonTchar(const char* p, const char* last);
// Text up to CRLF (a field value, a reason phrase). Returns the byte after the LF and sets
// `text_end` to the CR; nullptr for a control character other than HTAB in the text; `last`
// with need_more or bad_line_ending.
const char* TextToEol(const char* p, const char* last, const char*& text_end, error_code& ec);
// `end` moved back over blanks, not before `first`.
const char* TrimBack(const char* end, const char* first);
// The end of the first CRLFCRLF in [p, last), or nullptr.
const char* FindHeadEnd(const char* p, const char* last);
// After the first CR's LF in [p, last); nullptr when there is no CR, or it is the last byte
// (ec clear), or it is followed by anything but LF (bad_line_ending).
const char* FindEol(const char* p, const char* last, error_code& ec);
// 1*DIGIT into a uint64_t; false when empty, not digits or too large.
bool ParseDecimal(std::string_view s, uint64_t& v);
// 1*HEXDIG at `it` (which must be followed by a non-hex byte); false when none or too large.
bool ParseHex(const char*& it, uint64_t& v);
// `name` equals `lower` (lower-case letters, digits and '-') ignoring the letter case of `name`.
// Inline: every head field's name is compared with a few known ones.
inline bool NameIs(std::string_view name, std::string_view lower) {
  // Setting 0x20 lowers a letter and changes no other tchar into a letter, digit or '-'.
  if (name.size() != lower.size()) return false;
  size_t i = 0;
  for (; i + 8 <= name.size(); i += 8) {
    uint64_t a = 0;
    uint64_t b = 0;
    std::memcpy(&a, name.data() + i, 8);
    std::memcpy(&b, lower.data() + i, 8);
    if ((a | 0x2020202020202020u) != b) return false;
  }
  for (; i < name.size(); ++i) {
    if ((name[i] | 0x20) != lower[i]) return false;
  }
  return true;
}
// chunk-ext after the size: stops at the first byte that cannot continue it (the line's CR,
// when well formed); need_more when the buffer ends inside it, bad_chunk_extension.
void ParseChunkExtensions(const char*& it, const char* last, error_code& ec);

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
      it = FindNonTchar(it, last);
      each(std::string_view(start, size_t(it - start)));
      need_comma = true;
      continue;
    }
    if (*it != ',') return false;
    need_comma = false;
    ++it;
  }
}

}  // namespace pdgate::router::http1
