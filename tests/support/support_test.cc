// The test helpers themselves: processes stop, waits honour deadlines, loopback addresses bind.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/support/child_process.h"
#include "tests/support/net.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

TEST_CASE("a child process's output is captured and its exit code returned") {
  auto result = RunCommand({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE(result.ok());
  CHECK(result->exit_code == 3);
  CHECK(result->out == "out\n");
  CHECK(result->err == "err\n");
}

TEST_CASE("a running child is stopped at scope exit") {
  pid_t pid = -1;
  {
    auto child = ChildProcess::Start({"sleep", "30"});
    REQUIRE(child.ok());
    pid = child->pid();
    CHECK(child->Running());
  }
  // Reaped by the destructor: the pid no longer names our child.
  CHECK(kill(pid, 0) != 0);
}

TEST_CASE("a command that overruns its timeout is killed and reported") {
  auto result = RunCommand({"sleep", "30"}, 100ms);
  CHECK(absl::IsDeadlineExceeded(result.status()));
}

TEST_CASE("distinct loopback addresses are usable, and waits honour deadlines") {
  const std::string address = LoopbackAddress(23);
  REQUIRE(LoopbackUsable(address));
  uint16_t port = FreePort(address);
  REQUIRE(port != 0);
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(WaitForPort(address, port, 150ms));
  CHECK(std::chrono::steady_clock::now() - start >= 150ms);

  auto server = ChildProcess::Start(
      {"python3", "-m", "http.server", "--bind", address, std::to_string(port)});
  REQUIRE(server.ok());
  REQUIRE(WaitForHttpStatus(address, port, "/", 200, 10s));
  auto response = HttpRequest(address, port, "GET", "/");
  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK_FALSE(response->body.empty());
  server->Stop();
  CHECK_FALSE(server->Running());
}
