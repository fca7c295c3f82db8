#include "router/flow/downstream_writer.h"

#include <boost/asio/write.hpp>
#include <span>

namespace pdgate::router {

DownstreamWriter::DownstreamWriter(Stream& client, bool& keep_alive, RequestObserver& observer,
                                   std::string request_id)
    : client_(client), keep_alive_(keep_alive), observer_(observer) {
  headers_.emplace_back("x-request-id", std::move(request_id));  // the one copy of the id
}

void DownstreamWriter::AddHeaders(const HeaderList& headers) {
  headers_.insert(headers_.end(), headers.begin(), headers.end());
}

Task<void> DownstreamWriter::SendError(const ErrorInfo& error, std::string_view origin,
                                       bool retry_after, const HeaderList& extra) {
  observer_.Answered(error.status, origin);
  committed_ = true;
  if (!retry_after && extra.empty()) {
    co_await router::SendError(client_, error, keep_alive_, headers_);
    co_return;
  }
  HeaderList headers = headers_;
  if (retry_after) headers.emplace_back("retry-after", "1");
  headers.insert(headers.end(), extra.begin(), extra.end());
  co_await router::SendError(client_, error, keep_alive_, headers);
}

Task<void> DownstreamWriter::SendEngineAnswer(int status, std::string& body,
                                              std::string_view origin) {
  observer_.Answered(status, origin);
  committed_ = true;
  co_await SendResponse(client_, http::status(status), "application/json", body, keep_alive_,
                        headers_);
}

std::optional<bool> DownstreamWriter::Relay(RelayedResponse& response, std::string_view data,
                                            bool last, bool event_stream, Clock::duration idle) {
  if (!committed_) observer_.Answered(response.status());
  observer_.Relayed(Clock::now(), event_stream);
  committed_ = true;
  client_.expires_after(idle);  // a reader that stops is cut off
  RelayedResponse::Parts parts;
  const size_t count = response.Prepare(data, last, parts);
  if (count == 0) return true;
  // Written now when the socket's send buffer takes it (all but a slow reader's): no operation.
  beast::error_code ec;
  const size_t written =
      client_.WriteNow(std::span<const net::const_buffer>(parts.data(), count), ec);
  if (ec) {
    keep_alive_ = false;
    return false;
  }
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += parts[i].size();
  if (written == total) return true;
  rest_count_ = RelayedResponse::Rest(parts, count, written, rest_);
  return std::nullopt;
}

Task<bool> DownstreamWriter::RelayRest() {
  // Asio's composed write copies the list into an operation of 64 buffers (over 1 KiB, not
  // recycled): only for what a slow reader left.
  auto [ec, written] = co_await net::async_write(
      client_, std::span<const net::const_buffer>(rest_.data(), rest_count_), kTuple);
  rest_count_ = 0;
  if (ec) keep_alive_ = false;
  co_return !ec;
}

void DownstreamWriter::StopWatching() {
  if (watch_ != nullptr) {
    watch_->Stop();
    return;
  }
  beast::error_code ignored;
  client_.socket().cancel(ignored);
}

}  // namespace pdgate::router
