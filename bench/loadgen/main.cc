// pdgate-bench: an OpenAI-API load generator with vLLM bench serve's metrics (see client.h,
// metrics.h, dataset.h). Results: a console table on stdout, --json-out FILE.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>

#include "bench/loadgen/client.h"
#include "bench/loadgen/dataset.h"
#include "bench/loadgen/html_report.h"
#include "bench/loadgen/metrics.h"
#include "bench/loadgen/overhead.h"
#include "bench/loadgen/report.h"

namespace {

std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::array<char, 32> buffer{};
  std::strftime(buffer.data(), buffer.size(), "%Y%m%d-%H%M%S", &tm);
  return buffer.data();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pdgate::loadgen;
  CLI::App app{"pdgate-bench: an OpenAI-API load generator (TTFT, TPOT, ITL, throughput, goodput)"};
  std::string url = "http://127.0.0.1:8000";
  std::string api = "chat";
  std::string dataset = "random";
  std::string dataset_path;
  std::string json_out;
  std::string html_out;
  std::string direct_url;
  int router_pid = 0;
  int repeats = 3;
  std::vector<std::string> goodput;
  std::vector<double> percentiles{99};
  LoadOptions o;
  o.model = "sim-model";
  o.num_prompts = 1000;
  bool quiet = false;
  RandomSpec random;
  SharedPrefixSpec shared;
  int64_t sharegpt_output_len = 0;
  double request_rate = std::numeric_limits<double>::infinity();
  app.add_option("--url", url, "Base URL of a router or engine (http://host:port)")
      ->capture_default_str();
  app.add_option("--model", o.model, "The model field of each request")->capture_default_str();
  app.add_option("--api", api, "chat | completions")
      ->check(CLI::IsMember({"chat", "completions"}))
      ->capture_default_str();
  app.add_flag("--stream,!--no-stream", o.stream, "Stream responses (default) or not");
  app.add_option("--header,-H", o.headers,
                 "An extra request header \"Name: value\" (repeatable), e.g. Authorization")
      ->check([](const std::string& header) {
        return header.find(':') == std::string::npos || header.find_first_of("\r\n") !=
                   std::string::npos
                   ? std::string("must be \"Name: value\" on one line")
                   : std::string();
      });
  app.add_flag("--reserialize", o.reserialize,
               "Write each chat request's JSON one of four ways (member order, spacing)");
  app.add_flag("--ignore-eos", o.ignore_eos,
               "Ask for exactly max_tokens output tokens (ignore_eos)");
  app.add_option("--concurrency,--max-concurrency", o.concurrency,
                 "Closed loop: N connections sending back to back; with --request-rate: the cap");
  app.add_option("--request-rate", request_rate, "Open loop: requests/s (inf: closed loop)");
  app.add_option("--burstiness", o.burstiness, "Gamma shape of the arrival gaps (1 = Poisson)")
      ->capture_default_str();
  app.add_option("--num-prompts", o.num_prompts, "Requests to measure")->capture_default_str();
  app.add_option("--duration", o.duration_s,
                 "Measure for this many seconds instead of --num-prompts");
  app.add_option("--warmup-requests", o.warmup_requests, "Requests sent first and not measured")
      ->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "Per-request deadline in seconds")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the dataset and the arrivals")->capture_default_str();
  app.add_option("--dataset", dataset, "random | shared-prefix | sharegpt")
      ->check(CLI::IsMember({"random", "shared-prefix", "sharegpt"}))
      ->capture_default_str();
  app.add_option("--dataset-path", dataset_path, "ShareGPT JSON file (--dataset sharegpt)");
  app.add_option("--sharegpt-output-len", sharegpt_output_len, "Override the replies' lengths");
  app.add_option("--random-input-len", random.input_len)->capture_default_str();
  app.add_option("--random-output-len", random.output_len)->capture_default_str();
  app.add_option("--random-range-ratio", random.range_ratio, "Lengths uniform in [L(1-r), L(1+r)]")
      ->capture_default_str();
  app.add_option("--random-prefix-len", random.prefix_len,
                 "Tokens of a prefix shared by all prompts")
      ->capture_default_str();
  app.add_option("--sp-num-groups", shared.groups)->capture_default_str();
  app.add_option("--sp-prompts-per-group", shared.prompts_per_group)->capture_default_str();
  app.add_option("--sp-system-prompt-len", shared.system_len)->capture_default_str();
  app.add_option("--sp-question-len", shared.question_len)->capture_default_str();
  app.add_option("--sp-output-len", shared.output_len)->capture_default_str();
  app.add_option("--goodput", goodput, "SLOs for goodput: ttft:MS tpot:MS e2el:MS");
  app.add_option("--metric-percentiles", percentiles,
                 "Percentiles to report (comma-separated or repeated)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--json-out", json_out,
                 "Write vLLM-style JSON results (with per-request records)");
  app.add_option("--html-out", html_out, "Write a self-contained HTML report (inline SVG charts)");
  app.add_option("--direct-url", direct_url,
                 "Overhead mode: the engine's URL; --url is the router in front of it");
  app.add_option("--router-pid", router_pid, "Overhead mode: the router's pid (CPU, peak RSS)");
  app.add_option("--repeats", repeats, "Overhead mode: rotated repeats")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--quiet", quiet, "No progress line");
  CLI11_PARSE(app, argc, argv);

  o.chat = api == "chat";
  o.request_rate = request_rate;
  o.progress = !quiet && isatty(STDERR_FILENO) != 0;
  if (!(request_rate < std::numeric_limits<double>::infinity()) && o.concurrency <= 0)
    o.concurrency = 1;
  auto target = ParseUrl(url);
  if (!target.ok()) {
    std::fprintf(stderr, "pdgate-bench: %s\n", std::string(target.status().message()).c_str());
    return 2;
  }
  o.target = *target;
  const auto slo = ParseGoodput(goodput);
  if (!slo) {
    std::fprintf(stderr, "pdgate-bench: --goodput takes KEY:MS with KEY ttft, tpot or e2el\n");
    return 2;
  }

  std::vector<Prompt> prompts;
  const size_t wanted = o.num_prompts > 0 ? o.num_prompts : 1000;
  if (dataset == "random") {
    prompts = RandomPrompts(random, wanted, o.seed);
  } else if (dataset == "shared-prefix") {
    prompts = SharedPrefixPrompts(shared, o.seed);
  } else {
    auto loaded = ShareGptPrompts(dataset_path, wanted, o.seed, sharegpt_output_len);
    if (!loaded.ok()) {
      std::fprintf(stderr, "pdgate-bench: %s\n", std::string(loaded.status().message()).c_str());
      return 2;
    }
    prompts = std::move(*loaded);
  }
  if (prompts.empty()) {
    std::fprintf(stderr, "pdgate-bench: the dataset is empty\n");
    return 2;
  }

  if (!direct_url.empty()) {
    auto direct = ParseUrl(direct_url);
    if (!direct.ok()) {
      std::fprintf(stderr, "pdgate-bench: %s\n", std::string(direct.status().message()).c_str());
      return 2;
    }
    std::vector<OverheadRepeat> results;
    bool all_ok = true;
    for (int i = 0; i < repeats; ++i) {
      OverheadRepeat r;
      r.direct_first = i % 2 == 0;
      for (int leg = 0; leg < 2; ++leg) {
        const bool routed = (leg == 0) != r.direct_first;
        LoadOptions run_options = o;
        run_options.target = routed ? *target : *direct;
        const std::optional<double> cpu_before =
            routed && router_pid > 0 ? ProcessCpuMs(router_pid) : std::nullopt;
        const RunResult run = RunLoad(run_options, prompts);
        const Summary summary = Summarize(run.records, run.duration_s, percentiles, *slo);
        all_ok = all_ok && summary.failed == 0 && summary.completed > 0;
        if (routed) {
          r.router_mean_us = summary.e2el_ms.mean * 1000;
          r.router_requests = summary.completed;
          const std::optional<double> cpu_after =
              cpu_before ? ProcessCpuMs(router_pid) : std::nullopt;
          if (cpu_before && cpu_after) r.router_cpu_ms = *cpu_after - *cpu_before;
        } else {
          r.direct_mean_us = summary.e2el_ms.mean * 1000;
        }
      }
      results.push_back(r);
    }
    const OverheadSummary overhead = SummarizeOverhead(
        std::move(results), router_pid > 0 ? ProcessPeakRssKb(router_pid) : std::nullopt);
    std::fputs(OverheadTable(overhead).c_str(), stdout);
    if (!json_out.empty()) {
      std::ofstream file(json_out, std::ios::binary | std::ios::trunc);
      file << OverheadJson(overhead);
    }
    if (!all_ok) std::fprintf(stderr, "pdgate-bench: some requests failed\n");
    return all_ok ? 0 : 1;
  }

  const RunResult run = RunLoad(o, prompts);
  const Summary summary = Summarize(run.records, run.duration_s, percentiles, *slo);
  RunInfo info;
  info.api = api;
  info.model = o.model;
  info.url = url;
  info.dataset = dataset;
  info.request_rate = request_rate;
  info.burstiness = o.burstiness;
  info.concurrency = o.concurrency;
  info.stream = o.stream;
  info.date = UtcNow();
  std::fputs(ConsoleTable(summary, info).c_str(), stdout);
  if (!json_out.empty()) {
    std::ofstream file(json_out, std::ios::binary | std::ios::trunc);
    file << JsonReport(summary, info, run.records);
    if (!file.good()) {
      std::fprintf(stderr, "pdgate-bench: cannot write %s\n", json_out.c_str());
      return 1;
    }
  }
  if (!html_out.empty()) {
    std::ofstream file(html_out, std::ios::binary | std::ios::trunc);
    file << HtmlReport(summary, info, run.records);
    if (!file.good()) {
      std::fprintf(stderr, "pdgate-bench: cannot write %s\n", html_out.c_str());
      return 1;
    }
  }
  if (summary.completed == 0) {
    if (!run.records.empty() && !run.records.front().error.empty())
      std::fprintf(stderr, "pdgate-bench: first error: %s\n", run.records.front().error.c_str());
    return 1;
  }
  return 0;
}
