#include "router/observe/access_log.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

#include "base/strings.h"
#include "router/auth/authenticator.h"
#include "router/openai/json_text.h"

namespace pdgate::router {
namespace {

// Formats one line straight into a buffer whose size is its writable room: each piece makes sure
// of its room (one compare; the buffer grows only for an unusually long line) and is then a memcpy
// of known length, not a std::string append with its own capacity check (~5,500 instructions a
// line before). The bytes past the line are the buffer's, not the line's: the caller keeps the
// line's end (`used()`), so no line zero-fills room it then overwrites.
class JsonLine {
 public:
  JsonLine(std::string& out, size_t used)
      : out_(out), next_(out.data() + used), end_(out.data() + out.size()) {
    Room(kTypicalLine);
  }
  JsonLine(const JsonLine&) = delete;
  JsonLine& operator=(const JsonLine&) = delete;

  size_t used() const { return size_t(next_ - out_.data()); }

  template <size_t N>
  void Raw(const char (&text)[N]) {
    Room(N - 1);
    Put(text, N - 1);
  }
  // `name` is the whole `,"name":` text.
  template <size_t N>
  void Field(const char (&name)[N], std::string_view value) {
    Room(N - 1 + JsonStringBound(value.size()));
    Put(name, N - 1);
    *next_++ = '"';
    Text(value);
    *next_++ = '"';
  }
  // "namespace/name", or "" when not known.
  template <size_t N>
  void Ref(const char (&name)[N], const ObjectRef& ref) {
    if (ref.empty()) return Field(name, "");
    Room(N - 1 + JsonStringBound(ref.namespace_.size()) + JsonStringBound(ref.name.size()));
    Put(name, N - 1);
    *next_++ = '"';
    Text(ref.namespace_);
    *next_++ = '/';
    Text(ref.name);
    *next_++ = '"';
  }
  template <size_t N>
  void Integer(const char (&name)[N], int64_t value) {
    if (value < 0) return;  // unknown: left out
    Room(N - 1 + 20);
    Put(name, N - 1);
    next_ = std::to_chars(next_, next_ + 20, value).ptr;
  }
  // Milliseconds with 3 decimals.
  template <size_t N>
  void Millis(const char (&name)[N], double value) {
    if (!(value >= 0) || !std::isfinite(value)) return;  // unknown (or no JSON number): left out
    Room(N - 1 + 32);
    Put(name, N - 1);
    if (value < 1e12) {  // as an integer of microseconds: no floating-point formatting
      const auto micros = static_cast<uint64_t>(value * 1000 + 0.5);
      next_ = std::to_chars(next_, next_ + 20, micros / 1000).ptr;
      const auto fraction = static_cast<unsigned>(micros % 1000);
      next_[0] = '.';
      next_[1] = char('0' + fraction / 100);
      next_[2] = char('0' + fraction / 10 % 10);
      next_[3] = char('0' + fraction % 10);
      next_ += 4;
    } else {
      next_ = std::to_chars(next_, next_ + 32, value, std::chars_format::scientific, 6).ptr;
    }
  }

 private:
  static constexpr size_t kTypicalLine = 1024;
  static constexpr size_t kSlack = 32;  // FindJsonEscapeInRoom's reads past a value

  void Put(const char* text, size_t n) {
    std::memcpy(next_, text, n);
    next_ += n;
  }
  // Nearly no value has a byte to escape: it is copied whole and the copy is checked; one that
  // has is written again from that byte on.
  void Text(std::string_view value) {
    std::memcpy(next_, value.data(), value.size());
    const size_t clean = FindJsonEscapeInRoom(next_, value.size());
    next_ =
        clean == value.size() ? next_ + clean : WriteJsonText(next_ + clean, value.substr(clean));
  }
  void Room(size_t n) {
    if (size_t(end_ - next_) < n + kSlack) Grow(n + kSlack + kTypicalLine);
  }
  // Makes `room` bytes past the line's end writable.
  void Grow(size_t room) {
    const size_t used = this->used();
    out_.resize(std::max(used + room, 2 * out_.size()));
    next_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }

