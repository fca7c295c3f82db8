#pragma once
// An asynchronous HTTP/1.1 client (Beast) for the decode sim's side-channel calls to a prefill
// sim: one call per PD request (the KV pull, or SGLang's room wait). Connections are kept alive
// and reused per peer, as a real decode keeps its NIXL/Mooncake agent connections: a connection
// per call would make the sims, not the router, the cost of a PD benchmark.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace pdgate::sim {

struct HttpResult {
  bool transport_ok = false;
  std::string error;  // when !transport_ok
  int status = 0;
  std::string body;
};

class HttpClientPool {
 public:
  // Idle connections kept per peer; beyond it a finished connection is closed.
  static constexpr size_t kMaxIdlePerPeer = 64;

  explicit HttpClientPool(boost::asio::io_context& ioc);
  ~HttpClientPool();

  // Thread-safe. A call that finds its reused connection closed by the peer before any answer
  // byte (the peer closed it while idle) is made once more on a fresh connection.
  void Post(std::string host, uint16_t port, std::string target, std::string body,
            std::chrono::milliseconds timeout, std::function<void(HttpResult)> done);

  class Connection;

 private:
  friend class PooledCall;
  std::unique_ptr<Connection> TakeIdle(const std::string& peer);
  void PutIdle(const std::string& peer, std::unique_ptr<Connection> connection);

  boost::asio::io_context& ioc_;
  std::mutex mutex_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>, std::less<>> idle_;
};

}  // namespace pdgate::sim
