// pdgate-bench's latency measurements against sims with known timing (TTFT/ITL, and overhead
// mode's added mean latency). Their own executable, run alone (RUN_SERIAL) and only in the
// optimized suite: a 5% bound on 20 ms steps is a bound on the machine's scheduling too (beside
// other integration tests a 200 ms TTFT came out at 220 ms in CI), and under ASan a zero-latency
// sim's mean answer took up to 8 ms.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include "tests/loadgen/loadgen_harness.h"

namespace pdgate::testing {
namespace {

TEST_CASE("TTFT and ITL measured against a sim with known timing are within 5%") {
  // One request at a time, so no other prefill step lands between decode steps: every request
  // sees TTFT = prefill overhead (200 ms) and an ITL of one decode step (20 ms).
  Sim sim = StartSim({"--time-scale", "1", "--prefill-overhead-ms", "200", "--prefill-per-token-us",
                      "0", "--decode-base-ms", "20", "--decode-per-seq-us", "0"});
  for (const char* api : {"chat", "completions"}) {
    INFO(api);
    BenchRun run = RunBench({"--url", sim.url(), "--api", api, "--concurrency", "1",
                             "--num-prompts", "4", "--warmup-requests", "1", "--random-input-len",
                             "64", "--random-output-len", "16", "--ignore-eos", "--seed", "3"});
    INFO(run.command.out << run.command.err);
    REQUIRE(run.command.exit_code == 0);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(run.json).get(doc) == simdjson::SUCCESS);
    CHECK(Number(doc, "/completed") == 4);
    CHECK(Number(doc, "/failed") == 0);
    CHECK(Number(doc, "/total_output_tokens") == 64);
    CHECK(Number(doc, "/mean_ttft_ms") == Approx(200).epsilon(0.05));
    CHECK(Number(doc, "/p99_ttft_ms") == Approx(200).epsilon(0.05));
    CHECK(Number(doc, "/mean_itl_ms") == Approx(20).epsilon(0.05));
    CHECK(Number(doc, "/median_itl_ms") == Approx(20).epsilon(0.05));
    CHECK(Number(doc, "/mean_tpot_ms") == Approx(20).epsilon(0.05));
    // 200 ms + 15 more decode steps of 20 ms.
    CHECK(Number(doc, "/mean_e2el_ms") == Approx(500).epsilon(0.05));
    CHECK(Number(doc, "/requests/0/tokens") == 16);
    // The JSON loads in Python's json module too.
    auto py = RunCommand({"python3", "-c",
                          "import json,sys; d=json.load(open(sys.argv[1])); "
                          "print(d['request_throughput'] > 0, len(d['requests']))",
                          run.json_path});
    REQUIRE(py.ok());
    CHECK(py->exit_code == 0);
    CHECK(py->out == "True 4\n");
    std::remove(run.json_path.c_str());
  }
}


TEST_CASE("Overhead mode: rotated repeats, the added mean latency, the router's CPU and RSS") {
  // A second sim stands in for a router that adds 5 ms (one 5 ms prefill step per request):
  // the method, not pdgate, is under test here.
  Sim direct = StartSim({"--zero-latency"});
  Sim slower =
      StartSim({"--time-scale", "1", "--prefill-overhead-ms", "5", "--prefill-per-token-us", "0",
                "--decode-base-ms", "0", "--decode-per-seq-us", "0"});
  BenchRun run = RunBench({"--url", slower.url(), "--direct-url", direct.url(), "--router-pid",
                           std::to_string(slower.process.pid()), "--no-stream", "--api",
                           "completions", "--num-prompts", "40", "--random-output-len", "4",
                           "--ignore-eos", "--repeats", "3"});
  INFO(run.command.out << run.command.err);
  REQUIRE(run.command.exit_code == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(run.json).get(doc) == simdjson::SUCCESS);
  REQUIRE(simdjson::dom::array(doc["repeats"]).size() == 3);
  CHECK(bool(doc.at_pointer("/repeats/0/direct_first")));
  CHECK_FALSE(bool(doc.at_pointer("/repeats/1/direct_first")));
  CHECK(Number(doc, "/mean_minus_direct_us") > 4500);
  CHECK(Number(doc, "/mean_minus_direct_us") < 8000);
  CHECK(Number(doc, "/router_peak_rss_kb") > 0);
  CHECK(Number(doc, "/router_cpu_ms_per_1000_requests") >= 0);
  CHECK(Number(doc, "/repeats/2/router_requests") == 40);
  std::remove(run.json_path.c_str());
}

}  // namespace
}  // namespace pdgate::testing