  std::string& out_;
  char* next_;
  char* end_;
};

uint64_t NextLogId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

void RecordAuthentication(const auth::Authentication& authentication, AccessRecord& record) {
  record.auth.assign(auth::ToString(authentication.method));
  if (authentication.principal) {
    record.user = authentication.principal->user;
    record.tenant = authentication.principal->tenant;
  }
  if (!authentication.ok()) record.auth_error.assign(auth::ToString(authentication.result));
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

void ClearKeepingCapacity(AccessRecord& record) {
  // 13 strings, 2 object refs, 2 ints (each padded to 8 bytes), 2 counts, 5 durations: a field
  // added to AccessRecord changes the size, and must be cleared here too.
  static_assert(sizeof(AccessRecord) == 13 * sizeof(std::string) + 2 * sizeof(ObjectRef) + 2 * 8 +
                                            2 * sizeof(int64_t) + 5 * sizeof(double));
  for (std::string* field :
       {&record.request_id, &record.method, &record.path, &record.model, &record.auth, &record.user,
        &record.tenant, &record.auth_error, &record.prefill, &record.decode, &record.decision,
        &record.upstream_statuses, &record.error_origin}) {
    field->clear();
  }
  record.route = {};
  record.server = {};
  record.status = 0;
  record.attempts = 0;
  record.input_tokens = -1;
  record.output_tokens = -1;
  record.ttft_ms = -1;
  record.prefill_ms = -1;
  record.decode_ms = -1;
  record.total_ms = 0;
  record.queue_ms = -1;
}

void AppendJson(const AccessRecord& r, std::string& out) {
  out.resize(WriteJson(r, out, out.size()));
}

size_t WriteJson(const AccessRecord& r, std::string& out, size_t used) {
  JsonLine line(out, used);
  line.Field("{\"request_id\":", r.request_id);
  line.Field(",\"method\":", r.method);
  line.Field(",\"path\":", r.path);
  line.Field(",\"model\":", r.model);
  if (!r.auth.empty()) {
    line.Field(",\"auth\":", r.auth);
    line.Field(",\"user\":", r.user);
    line.Field(",\"tenant\":", r.tenant);
    if (!r.auth_error.empty()) line.Field(",\"auth_error\":", r.auth_error);
  }
  line.Ref(",\"route\":", r.route);
  line.Ref(",\"server\":", r.server);
  line.Field(",\"prefill\":", r.prefill);
  line.Field(",\"decode\":", r.decode);
  line.Field(",\"decision\":", r.decision);
  line.Integer(",\"status\":", r.status);
  line.Field(",\"upstream_statuses\":", r.upstream_statuses);
  line.Integer(",\"attempts\":", r.attempts);
  line.Field(",\"error_origin\":", r.error_origin);
  line.Integer(",\"input_tokens\":", r.input_tokens);
  line.Integer(",\"output_tokens\":", r.output_tokens);
  line.Millis(",\"ttft_ms\":", r.ttft_ms);
  line.Millis(",\"prefill_ms\":", r.prefill_ms);
  line.Millis(",\"decode_ms\":", r.decode_ms);
  line.Millis(",\"total_ms\":", r.total_ms);
  line.Millis(",\"queue_ms\":", r.queue_ms);
  line.Raw("}\n");
  return line.used();
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
  StrAppend(
      whole, r.method, " ", text(r.path), " ", r.status, " model=", text(r.model), auth, " server=",
      text(r.server.empty() ? std::string() : StrCat(r.server.namespace_, "/", r.server.name)),
      " prefill=", text(r.prefill), " decode=", text(r.decode), " decision=", text(r.decision),
      " attempts=", r.attempts, " upstream=", text(r.upstream_statuses),
      " error_origin=", text(r.error_origin), " input_tokens=", count(r.input_tokens),
      " output_tokens=", count(r.output_tokens), " total_ms=", int64_t(r.total_ms),
      r.queue_ms >= 0 ? StrCat(" queue_ms=", int64_t(r.queue_ms)) : std::string(),
      " id=", text(r.request_id), "\n");
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
    if (buffer.used >= kMaxBuffered) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const size_t before = buffer.used;
    if (json_) {
      buffer.used = WriteJson(record, buffer.lines, buffer.used);
    } else {
      buffer.lines.resize(buffer.used);
      AppendText(record, buffer.lines);
      buffer.used = buffer.lines.size();
    }
    full = before < kFlushBytes && buffer.used >= kFlushBytes;
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
  std::string taken;  // swapped with each buffer in turn: both keep their size (their room)
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
    // One write per io thread's batch, straight from its buffer: gathering the batches into one
    // string first copied every line once more.
    bool wrote = false;
    for (Buffer* buffer : buffers) {
      size_t size = 0;
      {
        std::lock_guard<std::mutex> lock(buffer->mutex);
        taken.swap(buffer->lines);
        size = std::exchange(buffer->used, 0);
      }
      if (size != 0) {
        std::fwrite(taken.data(), 1, size, file);
        wrote = true;
      }
    }
    if (wrote) std::fflush(file);
  }
  if (file != stdout && file != stderr) std::fclose(file);
}

}  // namespace pdgate::router
