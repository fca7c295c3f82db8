#pragma once
// Child processes for integration tests: started with their output captured to files, stopped
// (SIGTERM, then SIGKILL) when the object goes out of scope, and killed by the kernel if the test
// process itself dies (PR_SET_PDEATHSIG), so no test leaves a server behind.
#include <absl/status/statusor.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace pdgate::testing {

// What /proc says of a process: its open file descriptors, and its CPU time (utime + stime) in
// seconds.
size_t OpenFds(pid_t pid);
double CpuSeconds(pid_t pid);

class ChildProcess {
 public:
  // argv[0] is a path or a name looked up in PATH.
  static absl::StatusOr<ChildProcess> Start(const std::vector<std::string>& argv);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Sends `signal` (if still running).
  void Signal(int signal);
  // Waits for the exit; nullopt when it is still running at the deadline. Exit code, or 128+signal.
  std::optional<int> WaitFor(std::chrono::milliseconds timeout);
  // SIGTERM, up to `grace` to exit, then SIGKILL. Returns the exit status.
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(3));
  bool Running();

  // What the child wrote so far.
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  ChildProcess(pid_t pid, std::string stdout_path, std::string stderr_path)
      : pid_(pid), stdout_path_(std::move(stdout_path)), stderr_path_(std::move(stderr_path)) {}
  void Release();

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string stdout_path_;
  std::string stderr_path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion (killed at `timeout`, which is then an error).
absl::StatusOr<CommandResult> RunCommand(
    const std::vector<std::string>& argv,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace pdgate::testing
