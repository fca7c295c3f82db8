#include "bench/engine_sim/msgpack_writer.h"

#include <bit>

namespace pdgate::sim {

void MsgpackWriter::BigEndian(uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) Byte(static_cast<uint8_t>(value >> (8 * i)));
}

void MsgpackWriter::Header(uint32_t size, uint8_t fix_base, uint32_t fix_limit, uint8_t m8,
                           uint8_t m16, uint8_t m32) {
  if (size < fix_limit) {
    Byte(static_cast<uint8_t>(fix_base | size));
  } else if (m8 != 0 && size <= UINT8_MAX) {
    Byte(m8);
    BigEndian(size, 1);
  } else if (size <= UINT16_MAX) {
    Byte(m16);
    BigEndian(size, 2);
  } else {
    Byte(m32);
    BigEndian(size, 4);
  }
}

void MsgpackWriter::Nil() { Byte(0xc0); }

void MsgpackWriter::Bool(bool value) { Byte(value ? 0xc3 : 0xc2); }

void MsgpackWriter::Uint(uint64_t value) {
  if (value <= 0x7f) {
    Byte(static_cast<uint8_t>(value));  // positive fixint
  } else if (value <= UINT8_MAX) {
    Byte(0xcc);
    BigEndian(value, 1);
  } else if (value <= UINT16_MAX) {
    Byte(0xcd);
    BigEndian(value, 2);
  } else if (value <= UINT32_MAX) {
    Byte(0xce);
    BigEndian(value, 4);
  } else {
    Byte(0xcf);
    BigEndian(value, 8);
  }
}

void MsgpackWriter::Int(int64_t value) {
  if (value >= 0) return Uint(static_cast<uint64_t>(value));
  const auto bits = static_cast<uint64_t>(value);  // two's complement, written big-endian
  if (value >= -32) {
    Byte(static_cast<uint8_t>(bits));  // negative fixint 0xe0..0xff
  } else if (value >= INT8_MIN) {
    Byte(0xd0);
    BigEndian(bits, 1);
  } else if (value >= INT16_MIN) {
    Byte(0xd1);
    BigEndian(bits, 2);
  } else if (value >= INT32_MIN) {
    Byte(0xd2);
    BigEndian(bits, 4);
  } else {
    Byte(0xd3);
    BigEndian(bits, 8);
  }
}

void MsgpackWriter::Double(double value) {
  Byte(0xcb);
  BigEndian(std::bit_cast<uint64_t>(value), 8);
}

void MsgpackWriter::String(std::string_view value) {
  Header(static_cast<uint32_t>(value.size()), 0xa0, 32, 0xd9, 0xda, 0xdb);
  out_.append(value);
}

void MsgpackWriter::Binary(std::span<const uint8_t> value) {
  // bin has no fix form: bin8 from length 0 on.
  Header(static_cast<uint32_t>(value.size()), 0, 0, 0xc4, 0xc5, 0xc6);
  out_.append(reinterpret_cast<const char*>(value.data()), value.size());
}

void MsgpackWriter::ArrayHeader(uint32_t size) { Header(size, 0x90, 16, 0, 0xdc, 0xdd); }

void MsgpackWriter::MapHeader(uint32_t size) { Header(size, 0x80, 16, 0, 0xde, 0xdf); }

}  // namespace pdgate::sim
