#include "discovery/msgpack_reader.h"

#include <bit>
#include <cstring>

namespace pdgate::discovery {

uint64_t MsgpackReader::BigEndian(size_t offset, size_t bytes) const {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) value = (value << 8) | bytes_[at_ + offset + i];
  return value;
}

bool MsgpackReader::ReadHeader(Header& h) const {
  if (left() == 0) return false;
  const uint8_t b = bytes_[at_];
  // Fixed-size headers: type, header bytes, and how many bytes hold a length after the marker.
  size_t length_bytes = 0;
  h = {};
  if (b <= 0x7f || b >= 0xe0) {
    h = {MsgpackType::kInt, 1, 0};
  } else if (b <= 0x8f) {
    h = {MsgpackType::kMap, 1, uint64_t(b & 0x0f)};
  } else if (b <= 0x9f) {
    h = {MsgpackType::kArray, 1, uint64_t(b & 0x0f)};
  } else if (b <= 0xbf) {
    h = {MsgpackType::kString, 1, uint64_t(b & 0x1f)};
  } else {
    switch (b) {
      case 0xc0: h = {MsgpackType::kNil, 1, 0}; break;
      case 0xc2: case 0xc3: h = {MsgpackType::kBool, 1, 0}; break;
      case 0xc4: case 0xc5: case 0xc6:
        h.type = MsgpackType::kBinary;
        length_bytes = size_t{1} << (b - 0xc4);
        break;
      case 0xc7: case 0xc8: case 0xc9:
        h.type = MsgpackType::kExt;
        length_bytes = size_t{1} << (b - 0xc7);
        break;
      case 0xca: h = {MsgpackType::kFloat, 5, 0}; break;
      case 0xcb: h = {MsgpackType::kFloat, 9, 0}; break;
      case 0xcc: case 0xcd: case 0xce: case 0xcf:
        h = {MsgpackType::kInt, 1 + (size_t{1} << (b - 0xcc)), 0};
        break;
      case 0xd0: case 0xd1: case 0xd2: case 0xd3:
        h = {MsgpackType::kInt, 1 + (size_t{1} << (b - 0xd0)), 0};
        break;
      case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        h = {MsgpackType::kExt, 2, uint64_t{1} << (b - 0xd4)};  // marker, ext type, data
        break;
      case 0xd9: case 0xda: case 0xdb:
        h.type = MsgpackType::kString;
        length_bytes = size_t{1} << (b - 0xd9);
        break;
      case 0xdc: case 0xdd:
        h.type = MsgpackType::kArray;
        length_bytes = b == 0xdc ? 2 : 4;
        break;
      case 0xde: case 0xdf:
        h.type = MsgpackType::kMap;
        length_bytes = b == 0xde ? 2 : 4;
        break;
      default:  // 0xc1: never used
        return false;
    }
  }
  if (length_bytes != 0) {
    h.header_bytes = 1 + length_bytes + (h.type == MsgpackType::kExt ? 1 : 0);
    if (left() < h.header_bytes) return false;
    h.length = BigEndian(1, length_bytes);
  }
  if (left() < h.header_bytes) return false;
  const uint64_t rest = left() - h.header_bytes;
  switch (h.type) {
    case MsgpackType::kString:
    case MsgpackType::kBinary:
    case MsgpackType::kExt:
      return h.length <= rest;
    case MsgpackType::kArray:  // every element takes at least a byte
      return h.length <= rest;
    case MsgpackType::kMap:
      return h.length <= rest / 2;
    default:
      return true;
  }
}

MsgpackType MsgpackReader::Peek() const {
  Header h;
  if (left() == 0) return MsgpackType::kEnd;
  if (ReadHeader(h)) return h.type;
  // Cut off or never-used: say what it claims to be, the Read* calls refuse it.
  const uint8_t b = bytes_[at_];
  return b == 0xc1 ? MsgpackType::kExt : h.type;
}

bool MsgpackReader::ReadNil() {
  if (left() == 0 || bytes_[at_] != 0xc0) return false;
  ++at_;
  return true;
}

