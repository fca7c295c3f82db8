#include "router/observe/access_log.h"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "base/strings.h"
#include "router/auth/authenticator.h"
#include "router/openai/json_text.h"

namespace pdgate::router {
namespace {

void Field(std::string& out, std::string_view name, std::string_view value) {
  StrAppend(out, ",\"", name, "\":");
  AppendJsonString(out, value);
}

void Number(std::string& out, std::string_view name, double value) {
  if (value < 0) return;  // unknown: left out
  // to_chars, not snprintf: the same digits without the locale and printf machinery (~1,000
  // instructions a number).
  std::array<char, 64> buffer;  // NOLINT(cppcoreguidelines-pro-type-member-init): written first
  const auto [end, ec] =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed, 3);
  if (ec != std::errc()) return;
  StrAppend(out, ",\"", name, "\":", std::string_view(buffer.data(), end - buffer.data()));
}

void Integer(std::string& out, std::string_view name, int64_t value) {
  if (value < 0) return;
  StrAppend(out, ",\"", name, "\":", value);
}

uint64_t NextLogId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

void RecordAuthentication(const auth::Authentication& authentication, AccessRecord& record) {
  record.auth = std::string(auth::ToString(authentication.method));
  if (authentication.principal) {
    record.user = authentication.principal->user;
    record.tenant = authentication.principal->tenant;
  }
  if (!authentication.ok()) record.auth_error = std::string(auth::ToString(authentication.result));
}

std::string FormatJson(const AccessRecord& r) {
  std::string out;
  AppendJson(r, out);
  return out;
}

std::string FormatText(const AccessRecord& r) {
  std::string out;
  AppendText(r, out);
  return out;
}

void AppendJson(const AccessRecord& r, std::string& out) {
  // Straight into the thread's buffer: no string per line.
  out += "{\"request_id\":";
  AppendJsonString(out, r.request_id);
  Field(out, "method", r.method);
  Field(out, "path", r.path);
  Field(out, "model", r.model);
  if (!r.auth.empty()) {
    Field(out, "auth", r.auth);
    Field(out, "user", r.user);
    Field(out, "tenant", r.tenant);
    if (!r.auth_error.empty()) Field(out, "auth_error", r.auth_error);
  }
  Field(out, "route", r.route);
  Field(out, "server", r.server);
  Field(out, "prefill", r.prefill);
  Field(out, "decode", r.decode);
  Field(out, "decision", r.decision);
  Integer(out, "status", r.status);
  Field(out, "upstream_statuses", r.upstream_statuses);
  Integer(out, "attempts", r.attempts);
  Field(out, "error_origin", r.error_origin);
  Integer(out, "input_tokens", r.input_tokens);
  Integer(out, "output_tokens", r.output_tokens);
  Number(out, "ttft_ms", r.ttft_ms);
  Number(out, "prefill_ms", r.prefill_ms);
  Number(out, "decode_ms", r.decode_ms);
  Number(out, "total_ms", r.total_ms);
  if (r.queue_ms >= 0) Number(out, "queue_ms", r.queue_ms);
  out += "}\n";
}

void AppendText(const AccessRecord& r, std::string& whole) {
  // Values the client chose (model, request id) may hold anything: control bytes are written as
  // \xNN so that a line is always one line.
  auto text = [](const std::string& s) -> std::string {
    if (s.empty()) return "-";
    std::string out;
    for (char c : s) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte == 0x7f) {
        static constexpr char kHex[] = "0123456789abcdef";
        StrAppend(out, "\\x", kHex[byte >> 4], kHex[byte & 0xf]);
      } else {
        out.push_back(c);
      }
    }
    return out;
  };
  auto count = [](int64_t n) { return n < 0 ? std::string("-") : StrCat(n); };
  const std::string auth =
      r.auth.empty() ? std::string()
                     : StrCat(" auth=", text(r.auth), " user=", text(r.user),
                              " tenant=", text(r.tenant), " auth_error=", text(r.auth_error));
  StrAppend(whole, r.method, " ", text(r.path), " ", r.status, " model=", text(r.model), auth,
                " server=", text(r.server), " prefill=", text(r.prefill),
                " decode=", text(r.decode), " decision=", text(r.decision),
                " attempts=", r.attempts, " upstream=", text(r.upstream_statuses),
                " error_origin=", text(r.error_origin), " input_tokens=", count(r.input_tokens),
                " output_tokens=", count(r.output_tokens), " total_ms=", int64_t(r.total_ms),
                r.queue_ms >= 0 ? StrCat(" queue_ms=", int64_t(r.queue_ms)) : std::string(), " id=", text(r.request_id), "\n");
}

AccessLog::AccessLog(const config::AccessLogSettings& settings)
    : id_(NextLogId()), enabled_(settings.enabled), json_(settings.json), output_(settings.output) {
  if (enabled_) writer_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_one();
  if (writer_.joinable()) writer_.join();
}

AccessLog::Buffer& AccessLog::ThisThreadsBuffer() {
  // Found once per thread (and log: tests make several); the registry lock is taken only then.
  // Keyed by the log's id, not its address: a new log may reuse a destroyed one's address.
  struct Cached {
    uint64_t log = 0;
    Buffer* buffer = nullptr;
  };
  thread_local Cached cached;
  if (cached.log != id_) {
    std::lock_guard<std::mutex> lock(mutex_);
    buffers_.push_back(std::make_unique<Buffer>());
    cached = {id_, buffers_.back().get()};
  }
  return *cached.buffer;
}

void AccessLog::Submit(const AccessRecord& record) {
  if (!enabled_) return;
  Buffer& buffer = ThisThreadsBuffer();
  bool full = false;
  {
    std::lock_guard<std::mutex> lock(buffer.mutex);
    if (buffer.lines.size() >= kMaxBuffered) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const size_t before = buffer.lines.size();
    if (json_) {
      AppendJson(record, buffer.lines);
    } else {
      AppendText(record, buffer.lines);
    }
    full = before < kFlushBytes && buffer.lines.size() >= kFlushBytes;
  }
  if (full) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      flush_now_ = true;
    }
    ready_.notify_one();
  }
}

void AccessLog::Run() {
  FILE* file = output_ == "stdout"   ? stdout
               : output_ == "stderr" ? stderr
                                     : std::fopen(output_.c_str(), "a");
  if (file == nullptr) {
    std::fprintf(stderr, "pdgate: cannot open access log %s\n", output_.c_str());
    return;
  }
  std::string taken;  // swapped with each buffer in turn: both keep their capacity
  std::string text;
  bool last = false;
  while (!last) {
    std::vector<Buffer*> buffers;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait_for(lock, std::chrono::milliseconds(50),
                      [this] { return stopping_ || flush_now_; });
      flush_now_ = false;
      last = stopping_;  // one more pass after the io threads stopped
      for (const auto& buffer : buffers_) buffers.push_back(buffer.get());
    }
    text.clear();
    for (Buffer* buffer : buffers) {
      {
        std::lock_guard<std::mutex> lock(buffer->mutex);
        taken.swap(buffer->lines);
      }
      text += taken;
      taken.clear();
    }
    if (text.empty()) continue;
    std::fwrite(text.data(), 1, text.size(), file);
    std::fflush(file);
  }
  if (file != stdout && file != stderr) std::fclose(file);
}

}  // namespace pdgate::router
