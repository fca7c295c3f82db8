#pragma once
// --html-out: one self-contained HTML file (inline SVG and CSS, no script, nothing fetched) with
// the summary, latency CDFs (TTFT, TPOT, ITL, E2EL) and throughput over time (completed
// requests/s and output tokens/s in 1/50ths of the run, by completion time). Pure.
#include <string>
#include <vector>

#include "bench/loadgen/metrics.h"
#include "bench/loadgen/record.h"
#include "bench/loadgen/report.h"

namespace pdgate::loadgen {

std::string HtmlReport(const Summary& summary, const RunInfo& info,
                       const std::vector<RequestRecord>& records);

}  // namespace pdgate::loadgen
