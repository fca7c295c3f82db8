#pragma once
// A MessagePack writer (written from the format's spec, github.com/msgpack/msgpack/spec.md), for
// the KV-cache events the simulator publishes. Every value takes its shortest form, as msgspec
// (vLLM's encoder) writes them: integers as positive/negative fixint, then the smallest of
// uint8..64 / int8..64; strings as fixstr, str8, str16, str32; arrays and maps with fix, 16 or
// 32-bit headers. Floats are always float64 (Python floats are doubles). Values are appended to
// a caller-owned string; containers are written as a header and then their elements.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pdgate::sim {

class MsgpackWriter {
 public:
  explicit MsgpackWriter(std::string& out) : out_(out) {}

  void Nil();
  void Bool(bool value);
  void Uint(uint64_t value);
  void Int(int64_t value);  // non-negative values are written as Uint does
  void Double(double value);
  void String(std::string_view value);
  void Binary(std::span<const uint8_t> value);
  void ArrayHeader(uint32_t size);  // then `size` values
  void MapHeader(uint32_t size);    // then `size` key/value pairs

 private:
  void Byte(uint8_t byte) { out_.push_back(static_cast<char>(byte)); }
  void BigEndian(uint64_t value, int bytes);
  // A header of `fix_base | size` when size < fix_limit, else the 8/16/32-bit form (a zero
  // marker means that form does not exist for this type).
  void Header(uint32_t size, uint8_t fix_base, uint32_t fix_limit, uint8_t m8, uint8_t m16,
              uint8_t m32);

  std::string& out_;
};

}  // namespace pdgate::sim
