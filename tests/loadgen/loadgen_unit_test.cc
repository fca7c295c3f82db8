// Unit tests of pdgate-bench's pure parts: metrics, reports and the overhead measurement.
// Parsing and inputs are in loadgen_input_test.cc.
#include <simdjson.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "bench/loadgen/arrivals.h"
#include "bench/loadgen/client.h"
#include "bench/loadgen/dataset.h"
#include "bench/loadgen/html_report.h"
#include "bench/loadgen/metrics.h"
#include "bench/loadgen/overhead.h"
#include "bench/loadgen/report.h"
#include "bench/loadgen/response_parse.h"

namespace pdgate::loadgen {
namespace {

using Catch::Matchers::WithinAbs;

TEST_CASE("Percentile interpolates linearly, as numpy.percentile") {
  const std::vector<double> v{4, 1, 3, 2};
  CHECK_THAT(Percentile(v, 50), WithinAbs(2.5, 1e-12));
  CHECK_THAT(Percentile(v, 99), WithinAbs(3.97, 1e-12));
  CHECK_THAT(Percentile(v, 0), WithinAbs(1, 1e-12));
  CHECK_THAT(Percentile(v, 100), WithinAbs(4, 1e-12));
  CHECK(Percentile({}, 99) == 0);
  CHECK(Percentile({7}, 90) == 7);
}

TEST_CASE("Describe gives mean, median and the population std") {
  const Distribution d = Describe({2, 4, 4, 4, 5, 5, 7, 9}, {25, 99.9});
  CHECK(d.count == 8);
  CHECK_THAT(d.mean, WithinAbs(5, 1e-12));
  CHECK_THAT(d.std, WithinAbs(2, 1e-12));
  CHECK_THAT(d.median, WithinAbs(4.5, 1e-12));
  CHECK(d.min == 2);
  CHECK(d.max == 9);
  REQUIRE(d.percentiles.size() == 2);
  CHECK_THAT(d.percentiles[0].second, WithinAbs(4, 1e-12));
  CHECK(PercentileKey(d.percentiles[0].first) == "p25");
  CHECK(PercentileKey(d.percentiles[1].first) == "p99.9");
}

RequestRecord Streamed(double send, std::vector<double> tokens, double end, int64_t out) {
  RequestRecord r;
  r.send_s = send;
  r.token_s = std::move(tokens);
  r.first_token_s = r.token_s.empty() ? -1 : r.token_s.front();
  r.end_s = end;
  r.status = 200;
  r.prompt_tokens = 100;
  r.completion_tokens = out;
  return r;
}

TEST_CASE("Summarize uses vLLM's definitions of TTFT, TPOT, ITL and E2EL") {
  std::vector<RequestRecord> records;
  records.push_back(Streamed(0.0, {0.2, 0.22, 0.24}, 0.25, 3));
  records.back().cached_tokens = 50;
  records.push_back(Streamed(0.5, {0.6, 0.64}, 0.64, 2));
  RequestRecord failed;
  failed.failure = Failure::kStatus;
  failed.status = 503;
  records.push_back(failed);
  RequestRecord timeout;
  timeout.failure = Failure::kTimeout;
  records.push_back(timeout);

  const Summary s = Summarize(records, 2.0, {50}, GoodputSlo{});
  CHECK(s.completed == 2);
  CHECK(s.failed == 2);
  CHECK(s.failures_by_class.at("status") == 1);
  CHECK(s.failures_by_class.at("timeout") == 1);
  CHECK(s.total_input_tokens == 200);
  CHECK(s.total_output_tokens == 5);
  CHECK_THAT(s.request_throughput, WithinAbs(1.0, 1e-12));
  CHECK_THAT(s.output_throughput, WithinAbs(2.5, 1e-12));
  CHECK_THAT(s.total_token_throughput, WithinAbs(102.5, 1e-12));
  CHECK_THAT(s.cached_token_ratio, WithinAbs(0.25, 1e-12));
  // TTFT: 200 and 100 ms.
  CHECK_THAT(s.ttft_ms.mean, WithinAbs(150, 1e-9));
  // TPOT excludes the first token: (250-200)/2 = 25, (140-100)/1 = 40.
  CHECK_THAT(s.tpot_ms.mean, WithinAbs(32.5, 1e-9));
  // ITL pools every gap: 20, 20, 40.
  CHECK(s.itl_ms.count == 3);
  CHECK_THAT(s.itl_ms.mean, WithinAbs(80.0 / 3, 1e-9));
  CHECK_THAT(s.itl_ms.median, WithinAbs(20, 1e-9));
  CHECK_THAT(s.e2el_ms.mean, WithinAbs(195, 1e-9));
  CHECK_FALSE(s.request_goodput.has_value());
  CHECK(s.num_prompts == 4);
  // The two failed records have send = end = 0; the successful ones overlap nowhere.
  CHECK(s.max_concurrent_requests == 1);
  CHECK(s.max_output_tokens_per_s == 5);  // every token arrived within second 0
}

TEST_CASE("Peak concurrency and the busiest second of output tokens") {
  std::vector<RequestRecord> records;
  records.push_back(Streamed(0.0, {0.5, 1.1, 1.2}, 1.3, 3));
  records.push_back(Streamed(0.4, {1.5, 1.6, 1.7, 2.1}, 2.2, 4));
  records.push_back(Streamed(1.0, {1.4}, 1.45, 1));
  RequestRecord whole;  // non-streamed: its tokens count at its end
  whole.send_s = 2.0;
  whole.end_s = 2.5;
  whole.status = 200;
  whole.completion_tokens = 9;
  records.push_back(whole);
  const Summary s = Summarize(records, 2.5, {}, GoodputSlo{});
  CHECK(s.max_concurrent_requests == 3);   // at 1.0..1.3
  CHECK(s.max_output_tokens_per_s == 10);  // second 2: one streamed token + 9
}

TEST_CASE("Goodput counts successful requests meeting every SLO") {
  std::vector<RequestRecord> records;
  records.push_back(Streamed(0.0, {0.2, 0.22, 0.24}, 0.25, 3));  // ttft 200, tpot 25, e2el 250
  records.push_back(Streamed(0.0, {0.1, 0.14}, 0.14, 2));        // ttft 100, tpot 40, e2el 140
  auto slo = ParseGoodput({"ttft:150"});
  REQUIRE(slo);
  CHECK(Summarize(records, 1.0, {}, *slo).request_goodput == 1.0);
  slo = ParseGoodput({"ttft:250", "tpot:30"});
  REQUIRE(slo);
  CHECK(Summarize(records, 1.0, {}, *slo).request_goodput == 1.0);
  slo = ParseGoodput({"e2el:300"});
  REQUIRE(slo);
  CHECK(Summarize(records, 2.0, {}, *slo).request_goodput == 1.0);  // 2 good in 2 s
  CHECK_FALSE(ParseGoodput({"ttft"}));
  CHECK_FALSE(ParseGoodput({"itl:5"}));
  CHECK_FALSE(ParseGoodput({"ttft:abc"}));
  CHECK(ParseGoodput({})->empty());
}

TEST_CASE("A non-streamed response has TTFT = E2E and no ITL") {
  RequestRecord r;
  r.send_s = 1;
  r.end_s = 1.5;
  r.status = 200;
  r.completion_tokens = 10;
  r.prompt_tokens = 5;
  const Summary s = Summarize({r}, 1.0, {}, GoodputSlo{});
  CHECK_THAT(s.ttft_ms.mean, WithinAbs(500, 1e-9));
  CHECK_THAT(s.tpot_ms.mean, WithinAbs(0, 1e-9));
  CHECK(s.itl_ms.count == 0);
  CHECK(s.total_output_tokens == 10);
}

TEST_CASE("JsonReport has vLLM's keys and parses") {
  std::vector<RequestRecord> records;
  records.push_back(Streamed(0.0, {0.2, 0.22, 0.24}, 0.25, 3));
  RequestRecord failed;
  failed.failure = Failure::kMalformed;
  failed.error = "bad \"event\"\n";
  records.push_back(failed);
  const Summary s = Summarize(records, 1.0, {50, 99, 99.9}, *ParseGoodput({"ttft:300"}));
  RunInfo info;
  info.api = "chat";
  info.request_rate = std::numeric_limits<double>::infinity();
  const std::string json = JsonReport(s, info, records);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  for (const char* key :
       {"request_throughput", "output_throughput", "total_token_throughput", "request_goodput",
        "duration", "completed", "failed", "total_input_tokens", "total_output_tokens",
        "input_lens", "output_lens", "ttfts", "itls", "errors", "requests", "cached_token_ratio",
        "failures_by_class"}) {
    INFO(key);
    CHECK(doc[key].error() == simdjson::SUCCESS);
  }
  for (const char* metric : {"ttft", "tpot", "itl", "e2el"}) {
    for (const char* stat : {"mean", "median", "std", "p50", "p99", "p99.9"}) {
      const std::string key = std::string(stat) + "_" + metric + "_ms";
      INFO(key);
      CHECK(doc[key].error() == simdjson::SUCCESS);
    }
  }
  CHECK(double(doc["mean_ttft_ms"]) == Approx(200));
  CHECK(double(doc["request_goodput"]) == Approx(1));
  CHECK(int64_t(doc.at_pointer("/failures_by_class/malformed_stream")) == 1);
  CHECK(std::string_view(doc.at_pointer("/errors/1")) == failed.error);
  CHECK(std::string_view(doc["request_rate"]) == "inf");
  CHECK(simdjson::dom::array(doc.at_pointer("/itls/0")).size() == 2);
  CHECK(std::string_view(doc.at_pointer("/requests/1/failure")) == "malformed_stream");
  const std::string table = ConsoleTable(s, info);
  CHECK(table.find("Mean TTFT (ms):") != std::string::npos);
  CHECK(table.find("P99.9 ITL (ms):") != std::string::npos);
  CHECK(table.find("Request goodput (req/s):") != std::string::npos);
}

size_t Count(const std::string& haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

TEST_CASE("HtmlReport is self-contained: inline SVG CDFs and throughput, nothing fetched") {
  std::vector<RequestRecord> records;
  for (int i = 0; i < 100; ++i) {
    const double t = i * 0.01;
    records.push_back(Streamed(t, {t + 0.1, t + 0.12, t + 0.15}, t + 0.15, 3));
  }
  RunInfo info;
  info.url = "http://127.0.0.1:1/<x>";
  const Summary s = Summarize(records, 1.15, {99}, GoodputSlo{});
  const std::string html = HtmlReport(s, info, records);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(Count(html, "<svg") == 6);       // 4 CDFs + 2 throughput charts
  CHECK(Count(html, "<polyline") == 6);  // each with data
  CHECK(Count(html, "<script") == 0);
  CHECK(Count(html, "<link") == 0);
  CHECK(Count(html, "src=") == 0);
  CHECK(Count(html, "<x>") == 0);  // escaped
  CHECK(Count(html, "&lt;x&gt;") == 1);
  CHECK(html.find("request throughput (req/s)") != std::string::npos);
  // Without successful requests the charts say so instead of drawing.
  const std::string empty = HtmlReport(Summarize({}, 0, {}, GoodputSlo{}), info, {});
  CHECK(Count(empty, "<polyline") == 0);
  CHECK(Count(empty, "no data") == 6);
}

TEST_CASE("Overhead: /proc parsing, median of mean differences, spread, CPU per 1000") {
  // A command name with spaces and parentheses; utime 250 and stime 50 ticks at 100 Hz.
  const std::string stat =
      "1234 (my (odd) router) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 4 0 100 0 0";
  REQUIRE(CpuMsFromStat(stat, 100));
  CHECK_THAT(*CpuMsFromStat(stat, 100), WithinAbs(3000, 1e-9));
  CHECK_FALSE(CpuMsFromStat("garbage", 100));
  CHECK_FALSE(CpuMsFromStat("1 (x) S 1 2", 100));
  CHECK(PeakRssKbFromStatus("Name:\tpdgate\nVmPeak:\t  9000 kB\nVmHWM:\t    5608 kB\n") == 5608);
  CHECK_FALSE(PeakRssKbFromStatus("Name:\tx\n"));
  // This process reads its own counters.
  REQUIRE(ProcessPeakRssKb(getpid()));
  CHECK(*ProcessPeakRssKb(getpid()) > 0);
  CHECK(ProcessCpuMs(getpid()).has_value());

  std::vector<OverheadRepeat> repeats(3);
  repeats[0] = {100, 150, 20, 1000, true};   // +50
  repeats[1] = {110, 170, 30, 1000, false};  // +60
  repeats[2] = {90, 130, 10, 1000, true};    // +40
  const OverheadSummary s = SummarizeOverhead(repeats, 4096);
  CHECK_THAT(s.mean_minus_direct_us, WithinAbs(50, 1e-9));
  CHECK_THAT(s.spread, WithinAbs(0.4, 1e-9));
  CHECK_THAT(s.router_cpu_ms_per_1000_requests, WithinAbs(20, 1e-9));
  const std::string json = OverheadJson(s);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  CHECK(double(doc["mean_minus_direct_us"]) == Approx(50));
  CHECK(int64_t(doc["router_peak_rss_kb"]) == 4096);
  CHECK(simdjson::dom::array(doc["repeats"]).size() == 3);
  CHECK_FALSE(bool(doc.at_pointer("/repeats/1/direct_first")));
  CHECK(OverheadTable(s).find("| 2 | router, direct | 110.0 | 170.0 | 60.0 |") !=
        std::string::npos);
}

}  // namespace
}  // namespace pdgate::loadgen
