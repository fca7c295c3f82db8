#include "tests/loadgen/loadgen_harness.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "tests/support/net.h"
#include "tests/support/paths.h"

namespace pdgate::testing {

Sim StartSim(const std::vector<std::string>& extra) {
  const uint16_t port = FreePort();
  const uint16_t kv_port = FreePort();
  std::vector<std::string> argv{BinaryPath("pdgate-engine-sim"),
                                "--host",
                                "127.0.0.1",
                                "--port",
                                std::to_string(port),
                                "--kv-port",
                                std::to_string(kv_port),
                                "--quiet"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto process = ChildProcess::Start(argv);
  REQUIRE(process.ok());
  Sim sim{std::move(*process), port};
  REQUIRE(WaitForHttpStatus("127.0.0.1", port, "/health", 200, std::chrono::seconds(10)));
  return sim;
}

BenchRun RunBench(const std::vector<std::string>& args,
                  std::chrono::milliseconds timeout) {
  static int counter = 0;
  BenchRun run;
  run.json_path = "/tmp/pdgate_loadgen_test_" + std::to_string(getpid()) + "_" +
                  std::to_string(counter++) + ".json";
  std::vector<std::string> argv{BinaryPath("pdgate-bench"), "--json-out", run.json_path};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = RunCommand(argv, timeout);
  REQUIRE(result.ok());
  run.command = *result;
  std::ifstream f(run.json_path);
  std::stringstream ss;
  ss << f.rdbuf();
  run.json = ss.str();
  return run;
}

double Number(simdjson::dom::element doc, const char* pointer) {
  double v = 0;
  simdjson::dom::element e;
  REQUIRE(doc.at_pointer(pointer).get(e) == simdjson::SUCCESS);
  if (e.is_int64()) return static_cast<double>(int64_t(e));
  if (e.is_uint64()) return static_cast<double>(uint64_t(e));
  REQUIRE(e.get_double().get(v) == simdjson::SUCCESS);
  return v;
}

}  // namespace pdgate::testing
