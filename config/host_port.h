#pragma once
// "host:port" addresses of services pdgate talks to (Redis): split once, at load.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pdgate::config {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// "host:port", or "host" alone for `default_port`; nullopt when the host is empty or the port
// is not 1..65535.
std::optional<HostPort> ParseHostPort(std::string_view address, uint16_t default_port);

}  // namespace pdgate::config
