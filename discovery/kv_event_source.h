#pragma once
// Where one engine (one data-parallel rank of it) publishes its KV events; a change of any part
// makes the subscriber follow it afresh.
#include <cstdint>
#include <string>

namespace pdgate::discovery {

struct KvEventSource {
  uint32_t rank = 0;  // data-parallel rank: its ports are the configured ones + rank
  std::string url;
  std::string replay_url;  // empty: no replay socket
  std::string topic;
  friend bool operator==(const KvEventSource&, const KvEventSource&) = default;
};

// tcp://address:port, an IPv6 address in brackets.
inline std::string KvEventUrl(const std::string& address, uint16_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  return "tcp://" + (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace pdgate::discovery
