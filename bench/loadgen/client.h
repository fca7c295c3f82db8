#pragma once
// The load: one io_context on the calling thread, keep-alive HTTP/1.1 connections carried by
// Asio coroutines (the router's stack, router/http/net.h's conventions). Closed loop: `concurrency`
// workers, each with its connection, send back to back. Open loop: arrivals from Arrivals, one
// coroutine per request on an idle (or new) connection, optionally capped at `concurrency` in
// flight. A warm-up phase (same load, results dropped) runs first on the same connections.
// Requests are serialized once before the run, so the hot path only writes bytes.
#include <absl/status/statusor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/loadgen/dataset.h"
#include "bench/loadgen/record.h"

namespace pdgate::loadgen {

struct Target {
  std::string host;
  uint16_t port = 80;
  std::string base_path;  // without a trailing "/v1"
};
// "http://host:port[/path]"; https is not supported.
absl::StatusOr<Target> ParseUrl(const std::string& url);

struct LoadOptions {
  Target target;
  std::string model;
  bool chat = true;
  bool stream = true;
  bool ignore_eos = false;
  // Each chat request's JSON written in one of four ways (member order, spacing), as clients of
  // different SDKs or proxies that re-encode JSON would send the same messages.
  bool reserialize = false;
  double timeout_s = 600;
  int concurrency = 0;      // closed loop when request_rate is infinite; else the cap (0 = none)
  double request_rate = 0;  // requests/s; inf or 0 = closed loop
  double burstiness = 1;
  uint64_t seed = 0;
  size_t num_prompts = 0;  // requests to measure (when duration_s is 0)
  double duration_s = 0;   // measure for this long instead
  size_t warmup_requests = 0;
  bool progress = false;  // a progress line on stderr
  std::vector<std::string> headers;  // extra "Name: value" lines, e.g. Authorization
};

struct RunResult {
  std::vector<RequestRecord> records;  // measured requests, in send order
  double duration_s = 0;               // start of measured phase → last end
};

// The body sent for a prompt (exposed for tests); `variant` picks the JSON writing when
// options.reserialize is set.
std::string RequestBody(const LoadOptions& options, const Prompt& prompt, uint64_t variant = 0);

RunResult RunLoad(const LoadOptions& options, const std::vector<Prompt>& prompts);

}  // namespace pdgate::loadgen
