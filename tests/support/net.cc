#include "tests/support/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

namespace pdgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

bool MakeAddress(const std::string& address, uint16_t port, sockaddr_in& out) {
  std::memset(&out, 0, sizeof(out));
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  return inet_pton(AF_INET, address.c_str(), &out.sin_addr) == 1;
}

sockaddr* AsSockaddr(sockaddr_in& address) {
  return static_cast<sockaddr*>(static_cast<void*>(&address));
}

bool ConnectOnce(const std::string& address, uint16_t port, int& fd_out) {
  sockaddr_in addr;
  if (!MakeAddress(address, port, addr)) return false;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  if (connect(fd, AsSockaddr(addr), sizeof(addr)) != 0) {
    close(fd);
    return false;
  }
  fd_out = fd;
  return true;
}

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return int(std::max<int64_t>(0, left.count()));
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

absl::StatusOr<std::string> Dechunk(const std::string& body) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t eol = body.find("\r\n", pos);
    if (eol == std::string::npos) return absl::DataLossError("truncated chunk size");
    size_t size = std::strtoul(body.substr(pos, eol - pos).c_str(), nullptr, 16);
    pos = eol + 2;
    if (size == 0) return out;
    if (pos + size > body.size()) return absl::DataLossError("truncated chunk");
    out.append(body, pos, size);
    pos += size + 2;
  }
}

}  // namespace

std::string LoopbackAddress(int n) { return "127.0.0." + std::to_string(n); }

bool LoopbackUsable(const std::string& address) {
  sockaddr_in addr;
  if (!MakeAddress(address, 0, addr)) return false;
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return fd.get() >= 0 && bind(fd.get(), AsSockaddr(addr), sizeof(addr)) == 0;
}

namespace {

// The kernel's ephemeral range, from which it also takes the local port of every outgoing
// connection: a port found there may be some test's client socket a moment later.
std::pair<int, int> EphemeralRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  in >> low >> high;
  return {low, high};
}

bool CanBind(const std::string& address, uint16_t port) {
  sockaddr_in addr;
  if (!MakeAddress(address, port, addr)) return false;
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return fd.get() >= 0 && bind(fd.get(), AsSockaddr(addr), sizeof(addr)) == 0;
}

}  // namespace

uint16_t FreePort(const std::string& address) {
  // A random port below the ephemeral range: outgoing connections never take it, and parallel
  // tests pick the same one only by chance (callers that start a server still retry when its
  // bind fails).
  static const int low = EphemeralRange().first;
  if (low > 12000) {
    thread_local std::mt19937 rng(std::random_device{}() ^ unsigned(getpid()));
    std::uniform_int_distribution<int> pick(low - 10000, low - 1);
    for (int attempt = 0; attempt < 100; ++attempt) {
      const auto port = uint16_t(pick(rng));
      if (CanBind(address, port)) return port;
    }
  }
  sockaddr_in addr;
  if (!MakeAddress(address, 0, addr)) return 0;
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (bind(fd.get(), AsSockaddr(addr), sizeof(addr)) != 0) return 0;
  socklen_t len = sizeof(addr);
  getsockname(fd.get(), AsSockaddr(addr), &len);
  return ntohs(addr.sin_port);
}

uint16_t FreePorts(const std::string& address, int count) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const uint16_t first = FreePort(address);
    if (first == 0 || first + count > 65536) continue;
    bool free = true;
    for (int k = 1; k < count && free; ++k) free = CanBind(address, uint16_t(first + k));
    if (free) return first;
  }
  return 0;
}

bool WaitForPort(const std::string& address, uint16_t port, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int fd = -1;
    if (ConnectOnce(address, port, fd)) {
      close(fd);
      return true;
    }
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
  }
}

std::string HttpResponse::Header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

absl::StatusOr<HttpResponse> HttpRequest(
    const std::string& address, uint16_t port, const std::string& method, const std::string& target,
    const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers,
    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  int raw_fd = -1;
  if (!ConnectOnce(address, port, raw_fd)) {
    return absl::UnavailableError("connect to " + address + ":" + std::to_string(port) + ": " +
                                  std::strerror(errno));
  }
  Fd fd(raw_fd);
  std::string request =
      method + " " + target + " HTTP/1.1\r\nHost: " + address + "\r\n" + "Connection: close\r\n";
  bool has_length = false;
  for (const auto& [name, value] : headers) {
    request += name + ": " + value + "\r\n";
    if (Lower(name) == "content-length" || Lower(name) == "transfer-encoding") has_length = true;
  }
  if (!has_length && (!body.empty() || method == "POST")) {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return absl::UnavailableError("send failed");
    sent += size_t(n);
  }
  std::string raw;
  char buffer[16384];
  while (true) {
    pollfd p{fd.get(), POLLIN, 0};
    int ready = poll(&p, 1, MillisLeft(deadline));
    if (ready == 0) return absl::DeadlineExceededError("no complete response in time");
    ssize_t n = recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n < 0) return absl::UnavailableError(std::string("recv: ") + std::strerror(errno));
    if (n == 0) break;
    raw.append(buffer, size_t(n));
  }
  size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos || raw.compare(0, 5, "HTTP/") != 0) {
    return absl::DataLossError("malformed response: " + raw.substr(0, 200));
  }
  HttpResponse response;
  response.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  size_t line_start = raw.find("\r\n") + 2;
  while (line_start < header_end) {
    size_t line_end = raw.find("\r\n", line_start);
    std::string line = raw.substr(line_start, line_end - line_start);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      size_t value_start = line.find_first_not_of(" \t", colon + 1);
      response.headers.emplace_back(Lower(line.substr(0, colon)), value_start == std::string::npos
                                                                      ? ""
                                                                      : line.substr(value_start));
    }
    line_start = line_end + 2;
  }
  response.body = raw.substr(header_end + 4);
  if (Lower(response.Header("transfer-encoding")) == "chunked") {
    absl::StatusOr<std::string> body_or = Dechunk(response.body);
    if (!body_or.ok()) return body_or.status();
    response.body = std::move(*body_or);
  }
  return response;
}

bool WaitForHttpStatus(const std::string& address, uint16_t port, const std::string& target,
                       int status, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto response = HttpRequest(address, port, "GET", target, "", {},
                                std::chrono::milliseconds(std::max(50, MillisLeft(deadline))));
    if (response.ok() && response->status == status) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
  }
}

}  // namespace pdgate::testing
