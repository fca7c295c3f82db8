#pragma once
// Loopback networking for integration tests: free ports, distinct 127.0.0.x addresses (one per
// simulated pod, all on the same port as pods in a cluster), waits with deadlines, and a minimal
// blocking HTTP/1.1 client for probes.
#include <absl/status/statusor.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pdgate::testing {

// "127.0.0.<n>". Linux routes all of 127.0.0.0/8 to lo, so any n in 1..254 can be bound
// without configuration; LoopbackUsable() checks that it really can on this machine.
std::string LoopbackAddress(int n);
bool LoopbackUsable(const std::string& address);

// A port that was free on `address` a moment ago: a random one below the kernel's ephemeral range
// that could be bound (else one the kernel picks). Another process may still take it before the
// caller binds it, so servers started on it are started again when their bind fails.
uint16_t FreePort(const std::string& address = "127.0.0.1");
// The first of `count` consecutive ports that were free on `address` (0 when none was found).
uint16_t FreePorts(const std::string& address, int count);

// Polls until a TCP connect succeeds, or the deadline passes.
bool WaitForPort(const std::string& address, uint16_t port, std::chrono::milliseconds timeout);

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;                                          // de-chunked
  std::string Header(const std::string& lower_name) const;
};

// One request on a fresh connection (Connection: close), read to the end.
absl::StatusOr<HttpResponse> HttpRequest(
    const std::string& address, uint16_t port, const std::string& method, const std::string& target,
    const std::string& body = "",
    const std::vector<std::pair<std::string, std::string>>& headers = {},
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Polls GET `target` until it answers `status`, or the deadline passes.
bool WaitForHttpStatus(const std::string& address, uint16_t port, const std::string& target,
                       int status, std::chrono::milliseconds timeout);

}  // namespace pdgate::testing
