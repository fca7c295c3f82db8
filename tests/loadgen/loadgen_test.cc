// Integration tests: the pdgate-bench binary against real pdgate-engine-sim processes.
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/loadgen/loadgen_harness.h"
#include "tests/support/child_process.h"
#include "tests/support/net.h"
#include "tests/support/paths.h"

namespace pdgate::testing {
namespace {

TEST_CASE("Non-streaming completions against a zero-latency sim, with usage and cached tokens") {
  Sim sim = StartSim({"--zero-latency"});
  // A shared prefix of 64 tokens: after the first request, the sim's prefix cache hits it.
  BenchRun run =
      RunBench({"--url", sim.url(), "--api", "completions", "--no-stream", "--concurrency", "4",
                "--num-prompts", "200", "--random-input-len", "16", "--random-prefix-len", "64",
                "--random-output-len", "8", "--ignore-eos", "--metric-percentiles", "50,90"});
  INFO(run.command.out << run.command.err);
  REQUIRE(run.command.exit_code == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(run.json).get(doc) == simdjson::SUCCESS);
  CHECK(Number(doc, "/completed") == 200);
  CHECK(Number(doc, "/total_output_tokens") == 1600);
  CHECK(Number(doc, "/total_input_tokens") >= 200 * 80);
  CHECK(Number(doc, "/cached_token_ratio") > 0.5);
  CHECK(Number(doc, "/request_throughput") > 0);
  CHECK(doc["p90_e2el_ms"].error() == simdjson::SUCCESS);
  CHECK(run.command.out.find("Successful requests:                    200") != std::string::npos);
  std::remove(run.json_path.c_str());

  const std::string html_path = "/tmp/pdgate_loadgen_test_" + std::to_string(getpid()) + ".html";
  BenchRun with_html =
      RunBench({"--url", sim.url(), "--num-prompts", "20", "--html-out", html_path});
  REQUIRE(with_html.command.exit_code == 0);
  std::ifstream f(html_path);
  std::stringstream html;
  html << f.rdbuf();
  CHECK(html.str().find("<polyline") != std::string::npos);
  CHECK(html.str().find("</html>") != std::string::npos);
  std::remove(html_path.c_str());
  std::remove(with_html.json_path.c_str());
}

TEST_CASE("Failures are counted by class") {
  SECTION("status") {
    Sim sim = StartSim({"--zero-latency", "--fail-rate", "1", "--fail-status", "503"});
    BenchRun run = RunBench({"--url", sim.url(), "--num-prompts", "10", "--concurrency", "2"});
    INFO(run.command.out << run.command.err);
    CHECK(run.command.exit_code == 1);  // nothing succeeded
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(run.json).get(doc) == simdjson::SUCCESS);
    CHECK(Number(doc, "/failed") == 10);
    CHECK(Number(doc, "/failures_by_class/status") == 10);
    CHECK(Number(doc, "/requests/0/status") == 503);
    std::remove(run.json_path.c_str());
  }
  SECTION("connection") {
    const uint16_t port = FreePort();  // nothing listens there
    BenchRun run =
        RunBench({"--url", "http://127.0.0.1:" + std::to_string(port), "--num-prompts", "5"});
    CHECK(run.command.exit_code == 1);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(run.json).get(doc) == simdjson::SUCCESS);
    CHECK(Number(doc, "/failures_by_class/connection") == 5);
    std::remove(run.json_path.c_str());
  }
  SECTION("timeout") {
    Sim sim = StartSim({"--zero-latency", "--stall-first-byte", "5"});
    BenchRun run = RunBench({"--url", sim.url(), "--num-prompts", "2", "--timeout", "0.3"});
    CHECK(run.command.exit_code == 1);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(run.json).get(doc) == simdjson::SUCCESS);
    CHECK(Number(doc, "/failures_by_class/timeout") == 2);
    std::remove(run.json_path.c_str());
  }
  SECTION("a stream cut before [DONE]") {
    Sim sim =
        StartSim({"--zero-latency", "--drop-mid-stream-rate", "1", "--mid-stream-after", "2"});
    BenchRun run = RunBench(
        {"--url", sim.url(), "--num-prompts", "3", "--random-output-len", "10", "--ignore-eos"});
    CHECK(run.command.exit_code == 1);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(run.json).get(doc) == simdjson::SUCCESS);
    CHECK(Number(doc, "/failed") == 3);
    CHECK(Number(doc, "/completed") == 0);
    std::remove(run.json_path.c_str());
  }
}

