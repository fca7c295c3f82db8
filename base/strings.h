#pragma once
// String helpers for all layers. Debian's abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW 0:
// absl::string_view is a type of its own and absl::StrCat does not take std::string_view, so
// pdgate concatenates with these instead and keys hash maps with StringViewHash.
#include <absl/hash/hash.h>

#include <charconv>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pdgate {

namespace strings_internal {
inline void Append(std::string& out, std::string_view piece) { out.append(piece); }
inline void Append(std::string& out, char c) { out.push_back(c); }
template <typename T>
requires(std::integral<T> && !std::same_as<T, char> &&
         !std::same_as<T, bool>) void Append(std::string& out, T value) {
  char buffer[24];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, result.ptr);
}
void Append(std::string& out, double value);
}  // namespace strings_internal

template <typename... Pieces>
void StrAppend(std::string& out, const Pieces&... pieces) {
  (strings_internal::Append(out, pieces), ...);
}

template <typename... Pieces>
std::string StrCat(const Pieces&... pieces) {
  std::string out;
  StrAppend(out, pieces...);
  return out;
}

std::string StrJoin(const std::vector<std::string>& parts, std::string_view separator);

// `value` as a JSON string literal (quotes included), control bytes as \u00XX.
void AppendJsonString(std::string& out, std::string_view value);
// The same written at `out`, which has room for JsonStringBound(value.size()) bytes; returns the
// end of what was written. For formatting a whole line into room made once.
char* WriteJsonString(char* out, std::string_view value);
// The same without the quotes (JsonStringBound(value.size()) - 2 bytes of room).
char* WriteJsonText(char* out, std::string_view value);
constexpr size_t JsonStringBound(size_t value_size) { return 6 * value_size + 2; }
// The first byte of data[0, size) that a JSON string must escape, or `size`. Reads whole 32-byte
// blocks: the 31 bytes after data + size must be readable (a buffer with that much room).
size_t FindJsonEscapeInRoom(const char* data, size_t size);

// Transparent hash for absl::flat_hash_map<std::string, V, StringViewHash, std::equal_to<>>, so
// a std::string_view (from simdjson, from a request) looks a key up without allocating.
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
};

}  // namespace pdgate
