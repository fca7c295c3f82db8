#pragma once
// Overhead mode, the vLLM router harness's method (research/peers.md §6.6): the same load
// direct to the engine and through the router, repeated with the order rotated (direct first on
// even repeats, router first on odd ones) so drift does not favour one side. Reported:
// mean_minus_direct_us per repeat (means subtracted, never percentiles), their median and spread
// (max − min) / median, the router's CPU ms per 1,000 requests (utime + stime from
// /proc/PID/stat around the routed runs) and its peak RSS (VmHWM from /proc/PID/status).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pdgate::loadgen {

// utime + stime of a process in milliseconds, from the text of /proc/PID/stat.
std::optional<double> CpuMsFromStat(std::string_view stat, long ticks_per_second);
// VmHWM in kB from the text of /proc/PID/status.
std::optional<int64_t> PeakRssKbFromStatus(std::string_view status);
// Reads them for a live process.
std::optional<double> ProcessCpuMs(int pid);
std::optional<int64_t> ProcessPeakRssKb(int pid);

struct OverheadRepeat {
  double direct_mean_us = 0;
  double router_mean_us = 0;
  double router_cpu_ms = 0;    // during the routed run
  size_t router_requests = 0;  // completed in the routed run
  bool direct_first = true;
};

struct OverheadSummary {
  std::vector<OverheadRepeat> repeats;
  double mean_minus_direct_us = 0;             // median over repeats
  double spread = 0;                           // (max − min) / |median| of mean_minus_direct_us
  double router_cpu_ms_per_1000_requests = 0;  // over all routed runs
  std::optional<int64_t> router_peak_rss_kb;
};

OverheadSummary SummarizeOverhead(std::vector<OverheadRepeat> repeats,
                                  std::optional<int64_t> peak_rss_kb);
std::string OverheadTable(const OverheadSummary& summary);
std::string OverheadJson(const OverheadSummary& summary);

}  // namespace pdgate::loadgen
