#pragma once
// Checks for the header fields pdgate writes itself (relayed responses, leg requests): a CR or LF
// in a name or value would end the field early and let the rest pose as a header of its own.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace pdgate::router {

// One memchr per byte looked for (a vectorized scan of the whole value), not
// string_view::find_first_of, which calls memchr once per byte of the value.
inline bool IsFieldValueSafe(std::string_view value) {
  if (value.empty()) return true;  // data() may be null, which memchr must not get
  return std::memchr(value.data(), '\r', value.size()) == nullptr &&
         std::memchr(value.data(), '\n', value.size()) == nullptr;
}

constexpr bool IsFieldNameSafe(std::string_view name) {
  for (char c : name) {
    if (c == '\r' || c == '\n' || c == ':') return false;
  }
  return !name.empty();
}

// A field name written in the code, checked when it is compiled: the per-request check of a
// name that cannot change was a loop over its bytes for every field of every head.
class FieldName {
 public:
  template <size_t N>
  consteval FieldName(const char (&name)[N])  // NOLINT(google-explicit-constructor): literals
      : name_(name, N - 1) {
    // Not a constant expression, so a bad literal does not compile.
    if (!IsFieldNameSafe(name_)) throw "not a field name";
  }
  std::string_view view() const { return name_; }

 private:
  std::string_view name_;
};

// A whole field line written in the code ("Name: value\r\n"), checked when it is compiled: one
// append instead of a name, a value and their separators.
class FieldLine {
 public:
  template <size_t N>
  consteval FieldLine(const char (&line)[N])  // NOLINT(google-explicit-constructor): literals
      : line_(line, N - 1) {
    const size_t colon = line_.find(':');
    const bool ends_with_crlf = line_.size() >= 2 && line_.substr(line_.size() - 2) == "\r\n";
    if (colon == std::string_view::npos || !IsFieldNameSafe(line_.substr(0, colon)) ||
        !ends_with_crlf || line_.find_first_of("\r\n", colon) != line_.size() - 2) {
      throw "not one field line";  // not a constant expression: does not compile
    }
  }
  std::string_view view() const { return line_; }

 private:
  std::string_view line_;
};

// "name: value\r\n"; the caller has checked both. One size change and two copies: four
// std::string appends each checked and grew the string on their own.
inline void AppendField(std::string& head, std::string_view name, std::string_view value) {
  const size_t at = head.size();
  head.resize(at + name.size() + value.size() + 4);
  char* next = head.data() + at;
  std::memcpy(next, name.data(), name.size());
  next += name.size();
  next[0] = ':';
  next[1] = ' ';
  next += 2;
  if (!value.empty()) std::memcpy(next, value.data(), value.size());
  next += value.size();
  next[0] = '\r';
  next[1] = '\n';
}

// "Content-Length: <length>\r\n", for the heads pdgate writes.
inline void AppendContentLength(std::string& head, uint64_t length) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof(digits), length).ptr;
  AppendField(head, "Content-Length", std::string_view(digits, size_t(end - digits)));
}

}  // namespace pdgate::router
