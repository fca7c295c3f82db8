#pragma once
// One line per completion request, written by a thread of its own: io threads hand a record over
// (a short lock, no I/O) and never wait on the disk. The queue is bounded; when the writer falls
// behind, records are dropped and counted rather than letting memory grow or requests wait.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "config/router_settings.h"

namespace pdgate::auth {
struct Authentication;
}  // namespace pdgate::auth

namespace pdgate::router {

struct AccessRecord {
  std::string request_id;
  std::string method;
  std::string path;
  std::string model;     // as requested
  // Authentication (all empty when it is off): the method (jwt, api_key, none), who the
  // principal is, and why a refused request was refused (auth::AuthResult, or model_not_allowed).
  std::string auth;
  std::string user;
  std::string tenant;
  std::string auth_error;
  std::string route;     // ModelRoute ns/name
  std::string server;    // ModelServer ns/name
  std::string prefill;   // pod of the last attempt's prefill leg
  std::string decode;    // pod of the last attempt's decode (or only) leg
  std::string decision;  // disaggregated, decode_only, aggregated, none
  int status = 0;
  std::string upstream_statuses;  // per leg, in order, e.g. "prefill:503,prefill:200,decode:200"
  int attempts = 0;
  // "", "client", "auth", "rate_limit", "fairness", "router", "prefill", "decode", "upstream"
  std::string error_origin;
  int64_t input_tokens = -1;  // -1: unknown
  int64_t output_tokens = -1;
  double ttft_ms = -1;
  double prefill_ms = -1;
  double decode_ms = -1;
  double total_ms = 0;
  double queue_ms = -1;  // time in the fairness queue; -1: fairness off
};

// Fills the authentication fields (method, principal, refusal reason).
void RecordAuthentication(const auth::Authentication& authentication, AccessRecord& record);

std::string FormatJson(const AccessRecord& record);
std::string FormatText(const AccessRecord& record);

class AccessLog {
 public:
  explicit AccessLog(const config::AccessLogSettings& settings);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool enabled() const { return enabled_; }
  void Submit(AccessRecord record);
  uint64_t dropped() const;

 private:
  void Run();

  static constexpr size_t kMaxQueued = 65536;
  bool enabled_;
  bool json_;
  std::string output_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<AccessRecord> queue_;
  bool stopping_ = false;
  uint64_t dropped_ = 0;
  std::thread writer_;
};

}  // namespace pdgate::router
