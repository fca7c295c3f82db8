#include "tests/router/limits/redis_server.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "tests/support/net.h"

namespace pdgate::limits::testing {

using namespace std::chrono_literals;

namespace {

// Outside 127.0.0.0/24, where the tests put their pods, routers and engines.
std::string OwnAddress() {
  static std::atomic<int> servers{0};
  const std::string address =
      "127.1." + std::to_string(getpid() % 250 + 1) + "." + std::to_string(servers++ % 250 + 1);
  return pdgate::testing::LoopbackUsable(address) ? address : "127.0.0.1";
}

}  // namespace

absl::StatusOr<RedisServer> RedisServer::Start(const std::vector<std::string>& extra,
                                               const std::string& host) {
  RedisServer server;
  server.host_ = host.empty() ? OwnAddress() : host;
  server.port_ = pdgate::testing::FreePort(server.host_);
  if (server.port_ == 0) return absl::UnavailableError("no free port");
  server.extra_ = extra;
  if (absl::Status started = server.Launch(); !started.ok()) return started;
  return server;
}

absl::Status RedisServer::Launch() {
  std::vector<std::string> argv{
      "redis-server", "--port", std::to_string(port_),    "--bind", host_, "--save", "",
      "--appendonly", "no",     "--enable-debug-command", "yes"};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  auto process = pdgate::testing::ChildProcess::Start(argv);
  if (!process.ok()) return process.status();
  process_.emplace(std::move(*process));
  // Redis listens once it is ready to serve (nothing to load).
  if (!pdgate::testing::WaitForPort(host_, port_, 10s)) {
    return absl::UnavailableError("redis-server did not listen: " + process_->Stderr() +
                                  process_->Stdout());
  }
  return absl::OkStatus();
}

void RedisServer::Kill() {
  if (!process_) return;
  process_->Signal(SIGKILL);
  process_->WaitFor(10s);
  process_.reset();
}

absl::Status RedisServer::Restart() {
  Kill();
  return Launch();
}

pdgate::router::Task<void> Pause(std::chrono::milliseconds duration) {
  pdgate::router::SteadyTimer timer(co_await net::this_coro::executor);
  timer.expires_after(duration);
  auto [ec] = co_await timer.async_wait(router::kTuple);
  (void)ec;  // cancelled only when the io_context goes away
}

}  // namespace pdgate::limits::testing
