#include "router/upstream/upstream_leg.h"

#include <cerrno>

namespace pdgate::router {

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted;
}

bool IsLocalResourceError(const beast::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  const int value = ec.value();
  return value == EMFILE || value == ENFILE || value == ENOBUFS || value == ENOMEM;
}

UpstreamLeg::UpstreamLeg(UpstreamContext context, LegTarget target,
                         std::shared_ptr<DisconnectWatch> watch)
    : context_(context), target_(target), watch_(std::move(watch)) {}

UpstreamLeg::~UpstreamLeg() { Close(); }

void UpstreamLeg::Close() {
  if (!connection_) return;
  watch_->Remove(&connection_->stream);
  connection_.reset();  // closes the socket
  context_.pool.Closed();
}

void UpstreamLeg::Release() {
  if (!connection_) return;
  watch_->Remove(&connection_->stream);
  // A large answer grew the buffer: an idle connection does not keep that memory.
  if (connection_->buffer.capacity() > 4 * kReadBufferBytes) {
    connection_->buffer.clear();
    connection_->buffer.shrink_to_fit();
    connection_->buffer.reserve(kReadBufferBytes);
  }
  context_.pool.Give(target_.key, std::move(connection_), Clock::now());
}

LegOutcome UpstreamLeg::Classify(const beast::error_code& ec, std::string_view step) const {
  if (ec == beast::error::timeout) return {LegStatus::kTimeout, std::string(step) + ": timed out"};
  if (ec == http::error::body_limit) {
    return {LegStatus::kTooLarge, std::string(step) + ": larger than the configured limit"};
  }
  return {LegStatus::kTransport, std::string(step) + ": " + ec.message()};
}

}  // namespace pdgate::router
