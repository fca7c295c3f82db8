#include "bench/loadgen/report.h"

#include <fmt/format.h>

#include <cmath>

#include "base/strings.h"

namespace pdgate::loadgen {
namespace {

void AppendNumber(std::string& out, double v) {
  if (std::isfinite(v)) {
    out += fmt::format("{}", v);
  } else {
    out += "null";  // JSON has no NaN or Infinity
  }
}

class Object {
 public:
  explicit Object(std::string& out) : out_(out) { out_.push_back('{'); }
  void Key(std::string_view key) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_ += "\n  ";
    AppendJsonString(out_, key);
    out_.push_back(':');
  }
  void Num(std::string_view key, double v) {
    Key(key);
    AppendNumber(out_, v);
  }
  void Int(std::string_view key, int64_t v) {
    Key(key);
    out_ += fmt::format("{}", v);
  }
  void Str(std::string_view key, std::string_view v) {
    Key(key);
    AppendJsonString(out_, v);
  }
  void Close() { out_ += "\n}"; }

 private:
  std::string& out_;
  bool first_ = true;
};

void AppendDistribution(Object& o, std::string_view name, const Distribution& d) {
  o.Num(fmt::format("mean_{}_ms", name), d.mean);
  o.Num(fmt::format("median_{}_ms", name), d.median);
  o.Num(fmt::format("std_{}_ms", name), d.std);
  for (const auto& [p, v] : d.percentiles)
    o.Num(fmt::format("{}_{}_ms", PercentileKey(p), name), v);
}

std::string Row(std::string_view label, std::string value) {
  return fmt::format("{:<40}{:<10}\n", label, value);
}
std::string Row(std::string_view label, double value) {
  return Row(label, fmt::format("{:.2f}", value));
}

void AppendDistributionRows(std::string& out, std::string_view title, std::string_view name,
                            const Distribution& d) {
  out += fmt::format("{:-^50}\n", fmt::format("{}", title));
  out += Row(fmt::format("Mean {} (ms):", name), d.mean);
  out += Row(fmt::format("Median {} (ms):", name), d.median);
  out += Row(fmt::format("Std {} (ms):", name), d.std);
  for (const auto& [p, v] : d.percentiles)
    out += Row(fmt::format("P{} {} (ms):", PercentileKey(p).substr(1), name), v);
}

}  // namespace

std::string PercentileKey(double p) {
  if (p == std::floor(p)) return fmt::format("p{}", static_cast<int64_t>(p));
  return fmt::format("p{}", p);
}

std::string ConsoleTable(const Summary& s, const RunInfo& info) {
  std::string out;
  out += fmt::format("{:=^50}\n", " Serving Benchmark Result ");
  out += Row("Successful requests:", fmt::format("{}", s.completed));
  out += Row("Failed requests:", fmt::format("{}", s.failed));
  for (const auto& [name, n] : s.failures_by_class)
    out += Row(fmt::format("  {}:", name), fmt::format("{}", n));
  if (info.concurrency > 0)
    out += Row("Maximum request concurrency:", fmt::format("{}", info.concurrency));
  out += Row("Benchmark duration (s):", s.duration_s);
  out += Row("Total input tokens:", fmt::format("{}", s.total_input_tokens));
  out += Row("Total generated tokens:", fmt::format("{}", s.total_output_tokens));
  out += Row("Request throughput (req/s):", s.request_throughput);
  if (s.request_goodput) out += Row("Request goodput (req/s):", *s.request_goodput);
  out += Row("Output token throughput (tok/s):", s.output_throughput);
  out += Row("Peak output token throughput (tok/s):", s.max_output_tokens_per_s);
  out += Row("Peak concurrent requests:", fmt::format("{}", s.max_concurrent_requests));
  out += Row("Total Token throughput (tok/s):", s.total_token_throughput);
  out += Row("Cached token ratio:", fmt::format("{:.4f}", s.cached_token_ratio));
  AppendDistributionRows(out, "Time to First Token", "TTFT", s.ttft_ms);
  AppendDistributionRows(out, "Time per Output Token (excl. 1st token)", "TPOT", s.tpot_ms);
  AppendDistributionRows(out, "Inter-token Latency", "ITL", s.itl_ms);
  AppendDistributionRows(out, "End-to-end Latency", "E2EL", s.e2el_ms);
  out += fmt::format("{:=^50}\n", "");
  return out;
}

