#pragma once
// Starting pdgate-engine-sim processes for integration tests, reading their counters, and a raw
// streaming client that timestamps SSE bytes as they arrive (TTFT) or hangs up mid-stream.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace pdgate::sim::testing {

struct Sim {
  pdgate::testing::ChildProcess process;
  std::string host;
  uint16_t port = 0;
  uint16_t side_port = 0;  // vLLM --kv-port or SGLang --bootstrap-port

  // POST JSON to the API port; returns status and body (de-chunked).
  std::pair<int, std::string> Post(const std::string& target, const std::string& body) const;
  std::pair<int, std::string> Get(const std::string& target) const;
  // A number from GET /admin/stats, by JSON pointer ("/pulls_ok", "/finished/abort").
  double Stat(const std::string& pointer) const;
  // Polls a stat until it equals `value` (deadline 10 s).
  bool WaitForStat(const std::string& pointer, double value,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
};

// Starts a sim on 127.0.0.<address_index> with free ports and `args`, waits for /health 200
// (unless wait_ready is false). The process is stopped when the Sim goes out of scope.
Sim StartSim(int address_index, const std::vector<std::string>& args, bool wait_ready = true);
// The same on given ports (a sim restarted where the last one listened).
Sim StartSimOn(int address_index, uint16_t port, uint16_t side_port,
               const std::vector<std::string>& args);

// A number (or bool as 0/1) at a JSON pointer; nullopt when absent or not a number.
std::optional<double> JsonNumber(const std::string& json, const std::string& pointer);
std::optional<std::string> JsonString(const std::string& json, const std::string& pointer);
// The raw JSON text of the value at `pointer` (objects re-serialised minified).
std::optional<std::string> JsonValue(const std::string& json, const std::string& pointer);
// All paths of a JSON document: "a.b", "choices[].delta.content", ... (arrays merged).
std::vector<std::string> JsonPaths(const std::string& json);

class RawClient {
 public:
  RawClient(const std::string& host, uint16_t port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  bool connected() const { return fd_ >= 0; }
  void SendPost(const std::string& target, const std::string& body);
  // Sends bytes as they are; false when the connection is gone.
  bool SendRaw(const std::string& bytes);
  // Reads until `needle` appears in everything received, or the deadline. Returns whether found.
  bool ReadUntil(const std::string& needle, std::chrono::milliseconds timeout);
  // Reads to EOF (or the deadline).
  void ReadToEnd(std::chrono::milliseconds timeout);
  const std::string& received() const { return received_; }
  void ClearReceived() { received_.clear(); }
  void Close();

 private:
  int fd_ = -1;
  std::string host_;
  std::string received_;
};

// The SSE events ("data: ..." payloads) of a de-chunked event-stream body.
std::vector<std::string> SseEvents(const std::string& body, bool* framing_ok = nullptr);

}  // namespace pdgate::sim::testing
