#include "bench/loadgen/overhead.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "bench/loadgen/metrics.h"

namespace pdgate::loadgen {
namespace {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::optional<double> CpuMsFromStat(std::string_view stat, long ticks_per_second) {
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::istringstream in{std::string(stat.substr(close + 1))};
  std::string field;
  // Fields after the name start at 3 (state); utime and stime are 14 and 15.
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {
    if (!(in >> field)) return std::nullopt;
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  return (utime + stime) * 1000.0 / static_cast<double>(ticks_per_second);
}

std::optional<int64_t> PeakRssKbFromStatus(std::string_view status) {
  const size_t at = status.find("VmHWM:");
  if (at == std::string_view::npos) return std::nullopt;
  std::istringstream in{std::string(status.substr(at + 6))};
  int64_t kb = 0;
  if (!(in >> kb)) return std::nullopt;
  return kb;
}

std::optional<double> ProcessCpuMs(int pid) {
  auto stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  if (!stat) return std::nullopt;
  return CpuMsFromStat(*stat, sysconf(_SC_CLK_TCK));
}

std::optional<int64_t> ProcessPeakRssKb(int pid) {
  auto status = ReadFile(fmt::format("/proc/{}/status", pid));
  if (!status) return std::nullopt;
  return PeakRssKbFromStatus(*status);
}

OverheadSummary SummarizeOverhead(std::vector<OverheadRepeat> repeats,
                                  std::optional<int64_t> peak_rss_kb) {
  OverheadSummary s;
  s.repeats = std::move(repeats);
  s.router_peak_rss_kb = peak_rss_kb;
  std::vector<double> diffs;
  double cpu = 0;
  size_t requests = 0;
  for (const OverheadRepeat& r : s.repeats) {
    diffs.push_back(r.router_mean_us - r.direct_mean_us);
    cpu += r.router_cpu_ms;
    requests += r.router_requests;
  }
  if (!diffs.empty()) {
    s.mean_minus_direct_us = Percentile(diffs, 50);
    auto [lo, hi] = std::minmax_element(diffs.begin(), diffs.end());
    s.spread = s.mean_minus_direct_us != 0 ? (*hi - *lo) / std::fabs(s.mean_minus_direct_us) : 0;
  }
  if (requests > 0)
    s.router_cpu_ms_per_1000_requests = cpu * 1000.0 / static_cast<double>(requests);
  return s;
}

std::string OverheadTable(const OverheadSummary& s) {
  std::string out =
      "| repeat | order | direct mean (µs) | router mean (µs) | mean_minus_direct_us |\n"
      "|---|---|---|---|---|\n";
  for (size_t i = 0; i < s.repeats.size(); ++i) {
    const OverheadRepeat& r = s.repeats[i];
    out += fmt::format("| {} | {} | {:.1f} | {:.1f} | {:.1f} |\n", i + 1,
                       r.direct_first ? "direct, router" : "router, direct", r.direct_mean_us,
                       r.router_mean_us, r.router_mean_us - r.direct_mean_us);
  }
  out += fmt::format("\nmean_minus_direct_us (median): {:.1f}  spread: {:.2f}\n",
                     s.mean_minus_direct_us, s.spread);
  out +=
      fmt::format("router CPU ms per 1000 requests: {:.1f}\n", s.router_cpu_ms_per_1000_requests);
  out += s.router_peak_rss_kb ? fmt::format("router peak RSS: {} kB\n", *s.router_peak_rss_kb)
                              : std::string("router peak RSS: unknown\n");
  return out;
}

std::string OverheadJson(const OverheadSummary& s) {
  std::string out = "{\n  \"repeats\":[";
  for (size_t i = 0; i < s.repeats.size(); ++i) {
    const OverheadRepeat& r = s.repeats[i];
    out += fmt::format(
        "{}{{\"direct_first\":{},\"direct_mean_us\":{},\"router_mean_us\":{},"
        "\"mean_minus_direct_us\":{},\"router_cpu_ms\":{},\"router_requests\":{}}}",
        i ? "," : "", r.direct_first ? "true" : "false", r.direct_mean_us, r.router_mean_us,
        r.router_mean_us - r.direct_mean_us, r.router_cpu_ms, r.router_requests);
  }
  out += fmt::format(
      "],\n  \"mean_minus_direct_us\":{},\n  \"spread\":{},\n"
      "  \"router_cpu_ms_per_1000_requests\":{},\n  \"router_peak_rss_kb\":{}\n}}\n",
      s.mean_minus_direct_us, s.spread, s.router_cpu_ms_per_1000_requests,
      s.router_peak_rss_kb ? fmt::format("{}", *s.router_peak_rss_kb) : "null");
  return out;
}

}  // namespace pdgate::loadgen