std::string JsonReport(const Summary& s, const RunInfo& info,
                       const std::vector<RequestRecord>& records) {
  std::string out;
  Object o(out);
  o.Str("date", info.date);
  o.Str("backend", info.backend);
  o.Str("endpoint_type", info.api);
  o.Str("model_id", info.model);
  o.Str("base_url", info.url);
  o.Str("dataset", info.dataset);
  o.Key("request_rate");
  if (std::isfinite(info.request_rate)) {
    AppendNumber(out, info.request_rate);
  } else {
    out += "\"inf\"";  // vLLM writes the string "inf"
  }
  o.Num("burstiness", info.burstiness);
  o.Key("max_concurrency");
  out += info.concurrency > 0 ? fmt::format("{}", info.concurrency) : "null";
  o.Key("stream");
  out += info.stream ? "true" : "false";
  o.Num("duration", s.duration_s);
  o.Int("num_prompts", static_cast<int64_t>(s.num_prompts));
  o.Int("completed", static_cast<int64_t>(s.completed));
  o.Int("failed", static_cast<int64_t>(s.failed));
  o.Key("failures_by_class");
  out.push_back('{');
  bool first = true;
  for (const auto& [name, n] : s.failures_by_class) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, name);
    out += fmt::format(":{}", n);
  }
  out.push_back('}');
  o.Int("total_input_tokens", s.total_input_tokens);
  o.Int("total_output_tokens", s.total_output_tokens);
  o.Int("total_cached_tokens", s.total_cached_tokens);
  o.Num("cached_token_ratio", s.cached_token_ratio);
  o.Num("request_throughput", s.request_throughput);
  o.Key("request_goodput");
  if (s.request_goodput) {
    AppendNumber(out, *s.request_goodput);
  } else {
    out += "null";
  }
  o.Num("output_throughput", s.output_throughput);
  o.Num("total_token_throughput", s.total_token_throughput);
  o.Num("max_output_tokens_per_s", s.max_output_tokens_per_s);
  o.Int("max_concurrent_requests", static_cast<int64_t>(s.max_concurrent_requests));
  AppendDistribution(o, "ttft", s.ttft_ms);
  AppendDistribution(o, "tpot", s.tpot_ms);
  AppendDistribution(o, "itl", s.itl_ms);
  AppendDistribution(o, "e2el", s.e2el_ms);

  // vLLM's per-request arrays (successful and failed requests alike, in send order).
  auto array = [&](std::string_view key, auto&& each) {
    o.Key(key);
    out.push_back('[');
    for (size_t i = 0; i < records.size(); ++i) {
      if (i) out.push_back(',');
      each(records[i]);
    }
    out.push_back(']');
  };
  array("input_lens", [&](const RequestRecord& r) { out += fmt::format("{}", r.InputTokens()); });
  array("output_lens",
        [&](const RequestRecord& r) { out += fmt::format("{}", r.ok() ? r.OutputTokens() : 0); });
  array("ttfts", [&](const RequestRecord& r) {
    AppendNumber(out, r.ok() ? (r.first_token_s >= 0 ? r.TtftS() : r.LatencyS()) : 0.0);
  });
  array("itls", [&](const RequestRecord& r) {
    out.push_back('[');
    for (size_t i = 1; i < r.token_s.size(); ++i) {
      if (i > 1) out.push_back(',');
      AppendNumber(out, r.token_s[i] - r.token_s[i - 1]);
    }
    out.push_back(']');
  });
  array("errors", [&](const RequestRecord& r) { AppendJsonString(out, r.error); });
  // Ours: one record per request, times in seconds from the start of the measured phase.
  array("requests", [&](const RequestRecord& r) {
    out += "{\"send_s\":";
    AppendNumber(out, r.send_s);
    out += ",\"first_token_s\":";
    if (r.first_token_s >= 0) {
      AppendNumber(out, r.first_token_s);
    } else {
      out += "null";
    }
    out += ",\"end_s\":";
    AppendNumber(out, r.end_s);
    out += fmt::format(",\"status\":{},\"failure\":", r.status);
    AppendJsonString(out, FailureName(r.failure));
    out += fmt::format(
        ",\"prompt_tokens\":{},\"completion_tokens\":{},\"cached_tokens\":{},\"tokens\":{}}}",
        r.InputTokens(), r.ok() ? r.OutputTokens() : 0, r.cached_tokens, r.token_s.size());
  });
  o.Close();
  out.push_back('\n');
  return out;
}

}  // namespace pdgate::loadgen
