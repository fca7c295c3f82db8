#include "router/http/relayed_response.h"

#include <array>
#include <boost/asio/write.hpp>
#include <charconv>
#include <span>

#include "base/strings.h"
#include "router/http/header_text.h"

namespace pdgate::router {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace

RelayedResponse::RelayedResponse(int status) : status_(status) {
  head_.reserve(256);
  if (status == 200) {  // nearly every answer: no reason lookup, no number to format
    head_ = "HTTP/1.1 200 OK\r\n";
    return;
  }
  const auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)));
  StrAppend(head_, "HTTP/1.1 ", status, " ", std::string_view(reason.data(), reason.size()), kCrlf);
}

void RelayedResponse::Set(FieldName name, std::string_view value) {
  if (IsFieldValueSafe(value)) AppendField(head_, name.view(), value);
}

void RelayedResponse::SetChecked(std::string_view name, std::string_view value) {
  if (IsFieldNameSafe(name) && IsFieldValueSafe(value)) AppendField(head_, name, value);
}

void RelayedResponse::FinishHead() {
  if (head_finished_) return;
  head_finished_ = true;
  if (!keep_alive_) head_ += "Connection: close\r\n";
  if (content_length_ < 0) {
    head_ += "Transfer-Encoding: chunked\r\n\r\n";
    return;
  }
  AppendContentLength(head_, uint64_t(content_length_));
  head_ += "\r\n";
}

std::string RelayedResponse::FinishedHead() const {
  RelayedResponse copy = *this;
  copy.FinishHead();
  return copy.head_;
}

size_t RelayedResponse::Prepare(std::string_view data, bool last, Parts& parts) {
  FinishHead();
  size_t count = 0;
  if (!head_sent_) parts[count++] = net::buffer(head_);
  const bool chunked = content_length_ < 0;
  if (!data.empty()) {
    if (chunked) {
      auto [end, ec] = std::to_chars(size_line_.data(), size_line_.data() + size_line_.size() - 2,
                                     data.size(), 16);
      *end++ = '\r';
      *end++ = '\n';
      parts[count++] = net::buffer(size_line_.data(), size_t(end - size_line_.data()));
    }
    parts[count++] = net::buffer(data.data(), data.size());
    if (chunked) parts[count++] = net::buffer(kCrlf.data(), kCrlf.size());
  }
  if (last && chunked) parts[count++] = net::buffer(kLastChunk.data(), kLastChunk.size());
  if (count > 0) head_sent_ = true;
  return count;
}

size_t RelayedResponse::Rest(const Parts& parts, size_t count, size_t written, Parts& rest) {
  return BuffersAfter(std::span<const net::const_buffer>(parts.data(), count), written,
                      rest.data());
}

Task<bool> RelayedResponse::Write(Stream& client, std::string_view data, bool last) {
  Parts parts;
  const size_t count = Prepare(data, last, parts);
  if (count == 0) co_return true;
  auto [ec, written] = co_await net::async_write(
      client, std::span<const net::const_buffer>(parts.data(), count), kTuple);
  co_return !ec;
}

}  // namespace pdgate::router