bool MsgpackReader::ReadArray(uint32_t& size) {
  Header h;
  if (!ReadHeader(h) || h.type != MsgpackType::kArray) return false;
  size = uint32_t(h.length);
  at_ += h.header_bytes;
  return true;
}

bool MsgpackReader::ReadMap(uint32_t& size) {
  Header h;
  if (!ReadHeader(h) || h.type != MsgpackType::kMap) return false;
  size = uint32_t(h.length);
  at_ += h.header_bytes;
  return true;
}

bool MsgpackReader::ReadInteger(uint64_t& bits) {
  Header h;
  if (!ReadHeader(h) || h.type != MsgpackType::kInt) return false;
  const uint8_t b = bytes_[at_];
  if (b <= 0x7f) {
    bits = b;
  } else if (b >= 0xe0) {
    bits = uint64_t(int64_t(int8_t(b)));
  } else if (b >= 0xcc && b <= 0xcf) {
    bits = BigEndian(1, h.header_bytes - 1);
  } else {  // 0xd0..0xd3: sign-extend from the value's width
    const size_t width = h.header_bytes - 1;
    const uint64_t raw = BigEndian(1, width);
    const unsigned shift = unsigned(64 - 8 * width);
    bits = shift == 0 ? raw : uint64_t(int64_t(raw << shift) >> shift);
  }
  at_ += h.header_bytes;
  return true;
}

bool MsgpackReader::ReadUnsigned(uint64_t& value, uint64_t max) {
  const size_t start = at_;
  uint64_t bits = 0;
  if (!ReadInteger(bits)) return false;
  const uint8_t b = bytes_[start];
  const bool negative = b >= 0xe0 || (b >= 0xd0 && b <= 0xd3 && int64_t(bits) < 0);
  if (negative || bits > max) {
    at_ = start;
    return false;
  }
  value = bits;
  return true;
}

bool MsgpackReader::ReadDouble(double& value) {
  Header h;
  if (!ReadHeader(h)) return false;
  if (h.type == MsgpackType::kInt) {
    const uint8_t b = bytes_[at_];
    uint64_t bits = 0;
    ReadInteger(bits);
    const bool is_signed = b >= 0xe0 || (b >= 0xd0 && b <= 0xd3);
    value = is_signed ? double(int64_t(bits)) : double(bits);
    return true;
  }
  if (h.type != MsgpackType::kFloat) return false;
  if (h.header_bytes == 5) {
    value = double(std::bit_cast<float>(uint32_t(BigEndian(1, 4))));
  } else {
    value = std::bit_cast<double>(BigEndian(1, 8));
  }
  at_ += h.header_bytes;
  return true;
}

bool MsgpackReader::ReadString(std::string_view& value) {
  Header h;
  if (!ReadHeader(h) || h.type != MsgpackType::kString) return false;
  value = std::string_view(reinterpret_cast<const char*>(bytes_.data() + at_ + h.header_bytes),
                           size_t(h.length));
  at_ += h.header_bytes + size_t(h.length);
  return true;
}

bool MsgpackReader::ReadBinary(std::span<const uint8_t>& value) {
  Header h;
  if (!ReadHeader(h) || h.type != MsgpackType::kBinary) return false;
  value = bytes_.subspan(at_ + h.header_bytes, size_t(h.length));
  at_ += h.header_bytes + size_t(h.length);
  return true;
}

bool MsgpackReader::Skip() {
  const size_t start = at_;
  uint64_t pending = 1;  // values still to skip, nested ones included
  while (pending > 0) {
    Header h;
    if (!ReadHeader(h)) {
      at_ = start;
      return false;
    }
    --pending;
    at_ += h.header_bytes;
    switch (h.type) {
      case MsgpackType::kArray:
        pending += h.length;
        break;
      case MsgpackType::kMap:
        pending += 2 * h.length;
        break;
      case MsgpackType::kString:
      case MsgpackType::kBinary:
      case MsgpackType::kExt:
        at_ += size_t(h.length);
        break;
      default:
        break;
    }
  }
  return true;
}

}  // namespace pdgate::discovery
