// The harness of pdgate-bench's integration tests: a pdgate-engine-sim on a free port, one
// pdgate-bench run with its --json-out report, numbers read from that report.
#pragma once

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace pdgate::testing {

struct Sim {
  ChildProcess process;
  uint16_t port = 0;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

Sim StartSim(const std::vector<std::string>& extra);

struct BenchRun {
  CommandResult command;
  std::string json;  // the --json-out file
  std::string json_path;
};

BenchRun RunBench(const std::vector<std::string>& args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

double Number(simdjson::dom::element doc, const char* pointer);

}  // namespace pdgate::testing