TEST_CASE("Open loop: requests go out on the seeded Poisson schedule") {
  Sim sim = StartSim({"--zero-latency"});
  BenchRun run = RunBench({"--url", sim.url(), "--request-rate", "40", "--num-prompts", "40",
                           "--seed", "9", "--random-output-len", "4", "--ignore-eos"});
  INFO(run.command.out << run.command.err);
  REQUIRE(run.command.exit_code == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(run.json).get(doc) == simdjson::SUCCESS);
  CHECK(Number(doc, "/completed") == 40);
  // 40 requests at 40/s: the last send near 1 s (a gamma sum: seeded, so always the same value;
  // the bounds are loose enough for any seed's 40-gap sum within ±3 sigma).
  const double last_send = Number(doc, "/requests/39/send_s");
  CHECK(last_send > 0.5);
  CHECK(last_send < 1.5);
  // Sends are spread, not all at once.
  CHECK(Number(doc, "/requests/20/send_s") > 0.2);
  std::remove(run.json_path.c_str());
}

TEST_CASE("Open loop with --concurrency never has more requests in flight than the cap") {
  // Every request takes ~50 ms; 200 req/s would want ~10 in flight, the cap allows 3.
  Sim sim = StartSim({"--time-scale", "1", "--prefill-overhead-ms", "50", "--prefill-per-token-us",
                      "0", "--decode-base-ms", "0", "--decode-per-seq-us", "0"});
  BenchRun run = RunBench({"--url", sim.url(), "--api", "completions", "--no-stream",
                           "--request-rate", "200", "--concurrency", "3", "--num-prompts", "30",
                           "--random-output-len", "1", "--ignore-eos"});
  INFO(run.command.out << run.command.err);
  REQUIRE(run.command.exit_code == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(run.json).get(doc) == simdjson::SUCCESS);
  REQUIRE(Number(doc, "/completed") == 30);
  std::vector<std::pair<double, int>> edges;  // (time, +1 send / -1 end)
  for (simdjson::dom::element r : simdjson::dom::array(doc["requests"])) {
    edges.emplace_back(double(r["send_s"]), 1);
    edges.emplace_back(double(r["end_s"]), -1);
  }
  std::sort(edges.begin(), edges.end());  // an end sorts before a send at the same time
  int in_flight = 0, peak = 0;
  for (const auto& [t, delta] : edges) {
    in_flight += delta;
    peak = std::max(peak, in_flight);
  }
  CHECK(peak == 3);
  // Capped at 3 × 1/50 ms = 60 req/s, not 200.
  CHECK(Number(doc, "/request_throughput") < 70);
  std::remove(run.json_path.c_str());
}

TEST_CASE("One thread holds a thousand concurrent streams") {
  Sim sim = StartSim({"--max-num-seqs", "2000", "--kv-blocks", "40000", "--prefill-overhead-ms",
                      "5", "--prefill-per-token-us", "0", "--decode-base-ms", "20",
                      "--decode-per-seq-us", "0"});
  BenchRun run = RunBench({"--url", sim.url(), "--api", "completions", "--concurrency", "1000",
                           "--num-prompts", "1000", "--random-input-len", "16",
                           "--random-output-len", "20", "--ignore-eos", "--timeout", "30"});
  INFO(run.command.out << run.command.err);
  REQUIRE(run.command.exit_code == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(run.json).get(doc) == simdjson::SUCCESS);
  CHECK(Number(doc, "/completed") == 1000);
  CHECK(Number(doc, "/failed") == 0);
  CHECK(Number(doc, "/total_output_tokens") == 20000);
  std::remove(run.json_path.c_str());
}

TEST_CASE("Shared-prefix chat for a duration: the prefix cache shows in the cached-token ratio") {
  Sim sim = StartSim({"--zero-latency"});
  BenchRun run =
      RunBench({"--url", sim.url(), "--dataset", "shared-prefix", "--sp-num-groups", "2",
                "--sp-prompts-per-group", "8", "--sp-system-prompt-len", "256", "--sp-question-len",
                "16", "--sp-output-len", "4", "--duration", "0.5", "--concurrency", "2"});
  INFO(run.command.out << run.command.err);
  REQUIRE(run.command.exit_code == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(run.json).get(doc) == simdjson::SUCCESS);
  CHECK(Number(doc, "/completed") > 16);  // cycles through the 16 prompts
  CHECK(Number(doc, "/failed") == 0);
  CHECK(Number(doc, "/duration") >= 0.5);
  CHECK(Number(doc, "/duration") < 5);
  CHECK(Number(doc, "/cached_token_ratio") > 0.8);
  std::remove(run.json_path.c_str());
}

}  // namespace
}  // namespace pdgate::testing
