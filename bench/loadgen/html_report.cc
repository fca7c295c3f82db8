#include "bench/loadgen/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace pdgate::loadgen {
namespace {

constexpr double kWidth = 560, kHeight = 300, kLeft = 60, kRight = 20, kTop = 30, kBottom = 40;
constexpr size_t kMaxPoints = 600;

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// One line chart: points (x, y) scaled into the plot box, axes labelled with their ranges.
std::string Chart(std::string_view title, std::string_view x_label, std::string_view y_label,
                  const std::vector<std::pair<double, double>>& points) {
  std::string svg = fmt::format(
      "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" role=\"img\"><title>{2}</title>"
      "<text x=\"{3}\" y=\"18\" class=\"t\">{2}</text>",
      kWidth, kHeight, Escape(title), kLeft);
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"box\"/>", kLeft,
                     kTop, plot_w, plot_h);
  if (points.empty()) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\">no data</text>", kLeft + 10, kTop + 20);
  } else {
    double x0 = points.front().first, x1 = x0, y0 = 0, y1 = 0;
    for (const auto& [x, y] : points) {
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y1 = std::max(y1, y);
    }
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) y1 = y0 + 1;
    svg += "<polyline class=\"line\" points=\"";
    const size_t step = std::max<size_t>(1, points.size() / kMaxPoints);
    for (size_t i = 0; i < points.size(); i += step) {
      const auto& [x, y] = points[i];
      svg += fmt::format("{:.1f},{:.1f} ", kLeft + (x - x0) / (x1 - x0) * plot_w,
                         kTop + plot_h - (y - y0) / (y1 - y0) * plot_h);
    }
    const auto& [lx, ly] = points.back();
    svg += fmt::format("{:.1f},{:.1f}\"/>", kLeft + (lx - x0) / (x1 - x0) * plot_w,
                       kTop + plot_h - (ly - y0) / (y1 - y0) * plot_h);
    svg +=
        fmt::format("<text x=\"{}\" y=\"{}\" class=\"a\">{:.4g}</text>", kLeft, kHeight - 22, x0);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"a\" text-anchor=\"end\">{:.4g}</text>",
                       kWidth - kRight, kHeight - 22, x1);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"a\" text-anchor=\"end\">{:.4g}</text>",
                       kLeft - 4, kTop + 10, y1);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"a\" text-anchor=\"end\">{:.4g}</text>",
                       kLeft - 4, kTop + plot_h, y0);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"a\" text-anchor=\"middle\">{}</text>",
                     kLeft + plot_w / 2, kHeight - 6, Escape(x_label));
  svg += fmt::format(
      "<text x=\"14\" y=\"{0}\" class=\"a\" text-anchor=\"middle\" "
      "transform=\"rotate(-90 14 {0})\">{1}</text></svg></figure>\n",
      kTop + plot_h / 2, Escape(y_label));
  return svg;
}

std::vector<std::pair<double, double>> Cdf(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  std::vector<std::pair<double, double>> points;
  points.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    points.emplace_back(values[i], static_cast<double>(i + 1) / static_cast<double>(values.size()));
  return points;
}

}  // namespace

std::string HtmlReport(const Summary& s, const RunInfo& info,
                       const std::vector<RequestRecord>& records) {
  std::vector<double> ttft, tpot, itl, e2el;
  double end = 0;
  for (const RequestRecord& r : records) {
    if (!r.ok()) continue;
    end = std::max(end, r.end_s);
    const double e = r.LatencyS() * 1000;
    const double t = (r.first_token_s >= 0 ? r.TtftS() : r.LatencyS()) * 1000;
    e2el.push_back(e);
    ttft.push_back(t);
    if (r.OutputTokens() > 1) tpot.push_back((e - t) / static_cast<double>(r.OutputTokens() - 1));
    for (size_t i = 1; i < r.token_s.size(); ++i)
      itl.push_back((r.token_s[i] - r.token_s[i - 1]) * 1000);
  }
  constexpr size_t kBins = 50;
  const double bin = end > 0 ? end / kBins : 1;
  std::vector<double> done(kBins, 0), tokens(kBins, 0);
  for (const RequestRecord& r : records) {
    if (!r.ok()) continue;
    const auto b = std::min(kBins - 1, static_cast<size_t>(r.end_s / bin));
    done[b] += 1;
    tokens[b] += static_cast<double>(r.OutputTokens());
  }
  std::vector<std::pair<double, double>> rps, tps;
  for (size_t b = 0; b < kBins && end > 0; ++b) {
    rps.emplace_back((static_cast<double>(b) + 0.5) * bin, done[b] / bin);
    tps.emplace_back((static_cast<double>(b) + 0.5) * bin, tokens[b] / bin);
  }

  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>pdgate-bench report</title><style>"
      "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{text-align:left}"
      "figure{display:inline-block;margin:0 1em 1em 0}.box{fill:none;stroke:#999}"
      ".line{fill:none;stroke:#1f77b4;stroke-width:1.5}.t{font-size:14px;font-weight:bold}"
      ".a{font-size:11px;fill:#555}</style></head><body>\n";
  html += fmt::format("<h1>pdgate-bench</h1><p>{} · {} · {} API · {} · {}</p>\n", Escape(info.date),
                      Escape(info.url), Escape(info.api),
                      info.stream ? "streaming" : "non-streaming", Escape(info.model));
  html += "<table>";
  auto row = [&](std::string_view k, std::string v) {
    html += fmt::format("<tr><th>{}</th><td>{}</td></tr>", Escape(k), Escape(v));
  };
  row("successful requests", fmt::format("{}", s.completed));
  row("failed requests", fmt::format("{}", s.failed));
  for (const auto& [name, n] : s.failures_by_class) row("  " + name, fmt::format("{}", n));
  row("duration (s)", fmt::format("{:.2f}", s.duration_s));
  row("request throughput (req/s)", fmt::format("{:.2f}", s.request_throughput));
  if (s.request_goodput) row("request goodput (req/s)", fmt::format("{:.2f}", *s.request_goodput));
  row("output token throughput (tok/s)", fmt::format("{:.2f}", s.output_throughput));
  row("total token throughput (tok/s)", fmt::format("{:.2f}", s.total_token_throughput));
  row("cached token ratio", fmt::format("{:.4f}", s.cached_token_ratio));
  for (const auto& [name, d] : {std::pair<const char*, const Distribution*>{"TTFT", &s.ttft_ms},
                                {"TPOT", &s.tpot_ms},
                                {"ITL", &s.itl_ms},
                                {"E2EL", &s.e2el_ms}}) {
    std::string v =
        fmt::format("mean {:.2f} · median {:.2f} · std {:.2f}", d->mean, d->median, d->std);
    for (const auto& [p, value] : d->percentiles)
      v += fmt::format(" · {} {:.2f}", PercentileKey(p), value);
    row(fmt::format("{} (ms)", name), v);
  }
  html += "</table>\n<h2>Latency CDFs</h2>\n";
  html += Chart("TTFT", "ms", "fraction of requests", Cdf(ttft));
  html += Chart("TPOT (excl. 1st token)", "ms", "fraction of requests", Cdf(tpot));
  html += Chart("ITL", "ms", "fraction of gaps", Cdf(itl));
  html += Chart("E2E latency", "ms", "fraction of requests", Cdf(e2el));
  html += "<h2>Throughput over time</h2>\n";
  html += Chart("Completed requests", "s since start", "req/s", rps);
  html += Chart("Output tokens", "s since start", "tok/s", tps);
  html += "</body></html>\n";
  return html;
}

}  // namespace pdgate::loadgen
