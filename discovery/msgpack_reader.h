#pragma once
// A bounds-checked MessagePack reader (written from the format's spec): one value at a time, and
// a Skip for whatever the caller does not know. It never reads past its bytes, and a declared
// array or map length longer than the bytes left is refused, so a caller that reserves for a
// declared length reserves at most one element per byte left. Used by the KV-event decoder
// (kv_events.h).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace pdgate::discovery {

enum class MsgpackType { kNil, kBool, kInt, kFloat, kString, kBinary, kArray, kMap, kExt, kEnd };

class MsgpackReader {
 public:
  explicit MsgpackReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  // The type of the next value (kEnd when none is left; a cut-off value still has its type).
  MsgpackType Peek() const;
  bool done() const { return at_ == bytes_.size(); }

  // Each reads the next value when it has that type and is whole; otherwise returns false and
  // reads nothing.
  bool ReadNil();
  bool ReadArray(uint32_t& size);
  bool ReadMap(uint32_t& size);
  // Any integer, as its 64-bit two's complement (-1 is 0xffff...): how hashes are compared.
  bool ReadInteger(uint64_t& bits);
  // An integer that is not negative and fits `max`.
  bool ReadUnsigned(uint64_t& value, uint64_t max = UINT64_MAX);
  bool ReadDouble(double& value);  // a float (32 or 64 bits) or an integer
  bool ReadString(std::string_view& value);
  bool ReadBinary(std::span<const uint8_t>& value);
  // Skips the next value whole, however deeply nested (iterative: no recursion to exhaust).
  bool Skip();

 private:
  // The next value's header: its type, the bytes of the header, and the length that follows it
  // (payload bytes for strings, binaries and exts; elements for arrays; pairs for maps).
  struct Header {
    MsgpackType type = MsgpackType::kEnd;
    size_t header_bytes = 0;
    uint64_t length = 0;
  };
  bool ReadHeader(Header& header) const;
  uint64_t BigEndian(size_t offset, size_t bytes) const;
  size_t left() const { return bytes_.size() - at_; }

  std::span<const uint8_t> bytes_;
  size_t at_ = 0;
};

}  // namespace pdgate::discovery
