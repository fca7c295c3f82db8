#include "config/host_port.h"

#include <absl/strings/numbers.h>

namespace pdgate::config {

std::optional<HostPort> ParseHostPort(std::string_view address, uint16_t default_port) {
  const size_t colon = address.rfind(':');
  int64_t port = default_port;
  if (colon != std::string_view::npos &&
      (!absl::SimpleAtoi(std::string(address.substr(colon + 1)), &port) || port < 1 || port > 65535)) {
    return std::nullopt;
  }
  const std::string_view host = address.substr(0, colon);
  if (host.empty()) return std::nullopt;
  return HostPort{std::string(host), uint16_t(port)};
}

}  // namespace pdgate::config
