#pragma once
// One line per completion request. Each io thread formats its lines into a buffer of its own
// (a lock no other io thread takes, no allocation once the buffer has grown, no system call); a
// writer thread collects every buffer in one pass every 50 ms, or as soon as one holds 64 KiB,
// and writes them with one write. So the log costs an io thread no wake-up and no I/O per
// request, and the disk sees one write per many lines (nginx's `access_log ... buffer= flush=`).
// A buffer is bounded: when the writer falls behind, lines are dropped and counted rather than
// letting memory grow or requests wait. Lines of different io threads interleave by batch.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/router_settings.h"

namespace pdgate::auth {
struct Authentication;
}  // namespace pdgate::auth

namespace pdgate::router {

// A Kubernetes object's "namespace/name" as two views, so that a request's record copies no
// name: they point into the RouterState snapshot the request pinned, which outlives the record
// (it is formatted when the request's RequestObserver goes, before the snapshot is let go).
struct ObjectRef {
  std::string_view namespace_;
  std::string_view name;
  bool empty() const { return namespace_.empty() && name.empty(); }
};

struct AccessRecord {
  std::string request_id;
  std::string method;
  std::string path;
  std::string model;  // as requested
  // Authentication (all empty when it is off): the method (jwt, api_key, none), who the
  // principal is, and why a refused request was refused (auth::AuthResult, or model_not_allowed).
  std::string auth;
  std::string user;
  std::string tenant;
  std::string auth_error;
  ObjectRef route;       // ModelRoute
  ObjectRef server;      // ModelServer
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

// Back to a fresh record's values, keeping the strings' buffers (a record used again by the next
// request allocates nothing for values that fit what earlier ones held).
void ClearKeepingCapacity(AccessRecord& record);

// Fills the authentication fields (method, principal, refusal reason).
void RecordAuthentication(const auth::Authentication& authentication, AccessRecord& record);

void AppendJson(const AccessRecord& record, std::string& out);
// The same line written at out[used], `out` grown when its size leaves too little room (never
// shrunk); returns the line's end. What follows the end in `out` is no part of any line.
size_t WriteJson(const AccessRecord& record, std::string& out, size_t used);
void AppendText(const AccessRecord& record, std::string& out);
std::string FormatJson(const AccessRecord& record);
std::string FormatText(const AccessRecord& record);

class AccessLog {
 public:
  explicit AccessLog(const config::AccessLogSettings& settings);
  ~AccessLog();  // writes what is buffered
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool enabled() const { return enabled_; }
  void Submit(const AccessRecord& record);
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  // One io thread's lines, waiting for the writer.
  struct Buffer {
    std::mutex mutex;   // the owning thread and, every flush, the writer
    std::string lines;  // its size is its room: the lines are its first `used` bytes
    size_t used = 0;
  };
  Buffer& ThisThreadsBuffer();
  void Run();

  static constexpr size_t kFlushBytes = size_t{64} * 1024;  // wake the writer
  static constexpr size_t kMaxBuffered = size_t{8} << 20;   // per thread; beyond: dropped
  uint64_t id_;                                             // unique per log in this process
  bool enabled_;
  bool json_;
  std::string output_;
  std::mutex mutex_;  // buffers_, and the writer's wake-up
  std::condition_variable ready_;
  std::vector<std::unique_ptr<Buffer>> buffers_;
  bool flush_now_ = false;
  bool stopping_ = false;
  std::atomic<uint64_t> dropped_{0};
  std::thread writer_;
};

}  // namespace pdgate::router
