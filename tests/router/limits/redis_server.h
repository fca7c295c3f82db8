#pragma once
// A real redis-server for one test (on a loopback address of its own, nothing persisted, killed at
// scope exit), and a way to run a coroutine to its end on the test thread's io_context.
#include <absl/status/statusor.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "router/http/net.h"
#include "tests/support/child_process.h"

namespace pdgate::limits::testing {

namespace net = router::net;

class RedisServer {
 public:
  // `extra` is appended to redis-server's arguments (e.g. {"--requirepass", "secret"}). `host`
  // empty: an address of its own (see host()).
  static absl::StatusOr<RedisServer> Start(const std::vector<std::string>& extra = {},
                                           const std::string& host = "");

  // 127.1.x.y, one per server and test process: when this server dies, no other test's Redis can
  // take its place at the same address and port and answer a replica that should see it gone.
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  std::string address() const { return host_ + ":" + std::to_string(port_); }
  // SIGKILL: no goodbye to the clients, as when the machine or the pod dies.
  void Kill();
  // A new process on the same port, with the same arguments (empty: no data survives).
  absl::Status Restart();

 private:
  absl::Status Launch();

  std::string host_;
  uint16_t port_ = 0;
  std::vector<std::string> extra_;
  std::optional<pdgate::testing::ChildProcess> process_;
};

template <class T>
pdgate::router::Task<void> StoreResult(pdgate::router::Task<T> task, std::optional<T>& result) {
  // Through a reference rather than co_spawn's value handler: GCC 12 sees a StatusOr moved
  // through Asio's handler as maybe-uninitialized.
  result.emplace(co_await std::move(task));
}

// Runs `task` on `ioc` (in this thread) until it ends; other work (a connection's reader) may
// stay pending. Fails the test when it takes longer than `limit`.
template <class T>
T RunOn(net::io_context& ioc, pdgate::router::Task<T> task,
        std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  std::optional<T> result;
  std::exception_ptr error;
  bool done = false;
  net::co_spawn(ioc, StoreResult(std::move(task), result), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  ioc.restart();
  while (!done && std::chrono::steady_clock::now() < deadline) {
    ioc.run_one_for(std::chrono::milliseconds(100));
    ioc.restart();  // run_one_for stops the context when it runs out of work
  }
  if (error) std::rethrow_exception(error);
  REQUIRE(result.has_value());
  return std::move(*result);
}

// Waits `duration` inside a coroutine (between polls of a condition).
pdgate::router::Task<void> Pause(std::chrono::milliseconds duration);

}  // namespace pdgate::limits::testing
