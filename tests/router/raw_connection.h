#pragma once
// A raw client connection for tests that need to control the bytes and the moment of hanging up.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace pdgate::testing {

// A raw client socket: writes what it is told, reads what comes, hangs up when told.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { Close(); }
  bool connected() const { return connected_; }
  bool Send(const std::string& data) {
    return send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == ssize_t(data.size());
  }
  // Reads until `needle` was received or the deadline passed.
  bool ReadUntil(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    timeval tv{0, 20000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buffer[4096];
    while (received_.find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n == 0) return received_.find(needle) != std::string::npos;
      if (n > 0) received_.append(buffer, size_t(n));
    }
    return true;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  const std::string& received() const { return received_; }
  // Forgets what was read: the next ReadUntil looks at the next response only.
  void ClearReceived() { received_.clear(); }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

}  // namespace pdgate::testing
